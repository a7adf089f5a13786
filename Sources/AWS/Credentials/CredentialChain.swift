import Foundation
import Logging

/// The AWS SDKs' default chain over ``CredentialSources``: environment, web identity, shared
/// files, container, instance metadata. The first source that is configured wins; the
/// instance metadata service, which needs no configuration, is the last resort and is only
/// chosen when it answers.
public enum CredentialChain {
    /// The sources in the order they are tried, as the start-up error lists them.
    public static let sourceNames = [
        "environment (AWS_ACCESS_KEY_ID)",
        "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)",
        "shared files (AWS_PROFILE)",
        "container (AWS_CONTAINER_CREDENTIALS_*_URI)",
        "instance metadata (IMDSv2)",
    ]

    /// The configured source that wins, without asking any endpoint; `nil` when only the
    /// instance metadata service is left (or not even that).
    public static func configuredProvider(
        _ sources: CredentialSources,
        http: CurlHTTPClient
    ) -> (any CredentialProvider)? {
        if let credentials = sources.environment {
            return StaticCredentialProvider(name: "environment", credentials: credentials)
        }
        if let webIdentity = sources.webIdentity {
            return WebIdentityCredentialProvider(
                tokenFile: webIdentity.tokenFile,
                roleARN: webIdentity.roleARN,
                sessionName: webIdentity.sessionName,
                stsEndpoint: webIdentity.stsEndpoint,
                http: http
            )
        }
        if let profile = sources.profile {
            return StaticCredentialProvider(
                name: "shared files (profile \(profile.name))",
                credentials: profile.credentials
            )
        }
        if let container = sources.container {
            return ContainerCredentialProvider(
                url: container.url,
                authorizationToken: container.authorizationToken,
                authorizationTokenFile: container.authorizationTokenFile,
                http: http
            )
        }
        return nil
    }

    /// Builds the process's credential cache and fetches the first credentials.
    ///
    /// - A configured source that fails its first fetch still gives a cache: it keeps
    ///   retrying, and requests fail with 503 until it answers.
    /// - With nothing configured, the instance metadata service is asked once; when it does
    ///   not answer (or is disabled) this throws ``NoCredentialSourceError``, unless
    ///   `allowMissing` (development against a local endpoint), which returns `nil` without
    ///   asking it unless `AWS_EC2_METADATA_SERVICE_ENDPOINT` names one.
    public static func start(
        sources: CredentialSources,
        http: CurlHTTPClient,
        allowMissing: Bool,
        settings: CredentialCache.Settings? = nil,
        logger: Logger
    ) async throws -> CredentialCache? {
        let settings = settings ?? CredentialCache.Settings(refreshWindow: .seconds(sources.refreshWindowSeconds))
        if let provider = configuredProvider(sources, http: http) {
            let cache = CredentialCache(provider: provider, settings: settings, logger: logger)
            do {
                try await cache.refreshNow()
                logger.info("AWS credentials from \(provider.name)")
            } catch {
                logger.error("AWS credentials from \(provider.name) are not available yet, retrying: \(error)")
            }
            return cache
        }
        if let metadata = sources.instanceMetadata, !allowMissing || metadata.isExplicit {
            let provider = InstanceMetadataCredentialProvider(endpoint: metadata.endpoint, http: http)
            let cache = CredentialCache(provider: provider, settings: settings, logger: logger)
            do {
                try await cache.refreshNow()
                logger.info("AWS credentials from \(provider.name)")
                return cache
            } catch {
                if allowMissing {
                    logger.warning("no AWS credentials: \(error)")
                    return nil
                }
                throw NoCredentialSourceError(instanceMetadataError: error, instanceMetadataDisabled: false)
            }
        }
        if allowMissing { return nil }
        throw NoCredentialSourceError(
            instanceMetadataError: nil,
            instanceMetadataDisabled: sources.instanceMetadata == nil
        )
    }
}

/// No source of the chain gave credentials: the one line a process prints before exiting 1.
public struct NoCredentialSourceError: Error, Sendable, CustomStringConvertible {
    public let instanceMetadataError: CredentialError?
    public let instanceMetadataDisabled: Bool

    public var description: String {
        let metadata =
            instanceMetadataDisabled
            ? "instance metadata disabled by AWS_EC2_METADATA_DISABLED"
            : "instance metadata: \(instanceMetadataError?.message ?? "no answer")"
        return "no AWS credentials: tried \(CredentialChain.sourceNames.joined(separator: ", ")) (\(metadata))"
    }
}
