import Foundation
import Logging
import Synchronization
import TestSupport
import Testing

@testable import Postgres

@Suite(.requiresDatabase, .offTheCooperativePool) struct ConnectionPoolTests {
    @Test func concurrentBorrowersShareABoundedNumberOfConnections() async throws {
        try await TestDatabase.withFresh { database in
            try await database.withPool(maximumConnections: 4) { pool in
                let results = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
                    for index in 0..<200 {
                        group.addTask {
                            try await pool.withConnection { connection in
                                let row = try #require(
                                    try connection.query(
                                        "SELECT $1::int AS n, pg_backend_pid() AS pid FROM pg_sleep(0.002)",
                                        [index]
                                    ).first
                                )
                                return (index, try row.decode("n", as: Int.self), try row.decode("pid", as: Int.self))
                            }
                        }
                    }
                    var results: [(Int, Int, Int)] = []
                    for try await result in group { results.append(result) }
                    return results
                }
                #expect(results.count == 200)
                #expect(results.allSatisfy { $0.0 == $0.1 })
                #expect(Set(results.map(\.2)).count <= 4)
            }
        }
    }

    @Test func aTransactionRollsBackWhenTheBodyThrowsAndTheConnectionIsReused() async throws {
        struct Abort: Error {}
        try await TestDatabase.withFresh { database in
            try await database.withPool(maximumConnections: 1) { pool in
                try await pool.query("CREATE TABLE events (id int PRIMARY KEY)")
                await #expect(throws: Abort.self) {
                    try await pool.withTransaction { connection in
                        try connection.query("INSERT INTO events VALUES (1)")
                        throw Abort()
                    }
                }
                // A body that leaves a transaction open gets it rolled back too.
                try await pool.withConnection { connection in
                    try connection.query("BEGIN")
                    try connection.query("INSERT INTO events VALUES (2)")
                }
                try await pool.withTransaction { try $0.query("INSERT INTO events VALUES (3)") }
                let ids = try await pool.query("SELECT id FROM events ORDER BY id").rows.map {
                    try $0.decode("id", as: Int.self)
                }
                #expect(ids == [3])
            }
        }
    }

    @Test func aCancelledWaiterLeavesThePoolUsable() async throws {
        try await TestDatabase.withFresh { database in
            try await database.withPool(maximumConnections: 1) { pool in
                // The holder keeps the only connection until released, so the waiter is cancelled
                // while it waits, however slowly the machine runs (no sleeps to race).
                let release = DispatchSemaphore(value: 0)
                defer { release.signal() }
                let holder = Task.offTheCooperativePool { try await pool.withConnection { _ in release.wait() } }
                while pool.openConnectionCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
                let waiter = Task.offTheCooperativePool { try await pool.query("SELECT 1") }
                while pool.waitingBorrowerCount == 0 { try await Task.sleep(for: .milliseconds(10)) }
                waiter.cancel()
                await #expect(throws: CancellationError.self) { try await waiter.value }
                #expect(pool.waitingBorrowerCount == 0)
                release.signal()
                try await holder.value
                #expect(try await pool.query("SELECT 2 AS n").first?.decode("n", as: Int.self) == 2)
            }
        }
    }

    @Test func shutdownFailsLaterBorrowers() async throws {
        try await TestDatabase.withFresh { database in
            // Shuts down itself: the shutdown is what is tested.
            let pool = database.makePool(maximumConnections: 1)
            try await pool.query("SELECT 1")
            await pool.shutdown()
            let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
            #expect(error?.code == .poolShutDown)
        }
    }
}
