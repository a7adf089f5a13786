import AWS
import Foundation
import MetricsTestKit
import TestSupport
import Testing

/// `aws_client_requests_total` and `aws_client_request_duration_seconds`: the outcome of each
/// call by its status, and a call that got no answer at all.
@Suite struct AWSRequestMetricsTests {
    @Test func outcomesFollowTheStatusClass() {
        let cases: [(Int, AWSRequestMetrics.Outcome)] = [
            (200, .success), (206, .success), (304, .success), (400, .clientError), (403, .clientError),
            (404, .clientError), (412, .clientError), (429, .throttled), (500, .serverError), (503, .serverError),
        ]
        for (status, outcome) in cases {
            #expect(AWSRequestMetrics.Outcome(status: status) == outcome, "\(status)")
        }
    }

    @Test func everyOperationAndOutcomeExistsFromTheStartAndACallIsCountedOnce() throws {
        let metrics = TestMetrics()
        let requests = AWSRequestMetrics(service: "s3", operations: ["HeadObject", "GetObject"], factory: metrics)
        for operation in ["HeadObject", "GetObject"] {
            for outcome in AWSRequestMetrics.Outcome.allCases {
                let dimensions = [("service", "s3"), ("operation", operation), ("outcome", outcome.rawValue)]
                #expect(try metrics.expectCounter("aws_client_requests_total", dimensions).totalValue == 0)
            }
        }
        requests.record("HeadObject", .throttled, elapsed: .milliseconds(250))
        let dimensions = [("service", "s3"), ("operation", "HeadObject"), ("outcome", "throttled")]
        #expect(try metrics.expectCounter("aws_client_requests_total", dimensions).totalValue == 1)
        let timer = try metrics.expectTimer("aws_client_request_duration_seconds", dimensions)
        #expect(timer.values == [250_000_000])
    }

    /// A refused connection is a `transport_error` of that operation, with its latency.
    @Test func aCallWithoutAnAnswerIsATransportError() async throws {
        let metrics = TestMetrics()
        let http = CurlHTTPClient(concurrency: 1, timeoutMilliseconds: 2000, connectTimeoutMilliseconds: 1000)
        let port = try PrivateSQSServer.freePort()
        let sqs = SQSClient(
            endpoint: "http://127.0.0.1:\(port)",
            queueURL: "http://127.0.0.1:\(port)/123456789012/detection",
            region: "us-east-1",
            credentials: CredentialCache(static: AWSCredentials(accessKeyID: "test", secretAccessKey: "test")),
            http: http,
            metricsFactory: metrics
        )
        await #expect(throws: SQSClient.BatchError.self) {
            _ = try await sqs.sendMessageBatch([SQSClient.Entry(id: "1", body: "{}")])
        }
        await http.shutdown()
        let failed = [("service", "sqs"), ("operation", "SendMessageBatch"), ("outcome", "transport_error")]
        #expect(try metrics.expectCounter("aws_client_requests_total", failed).totalValue == 1)
        #expect(try metrics.expectTimer("aws_client_request_duration_seconds", failed).values.count == 1)
        let succeeded = [("service", "sqs"), ("operation", "SendMessageBatch"), ("outcome", "success")]
        #expect(try metrics.expectCounter("aws_client_requests_total", succeeded).totalValue == 0)
    }
}
