import AppConfig
import Foundation
import Logging

/// Credential sources, region, endpoints and bucket for S3 and SQS.
public struct AWSConfiguration: Sendable {
    public let region: String
    /// The credential chain's sources (``CredentialChain``) and refresh window.
    public let credentialSources: CredentialSources
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
        // As the SDKs: AWS_REGION, AWS_DEFAULT_REGION, the profile's region, then us-east-1
        // (the instance metadata's region is not asked).
        let (regionVariable, configuredRegion): (String, String?) =
            if let value = environment.string("AWS_REGION") {
                ("AWS_REGION", value)
            } else if let value = environment.string("AWS_DEFAULT_REGION") {
                ("AWS_DEFAULT_REGION", value)
            } else {
                ("AWS_PROFILE", try CredentialSources.profileRegion(environment))
            }
        region = configuredRegion ?? "us-east-1"
        guard region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
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
