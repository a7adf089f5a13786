import AppConfig
import Foundation
import JWTKit
import UUIDCoding
import WireFormats

/// Verifies bearer tokens (docs/clients.md, "Tokens") and says who sent them.
///
/// Accepted: HS256 with `JWT_HS256_SECRET`; RS256 and ES256 with the `JWT_JWKS_URL` key named by
/// the token's `kid`. Required claims: `sub` and `org_id` (UUIDs) and `exp`; `nbf` is honoured,
/// both with ``leeway`` for clock skew; `iss` and `aud` must match when configured. A token
/// without `org_id` is accepted only as a service principal's: it must carry
/// ``ServicePrincipal/statusWriteScope``, and its `sub` names the service (``Principal``).
///
/// Every refusal is an ``AuthenticationError`` (a token was presented) whose `detail` says only
/// what a client may know and whose `logDetail` says exactly why; no token can make it throw
/// anything else, so a bad token is never a 500. The algorithm is chosen by our configuration and the key, never by
/// the token alone: `alg: none` and every other algorithm are refused before any key is used,
/// an HS256 token is only ever checked with the shared secret (never with a public key), and an
/// RS256 or ES256 token must name the algorithm its JWKS key is pinned to.
public struct TokenVerifier: Sendable {
    /// Allowed clock skew on `exp` and `nbf`.
    public static let leeway: TimeInterval = 60
    /// Longer tokens are refused unparsed; ours are well under 2 KiB.
    public static let maximumTokenBytes = 8 * 1024

    private let hmacKeys: JWTKeyCollection?
    private let jwks: JWKSKeyStore?
    private let issuer: String?
    private let audience: String?
    private let now: @Sendable () -> Date
    /// Tokens verified in the last minute: a hit skips only the signature check.
    private let verified = VerifiedTokenCache()

    /// - Parameters:
    ///   - hs256Secret: at least `AuthConfiguration.minimumSecretBytes`: jwt-kit asserts
    ///     (crashes debug builds) on shorter HMAC keys, so a short one is refused here.
    ///   - jwks: the key store for RS256/ES256; `nil` refuses those algorithms.
    ///   - now: the clock, replaceable in tests.
    public init(
        hs256Secret: String?,
        jwks: JWKSKeyStore?,
        issuer: String? = nil,
        audience: String? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) async throws {
        if let hs256Secret {
            guard hs256Secret.utf8.count >= AuthConfiguration.minimumSecretBytes else {
                throw ConfigurationError(
                    variable: "JWT_HS256_SECRET",
                    reason: "must be at least \(AuthConfiguration.minimumSecretBytes) bytes"
                )
            }
            hmacKeys = await JWTKeyCollection().add(hmac: HMACKey(from: hs256Secret), digestAlgorithm: .sha256)
        } else {
            hmacKeys = nil
        }
        self.jwks = jwks
        self.issuer = issuer
        self.audience = audience
        self.now = now
    }

    /// The caller named by `token`, or the reason it is refused.
    ///
    /// A token whose signature was proven within the last minute is not proven again
    /// (``VerifiedTokenCache`` says why that is safe); its claims are checked every time.
    public func verify(_ token: String) async throws(AuthenticationError) -> Principal {
        if let claims = verified.claims(for: token, now: now()) {
            return try principal(from: claims)
        }
        let claims: AccessTokenClaims
        do {
            claims = try await verifySignature(token)
        } catch let error as AuthenticationError {
            throw error
        } catch {
            // jwt-kit: bad signature, undecodable payload, ill-typed claim, unusable key. Its
            // descriptions name the failing claim, never the token; capped all the same.
            throw Self.refusal(
                "the bearer token is not valid",
                because: "verification failed: \(String("\(error)".prefix(300)))"
            )
        }
        let principal = try principal(from: claims)
        verified.insert(token, claims: claims, now: now(), leeway: Self.leeway)
        return principal
    }

