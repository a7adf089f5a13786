import AWS
import Foundation
import JWTKit
import Logging
import ServiceLifecycle
import Synchronization

/// The RS256 and ES256 verification keys published at `JWT_JWKS_URL`, fetched through libcurl.
///
/// Keys are fetched once at start (``refresh()``), again every ``refreshInterval`` by ``run()``
/// (so a withdrawn key stops being trusted), and again when a token names a `kid` we do not
/// know, which is how a rotated-in key is learnt. That last refetch is throttled: at most one
/// per ``minimumRefetchInterval`` (a minute), so a flood of tokens with made-up `kid`s costs
/// the identity provider one request a minute, not one per token. Concurrent callers share the
/// refetch in flight rather than starting their own.
///
/// A failed fetch keeps the previous keys and is logged; it never fails a request by itself
/// (the token is refused as unknown-kid). Only keys usable for our algorithms are kept:
/// `kty` `RSA` (RS256) and `EC` on P-256 (ES256), with a `kid`, not marked `use: enc`, and an
/// `alg`, when present, matching. Each key is pinned to its algorithm, so a token can never
/// choose how a key is used.
public final class JWKSKeyStore: Service, Sendable {
    /// One usable key.
    struct Key: Sendable {
        /// `RS256` or `ES256`: the only `alg` a token may name with this key.
        let algorithm: String
        /// A collection holding just this key, under its `kid`.
        let keys: JWTKeyCollection
    }

    private struct State: Sendable {
        var keys: [String: Key] = [:]
        var lastUnknownKeyRefetch: ContinuousClock.Instant?
        var refetchInFlight: Task<Void, Never>?
        var fetchCount = 0
    }

    /// How often a token with an unknown `kid` may cause a refetch.
    public let minimumRefetchInterval: Duration
    /// How often ``run()`` refreshes the keys regardless of tokens.
    public let refreshInterval: Duration
    let url: URL
    private let http: CurlHTTPClient
    private let ownsHTTPClient: Bool
    private let logger: Logger
    private let state = Mutex(State())

    /// - Parameters:
    ///   - httpClient: the client to fetch with; when `nil` the store makes a small one of its
    ///     own and shuts it down when ``run()`` ends.
    public init(
        url: URL,
        httpClient: CurlHTTPClient? = nil,
        minimumRefetchInterval: Duration = .seconds(60),
        refreshInterval: Duration = .seconds(600),
        logger: Logger
    ) {
        self.url = url
        // A JWKS document is small; an identity provider that takes longer than this is down.
        self.http =
            httpClient ?? CurlHTTPClient(concurrency: 1, timeoutMilliseconds: 5_000, connectTimeoutMilliseconds: 2_000)
        self.ownsHTTPClient = httpClient == nil
        self.minimumRefetchInterval = minimumRefetchInterval
        self.refreshInterval = refreshInterval
        self.logger = logger
    }

    /// Fetches the key set now and replaces the cached keys; on failure the old keys stay.
    /// - Returns: whether the fetch succeeded.
    @discardableResult
    public func refresh() async -> Bool {
        state.withLock { $0.fetchCount += 1 }
        do {
            let keys = try await fetch()
            state.withLock { $0.keys = keys }
            logger.debug("JWKS fetched", metadata: ["jwks_keys": "\(keys.keys.sorted())"])
            return true
        } catch {
            logger.error("JWKS fetch failed, keeping the previous keys", metadata: ["error": "\(error)"])
            return false
        }
    }

    /// The key for `kid`, refetching the set first when `kid` is unknown and the throttle allows.
    func key(for kid: String) async -> Key? {
        if let key = state.withLock({ $0.keys[kid] }) {
            return key
        }
        guard let refetch = unknownKeyRefetch() else {
            return nil
        }
        await refetch.value
        return state.withLock { $0.keys[kid] }
    }

    /// The `kid`s currently trusted.
    public var keyIdentifiers: [String] {
        state.withLock { $0.keys.keys.sorted() }
    }

    /// How many fetches have been started (at start, periodic, unknown `kid`).
    public var fetchCount: Int {
        state.withLock { $0.fetchCount }
    }

