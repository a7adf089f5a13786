"""CPU time used while a command runs, for Benchmarks/api/run.sh and Benchmarks/api/profile.sh.

    cpu_during.py API_PID POSTMASTER_PID JSON_FILE COMMAND...

Runs COMMAND (its stdout and stderr are this script's) and writes to JSON_FILE the CPU seconds,
from /proc, that photo-api (API_PID), Postgres (the postmaster and its children) and the command
used meanwhile, the context switches of photo-api's threads and of the Postgres processes, and the
machine's busy, stolen and total CPU seconds (all cores), so the caller can divide by the requests
served and see how much of the machine other work took. With PERF_RECORD=FILE in the environment,
`perf record -e cpu-clock -g` samples photo-api meanwhile into FILE.
API_PID may be a comma-separated list (a server of several processes: their CPU is summed).
With CPU_EXTRA_PIDS=NAME:PID[,NAME:PID...] (Benchmarks/complete/run.sh: the S3 stub), each
NAME's CPU seconds are written too, under "extra".
"""
import json
import os
import resource
import subprocess
import sys

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def switches(pid):
    """Voluntary plus involuntary context switches of every thread of `pid`."""
    total = 0
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for task in tasks:
        try:
            status = open(f"/proc/{pid}/task/{task}/status").read()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches:" in line)
    return total


def postgres_pids(postmaster):
    pids = [postmaster]
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                parent = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1]
            except (FileNotFoundError, ProcessLookupError):
                continue
            if parent == postmaster:
                pids.append(entry)
    return pids


def postgres(postmaster):
    pids = postgres_pids(postmaster)
    return sum(cpu(pid) for pid in pids), sum(switches(pid) for pid in pids)


def machine():
    """(busy, steal, total) CPU seconds of all cores since boot. Idle, iowait and steal (time the
    hypervisor gave this VM's CPUs to others) are not busy."""
    v = list(map(int, open("/proc/stat").readline().split()[1:]))
    return (sum(v) - v[3] - v[4] - v[7]) / TICK, v[7] / TICK, sum(v) / TICK


def children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def main():
    api, postmaster, json_file, command = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    perf_file = os.environ.get("PERF_RECORD")
    recorder = None
    if perf_file:
        recorder = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-g", "-p", api, "-o", perf_file],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    apis = api.split(",")
    extra = dict(item.split(":", 1) for item in os.environ.get("CPU_EXTRA_PIDS", "").split(",") if item)
    api_cpu = lambda: sum(cpu(pid) for pid in apis)
    api_switches = lambda: sum(switches(pid) for pid in apis)
    x0 = {name: cpu(pid) for name, pid in extra.items()}
    a0, s0, (p0, ps0), (b0, st0, t0), c0 = api_cpu(), api_switches(), postgres(postmaster), machine(), children()
    status = subprocess.run(command).returncode
    a1, s1, (p1, ps1), (b1, st1, t1), c1 = api_cpu(), api_switches(), postgres(postmaster), machine(), children()
    x1 = {name: cpu(pid) for name, pid in extra.items()}
    if recorder:
        recorder.send_signal(2)
        recorder.wait(timeout=60)
    json.dump({"api": a1 - a0, "postgres": p1 - p0, "command": c1 - c0, "busy": b1 - b0, "steal": st1 - st0, "total": t1 - t0,
               "api_switches": s1 - s0, "postgres_switches": ps1 - ps0,
               "extra": {name: x1[name] - x0[name] for name in extra}},
              open(json_file, "w"))
    sys.exit(status)


if __name__ == "__main__":
    main()
