"""The soak run's load driver, fake detection pipeline, sampler and report (Benchmarks/soak.sh
starts the processes and calls this; docs/benchmarks.md, "## Soak", says what it checks).

Load: at a steady rate, one *confirmation* = POST upload-url -> PUT to S3 (LocalStack, the
signed headers) -> POST complete -> GET the photo -> GET the project's listing. The fake
pipeline reads the sink's photo ids (what the relays delivered), GETs each photo with a service
token and PATCHes it processing -> completed. A sampler records, every few seconds, req/s and p99
per route, RSS and open fds of each process (/proc), Postgres connections, outbox depth, sink
counts and the seeded idempotency keys still present. At the end the checks run, the results go
to Benchmarks/results/soak-latest.{md,json,csv} and soak-*.png, and the exit status is 1 when a
check failed.

Loopback only: every URL this script is given must be on 127.0.0.0/8 (checked at start).
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import http.client
import io
import ipaddress
import json
import math
import os
import random
import statistics
import sys
import threading
import time
import urllib.parse
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import queue

import psycopg

# Key prefixes of the seeded expired idempotency keys: one batch written before photo-api starts
# (its reconciler's first pass, at start, purges them), one when the load starts (a later pass,
# RECONCILE_INTERVAL_SECONDS on, must purge them while the load runs).
SEED_BEFORE = "soak-seeded-before-"
SEED_DURING = "soak-seeded-during-"
ROUTES = ["upload-url", "put", "complete", "get", "list", "pipeline-get", "patch"]
REPO = Path(__file__).resolve().parent.parent


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


def require_loopback(url: str) -> None:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return
    if not ipaddress.ip_address(host).is_loopback:
        raise SystemExit(f"soak: {url} is not a loopback address; this run only talks to this machine")


# --- images ---------------------------------------------------------------------------------


def load_images(fixtures: Path, generated: int, seed: int) -> list[tuple[str, str, bytes]]:
    """(file name, mime type, bytes): the repository's real camera JPEGs of at least 1 KiB
    (MIN_UPLOAD_BYTES), and `generated` JPEGs and PNGs of assorted sizes made with Pillow."""
    from PIL import Image  # matplotlib's dependency

    images = []
    for path in sorted(fixtures.glob("*.jpg")):
        data = path.read_bytes()
        if len(data) >= 1024:
            images.append((path.name, "image/jpeg", data))
    rng = random.Random(seed)
    for index in range(generated):
        width, height = rng.choice([(320, 240), (640, 480), (1024, 768), (1280, 960), (200, 1200)])
        # Coarse noise scaled up: smooth like a photo, so the files stay 10-300 KB.
        coarse = [Image.effect_noise((width // 16, height // 16), rng.uniform(30, 90)) for _ in range(3)]
        image = Image.merge("RGB", coarse).resize((width, height), Image.BILINEAR)
        buffer = io.BytesIO()
        if index % 2:
            image.save(buffer, format="PNG")
            images.append((f"generated-{index}.png", "image/png", buffer.getvalue()))
        else:
            image.save(buffer, format="JPEG", quality=rng.choice([60, 80, 92]))
            images.append((f"generated-{index}.jpg", "image/jpeg", buffer.getvalue()))
    return images


# --- HTTP -----------------------------------------------------------------------------------


class Recorder:
    """Every request's (finish time, route, status, latency); status 0 = transport error."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: list[tuple[float, str, int, float]] = []
        self.errors: list[str] = []

    def add(self, route: str, status: int, latency: float, detail: str = "") -> None:
        with self.lock:
            self.rows.append((time.time(), route, status, latency))
            if (status == 0 or status >= 300) and len(self.errors) < 50:
                self.errors.append(f"{route} -> {status or 'transport error'} {detail[:300]}")


class Client:
    """One keep-alive http.client connection per (thread, host:port)."""

    def __init__(self, recorder: Recorder) -> None:
        self.recorder = recorder
        self.local = threading.local()

    def _connection(self, netloc: str) -> http.client.HTTPConnection:
        connections = self.local.__dict__.setdefault("connections", {})
        if netloc not in connections:
            host, port = netloc.rsplit(":", 1)
            connections[netloc] = http.client.HTTPConnection(host, int(port), timeout=30)
        return connections[netloc]

    def connect(self, url: str) -> None:
        self._connection(urllib.parse.urlsplit(url).netloc).connect()

    def request(self, route: str, method: str, url: str, body: bytes | None = None, headers=None):
        parts = urllib.parse.urlsplit(url)
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        started = time.perf_counter()
        for attempt in (1, 2):
            connection = self._connection(parts.netloc)
            try:
                connection.request(method, target, body=body, headers=headers or {})
                response = connection.getresponse()
                data = response.read()
                break
            except (http.client.HTTPException, OSError) as error:
                connection.close()
                self.local.connections.pop(parts.netloc, None)
                # A keep-alive connection the server closed while idle: one retry on a new one.
                if attempt == 2 or isinstance(error, TimeoutError):
                    self.recorder.add(route, 0, time.perf_counter() - started, repr(error))
                    return 0, b""
        latency = time.perf_counter() - started
        detail = data.decode("utf-8", "replace") if response.status >= 300 else ""
        self.recorder.add(route, response.status, latency, detail)
        return response.status, data


