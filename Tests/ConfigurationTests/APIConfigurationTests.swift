import API
import AWS
import AppConfig
import Auth
import Foundation
import Operations
import OutboxRelay
import Postgres
import Testing

/// photo-api's environment (contract section 2): each default is the documented value, each set
/// variable is read as the value asserted, and each invalid value stops the start with one line
/// naming the variable and never echoing a secret.
@Suite struct APIConfigurationTests {
    static func make(_ values: [String: String]) throws -> APIConfiguration {
        try APIConfiguration(environment: EnvironmentReader(values))
    }

    // MARK: defaults (contract section 2)

    @Test func defaultsMatchTheContract() throws {
        let configuration = try Self.make(["JWT_HS256_SECRET": validSecret])
        #expect(configuration.appEnvironment == "development")
        #expect(configuration.host == "0.0.0.0")
        #expect(configuration.port == 8080)
        #expect(configuration.database.settings.connectionString == "")
        #expect(configuration.database.settings.applicationName == "photo-api")
        #expect(configuration.aws.region == "us-east-1")
        #expect(configuration.aws.accessKeyID == nil)
        #expect(configuration.aws.secretAccessKey == nil)
        #expect(configuration.aws.sessionToken == nil)
        #expect(configuration.aws.s3Endpoint == nil)
        #expect(configuration.aws.sqsEndpoint == nil)
        #expect(configuration.aws.forcePathStyle == false)
        #expect(configuration.aws.bucket == "companycam-photos-development")
        #expect(configuration.auth.hs256Secret == validSecret)
        #expect(configuration.auth.jwksURL == nil)
        #expect(configuration.auth.issuer == nil)
        #expect(configuration.auth.audience == nil)
        #expect(configuration.uploads.maximumBytes == 52_428_800)
        #expect(configuration.uploads.minimumBytes == 1024)
        #expect(configuration.uploads.urlLifetimeSeconds == 900)
        #expect(configuration.uploads.rateLimitPerMinute == 100)
        #expect(configuration.uploads.completeRateLimitPerMinute == 600)
        #expect(configuration.databasePoolSize == 4)
        #expect(configuration.confirmation.storageRetryBaseMilliseconds == 1000)
        #expect(configuration.confirmation.reconcileGraceSeconds == 300)
        #expect(configuration.confirmation.reconcileIntervalSeconds == 60)
        #expect(configuration.confirmation.reconcileBatchSize == 50)
        #expect(configuration.confirmation.reconcileEnabled)
        #expect(configuration.http.idleTimeoutSeconds == 75)
    }

    @Test func emptyValuesCountAsUnset() throws {
        let configuration = try Self.make([
            "JWT_HS256_SECRET": validSecret, "PORT": "", "AWS_ENDPOINT_URL": "", "PHOTOS_BUCKET": "",
        ])
        #expect(configuration.port == 8080)
        #expect(configuration.aws.s3Endpoint == nil)
        #expect(configuration.aws.bucket == "companycam-photos-development")
    }

    @Test func explicitValuesAreRead() throws {
        let configuration = try Self.make([
            "APP_ENV": "staging",
            "HOST": "127.0.0.1",
            "PORT": "0",
            "DATABASE_URL": "postgresql://app@db.internal:5432/photos",
            "AWS_REGION": "eu-west-2",
            "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE",
            "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            "AWS_SESSION_TOKEN": "token",
            "JWT_JWKS_URL": "https://auth.example.com/.well-known/jwks.json",
            "JWT_ISSUER": "https://auth.example.com/",
            "JWT_AUDIENCE": "photo-api",
            "MAX_UPLOAD_BYTES": "10485760",
            "MIN_UPLOAD_BYTES": "1",
            "UPLOAD_URL_TTL_SECONDS": "60",
            "RATE_LIMIT_PER_MINUTE": "5",
        ])
        #expect(configuration.appEnvironment == "staging")
        #expect(configuration.host == "127.0.0.1")
        #expect(configuration.port == 0)
        #expect(configuration.database.settings.connectionString == "postgresql://app@db.internal:5432/photos")
        #expect(configuration.aws.region == "eu-west-2")
        #expect(configuration.aws.accessKeyID == "AKIDEXAMPLE")
        #expect(configuration.aws.sessionToken == "token")
        #expect(configuration.aws.bucket == "companycam-photos-staging")
        #expect(configuration.auth.hs256Secret == nil)
        #expect(configuration.auth.jwksURL?.absoluteString == "https://auth.example.com/.well-known/jwks.json")
        #expect(configuration.auth.issuer == "https://auth.example.com/")
        #expect(configuration.auth.audience == "photo-api")
        #expect(configuration.uploads.maximumBytes == 10_485_760)
        #expect(configuration.uploads.minimumBytes == 1)
        #expect(configuration.uploads.urlLifetimeSeconds == 60)
        #expect(configuration.uploads.rateLimitPerMinute == 5)
    }

