"""Outbox relay benchmark driver (started by Benchmarks/run.sh, which provides Postgres and the sink).

Subcommands:
  insert N                      bulk-insert N pending photo.uploaded events (one statement)
  steady --rate R --seconds S   insert events at R/s, one transaction each, print commit times (JSON)
  sink-ceiling ...              the sink alone under wrk (its ceiling, its CPU per message)
  run ...                       the whole benchmark: drain and latency runs for each relay kind,
                                medians, percentiles, ratios; writes results/latest.{md,json}

Everything here talks to 127.0.0.1 only and every wait is bounded.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from pgwal import difference as wal_difference, settings_line

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BUCKET = "companycam-photos-bench"
EVENT_TYPE = "photo.uploaded"
# CPU use by others (fraction of the machine) above which a run's figures are flagged.
NOISY_BACKGROUND = 0.10

# The message body of contract section 6, built by Postgres for N events at once. The key
# follows the upload layout {project_id}/{yyyy}/{mm}/{dd}/{photo_id}.jpg; aggregate_id is the photo.
BULK_INSERT = """
INSERT INTO outbox_events (id, event_type, aggregate_id, payload, created_at)
SELECT gen_random_uuid(), %(event_type)s, p.photo_id,
       jsonb_build_object(
           'photo_id', p.photo_id,
           's3_url', 's3://' || %(bucket)s || '/' || %(project_id)s::text || to_char(now() AT TIME ZONE 'UTC', '/YYYY/MM/DD/')
                     || p.photo_id::text || '.jpg',
           'detection_types', jsonb_build_array('damage', 'material'),
           'priority', 'normal'),
       clock_timestamp()
  FROM (SELECT gen_random_uuid() AS photo_id FROM generate_series(1, %(count)s)) AS p
"""

SINGLE_INSERT = """
INSERT INTO outbox_events (id, event_type, aggregate_id, payload)
VALUES (%(id)s, %(event_type)s, %(photo_id)s,
        jsonb_build_object(
            'photo_id', %(photo_id)s::uuid,
            's3_url', 's3://' || %(bucket)s || '/' || %(project_id)s::text
                      || to_char(now() AT TIME ZONE 'UTC', '/YYYY/MM/DD/') || %(photo_id)s::text || '.jpg',
            'detection_types', jsonb_build_array('damage', 'material'),
            'priority', 'normal'))
