import Foundation
import Postgres

/// While a file runs, reports every `interval` what its backend is doing: its wait event and,
/// for `CREATE INDEX [CONCURRENTLY]`, the phase and counts of `pg_stat_progress_create_index`
/// (for example "waiting for old snapshots", the wait `CONCURRENTLY` makes for older transactions).
///
/// It runs on a thread of its own with a connection of its own: the migration's connection is
/// blocked in libpq for as long as the statement runs, and the migrator has no event loop.
final class MigrationActivityWatcher: @unchecked Sendable {
    static let activitySQL = """
        SELECT a.wait_event_type, a.wait_event, p.phase,
               p.lockers_done, p.lockers_total, p.current_locker_pid,
               p.blocks_done, p.blocks_total, p.tuples_done, p.tuples_total
        FROM pg_stat_activity a
        LEFT JOIN pg_stat_progress_create_index p ON p.pid = a.pid
        WHERE a.pid = $1
        """

    /// Set by `stop()`; the thread waits on it between looks, so stopping is immediate.
    private final class StopSignal: @unchecked Sendable {
        let condition = NSCondition()
        var stopped = false
    }

    private let signal = StopSignal()
    private let thread: Thread

    /// Prepares to watch `backendPID`; after `start()`, `report` gets one line each `interval`
    /// until `stop()`.
    init(
        settings: ConnectionSettings,
        backendPID: Int,
        interval: Duration,
        report: @escaping @Sendable (String) -> Void
    ) {
        let signal = signal
        let seconds = Double(interval.components.seconds) + Double(interval.components.attoseconds) / 1e18
        thread = Thread {
            var connection: Connection?
            while true {
                signal.condition.lock()
                let deadline = Date(timeIntervalSinceNow: seconds)
                while !signal.stopped, signal.condition.wait(until: deadline) {}
                let stopped = signal.stopped
                signal.condition.unlock()
                if stopped { return }
                do {
                    if connection == nil { connection = try Connection(settings: settings) }
                    if let connection, let line = try Self.describe(backendPID, on: connection) {
                        report(line)
                    }
                } catch {
                    // Progress is information only: a failed look never disturbs the migration.
                    connection = nil
                }
            }
        }
    }

    func start() { thread.start() }

    func stop() {
        signal.condition.lock()
        signal.stopped = true
        signal.condition.broadcast()
        signal.condition.unlock()
    }

    static func describe(_ backendPID: Int, on connection: Connection) throws -> String? {
        guard let row = try connection.query(activitySQL, [backendPID]).first else { return nil }
        var parts: [String] = []
        if let type = row["wait_event_type"], let event = row["wait_event"] {
            parts.append("waiting on \(type)/\(event)")
        }
        if let phase = row["phase"] {
            var text = "create index: \(phase)"
            if let total = row["lockers_total"], total != "0" {
                text += ", transactions \(row["lockers_done"] ?? "?")/\(total)"
                if let locker = row["current_locker_pid"], locker != "0" { text += " (waiting for pid \(locker))" }
            }
            if let total = row["blocks_total"], total != "0" {
                text += ", blocks \(row["blocks_done"] ?? "?")/\(total)"
            }
            if let total = row["tuples_total"], total != "0" {
                text += ", tuples \(row["tuples_done"] ?? "?")/\(total)"
            }
            parts.append(text)
        }
        return parts.isEmpty ? "running" : parts.joined(separator: "; ")
    }
}
