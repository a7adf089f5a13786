import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import Postgres

/// Every wait on the database is bounded (`ConnectionTimeouts`): the server cancels a statement
/// past its `statement_timeout`, and the client gives up on an answer that a stalled network
/// holds back, on both the pool threads' blocking path and the non-blocking one, closing the
/// connection and recovering once the network forwards again.
@Suite(.requiresDatabase, .offTheCooperativePool) struct TimeoutTests {
    static let sleep = PreparedStatement(
        name: "test_sleep",
        sql: "SELECT $1::float8 AS slept FROM pg_sleep($1::float8)"
    )

    @Test func sessionsCarryTheServerTimeouts() async throws {
        try await TestDatabase.withFresh { database in
            let configured = try ConnectionSettings(
                connectionString: database.connectionString,
                applicationName: "tests",
                timeouts: ConnectionTimeouts(statement: .milliseconds(1234), idleInTransaction: .milliseconds(5678))
            )
            let connection = try Connection(settings: configured)
            #expect(try Self.show("statement_timeout", on: connection) == "1234ms")
            #expect(try Self.show("idle_in_transaction_session_timeout", on: connection) == "5678ms")
            #expect(try Self.show("TimeZone", on: connection) == "UTC")

            let defaults = try Connection(settings: database.settings)
            #expect(try Self.show("statement_timeout", on: defaults) == "15s")
            #expect(try Self.show("idle_in_transaction_session_timeout", on: defaults) == "1min")

            let unbounded = try ConnectionSettings(
                connectionString: database.connectionString,
                applicationName: "tests",
                timeouts: ConnectionTimeouts(statement: nil, idleInTransaction: nil, tcpUser: nil)
            )
            #expect(try Self.show("statement_timeout", on: Connection(settings: unbounded)) == "0")
            #expect(unbounded.timeouts.answerDeadline == nil)
        }
    }

