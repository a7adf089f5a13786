import AppConfig
import Foundation

/// Credentials, region, endpoints and bucket for S3 and SQS.
public struct AWSConfiguration: Sendable {
    public let region: String
    public let accessKeyID: String?
    public let secretAccessKey: String?
    public let sessionToken: String?
    /// `AWS_ENDPOINT_URL_S3`, else `AWS_ENDPOINT_URL`; `nil` means AWS itself.
    public let s3Endpoint: URL?
    /// `AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`; `nil` means AWS itself.
    public let sqsEndpoint: URL?
    public let forcePathStyle: Bool
    public let bucket: String

    public init(environment: EnvironmentReader, appEnvironment: String) throws {
        region = environment.string("AWS_REGION", default: "us-east-1")
        guard region.allSatisfy({ $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-") }) else {
            throw ConfigurationError(variable: "AWS_REGION", reason: "must look like us-east-1, got '\(region)'")
        }
        accessKeyID = environment.string("AWS_ACCESS_KEY_ID")
        secretAccessKey = environment.string("AWS_SECRET_ACCESS_KEY")
        sessionToken = environment.string("AWS_SESSION_TOKEN")
        if (accessKeyID == nil) != (secretAccessKey == nil) {
            let missing = accessKeyID == nil ? "AWS_ACCESS_KEY_ID" : "AWS_SECRET_ACCESS_KEY"
            throw ConfigurationError(
                variable: missing,
                reason: "is required when the other half of the key pair is set"
            )
        }
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
    }

    /// The static credentials, when both halves are set.
    public var credentials: AWSCredentials? {
        guard let accessKeyID, let secretAccessKey else { return nil }
        return AWSCredentials(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken)
    }

    static func isValidBucketName(_ name: String) -> Bool {
        (3...63).contains(name.count)
            && name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == ".") }
            && name.first.map { $0.isLetter || $0.isNumber } == true
            && name.last.map { $0.isLetter || $0.isNumber } == true
    }
}

extension S3Presigner {
    /// The signer of the photos bucket `configuration` names. Without credentials it still
    /// formats object URLs (`s3_url`); what it would sign is useless, so callers check
    /// `configuration.credentials` first.
    public convenience init(configuration: AWSConfiguration) {
        self.init(
            region: configuration.region,
            credentials: configuration.credentials
                ?? AWSCredentials(accessKeyID: "", secretAccessKey: "", sessionToken: nil),
            endpoint: configuration.s3Endpoint,
            forcePathStyle: configuration.forcePathStyle,
            bucket: configuration.bucket
        )
    }
}
