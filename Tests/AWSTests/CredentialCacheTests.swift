import Foundation
import Logging
import MetricsTestKit
import Synchronization
import TestSupport
import Testing

@testable import AWS

/// The refreshing cache against a stub container credentials endpoint handing out rotating
/// keys, on a manual clock: refreshed once per rotation (not per request), ahead of expiry,
/// in the background; failures keep the old keys and back off.
@Suite struct CredentialCacheTests {
    /// A stub container endpoint on a manual clock, the token file its provider reads
    /// (holding `token`), and a cache over it with `settings`.
    struct Fixture: Sendable {
        let stub: CredentialStubServer
        let clock: ManualClock
        let tokenFile: URL
        let cache: CredentialCache
        let baseURL: String
        let http: CurlHTTPClient
    }

    private static func withContainerEndpoint(
        settings: CredentialCache.Settings,
        lifetime: TimeInterval = 600,
        fixedExpirationAfter: TimeInterval? = nil,
        _ body: @escaping @Sendable (Fixture) async throws -> Void
    ) async throws {
        try await CredentialProviderTests.withDirectory { directory in
            let tokenFile = directory.appendingPathComponent("token")
            try CredentialProviderTests.write("token", to: tokenFile)
            let clock = ManualClock()
            let stub = CredentialStubServer(clock: clock)
            stub.setLifetime(lifetime)
            if let fixedExpirationAfter {
                stub.setFixedExpiration(clock.now.addingTimeInterval(fixedExpirationAfter))
            }
            let http = CurlHTTPClient(concurrency: 2)
            try await stub.run { base in
                let provider = ContainerCredentialProvider(
                    url: try #require(URL(string: base + "/container")),
                    authorizationToken: nil,
                    authorizationTokenFile: tokenFile.path,
                    http: http,
                    retryDelay: .zero,
                    // A fetch that outlives botocore's 2 s on a saturated machine would be
                    // retried and counted as a second rotation: these tests count fetches.
                    timeoutMilliseconds: 30_000
                )
                let cache = CredentialCache(provider: provider, settings: settings, now: clock.function)
                try await body(
                    Fixture(stub: stub, clock: clock, tokenFile: tokenFile, cache: cache, baseURL: base, http: http)
                )
            }
            await http.shutdown()
        }
    }

    /// A presigner source over `cache` for one bucket.
    private static func presigners(_ cache: CredentialCache, region: String = "us-east-1") -> S3PresignerSource {
        S3PresignerSource(credentials: cache) { credentials in
            S3Presigner(
                region: region,
                credentials: credentials,
                endpoint: nil,
                forcePathStyle: false,
                bucket: "photos-test"
            )
        }
    }

    @Test func rotatingKeysAreRefreshedOncePerRotationAndTheTokenFileIsReread() async throws {
        try await Self.withContainerEndpoint(
            settings: .init(refreshWindow: .seconds(120), expiryMargin: .seconds(30)),
            lifetime: 600
        ) { world in
            let (stub, clock, cache) = (world.stub, world.clock, world.cache)
            try CredentialProviderTests.write("token-one\n", to: world.tokenFile)
            try await cache.refreshNow()
            var seen: [String] = []
            for rotation in 1...3 {
                // Inside the window's reach: many requests, no fetch.
                for _ in 0..<25 {
                    seen.append(try await cache.current().accessKeyID)
                }
                #expect(stub.generation == rotation)
                if rotation == 2 {
                    try CredentialProviderTests.write("token-two", to: world.tokenFile)
                }
                // Less than the window left: requests still get the current keys at once,
                // and exactly one refresh runs behind them.
                clock.advance(seconds: 500)
                for _ in 0..<25 {
                    seen.append(try await cache.current().accessKeyID)
                }
                await cache.waitForRefresh()
                #expect(stub.generation == rotation + 1)
                #expect(try await cache.current().accessKeyID == "AKIDGEN\(rotation + 1)")
            }
            #expect(cache.refreshCount == 4)
            #expect(Set(seen) == ["AKIDGEN1", "AKIDGEN2", "AKIDGEN3"])
            #expect(stub.requests.map(\.authorization) == ["token-one", "token-one", "token-two", "token-two"])
        }
    }

