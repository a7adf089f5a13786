import Foundation

/// Reads typed values out of an environment dictionary, failing with a `ConfigurationError`
/// that names the variable. Empty values count as unset, as shells often export `VAR=`.
public struct EnvironmentReader: Sendable {
    public let values: [String: String]

    public init(_ values: [String: String] = ProcessInfo.processInfo.environment) {
        self.values = values
    }

    public func string(_ name: String) -> String? {
        // Every other accessor reads through this one.
        assert(ConfigurationVariable.isListed(name), "\(name) is read but not in ConfigurationVariable.all")
        guard let value = values[name], !value.isEmpty else { return nil }
        return value
    }

    public func string(_ name: String, default defaultValue: String) -> String {
        string(name) ?? defaultValue
    }

    public func required(_ name: String) throws -> String {
        guard let value = string(name) else { throw ConfigurationError(variable: name, reason: "is required") }
        return value
    }

    public func integer(_ name: String, default defaultValue: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = string(name) else { return defaultValue }
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
            throw ConfigurationError(
                variable: name,
                reason: "must be an integer from \(range.lowerBound) to \(range.upperBound), got '\(text)'"
            )
        }
        return value
    }

    public func port(_ name: String, default defaultValue: Int) throws -> Int {
        try integer(name, default: defaultValue, range: 0...65535)
    }

    public func boolean(_ name: String, default defaultValue: Bool) throws -> Bool {
        guard let text = string(name) else { return defaultValue }
        switch text.lowercased() {
        case "true", "1", "yes", "on": return true
        case "false", "0", "no", "off": return false
        default: throw ConfigurationError(variable: name, reason: "must be true or false, got '\(text)'")
        }
    }

    /// An absolute `http`/`https` URL with a host.
    public func url(_ name: String) throws -> URL? {
        guard let text = string(name) else { return nil }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            throw ConfigurationError(variable: name, reason: "must be an absolute http(s) URL, got '\(text)'")
        }
        return url
    }
}