# --- the load ------------------------------------------------------------------------------


class Load:
    def __init__(self, args, recorder: Recorder, images) -> None:
        self.args = args
        self.client = Client(recorder)
        self.images = images
        self.tokens = [line.strip() for line in Path(args.tokens_file).read_text().splitlines() if line.strip()]
        self.lock = threading.Lock()
        self.confirmed: dict[str, float] = {}  # photo id -> when complete answered
        self.started = 0
        self.failed_flows = 0
        self.counter = 0
        self.backlog_max = 0

    def flow(self) -> None:
        with self.lock:
            self.counter += 1
            number = self.counter
            self.started += 1
        token = self.tokens[number % len(self.tokens)]
        name, mime, data = self.images[number % len(self.images)]
        auth = {"Authorization": f"Bearer {token}"}
        api = self.args.api
        body = {"project_id": self.args.project, "file_name": name, "file_size": len(data), "mime_type": mime}
        if number % 2:
            body["checksum_sha256"] = base64.b64encode(hashlib.sha256(data).digest()).decode()
        headers = {**auth, "Content-Type": "application/json"}
        if number % 3 == 0:
            headers["Idempotency-Key"] = f"soak-{uuid.uuid4()}"
        status, answer = self.client.request("upload-url", "POST", f"{api}/api/v1/photos/upload-url",
                                             json.dumps(body).encode(), headers)
        if status != 201 and status != 200:
            return self._failed()
        upload = json.loads(answer)
        put_headers = dict(upload["headers"])
        status, _ = self.client.request("put", upload.get("method", "PUT"), upload["upload_url"], data, put_headers)
        if status != 200:
            return self._failed()
        complete_url = urllib.parse.urljoin(api + "/", upload["complete_url"])
        status, answer = self.client.request("complete", "POST", complete_url, None, auth)
        if status != 200:
            return self._failed()
        photo_id = upload["photo_id"]
        with self.lock:
            self.confirmed[photo_id] = time.time()
        status, _ = self.client.request("get", "GET", f"{api}/api/v1/photos/{photo_id}", None, auth)
        if status != 200:
            return self._failed()
        status, _ = self.client.request("list", "GET", f"{api}/api/v1/projects/{self.args.project}/photos?limit=20",
                                        None, auth)
        if status != 200:
            return self._failed()

    def _failed(self) -> None:
        with self.lock:
            self.failed_flows += 1

    def worker(self, jobs: queue.Queue) -> None:
        # Every worker connects to the API and to S3 before the load starts, and the queue hands
        # jobs to the waiting workers in turn, so the driver holds the same connections all run
        # long (each used every workers/rate seconds, well within the servers' idle timeouts):
        # the servers' fd counts then show the servers, not the driver's concurrency.
        for url in (self.args.api, self.args.s3):
            try:
                self.client.connect(url)
            except OSError as error:
                log(f"load: could not connect to {url}: {error!r}")
        while jobs.get() is not None:
            try:
                self.flow()
            except Exception as error:  # a bug here must not stop the worker, only count
                log(f"load: a confirmation failed in the driver: {error!r}")
                self._failed()

    def run(self, until: float, stop: threading.Event) -> int:
        """Starts a confirmation every 1/rate seconds until `until`; returns the most flows
        that were waiting for a worker at once (a backlog means the stack fell behind)."""
        interval = 1.0 / self.args.rate
        backlog_max = 0
        jobs: queue.Queue = queue.Queue()
        workers = [threading.Thread(target=self.worker, args=(jobs,), daemon=True) for _ in range(self.args.workers)]
        for thread in workers:
            thread.start()
        next_at = time.monotonic()
        while time.time() < until and not stop.is_set():
            backlog_max = max(backlog_max, jobs.qsize())
            jobs.put(True)
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        for _ in workers:
            jobs.put(None)
        for thread in workers:
            thread.join(timeout=120)
        self.backlog_max = backlog_max
        return backlog_max