    /// A source that keeps answering the same expiry is not asked once per request: the
    /// window is at most half the lifetime the credentials had when fetched, so each answer
    /// with the same expiry is good until half of what was left is gone.
    @Test func theSameExpiryAgainDoesNotStartARefreshLoop() async throws {
        try await Self.withContainerEndpoint(
            settings: .init(refreshWindow: .seconds(900), expiryMargin: .seconds(10)),
            fixedExpirationAfter: 1000
        ) { world in
            let (stub, clock, cache) = (world.stub, world.clock, world.cache)
            try await cache.refreshNow()
            /// 50 requests, each given the time to start a refresh if it would.
            func requests() async throws {
                for _ in 0..<50 {
                    _ = try await cache.current()
                    await cache.waitForRefresh()
                }
            }
            // 100 s left, less than the window: one refresh, which answers the same expiry.
            clock.advance(seconds: 900)
            try await requests()
            #expect(stub.generation == 2)
            // 94 s left of the 100 s the answer had: not due again.
            clock.advance(seconds: 6)
            try await requests()
            #expect(stub.generation == 2)
            // 49 s left, under half of 100: asked once more.
            clock.advance(seconds: 45)
            try await requests()
            #expect(stub.generation == 3)
        }
    }

    /// Expired keys and the endpoint down: callers fail at once with a typed error (no wait,
    /// no fetch per request during the backoff), the presigner source too; when the endpoint
    /// is back, the next call after the backoff recovers.
    @Test func expiredCredentialsWithTheEndpointDownFailTypedAndRecover() async throws {
        try await Self.withContainerEndpoint(
            settings: .init(
                refreshWindow: .seconds(60),
                expiryMargin: .seconds(30),
                retryBase: .seconds(10),
                retryMaximum: .seconds(10)
            ),
            lifetime: 300
        ) { world in
            let (stub, clock, cache) = (world.stub, world.clock, world.cache)
            let presigners = Self.presigners(cache)
            try await cache.refreshNow()
            let before = try await presigners.current()
            #expect(before.presigner.accessKeyID == "AKIDGEN1")
            stub.setDown(true)
            // Within the window, the failed background refresh keeps the old keys.
            clock.advance(seconds: 250)
            #expect(try await cache.current().accessKeyID == "AKIDGEN1")
            await cache.waitForRefresh()
            #expect(try await cache.current().accessKeyID == "AKIDGEN1")
            // Past expiry (minus the margin): the first caller waits for one more try, which
            // fails; a typed error.
            clock.advance(seconds: 30)
            await #expect(throws: CredentialError.self) { _ = try await presigners.current() }
            // During the backoff the next callers fail at once, without a fetch each.
            let requestsBefore = stub.requests.count
            for _ in 0..<10 {
                await #expect(throws: CredentialError.self) { _ = try await presigners.current() }
            }
            #expect(stub.requests.count == requestsBefore)
            // The backoff is over and the endpoint answers again.
            stub.setDown(false)
            clock.advance(seconds: 10)
            let after = try await presigners.current()
            #expect(after.presigner.accessKeyID == "AKIDGEN2")
            #expect(after.credentials?.sessionToken == "token/2+==")
        }
    }

    /// With temporary credentials an upload URL lives no longer than they do, minus the margin.
    @Test func urlLifetimeIsCappedByTheCredentialsRemainingLife() async throws {
        let clock = ManualClock()
        let expiring = AWSCredentials(
            accessKeyID: "ASIA",
            secretAccessKey: "s",
            sessionToken: "t",
            expiration: clock.now.addingTimeInterval(400)
        )
        let cache = CredentialCache(
            provider: StaticCredentialProvider(name: "test", credentials: expiring),
            settings: .init(refreshWindow: .seconds(100), expiryMargin: .seconds(60)),
            now: clock.function
        )
        #expect(cache.urlLifetime(900, for: expiring) == 340)
        #expect(cache.urlLifetime(300, for: expiring) == 300)
        let longLived = AWSCredentials(accessKeyID: "AKIA", secretAccessKey: "s")
        #expect(cache.urlLifetime(900, for: longLived) == 900)
    }