    /// The token's claims once its signature is proven with a key we chose.
    private func verifySignature(_ token: String) async throws -> AccessTokenClaims {
        guard token.utf8.count <= Self.maximumTokenBytes else {
            throw Self.refusal(
                "the bearer token is not valid",
                because: "token longer than \(Self.maximumTokenBytes) bytes"
            )
        }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3,
            let headerBytes = Base64URL.decode(parts[0]),
            let header = try? JSONDecoder().decode(TokenHeader.self, from: Data(headerBytes))
        else {
            throw Self.refusal("the bearer token is not valid", because: "not a compact JWS with a JSON header")
        }
        guard header.crit == nil else {
            throw Self.refusal("the bearer token is not valid", because: "unsupported critical header parameters")
        }
        switch header.alg {
        case "HS256":
            guard let hmacKeys else {
                throw Self.refusal(
                    "the bearer token is not valid",
                    because: "HS256 token but JWT_HS256_SECRET is not set"
                )
            }
            return try await hmacKeys.verify(token, as: AccessTokenClaims.self)
        case "RS256", "ES256":
            guard let jwks else {
                throw Self.refusal(
                    "the bearer token is not valid",
                    because: "\(header.alg ?? "") token but JWT_JWKS_URL is not set"
                )
            }
            guard let kid = header.kid, !kid.isEmpty else {
                throw Self.refusal("the bearer token is not valid", because: "\(header.alg ?? "") token without kid")
            }
            guard let key = await jwks.key(for: kid) else {
                throw Self.refusal("the bearer token is not valid", because: "unknown kid \(Self.printable(kid))")
            }
            guard key.algorithm == header.alg else {
                throw Self.refusal(
                    "the bearer token is not valid",
                    because: "kid \(Self.printable(kid)) is an \(key.algorithm) key, the token says \(header.alg ?? "")"
                )
            }
            return try await key.keys.verify(token, as: AccessTokenClaims.self)
        default:
            throw Self.refusal(
                "the bearer token is not valid",
                because: "algorithm \(Self.printable(header.alg ?? "(none given)")) is not accepted"
            )
        }
    }

    /// Checks the claims of a token whose signature holds.
    private func principal(from claims: AccessTokenClaims) throws(AuthenticationError) -> Principal {
        let now = self.now().timeIntervalSince1970
        guard let exp = claims.exp else {
            throw Self.refusal("the bearer token is not valid", because: "no exp claim")
        }
        guard now < exp + Self.leeway else {
            throw Self.refusal("the bearer token has expired", because: "expired at \(Int(exp))")
        }
        if let nbf = claims.nbf, now + Self.leeway < nbf {
            throw Self.refusal("the bearer token is not valid yet", because: "not valid before \(Int(nbf))")
        }
        if let issuer, claims.iss != issuer {
            throw Self.refusal("the bearer token is not valid", because: "iss is not the configured issuer")
        }
        if let audience, claims.aud?.value.contains(audience) != true {
            throw Self.refusal("the bearer token is not valid", because: "aud does not include the configured audience")
        }
        let scopes = claims.scope.map { Set($0.split(separator: " ").map(String.init)) } ?? []
        if claims.orgID == nil, scopes.contains(ServicePrincipal.statusWriteScope) {
            guard let sub = claims.sub, ServicePrincipal.isAcceptedSubject(sub) else {
                throw Self.refusal(
                    "the bearer token is not valid",
                    because: "service token (no org_id) whose sub is missing, too long or not printable ASCII"
                )
            }
            return .service(ServicePrincipal(subject: sub, scopes: scopes))
        }
        guard let sub = claims.sub, let userID = UUID(canonicalText: sub) else {
            throw Self.refusal("the bearer token is not valid", because: "sub is missing or not a UUID")
        }
        guard let org = claims.orgID, let organizationID = UUID(canonicalText: org) else {
            throw Self.refusal(
                "the bearer token is not valid",
                because: "org_id is missing or not a UUID (only a token with scope "
                    + "\(ServicePrincipal.statusWriteScope) may omit it)"
            )
        }
        return .user(AuthenticatedIdentity(userID: userID, organizationID: organizationID, scopes: scopes))
    }

    private static func refusal(_ detail: String, because reason: String) -> AuthenticationError {
        .invalidToken(detail, logDetail: reason)
    }

    /// A token-supplied string made safe and short for a log line.
    private static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.prefix(64).filter { (0x20...0x7E).contains($0.value) }))
    }
}

/// The JOSE header fields that decide how a token is checked.
private struct TokenHeader: Decodable {
    let alg: String?
    let kid: String?
    /// RFC 7515 section 4.1.11: extensions the recipient must understand; we understand none.
    let crit: [String]?
}