def sink_get(sink: str, path: str):
    """GET a JSON document from BenchSQSSink (`/photos` needs its --record-photos)."""
    connection = http.client.HTTPConnection("127.0.0.1", urllib.parse.urlsplit(sink).port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        if response.status != 200:
            raise ValueError(f"sink GET {path}: {response.status}")
        return json.loads(body)
    finally:
        connection.close()


class Pipeline:
    """The fake detection pipeline: every photo the sink received is read with the service
    token and moved processing -> completed (a photo still `uploaded`, its relay's retire not
    yet committed, is tried again shortly)."""

    def __init__(self, args, recorder: Recorder) -> None:
        self.args = args
        self.client = Client(recorder)
        self.seen: set[str] = set()
        self.completed: set[str] = set()
        self.not_ready = 0
        self.lock = threading.Lock()
        self.queue: list[tuple[float, str]] = []
        self.sink_photos: dict[str, list[str]] = {}

    def poll_sink(self) -> None:
        photos = sink_get(self.args.sink, "/photos")
        with self.lock:
            self.sink_photos = photos
            for photo_id in photos:
                if photo_id and photo_id not in self.seen:
                    self.seen.add(photo_id)
                    self.queue.append((time.time(), photo_id))

    def handle(self, photo_id: str) -> bool:
        """True when done with the photo, False to try again later."""
        auth = {"Authorization": f"Bearer {self.args.service_token}"}
        url = f"{self.args.api}/api/v1/photos/{photo_id}"
        status, answer = self.client.request("pipeline-get", "GET", url, None, auth)
        if status != 200:
            return True
        current = json.loads(answer)["status"]
        if current == "uploaded":
            with self.lock:
                self.not_ready += 1
            return False
        if current == "processing":
            result = {"labels": [{"type": "damage", "label": "none", "confidence": 0.97}], "model": "soak-fake"}
            body = json.dumps({"status": "completed", "result": result}).encode()
            status, _ = self.client.request("patch", "PATCH", f"{url}/status", body,
                                            {**auth, "Content-Type": "application/json"})
            if status != 200:
                return True
        with self.lock:
            self.completed.add(photo_id)
        return True

    def run(self, stop: threading.Event) -> None:
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="pipeline") as pool:
            while not stop.is_set():
                try:
                    self.poll_sink()
                except (OSError, http.client.HTTPException, ValueError) as error:
                    log(f"pipeline: reading the sink failed: {error!r}")
                with self.lock:
                    now = time.time()
                    due = [p for t, p in self.queue if t <= now]
                    self.queue = [(t, p) for t, p in self.queue if t > now]

                def work(photo_id: str) -> None:
                    if not self.handle(photo_id):
                        with self.lock:
                            self.queue.append((time.time() + 0.5, photo_id))

                list(pool.map(work, due))
                stop.wait(1.0)


# --- sampling -------------------------------------------------------------------------------


def proc_rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def proc_fds(pid: int) -> tuple[int | None, int | None]:
    """(open fds, of which sockets)."""
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return None, None
    sockets = 0
    for name in names:
        try:
            sockets += os.readlink(f"/proc/{pid}/fd/{name}").startswith("socket:")
        except OSError:
            pass  # closed meanwhile
    return len(names), sockets


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


