import Foundation
import Postgres
import TestSupport
import Testing

@testable import Migrator

/// `up`'s reports while a file runs: what its backend waits on, and the phase of a
/// `CREATE INDEX CONCURRENTLY` from `pg_stat_progress_create_index`.
@Suite(.requiresDatabase, .offTheCooperativePool) struct MigratorProgressTests {
    /// Progress events, collected from the migrator's threads.
    final class Events: @unchecked Sendable {
        private let lock = NSLock()
        private var events: [MigrationProgress] = []

        func append(_ event: MigrationProgress) { lock.withLock { events.append(event) } }

        var activities: [String] {
            lock.withLock {
                events.compactMap {
                    if case .running(_, _, let activity) = $0 { return activity }
                    return nil
                }
            }
        }
    }

    /// Runs the blocking `up` on a thread of its own, off the cooperative pool.
    static func upOnThread(_ migrator: Migrator, events: Events) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            Thread {
                continuation.resume(with: Result { _ = try migrator.up { events.append($0) } })
            }.start()
        }
    }

    /// A file that sleeps is reported as waiting on `Timeout/PgSleep` while it runs.
    @Test func aRunningFileIsReportedWithItsWaitEvent() async throws {
        let folder = try MigrationFolder(["0001_sleep.sql": "-- migrator: no-transaction\nSELECT pg_sleep(1);\n"])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            let migrator = makeMigrator(
                database,
                directory: folder.path,
                options: .init(activityInterval: .milliseconds(200))
            )
            let events = Events()
            try await Self.upOnThread(migrator, events: events)
            #expect(events.activities.contains { $0.contains("waiting on Timeout/PgSleep") }, "\(events.activities)")
        }
    }

    /// `CREATE INDEX CONCURRENTLY` waiting for an older transaction's snapshot is reported with
    /// its phase and the pid it waits for.
    @Test func aConcurrentIndexBuildShowsWhatItWaitsFor() async throws {
        let folder = try MigrationFolder([
            "0001_create_t.sql": "CREATE TABLE t (id int);\nINSERT INTO t SELECT generate_series(1, 100);",
            "0002_index.sql":
                "-- migrator: no-transaction\nCREATE INDEX CONCURRENTLY IF NOT EXISTS t_id_idx ON t (id);\n",
        ])
        defer { folder.remove() }
        try await TestDatabase.withFresh { database in
            // The index build's wait for the snapshot counts against the lock timeout: longer
            // than the loop below may take to see it, so a slow first report cannot fail the build.
            let migrator = makeMigrator(
                database,
                directory: folder.path,
                options: .init(lockTimeout: .seconds(30), activityInterval: .milliseconds(200))
            )
            try migrator.up(to: 1)
            // An open repeatable-read transaction holds a snapshot the index build must outwait.
            let holder = try database.connect()
            try holder.query("BEGIN ISOLATION LEVEL REPEATABLE READ")
            try holder.query("SELECT count(*) FROM t")
            let holderPID = try #require(try holder.scalar("SELECT pg_backend_pid()"))
            let events = Events()
            async let up: Void = Self.upOnThread(migrator, events: events)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(20)
            while !events.activities.contains(where: { $0.contains("waiting for old snapshots") }), clock.now < deadline
            {
                try await Task.sleep(for: .milliseconds(100))
            }
            try holder.query("COMMIT")
            try await up
            let waiting = events.activities.filter { $0.contains("create index: waiting for old snapshots") }
            #expect(!waiting.isEmpty, "\(events.activities)")
            #expect(waiting.contains { $0.contains("(waiting for pid \(holderPID))") }, "\(waiting)")
            #expect(try database.connect().indexIsValid("t_id_idx") == true)
        }
    }
}
