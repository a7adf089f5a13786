import AppConfig
import Foundation

/// How tokens are verified (contract section 3).
public struct AuthConfiguration: Sendable {
    /// jwt-kit refuses HMAC keys shorter than this, so it is checked here, at start.
    public static let minimumSecretBytes = 32

    public let hs256Secret: String?
    public let jwksURL: URL?
    public let issuer: String?
    public let audience: String?

    public init(environment: EnvironmentReader) throws {
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
    }
}