    /// The refetch to wait for: the one in flight, a new one, or `nil` when throttled.
    private func unknownKeyRefetch() -> Task<Void, Never>? {
        state.withLock { state in
            if let running = state.refetchInFlight {
                return running
            }
            let now = ContinuousClock.now
            if let last = state.lastUnknownKeyRefetch, now - last < minimumRefetchInterval {
                return nil
            }
            state.lastUnknownKeyRefetch = now
            // Created under the lock, so the task's own reset below cannot run before this store.
            let task = Task {
                await self.refresh()
                self.state.withLock { $0.refetchInFlight = nil }
            }
            state.refetchInFlight = task
            return task
        }
    }

    /// Refreshes every ``refreshInterval`` until graceful shutdown, then closes its own client.
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: self.refreshInterval)
                } catch {
                    break
                }
                await self.refresh()
            }
        }
        if ownsHTTPClient {
            await http.shutdown()
        }
    }

    /// Closes the store's own HTTP client when ``run()`` never ran (start-up failed).
    public func shutdown() async {
        if ownsHTTPClient {
            await http.shutdown()
        }
    }

    private func fetch() async throws -> [String: Key] {
        let response = try await http.execute(
            .init(method: "GET", url: url.absoluteString, headers: [("Accept", "application/json")])
        )
        guard (200..<300).contains(response.status) else {
            throw JWKSError("GET \(url.absoluteString) answered HTTP \(response.status)")
        }
        let document: JWKSDocument
        do {
            document = try JSONDecoder().decode(JWKSDocument.self, from: Data(response.body))
        } catch {
            throw JWKSError("the JWKS document is not valid JSON with a keys array")
        }
        var keys: [String: Key] = [:]
        for entry in document.keys {
            guard let (kid, algorithm, jwk) = entry.usableKey() else {
                logger.debug(
                    "JWKS key skipped",
                    metadata: ["kid": "\(entry.kid ?? "-")", "kty": "\(entry.kty ?? "-")"]
                )
                continue
            }
            do {
                let collection = JWTKeyCollection()
                try await collection.add(jwk: jwk)
                keys[kid] = Key(algorithm: algorithm, keys: collection)
            } catch {
                logger.warning("JWKS key rejected", metadata: ["kid": "\(kid)", "error": "\(error)"])
            }
        }
        return keys
    }
}

/// A JWKS fetch that failed; logged, never shown to a client.
struct JWKSError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// `{"keys": [...]}`; each entry is read leniently so that one odd key does not hide the rest.
private struct JWKSDocument: Decodable {
    let keys: [Entry]

    struct Entry: Decodable {
        let kty: String?
        let kid: String?
        let alg: String?
        let use: String?
        let crv: String?
        let n: String?
        let e: String?
        let x: String?
        let y: String?

        enum CodingKeys: String, CodingKey {
            case kty, kid, alg, use, crv, n, e, x, y
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            func string(_ key: CodingKeys) -> String? {
                (try? container.decodeIfPresent(String.self, forKey: key)) ?? nil
            }
            kty = string(.kty)
            kid = string(.kid)
            alg = string(.alg)
            use = string(.use)
            crv = string(.crv)
            n = string(.n)
            e = string(.e)
            x = string(.x)
            y = string(.y)
        }

        /// The key as jwt-kit's `JWK`, pinned to RS256 or ES256, when it is one we accept.
        /// Only public parameters are copied: a private exponent in a JWKS is ignored.
        func usableKey() -> (kid: String, algorithm: String, jwk: JWK)? {
            guard let kid, !kid.isEmpty, use == nil || use == "sig" else { return nil }
            let identifier = JWKIdentifier(string: kid)
            switch kty {
            case "RSA":
                guard alg == nil || alg == "RS256", let n, let e else { return nil }
                return (kid, "RS256", .rsa(.rs256, identifier: identifier, modulus: n, exponent: e))
            case "EC":
                guard crv == "P-256", alg == nil || alg == "ES256", let x, let y else { return nil }
                return (kid, "ES256", .ecdsa(.es256, identifier: identifier, x: x, y: y, curve: .p256))
            default:
                return nil
            }
        }
    }
}
