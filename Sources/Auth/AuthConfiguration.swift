import AppConfig
import Foundation

/// How tokens are verified (docs/clients.md, "Tokens").
public struct AuthConfiguration: Sendable {
    /// jwt-kit refuses HMAC keys shorter than this, so it is checked here, at start.
    public static let minimumSecretBytes = 32

    public let hs256Secret: String?
    public let jwksURL: URL?
    public let issuer: String?
    public let audience: String?

    /// Reads `JWT_HS256_SECRET`, `JWT_JWKS_URL`, `JWT_ISSUER` and `JWT_AUDIENCE`.
    ///
    /// Outside `APP_ENV=development` (`appEnvironment`), a JWKS fetched over plain HTTP could be
    /// swapped on the way and a token from any issuer or for any audience signed by the same
    /// identity provider would be accepted, so there `JWT_JWKS_URL` must be `https` (loopback
    /// hosts excepted: nothing travels over a network) and, with a JWKS, `JWT_ISSUER` and
    /// `JWT_AUDIENCE` are required.
    public init(environment: EnvironmentReader, appEnvironment: String) throws {
        hs256Secret = environment.string("JWT_HS256_SECRET")
        jwksURL = try environment.url("JWT_JWKS_URL")
        issuer = environment.string("JWT_ISSUER")
        audience = environment.string("JWT_AUDIENCE")
        if let hs256Secret, hs256Secret.utf8.count < Self.minimumSecretBytes {
            throw ConfigurationError(
                variable: "JWT_HS256_SECRET",
                reason: "must be at least \(Self.minimumSecretBytes) bytes, got \(hs256Secret.utf8.count)"
            )
        }
        if hs256Secret == nil, jwksURL == nil {
            throw ConfigurationError(
                variable: "JWT_HS256_SECRET",
                reason: "or JWT_JWKS_URL is required: the API cannot verify tokens without one"
            )
        }
        if appEnvironment != "development", let jwksURL {
            if jwksURL.scheme?.lowercased() != "https", !Self.isLoopback(host: jwksURL.host ?? "") {
                throw ConfigurationError(
                    variable: "JWT_JWKS_URL",
                    reason: "must be an https URL outside APP_ENV=development (APP_ENV is '\(appEnvironment)'), "
                        + "unless its host is a loopback address"
                )
            }
            if issuer == nil {
                throw ConfigurationError(
                    variable: "JWT_ISSUER",
                    reason: "is required with JWT_JWKS_URL outside APP_ENV=development (APP_ENV is '\(appEnvironment)')"
                )
            }
            if audience == nil {
                throw ConfigurationError(
                    variable: "JWT_AUDIENCE",
                    reason: "is required with JWT_JWKS_URL outside APP_ENV=development (APP_ENV is '\(appEnvironment)')"
                )
            }
        }
    }

    /// Whether `host` is this machine: `localhost`, an IPv4 address in 127.0.0.0/8, or `::1`
    /// (with or without the URL's brackets). Names are not resolved: only what cannot leave
    /// the machine counts.
    static func isLoopback(host: String) -> Bool {
        let host = host.lowercased()
        if host == "localhost" || host == "localhost." || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets.first == "127" else { return false }
        return octets.allSatisfy { octet in
            (1...3).contains(octet.utf8.count) && octet.utf8.allSatisfy { (48...57).contains($0) }
                && (Int(octet) ?? 256) <= 255
        }
    }
}