class Sampler:
    def __init__(self, args, recorder: Recorder, load: Load, pipeline: Pipeline, processes: dict[str, int]) -> None:
        self.args = args
        self.recorder = recorder
        self.load = load
        self.pipeline = pipeline
        self.processes = processes
        self.samples: list[dict] = []
        self.t0 = time.time()
        self.cursor = 0
        self.last = self.t0
        self.database = psycopg.connect(args.database_url, autocommit=True, application_name="soak-sampler")

    def sample(self, phase: str) -> dict:
        now = time.time()
        with self.recorder.lock:
            rows = self.recorder.rows[self.cursor:]
            self.cursor = len(self.recorder.rows)
        span = max(1e-6, now - self.last)
        self.last = now
        by_route: dict[str, list[float]] = defaultdict(list)
        for _, route, _, latency in rows:
            by_route[route].append(latency)
        sample: dict = {"t": round(now - self.t0, 2), "phase": phase,
                        "load1": float(Path("/proc/loadavg").read_text().split()[0])}
        for route in ROUTES:
            latencies = by_route.get(route, [])
            sample[f"rps:{route}"] = round(len(latencies) / span, 3)
            p99 = percentile(latencies, 0.99)
            sample[f"p99_ms:{route}"] = round(p99 * 1000, 2) if p99 is not None else None
        sample["rps:total"] = round(len(rows) / span, 3)
        for name, pid in self.processes.items():
            sample[f"rss_kib:{name}"] = proc_rss_kib(pid)
            fds, sockets = proc_fds(pid)
            sample[f"fds:{name}"], sample[f"sockets:{name}"] = fds, sockets
            sample[f"other_fds:{name}"] = fds - sockets if fds is not None and sockets is not None else None
        with self.database.cursor() as cursor:
            cursor.execute(
                "SELECT coalesce(application_name, ''), count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid() GROUP BY 1"
            )
            connections = dict(cursor.fetchall())
            cursor.execute("SELECT count(*) FROM outbox_events")
            sample["outbox_depth"] = cursor.fetchone()[0]
            cursor.execute("SELECT count(*) FROM outbox_dead_letters")
            sample["dead_letters"] = cursor.fetchone()[0]
            cursor.execute(
                "SELECT count(*) FILTER (WHERE key LIKE %s), count(*) FILTER (WHERE key LIKE %s) FROM idempotency_keys",
                (SEED_BEFORE + "%", SEED_DURING + "%"),
            )
            before, during = cursor.fetchone()
            sample["seeded_keys_left"] = before + during
            sample["seeded_before_left"], sample["seeded_during_left"] = before, during
        for application in ("photo-api", "outbox-relay"):
            sample[f"pg_conn:{application}"] = connections.get(application, 0)
        sample["pg_conn:total"] = sum(count for name, count in connections.items() if name != "soak-sampler")
        with self.pipeline.lock:
            sample["completed"] = len(self.pipeline.completed)
        try:
            stats = sink_get(self.args.sink, "/stats")
            sample["sink_messages"], sample["sink_duplicates"] = stats["count"], stats["duplicates"]
        except (OSError, http.client.HTTPException, ValueError, KeyError):
            sample["sink_messages"], sample["sink_duplicates"] = None, None
        with self.load.lock:
            sample["confirmed"] = len(self.load.confirmed)
        self.samples.append(sample)
        return sample

    def run(self, stop: threading.Event, phase_of) -> None:
        while not stop.wait(self.args.interval):
            sample = self.sample(phase_of())
            log(
                f"t={sample['t']:.0f}s {sample['phase']}: {sample['rps:total']:.1f} req/s, confirmed "
                f"{sample['confirmed']}, sink {sample['sink_messages']}, completed {sample['completed']}, "
                f"outbox {sample['outbox_depth']}, api RSS {(sample.get('rss_kib:photo-api') or 0) // 1024} MiB, "
                f"seeded keys left {sample['seeded_keys_left']}"
            )


# --- checks and report ----------------------------------------------------------------------


def window_median(samples: list[dict], key: str, start: float, end: float) -> float | None:
    values = [s[key] for s in samples if start <= s["t"] < end and s.get(key) is not None]
    return statistics.median(values) if values else None


def flat_check(samples, key, warmup_end, load_end, window, relative, absolute, unit=1.0) -> tuple[bool, str, dict]:
    """The median of the first window after warm-up against the median of the last window of
    the load: flat when the last is at most `relative` (and `absolute`) above the first."""
    first = window_median(samples, key, warmup_end, warmup_end + window)
    last = window_median(samples, key, load_end - window, load_end + 0.001)
    if first is None or last is None:
        return False, "no samples", {}
    limit = first * (1 + relative) + absolute
    growth = (last - first) / first if first else 0.0
    detail = f"{first * unit:.4g} -> {last * unit:.4g} ({growth:+.1%})"
    return last <= limit, detail, {"first": first, "last": last, "growth": growth}


