/// A configuration value that stops the process at start. `description` is the one line the
/// executable prints: it names the variable and never echoes a secret's value.
public struct ConfigurationError: Error, Sendable, CustomStringConvertible, Equatable {
    /// The environment variable at fault.
    public let variable: String
    public let reason: String

    public init(variable: String, reason: String) {
        self.variable = variable
        self.reason = reason
    }

    public var description: String { "invalid configuration: \(variable) \(reason)" }
}