    /// A presigner made from refreshed session credentials signs exactly as botocore does.
    @Test func signingWithRefreshedSessionCredentialsMatchesBotocore() async throws {
        try await Self.withContainerEndpoint(settings: .init(refreshWindow: .seconds(60))) { world in
            let presigners = Self.presigners(world.cache, region: "eu-west-1")
            let key = "p/2026/12/06/a b+c.jpg"
            let timestamp = 1_800_000_000
            var cases: [Botocore.Case] = []
            var ours: [String] = []
            for _ in 0..<2 {
                try await world.cache.refreshNow()
                let current = try await presigners.current()
                let credentials = try #require(current.credentials)
                ours.append(
                    current.presigner.presignPut(
                        key: key,
                        contentType: "image/jpeg",
                        contentLength: 2048,
                        checksumSHA256: nil,
                        expiresIn: 300,
                        now: Date(timeIntervalSince1970: Double(timestamp))
                    ).url
                )
                cases.append(
                    Botocore.Case(
                        region: "eu-west-1",
                        bucket: "photos-test",
                        key: key,
                        content_type: "image/jpeg",
                        content_length: 2048,
                        expires: 300,
                        timestamp: timestamp,
                        access_key: credentials.accessKeyID,
                        secret_key: credentials.secretAccessKey,
                        session_token: credentials.sessionToken,
                        addressing_style: "virtual"
                    )
                )
            }
            #expect(Set(cases.map(\.access_key)) == ["AKIDGEN1", "AKIDGEN2"])
            let botocore = try await Botocore.presignedURLs(for: cases)
            #expect(ours == botocore.urls)
        }
    }

    /// SQS answering `ExpiredToken` to keys the source has revoked early: the client forces one
    /// refresh and retries once with the new keys, and the call succeeds (the relay's
    /// delivery goes on and dead-letters nothing). The same keys again cause no loop.
    @Test func anExpiredTokenAnswerForcesOneRefreshAndOneRetry() async throws {
        try await Self.withContainerEndpoint(settings: .init(refreshWindow: .seconds(60))) { world in
            let (stub, cache) = (world.stub, world.cache)
            try await cache.refreshNow()
            let sqs = SQSClient(
                endpoint: try #require(URL(string: "\(world.baseURL)/sqs")).absoluteString,
                queueURL: "\(world.baseURL)/sqs/123456789012/detection",
                region: "us-east-1",
                credentials: cache,
                http: world.http
            )
            let entries = [SQSClient.Entry(id: "a", body: "{}"), SQSClient.Entry(id: "b", body: "{}")]
            #expect(
                try await sqs.sendMessageBatch(entries) == ["a": .sent(messageID: "m-a"), "b": .sent(messageID: "m-b")]
            )
            stub.revokeKeysHandedOut()
            #expect(
                try await sqs.sendMessageBatch(entries) == ["a": .sent(messageID: "m-a"), "b": .sent(messageID: "m-b")]
            )
            #expect(stub.signedKeyGenerations == [1, 1, 2])
            #expect(stub.generation == 2)

