import Hummingbird
import HummingbirdTesting
import Operations
import Testing

/// `/readyz` is not a cheap way to load the database: its answer, success or failure, is
/// computed at most once per time-to-live, and callers arriving during a check share it.
@Suite struct ReadinessProbeTests {
    /// Counts the checks and answers what it is told.
    actor CountingCheck {
        var checks = 0
        var answer: ReadinessProbe.Answer

        init(_ answer: ReadinessProbe.Answer) { self.answer = answer }

        func run() async -> ReadinessProbe.Answer {
            checks += 1
            // Long enough that concurrent callers arrive while it runs.
            try? await Task.sleep(for: .milliseconds(50))
            return answer
        }

        func set(_ answer: ReadinessProbe.Answer) { self.answer = answer }
    }

    @Test func concurrentCallersWithinTheWindowShareOneCheck() async {
        let check = CountingCheck(.ready(schemaVersion: 3))
        let probe = ReadinessProbe(timeToLive: .seconds(60)) { await check.run() }
        let answers = await withTaskGroup(of: ReadinessProbe.Answer.self) { group in
            for _ in 0..<50 { group.addTask { await probe.answer() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(answers == Array(repeating: .ready(schemaVersion: 3), count: 50))
        #expect(await probe.answer() == .ready(schemaVersion: 3))
        #expect(await check.checks == 1)
    }

    @Test func failuresAreCachedToo() async {
        let check = CountingCheck(.databaseUnavailable("connection refused"))
        let probe = ReadinessProbe(timeToLive: .seconds(3600)) { await check.run() }
        for _ in 0..<10 { #expect(await probe.answer() == .databaseUnavailable("connection refused")) }
        #expect(await check.checks == 1)
    }

    /// Only a lower bound on time: the second answer comes after the window, however slow the
    /// machine, so it is checked again and sees the change.
    @Test func theAnswerIsCheckedAgainAfterTheWindow() async throws {
        let check = CountingCheck(.databaseUnavailable("connection refused"))
        let probe = ReadinessProbe(timeToLive: .milliseconds(50)) { await check.run() }
        #expect(await probe.answer() == .databaseUnavailable("connection refused"))
        await check.set(.ready(schemaVersion: 3))
        try await Task.sleep(for: .milliseconds(200))
        #expect(await probe.answer() == .ready(schemaVersion: 3))
        #expect(await check.checks == 2)
    }

    /// Through HTTP: many `GET /readyz` within the window, one check.
    @Test func manyReadyzRequestsWithinTheWindowCheckOnce() async throws {
        let check = CountingCheck(.schemaBehind("database schema is at version 1"))
        let router = Router()
        // An hour: the test asserts what the window does, not how long twenty requests take.
        HealthRoutes.add(to: router, readiness: ReadinessProbe(timeToLive: .seconds(3600)) { await check.run() })
        try await Application(router: router).test(.router) { client in
            for _ in 0..<20 {
                try await client.execute(uri: "/readyz", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(String(buffer: response.body).contains("schema_behind"))
                }
            }
        }
        #expect(await check.checks == 1)
    }
}
