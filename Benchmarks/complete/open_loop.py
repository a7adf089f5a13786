"""Open-loop `complete` load for Benchmarks/complete/run.sh's end-to-end latency run.

    open_loop.py --port P --token T --ids FILE --rate R --seconds S --out JSON

Sends POST /api/v1/photos/{id}/complete for the ids of FILE in order at R per second on a fixed
schedule (request i is due at start + i / R, whatever the earlier ones are doing: open loop),
over keep-alive HTTP/1.1 connections to 127.0.0.1:P (a new one whenever all are busy). Writes
JSON: for every request the photo id, the status, the Unix times (CLOCK_REALTIME, seconds) it
was due to be sent and its response had been read in full, which the sink's arrival time is compared with; and how late
the schedule ran (the client's own lag, so a slow client shows).
"""
import argparse
import asyncio
import json
import time


class Connections:
    def __init__(self, port):
        self.port = port
        self.idle = []
        self.opened = 0

    async def acquire(self):
        if self.idle:
            return self.idle.pop()
        self.opened += 1
        return await asyncio.open_connection("127.0.0.1", self.port)

    def release(self, connection):
        self.idle.append(connection)


async def one(connections, token, photo, results):
    sent = time.time()
    reader, writer = await connections.acquire()
    writer.write(
        f"POST /api/v1/photos/{photo}/complete HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {token}\r\nContent-Length: 0\r\n\r\n".encode()
    )
    status_line = await reader.readline()
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    body = await reader.readexactly(length)
    received = time.time()
    status = int(status_line.split()[1]) if status_line else 0
    results.append({"photo_id": photo, "status": status, "sent": sent, "received": received,
                    "error": body.decode(errors="replace")[:200] if status >= 300 else None})
    connections.release((reader, writer))


async def run(args):
    ids = [line.strip() for line in open(args.ids) if line.strip()]
    count = int(args.rate * args.seconds)
    if count > len(ids):
        raise SystemExit(f"{args.ids} has {len(ids)} ids, {count} needed")
    connections = Connections(args.port)
    results, tasks, lags = [], [], []
    start = time.monotonic() + 0.2
    for i in range(count):
        due = start + i / args.rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append(time.monotonic() - due)
        tasks.append(asyncio.create_task(one(connections, args.token, ids[i], results)))
    await asyncio.gather(*tasks, return_exceptions=False)
    lags.sort()
    json.dump({"requests": results, "connections_opened": connections.opened,
               "schedule_lag_p99_ms": 1000 * lags[int(0.99 * (len(lags) - 1))],
               "schedule_lag_max_ms": 1000 * lags[-1]}, open(args.out, "w"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--ids", required=True)
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--out", required=True)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