def run_checks(args, recorder, load, pipeline, sampler, seeded, load_end, drain) -> list[dict]:
    samples = [s for s in sampler.samples if s["phase"] == "load"]
    duration = args.minutes * 60
    warmup_end = duration * args.warmup_fraction
    window = max(duration * args.window_fraction, 2 * args.interval)
    checks = []

    def check(name: str, ok: bool, detail: str, **data) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail, **data})

    statuses: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for _, route, status, _ in recorder.rows:
        statuses[route][status] += 1
    server_errors = sum(n for route in statuses.values() for status, n in route.items() if status >= 500)
    expected = round(args.rate * args.minutes * 60)
    check("the load kept its rate", load.started >= 0.95 * expected and load.confirmed,
          f"{load.started} confirmations started of {expected} due, {len(load.confirmed)} confirmed; at most "
          f"{load.backlog_max} waited for a free worker at once")
    check("no 5xx", server_errors == 0, f"{server_errors} responses 5xx of {len(recorder.rows)}")
    other = sum(n for route in statuses.values() for status, n in route.items() if status == 0 or 300 <= status < 500)
    check("no other failed request", other == 0 and load.failed_flows == 0,
          f"{other} 4xx or transport errors, {load.failed_flows} confirmations abandoned of {load.started}")

    sink = pipeline.sink_photos
    confirmed = set(load.confirmed)
    missing = sorted(confirmed - set(sink))
    messages = sum(len(events) for events in sink.values())
    distinct_events = {event for events in sink.values() for event in events}
    redeliveries = messages - len(distinct_events)
    second_events = sum(1 for events in sink.values() if len(set(events)) > 1)
    unknown = sorted(set(sink) - confirmed)
    check("every confirmed photo's message reached the sink", not missing and second_events == 0,
          f"{len(confirmed)} confirmed, {len(confirmed) - len(missing)} delivered, {len(missing)} missing; "
          f"{messages} messages, {redeliveries} redelivered duplicates (same event_id), "
          f"{second_events} photos with a second event, {len(unknown)} messages for photos the driver did not confirm"
          + (" (a redelivery is at-least-once delivery at work: SQS, here the sink, accepted a batch whose "
             "retire then did not commit, or whose lease ran out during the send; consumers deduplicate on "
             "event_id)" if redeliveries else ""),
          missing=missing[:20], redeliveries=redeliveries)
    not_completed = sorted(confirmed - pipeline.completed)
    check("every confirmed photo completed by the pipeline", not not_completed,
          f"{len(pipeline.completed & confirmed)} of {len(confirmed)} completed", not_completed=not_completed[:20])
    final = sampler.samples[-1]
    check("outbox drained to empty", final["outbox_depth"] == 0 and final["dead_letters"] == 0,
          f"{final['outbox_depth']} pending, {final['dead_letters']} dead-lettered, "
          f"{drain:.1f} s after the load stopped; max depth during the load "
          f"{max((s['outbox_depth'] for s in samples), default=0)}")
    for label, key, count, since in (("before photo-api started", "seeded_before_left", seeded["before"], 0),
                                     ("when the load started", "seeded_during_left", seeded["during"],
                                      seeded["during_at"])):
        gone = next((s["t"] for s in sampler.samples if s["t"] > since and s[key] == 0), None)
        check(f"expired idempotency keys purged (seeded {label})", count > 0 and final[key] == 0,
              f"{count} seeded with expires_at 25 h in the past, {final[key]} left"
              + (f", all gone by the sample at t={gone:.0f} s" if gone is not None else ""))
    for name in args.processes:
        ok, detail, data = flat_check(samples, f"rss_kib:{name}", warmup_end, load_end, window, 0.10, 0, 1 / 1024)
        check(f"RSS flat: {name}", ok, f"MiB {detail} (limit +10 %)", **data)
    for name in {**args.processes, **args.fds_processes}:
        allowance = args.socket_allowance.get(name, 2)
        ok_other, other, data_other = flat_check(samples, f"other_fds:{name}", warmup_end, load_end, window, 0, 2)
        ok_sockets, sockets, data_sockets = flat_check(samples, f"sockets:{name}", warmup_end, load_end, window, 0.10,
                                                       allowance)
        check(f"fds flat: {name}", ok_other and ok_sockets,
              f"sockets {sockets} (limit +10 % + {allowance}), other fds {other} (limit +2)",
              sockets=data_sockets, other=data_other)
    ok, detail, data = flat_check(samples, "pg_conn:total", warmup_end, load_end, window, 0.0, 1)
    check("Postgres connections flat", ok, f"{detail} (limit +1)", **data)
    return checks, statuses


