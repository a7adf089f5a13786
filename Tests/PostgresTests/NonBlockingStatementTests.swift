import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import Postgres

/// `ConnectionPool.execute` runs a statement the connection has prepared with libpq's
/// non-blocking calls, waiting on the pool's `SocketReadinessMonitor`. These tests hold that
/// path to what the blocking one guarantees.
@Suite(.requiresDatabase, .offTheCooperativePool) struct NonBlockingStatementTests {
    static let echo = PreparedStatement(
        name: "test_echo",
        sql: "SELECT $1::int AS n, $2::text AS text, pg_backend_pid() AS pid"
    )

    @Test func aStatementRunsWithoutAHopOnceItsConnectionPreparedIt() async throws {
        try await withPool(connections: 1) { pool, _ in
            let first = try await pool.execute(Self.echo, [1, "first"])
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 0)
            let second = try await pool.execute(Self.echo, [2, "zweite 'quoted' ✓"])
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 1)
            #expect(try first.first?.decode("n", as: Int.self) == 1)
            #expect(try second.first?.decode("n", as: Int.self) == 2)
            #expect(try second.first?.decode("text", as: String.self) == "zweite 'quoted' ✓")
            #expect(try second.first?.decode("pid", as: Int.self) == first.first?.decode("pid", as: Int.self))
        }
    }

    @Test func concurrentStatementsGetTheirOwnAnswers() async throws {
        try await withPool(connections: 3) { pool, _ in
            let answers = try await withThrowingTaskGroup(of: (Int, Int, String, Int).self) { group in
                for index in 0..<300 {
                    group.addTask {
                        let row = try #require(try await pool.execute(Self.echo, [index, "row \(index)"]).first)
                        return (
                            index, try row.decode("n", as: Int.self), try row.decode("text", as: String.self),
                            try row.decode("pid", as: Int.self)
                        )
                    }
                }
                var answers: [(Int, Int, String, Int)] = []
                for try await answer in group { answers.append(answer) }
                return answers
            }
            let mismatched = answers.filter { $0.0 != $0.1 || $0.2 != "row \($0.0)" }
            #expect(answers.count == 300 && mismatched.isEmpty)
            #expect(Set(answers.map(\.3)).count <= 3)
            // Only each connection's first run of the statement takes a pool thread.
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) >= 297)
        }
    }

    @Test func serverErrorsKeepTheirSQLStateAndTheConnectionStaysUsable() async throws {
        try await withPool(connections: 1) { pool, _ in
            try await pool.query("CREATE TABLE items (id int PRIMARY KEY)")
            let insert = PreparedStatement(name: "test_insert_item", sql: "INSERT INTO items VALUES ($1)")
            try await pool.execute(insert, [1])
            try await pool.execute(insert, [2])
            let error = await #expect(throws: PostgresError.self) { try await pool.execute(insert, [2]) }
            #expect(error?.sqlState == "23505")
            #expect(error?.constraint == "items_pkey")
            #expect(error?.code == .serverError)
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 2)
            try await pool.execute(insert, [3])
            let count = try await pool.query("SELECT count(*)::int AS n FROM items").first?.decode("n", as: Int.self)
            #expect(count == 3)
        }
    }

    @Test func aParameterLargerThanTheSocketBufferIsSentWhole() async throws {
        try await withPool(connections: 1) { pool, _ in
            let length = PreparedStatement(
                name: "test_length",
                sql: "SELECT length($1::text) AS n"
            )
            try await pool.execute(length, ["warm-up"])
            // 16 MiB: more than the kernel takes in one send on loopback, so libpq's flush has to
            // wait for the socket to drain.
            let text = String(repeating: "0123456789abcdef", count: 1 << 20)
            let row = try #require(try await pool.execute(length, [text]).first)
            #expect(try row.decode("n", as: Int.self) == text.utf8.count)
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 1)
        }
    }

    @Test func aConnectionKilledMidStatementFailsThatStatementOnly() async throws {
        try await withPool(connections: 1) { pool, database in
            let sleep = PreparedStatement(
                name: "test_sleep",
                sql: "SELECT pg_backend_pid() AS pid FROM pg_sleep($1::float8)"
            )
            let pid = try #require(try await pool.execute(sleep, [0.0]).first?.decode("pid", as: Int.self))
            let sleeping = Task.offTheCooperativePool { try await pool.execute(sleep, [30.0]) }
            let killer = try database.connect()
            try await waitUntil {
                let state = try killer.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [pid]).first
                return try state?.decode("state", as: String.self) == "active"
            }
            try killer.query("SELECT pg_terminate_backend($1)", [pid])
            let error = await #expect(throws: PostgresError.self) { try await sleeping.value }
            #expect(error?.isConnectionProblem == true)
            // The killed statement was the non-blocking one.
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 1)
            // The broken connection was dropped; the next statement gets a new one (on a pool
            // thread, which prepares it), and the one after runs without a hop again on the new
            // socket, whatever descriptor number it got.
            let next = try await pool.execute(sleep, [0.0]).first?.decode("pid", as: Int.self)
            #expect(next != nil && next != pid)
            let again = try await pool.execute(sleep, [0.0]).first?.decode("pid", as: Int.self)
            #expect(again == next)
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 2)
        }
    }

    @Test func aPreparedBeginIsRolledBackBeforeTheConnectionIsLentAgain() async throws {
        try await withPool(connections: 1) { pool, database in
            try await pool.query("CREATE TABLE items (id int PRIMARY KEY)")
            let begin = PreparedStatement(name: "test_begin", sql: "BEGIN")
            let insert = PreparedStatement(name: "test_insert_item", sql: "INSERT INTO items VALUES ($1)")
            let pid = PreparedStatement(name: "test_pid", sql: "SELECT pg_backend_pid() AS pid")
            try await pool.execute(begin)
            try await pool.execute(insert, [1])
            let backend = try #require(try await pool.execute(pid).first?.decode("pid", as: Int.self))
            try await pool.execute(begin)
            // The second BEGIN ran without a hop; the transaction it left open was rolled back on
            // a pool thread before the connection went back to the pool.
            #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 1)
            let observer = try database.connect()
            let state = try observer.query("SELECT state FROM pg_stat_activity WHERE pid = $1", [backend]).first
            #expect(try state?.decode("state", as: String.self) == "idle")
            try await pool.execute(insert, [2])
            // Seen from another session, so both inserts were committed on their own.
            let count = try observer.query("SELECT count(*)::int AS n FROM items").first?.decode("n", as: Int.self)
            #expect(count == 2)
        }
    }

    @Test func shutdownWaitsForAStatementInFlight() async throws {
        try await TestDatabase.withFresh { database in
            // Shuts down itself: the shutdown is what is tested.
            let pool = database.makePool(maximumConnections: 1)
            let sleep = PreparedStatement(name: "test_sleep", sql: "SELECT 7 AS n FROM pg_sleep($1::float8)")
            try await pool.execute(sleep, [0.0])
            let sleeping = Task.offTheCooperativePool { try await pool.execute(sleep, [0.5]) }
            try await waitUntil { pool.nonBlockingStatementCount.load(ordering: .relaxed) == 1 }
            await pool.shutdown()
            #expect(try await sleeping.value.first?.decode("n", as: Int.self) == 7)
            await #expect(throws: PostgresError.self) { try await pool.execute(sleep, [0.0]) }
        }
    }

    /// Runs `body` with a pool of `connections` on a fresh database, and shuts the pool down.
    private func withPool(
        connections: Int,
        _ body: (ConnectionPool, TestDatabase) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh { database in
            try await database.withPool(maximumConnections: connections) { pool in
                try await body(pool, database)
            }
        }
    }

    /// Polls `condition` every 20 ms for up to 15 s (a readiness wait, not a speed check).
    private func waitUntil(_ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(15)
        while try !condition() {
            guard ContinuousClock.now < deadline else {
                Issue.record("the condition did not hold within 15 s")
                return
            }
            try await Task.sleep(for: .milliseconds(20))
        }
    }
}
