import Foundation
import Synchronization

/// Claims of bearer tokens whose signature `TokenVerifier` proved a moment ago, keyed by the
/// exact token text.
///
/// A client sends the same token with every request until it expires, and proving its
/// signature again (JOSE parsing, two JSON decodes, HMAC or RSA/ECDSA, an actor hop into
/// jwt-kit's key collection) was the largest single cost of a cheap request
/// (docs/benchmarks.md). Only the signature check is skipped on a hit: the caller re-checks
/// the claims (`exp`, `nbf`, `iss`, `aud`) against its clock on every request, so an expired
/// token is refused exactly as before.
///
/// Why it is safe: the key is the whole token, signature included, so only the very bytes
/// that verified can hit (a forged or altered token misses and is verified in full), and
/// refused tokens are never stored. An entry lives at most ``maximumAge`` (one minute), which
/// bounds how long a token signed with a JWKS key that has since been withdrawn is still
/// accepted to about the JWKS refetch throttle. The cache holds at most ``capacity`` entries:
/// when full, expired entries are swept and, if none were, it starts over empty, so memory is
/// bounded whatever clients send.
final class VerifiedTokenCache: Sendable {
    /// The longest an entry is trusted.
    static let maximumAge: TimeInterval = 60
    /// The most entries kept.
    static let capacity = 4096

    private struct Entry {
        let claims: AccessTokenClaims
        let validUntil: Date
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// The stored claims of `token`, or `nil` when it is unknown or its entry has run out.
    func claims(for token: String, now: Date) -> AccessTokenClaims? {
        entries.withLock { entries in
            guard let entry = entries[token] else { return nil }
            guard now < entry.validUntil else {
                entries[token] = nil
                return nil
            }
            return entry.claims
        }
    }

    /// Remembers `claims` of a token that has just been verified, until `maximumAge` from now
    /// or its `exp` (plus the verifier's leeway), whichever comes first.
    func insert(_ token: String, claims: AccessTokenClaims, now: Date, leeway: TimeInterval) {
        var validUntil = now.addingTimeInterval(Self.maximumAge)
        if let exp = claims.exp {
            validUntil = min(validUntil, Date(timeIntervalSince1970: exp + leeway))
        }
        guard now < validUntil else { return }
        entries.withLock { entries in
            if entries.count >= Self.capacity, entries[token] == nil {
                entries = entries.filter { now < $0.value.validUntil }
                if entries.count >= Self.capacity { entries = [:] }
            }
            entries[token] = Entry(claims: claims, validUntil: validUntil)
        }
    }
}