def write_results(args, checks, statuses, recorder, load, sampler, meta) -> None:
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    samples = sampler.samples
    keys = list(dict.fromkeys(k for s in samples for k in s))
    with open(out / "soak-samples.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(samples)
    route_summary = {}
    for route in ROUTES:
        latencies = [lat for _, r, _, lat in recorder.rows if r == route]
        if latencies:
            route_summary[route] = {
                "requests": len(latencies),
                "p50_ms": round(percentile(latencies, 0.5) * 1000, 2),
                "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
                "max_ms": round(max(latencies) * 1000, 2),
                "statuses": {str(k): v for k, v in sorted(statuses[route].items())},
            }
    summary = {**meta, "checks": checks, "routes": route_summary, "errors": recorder.errors[:20],
               "confirmed": len(load.confirmed), "samples": samples}
    (out / "soak-latest.json").write_text(json.dumps(summary, indent=1) + "\n")
    plots = draw_plots(args, samples, out, meta)

    passed = all(c["ok"] for c in checks)
    lines = [
        "# Soak run",
        "",
        f"`{meta['command']}` on {meta['date']} (commit `{meta['commit']}`): "
        f"{'**all checks passed**' if passed else '**some checks FAILED**'}.",
        "",
        f"{args.minutes:g} min of load at {args.rate:g} confirmations/s (each: upload-url, PUT to LocalStack S3, "
        f"complete, GET, list; the fake pipeline's GET and PATCH per photo), {meta['relays']} outbox-relay "
        f"process(es) delivering to BenchSQSSink, durable Postgres; samples every {args.interval:g} s; "
        f"warm-up = the first {args.warmup_fraction:.0%}, windows of {meta['window_s']:.0f} s. "
        f"{len(load.confirmed)} photos confirmed. Machine: {meta['machine']}; load average before the run "
        f"{meta['load_before']}, during it (mean of the samples' 1-min figure) {meta['load_during']}.",
        "",
        "| check | result | detail |",
        "|---|---|---|",
    ]
    for c in checks:
        lines.append(f"| {c['check']} | {'pass' if c['ok'] else '**FAIL**'} | {c['detail']} |")
    recorded = []
    load_samples = [x for x in samples if x["phase"] == "load"]
    for name in {**args.fds_processes, **args.info_processes}:
        _, rss, _ = flat_check(load_samples, f"rss_kib:{name}", meta["warmup_s"], meta["load_end_s"], meta["window_s"],
                               0, 0, 1 / 1024)
        _, fds, _ = flat_check(load_samples, f"fds:{name}", meta["warmup_s"], meta["load_end_s"], meta["window_s"], 0, 0)
        recorded.append(f"{name}: RSS MiB {rss}" + ("" if name in args.fds_processes else f", fds {fds}"))
    if recorded:
        lines += ["", "Recorded, not checked (the sink keeps every message for the delivery check; LocalStack keeps "
                  "every uploaded object): " + "; ".join(recorded) + "."]
    lines += ["", "| route | requests | p50 ms | p99 ms | max ms | statuses |", "|---|---|---|---|---|---|"]
    for route, r in route_summary.items():
        codes = ", ".join(f"{k}: {v}" for k, v in r["statuses"].items())
        lines.append(f"| {route} | {r['requests']} | {r['p50_ms']} | {r['p99_ms']} | {r['max_ms']} | {codes} |")
    lines += ["", "p99 per route is over the whole load; the plot's p99 is per sample (at 5 confirmations/s "
              "about 25 requests per route in a 5 s sample, so close to the sample's maximum).", "",
              "Plots: " + ", ".join(f"`{p}`" for p in plots) + "; every sample: `soak-samples.csv`, "
              "`soak-latest.json`."]
    if recorder.errors:
        lines += ["", "First failed requests:", ""] + [f"- {e}" for e in recorder.errors[:10]]
    (out / "soak-latest.md").write_text("\n".join(lines) + "\n")


def draw_plots(args, samples, out: Path, meta) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = [s["t"] / 60 for s in samples]
    load_end = meta["load_end_s"] / 60
    warmup = args.minutes * args.warmup_fraction
    made = []

    def figure(name: str, title: str, ylabel: str, series: list[tuple[str, str]], scale=1.0) -> None:
        fig, ax = plt.subplots(figsize=(9, 4.2), dpi=100)
        for label, key, *factor in series:
            values = [s.get(key) for s in samples]
            if all(v is None for v in values):
                continue
            k = factor[0] if factor else scale
            ax.plot(t, [v * k if v is not None else float("nan") for v in values], label=label, linewidth=1.3)
        ax.axvspan(0, warmup, color="0.9", label="warm-up")
        ax.axvline(load_end, color="0.4", linestyle="--", linewidth=1, label="load stops")
        ax.set_xlabel("minutes")
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="upper left", ncol=3)
        fig.tight_layout()
        fig.savefig(out / name)
        plt.close(fig)
        made.append(name)

    routes = [(r, f"rps:{r}") for r in ROUTES]
    figure("soak-rps.png", f"Requests per second by route ({args.rate:g} confirmations/s)", "req/s", routes)
    figure("soak-p99.png", "p99 latency by route, per sample", "ms", [(r, f"p99_ms:{r}") for r in ROUTES])
    figure("soak-rss.png", "Resident memory (RSS) per process", "MiB",
           [(name, f"rss_kib:{name}") for name in {**args.processes, **args.fds_processes}], scale=1 / 1024)
    figure("soak-outbox.png", "Outbox depth (pending events) and Postgres connections", "rows / connections",
           [("outbox depth", "outbox_depth"), ("Postgres connections", "pg_conn:total"),
            ("seeded expired idempotency keys left (hundreds)", "seeded_keys_left", 0.01)])
    return made


