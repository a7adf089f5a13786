import Foundation

/// The bearer token of a request's `Authorization` header values (RFC 6750 section 2.1).
///
/// The HTTP layer hands over the header's values as strings; the syntax of the credentials, and
/// which malformed ones count as "no token" or "a bad token", is decided here, next to the
/// verifier. The token itself is never put into an error.
public enum BearerCredentials {
    /// The token of the single `Authorization: Bearer` value (the scheme is case-insensitive).
    ///
    /// No value or another scheme is ``AuthenticationError/credentialsMissing(_:logDetail:)``;
    /// several values, empty or malformed credentials are
    /// ``AuthenticationError/invalidToken(_:logDetail:)``.
    public static func token(fromAuthorization values: [String]) throws(AuthenticationError) -> String {
        guard let value = values.first else {
            throw .credentialsMissing("a bearer token is required", logDetail: "no Authorization header")
        }
        guard values.count == 1 else {
            throw .invalidToken("send exactly one Authorization header", logDetail: "several Authorization headers")
        }
        let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let scheme = parts.first, scheme.lowercased() == "bearer" else {
            throw .credentialsMissing("a bearer token is required", logDetail: "Authorization scheme is not Bearer")
        }
        guard parts.count == 2 else {
            throw .invalidToken("the bearer token is missing", logDetail: "empty Bearer credentials")
        }
        let token = trimmingBlanks(parts[1])
        guard !token.isEmpty, !token.utf8.contains(UInt8(ascii: " ")) else {
            throw .invalidToken("the bearer token is not valid", logDetail: "malformed Bearer credentials")
        }
        return token
    }

    /// `text` without the leading and trailing characters `trimmingCharacters(in: .whitespaces)`
    /// removes, looked at one scalar at a time from each end. Foundation's version bridges the
    /// whole token to `NSString` and re-decodes it from UTF-16, which cost about 3 % of
    /// photo-api's CPU under load (docs/benchmarks.md); a token's ends are ASCII, decided here
    /// without Foundation.
    static func trimmingBlanks(_ text: Substring) -> String {
        func isBlank(_ scalar: Unicode.Scalar) -> Bool {
            if scalar.isASCII { return scalar == " " || scalar == "\t" }
            return CharacterSet.whitespaces.contains(scalar)
        }
        var scalars = text.unicodeScalars
        while let first = scalars.first, isBlank(first) { scalars.removeFirst() }
        while let last = scalars.last, isBlank(last) { scalars.removeLast() }
        return String(scalars)
    }
}
