import AppConfig
import Foundation
import Logging
import ServiceLifecycle

/// The token verifier `makeApplication` needs, built from `AuthConfiguration`, with the
/// services that keep it working (the JWKS refresher).
public struct Authentication: Sendable {
    public let verifier: TokenVerifier
    /// The JWKS key store, when `JWT_JWKS_URL` is set.
    public let keyStore: JWKSKeyStore?

    /// For the application's `ServiceGroup`.
    public var services: [any Service] { keyStore.map { [$0] } ?? [] }

    /// Builds the verifier and, with `JWT_JWKS_URL`, fetches the key set once.
    ///
    /// A failed first fetch does not stop the start: the error is logged and tokens signed with
    /// JWKS keys are refused until a later fetch succeeds, either on the first token with
    /// a `kid` (unknown, since no key is known) or at the next periodic refresh. An identity
    /// provider's outage should not keep the API, and its HS256 callers, down.
    public static func start(configuration: AuthConfiguration, logger: Logger) async throws -> Authentication {
        var keyStore: JWKSKeyStore?
        if let url = configuration.jwksURL {
            let store = JWKSKeyStore(url: url, logger: logger)
            if await store.refresh() {
                logger.info("JWKS loaded", metadata: ["jwks_kids": "\(store.keyIdentifiers)"])
            }
            keyStore = store
        }
        do {
            let verifier = try await TokenVerifier(
                hs256Secret: configuration.hs256Secret,
                jwks: keyStore,
                issuer: configuration.issuer,
                audience: configuration.audience
            )
            return Authentication(verifier: verifier, keyStore: keyStore)
        } catch {
            await keyStore?.shutdown()
            throw error
        }
    }
}