def seed_keys(args, prefix: str) -> int:
    """Expired idempotency keys (and the failed photos they name) of a project of their own,
    written directly in SQL with expires_at 25 hours in the past: the reconciler must purge
    them."""
    project = str(uuid.uuid4())
    user = str(uuid.uuid4())
    with psycopg.connect(args.database_url, autocommit=False) as connection, connection.cursor() as cursor:
        cursor.execute("INSERT INTO projects (id, organization_id, name) VALUES (%s, %s, 'soak-seeded')",
                       (project, str(uuid.uuid4())))
        cursor.execute(
            """
            WITH seeded AS (
                INSERT INTO photos (id, project_id, user_id, file_name, mime_type, file_size, s3_bucket, s3_key,
                                    status, error, upload_expires_at, created_at, updated_at, failed_at)
                SELECT gen_random_uuid(), %(project)s, %(user)s, 'old.jpg', 'image/jpeg', 2048, 'soak-seeded',
                       %(prefix)s || n || '.jpg', 'failed', 'upload_expired',
                       now() - interval '49 hours', now() - interval '49 hours', now() - interval '48 hours',
                       now() - interval '48 hours'
                FROM generate_series(1, %(count)s) AS n
                RETURNING id, s3_key
            )
            INSERT INTO idempotency_keys (user_id, key, request_hash, photo_id, created_at, expires_at)
            SELECT %(user)s, s3_key, 'seeded', id, now() - interval '49 hours', now() - interval '25 hours'
            FROM seeded
            """,
            {"project": project, "user": user, "count": args.seed_keys, "prefix": prefix},
        )
        cursor.execute("SELECT count(*) FROM idempotency_keys WHERE key LIKE %s", (prefix + "%",))
        count = cursor.fetchone()[0]
        connection.commit()
    return count


def mint(secret: str, claims: dict) -> str:
    import hmac

    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    header = b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    body = b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = b64(hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest())
    return f"{header}.{body}.{signature}"


def setup(args) -> int:
    """Before photo-api starts: the project, tokens of `--users` users of its organization (the
    rate limits count per user), the pipeline's service token (scope photos:status:write, no
    org_id), and the expired idempotency keys. Prints the project id."""
    organization, project = str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(args.database_url, autocommit=True) as connection:
        connection.execute("INSERT INTO projects (id, organization_id, name) VALUES (%s, %s, 'soak')",
                           (project, organization))
    now = int(time.time())
    expiry = now + args.token_seconds
    out = Path(args.out_dir)
    tokens = [mint(args.secret, {"sub": str(uuid.uuid4()), "org_id": organization, "iat": now, "exp": expiry})
              for _ in range(args.users)]
    (out / "tokens.txt").write_text("\n".join(tokens) + "\n")
    service = mint(args.secret, {"sub": "soak-pipeline", "scope": "photos:status:write", "iat": now, "exp": expiry})
    (out / "service-token.txt").write_text(service + "\n")
    seeded = seed_keys(args, SEED_BEFORE)
    (out / "seeded.json").write_text(json.dumps({"count": seeded, "at": time.time()}))
    log(f"seeded {seeded} idempotency keys with expires_at 25 h in the past (before photo-api starts)")
    print(project)
    return 0


