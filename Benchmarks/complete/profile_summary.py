"""Where photo-api's CPU went, from a `perf record -e cpu-clock` file (Benchmarks/complete/run.sh).

    profile_summary.py PERF_DATA > profile.json
    profile_summary.py --callgrind ANNOTATE_SELF_TXT > callgrind.json

The second form reads `callgrind_annotate --inclusive=no` output instead (instructions, not
samples) and sums it into the same areas.

Reads `perf report --no-children --sort dso,sym` (self time per symbol), demangles Swift symbols
with `swift demangle` when it is on PATH, and sums the samples into areas: libexif, libcurl,
libpq, SigV4/crypto, JSON, NIO/Hummingbird, Swift runtime (retain/release, allocation,
metadata), malloc/free, the kernel (syscalls, loopback TCP, scheduling), and the rest of
photo-api's own code. Writes JSON: {"areas": [[area, percent], ...], "top": [[percent, dso,
symbol], ...]} (the 30 hottest symbols), "steps": the inclusive share of each step of a
confirmation (the frame that does it and all it calls; steps overlap where one calls another)}.
"""
import json
import os
import re
import shutil
import subprocess
import sys

LINE = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$")


def demangle(symbols):
    if not shutil.which("swift"):
        return {s: s for s in symbols}
    out = subprocess.run(["swift", "demangle", "--simplified", "--compact"], input="\n".join(symbols),
                         capture_output=True, text=True).stdout.splitlines()
    return dict(zip(symbols, out)) if len(out) == len(symbols) else {s: s for s in symbols}


def area(dso, symbol):
    d, s = dso.lower(), symbol
    if "libexif" in d:
        return "libexif (EXIF parsing)"
    if "libcurl" in d or "libnghttp" in d:
        return "libcurl (HTTP to S3)"
    if "libpq" in d:
        return "libpq (Postgres protocol)"
    if "libcrypto" in d or "libssl" in d or re.search(r"SigV4|Presign|SHA256|HMAC|signHeaders|Digest", s):
        return "SigV4 and hashing"
    if "kernel" in d:
        return "kernel (syscalls, loopback TCP, scheduling)"
    if re.search(r"swift_(retain|release|bridgeObjectRetain|bridgeObjectRelease|unknownObject)", s):
        return "Swift runtime: retain/release"
    if re.search(r"swift_(alloc|dealloc|slowAlloc|slowDealloc|allocObject|deallocClassInstance)|^(malloc|free|cfree|_int_malloc|_int_free|malloc_consolidate|realloc|calloc)", s):
        return "allocation (Swift runtime, malloc/free)"
    if re.search(r"swift_(getGenericMetadata|conformsTo|getTypeByMangled|checkMetadataState|dynamicCast)|metadata|witness table", s, re.I):
        return "Swift runtime: metadata, generics, casts"
    if re.search(r"JSON|Encoder|Decoder|Encodable|Decodable|Coding", s):
        return "JSON encoding/decoding"
    if re.search(r"NIO|Hummingbird|HTTPTypes|HTTPFields", s):
        return "NIO and Hummingbird (HTTP server)"
    if re.search(r"Postgres|ConnectionPool|PreparedStatement", s):
        return "Postgres client (Swift side)"
    if re.search(r"Curl", s):
        return "libcurl (HTTP to S3)"
    if re.search(r"Exif|ImageInspect|JPEG|PNG|CRC32", s):
        return "image header and EXIF (Swift side)"
    if re.search(r"swift_task|swift_job|Concurrency|TaskGroup|Continuation|executor", s, re.I) or "libswift_Concurrency" in dso:
        return "Swift concurrency (tasks, executors)"
    if "libc.so" in d or "libc-" in d or "ld-linux" in d:
        return "libc (memcpy, locks, other)"
    if "libswiftcore" in d or "libfoundation" in d or "libswift" in d or "libdispatch" in d:
        return "Swift stdlib, Foundation, Dispatch (other)"
    return "photo-api and others"


CALLGRIND_LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([\d.]+%\)\s+)?(.*?):(.*?)(?:\s+\[(.*)\])?\s*$")


