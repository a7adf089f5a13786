import AppConfig
import Foundation

/// Which browser origins may call the API (`CORS_ALLOWED_ORIGINS`), read once at start.
///
/// Empty by default: no CORS header is sent and browsers on other origins cannot read any
/// response, which is right for a service whose clients are apps and back ends. Each entry must
/// be an origin exactly as a browser sends it in `Origin` (`scheme://host[:port]`, `http` or
/// `https`, no path, not even `/`, and no default port), because the comparison is exact: an
/// entry that could never match is refused at start rather than silently ignored. `*` (any
/// origin) is for local development only and is refused unless `APP_ENV=development`.
public struct CORSConfiguration: Sendable, Equatable {
    /// The variable this is read from.
    public static let variable = "CORS_ALLOWED_ORIGINS"

    /// Which `Origin`s are answered with CORS headers.
    public enum AllowedOrigins: Sendable, Equatable {
        /// CORS is off: no header is added, preflights are answered like any `OPTIONS` request.
        case none
        /// `*`: every origin (development only).
        case any
        /// These origins, in the form browsers send (lower-case scheme and host).
        case list(Set<String>)
    }

    public let allowedOrigins: AllowedOrigins

    /// CORS off.
    public static let disabled = CORSConfiguration(allowedOrigins: .none)

    public init(allowedOrigins: AllowedOrigins) {
        self.allowedOrigins = allowedOrigins
    }

    /// Reads `CORS_ALLOWED_ORIGINS`; `appEnvironment` is `APP_ENV`, which decides whether `*`
    /// is allowed.
    public init(environment: EnvironmentReader, appEnvironment: String) throws(ConfigurationError) {
        try self.init(text: environment.string(Self.variable), appEnvironment: appEnvironment)
    }

    /// Parses the variable's value: comma-separated, blanks around entries ignored.
    public init(text: String?, appEnvironment: String) throws(ConfigurationError) {
        let entries = (text ?? "").split(separator: ",").map { $0.trimmingSpaces() }.filter { !$0.isEmpty }
        guard !entries.isEmpty else {
            self.init(allowedOrigins: .none)
            return
        }
        if entries.contains("*") {
            guard entries.count == 1 else {
                throw Self.error("must be '*' alone or a list of origins, not both")
            }
            guard appEnvironment == "development" else {
                throw Self.error(
                    "is '*', which is allowed only with APP_ENV=development (APP_ENV is '\(appEnvironment)'); "
                        + "list the web app's origins instead"
                )
            }
            self.init(allowedOrigins: .any)
            return
        }
        var origins: Set<String> = []
        for entry in entries {
            switch Self.origin(entry) {
            case .success(let origin): origins.insert(origin)
            case .failure(let problem): throw Self.error("has '\(entry)', which \(problem.reason)")
            }
        }
        self.init(allowedOrigins: .list(origins))
    }

    /// Whether any origin is allowed at all.
    public var isEnabled: Bool { allowedOrigins != .none }

    /// What `Access-Control-Allow-Origin` says to a request from `origin`, or `nil` when that
    /// origin is not allowed.
    func allowOriginValue(for origin: String) -> String? {
        switch allowedOrigins {
        case .none: nil
        case .any: "*"
        case .list(let origins): origins.contains(origin) ? origin : nil
        }
    }

    /// Why an entry is not an origin.
    struct Problem: Error {
        let reason: String
    }

    /// `entry` as browsers serialise an origin (scheme and host lower-cased), or why it cannot
    /// be one.
    static func origin(_ entry: String) -> Result<String, Problem> {
        if entry.lowercased() == "null" {
            return .failure(Problem(reason: "is the opaque origin of sandboxed pages and files; it cannot be allowed"))
        }
        let text = entry.lowercased()
        guard let separator = text.range(of: "://") else {
            return .failure(Problem(reason: "is not an origin (scheme://host[:port])"))
        }
        let scheme = String(text[..<separator.lowerBound])
        guard scheme == "http" || scheme == "https" else {
            return .failure(Problem(reason: "is not an http or https origin"))
        }
        let authority = text[separator.upperBound...]
        if let bad = authority.first(where: { "/?#@ \\".contains($0) }) {
            let what =
                bad == "/" ? "a path (drop everything after the host and port, trailing '/' included)" : "'\(bad)'"
            return .failure(Problem(reason: "has \(what): an origin is scheme://host[:port] only"))
        }
        let host: Substring
        let portText: Substring?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else {
                return .failure(Problem(reason: "has an unclosed IPv6 address"))
            }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            guard after.isEmpty || after.hasPrefix(":") else {
                return .failure(Problem(reason: "has text after its IPv6 address"))
            }
            portText = after.isEmpty ? nil : after.dropFirst()
            guard host.dropFirst().dropLast().allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }), host.count > 2
            else {
                return .failure(Problem(reason: "has an invalid IPv6 address"))
            }
        } else {
            let parts = authority.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            host = parts[0]
            portText = parts.count > 1 ? parts[1] : nil
            let labels = host.split(separator: ".", omittingEmptySubsequences: false)
            let validLabels = labels.allSatisfy { label in
                !label.isEmpty && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) || $0 == "-" }
            }
            guard !host.isEmpty, validLabels else {
                return .failure(Problem(reason: "has no valid host name (IDNs in their xn-- form)"))
            }
        }
        var origin = "\(scheme)://\(host)"
        if let portText {
            guard (1...5).contains(portText.count), portText.allSatisfy({ $0.isASCII && $0.isNumber }),
                !portText.hasPrefix("0"), let port = Int(portText), port <= 65535
            else {
                return .failure(Problem(reason: "has an invalid port"))
            }
            let defaultPort = scheme == "https" ? 443 : 80
            guard port != defaultPort else {
                return .failure(Problem(reason: "names the default port \(port), which browsers never send: drop it"))
            }
            origin += ":\(port)"
        }
        return .success(origin)
    }

    private static func error(_ reason: String) -> ConfigurationError {
        ConfigurationError(variable: variable, reason: reason)
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingSpaces() -> String {
        let isBlank: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isBlank($0) }), let last = lastIndex(where: { !isBlank($0) }) else {
            return ""
        }
        return String(self[first...last])
    }
}