    /// `complete` has a budget of its own: setting one limit leaves the other at its default.
    @Test func theCompleteRateLimitIsSeparateFromTheUploadURLLimit() throws {
        let complete = try Self.make(["JWT_HS256_SECRET": validSecret, "COMPLETE_RATE_LIMIT_PER_MINUTE": "7"])
        #expect(complete.uploads.completeRateLimitPerMinute == 7)
        #expect(complete.uploads.rateLimitPerMinute == 100)
        let uploads = try Self.make(["JWT_HS256_SECRET": validSecret, "RATE_LIMIT_PER_MINUTE": "3"])
        #expect(uploads.uploads.rateLimitPerMinute == 3)
        #expect(uploads.uploads.completeRateLimitPerMinute == 600)
    }

    @Test func keyValueDatabaseURLIsAccepted() throws {
        let configuration = try Self.make([
            "JWT_HS256_SECRET": validSecret, "DATABASE_URL": "host=localhost port=5432 dbname=photos",
        ])
        #expect(configuration.database.settings.connectionString == "host=localhost port=5432 dbname=photos")
    }

    // MARK: AWS endpoints and path style

    @Test func forcePathStyleDefaultsToTrueWithAnS3EndpointOverride() throws {
        let shared = try Self.make(["JWT_HS256_SECRET": validSecret, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566"])
        #expect(shared.aws.forcePathStyle == true)
        #expect(shared.aws.s3Endpoint?.absoluteString == "http://127.0.0.1:4566")
        #expect(shared.aws.sqsEndpoint?.absoluteString == "http://127.0.0.1:4566")

        let s3Only = try Self.make(["JWT_HS256_SECRET": validSecret, "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9000"])
        #expect(s3Only.aws.forcePathStyle == true)
        #expect(s3Only.aws.sqsEndpoint == nil)

        // An SQS-only override says nothing about S3 addressing.
        let sqsOnly = try Self.make(["JWT_HS256_SECRET": validSecret, "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324"])
        #expect(sqsOnly.aws.forcePathStyle == false)
        #expect(sqsOnly.aws.s3Endpoint == nil)
        #expect(sqsOnly.aws.sqsEndpoint?.absoluteString == "http://127.0.0.1:9324")
    }

    @Test(arguments: [
        ("true", true), ("1", true), ("YES", true), ("on", true), ("false", false), ("0", false), ("no", false),
        ("Off", false),
    ])
    func forcePathStyleIsReadWhenSet(text: String, expected: Bool) throws {
        let withEndpoint = try Self.make([
            "JWT_HS256_SECRET": validSecret, "AWS_ENDPOINT_URL": "http://127.0.0.1:4566", "S3_FORCE_PATH_STYLE": text,
        ])
        #expect(withEndpoint.aws.forcePathStyle == expected)
        let withoutEndpoint = try Self.make(["JWT_HS256_SECRET": validSecret, "S3_FORCE_PATH_STYLE": text])
        #expect(withoutEndpoint.aws.forcePathStyle == expected)
    }

    @Test func s3SpecificEndpointWinsOverTheSharedOne() throws {
        let configuration = try Self.make([
            "JWT_HS256_SECRET": validSecret,
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
            "AWS_ENDPOINT_URL_S3": "https://s3.local.example:9000",
            "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:9324",
        ])
        #expect(configuration.aws.s3Endpoint?.absoluteString == "https://s3.local.example:9000")
        #expect(configuration.aws.sqsEndpoint?.absoluteString == "http://127.0.0.1:9324")
    }

    @Test func bucketDefaultFollowsAppEnvAndExplicitBucketWins() throws {
        let production = try Self.make(["JWT_HS256_SECRET": validSecret, "APP_ENV": "production"])
        #expect(production.aws.bucket == "companycam-photos-production")
        let explicit = try Self.make([
            "JWT_HS256_SECRET": validSecret, "APP_ENV": "production", "PHOTOS_BUCKET": "my.photos-bucket",
        ])
        #expect(explicit.aws.bucket == "my.photos-bucket")
    }

    // MARK: JWT

    @Test func secretOfExactly32BytesIsAccepted() throws {
        #expect(try Self.make(["JWT_HS256_SECRET": validSecret]).auth.hs256Secret == validSecret)
        // Multi-byte characters count as bytes: 11 × 3 bytes = 33.
        let accented = String(repeating: "€", count: 11)
        #expect(try Self.make(["JWT_HS256_SECRET": accented]).auth.hs256Secret == accented)
    }

    @Test func jwksAloneIsEnough() throws {
        let configuration = try Self.make(["JWT_JWKS_URL": "http://127.0.0.1:8081/jwks.json"])
        #expect(configuration.auth.hs256Secret == nil)
        #expect(configuration.auth.jwksURL?.absoluteString == "http://127.0.0.1:8081/jwks.json")
    }

    @Test func shortSecretIsRejectedWithoutEchoingIt() {
        let secret = "short-secret-31-bytes-long-abcd"
        #expect(secret.utf8.count == 31)
        let error = configurationError { _ = try Self.make(["JWT_HS256_SECRET": secret]) }
        check(error, against: InvalidCase("JWT_HS256_SECRET", [:], mustNotContain: secret))
        #expect(error.map { String(describing: $0).contains("32") } == true)
    }

    @Test func missingBothJWTSettingsIsRejected() {
        let error = configurationError { _ = try Self.make([:]) }
        check(error, against: InvalidCase("JWT_HS256_SECRET", [:]))
        #expect(error.map { String(describing: $0).contains("JWT_JWKS_URL") } == true)
    }

    // MARK: JWT outside development

    static let jwksIssuerAudience = [
        "JWT_JWKS_URL": "https://auth.example.com/.well-known/jwks.json",
        "JWT_ISSUER": "https://auth.example.com/",
        "JWT_AUDIENCE": "photo-api",
    ]

    /// Outside `APP_ENV=development` the JWKS travels over TLS and tokens must name their issuer
    /// and audience; each missing piece stops the start with the variable at fault.
    static let productionJWTCases: [InvalidCase] = [
        InvalidCase(
            "JWT_JWKS_URL",
            ["APP_ENV": "production", "JWT_JWKS_URL": "http://auth.example.com/jwks.json"]
        ),
        InvalidCase("JWT_JWKS_URL", ["JWT_JWKS_URL": "http://127.0.0.1.example.com/jwks.json"]),
        InvalidCase("JWT_JWKS_URL", ["JWT_JWKS_URL": "http://localhost.example.com/jwks.json"]),
        InvalidCase("JWT_JWKS_URL", ["JWT_JWKS_URL": "http://128.0.0.1/jwks.json"]),
        InvalidCase("JWT_JWKS_URL", ["JWT_JWKS_URL": "http://10.0.0.7:8080/jwks.json"]),
        InvalidCase("JWT_JWKS_URL", ["APP_ENV": "staging", "JWT_JWKS_URL": "http://[::2]/jwks.json"]),
        InvalidCase("JWT_ISSUER", ["JWT_ISSUER": ""]),
        InvalidCase("JWT_AUDIENCE", ["JWT_AUDIENCE": ""]),
        InvalidCase("JWT_ISSUER", ["APP_ENV": "staging", "JWT_ISSUER": "", "JWT_HS256_SECRET": validSecret]),
    ]

    @Test(arguments: productionJWTCases)
    func productionJWTSettingsAreRequired(testCase: InvalidCase) {
        let environment = Self.jwksIssuerAudience.merging(["APP_ENV": "production"]) { _, new in new }
            .merging(testCase.environment) { _, new in new }
        check(configurationError { _ = try Self.make(environment) }, against: testCase)
    }

    @Test(arguments: [
        "http://127.0.0.1:8081/jwks.json", "http://127.4.5.6/jwks.json", "http://localhost:8081/jwks.json",
        "http://LOCALHOST/jwks.json", "http://[::1]:8081/jwks.json", "https://auth.example.com/jwks.json",
    ])
    func productionAcceptsHTTPSAndLoopbackJWKS(url: String) throws {
        let environment = Self.jwksIssuerAudience.merging(["APP_ENV": "production", "JWT_JWKS_URL": url]) { $1 }
        #expect(try Self.make(environment).auth.jwksURL?.absoluteString == url)
    }

    /// Development keeps its shortcuts, and HS256 alone asks for no issuer or audience anywhere.
    @Test func developmentAndHS256AloneKeepTheirDefaults() throws {
        let development = try Self.make(["JWT_JWKS_URL": "http://auth.internal/jwks.json"])
        #expect(development.auth.issuer == nil)
        let production = try Self.make(["APP_ENV": "production", "JWT_HS256_SECRET": validSecret])
        #expect(production.auth.audience == nil)
    }

    // MARK: every invalid variable is named

    static let invalidCases: [InvalidCase] = [
        InvalidCase("PORT", ["PORT": "abc"]),
        InvalidCase("PORT", ["PORT": "70000"]),
        InvalidCase("PORT", ["PORT": "-1"]),
        InvalidCase("PORT", ["PORT": "80.5"]),
        InvalidCase("MAX_UPLOAD_BYTES", ["MAX_UPLOAD_BYTES": "-1"]),
        InvalidCase("MAX_UPLOAD_BYTES", ["MAX_UPLOAD_BYTES": "0"]),
        InvalidCase("MAX_UPLOAD_BYTES", ["MAX_UPLOAD_BYTES": "50MB"]),
        InvalidCase("MIN_UPLOAD_BYTES", ["MIN_UPLOAD_BYTES": "-5"]),
        InvalidCase("MIN_UPLOAD_BYTES", ["MIN_UPLOAD_BYTES": "2048", "MAX_UPLOAD_BYTES": "1024"]),
        InvalidCase("UPLOAD_URL_TTL_SECONDS", ["UPLOAD_URL_TTL_SECONDS": "0"]),
        InvalidCase("UPLOAD_URL_TTL_SECONDS", ["UPLOAD_URL_TTL_SECONDS": "604801"]),
        InvalidCase("RATE_LIMIT_PER_MINUTE", ["RATE_LIMIT_PER_MINUTE": "x"]),
        InvalidCase("RATE_LIMIT_PER_MINUTE", ["RATE_LIMIT_PER_MINUTE": "0"]),
        InvalidCase("COMPLETE_RATE_LIMIT_PER_MINUTE", ["COMPLETE_RATE_LIMIT_PER_MINUTE": "x"]),
        InvalidCase("COMPLETE_RATE_LIMIT_PER_MINUTE", ["COMPLETE_RATE_LIMIT_PER_MINUTE": "0"]),
        InvalidCase("COMPLETE_RATE_LIMIT_PER_MINUTE", ["COMPLETE_RATE_LIMIT_PER_MINUTE": "1000001"]),
        InvalidCase("AWS_ENDPOINT_URL", ["AWS_ENDPOINT_URL": "not-a-url"]),
        InvalidCase("AWS_ENDPOINT_URL", ["AWS_ENDPOINT_URL": "http://"]),
        InvalidCase("AWS_ENDPOINT_URL_S3", ["AWS_ENDPOINT_URL_S3": "ftp://x"]),
        InvalidCase("AWS_ENDPOINT_URL_SQS", ["AWS_ENDPOINT_URL_SQS": "localhost:9324"]),
        InvalidCase("S3_FORCE_PATH_STYLE", ["S3_FORCE_PATH_STYLE": "maybe"]),
        InvalidCase("JWT_JWKS_URL", ["JWT_JWKS_URL": "jwks.json"]),
        InvalidCase("JWT_JWKS_URL", ["JWT_JWKS_URL": "file:///etc/jwks.json"]),
        InvalidCase("DATABASE_URL", ["DATABASE_URL": "host=localhost port"]),
        InvalidCase("DATABASE_URL", ["DATABASE_URL": "postgresql://db.internal/photos?no_such_option=1"]),
        InvalidCase("DATABASE_URL", ["DATABASE_URL": "host='unterminated"]),
        InvalidCase("PHOTOS_BUCKET", ["PHOTOS_BUCKET": "Bad_Bucket"]),
        InvalidCase("PHOTOS_BUCKET", ["PHOTOS_BUCKET": "ab"]),
        InvalidCase("PHOTOS_BUCKET", ["PHOTOS_BUCKET": "-starts-with-dash"]),
        InvalidCase("PHOTOS_BUCKET", ["PHOTOS_BUCKET": String(repeating: "a", count: 64)]),
        InvalidCase("AWS_REGION", ["AWS_REGION": "US East 1"]),
        InvalidCase("DATABASE_POOL_SIZE", ["DATABASE_POOL_SIZE": "0"]),
        InvalidCase("STORAGE_RETRY_BASE_MS", ["STORAGE_RETRY_BASE_MS": "-1"]),
        InvalidCase("RECONCILE_GRACE_SECONDS", ["RECONCILE_GRACE_SECONDS": "soon"]),
        InvalidCase("RECONCILE_INTERVAL_SECONDS", ["RECONCILE_INTERVAL_SECONDS": "0"]),
        InvalidCase("RECONCILE_BATCH", ["RECONCILE_BATCH": "1001"]),
        InvalidCase("RECONCILE_ENABLED", ["RECONCILE_ENABLED": "sometimes"]),
        InvalidCase("HTTP_IDLE_TIMEOUT_SECONDS", ["HTTP_IDLE_TIMEOUT_SECONDS": "0"]),
        InvalidCase("HTTP_IDLE_TIMEOUT_SECONDS", ["HTTP_IDLE_TIMEOUT_SECONDS": "3601"]),
        InvalidCase("HTTP_IDLE_TIMEOUT_SECONDS", ["HTTP_IDLE_TIMEOUT_SECONDS": "1m"]),
        // The missing half of the key pair is the variable at fault; the present half is a secret
        // or an identifier, never echoed.
        InvalidCase("AWS_SECRET_ACCESS_KEY", ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"]),
        InvalidCase(
            "AWS_ACCESS_KEY_ID",
            ["AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"],
            mustNotContain: "wJalrXUtnFEMI"
        ),
        // The credential chain's sources (issue 14).
        InvalidCase(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            ["AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://10.1.2.3/creds"]
        ),
        InvalidCase("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", ["AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "creds"]),
        InvalidCase("AWS_ROLE_ARN", ["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token"]),
        InvalidCase("AWS_ROLE_ARN", ["AWS_WEB_IDENTITY_TOKEN_FILE": "/var/run/token", "AWS_ROLE_ARN": "photo-api"]),
        InvalidCase("AWS_PROFILE", ["AWS_PROFILE": "nowhere", "HOME": "/nonexistent"]),
        InvalidCase("AWS_CONFIG_FILE", ["AWS_CONFIG_FILE": "/nonexistent/config"]),
        InvalidCase("AWS_EC2_METADATA_DISABLED", ["AWS_EC2_METADATA_DISABLED": "perhaps"]),
        InvalidCase("AWS_EC2_METADATA_SERVICE_ENDPOINT", ["AWS_EC2_METADATA_SERVICE_ENDPOINT": "169.254.169.254"]),
        InvalidCase("AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS", ["AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS": "soon"]),
    ]

    /// The refresh window keeps an upload URL's lifetime clear by default (issue 14).
    @Test func theCredentialRefreshWindowFollowsTheUploadURLLifetime() throws {
        let defaults = try Self.make(["JWT_HS256_SECRET": validSecret])
        #expect(defaults.aws.credentialSources.refreshWindowSeconds == 1200)
        #expect(defaults.aws.allowsMissingCredentials == false)
        let shorter = try Self.make(["JWT_HS256_SECRET": validSecret, "UPLOAD_URL_TTL_SECONDS": "600"])
        #expect(shorter.aws.credentialSources.refreshWindowSeconds == 900)
        let explicit = try Self.make([
            "JWT_HS256_SECRET": validSecret, "AWS_CREDENTIALS_REFRESH_WINDOW_SECONDS": "120",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        ])
        #expect(explicit.aws.credentialSources.refreshWindowSeconds == 120)
        #expect(explicit.aws.allowsMissingCredentials)
    }

    @Test(arguments: invalidCases)
    func invalidVariableIsNamed(testCase: InvalidCase) {
        let environment = ["JWT_HS256_SECRET": validSecret].merging(testCase.environment) { _, new in new }
        check(configurationError { _ = try Self.make(environment) }, against: testCase)
    }

    /// libpq's parser quotes the token it could not decode; for a URL whose password holds a
    /// bad percent-escape, that token is the password.
    @Test func malformedDatabaseURLDoesNotEchoThePassword() {
        let testCase = InvalidCase(
            "DATABASE_URL",
            ["DATABASE_URL": "postgresql://app:hunter2pass%zz@db.internal/photos"],
            mustNotContain: "hunter2pass"
        )
        let environment = ["JWT_HS256_SECRET": validSecret].merging(testCase.environment) { _, new in new }
        check(configurationError { _ = try Self.make(environment) }, against: testCase)
    }

    @Test func invalidValueIsEchoedForNonSecretVariables() {
        let error = configurationError { _ = try Self.make(["JWT_HS256_SECRET": validSecret, "PORT": "abc"]) }
        #expect(error.map { String(describing: $0) }?.contains("'abc'") == true)
    }
}
