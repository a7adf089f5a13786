import Foundation
import Synchronization

/// The ``S3Presigner`` of the current credentials: built again only when the
/// ``CredentialCache`` hands out new ones, so a presigner's per-day signing key cache keeps
/// working between refreshes.
public final class S3PresignerSource: Sendable {
    /// What signs, and its credentials' expiration (`nil` for long-lived keys).
    public struct Current: Sendable {
        public let presigner: S3Presigner
        public let credentials: AWSCredentials?
    }

    /// `nil`: no credentials (development against an emulator); ``current()`` then fails.
    public let credentials: CredentialCache?
    /// Formats `s3_url`s, which need no credentials.
    public let urlFormatter: S3Presigner
    private let fixed: S3Presigner?
    private let makePresigner: @Sendable (AWSCredentials) -> S3Presigner
    private let latest = Mutex<Current?>(nil)

    /// - Parameter makePresigner: builds the presigner of a set of credentials (region,
    ///   endpoint, bucket fixed by the caller).
    public init(credentials: CredentialCache?, makePresigner: @escaping @Sendable (AWSCredentials) -> S3Presigner) {
        self.credentials = credentials
        self.makePresigner = makePresigner
        self.fixed = nil
        urlFormatter = makePresigner(AWSCredentials(accessKeyID: "", secretAccessKey: ""))
    }

    /// One presigner for good (tests and tools with fixed keys).
    public init(fixed presigner: S3Presigner) {
        credentials = nil
        fixed = presigner
        urlFormatter = presigner
        makePresigner = { _ in presigner }
    }

    /// The photos bucket of `configuration`, signed with `credentials`' current credentials.
    public convenience init(configuration: AWSConfiguration, credentials: CredentialCache?) {
        self.init(credentials: credentials) { S3Presigner(configuration: configuration, credentials: $0) }
    }

    /// Whether anything can be signed at all.
    public var canSign: Bool { fixed != nil || credentials != nil }

    /// The presigner of the credentials valid now.
    ///
    /// - Throws: ``CredentialError`` (``CredentialError/Code/unavailable``) when there are no
    ///   valid credentials: none configured, or expired and not refreshed.
    public func current() async throws(CredentialError) -> Current {
        if let fixed {
            return Current(presigner: fixed, credentials: nil)
        }
        guard let credentials else {
            throw CredentialError(code: .unavailable, source: "none", message: "no AWS credentials are configured")
        }
        let valid = try await credentials.current()
        return latest.withLock { latest in
            if let latest, latest.credentials == valid {
                return latest
            }
            let current = Current(presigner: makePresigner(valid), credentials: valid)
            latest = current
            return current
        }
    }

    /// The seconds an upload URL signed now with `current` may live: `lifetime`, or what is
    /// left of temporary credentials minus the cache's margin.
    public func urlLifetime(_ lifetime: Int, for current: Current) -> Int {
        guard let credentials, let held = current.credentials else { return lifetime }
        return credentials.urlLifetime(lifetime, for: held)
    }
}
