import Foundation
import Logging
import Postgres
import Synchronization
import TestSupport
import Testing

/// Each test restarts a private cluster of its own, so other suites are not disturbed.
@Suite(.requiresDatabase, .offTheCooperativePool) struct ServerRestartTests {
    @Test func thePoolReconnectsAfterTheServerRestarts() async throws {
        try await PrivatePostgresServer.withServer { server in
            let settings = try ConnectionSettings(connectionString: server.connectionString, applicationName: "tests")
            let pool = ConnectionPool(settings: settings, maximumConnections: 2, logger: Logger(label: "test"))
            try await withPool(pool) { pool in
                let before = try await pool.query("SELECT pg_backend_pid() AS pid").first?.decode("pid", as: Int.self)

                try await server.restart()

                // The idle connection died with the server; the next borrower gets a fresh one.
                let after = try await pool.query("SELECT pg_backend_pid() AS pid").first?.decode("pid", as: Int.self)
                #expect(after != nil)
                #expect(after != before)

                // While the server is down, borrowers get a connection error, not a hang or a crash.
                try await server.stop()
                let error = await #expect(throws: PostgresError.self) { try await pool.query("SELECT 1") }
                #expect(error?.isConnectionProblem == true)
                try await server.start()
                #expect(try await pool.query("SELECT 3 AS n").first?.decode("n", as: Int.self) == 3)
            }
        }
    }

    @Test func theListenerReconnectsAndKeepsDelivering() async throws {
        try await PrivatePostgresServer.withServer { server in
            let settings = try ConnectionSettings(connectionString: server.connectionString, applicationName: "tests")
            let events = EventLog()
            let listener = NotificationListener(settings: settings, channels: ["wakeup"], logger: Logger(label: "test"))
            let listening = Task.offTheCooperativePool { try await listener.run { event in events.append(event) } }
            defer { listening.cancel() }

            func waitFor(_ condition: @escaping ([NotificationListener.Event]) -> Bool) async throws {
                for _ in 0..<600 where !events.matches(condition) {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            try await waitFor { $0.contains(.connected) }
            let sender = try Connection(settings: settings)
            try sender.query("SELECT pg_notify('wakeup', $1)", ["first"])
            try await waitFor { $0.contains(.notification(channel: "wakeup", payload: "first")) }
            #expect(events.matches { $0.contains(.notification(channel: "wakeup", payload: "first")) })

            try await server.restart()
            try await waitFor { $0.filter { $0 == .connected }.count >= 2 }
            #expect(events.matches { $0.filter { $0 == .connected }.count >= 2 })

            let newSender = try Connection(settings: settings)
            try newSender.query("SELECT pg_notify('wakeup', $1)", ["second"])
            try await waitFor { $0.contains(.notification(channel: "wakeup", payload: "second")) }
            #expect(events.matches { $0.contains(.notification(channel: "wakeup", payload: "second")) })

            listening.cancel()
            _ = try? await listening.value
        }
    }
}

/// Events the listener reported, appended from its thread and read by the test.
private final class EventLog: Sendable {
    private let events = Mutex<[NotificationListener.Event]>([])

    func append(_ event: NotificationListener.Event) {
        events.withLock { $0.append(event) }
    }

    func matches(_ condition: ([NotificationListener.Event]) -> Bool) -> Bool {
        events.withLock { condition($0) }
    }
}