def callgrind(path):
    text = open(path).read()
    total = re.search(r"^\s*([\d,]+)\s+(?:\([\d.]+%\)\s+)?PROGRAM TOTALS", text, re.M)
    total = int(total.group(1).replace(",", "")) if total else 0
    rows = []
    body = text.split("PROGRAM TOTALS", 1)[-1]
    for line in body.splitlines():
        m = CALLGRIND_LINE.match(line)
        if m and total:
            rows.append((int(m.group(1).replace(",", "")), m.group(4) or m.group(2), m.group(3).strip()))
    names = demangle(sorted({r[2] for r in rows}))
    areas = {}
    for count, dso, symbol in rows:
        name = area(dso, names.get(symbol, symbol))
        areas[name] = areas.get(name, 0) + count
    json.dump({
        "total_ir": total,
        "areas": sorted(([k, round(100 * v / total, 2)] for k, v in areas.items()), key=lambda a: -a[1]),
        "top": [[round(100 * c / total, 2), os.path.basename(d), names.get(s, s)[:160]] for c, d, s in rows[:30]],
    }, sys.stdout, indent=1)


# Inclusive shares (the frame and everything it called) of the steps of a confirmation, by the
# demangled name of the frame that does the step.
STEPS = [
    ("answer: PhotoLifecycleRoutes.respond(with:) (read the photo back, build the JSON)", r"PhotoLifecycleRoutes\.respond\(with:\)"),
    ("  of which JSONSerialization.data(withJSONObject:) (sortedKeys)", r"^static JSONSerialization\.data\(withJSONObject:options:\)"),
    ("  of which key sorting: NSString.compare(_:options:range:locale:) (ICU collation)", r"^NSString\.compare\(_:options:range:locale:\)"),
    ("S3 requests through libcurl (CurlHTTPClient.perform, on NIO's thread pool)", r"CurlHTTPClient\.perform\("),
    ("  of which response header lines (ResponseAccumulator.addHeaderLine)", r"ResponseAccumulator\.addHeaderLine"),
    ("SigV4 header signing (S3Presigner.signHeaders)", r"S3Presigner\.signHeaders"),
    ("Postgres statements (ConnectionPool.run, on the pool's threads)", r"^closure #1 in ConnectionPool\.run<A>"),
    ("  of which PhotoReads.photo (photo + history reads)", r"PhotoReads\.photo\(_:on:\)"),
    ("EXIF to JSON (ExifReader.read)", r"ExifReader\.read"),
    ("image header (ImageInspector.inspect)", r"ImageInspector\.inspect"),
    ("NIO event loops (HTTP server and client I/O)", r"^SelectableEventLoop\.run\(\)"),
]


def steps(perf_data):
    report = subprocess.run(
        ["perf", "report", "-i", perf_data, "--stdio", "--children", "--sort", "sym", "-g", "none",
         "--percent-limit", "0.2"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in report.splitlines():
        m = re.match(r"^\s*([\d.]+)%\s+([\d.]+)%\s+\[.\]\s+(.*)$", line)
        if m:
            rows.append((float(m.group(1)), m.group(3).strip()))
    names = demangle(sorted({r[1] for r in rows}))
    out = []
    for label, pattern in STEPS:
        shares = [p for p, symbol in rows if re.search(pattern, names.get(symbol, symbol))]
        out.append([label, max(shares) if shares else 0.0])
    return out


def main():
    if sys.argv[1] == "--callgrind":
        return callgrind(sys.argv[2])
    report = subprocess.run(
        ["perf", "report", "-i", sys.argv[1], "--stdio", "--no-children", "--sort", "dso,sym", "-g", "none",
         "--percent-limit", "0"],
        capture_output=True, text=True, check=True).stdout
    rows = []
    for line in report.splitlines():
        m = LINE.match(line)
        if m:
            rows.append((float(m.group(1)), m.group(2), m.group(4).strip()))
    names = demangle(sorted({r[2] for r in rows}))
    areas = {}
    for percent, dso, symbol in rows:
        name = area(dso, names.get(symbol, symbol))
        areas[name] = areas.get(name, 0.0) + percent
    samples = re.search(r"# Samples: (\S+)", report)
    json.dump({
        "samples": samples.group(1) if samples else None,
        "areas": sorted(([k, round(v, 2)] for k, v in areas.items()), key=lambda a: -a[1]),
        "steps": steps(sys.argv[1]),
        "top": [[p, d, names.get(s, s)[:160]] for p, d, s in rows[:30]],
    }, sys.stdout, indent=1)


if __name__ == "__main__":
    main()
