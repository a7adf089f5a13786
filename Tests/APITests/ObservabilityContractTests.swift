import AWS
import AuthTestSupport
import Foundation
import Postgres
import Synchronization
import TestSupport
import Testing

/// The metrics an SRE reads, from the real executables after one photo went through both:
/// `photo-api` (against a stub S3) confirms an upload, `outbox-relay` delivers its event to a
/// private SQS (moto), and then
///
/// - each process's `/metrics` shows `build_info`, the `process_*` metrics, the database pool,
///   the S3 or SQS calls, readiness and (the relay) the breaker state, with the values this
///   traffic gives;
/// - every metric name `deploy/prometheus/alerts.yaml` and `deploy/grafana/photo-upload.json`
///   use is one of the names the two processes export here (the names come from the scrape, not
///   from a list kept by hand);
/// - `promtool check metrics` finds nothing wrong with either exposition but missing `HELP`
///   lines (swift-metrics has no help text).
@Suite(.requiresDatabase, .offTheCooperativePool) struct ObservabilityContractTests {
    @Test func metricsAfterOnePhotoAndTheNamesAlertsAndDashboardUse() async throws {
        let (api, relay) = try await Self.scrapeAfterOnePhoto()

        // Both processes: which build, the process, the pool, readiness.
        let version = try await ChildProcess.run(try TestPaths.executable("photo-api"), ["--version"])
        let commit = try #require(
            version.standardOutput.firstMatch(of: /\(commit ([^)]+)\)/).map { String($0.output.1) }
        )
        for (process, text) in [("photo-api", api), ("outbox-relay", relay)] {
            func sample(_ name: String, _ labels: [String] = []) -> Double? {
                MetricsEndpointTests.sample(text, name, labels)
            }
            #expect(sample("build_info", [#"version="1.0.0""#, #"commit="\#(commit)""#]) == 1, "\(process)")
            let cpu = try #require(sample("process_cpu_seconds_total"), "\(process)")
            #expect(cpu > 0 && cpu < 3600, "\(process) CPU \(cpu)")
            let resident = try #require(sample("process_resident_memory_bytes"))
            #expect(resident > 1_000_000 && resident < 4_000_000_000, "\(process) RSS \(resident)")
            #expect(try #require(sample("process_virtual_memory_bytes")) >= resident)
            let fds = try #require(sample("process_open_fds"))
            #expect(fds >= 5 && fds < 1000, "\(process) open fds \(fds)")
            #expect(try #require(sample("process_max_fds")) >= fds)
            let started = try #require(sample("process_start_time_seconds"))
            let now = Date().timeIntervalSince1970
            #expect(started > now - 600 && started <= now + 1, "\(process) started at \(started), now \(now)")

            let inUse = try #require(sample("postgres_pool_connections", [#"state="in_use""#]))
            let idle = try #require(sample("postgres_pool_connections", [#"state="idle""#]))
            #expect(inUse + idle >= 1, "\(process) pool")
            #expect(sample("postgres_pool_waiting_borrowers") == 0)
            #expect(try #require(sample("postgres_pool_wait_seconds_count")) >= 2, "\(process) borrows")
            #expect(sample("postgres_pool_wait_timeouts_total") == 0)

            #expect(sample("readiness_ready") == 1, "\(process) answered /readyz 200")
            #expect(sample("readiness_changes_total") == 0)
        }
        #expect(MetricsEndpointTests.sample(api, "postgres_pool_max_connections") == 3)

        // photo-api's S3 calls: one HEAD and one ranged GET for the confirmed photo.
        let s3 = [#"service="s3""#]
        #expect(
            MetricsEndpointTests.sample(
                api,
                "aws_client_requests_total",
                s3 + [#"operation="HeadObject""#, #"outcome="success""#]
            ) == 1
        )
        #expect(
            MetricsEndpointTests.sample(
                api,
                "aws_client_requests_total",
                s3 + [#"operation="GetObject""#, #"outcome="success""#]
            ) == 1
        )
        #expect(
            MetricsEndpointTests.sample(
                api,
                "aws_client_requests_total",
                s3 + [#"operation="HeadObject""#, #"outcome="server_error""#]
            ) == 0
        )
        #expect(
            MetricsEndpointTests.sample(
                api,
                "aws_client_request_duration_seconds_count",
                s3 + [#"operation="HeadObject""#, #"outcome="success""#]
            ) == 1
        )
        #expect(MetricsEndpointTests.sample(api, "photo_reconciled_total", [#"outcome="error""#]) == 0)

        // The relay's SQS call, its delivery and its breaker.
        let sqs = [#"service="sqs""#, #"operation="SendMessageBatch""#]
        #expect(MetricsEndpointTests.sample(relay, "aws_client_requests_total", sqs + [#"outcome="success""#]) == 1)
        #expect(
            MetricsEndpointTests.sample(relay, "aws_client_requests_total", sqs + [#"outcome="transport_error""#]) == 0
        )
        #expect(MetricsEndpointTests.sample(relay, "outbox_events_published_total") == 1)
        #expect(MetricsEndpointTests.sample(relay, "outbox_circuit_breaker_state", [#"state="closed""#]) == 1)
        #expect(MetricsEndpointTests.sample(relay, "outbox_circuit_breaker_state", [#"state="open""#]) == 0)
        #expect(MetricsEndpointTests.sample(relay, "outbox_circuit_breaker_state", [#"state="half_open""#]) == 0)
        #expect(MetricsEndpointTests.sample(relay, "outbox_circuit_breaker_open") == 0, "kept for existing dashboards")

        // What the alert rules and the dashboard use, against what the processes export.
        let exported = MetricReferences.exportedNames(api).union(MetricReferences.exportedNames(relay))
        let root = TestPaths.repositoryRoot
        let rules = try String(
            contentsOf: root.appendingPathComponent("deploy/prometheus/alerts.yaml"),
            encoding: .utf8
        )
        let ruleExpressions = MetricReferences.ruleExpressions(rules)
        #expect(ruleExpressions.count >= 10)
        let dashboardExpressions = try MetricReferences.dashboardExpressions(
            Data(contentsOf: root.appendingPathComponent("deploy/grafana/photo-upload.json"))
        )
        #expect(dashboardExpressions.count >= 20)
        for (file, expressions) in [("alerts.yaml", ruleExpressions), ("photo-upload.json", dashboardExpressions)] {
            let used = expressions.reduce(into: Set<String>()) { $0.formUnion(MetricReferences.metricNames(in: $1)) }
            #expect(used.count >= 8, "\(file): \(used.sorted())")
            #expect(used.subtracting(exported).sorted() == [], "\(file) uses metrics no process exports")
        }

        // Prometheus's own linter, where it is installed (scripts/lib.sh installs it for the suite).
        for (process, text) in [("photo-api", api), ("outbox-relay", relay)] {
            guard let problems = try await Self.promtoolProblems(text) else { continue }
            #expect(problems == [], "promtool check metrics on \(process)'s /metrics")
        }
    }

    /// `/metrics` of photo-api and of outbox-relay after one photo was confirmed and delivered.
    static func scrapeAfterOnePhoto() async throws -> (api: String, relay: String) {
        let token = try await PhotoWorld.token()
        let bytes = try PhotoCompletePromiseTests.jpegWithCorruptExif()
        let scraped = Scraped()
        try await StubStorage(object: bytes).run { s3Endpoint in
            try await TestDatabase.withFresh { database in
                try await database.migrate()
                let project = UUID()
                try database.connect().query(
                    "INSERT INTO projects (id, organization_id, name) VALUES ($1, $2, 'observability')",
                    [project, AuthFixtures.organizationID]
                )
                try await PrivateSQSServer.withServer { sqs in
                    let queueURL = try await sqs.admin.createQueue("detection")
                    let relayPort = try PrivateSQSServer.freePort()
                    let relay = try ChildProcess(
                        try TestPaths.executable("outbox-relay"),
                        ["run"],
                        environment: [
                            "DATABASE_URL": database.connectionString,
                            "DETECTION_QUEUE_URL": queueURL,
                            "AWS_ENDPOINT_URL": sqs.endpoint,
                            "AWS_ENDPOINT_URL_SQS": sqs.endpoint,
                            "AWS_ACCESS_KEY_ID": "test",
                            "AWS_SECRET_ACCESS_KEY": "test",
                            "AWS_REGION": PrivateSQSServer.region,
                            "RELAY_METRICS_HOST": "127.0.0.1",
                            "RELAY_METRICS_PORT": String(relayPort),
                            "LOG_LEVEL": "warning",
                        ]
                    )
                    try relay.start()
                    defer { if relay.process.isRunning { relay.process.terminate() } }
                    let api = try await LiveAPI.start(
                        databaseURL: database.connectionString,
                        environment: [
                            "AWS_ENDPOINT_URL": s3Endpoint, "STORAGE_RETRY_BASE_MS": "1", "MIN_UPLOAD_BYTES": "16",
                            "DATABASE_POOL_SIZE": "3",
                        ]
                    )
                    defer { api.stop() }
                    try await Scoped.withHTTPClient(timeoutMilliseconds: 15_000) { http in
                        let photoID = try await api.issueUploadURL(
                            project: project,
                            declaredSize: bytes.count,
                            token: token,
                            using: http
                        )
                        let completed = try await api.post(
                            "/api/v1/photos/\(photoID)/complete",
                            token: token,
                            using: http
                        )
                        #expect(completed.status == 200)

                        let relayURL = "http://127.0.0.1:\(relayPort)"
                        let deadline = ContinuousClock.now + .seconds(30)
                        var relayText = ""
                        while ContinuousClock.now < deadline {
                            guard relay.process.isRunning else {
                                throw TestEnvironmentError("outbox-relay exited: \(relay.standardError.suffix(2000))")
                            }
                            if let metrics = try? await http.execute(.init(method: "GET", url: relayURL + "/metrics")) {
                                relayText = String(decoding: metrics.body, as: UTF8.self)
                                if MetricsEndpointTests.sample(relayText, "outbox_events_published_total") == 1 {
                                    break
                                }
                            }
                            try await Task.sleep(for: .milliseconds(100))
                        }
                        #expect(try await sqs.admin.drain(queueURL: queueURL).count == 1, "the event reached SQS")
                        #expect(try await http.execute(.init(method: "GET", url: relayURL + "/readyz")).status == 200)
                        #expect(
                            try await http.execute(.init(method: "GET", url: api.baseURL + "/readyz")).status == 200
                        )
                        let apiMetrics = try await http.execute(.init(method: "GET", url: api.baseURL + "/metrics"))
                        let relayMetrics = try await http.execute(.init(method: "GET", url: relayURL + "/metrics"))
                        #expect(apiMetrics.status == 200 && relayMetrics.status == 200)
                        scraped.texts.withLock {
                            $0 = (
                                String(decoding: apiMetrics.body, as: UTF8.self),
                                String(decoding: relayMetrics.body, as: UTF8.self)
                            )
                        }
                    }
                }
            }
        }
        return try #require(scraped.texts.withLock { $0 })
    }

    /// The two expositions, out of the stub S3's escaping body.
    final class Scraped: Sendable {
        let texts = Mutex<(api: String, relay: String)?>(nil)
    }

    /// What `promtool check metrics` says about `exposition`, less the missing `HELP` lines;
    /// `nil` when promtool is not installed and the suite does not require it.
    static func promtoolProblems(_ exposition: String) async throws -> [String]? {
        let promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
        guard let promtool else {
            if ProcessInfo.processInfo.environment["REQUIRE_TEST_DATABASE"] == "1" {
                Issue.record("promtool is missing: scripts/lib.sh's ensure_prereqs installs Debian's prometheus")
            }
            return nil
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString).txt")
        try Data(exposition.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let child = try await ChildProcess.run(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "\"$0\" check metrics < \"$1\"", promtool, file.path]
        )
        return (child.standardOutput + child.standardError).split(separator: "\n").map(String.init).filter {
            !$0.contains("no help text")
        }
    }
}