            // Keys that stay refused (here: the source is down, so nothing new comes): the
            // refusal is an outage after one forced refresh, not a loop.
            stub.revokeKeysHandedOut()
            stub.setDown(true)
            await #expect(throws: SQSClient.BatchError.self) { _ = try await sqs.sendMessageBatch(entries) }
            let refreshes = cache.refreshCount
            await #expect(throws: SQSClient.BatchError.self) { _ = try await sqs.sendMessageBatch(entries) }
            #expect(cache.refreshCount == refreshes)
            #expect(stub.signedKeyGenerations == [1, 1, 2, 2, 2])
        }
    }

    /// S3 refusing a HEAD (403) signed with keys revoked early: one forced refresh and one
    /// immediate retry with the new keys, before any of the reader's transient retries.
    @Test func anS3RefusalForcesOneRefreshAndOneRetry() async throws {
        try await Self.withContainerEndpoint(settings: .init(refreshWindow: .seconds(60))) { world in
            let (stub, cache) = (world.stub, world.cache)
            try await cache.refreshNow()
            let endpoint = try #require(URL(string: "\(world.baseURL)/s3"))
            let presigners = S3PresignerSource(credentials: cache) { credentials in
                S3Presigner(
                    region: "us-east-1",
                    credentials: credentials,
                    endpoint: endpoint,
                    forcePathStyle: true,
                    bucket: "photos-test"
                )
            }
            let reader = S3ObjectReader(presigners: presigners, http: world.http, retryDelays: [])
            stub.revokeKeysHandedOut()
            let info = try await reader.head(key: "object.jpg")
            #expect(info?.size == 1234)
            #expect(stub.signedKeyGenerations == [1, 2])
        }
    }

    /// A source answering from a script: credentials or failures, in order.
    private final class ScriptedProvider: CredentialProvider {
        let name = "scripted"
        let answers: Mutex<[Result<AWSCredentials, CredentialError>]>

        init(answers: [Result<AWSCredentials, CredentialError>]) {
            self.answers = Mutex(answers)
        }

        func credentials() async throws(CredentialError) -> AWSCredentials {
            let next = answers.withLock { $0.isEmpty ? nil : $0.removeFirst() }
            guard let next else {
                throw CredentialError(code: .fetchFailed, source: name, message: "script ended")
            }
            return try next.get()
        }
    }

    /// `aws_credentials_refreshes_total{outcome}` counts fetches; the expiration gauge follows
    /// the held credentials.
    @Test func refreshesAreCountedAndTheExpirationIsExported() async throws {
        let clock = ManualClock()
        let metrics = TestMetrics()
        let expiration = clock.now.addingTimeInterval(3600)
        let failure = CredentialError(code: .fetchFailed, source: "scripted", message: "down")
        let cache = CredentialCache(
            provider: ScriptedProvider(answers: [
                .failure(failure),
                .success(AWSCredentials(accessKeyID: "A", secretAccessKey: "s", expiration: expiration)),
            ]),
            settings: .init(refreshWindow: .seconds(60), retryBase: .seconds(1)),
            metrics: metrics,
            now: clock.function
        )
        await #expect(throws: CredentialError.self) { try await cache.refreshNow() }
        clock.advance(seconds: 2)
        #expect(try await cache.current().accessKeyID == "A")
        #expect(try metrics.expectCounter("aws_credentials_refreshes_total", [("outcome", "failure")]).totalValue == 1)
        #expect(try metrics.expectCounter("aws_credentials_refreshes_total", [("outcome", "success")]).totalValue == 1)
        let gauge = try metrics.expectGauge("aws_credentials_expiration_timestamp_seconds")
        #expect(gauge.lastValue == expiration.timeIntervalSince1970)
    }

    /// As a service, the cache fetches on its own: after a failed start it retries at the end
    /// of the backoff, with no request asking.
    @Test func theServiceRetriesAfterTheBackoffWithoutARequest() async throws {
        let cache = CredentialCache(
            provider: ScriptedProvider(answers: [
                .failure(CredentialError(code: .fetchFailed, source: "scripted", message: "down")),
                .success(
                    AWSCredentials(accessKeyID: "A", secretAccessKey: "s", expiration: Date().addingTimeInterval(3600))
                ),
            ]),
            settings: .init(refreshWindow: .seconds(60), retryBase: .milliseconds(100)),
            metrics: TestMetrics()
        )
        await #expect(throws: CredentialError.self) { try await cache.refreshNow() }
        #expect(cache.unavailability != nil)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await cache.run() }
            // A generous deadline: only a lower bound on how fast the machine is.
            let deadline = ContinuousClock.now + .seconds(20)
            while cache.refreshCount < 2, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
            group.cancelAll()
        }
        #expect(cache.refreshCount == 2)
        #expect(cache.unavailability == nil)
    }
}
