"""The table of Benchmarks/complete/run.sh: Benchmarks/results/complete-latest.md and .json.

    report.py RUN_DIR COMMAND LOAD_BEFORE DURATION CONNECTIONS LATENCY_RATE LATENCY_SECONDS COMMIT CALLGRIND_N

Exits 1 when a phase had errors (non-2xx, socket errors, a run out of photos, outbox rows not
matching the confirmations, messages missing at the sink).
"""
import json
import os
import platform
import re
import subprocess
import sys
import time


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f) if path.endswith(".json") else f.read()
    except FileNotFoundError:
        return default


def closed_loop(run_dir, kind):
    wrk = load(f"{run_dir}/wrk-{kind}.txt")
    if wrk is None:
        return None
    number = lambda pattern: int(re.search(pattern, wrk).group(1))
    total = number(r"(\d+) requests in")
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", wrk)
    cpu = load(f"{run_dir}/cpu-{kind}.json")
    exhausted = number(r"exhausted (\d+)")
    confirmed = total - exhausted
    outbox = ((load(f"{run_dir}/outbox-{kind}.txt", "") or "0 0").strip().splitlines()[-1].split() + ["0", "0"])[:2]
    per = lambda seconds: round(1000 * seconds / max(1, confirmed), 3)
    others = max(0.0, cpu["busy"] - cpu["api"] - cpu["postgres"] - cpu["command"] - sum(cpu["extra"].values()))
    return {
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", wrk).group(1)),
        "requests": total, "non2xx": number(r"non2xx (\d+)"), "exhausted": exhausted,
        "socket_errors": sum(map(int, m.groups())) if m else 0,
        "photos_confirmed": int(outbox[0]), "outbox_rows": int(outbox[1]),
        "p50_ms": number(r"p50_us (\d+)") / 1000, "p90_ms": number(r"p90_us (\d+)") / 1000,
        "p99_ms": number(r"p99_us (\d+)") / 1000, "p999_ms": number(r"p999_us (\d+)") / 1000,
        "cpu_ms_per_confirmation": {"server": per(cpu["api"]), "postgres": per(cpu["postgres"]),
                                    "stub": per(cpu["extra"].get("stub", 0)), "wrk": per(cpu["command"])},
        "others_share_percent": round(100 * others / max(1e-9, cpu["total"]), 1),
        "steal_share_percent": round(100 * cpu["steal"] / max(1e-9, cpu["total"]), 1),
        "machine_busy_percent": round(100 * cpu["busy"] / max(1e-9, cpu["total"]), 1),
        "payload": (load(f"{run_dir}/payload-{kind}.txt") or "").strip(),
    }