"""


def log(message: str) -> None:
    print(f"==> {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- database


def connect(url: str) -> psycopg.Connection:
    return psycopg.connect(url, autocommit=True, connect_timeout=10)


def clear_outbox(url: str) -> None:
    with connect(url) as conn:
        conn.execute("TRUNCATE outbox_events, outbox_dead_letters")


def insert_events(url: str, count: int) -> float:
    """Bulk-inserts `count` due events; returns the seconds it took (vacuum included)."""
    started = time.monotonic()
    with connect(url) as conn:
        conn.execute(
            BULK_INSERT,
            {"event_type": EVENT_TYPE, "bucket": BUCKET, "project_id": str(uuid.uuid4()), "count": count},
        )
        # Fresh statistics and visibility map, and a checkpoint now rather than mid-run.
        conn.execute("VACUUM ANALYZE outbox_events")
        conn.execute("CHECKPOINT")
    return time.monotonic() - started


def pg_snapshot(url: str) -> dict:
    """Benchmarks/pg_snapshot.sql: WAL counters, commits and the durability settings."""
    with connect(url) as conn:
        return conn.execute((HERE / "pg_snapshot.sql").read_text()).fetchone()[0]


def outbox_count(url: str) -> int:
    with connect(url) as conn:
        return conn.execute("SELECT count(*) FROM outbox_events").fetchone()[0]


def steady_inserts(url: str, rate: float, seconds: float) -> list[dict]:
    """Inserts rate*seconds events on a fixed schedule, each in its own transaction.

    Per event: `commit_sent` (Unix time just before COMMIT is sent: latencies are measured from
    here, so they include the commit itself) and `committed` (when COMMIT returned)."""
    total = int(round(rate * seconds))
    project_id = str(uuid.uuid4())
    commits: list[dict] = []
    with connect(url) as conn:
        conn.execute("SELECT 1")
        start = time.monotonic() + 0.05
        for index in range(total):
            delay = start + index / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            event_id, photo_id = str(uuid.uuid4()), str(uuid.uuid4())
            with conn.transaction():
                conn.execute(
                    SINGLE_INSERT,
                    {
                        "id": event_id,
                        "event_type": EVENT_TYPE,
                        "photo_id": photo_id,
                        "bucket": BUCKET,
                        "project_id": project_id,
                    },
                )
                commit_sent = time.time()
            commits.append({"event_id": event_id, "commit_sent": commit_sent, "committed": time.time()})
    return commits


# ----------------------------------------------------------------------------- sink


class Sink:
    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def _call(self, method: str, path: str, timeout: float = 10):
        request = urllib.request.Request(self.url + path, method=method, data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.load(response)

    def stats(self) -> dict:
        return self._call("GET", "/stats")

    def arrivals(self) -> dict:
        return self._call("GET", "/arrivals", timeout=60)

    def reset(self) -> None:
        self._call("POST", "/reset")


# ----------------------------------------------------------------------------- processes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def _stat_fields(pid: int | str) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def postgres_cpu(pgdata: str | None) -> float:
    """CPU seconds of our Postgres cluster: the postmaster, its reaped children (backends
    that exited) and its live children."""
    if not pgdata:
        return 0.0
    try:
        postmaster = int(Path(pgdata, "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    ticks = 0
    fields = _stat_fields(postmaster)
    if fields:
        ticks += sum(int(v) for v in fields[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            child = _stat_fields(entry.name)
            if child and child[1] == str(postmaster):
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


class CpuAccount:
    """Splits the machine's CPU use over a run into ours (Postgres, sink, relays, this
    driver) and everything else: `others_fraction` is the share of the machine that
    processes outside the benchmark took, i.e. how noisy the run was."""

    def __init__(self, env: "Environment"):
        self.env = env
        self.busy = machine_busy()
        self.wall = time.monotonic()
        self.postgres = postgres_cpu(env.pgdata)
        self.sink = cpu_seconds(env.sink_pid) or 0.0 if env.sink_pid else 0.0
        self.driver = time.process_time()

    def finish(self, relays: list["Relay"]) -> dict:
        busy = machine_busy()
        hz = os.sysconf("SC_CLK_TCK")
        wall = time.monotonic() - self.wall
        machine_seconds = (busy[0] - self.busy[0]) / hz
        postgres = postgres_cpu(self.env.pgdata) - self.postgres
        sink = (cpu_seconds(self.env.sink_pid) or 0.0) - self.sink if self.env.sink_pid else 0.0
        relay = sum(cpu_seconds(r.process.pid) or 0.0 for r in relays)
        driver = time.process_time() - self.driver
        others = max(0.0, machine_seconds - postgres - sink - relay - driver)
        capacity = wall * (os.cpu_count() or 1)
        return {
            "machine_busy_fraction": (busy[0] - self.busy[0]) / max(1, busy[1] - self.busy[1]),
            "postgres_cpu_seconds": postgres,
            "sink_cpu_seconds": sink,
            "relay_cpu_seconds_total": relay,
            "driver_cpu_seconds": driver,
            "others_cpu_seconds": others,
            "others_fraction": others / capacity if capacity > 0 else math.nan,
        }


def background_busy(seconds: float = 1.0) -> float:
    """Fraction of the machine's CPU busy while none of our relays runs: other load that
    would skew a run (the benchmark owns the machine only when this is near 0)."""
    before = machine_busy()
    time.sleep(seconds)
    after = machine_busy()
    return (after[0] - before[0]) / max(1, after[1] - before[1])


def wait_for_quiet(max_wait: float) -> float:
    """Samples background_busy until it is below NOISY_BACKGROUND or max_wait seconds pass
    (the machine may be shared, e.g. with a build); returns the last sample."""
    deadline = time.monotonic() + max_wait
    busy = background_busy()
    announced = False
    while busy > NOISY_BACKGROUND and time.monotonic() < deadline:
        if not announced:
            log(f"machine {busy:.0%} busy before the run: waiting up to {max_wait:.0f} s for it to calm down")
            announced = True
        busy = background_busy()
    return busy


@dataclass
class Relay:
    name: str
    process: subprocess.Popen
    log_path: Path
    metrics_port: int | None
    exit_code: int | None = None
    cpu: float | None = None


@dataclass
class RelayKind:
    """`reference` (the Python relay), `ours` (outbox-relay) or `baseline` (another outbox-relay
    binary, `--baseline-relay-bin`, e.g. the build before a change), and how many processes."""

    impl: str
    processes: int

    @property
    def label(self) -> str:
        name = {"reference": "reference (Python)", "ours": "outbox-relay", "baseline": "baseline relay"}[self.impl]
        return f"{name} x{self.processes}"

    @property
    def key(self) -> str:
        return f"{self.impl}x{self.processes}"

    @staticmethod
    def parse(text: str) -> RelayKind:
        impl, _, count = text.partition(":")
        if impl not in ("reference", "ours", "baseline") or not count.isdigit() or int(count) < 1:
            raise argparse.ArgumentTypeError(f"relay kind {text!r}: want reference:N, ours:N or baseline:N")
        return RelayKind(impl, int(count))


@dataclass
class Environment:
    database_url: str
    sink: Sink
    sink_port: int
    sink_pid: int | None
    relay_bin: Path
    python: Path
    baseline_relay_bin: Path | None
    log_dir: Path
    timeout: float
    idle_wait: float = 30
    pgdata: str | None = None
    relays: list[Relay] = field(default_factory=list)

    def relay_env(self) -> dict:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "RELAY_"))}
        env.update(
            {
                "DATABASE_URL": self.database_url,
                "DETECTION_QUEUE_URL": f"http://127.0.0.1:{self.sink_port}/000000000000/bench",
                "AWS_ENDPOINT_URL_SQS": f"http://127.0.0.1:{self.sink_port}",
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench",
                "AWS_REGION": "us-east-1",
                "LOG_LEVEL": "warning",
                "RELAY_METRICS_HOST": "127.0.0.1",
            }
        )
        return env

    def start(self, kind: RelayKind, tag: str) -> list[Relay]:
        started = []
        for index in range(kind.processes):
            env = self.relay_env()
            port = None
            if kind.impl in ("ours", "baseline"):
                port = free_port()
                env["RELAY_METRICS_PORT"] = str(port)
                binary = self.relay_bin if kind.impl == "ours" else self.baseline_relay_bin
                if binary is None:
                    raise SystemExit("relay kind baseline needs --baseline-relay-bin")
                command = [str(binary), "run"]
            else:
                command = [str(self.python), str(HERE / "reference_relay.py")]
            log_path = self.log_dir / f"{tag}-{index + 1}.log"
            with open(log_path, "wb") as log_file:
                process = subprocess.Popen(
                    command,
                    env=env,
                    cwd=REPO,
                    stdin=subprocess.DEVNULL,
                    stdout=log_file,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            relay = Relay(f"{tag}-{index + 1}", process, log_path, port)
            started.append(relay)
            self.relays.append(relay)
        return started

    def stop(self, relays: list[Relay], grace: float = 10) -> None:
        for relay in relays:
            relay.cpu = cpu_seconds(relay.process.pid)
            if relay.process.poll() is None:
                relay.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for relay in relays:
            try:
                relay.exit_code = relay.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{relay.name} ignored SIGTERM for {grace:.0f} s: killing it")
                relay.process.kill()
                relay.exit_code = relay.process.wait(timeout=10)
            if relay in self.relays:
                self.relays.remove(relay)

    def stop_all(self) -> None:
        self.stop(list(self.relays), grace=5)


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def wait_ready(env: Environment, relays: list[Relay], seconds: float) -> None:
    """Waits for `/readyz` of our relays (bounded); the reference relay has none: a fixed pause."""
    deadline = time.monotonic() + seconds
    for relay in relays:
        if relay.metrics_port is None:
            continue
        while time.monotonic() < deadline and relay.process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{relay.metrics_port}/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            time.sleep(0.05)


# ----------------------------------------------------------------------------- runs


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def drain_run(env: Environment, kind: RelayKind, events: int, repetition: int) -> dict:
    tag = f"drain-{kind.key}-r{repetition}"
    clear_outbox(env.database_url)
    env.sink.reset()
    insert_seconds = insert_events(env.database_url, events)
    result: dict = {
        "kind": kind.key,
        "repetition": repetition,
        "events": events,
        "insert_seconds": insert_seconds,
        "background_busy_fraction": wait_for_quiet(env.idle_wait),
        "load_average": os.getloadavg()[0],
    }

    wal_before = pg_snapshot(env.database_url)
    account = CpuAccount(env)
    started_at = time.time()
    relays = env.start(kind, tag)
    deadline = time.monotonic() + env.timeout
    stats = env.sink.stats()
    failure = None
    try:
        while stats["unique"] < events:
            if time.monotonic() > deadline:
                failure = f"timed out after {env.timeout:.0f} s"
                break
            if all(relay.process.poll() is not None for relay in relays):
                failure = "every relay process exited"
                break
            time.sleep(0.1)
            stats = env.sink.stats()
        empty_at = None
        if failure is None:
            # Delivered: now the outbox must empty (the relay retires what it sent).
            empty_deadline = time.monotonic() + 30
            while time.monotonic() < empty_deadline:
                if outbox_count(env.database_url) == 0:
                    empty_at = time.time()
                    break
                time.sleep(0.05)
            if empty_at is None:
                failure = "the sink has every event but outbox_events did not empty within 30 s"
        cpu = account.finish(relays)
    finally:
        env.stop(relays)

    remaining = outbox_count(env.database_url)
    # The relays have exited, so their backends have reported their WAL and commit counts.
    wal = wal_difference(wal_before, pg_snapshot(env.database_url), events)
    result.update(
        {
            "ok": failure is None,
            "wal": wal,
            "failure": failure,
            "delivered_unique": stats["unique"],
            "sink_messages": stats["count"],
            "duplicates": stats["duplicates"],
            "expect_continue_requests": stats.get("expect_continue", 0),
            "sink_requests": stats["requests"],
            "outbox_remaining": remaining,
            "started_at": started_at,
            "first_arrival": stats.get("first_at"),
            "last_arrival": stats.get("last_at"),
            "outbox_empty_at": empty_at,
            "relay_cpu_seconds": [relay.cpu for relay in relays],
            "relay_exit_codes": [relay.exit_code for relay in relays],
            **cpu,
        }
    )
    if failure is None:
        first, last = stats["first_at"], stats["last_at"]
        result["drain_seconds"] = last - first
        result["events_per_second"] = events / (last - first) if last > first else math.nan
        result["wall_seconds"] = empty_at - started_at
        result["wall_events_per_second"] = events / (empty_at - started_at)
        log(
            f"{kind.label} run {repetition}: {result['events_per_second']:,.0f} events/s "
            f"(first to last arrival {result['drain_seconds']:.2f} s; start to empty outbox "
            f"{result['wall_seconds']:.2f} s), duplicates {stats['duplicates']}; "
            f"{wal['wal_sync']:,} WAL flushes ({fmt(wal['units_per_sync'], '.1f')} events, "
            f"{fmt(wal['commits_per_sync'], '.2f')} commits and {fmt(wal['mean_sync_ms'], '.2f')} ms each)"
        )
    else:
        result["log_tail"] = {relay.name: log_tail(relay.log_path) for relay in relays}
        log(
            f"{kind.label} run {repetition}: FAILED ({failure}); the sink got {stats['unique']} of {events}, "
            f"{remaining} still in outbox_events"
        )
        for relay in relays:
            log(f"last lines of {relay.log_path}:\n{result['log_tail'][relay.name] or '(empty)'}")
    return result


def latency_run(env: Environment, kind: RelayKind, rate: float, seconds: float) -> dict:
    tag = f"latency-{kind.key}"
    clear_outbox(env.database_url)
    env.sink.reset()
    background = wait_for_quiet(env.idle_wait)
    relays = env.start(kind, tag)
    failure = None
    try:
        wait_ready(env, relays, 15)
        time.sleep(2)  # past start-up (the reference relay imports boto3) and a first empty poll
        if all(relay.process.poll() is not None for relay in relays):
            failure = "every relay process exited before the run"
            commits = []
        else:
            log(f"{kind.label}: {rate:.0f} events/s for {seconds:.0f} s, one transaction each")
            generated_at = time.monotonic()
            account = CpuAccount(env)
            commits = steady_inserts(env.database_url, rate, seconds)
            cpu = account.finish(relays)
            generated_seconds = time.monotonic() - generated_at
            wanted = len(commits)
            deadline = time.monotonic() + 30
            while env.sink.stats()["unique"] < wanted and time.monotonic() < deadline:
                time.sleep(0.1)
        arrivals = env.sink.arrivals()
        stats = env.sink.stats()
    finally:
        env.stop(relays)

    latencies = sorted(
        (arrivals[c["event_id"]] - c["commit_sent"]) * 1000 for c in commits if c["event_id"] in arrivals
    )
    missing = len(commits) - len(latencies)
    result = {
        "kind": kind.key,
        "rate": rate,
        "seconds": seconds,
        "events": len(commits),
        "received": len(latencies),
        "missing": missing,
        "duplicates": stats["duplicates"],
        "relay_cpu_seconds": [relay.cpu for relay in relays],
        "relay_exit_codes": [relay.exit_code for relay in relays],
        "background_busy_fraction": background,
    }
    if commits:
        result.update(cpu)
        result["achieved_rate"] = len(commits) / generated_seconds
    if failure is None and missing:
        failure = f"{missing} of {len(commits)} events never reached the sink (30 s after the last commit)"
    result["ok"] = failure is None
    result["failure"] = failure
    if latencies:
        result.update(
            {
                "p50_ms": percentile(latencies, 50),
                "p90_ms": percentile(latencies, 90),
                "p99_ms": percentile(latencies, 99),
                "max_ms": latencies[-1],
                "mean_ms": statistics.fmean(latencies),
                "min_ms": latencies[0],
            }
        )
        log(
            f"{kind.label}: commit-to-send p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, "
            f"max {result['max_ms']:.1f} ms ({len(latencies)} events)"
        )
    if failure:
        result["log_tail"] = {relay.name: log_tail(relay.log_path) for relay in relays}
        log(f"{kind.label} latency run FAILED: {failure}")
    return result


def sink_ceiling(sink: Sink, sink_pid: int | None, seconds: float, connections: int) -> dict:
    """The sink alone under wrk (SendMessageBatch of 10): its ceiling and its CPU cost per message."""
    sink.reset()
    cpu_before = cpu_seconds(sink_pid) if sink_pid else None
    output = subprocess.run(
        [
            "wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "--timeout", "5s",
            "-s", str(HERE / "sink_load.lua"), sink.url + "/",
        ],
        capture_output=True, text=True, timeout=seconds + 30, check=True,
    ).stdout
    cpu_after = cpu_seconds(sink_pid) if sink_pid else None
    stats = sink.stats()
    sink.reset()
    elapsed = (stats["last_at"] - stats["first_at"]) if stats.get("first_at") else math.nan
    messages_per_second = stats["unique"] / elapsed if elapsed and elapsed > 0 else math.nan
    result = {
        "wrk_connections": connections,
        "seconds": seconds,
        "messages": stats["unique"],
        "requests": stats["requests"],
        "messages_per_second": messages_per_second,
        "sink_cpu_seconds": cpu_after - cpu_before if cpu_before is not None and cpu_after is not None else None,
        "wrk_output": output,
    }
    if result["sink_cpu_seconds"] and stats["unique"]:
        result["sink_cpu_us_per_message"] = result["sink_cpu_seconds"] / stats["unique"] * 1e6
    result["summary"] = (
        f"{messages_per_second:,.0f} messages/s ({stats['requests'] / elapsed:,.0f} SendMessageBatch/s of 10) "
        f"under wrk with {connections} connections (wrk itself on the other core), "
        f"{fmt(result.get('sink_cpu_us_per_message'), '.1f')} µs of sink CPU per message."
    )
    log("sink alone: " + result["summary"])
    return result


# ----------------------------------------------------------------------------- reporting


def command_output(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=20).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def machine_info(relay_bin: Path) -> dict:
    model = ""
    for line in command_output(["lscpu"]).splitlines():
        if line.startswith("Model name:"):
            model = line.split(":", 1)[1].strip()
    memory_kib = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kib = int(line.split()[1])
    head = command_output(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"])
    import boto3
    import botocore

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(memory_kib / 1024 / 1024, 1),
        "kernel": platform.release(),
        "os": command_output(["sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"]),
        "postgres": command_output(["psql", "--version"]),
        "swift": command_output(["swift", "--version"]).splitlines()[0:1],
        "python": platform.python_version(),
        "psycopg": psycopg.__version__,
        "boto3": boto3.__version__,
        "botocore": botocore.__version__,
        "git": head + (" (with uncommitted changes)" if dirty else ""),
        "relay_binary": str(relay_bin),
    }


def median_or_nan(values: list[float]) -> float:
    return statistics.median(values) if values else math.nan


def summarize(kinds: list[RelayKind], drains: list[dict], latencies: list[dict]) -> dict:
    summary = {}
    for kind in kinds:
        runs = [r for r in drains if r["kind"] == kind.key]
        good = [r for r in runs if r["ok"]]
        latency = next((r for r in latencies if r["kind"] == kind.key), None)
        summary[kind.key] = {
            "label": kind.label,
            "runs": len(runs),
            "ok_runs": len(good),
            "events_per_second": [r["events_per_second"] for r in good],
            "median_events_per_second": median_or_nan([r["events_per_second"] for r in good]),
            "median_wall_events_per_second": median_or_nan([r["wall_events_per_second"] for r in good]),
            "median_relay_cpu_seconds": median_or_nan(
                [sum(c for c in r["relay_cpu_seconds"] if c is not None) for r in good]
            ),
            "median_sink_cpu_seconds": median_or_nan(
                [r["sink_cpu_seconds"] for r in good if r["sink_cpu_seconds"] is not None]
            ),
            "median_machine_busy": median_or_nan([r["machine_busy_fraction"] for r in good]),
            "median_postgres_cpu_seconds": median_or_nan([r["postgres_cpu_seconds"] for r in good]),
            "median_wal_syncs": median_or_nan([r["wal"]["wal_sync"] for r in good if "wal" in r]),
            "median_events_per_wal_sync": median_or_nan(
                [r["wal"]["units_per_sync"] for r in good if r.get("wal", {}).get("units_per_sync")]
            ),
            "median_wal_sync_ms": median_or_nan(
                [r["wal"]["mean_sync_ms"] for r in good if r.get("wal", {}).get("mean_sync_ms") is not None]
            ),
            "median_wal_sync_share": median_or_nan(
                [r["wal"]["wal_sync_time_ms"] / 1000 / r["drain_seconds"] for r in good if "wal" in r and r.get("drain_seconds")]
            ),
            "max_background_busy": max(
                (r.get("background_busy_fraction", 0) for r in runs + ([latency] if latency else [])), default=math.nan
            ),
            "max_others": max((r.get("others_fraction", 0) for r in runs + ([latency] if latency else [])), default=math.nan),
            "duplicates": sum(r["duplicates"] for r in runs),
            "p50_ms": latency.get("p50_ms") if latency else None,
            "p99_ms": latency.get("p99_ms") if latency else None,
            "max_ms": latency.get("max_ms") if latency else None,
            "latency_ok": latency["ok"] if latency else None,
        }
    baseline = summary.get("referencex1", {}).get("median_events_per_second", math.nan)
    for entry in summary.values():
        rate = entry["median_events_per_second"]
        entry["ratio_vs_reference"] = rate / baseline if baseline and not math.isnan(baseline) else math.nan
    return summary


def fmt(value, spec: str, missing: str = "–") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return missing
    return format(value, spec)


def targets(summary: dict) -> list[tuple[str, str, bool | None]]:
    ours = summary.get("oursx1")
    if not ours:
        return []
    rate, ratio = ours["median_events_per_second"], ours["ratio_vs_reference"]
    p50, p99 = ours["p50_ms"], ours["p99_ms"]

    def check(value, good) -> bool | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        return good(value)

    return [
        ("drain rate, one relay >= 20,000 events/s", fmt(rate, ",.0f"), check(rate, lambda v: v >= 20_000)),
        ("ratio to the reference relay >= 3x", fmt(ratio, ".2f") + "x", check(ratio, lambda v: v >= 3)),
        ("commit-to-send p50 < 10 ms", fmt(p50, ".2f") + " ms", check(p50, lambda v: v < 10)),
        ("commit-to-send p99 < 50 ms", fmt(p99, ".2f") + " ms", check(p99, lambda v: v < 50)),
    ]


def run_noise(run: dict) -> float:
    """The share of the machine's CPU that other processes took just before or during a run."""
    return max(run.get("background_busy_fraction", 0) or 0, run.get("others_fraction", 0) or 0)


