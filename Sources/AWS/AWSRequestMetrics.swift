import Metrics

/// Every HTTP call of the S3 and SQS clients, for the operators' question "is AWS slow or
/// failing, and which call?":
///
/// - `aws_client_requests_total{service, operation, outcome}` (counter);
/// - `aws_client_request_duration_seconds{service, operation, outcome}` (histogram): from
///   handing the request to libcurl to its last byte, or its failure.
///
/// `service` is `s3` or `sqs`; `operation` the API's name (`HeadObject`, `GetObject`,
/// `SendMessageBatch`); `outcome` one of ``Outcome``. Each try counts: a call retried twice is
/// three samples. The series of every operation and outcome exist from the start (at zero), so
/// a rate over them is defined before the first failure.
public final class AWSRequestMetrics: Sendable {
    /// How one HTTP call ended.
    public enum Outcome: String, Sendable, CaseIterable {
        /// 2xx or 3xx.
        case success
        /// 4xx other than 429: refused credentials (403), but also answers the caller expects,
        /// such as the 404 of a `HeadObject` for a photo never uploaded, or the 412 of an object
        /// replaced between `HEAD` and `GET`.
        case clientError = "client_error"
        /// 429: slow down.
        case throttled
        /// 5xx.
        case serverError = "server_error"
        /// No HTTP answer: connection refused or reset, timeout, a body over its cap.
        case transportError = "transport_error"

        /// The outcome of an HTTP answer with `status`.
        public init(status: Int) {
            switch status {
            case 200..<400: self = .success
            case 429: self = .throttled
            case 500...: self = .serverError
            default: self = .clientError
            }
        }
    }

    private struct Handles: Sendable {
        let requests: Counter
        let duration: Timer
    }

    /// Keyed by operation, then outcome; fixed at initialisation, so reads need no lock.
    private let handles: [String: [Outcome: Handles]]

    /// - Parameters:
    ///   - service: `s3` or `sqs`.
    ///   - operations: the API operations this client calls.
    public init(service: String, operations: [String], factory: any MetricsFactory = MetricsSystem.factory) {
        var handles: [String: [Outcome: Handles]] = [:]
        for operation in operations {
            for outcome in Outcome.allCases {
                let dimensions = [("service", service), ("operation", operation), ("outcome", outcome.rawValue)]
                handles[operation, default: [:]][outcome] = Handles(
                    requests: Counter(label: "aws_client_requests_total", dimensions: dimensions, factory: factory),
                    duration: Timer(
                        label: "aws_client_request_duration_seconds",
                        dimensions: dimensions,
                        factory: factory
                    )
                )
            }
        }
        self.handles = handles
    }

    /// Counts one call of `operation` that ended with `outcome` after `elapsed`.
    public func record(_ operation: String, _ outcome: Outcome, elapsed: Duration) {
        guard let handles = handles[operation]?[outcome] else { return }
        handles.requests.increment()
        handles.duration.recordNanoseconds(
            elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        )
    }

    /// Sends `request` through `http` and records how it ended as one call of `operation`.
    func execute(
        _ operation: String,
        _ request: CurlHTTPClient.Request,
        on http: CurlHTTPClient
    ) async throws -> CurlHTTPClient.Response {
        let start = ContinuousClock.now
        do {
            let response = try await http.execute(request)
            record(operation, Outcome(status: response.status), elapsed: ContinuousClock.now - start)
            return response
        } catch let error as CurlHTTPClientError where error.code == .notStarted {
            // Nothing reached the network: not a call.
            throw error
        } catch {
            record(operation, .transportError, elapsed: ContinuousClock.now - start)
            throw error
        }
    }
}