def percentile(sorted_values, p):
    """Nearest rank."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


def end_to_end(run_dir, rate, seconds):
    client = load(f"{run_dir}/open-loop.json")
    if client is None:
        return None
    arrivals = load(f"{run_dir}/arrivals.json", {})
    event_photo = dict(line.split(",") for line in (load(f"{run_dir}/event-photo.csv", "") or "").split())
    arrival_by_photo = {event_photo[e]: t for e, t in arrivals.items() if e in event_photo}
    latencies, from_send, missing, failed = [], [], 0, 0
    for r in client["requests"]:
        if r["status"] != 200:
            failed += 1
            continue
        arrived = arrival_by_photo.get(r["photo_id"])
        if arrived is None:
            missing += 1
        else:
            latencies.append(1000 * (arrived - r["received"]))
            from_send.append(1000 * (arrived - r["sent"]))
    latencies.sort()
    from_send.sort()
    response_times = sorted(1000 * (r["received"] - r["sent"]) for r in client["requests"])
    cpu = load(f"{run_dir}/cpu-latency.json")
    confirmations = len(client["requests"]) - failed
    per = lambda s: round(1000 * s / max(1, confirmations), 3)
    others = max(0.0, cpu["busy"] - cpu["api"] - cpu["postgres"] - cpu["command"] - sum(cpu["extra"].values()))
    stats = load(f"{run_dir}/sink-stats.json", {})
    return {
        "rate": rate, "seconds": seconds, "sent": len(client["requests"]), "non200": failed,
        "messages_missing": missing, "duplicates_at_sink": stats.get("duplicates"), "matched": len(latencies),
        "p50_ms": percentile(latencies, 50), "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else None, "min_ms": latencies[0] if latencies else None,
        "negative": sum(1 for v in latencies if v < 0),
        "response_p50_ms": percentile(response_times, 50), "response_p99_ms": percentile(response_times, 99),
        "send_to_sink_p50_ms": percentile(from_send, 50), "send_to_sink_p99_ms": percentile(from_send, 99),
        "client_schedule_lag_p99_ms": round(client["schedule_lag_p99_ms"], 2),
        "client_connections": client["connections_opened"],
        "cpu_ms_per_confirmation": {"photo-api": per(cpu["api"]), "postgres": per(cpu["postgres"]),
                                    **{k: per(v) for k, v in cpu["extra"].items()}, "client": per(cpu["command"])},
        "others_share_percent": round(100 * others / max(1e-9, cpu["total"]), 1),
        "steal_share_percent": round(100 * cpu["steal"] / max(1e-9, cpu["total"]), 1),
    }


def summary_lines(title, unit, summary, top_title, lead=None):
    """A profile_summary.py result as Markdown: areas, steps (perf only), hottest functions."""
    lines = ["", title, ""] + ([lead, ""] if lead else [])
    lines += [f"| area | share of photo-api's {unit} |", "|---|---:|"]
    lines += [f"| {a} | {p:.1f} % |" for a, p in summary["areas"]]
    if summary.get("steps"):
        lines += ["", "Steps, inclusive (the frame and all it calls; nested rows are part of the row above):", "",
                  f"| step | share of photo-api's {unit} |", "|---|---:|"]
        lines += [f"| {label} | {share:.1f} % |" for label, share in summary["steps"]]
    lines += ["", top_title, ""]
    lines += [f"- {p:.2f} % `{d}` {s}" for p, d, s in summary["top"][:15]]
    return lines


def main():
    run_dir, command, load_before, duration, connections, rate, seconds, commit = sys.argv[1:9]
    callgrind = load(f"{run_dir}/callgrind.json")
    callgrind_run = load(f"{run_dir}/callgrind-run.json")
    if callgrind and callgrind_run:
        done = sum(1 for r in callgrind_run["requests"] if r["status"] == 200)
        callgrind["confirmations"] = done
        callgrind["ir_per_confirmation"] = callgrind["total_ir"] // max(1, done)
    ours, reference = closed_loop(run_dir, "ours"), closed_loop(run_dir, "reference")
    profile = load(f"{run_dir}/profile.json")
    e2e = end_to_end(run_dir, float(rate), float(seconds))
    cpu_model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    pg = subprocess.run(["psql", os.environ.get("DATABASE_URL", ""), "-At", "-c", "SHOW server_version"],
                        capture_output=True, text=True).stdout.strip()
    ok = lambda b: "met" if b else "MISSED"
    lines = [
        "# complete benchmark (Benchmarks/complete/run.sh)", "",
        f"- Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; commit `{commit}`",
        f"- Machine: {cpu_model}, {nproc} CPUs, {platform.system()} {platform.release()}; PostgreSQL {pg}, durable "
        "(fsync, synchronous_commit, full_page_writes on)",
        f"- Command: `{command}`",
        f"- Load average before: {load_before}",
        "", f"## Throughput (closed loop, wrk -t2 -c{connections} -d{duration}s, every request a new photo)", "",
        "| server | confirmations/s | p50 | p90 | p99 | p99.9 | requests / non-2xx / socket errors / out of photos | photos confirmed / outbox rows | CPU ms/confirmation: server / Postgres / stub / wrk | others / steal |",
        "|---|---:|---:|---:|---:|---:|---|---:|---|---:|",
    ]
    errors = []
    for name, r in (("photo-api", ours), ("reference (FastAPI, boto3, Pillow, psycopg)", reference)):
        if r is None:
            continue
        c = r["cpu_ms_per_confirmation"]
        lines.append(
            f"| {name} | {r['requests_per_second']:,.0f} | {r['p50_ms']:.2f} ms | {r['p90_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
            f"{r['p999_ms']:.2f} ms | {r['requests']:,} / {r['non2xx']} / {r['socket_errors']} / {r['exhausted']} | "
            f"{r['photos_confirmed']:,} / {r['outbox_rows']:,} | {c['server']:.3f} / {c['postgres']:.3f} / {c['stub']:.3f} / {c['wrk']:.3f} | "
            f"{r['others_share_percent']} % / {r['steal_share_percent']} % |")
        if r["non2xx"] or r["socket_errors"] or r["exhausted"]:
            errors.append(f"{name}: errors in the closed-loop run")
        answered = r["requests"] - r["exhausted"]
        if r["outbox_rows"] != r["photos_confirmed"] or not answered <= r["photos_confirmed"] <= answered + 2 * int(connections):
            errors.append(f"{name}: {r['photos_confirmed']} photos confirmed, {r['outbox_rows']} outbox rows, {answered} 2xx")
    ratio = None
    if ours and reference:
        ratio = ours["requests_per_second"] / reference["requests_per_second"]
        total = lambda r: sum(v for k, v in r["cpu_ms_per_confirmation"].items() if k != "wrk")
        lines += ["", f"photo-api / reference: **{ratio:.2f}x** confirmations/s (target >= 5x: {ok(ratio >= 5)}); "
                      f"CPU per confirmation, server + Postgres + stub: {total(ours):.3f} ms against {total(reference):.3f} ms "
                      f"({total(reference) / max(1e-9, total(ours)):.2f}x less)."]
        keys = lambda p: sorted(json.loads(p).keys()) if p else None
        same = keys(ours["payload"]) == keys(reference["payload"])
        lines += ["", f"Outbox payload keys, photo-api: `{keys(ours['payload'])}`; reference: "
                      f"`{keys(reference['payload'])}`{'' if same else ' (DIFFER)'}."]
    if profile:
        lines += summary_lines(f"## Where photo-api's CPU goes (perf record -e cpu-clock, {profile['samples']} samples, 5 s of wrk)",
                               "samples", profile, "Hottest symbols (self):")
    if callgrind:
        lines += summary_lines(f"## Instructions per confirmation (callgrind, photo-api only, {callgrind['confirmations']} confirmations at 20/s)",
                               "instructions", callgrind, "Functions with most instructions (self):",
                               f"**{callgrind['ir_per_confirmation']:,} instructions per confirmation** ({callgrind['total_ir']:,} in all).")
    if e2e:
        lines += ["", f"## End to end: complete response -> message at the SQS sink ({e2e['rate']:.0f}/s open loop for {e2e['seconds']:.0f} s)", "",
                  "| sent | non-200 | messages missing | matched | p50 | p99 | max | min | negative | CPU ms/confirmation | others / steal |",
                  "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"]
        cpu = ", ".join(f"{k} {v:.3f}" for k, v in e2e["cpu_ms_per_confirmation"].items())
        fmt = lambda v: "n/a" if v is None else f"{v:.2f} ms"
        lines.append(f"| {e2e['sent']:,} | {e2e['non200']} | {e2e['messages_missing']} | {e2e['matched']:,} | {fmt(e2e['p50_ms'])} | "
                     f"{fmt(e2e['p99_ms'])} | {fmt(e2e['max_ms'])} | {fmt(e2e['min_ms'])} | {e2e['negative']} | {cpu} | "
                     f"{e2e['others_share_percent']} % / {e2e['steal_share_percent']} % |")
        if e2e["p50_ms"] is not None:
            # A stack that falls behind the schedule answers late and the messages arrive long before
            # the responses: negative latencies that say nothing about the target.
            kept_up = e2e["response_p99_ms"] < 1000
            verdict = lambda b: ok(b) if kept_up else "NOT MEASURED (the stack fell behind the rate: responses p99 >= 1 s)"
            lines += ["", f"Targets: p50 < 10 ms {verdict(e2e['p50_ms'] < 10)}, p99 < 50 ms {verdict(e2e['p99_ms'] < 50)}. "
                          f"The complete responses took p50 {fmt(e2e['response_p50_ms'])}, p99 {fmt(e2e['response_p99_ms'])} "
                          "(a negative latency: the message reached the sink before the client had read the response). "
                          f"From the request's sending to the message: p50 {fmt(e2e['send_to_sink_p50_ms'])}, p99 {fmt(e2e['send_to_sink_p99_ms'])}. "
                          f"Client schedule lag p99 {e2e['client_schedule_lag_p99_ms']} ms; {e2e['client_connections']} connections."]
        if e2e["non200"] or e2e["messages_missing"] or e2e["matched"] != e2e["sent"]:
            errors.append("end to end: failed requests or missing messages")
    if errors:
        lines += ["", "**Errors:** " + "; ".join(errors)]
    text = "\n".join(lines) + "\n"
    os.makedirs("Benchmarks/results", exist_ok=True)
    open("Benchmarks/results/complete-latest.md", "w").write(text)
    json.dump({"command": command, "commit": commit, "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
               "machine": {"cpu": cpu_model, "nproc": nproc, "kernel": platform.release(), "postgres": pg},
               "load_before": load_before, "ours": ours, "reference": reference, "ratio": ratio,
               "profile": profile, "callgrind": callgrind, "end_to_end": e2e, "errors": errors},
              open("Benchmarks/results/complete-latest.json", "w"), indent=1)
    print(text)
    sys.exit(1 if errors else 0)


if __name__ == "__main__":
    main()