    @Test func theServerCancelsAStatementPastItsTimeoutAndTheConnectionStaysUsable() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try Connection(settings: Self.settings(database.connectionString, statement: 300))
            let error = try #require(throws: PostgresError.self) { try connection.query("SELECT pg_sleep(5)") }
            #expect(error.sqlState == "57014")
            #expect(error.isTimeout && error.isUnavailable)
            #expect(connection.isOpen)
            #expect(try connection.query("SELECT 1 AS n").first?.decode("n", as: Int.self) == 1)
        }
    }

    /// A blocking statement on a stalled network ends in `timedOut` at the answer deadline
    /// (statement timeout + 2 s), not at the kernel's hours.
    @Test func aStalledNetworkEndsABlockingStatementAtTheDeadline() async throws {
        try await TestDatabase.withFresh { database in
            let proxy = try StallingTCPProxy(inFrontOf: database.connectionString)
            defer { proxy.close() }
            let connection = try Connection(settings: Self.settings(proxy.connectionString, statement: 1000))
            try connection.query("SELECT 1")
            proxy.stall()
            let started = ContinuousClock.now
            let error = try #require(throws: PostgresError.self) { try connection.query("SELECT 1") }
            let waited = ContinuousClock.now - started
            #expect(error.code == .timedOut && error.isUnavailable)
            Self.expectEndedAtTheDeadline(waited)
            #expect(!connection.isOpen)
        }
    }

    /// The same on the non-blocking path, through a pool, which then recovers by itself once
    /// the network forwards again: the broken connection is discarded, the next borrower opens
    /// a new one.
    @Test func aStalledNetworkEndsANonBlockingStatementAndThePoolRecovers() async throws {
        try await TestDatabase.withFresh { database in
            let proxy = try StallingTCPProxy(inFrontOf: database.connectionString)
            defer { proxy.close() }
            try await withPool(try Self.singleConnectionPool(proxy.connectionString, statement: 1000)) { pool in
                try await pool.execute(Self.sleep, [0])
                try await pool.execute(Self.sleep, [0])
                #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 1)
                proxy.stall()
                let started = ContinuousClock.now
                let error = try await #require(throws: PostgresError.self) { try await pool.execute(Self.sleep, [0]) }
                let waited = ContinuousClock.now - started
                #expect(error.code == .timedOut)
                Self.expectEndedAtTheDeadline(waited)
                #expect(pool.nonBlockingStatementCount.load(ordering: .relaxed) == 2)
                proxy.resume()
                let row = try #require(try await pool.execute(Self.sleep, [0]).first)
                #expect(try row.decode("slept", as: Double.self) == 0)
            }
        }
    }

    /// A borrower does not queue forever behind connections held by others: it fails with
    /// `timedOut` at the answer deadline, and leaves the queue.
    @Test func aBorrowerWaitsForAConnectionNoLongerThanTheDeadline() async throws {
        try await TestDatabase.withFresh { database in
            try await withPool(try Self.singleConnectionPool(database.connectionString, statement: 1000)) { pool in
                let release = DispatchSemaphore(value: 0)
                defer { release.signal() }
                let holder = Task.offTheCooperativePool { try await pool.withConnection { _ in release.wait() } }
                while pool.openConnectionCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
                let started = ContinuousClock.now
                let error = try await #require(throws: PostgresError.self) { try await pool.query("SELECT 1") }
                let waited = ContinuousClock.now - started
                #expect(error.code == .timedOut && error.isUnavailable)
                Self.expectEndedAtTheDeadline(waited)
                #expect(pool.waitingBorrowerCount == 0)
                release.signal()
                try await holder.value
                #expect(try await pool.query("SELECT 2 AS n").first?.decode("n", as: Int.self) == 2)
            }
        }
    }

    /// Cancelling a task whose statement is in flight on the non-blocking path ends its wait at
    /// once; the connection, whose statement may still run, is not lent again.
    @Test func cancellingAStatementInFlightEndsItsWaitAndRetiresTheConnection() async throws {
        try await TestDatabase.withFresh { database in
            try await withPool(try Self.singleConnectionPool(database.connectionString, statement: 60_000)) { pool in
                let first = try #require(try await pool.query("SELECT pg_backend_pid() AS pid").first)
                try await pool.execute(Self.sleep, [0])
                let sleeping = Task.offTheCooperativePool { try await pool.execute(Self.sleep, [30]) }
                while pool.nonBlockingStatementCount.load(ordering: .relaxed) == 0 {
                    try await Task.sleep(for: .milliseconds(10))
                }
                try await Task.sleep(for: .milliseconds(200))
                let started = ContinuousClock.now
                sleeping.cancel()
                await #expect(throws: CancellationError.self) { try await sleeping.value }
                #expect(ContinuousClock.now - started < .seconds(20))
                let next = try #require(try await pool.query("SELECT pg_backend_pid() AS pid").first)
                #expect(try next.decode("pid", as: Int.self) != first.decode("pid", as: Int.self))
            }
        }
    }

    private static func settings(_ connectionString: String, statement milliseconds: Int) throws -> ConnectionSettings {
        try ConnectionSettings(
            connectionString: connectionString,
            applicationName: "tests",
            timeouts: ConnectionTimeouts(statement: .milliseconds(milliseconds), connect: .seconds(2))
        )
    }

    private static func singleConnectionPool(
        _ connectionString: String,
        statement milliseconds: Int
    ) throws
        -> ConnectionPool
    {
        ConnectionPool(
            settings: try settings(connectionString, statement: milliseconds),
            maximumConnections: 1,
            logger: Logger(label: "test")
        )
    }

    /// The answer deadline is the statement timeout plus 2 s; the upper bound leaves room for a
    /// loaded machine, and is still far below the kernel's hours.
    private static func expectEndedAtTheDeadline(
        _ waited: Duration,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(waited >= .seconds(3) && waited < .seconds(20), "waited \(waited)", sourceLocation: sourceLocation)
    }

    private static func show(_ setting: String, on connection: Connection) throws -> String? {
        try connection.query("SELECT current_setting($1) AS value", [setting]).first?.decode("value", as: String.self)
    }
}
