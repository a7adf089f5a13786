"""WAL flushes and commits between two Benchmarks/pg_snapshot.sql snapshots.

    pgwal.py BEFORE.json AFTER.json [UNITS]

prints (and bench.py imports `difference`) a JSON object: WAL flushes (`wal_sync`, fdatasync
calls; zero with fsync off), their total and mean time, WAL bytes, commits, commits per flush and,
given UNITS (requests, events), units per flush and WAL bytes per unit; plus the server's
durability settings and a `durability` label read from them (not assumed).
"""

from __future__ import annotations

import json
import sys


def durability(settings: dict) -> str:
    """`durable` when fsync and synchronous_commit are on, `fast` when either is off."""
    durable = settings.get("fsync") == "on" and settings.get("synchronous_commit") not in ("off", "local")
    return "durable" if durable else "fast"


def difference(before: dict, after: dict, units: int | None = None) -> dict:
    delta = {key: after[key] - before[key] for key in ("wal_records", "wal_bytes", "wal_write", "wal_sync", "xact_commit")}
    delta["wal_sync_time_ms"] = after["wal_sync_time_ms"] - before["wal_sync_time_ms"]
    syncs = delta["wal_sync"]
    delta["mean_sync_ms"] = delta["wal_sync_time_ms"] / syncs if syncs else None
    delta["commits_per_sync"] = delta["xact_commit"] / syncs if syncs else None
    if units:
        delta["units"] = units
        delta["units_per_sync"] = units / syncs if syncs else None
        delta["wal_bytes_per_unit"] = delta["wal_bytes"] / units
    delta["settings"] = after["settings"]
    delta["durability"] = durability(after["settings"])
    return delta


def settings_line(settings: dict) -> str:
    """`fsync=on, synchronous_commit=on, full_page_writes=on (durable)`, from the server."""
    names = ("fsync", "synchronous_commit", "full_page_writes", "wal_sync_method")
    return ", ".join(f"{name}={settings.get(name, '?')}" for name in names) + f" ({durability(settings)})"


def main() -> int:
    before = json.load(open(sys.argv[1]))
    after = json.load(open(sys.argv[2]))
    units = int(sys.argv[3]) if len(sys.argv) > 3 else None
    json.dump(difference(before, after, units), sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
