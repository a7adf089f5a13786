import Prometheus
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `process_*` metrics of the Prometheus client conventions (the names every process
/// dashboard and alert already uses), read from `/proc/self` when `/metrics` is rendered:
///
/// - `process_cpu_seconds_total`: user and system CPU time;
/// - `process_resident_memory_bytes`, `process_virtual_memory_bytes`;
/// - `process_open_fds`, `process_max_fds` (the soft `RLIMIT_NOFILE`);
/// - `process_start_time_seconds`: Unix time the process started.
///
/// Linux only (where the services run); elsewhere nothing is registered.
final class ProcessMetrics: Sendable {
    private let cpuSeconds: Counter
    private let residentBytes: Gauge
    private let virtualBytes: Gauge
    private let openFDs: Gauge
    private let maxFDs: Gauge
    private let startTime: Gauge
    /// The CPU seconds already added to the counter, which only takes increments.
    private let countedCPUSeconds = Mutex(0.0)

    private init(registry: PrometheusCollectorRegistry) {
        func name(_ metric: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "process", metricName: metric, unitName: unit, helpText: help)
        }
        cpuSeconds = registry.makeCounter(
            descriptor: name("cpu_seconds", "total", "Total user and system CPU time spent in seconds.")
        )
        residentBytes = registry.makeGauge(
            descriptor: name("resident_memory", "bytes", "Resident memory size in bytes.")
        )
        virtualBytes = registry.makeGauge(
            descriptor: name("virtual_memory", "bytes", "Virtual memory size in bytes.")
        )
        openFDs = registry.makeGauge(descriptor: name("open", "fds", "Number of open file descriptors."))
        maxFDs = registry.makeGauge(descriptor: name("max", "fds", "Maximum number of open file descriptors."))
        startTime = registry.makeGauge(
            descriptor: name("start_time", "seconds", "Start time of the process since unix epoch in seconds.")
        )
    }

    /// The metrics on `registry`, or `nil` where `/proc/self/stat` cannot be read.
    static func register(on registry: PrometheusCollectorRegistry) -> ProcessMetrics? {
        guard ProcStat.read() != nil else { return nil }
        let metrics = ProcessMetrics(registry: registry)
        metrics.update()
        return metrics
    }

    /// Reads `/proc/self` afresh; called before each rendering of `/metrics`.
    func update() {
        guard let stat = ProcStat.read() else { return }
        let total = stat.cpuSeconds
        let increment = countedCPUSeconds.withLock { counted -> Double in
            let increment = max(0, total - counted)
            counted += increment
            return increment
        }
        if increment > 0 { cpuSeconds.increment(by: increment) }
        residentBytes.set(stat.residentBytes)
        virtualBytes.set(stat.virtualBytes)
        startTime.set(stat.startTimeSeconds)
        if let count = ProcStat.openFileDescriptors() { openFDs.set(Double(count)) }
        if let limit = ProcStat.maxFileDescriptors() { maxFDs.set(limit) }
    }
}

/// The fields of `/proc/self/stat` the metrics need (see proc(5)).
struct ProcStat {
    var cpuSeconds: Double
    var virtualBytes: Double
    var residentBytes: Double
    var startTimeSeconds: Double

    static func read() -> ProcStat? {
        guard let text = ProcFile.contents("/proc/self/stat") else { return nil }
        return parse(
            text,
            bootTime: bootTime(),
            ticksPerSecond: Double(sysconf(Int32(_SC_CLK_TCK))),
            pageSize: Double(sysconf(Int32(_SC_PAGESIZE)))
        )
    }

    /// `pid (comm) state ppid ...`: the command name may hold spaces and parentheses, so the
    /// fields are counted from the last `)`. Field 14 is utime, 15 stime, 22 starttime (ticks
    /// since boot), 23 vsize (bytes), 24 rss (pages).
    static func parse(_ text: String, bootTime: Double, ticksPerSecond: Double, pageSize: Double) -> ProcStat? {
        guard let close = text.lastIndex(of: ")"), ticksPerSecond > 0 else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state).
        func field(_ number: Int) -> Double? {
            let index = number - 3
            return index < fields.count ? Double(fields[index]) : nil
        }
        guard let user = field(14), let system = field(15), let start = field(22), let virtual = field(23),
            let resident = field(24)
        else { return nil }
        return ProcStat(
            cpuSeconds: (user + system) / ticksPerSecond,
            virtualBytes: virtual,
            residentBytes: resident * pageSize,
            startTimeSeconds: bootTime + start / ticksPerSecond
        )
    }

    /// `btime` of `/proc/stat`: the boot's Unix time.
    static func bootTime() -> Double {
        guard let text = ProcFile.contents("/proc/stat") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("btime ") {
            return line.split(separator: " ").last.flatMap { Double($0) } ?? 0
        }
        return 0
    }

    /// The soft limit of `Max open files` in `/proc/self/limits`; `nil` when unlimited.
    static func maxFileDescriptors() -> Double? {
        guard let text = ProcFile.contents("/proc/self/limits") else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("Max open files") {
            return line.dropFirst("Max open files".count).split(separator: " ").first.flatMap { Double($0) }
        }
        return nil
    }

    /// The entries of `/proc/self/fd` (the directory's own descriptor among them, as the
    /// other Prometheus clients count).
    static func openFileDescriptors() -> Int? {
        guard let directory = opendir("/proc/self/fd") else { return nil }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { bytes in bytes.first }
            if name != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }
}

/// Whole small files of `/proc`, read with plain `read(2)` (their size is 0 to `stat`).
enum ProcFile {
    static func contents(_ path: String) -> String? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0 { return nil }
            if count == 0 { break }
            bytes.append(contentsOf: buffer[..<count])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
