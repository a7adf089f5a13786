import API
import AWS
import AppConfig
import Auth
import Foundation
import Operations
import OutboxRelay
import Postgres
import Testing

/// The relay's environment (contract section 2 and the README): documented defaults, values read
/// as set, a lease long enough to start SQS calls, and invalid values named.
@Suite struct RelayConfigurationTests {
    static func make(_ values: [String: String]) throws -> RelayConfiguration {
        try RelayConfiguration(environment: EnvironmentReader(values))
    }

    @Test func defaultsMatchTheContract() throws {
        let configuration = try Self.make(["DETECTION_QUEUE_URL": queueURL])
        #expect(configuration.appEnvironment == "development")
        #expect(configuration.database.settings.connectionString == "")
        #expect(configuration.database.settings.applicationName == "outbox-relay")
        #expect(configuration.aws.region == "us-east-1")
        #expect(configuration.aws.bucket == "companycam-photos-development")
        #expect(configuration.aws.forcePathStyle == false)
        #expect(configuration.queueURL.absoluteString == queueURL)
        #expect(configuration.isFIFOQueue == false)
        #expect(configuration.metricsPort == 9091)
        #expect(configuration.maxAttempts == 10)
        #expect(configuration.backoffBaseMilliseconds == 1000)
        #expect(configuration.backoffMaxMilliseconds == 300_000)
        #expect(configuration.http.idleTimeoutSeconds == 75)
    }

