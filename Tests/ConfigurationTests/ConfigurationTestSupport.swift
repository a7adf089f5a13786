import AppConfig
import Testing

/// A 32-byte HS256 secret, the shortest accepted.
let validSecret = "0123456789abcdef0123456789abcdef"
let queueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/detection-requests"

/// One invalid environment and the variable its error must name.
struct InvalidCase: Sendable, CustomTestStringConvertible {
    let variable: String
    let environment: [String: String]
    /// Text that must not appear in the error (a secret).
    let mustNotContain: String?

    init(_ variable: String, _ environment: [String: String], mustNotContain: String? = nil) {
        self.variable = variable
        self.environment = environment
        self.mustNotContain = mustNotContain
    }

    var testDescription: String {
        environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }
}

/// Runs `make` and returns the `ConfigurationError` it threw, recording an issue otherwise.
func configurationError(
    _ make: () throws -> Void,
    sourceLocation: SourceLocation = #_sourceLocation
) -> ConfigurationError? {
    do {
        try make()
        Issue.record("no error was thrown", sourceLocation: sourceLocation)
        return nil
    } catch let error as ConfigurationError {
        return error
    } catch {
        Issue.record("expected a ConfigurationError, got \(type(of: error)): \(error)", sourceLocation: sourceLocation)
        return nil
    }
}

/// Checks that `error` names `testCase.variable` both in `variable` and in its one-line description.
func check(
    _ error: ConfigurationError?,
    against testCase: InvalidCase,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard let error else { return }
    #expect(error.variable == testCase.variable, sourceLocation: sourceLocation)
    let description = String(describing: error)
    #expect(description.contains(testCase.variable), "\(description)", sourceLocation: sourceLocation)
    #expect(!description.contains("\n"), "\(description)", sourceLocation: sourceLocation)
    if let secret = testCase.mustNotContain {
        #expect(
            !description.contains(secret),
            "the error echoes a secret: \(description)",
            sourceLocation: sourceLocation
        )
    }
}
