"""Benchmarks/scaling.sh's figures: one wrk run's JSON line, and the report with its plots.

    scaling_report.py point PREFIX CONNECTIONS POOL RUN
        reads PREFIX.txt (wrk with Benchmarks/api/upload_url.lua), PREFIX.cpu.json
        (Benchmarks/api/cpu_during.py), PREFIX.pg-before.json and PREFIX.pg-after.json
        (Benchmarks/pg_snapshot.sql) and prints one JSON line (and a summary on stderr).
    scaling_report.py report --relay LATEST_JSON --api POINTS_JSONL --out-dir DIR ...
        writes DIR/scaling-latest.md, DIR/scaling-latest.json and DIR/scaling-*.png
        (matplotlib): medians per point, targets, WAL flushes, and the share of the CPU other
        processes took (the figures are provisional above NOISY).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

from bench import command_output
from pgwal import difference, settings_line

# Other processes' share of the machine's CPU above which a figure is labelled provisional.
NOISY = 0.10
TARGET_RPS, TARGET_P99_MS = 6_000, 25.0
TARGET_RELAY_RATE, TARGET_RELAY_RATIO = 20_000, 3.0


def wrk_point(prefix: str, connections: int, pool: int, run: int) -> dict:
    text = Path(f"{prefix}.txt").read_text()

    def number(pattern: str) -> float:
        match = re.search(pattern, text)
        if not match:
            raise SystemExit(f"{prefix}.txt: no {pattern!r} in wrk's output")
        return float(match.group(1))

    requests = int(number(r"(\d+) requests in"))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    non2xx = int(number(r"non2xx (\d+)"))
    wrk_non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    cpu = json.loads(Path(f"{prefix}.cpu.json").read_text())
    wal = difference(
        json.loads(Path(f"{prefix}.pg-before.json").read_text()),
        json.loads(Path(f"{prefix}.pg-after.json").read_text()),
        requests,
    )
    total = max(1e-9, cpu["total"])
    others = max(0.0, cpu["busy"] - cpu["api"] - cpu["postgres"] - cpu["command"])
    return {
        "connections": connections,
        "pool": pool,
        "run": run,
        "requests": requests,
        "rps": number(r"Requests/sec:\s+([\d.]+)"),
        **{f"{name}_ms": number(name + r"_us (\d+)") / 1000 for name in ("p50", "p90", "p99", "p999")},
        "non2xx": max(non2xx, int(wrk_non2xx.group(1)) if wrk_non2xx else 0),
        "socket_errors": sum(map(int, socket.groups())) if socket else 0,
        "cpu_ms_per_request": {
            name: 1000 * cpu[key] / max(1, requests) for name, key in (("api", "api"), ("postgres", "postgres"), ("wrk", "command"))
        },
        "machine_busy_share": 100 * cpu["busy"] / total,
        "others_share": 100 * others / total,
        "steal_share": 100 * cpu["steal"] / total,
        "wal": wal,
    }


def median(values: list[float]) -> float:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    return statistics.median(values) if values else math.nan


def fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(value, spec)


def api_summary(points: list[dict]) -> list[dict]:
    """One entry per (connections, pool): medians over its runs."""
    groups: dict[tuple[int, int], list[dict]] = {}
    for point in points:
        groups.setdefault((point["connections"], point["pool"]), []).append(point)
    summary = []
    for (connections, pool), runs in sorted(groups.items()):
        summary.append(
            {
                "connections": connections,
                "pool": pool,
                "runs": len(runs),
                "rps": median([r["rps"] for r in runs]),
                "rps_runs": [r["rps"] for r in runs],
                "p50_ms": median([r["p50_ms"] for r in runs]),
                "p99_ms": median([r["p99_ms"] for r in runs]),
                "p99_runs": [r["p99_ms"] for r in runs],
                "errors": sum(r["non2xx"] + r["socket_errors"] for r in runs),
                "cpu_ms_per_request": {
                    name: median([r["cpu_ms_per_request"][name] for r in runs]) for name in ("api", "postgres", "wrk")
                },
                "requests_per_wal_sync": median([r["wal"]["units_per_sync"] for r in runs]),
                "commits_per_wal_sync": median([r["wal"]["commits_per_sync"] for r in runs]),
                "wal_sync_ms": median([r["wal"]["mean_sync_ms"] for r in runs]),
                "max_others_share": max(r["others_share"] for r in runs),
                "max_steal_share": max(r["steal_share"] for r in runs),
            }
        )
    return summary


def relay_summary(relay: dict) -> list[dict]:
    entries = []
    runs = relay["drain_runs"]
    for key, entry in relay["summary"].items():
        mine = [r for r in runs if r["kind"] == key]
        entries.append(
            {
                "kind": key,
                "label": entry["label"],
                "processes": int(key.rsplit("x", 1)[1]),
                "events_per_second": entry["median_events_per_second"],
                "runs": entry["events_per_second"],
                "ratio_vs_reference": entry["ratio_vs_reference"],
                "relay_cpu_seconds": entry["median_relay_cpu_seconds"],
                "postgres_cpu_seconds": entry["median_postgres_cpu_seconds"],
                "machine_busy": entry["median_machine_busy"],
                "events_per_wal_sync": entry.get("median_events_per_wal_sync"),
                "wal_sync_ms": entry.get("median_wal_sync_ms"),
                "wal_sync_share": entry.get("median_wal_sync_share"),
                "max_others_share": 100 * max(
                    [max(r.get("others_fraction", 0) or 0, r.get("background_busy_fraction", 0) or 0) for r in mine] or [math.nan]
                ),
                "failed_runs": entry["runs"] - entry["ok_runs"],
                "duplicates": entry["duplicates"],
            }
        )
    return entries


def plot(report: dict, out_dir: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label = f"{report['durability']} Postgres, {report['finished']} UTC"
    if report["provisional"]:
        label += f", provisional: others took up to {report['max_others_share']:.0f} % of the CPU"
    written = []

    relay = [r for r in report["relay"] if r["kind"].startswith("ours")]
    reference = next((r for r in report["relay"] if r["kind"] == "referencex1"), None)
    fig, ax = plt.subplots(figsize=(7, 4.2))
    xs = [r["processes"] for r in relay]
    ax.plot(xs, [r["events_per_second"] for r in relay], "o-", label="outbox-relay (median)")
    for r in relay:
        ax.plot([r["processes"]] * len(r["runs"]), r["runs"], ".", color="grey", alpha=0.6)
    if reference and not math.isnan(reference["events_per_second"]):
        ax.axhline(reference["events_per_second"], color="tab:red", ls="--", label="reference relay, 1 process")
    ax.axhline(TARGET_RELAY_RATE, color="tab:green", ls=":", label=f"target {TARGET_RELAY_RATE:,} events/s")
    ax.set_xticks(xs)
    ax.set_xlabel("relay processes")
    ax.set_ylabel("drain events/s")
    ax.set_ylim(bottom=0)
    ax.set_title("Outbox relay drain", fontsize=11)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, label, fontsize=7)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    written.append(save(fig, out_dir / "scaling-relay.png"))

    api = report["api"]
    for name, key, points, xlabel in (
        ("connections", "connections", [p for p in api if p["pool"] == report["default_pool"]], "wrk connections"),
        ("pool", "pool", [p for p in api if p["connections"] == report["pool_connections"]], "DATABASE_POOL_SIZE"),
    ):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        xs = [p[key] for p in points]
        ax.plot(xs, [p["rps"] for p in points], "o-", color="tab:blue", label="requests/s (median)")
        ax.axhline(TARGET_RPS, color="tab:blue", ls=":", label=f"target {TARGET_RPS:,} req/s")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("requests/s")
        ax.set_ylim(bottom=0)
        right = ax.twinx()
        right.plot(xs, [p["p99_ms"] for p in points], "s--", color="tab:orange", label="p99 ms (median)")
        right.axhline(TARGET_P99_MS, color="tab:orange", ls=":", label=f"p99 target {TARGET_P99_MS:.0f} ms")
        right.set_ylabel("p99 latency, ms")
        right.set_ylim(bottom=0)
        handles = ax.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper left")
        fixed = (
            f"DATABASE_POOL_SIZE={report['default_pool']}" if key == "connections" else f"{report['pool_connections']} connections"
        )
        ax.set_title(f"POST /api/v1/photos/upload-url, {fixed}", fontsize=11)
        fig.text(0.01, 0.01, label, fontsize=7)
        fig.tight_layout(rect=(0, 0.03, 1, 1))
        written.append(save(fig, out_dir / f"scaling-upload-url-{name}.png"))
    return written


def save(fig, path: Path) -> str:
    fig.savefig(path, dpi=110)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path.name


def markdown(report: dict) -> str:
    verdict = lambda ok: "PASS" if ok else "FAIL"
    lines = [
        "# Scaling curves: latest run (Benchmarks/scaling.sh)",
        "",
        f"Run at {report['finished']} UTC by `{report['command']}` (preset {report['preset']}), git {report['git']}.",
        f"Machine: {report['machine']}.",
        f"Postgres, as the server reports it: {report['postgres']}.",
        "",
    ]
    if report["provisional"]:
        lines += [
            f"**Provisional:** other processes took up to {report['max_others_share']:.0f} % of the machine's CPU during "
            "some runs (a shared machine); the figures measure a busy machine. Rerun on an idle one.",
            "",
        ]
    lines += [
        "## Relay drain",
        "",
        "| relay | drain events/s (median) | runs | vs reference | relay CPU s | Postgres CPU s | machine busy "
        "| events per WAL flush | ms per flush | flushing share | others (max) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["relay"]:
        runs = ", ".join(f"{v:,.0f}" for v in r["runs"]) or "none succeeded"
        if r["failed_runs"]:
            runs += f" ({r['failed_runs']} failed)"
        lines.append(
            f"| {r['label']} | {fmt(r['events_per_second'], ',.0f')} | {runs} | {fmt(r['ratio_vs_reference'], '.2f')}x "
            f"| {fmt(r['relay_cpu_seconds'], '.1f')} | {fmt(r['postgres_cpu_seconds'], '.1f')} "
            f"| {fmt(r['machine_busy'] * 100, '.0f')} % | {fmt(r['events_per_wal_sync'], '.1f')} "
            f"| {fmt(r['wal_sync_ms'], '.2f')} | {fmt((r['wal_sync_share'] or math.nan) * 100, '.0f')} % "
            f"| {fmt(r['max_others_share'], '.0f')} % |"
        )
    lines += [
        "",
        f"![relay drain against relay processes](scaling-relay.png)",
        "",
        "## upload-url",
        "",
        "| connections | DATABASE_POOL_SIZE | req/s (median) | runs | p50 ms | p99 ms (median) | errors "
        "| CPU ms/request photo-api / Postgres / wrk | requests per WAL flush | commits per flush | ms per flush "
        "| others (max) | steal (max) |",
        "|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|",
    ]
    for p in report["api"]:
        cpu = p["cpu_ms_per_request"]
        lines.append(
            f"| {p['connections']} | {p['pool']} | {fmt(p['rps'], ',.0f')} | {', '.join(f'{v:,.0f}' for v in p['rps_runs'])} "
            f"| {fmt(p['p50_ms'], '.2f')} | {fmt(p['p99_ms'], '.2f')} | {p['errors']} "
            f"| {fmt(cpu['api'], '.3f')} / {fmt(cpu['postgres'], '.3f')} / {fmt(cpu['wrk'], '.3f')} "
            f"| {fmt(p['requests_per_wal_sync'], '.1f')} | {fmt(p['commits_per_wal_sync'], '.2f')} "
            f"| {fmt(p['wal_sync_ms'], '.2f')} | {fmt(p['max_others_share'], '.0f')} % | {fmt(p['max_steal_share'], '.0f')} % |"
        )
    lines += [
        "",
        "![upload-url against connections](scaling-upload-url-connections.png)",
        "",
        "![upload-url against the pool size](scaling-upload-url-pool.png)",
        "",
        "## Targets",
        "",
    ]
    for name, value, ok in report["targets"]:
        lines.append(f"- {name}: {value}: {'not measured' if ok is None else verdict(ok)}")
    lines += [
        "",
        "Each figure is the median of the point's runs. WAL columns: fdatasync calls on the WAL during the runs "
        "(pg_stat_wal), units per call, and the mean time of one (track_wal_io_timing). \"others\": the share of the "
        "machine's CPU that processes outside the benchmark took; \"steal\": the hypervisor's. Raw figures: "
        "`scaling-latest.json` beside this file.",
        "",
    ]
    return "\n".join(lines)


def targets(report: dict) -> list[tuple[str, str, bool | None]]:
    point = next(
        (p for p in report["api"] if p["connections"] == 64 and p["pool"] == report["default_pool"]), None
    )
    ours = next((r for r in report["relay"] if r["kind"] == "oursx1"), None)
    checks: list[tuple[str, str, bool | None]] = []
    if point:
        checks += [
            (f"upload-url >= {TARGET_RPS:,} req/s at 64 connections", fmt(point["rps"], ",.0f"), point["rps"] >= TARGET_RPS),
            (f"upload-url p99 < {TARGET_P99_MS:.0f} ms at 64 connections", fmt(point["p99_ms"], ".2f") + " ms", point["p99_ms"] < TARGET_P99_MS),
            ("upload-url 0 errors at 64 connections", str(point["errors"]), point["errors"] == 0),
        ]
    if ours:
        rate, ratio = ours["events_per_second"], ours["ratio_vs_reference"]
        checks += [
            (f"relay drain, one process, >= {TARGET_RELAY_RATE:,} events/s", fmt(rate, ",.0f"), None if math.isnan(rate) else rate >= TARGET_RELAY_RATE),
            (f"relay drain >= {TARGET_RELAY_RATIO:.0f}x the reference relay", fmt(ratio, ".2f") + "x", None if math.isnan(ratio) else ratio >= TARGET_RELAY_RATIO),
        ]
    return checks


def report(args: argparse.Namespace) -> int:
    relay_raw = json.loads(Path(args.relay).read_text()) if Path(args.relay).exists() else None
    points = [json.loads(line) for line in Path(args.api).read_text().splitlines() if line.strip()]
    settings = (relay_raw or {}).get("postgres_settings") or (points[0]["wal"]["settings"] if points else {})
    relay = relay_summary(relay_raw) if relay_raw else []
    api = api_summary(points)
    others = [r["max_others_share"] for r in relay if not math.isnan(r["max_others_share"])]
    others += [p["max_others_share"] for p in api]
    max_others = max(others, default=0.0)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    head = command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = command_output(["git", "status", "--porcelain", "--untracked-files=no"])
    result = {
        "finished": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "command": args.command_line,
        "preset": args.preset,
        "git": head + (" (with uncommitted changes)" if dirty else ""),
        "machine": f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, {command_output(['psql', '--version'])}",
        "postgres": settings_line(settings),
        "postgres_settings": settings,
        "durability": settings_line(settings).rsplit("(", 1)[1].rstrip(")"),
        "default_pool": args.default_pool,
        "pool_connections": args.pool_connections,
        "max_others_share": max_others,
        "provisional": max_others > NOISY * 100,
        "relay": relay,
        "api": api,
        "api_runs": points,
    }
    result["targets"] = targets(result)
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result["plots"] = plot(result, out)
    (out / "scaling-latest.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    text = markdown(result)
    (out / "scaling-latest.md").write_text(text)
    print(text)
    return 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "point":
        prefix, connections, pool, run = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        point = wrk_point(prefix, connections, pool, run)
        print(json.dumps(point))
        print(
            f"==> {connections} connections, pool {pool}, run {run}: {point['rps']:,.0f} req/s, p99 {point['p99_ms']:.1f} ms, "
            f"errors {point['non2xx'] + point['socket_errors']}, requests per WAL flush "
            f"{fmt(point['wal']['units_per_sync'], '.1f')}, others {point['others_share']:.0f} %",
            file=sys.stderr,
        )
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    full = sub.add_parser("report")
    full.add_argument("--relay", required=True)
    full.add_argument("--api", required=True)
    full.add_argument("--out-dir", required=True)
    full.add_argument("--command-line", default="Benchmarks/scaling.sh")
    full.add_argument("--preset", default="default")
    full.add_argument("--default-pool", type=int, default=4)
    full.add_argument("--pool-connections", type=int, default=64)
    return report(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