    /// The shortest lease accepted still leaves a claim time to start SQS calls after the
    /// worst-case call and the safety margin are set aside (the lease budget).
    @Test func theShortestLeaseLeavesTimeToStartCalls() throws {
        let tooShort = #expect(throws: ConfigurationError.self) {
            try Self.make(["DETECTION_QUEUE_URL": queueURL, "RELAY_LEASE_SECONDS": "14"])
        }
        #expect(tooShort?.variable == "RELAY_LEASE_SECONDS")
        let configuration = try Self.make(["DETECTION_QUEUE_URL": queueURL, "RELAY_LEASE_SECONDS": "15"])
        let settings = OutboxRelayService.Settings(configuration)
        let claimedAt = ContinuousClock.now
        let lastSendStart = settings.lastSendStart(
            claimedAt: claimedAt,
            sendTimeout: OutboxRelayApplication.sendTimeout
        )
        #expect(lastSendStart - claimedAt == .seconds(2))
        let byDefault = OutboxRelayService.Settings(try Self.make(["DETECTION_QUEUE_URL": queueURL]))
        #expect(
            byDefault.lastSendStart(claimedAt: claimedAt, sendTimeout: OutboxRelayApplication.sendTimeout) - claimedAt
                == .seconds(47)
        )
    }

    @Test func relayDoesNotNeedJWTSettings() throws {
        // The JWT requirement is the API's; the relay starts without either setting.
        _ = try Self.make(["DETECTION_QUEUE_URL": queueURL])
    }

    @Test func explicitValuesAreRead() throws {
        let configuration = try Self.make([
            "DETECTION_QUEUE_URL": "http://127.0.0.1:4566/000000000000/detection",
            "APP_ENV": "test",
            "RELAY_METRICS_PORT": "0",
            "RELAY_MAX_ATTEMPTS": "3",
            "RELAY_BACKOFF_BASE_MS": "10",
            "RELAY_BACKOFF_MAX_MS": "10",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:4566",
        ])
        #expect(configuration.metricsPort == 0)
        #expect(configuration.maxAttempts == 3)
        #expect(configuration.backoffBaseMilliseconds == 10)
        #expect(configuration.backoffMaxMilliseconds == 10)
        #expect(configuration.aws.bucket == "companycam-photos-test")
        #expect(configuration.aws.sqsEndpoint?.absoluteString == "http://127.0.0.1:4566")
        #expect(configuration.aws.forcePathStyle == true)
    }

    @Test(arguments: [
        ("https://sqs.us-east-1.amazonaws.com/123456789012/detection.fifo", true),
        ("http://127.0.0.1:4566/000000000000/detection.fifo", true),
        ("http://127.0.0.1:4566/queue/us-east-1/000000000000/detection.fifo", true),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/detection", false),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/fifo-detection", false),
    ])
    func fifoQueuesAreRecognisedByTheirSuffix(url: String, isFIFO: Bool) throws {
        #expect(try Self.make(["DETECTION_QUEUE_URL": url]).isFIFOQueue == isFIFO)
    }

    static let invalidCases: [InvalidCase] = [
        InvalidCase("DETECTION_QUEUE_URL", ["DETECTION_QUEUE_URL": ""]),
        InvalidCase("DETECTION_QUEUE_URL", ["DETECTION_QUEUE_URL": "detection-requests"]),
        InvalidCase("DETECTION_QUEUE_URL", ["DETECTION_QUEUE_URL": "sqs://queue/q"]),
        // The queue's region must be the signing region (issue 14).
        InvalidCase("DETECTION_QUEUE_URL", ["DETECTION_QUEUE_URL": queueURL, "AWS_REGION": "eu-west-1"]),
        InvalidCase(
            "DETECTION_QUEUE_URL",
            ["DETECTION_QUEUE_URL": "https://eu-west-1.queue.amazonaws.com/1/q", "AWS_DEFAULT_REGION": "us-west-2"]
        ),
        InvalidCase("RELAY_MAX_ATTEMPTS", ["RELAY_MAX_ATTEMPTS": "0"]),
        InvalidCase("HTTP_IDLE_TIMEOUT_SECONDS", ["HTTP_IDLE_TIMEOUT_SECONDS": "0"]),
        InvalidCase("RELAY_MAX_ATTEMPTS", ["RELAY_MAX_ATTEMPTS": "ten"]),
        InvalidCase("RELAY_BACKOFF_BASE_MS", ["RELAY_BACKOFF_BASE_MS": "5000", "RELAY_BACKOFF_MAX_MS": "1000"]),
        InvalidCase("RELAY_BACKOFF_BASE_MS", ["RELAY_BACKOFF_BASE_MS": "0"]),
        InvalidCase("RELAY_BACKOFF_MAX_MS", ["RELAY_BACKOFF_MAX_MS": "-1"]),
        InvalidCase("RELAY_METRICS_PORT", ["RELAY_METRICS_PORT": "-1"]),
        InvalidCase("RELAY_METRICS_PORT", ["RELAY_METRICS_PORT": "65536"]),
        InvalidCase("RELAY_POLL_INTERVAL_MS", ["RELAY_POLL_INTERVAL_MS": "1"]),
        InvalidCase("DATABASE_URL", ["DATABASE_URL": "host=localhost port"]),
        InvalidCase("PHOTOS_BUCKET", ["PHOTOS_BUCKET": "UPPER"]),
        InvalidCase("S3_FORCE_PATH_STYLE", ["S3_FORCE_PATH_STYLE": "maybe"]),
        InvalidCase("AWS_ENDPOINT_URL_SQS", ["AWS_ENDPOINT_URL_SQS": "not a url"]),
        InvalidCase("AWS_SECRET_ACCESS_KEY", ["AWS_ACCESS_KEY_ID": "AKIDEXAMPLE"]),
    ]

    @Test(arguments: invalidCases)
    func invalidVariableIsNamed(testCase: InvalidCase) {
        let environment = ["DETECTION_QUEUE_URL": queueURL].merging(testCase.environment) { _, new in new }
        check(configurationError { _ = try Self.make(environment) }, against: testCase)
    }

    @Test func missingQueueURLIsRequired() {
        let error = configurationError { _ = try Self.make([:]) }
        check(error, against: InvalidCase("DETECTION_QUEUE_URL", [:]))
    }

    /// The region comes from AWS_REGION, then AWS_DEFAULT_REGION, then the profile, then the
    /// queue URL, and a queue in that region is accepted; an endpoint override skips the check.
    @Test func theRegionIsResolvedAsTheSDKsDoAndMatchesTheQueue() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("region-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let config = directory.appendingPathComponent("config")
        try Data("[profile eu]\nregion = eu-central-1\n".utf8).write(to: config)
        let frankfurt = "https://sqs.eu-central-1.amazonaws.com/123456789012/detection"
        let fromProfile = try Self.make([
            "DETECTION_QUEUE_URL": frankfurt, "AWS_PROFILE": "eu", "AWS_CONFIG_FILE": config.path,
        ])
        #expect(fromProfile.aws.region == "eu-central-1")
        let fromDefault = try Self.make([
            "DETECTION_QUEUE_URL": frankfurt, "AWS_DEFAULT_REGION": "eu-central-1", "HOME": directory.path,
        ])
        #expect(fromDefault.aws.region == "eu-central-1")
        let first = try Self.make([
            "DETECTION_QUEUE_URL": queueURL, "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "eu-central-1",
        ])
        #expect(first.aws.region == "us-east-1")
        let local = try Self.make([
            "DETECTION_QUEUE_URL": frankfurt, "AWS_ENDPOINT_URL_SQS": "http://127.0.0.1:4566",
        ])
        #expect(local.aws.region == "us-east-1")
        // No region anywhere: the queue's is the one SQS checks signatures against.
        let implied = try Self.make(["DETECTION_QUEUE_URL": frankfurt, "HOME": directory.path])
        #expect(implied.aws.region == "eu-central-1")
        #expect(implied.aws.regionSource == .implied(by: "DETECTION_QUEUE_URL"))
    }
}
