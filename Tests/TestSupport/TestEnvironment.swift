import Foundation
import Testing

/// Whether the services the integration tests need are there, and what a run without them does.
///
/// A bare `swift test` has no database and no LocalStack: the tests that need them are skipped,
/// and one line on stderr says how to run them, so a developer's first `swift test` passes and
/// shows the way. `scripts/test.sh` (and so CI) starts the services and exports
/// `REQUIRE_TEST_DATABASE=1` and `REQUIRE_LOCALSTACK=1`: there a missing service is never a skip,
/// the tests run and fail saying what is missing, so a broken setup cannot pass by skipping.
public enum TestEnvironment {
    /// Whether tests that need Postgres run: `TEST_DATABASE_URL` is set, or
    /// `REQUIRE_TEST_DATABASE=1` demands that they run (and fail without it).
    public static var databaseIsConfigured: Bool { runs(database) }

    /// Whether tests that need LocalStack run: `AWS_ENDPOINT_URL` (or `AWS_ENDPOINT_URL_S3`) is
    /// set, or `REQUIRE_LOCALSTACK=1` demands that they run (and fail without it).
    public static var localStackIsConfigured: Bool { runs(localStack) }

    /// A service the integration tests need, as the environment describes it.
    private struct Service: Sendable {
        /// The variable the skip line names.
        let variable: String
        let isSet: Bool
        let isRequired: Bool

        init(variable: String, or alternatives: [String] = [], requiredBy requirement: String) {
            let environment = ProcessInfo.processInfo.environment
            self.variable = variable
            self.isSet = ([variable] + alternatives).contains { !(environment[$0] ?? "").isEmpty }
            self.isRequired = environment[requirement] == "1"
        }

        var runs: Bool { isSet || isRequired }
    }

    private static let database = Service(variable: "TEST_DATABASE_URL", requiredBy: "REQUIRE_TEST_DATABASE")
    private static let localStack = Service(
        variable: "AWS_ENDPOINT_URL",
        or: ["AWS_ENDPOINT_URL_S3"],
        requiredBy: "REQUIRE_LOCALSTACK"
    )

    /// The skip line, written the first time a suite is skipped: a `static let` is initialised
    /// once per process, so it is one line however many suites ask.
    private static let skipLine: Void = {
        let missing = [database, localStack].filter { !$0.runs }.map(\.variable)
        let verb = missing.count == 1 ? "is" : "are"
        let line =
            "integration tests skipped: \(missing.joined(separator: " and ")) \(verb) not set; "
            + "run scripts/test.sh to start a throwaway Postgres and LocalStack and run them\n"
        FileHandle.standardError.write(Data(line.utf8))
    }()

    private static func runs(_ service: Service) -> Bool {
        if !service.runs {
            _ = skipLine
        }
        return service.runs
    }
}

extension Trait where Self == ConditionTrait {
    /// For a suite or test that needs the Postgres server of `scripts/test.sh`
    /// (`TEST_DATABASE_URL`), directly or through the executables it starts: skipped by a bare
    /// `swift test`, run (and failing loudly without a database) under `scripts/test.sh`.
    public static var requiresDatabase: Self {
        .enabled(if: TestEnvironment.databaseIsConfigured, "needs Postgres: run scripts/test.sh")
    }

    /// For a suite or test that needs the LocalStack of `scripts/test.sh` (`AWS_ENDPOINT_URL`):
    /// skipped by a bare `swift test`, run (and failing loudly without LocalStack) under
    /// `scripts/test.sh`, even with `--without-localstack`.
    public static var requiresLocalStack: Self {
        .enabled(if: TestEnvironment.localStackIsConfigured, "needs LocalStack: run scripts/test.sh")
    }
}
