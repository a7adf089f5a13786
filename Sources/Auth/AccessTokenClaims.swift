import Foundation
import JWTKit

/// The claims `photo-api` reads from a bearer token (docs/clients.md, "Tokens").
///
/// Every field is optional here so that a token that verifies but lacks a claim is refused
/// with a precise log reason by `TokenVerifier` rather than a generic decoding error; a claim of
/// the wrong JSON type (`"sub": 42`) still fails decoding, which is refused the same way.
struct AccessTokenClaims: JWTPayload {
    var sub: String?
    var orgID: String?
    /// Seconds since 1970; a plain number so the time checks (with leeway) stay in one place.
    var exp: Double?
    var nbf: Double?
    var iss: String?
    /// A string or an array of strings (RFC 7519 section 4.1.3).
    var aud: AudienceClaim?
    /// Space-separated scopes (RFC 8693 section 4.2).
    var scope: String?

    enum CodingKeys: String, CodingKey {
        case sub, exp, nbf, iss, aud, scope
        case orgID = "org_id"
    }

    /// Nothing here: jwt-kit calls this without a clock or our settings, so `TokenVerifier`
    /// checks the claims itself once the signature holds.
    func verify(using algorithm: some JWTAlgorithm) async throws {}
}
