import AppConfig
import Postgres
import Testing

/// `DATABASE_URL` and the database timeouts, read the same way by every executable.
@Suite struct DatabaseConfigurationTests {
    private static func make(
        _ values: [String: String],
        statementsRunUnbounded: Bool = false
    ) throws -> ConnectionTimeouts {
        try DatabaseConfiguration(
            environment: EnvironmentReader(values),
            applicationName: "tests",
            statementsRunUnbounded: statementsRunUnbounded
        ).settings.timeouts
    }

    @Test func timeoutsHaveBoundedDefaults() throws {
        let timeouts = try Self.make([:])
        #expect(timeouts.statement == .seconds(15))
        #expect(timeouts.idleInTransaction == .seconds(60))
        #expect(timeouts.tcpUser == .seconds(10))
        #expect(timeouts.answerDeadline == .seconds(17))
    }

    @Test func timeoutsAreReadInMillisecondsAndZeroMeansNone() throws {
        let timeouts = try Self.make([
            "DATABASE_STATEMENT_TIMEOUT_MS": "2500",
            "DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS": "0",
            "DATABASE_TCP_USER_TIMEOUT_MS": "30000",
        ])
        #expect(timeouts.statement == .milliseconds(2500))
        #expect(timeouts.idleInTransaction == nil)
        #expect(timeouts.tcpUser == .seconds(30))
        #expect(timeouts.answerDeadline == .milliseconds(4500))
        #expect(try Self.make(["DATABASE_STATEMENT_TIMEOUT_MS": "0"]).answerDeadline == nil)
    }

    /// The migrator's DDL may run for hours; its statements are never timed out, whatever the
    /// environment shared with the services says.
    @Test func theMigratorsStatementsRunUnbounded() throws {
        let timeouts = try Self.make(["DATABASE_STATEMENT_TIMEOUT_MS": "2500"], statementsRunUnbounded: true)
        #expect(timeouts.statement == nil)
        #expect(timeouts.answerDeadline == nil)
        #expect(timeouts.idleInTransaction == .seconds(60))
    }

    static let invalidCases = [
        InvalidCase("DATABASE_STATEMENT_TIMEOUT_MS", ["DATABASE_STATEMENT_TIMEOUT_MS": "-1"]),
        InvalidCase("DATABASE_STATEMENT_TIMEOUT_MS", ["DATABASE_STATEMENT_TIMEOUT_MS": "15s"]),
        InvalidCase("DATABASE_STATEMENT_TIMEOUT_MS", ["DATABASE_STATEMENT_TIMEOUT_MS": "86400001"]),
        InvalidCase("DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS", ["DATABASE_IDLE_IN_TRANSACTION_TIMEOUT_MS": "soon"]),
        InvalidCase("DATABASE_TCP_USER_TIMEOUT_MS", ["DATABASE_TCP_USER_TIMEOUT_MS": "-5"]),
    ]

    @Test(arguments: invalidCases)
    func invalidVariableIsNamed(testCase: InvalidCase) {
        check(configurationError { _ = try Self.make(testCase.environment) }, against: testCase)
    }
}