def noise_warning(report: dict) -> str | None:
    """A sentence when something outside the benchmark used the CPU before some run."""
    runs = report["drain_runs"] + report["latency_runs"]
    noisy = [r for r in runs if run_noise(r) > NOISY_BACKGROUND]
    if not noisy:
        return None
    worst = max(run_noise(r) for r in noisy)
    names = ", ".join(f"{r['kind']} {r.get('repetition', 'latency')}" for r in noisy)
    return (
        f"{len(noisy)} of {len(runs)} runs ({names}) shared the machine with other processes, which took "
        f"up to {worst:.0%} of its CPU (just before or during the run): those figures measure a busy "
        "machine, not only the relays. Rerun on an idle machine."
    )


def render_markdown(report: dict) -> str:
    machine, config, summary = report["machine"], report["config"], report["summary"]
    lines = [
        "# Outbox relay benchmark: latest run",
        "",
        f"Run at {report['finished']} UTC by `{config['command']}` (git {machine['git']}).",
        "",
        f"Machine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['memory_gib']} GiB, "
        f"{machine['os']}, kernel {machine['kernel']}; {machine['postgres']}; Python {machine['python']}, "
        f"psycopg {machine['psycopg']}, boto3 {machine['boto3']}.",
        "",
        f"Postgres, as the server reports it: {settings_line(report['postgres_settings'])}.",
        "",
        f"Drain: {config['events']:,} pending events, {config['repeat']} runs per relay kind (interleaved), "
        "median shown; rate = events / (last arrival - first arrival at the sink). "
        f"Latency: {config['latency_rate']:.0f} events/s for {config['latency_seconds']:.0f} s, one "
        "transaction each; commit-to-send = first arrival at the sink - moment COMMIT was sent. "
        "\"machine busy\": CPU use of the whole machine during the drain (median); \"others\": the "
        "largest share of the machine's CPU that processes outside the benchmark (not Postgres, the sink, "
        "the relays or the driver) took just before or during one of the kind's runs: figures taken with "
        "more than a few % there are suspect.",
        "",
        "| relay | drain events/s (median) | runs (events/s) | vs reference | start-to-empty events/s "
        "| relay CPU s | Postgres CPU s | sink CPU s | machine busy | others | p50 ms | p99 ms | max ms | duplicates "
        "| WAL flushes | events per flush | ms per flush | flushing share of the drain |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in summary.values():
        runs = ", ".join(f"{v:,.0f}" for v in entry["events_per_second"]) or "none succeeded"
        if entry["ok_runs"] < entry["runs"]:
            runs += f" ({entry['runs'] - entry['ok_runs']} of {entry['runs']} failed)"
        lines.append(
            f"| {entry['label']} | {fmt(entry['median_events_per_second'], ',.0f', 'FAILED')} | {runs} "
            f"| {fmt(entry['ratio_vs_reference'], '.2f')}x | {fmt(entry['median_wall_events_per_second'], ',.0f')} "
            f"| {fmt(entry['median_relay_cpu_seconds'], '.1f')} | {fmt(entry['median_postgres_cpu_seconds'], '.1f')} "
            f"| {fmt(entry['median_sink_cpu_seconds'], '.1f')} "
            f"| {fmt(entry['median_machine_busy'] * 100, '.0f')}% "
            f"| {fmt(max(entry['max_background_busy'], entry['max_others']) * 100, '.0f')}% "
            f"| {fmt(entry['p50_ms'], '.2f')} | {fmt(entry['p99_ms'], '.2f')} | {fmt(entry['max_ms'], '.1f')} "
            f"| {entry['duplicates']} | {fmt(entry['median_wal_syncs'], ',.0f')} "
            f"| {fmt(entry['median_events_per_wal_sync'], '.1f')} | {fmt(entry['median_wal_sync_ms'], '.2f')} "
            f"| {fmt(entry['median_wal_sync_share'] * 100, '.0f')}% |"
        )
    warning = noise_warning(report)
    if warning:
        lines += ["", f"**Warning:** {warning}"]
    checks = targets(summary)
    if checks:
        lines += ["", "Targets (outbox-relay x1):", ""]
        for name, value, passed in checks:
            verdict = "not measured" if passed is None else ("PASS" if passed else "FAIL")
            lines.append(f"- {name}: {value} — {verdict}")
    if report.get("sink_ceiling"):
        ceiling = report["sink_ceiling"]
        lines += ["", f"Sink alone: {ceiling['summary']}"]
    failures = [r for r in report["drain_runs"] + report["latency_runs"] if not r["ok"]]
    if failures:
        lines += ["", "Failed runs:", ""]
        for run in failures:
            lines.append(f"- {run['kind']} {run.get('repetition', 'latency')}: {run['failure']}")
    if report.get("discarded_noisy_runs"):
        lines += [
            "",
            f"{len(report['discarded_noisy_runs'])} runs were discarded and run again because other processes "
            "took more than 10 % of the CPU during them (kept in latest.json).",
        ]
    lines += [
        "",
        "WAL columns (medians over the drain runs, from pg_stat_wal and pg_stat_database, "
        "Benchmarks/pg_snapshot.sql): fdatasync calls on the WAL while the relays ran, events "
        "delivered per call, mean time per call, and that time over the drain's length.",
        "",
        "Raw figures: `latest.json` beside this file.",
        "",
    ]
    return "\n".join(lines)


def print_table(summary: dict) -> None:
    header = f"{'relay':<22} {'drain ev/s':>11} {'vs ref':>7} {'p50 ms':>8} {'p99 ms':>8} {'runs ok':>8}"
    print(header)
    print("-" * len(header))
    for entry in summary.values():
        print(
            f"{entry['label']:<22} {fmt(entry['median_events_per_second'], ',.0f', 'FAILED'):>11} "
            f"{fmt(entry['ratio_vs_reference'], '.2f') + 'x':>7} {fmt(entry['p50_ms'], '.2f'):>8} "
            f"{fmt(entry['p99_ms'], '.2f'):>8} {entry['ok_runs']}/{entry['runs']:<6}"
        )
    for name, value, passed in targets(summary):
        verdict = "not measured" if passed is None else ("PASS" if passed else "FAIL")
        print(f"  {name}: {value} -> {verdict}")


# ----------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> int:
    env = Environment(
        database_url=args.database_url,
        sink=Sink(f"http://127.0.0.1:{args.sink_port}"),
        sink_port=args.sink_port,
        sink_pid=args.sink_pid,
        relay_bin=Path(args.relay_bin),
        python=Path(args.python),
        baseline_relay_bin=Path(args.baseline_relay_bin) if args.baseline_relay_bin else None,
        log_dir=Path(args.log_dir),
        timeout=args.timeout,
        idle_wait=args.idle_wait,
        pgdata=os.environ.get("PGDATA_DIR"),
    )
    env.log_dir.mkdir(parents=True, exist_ok=True)
    results_dir = Path(args.results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    kinds: list[RelayKind] = args.kinds
    drains: list[dict] = []
    latencies: list[dict] = []
    discarded: list[dict] = []
    broken: set[str] = set()
    try:
        def measured(run) -> dict:
            """One run, repeated (up to --retry-noisy times) while other processes disturbed it."""
            for attempt in range(args.retry_noisy + 1):
                result = run()
                if not result["ok"] or run_noise(result) <= NOISY_BACKGROUND or attempt == args.retry_noisy:
                    return result
                log(f"other processes took {run_noise(result):.0%} of the CPU during that run: running it again")
                discarded.append(result)
            raise AssertionError("unreachable")

        for repetition in range(1, args.repeat + 1):
            for kind in kinds:
                if kind.key in broken:
                    continue
                result = measured(lambda: drain_run(env, kind, args.events, repetition))
                drains.append(result)
                if not result["ok"] and result["delivered_unique"] == 0:
                    log(f"{kind.label} delivered nothing: skipping its remaining runs")
                    broken.add(kind.key)
        if args.latency_seconds > 0:
            for kind in kinds:
                if kind.key in broken:
                    latencies.append({"kind": kind.key, "ok": False, "failure": "skipped: drain delivered nothing"})
                    continue
                latencies.append(measured(lambda: latency_run(env, kind, args.latency_rate, args.latency_seconds)))
    finally:
        env.stop_all()

    sink_ceiling = json.loads(Path(args.sink_ceiling).read_text()) if args.sink_ceiling else None
    report = {
        "finished": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
        "postgres_settings": pg_snapshot(env.database_url)["settings"],
        "machine": machine_info(env.relay_bin),
        "config": {
            "command": args.command_line,
            "events": args.events,
            "repeat": args.repeat,
            "kinds": [k.key for k in kinds],
            "latency_rate": args.latency_rate,
            "latency_seconds": args.latency_seconds,
            "timeout_seconds": args.timeout,
            "idle_wait_seconds": args.idle_wait,
            "retry_noisy": args.retry_noisy,
        },
        "summary": summarize(kinds, drains, latencies),
        "sink_ceiling": sink_ceiling,
        "drain_runs": drains,
        "latency_runs": latencies,
        "discarded_noisy_runs": discarded,
    }
    (results_dir / "latest.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (results_dir / "latest.md").write_text(render_markdown(report))
    print()
    print(f"Postgres: {settings_line(report['postgres_settings'])}")
    print_table(report["summary"])
    warning = noise_warning(report)
    if warning:
        print(f"\nWARNING: {warning}")
    print()
    print(f"written: {results_dir / 'latest.md'} and latest.json")
    any_failed = any(not r["ok"] for r in drains + latencies)
    return 3 if any_failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("DATABASE_URL"))
    sub = parser.add_subparsers(dest="command", required=True)

    insert = sub.add_parser("insert", help="bulk-insert N pending events")
    insert.add_argument("count", type=int)

    steady = sub.add_parser("steady", help="insert at a steady rate, one transaction per event")
    steady.add_argument("--rate", type=float, default=200)
    steady.add_argument("--seconds", type=float, default=20)

    ceiling = sub.add_parser("sink-ceiling", help="load the sink alone with wrk")
    ceiling.add_argument("--sink-port", type=int, required=True)
    ceiling.add_argument("--sink-pid", type=int)
    ceiling.add_argument("--seconds", type=float, default=5)
    ceiling.add_argument("--connections", type=int, default=4)
    ceiling.add_argument("--out", required=True)

    full = sub.add_parser("run", help="the whole benchmark")
    full.add_argument("--sink-port", type=int, required=True)
    full.add_argument("--sink-pid", type=int)
    full.add_argument("--relay-bin", required=True)
    full.add_argument("--baseline-relay-bin", help="the outbox-relay binary of relay kind baseline:N")
    full.add_argument("--python", default=sys.executable)
    full.add_argument("--log-dir", required=True)
    full.add_argument("--results-dir", default=str(HERE / "results"))
    full.add_argument("--events", type=int, default=100_000)
    full.add_argument("--repeat", type=int, default=3)
    full.add_argument(
        "--kinds", type=lambda s: [RelayKind.parse(k) for k in s.split(",")], default="reference:1,ours:1,ours:2"
    )
    full.add_argument("--latency-rate", type=float, default=200)
    full.add_argument("--latency-seconds", type=float, default=20)
    full.add_argument("--timeout", type=float, default=120)
    full.add_argument("--idle-wait", type=float, default=30)
    full.add_argument("--retry-noisy", type=int, default=2)
    full.add_argument("--sink-ceiling", help="JSON file with the sink-alone measurement")
    full.add_argument("--command-line", default="Benchmarks/run.sh")

    args = parser.parse_args()
    if not args.database_url and args.command != "sink-ceiling":
        parser.error("DATABASE_URL is not set")
    if args.command == "insert":
        seconds = insert_events(args.database_url, args.count)
        log(f"inserted {args.count} events in {seconds:.2f} s")
        return 0
    if args.command == "sink-ceiling":
        result = sink_ceiling(Sink(f"http://127.0.0.1:{args.sink_port}"), args.sink_pid, args.seconds, args.connections)
        Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
        return 0
    if args.command == "steady":
        json.dump(steady_inserts(args.database_url, args.rate, args.seconds), sys.stdout)
        return 0
    if isinstance(args.kinds, str):
        args.kinds = [RelayKind.parse(k) for k in args.kinds.split(",")]
    try:
        return run(args)
    except KeyboardInterrupt:
        log("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
