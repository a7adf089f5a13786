import AppConfig
import Foundation
import Logging

/// Credential sources, region, endpoints and bucket for S3 and SQS.
public struct AWSConfiguration: Sendable {
    /// Where ``region`` came from.
    public enum RegionSource: Sendable, Equatable {
        /// `AWS_REGION` or `AWS_DEFAULT_REGION`, named.
        case variable(String)
        /// The selected profile's `region`.
        case profile
        /// Instance metadata (``resolvingRegion(http:logger:metadataTimeoutMilliseconds:)``).
        case instanceMetadata
        /// A region another setting implies (the relay's queue URL).
        case implied(by: String)
        /// Nothing named one: us-east-1, as the SDKs fall back to.
        case fallback
    }

    public private(set) var region: String
    public private(set) var regionSource: RegionSource
    /// The credential chain's sources (``CredentialChain``) and refresh window.
    public private(set) var credentialSources: CredentialSources
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; `nil` means AWS itself.
    public let s3Endpoint: URL?
    /// `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`; `nil` means AWS itself.
    public let sqsEndpoint: URL?
    public let forcePathStyle: Bool
    public let bucket: String
    /// `APP_ENV`.
    public let appEnvironment: String

    /// - Parameter uploadURLLifetimeSeconds: `UPLOAD_URL_TTL_SECONDS`, which the default
    ///   refresh window keeps clear of.
    public init(environment: EnvironmentReader, appEnvironment: String, uploadURLLifetimeSeconds: Int = 900) throws {
        // As the SDKs: AWS_REGION, AWS_DEFAULT_REGION, the profile's region; instance metadata
        // (asked at start, `resolvingRegion`), then us-east-1.
        let (regionVariable, configuredRegion): (String, String?) =
            if let value = environment.string("AWS_REGION") {
                ("AWS_REGION", value)
            } else if let value = environment.string("AWS_DEFAULT_REGION") {
                ("AWS_DEFAULT_REGION", value)
            } else {
                ("AWS_PROFILE", try CredentialSources.profileRegion(environment))
            }
        region = configuredRegion ?? "us-east-1"
        regionSource =
            configuredRegion == nil ? .fallback : regionVariable == "AWS_PROFILE" ? .profile : .variable(regionVariable)
        guard Self.isValidRegion(region) else {
            throw ConfigurationError(variable: regionVariable, reason: "must look like us-east-1, got '\(region)'")
        }
        self.appEnvironment = appEnvironment
        let sharedEndpoint = try environment.url("AWS_ENDPOINT_URL")
        s3Endpoint = try environment.url("AWS_ENDPOINT_URL_S3") ?? sharedEndpoint
        sqsEndpoint = try environment.url("AWS_ENDPOINT_URL_SQS") ?? sharedEndpoint
        forcePathStyle = try environment.boolean("S3_FORCE_PATH_STYLE", default: s3Endpoint != nil)
        bucket = environment.string("PHOTOS_BUCKET", default: "companycam-photos-\(appEnvironment)")
        guard Self.isValidBucketName(bucket) else {
            throw ConfigurationError(
                variable: "PHOTOS_BUCKET",
                reason: "must be a valid S3 bucket name (3-63 lower-case letters, digits, '-' and '.'), got '\(bucket)'"
            )
        }
        credentialSources = try CredentialSources(
            environment: environment,
            region: region,
            uploadURLLifetimeSeconds: uploadURLLifetimeSeconds
        )
    }

    /// The environment's static credentials, when both halves are set.
    public var credentials: AWSCredentials? { credentialSources.environment }
    public var accessKeyID: String? { credentialSources.environment?.accessKeyID }
    public var secretAccessKey: String? { credentialSources.environment?.secretAccessKey }
    public var sessionToken: String? { credentialSources.environment?.sessionToken }

    /// Whether a process may run without any credentials: only in `development` against a
    /// local endpoint (`AWS_ENDPOINT_URL[_S3|_SQS]`), where emulators take unsigned or any
    /// requests.
    public var allowsMissingCredentials: Bool {
        appEnvironment == "development" && (s3Endpoint != nil || sqsEndpoint != nil)
    }

    /// The process's credential cache through ``CredentialChain/start(sources:http:allowMissing:settings:logger:)``:
    /// `nil` only when ``allowsMissingCredentials``.
    public func startCredentials(http: CurlHTTPClient, logger: Logger) async throws -> CredentialCache? {
        try await CredentialChain.start(
            sources: credentialSources,
            http: http,
            allowMissing: allowsMissingCredentials,
            logger: logger
        )
    }

    /// This configuration with the region instance metadata reports, when nothing configured
    /// one and instance metadata is enabled (as the SDKs do, after the profile); unchanged
    /// otherwise, or when the metadata service does not answer within its short timeout (off
    /// EC2 it never does), in which case us-east-1 stays and a warning says so.
    public func resolvingRegion(
        http: CurlHTTPClient,
        logger: Logger,
        metadataTimeoutMilliseconds: Int = InstanceMetadataCredentialProvider.timeoutMilliseconds
    ) async -> AWSConfiguration {
        guard regionSource == .fallback, let metadata = credentialSources.instanceMetadata else { return self }
        let provider = InstanceMetadataCredentialProvider(
            endpoint: metadata.endpoint,
            http: http,
            timeoutMilliseconds: metadataTimeoutMilliseconds
        )
        do {
            let found = try await provider.region()
            guard Self.isValidRegion(found) else {
                logger.warning(
                    "instance metadata named no valid region; using us-east-1",
                    metadata: ["region": "\(found.prefix(64))"]
                )
                return self
            }
            var resolved = self
            resolved.adopt(region: found, from: .instanceMetadata)
            logger.info("region from instance metadata", metadata: ["region": "\(found)"])
            return resolved
        } catch {
            logger.warning(
                "no region configured and instance metadata did not name one; using us-east-1 (set AWS_REGION)",
                metadata: ["error": "\(error)"]
            )
            return self
        }
    }

    /// Takes `newRegion` as the region. The web identity's STS endpoint follows it when it was
    /// the old region's default, not one an endpoint variable named.
    public mutating func adopt(region newRegion: String, from source: RegionSource) {
        if let webIdentity = credentialSources.webIdentity,
            webIdentity.stsEndpoint == WebIdentityCredentialProvider.regionalEndpoint(region: region)
        {
            credentialSources.webIdentity?.stsEndpoint = WebIdentityCredentialProvider.regionalEndpoint(
                region: newRegion
            )
        }
        region = newRegion
        regionSource = source
    }

    static func isValidRegion(_ region: String) -> Bool {
        !region.isEmpty && region.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }
    }

    static func isValidBucketName(_ name: String) -> Bool {
        (3...63).contains(name.count)
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
            && name.first.map { $0.isLetter || $0.isNumber } == true
            && name.last.map { $0.isLetter || $0.isNumber } == true
    }
}

extension S3Presigner {
    /// The signer of the photos bucket `configuration` names, with `credentials`. Without
    /// credentials (empty keys) it still formats object URLs (`s3_url`).
    public convenience init(configuration: AWSConfiguration, credentials: AWSCredentials? = nil) {
        self.init(
            region: configuration.region,
            credentials: credentials ?? AWSCredentials(accessKeyID: "", secretAccessKey: "", sessionToken: nil),
            endpoint: configuration.s3Endpoint,
            forcePathStyle: configuration.forcePathStyle,
            bucket: configuration.bucket
        )
    }
}