def run(args) -> int:
    for url in (args.api, args.sink, args.s3):
        require_loopback(url)
    run_dir = Path(args.run_dir)
    args.tokens_file = str(run_dir / "tokens.txt")
    args.service_token = (run_dir / "service-token.txt").read_text().strip()
    seeded = {"before": json.loads((run_dir / "seeded.json").read_text())["count"]}
    args.processes = dict((item.split("=", 1)[0], int(item.split("=", 1)[1])) for item in args.proc)
    args.socket_allowance = dict((item.split("=", 1)[0], int(item.split("=", 1)[1])) for item in args.socket_allowance)
    args.fds_processes = dict((item.split("=", 1)[0], int(item.split("=", 1)[1])) for item in args.fds_proc)
    args.info_processes = dict((item.split("=", 1)[0], int(item.split("=", 1)[1])) for item in args.info_proc)
    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])

    images = load_images(Path(args.fixtures), args.generated_images, seed=17)
    log(f"{len(images)} images ({sum(1 for i in images if i[1] == 'image/png')} PNG), "
        f"{min(len(i[2]) for i in images)}-{max(len(i[2]) for i in images)} bytes")

    recorder = Recorder()
    load = Load(args, recorder, images)
    pipeline = Pipeline(args, recorder)
    sampler = Sampler(args, recorder, load, pipeline, {**args.processes, **args.fds_processes, **args.info_processes})
    phase = {"now": "load"}
    stop_pipeline, stop_sampler, stop_load = threading.Event(), threading.Event(), threading.Event()
    pipeline_thread = threading.Thread(target=pipeline.run, args=(stop_pipeline,), daemon=True)
    sampler_thread = threading.Thread(target=sampler.run, args=(stop_sampler, lambda: phase["now"]), daemon=True)
    pipeline_thread.start()
    sampler.sample("load")
    seeded["during"] = seed_keys(args, SEED_DURING)
    seeded["during_at"] = time.time() - sampler.t0
    log(f"seeded {seeded['during']} more expired idempotency keys (the reconciler's next pass must purge them)")
    sampler_thread.start()
    until = time.time() + args.minutes * 60
    log(f"load: {args.rate:g} confirmations/s for {args.minutes:g} min")
    try:
        backlog = load.run(until, stop_load)
    except KeyboardInterrupt:
        stop_load.set()
        raise
    load_end = time.time() - sampler.t0
    phase["now"] = "drain"
    log(f"load stopped after {load.started} confirmations; draining (up to {args.drain_timeout:g} s: every "
        "confirmed photo completed, the outbox empty, the seeded keys purged)")
    drain_started = time.time()
    while time.time() - drain_started < args.drain_timeout:
        with pipeline.lock:
            done = set(load.confirmed) <= pipeline.completed
        sample = sampler.samples[-1]
        # A run shorter than the reconciler's interval sees its next pass during the drain.
        if done and sample["phase"] == "drain" and sample["outbox_depth"] == 0 and sample["seeded_during_left"] == 0:
            break
        time.sleep(1)
    drain = time.time() - drain_started
    stop_pipeline.set()
    pipeline_thread.join(timeout=30)
    try:
        pipeline.poll_sink()
    except (OSError, http.client.HTTPException, ValueError) as error:
        log(f"pipeline: reading the sink failed: {error!r}")
    stop_sampler.set()
    sampler_thread.join(timeout=30)
    sampler.sample("drain")

    load_during = statistics.mean(s["load1"] for s in sampler.samples)
    meta = {
        "command": args.command_line,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "commit": args.commit,
        "minutes": args.minutes,
        "rate": args.rate,
        "relays": args.relays,
        "window_s": max(args.minutes * 60 * args.window_fraction, 2 * args.interval),
        "warmup_s": args.minutes * 60 * args.warmup_fraction,
        "load_end_s": load_end,
        "drain_s": drain,
        "backlog_max": backlog,
        "machine": f"{os.cpu_count()} cores",
        "load_before": load_before,
        "load_during": f"{load_during:.2f}",
    }
    checks, statuses = run_checks(args, recorder, load, pipeline, sampler, seeded, load_end, drain)
    write_results(args, checks, statuses, recorder, load, sampler, meta)
    for c in checks:
        print(f"{'pass' if c['ok'] else 'FAIL'}: {c['check']}: {c['detail']}", file=sys.stderr)
    failed = [c for c in checks if not c["ok"]]
    print(f"soak: {len(checks) - len(failed)} passed, {len(failed)} failed", file=sys.stderr)
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    first = commands.add_parser("setup")
    first.add_argument("--database-url", required=True)
    first.add_argument("--secret", required=True)
    first.add_argument("--users", type=int, default=10)
    first.add_argument("--token-seconds", type=int, default=4200)
    first.add_argument("--seed-keys", type=int, default=2500)
    first.add_argument("--out-dir", required=True)
    second = commands.add_parser("run")
    second.add_argument("--api", required=True)
    second.add_argument("--sink", required=True)
    second.add_argument("--s3", required=True, help="the S3 endpoint (checked to be loopback)")
    second.add_argument("--database-url", required=True)
    second.add_argument("--project", required=True)
    second.add_argument("--run-dir", required=True)
    second.add_argument("--minutes", type=float, default=10)
    second.add_argument("--rate", type=float, default=5)
    second.add_argument("--workers", type=int, default=32)
    second.add_argument("--interval", type=float, default=None, help="seconds between samples")
    second.add_argument("--warmup-fraction", type=float, default=0.2)
    second.add_argument("--window-fraction", type=float, default=0.1)
    second.add_argument("--drain-timeout", type=float, default=90)
    second.add_argument("--seed-keys", type=int, default=2500)
    second.add_argument("--fixtures", default=str(REPO / "Tests/ImageInspectionTests/Fixtures"))
    second.add_argument("--generated-images", type=int, default=12)
    second.add_argument("--proc", action="append", default=[], help="NAME=PID of a process to sample and check")
    second.add_argument("--fds-proc", action="append", default=[],
                        help="NAME=PID of a process whose fds are checked and whose RSS is recorded only")
    second.add_argument("--info-proc", action="append", default=[], help="NAME=PID of a process to sample only")
    second.add_argument("--socket-allowance", action="append", default=[],
                        help="NAME=N: sockets the process may add after warm-up (a connection pool filling up)")
    second.add_argument("--out-dir", default=str(REPO / "Benchmarks/results"))
    second.add_argument("--command-line", default="Benchmarks/soak.sh")
    second.add_argument("--relays", type=int, default=2)
    second.add_argument("--commit", default="")
    args = parser.parse_args()
    if args.command == "setup":
        return setup(args)
    if args.interval is None:
        args.interval = max(2.0, min(5.0, args.minutes))
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
