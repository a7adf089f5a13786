import Foundation
import Metrics

/// SQS `SendMessageBatch` over the JSON protocol (`X-Amz-Target: AmazonSQS.SendMessageBatch`),
/// signed with SigV4 by libcurl.
public struct SQSClient: Sendable {
    /// SQS's limits for one `SendMessageBatch` call.
    public static let maximumEntriesPerBatch = 10
    public static let maximumBatchBytes = 262_144

    /// One message of a batch.
    public struct Entry: Sendable {
        /// Unique within the batch; results are reported by it.
        public var id: String
        public var body: String
        /// String message attributes.
        public var attributes: [String: String]
        /// FIFO queues only.
        public var messageGroupID: String?
        /// FIFO queues only.
        public var deduplicationID: String?

        public init(
            id: String,
            body: String,
            attributes: [String: String] = [:],
            messageGroupID: String? = nil,
            deduplicationID: String? = nil
        ) {
            self.id = id
            self.body = body
            self.attributes = attributes
            self.messageGroupID = messageGroupID
            self.deduplicationID = deduplicationID
        }

        /// The bytes SQS counts against the 256 KiB batch limit: body plus attribute names,
        /// types and values.
        public var size: Int {
            body.utf8.count
                + attributes.reduce(0) { $0 + $1.key.utf8.count + "String".utf8.count + $1.value.utf8.count }
        }
    }

    /// What happened to one entry of a batch that SQS answered.
    public enum EntryResult: Sendable, Equatable {
        case sent(messageID: String)
        /// `senderFault` means the entry itself is wrong (too large, invalid): retrying the
        /// same entry cannot succeed.
        case failed(code: String, message: String, senderFault: Bool)
    }

    /// A batch SQS did not process at all.
    public struct BatchError: Error, Sendable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// SQS cannot take any message, for `reason` (see ``SQSOutageReason``): a missing
            /// queue, denied access or bad credentials as much as a connection refused. Nothing
            /// is wrong with the messages; wait and retry.
            case outage(SQSOutageReason)
            /// SQS refused this request (an invalid batch): the messages are affected and count
            /// an attempt.
            case requestRejected
            /// The call never started: its start deadline passed while it waited for one of
            /// the client's threads. SQS saw none of the messages, and neither they nor SQS are
            /// at fault: the caller ran out of time.
            case notSent
        }

        /// The outage's reason, or `nil` when the request was rejected or not sent.
        public var outageReason: SQSOutageReason? {
            if case .outage(let reason) = kind { return reason }
            return nil
        }

        public let kind: Kind
        public let code: String
        public let message: String

        public init(kind: Kind, code: String, message: String) {
            self.kind = kind
            self.code = code
            self.message = message
        }

        public var description: String { "SQS \(code): \(message)" }
    }

    public let endpoint: String
    public let queueURL: String
    public let region: String
    /// Where each call takes the credentials current at that moment.
    public let credentials: CredentialCache?
    private let http: CurlHTTPClient
    /// Each call's outcome and latency (`aws_client_requests_total{service="sqs"}`).
    private let metrics: AWSRequestMetrics

    /// - Parameters:
    ///   - endpoint: the SQS endpoint (`AWS_ENDPOINT_URL_SQS`), or `nil` for
    ///     `https://sqs.REGION.amazonaws.com`.
    ///   - credentials: the process's credential cache; `nil` sends unsigned requests (only
    ///     useful against local emulators).
    public init(
        endpoint: String?,
        queueURL: String,
        region: String,
        credentials: CredentialCache?,
        http: CurlHTTPClient,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        self.endpoint = endpoint ?? "https://sqs.\(region).amazonaws.com"
        self.queueURL = queueURL
        self.region = region
        self.credentials = credentials
        self.http = http
        self.metrics = AWSRequestMetrics(service: "sqs", operations: ["SendMessageBatch"], factory: metricsFactory)
    }

    /// A client with fixed credentials (`nil`: unsigned).
    public init(
        endpoint: String?,
        queueURL: String,
        region: String,
        credentials: AWSCredentials?,
        http: CurlHTTPClient
    ) {
        self.init(
            endpoint: endpoint,
            queueURL: queueURL,
            region: region,
            credentials: credentials.map { CredentialCache(static: $0) },
            http: http
        )
    }

    /// The region an AWS queue URL names (`https://sqs.REGION.amazonaws.com/ACCOUNT/NAME`, the
    /// FIPS `sqs-fips.REGION...` and the legacy `https://REGION.queue.amazonaws.com/...`), or
    /// `nil` for any other host.
    public static func region(ofQueueURL url: URL) -> String? {
        guard let host = url.host(percentEncoded: false)?.lowercased() else { return nil }
        let labels = host.split(separator: ".").map(String.init)
        guard labels.count >= 4 else { return nil }
        if labels[0] == "sqs" || labels[0] == "sqs-fips", labels[2] == "amazonaws" {
            return labels[1]
        }
        if labels[1] == "queue", labels[2] == "amazonaws" {
            return labels[0]
        }
        return nil
    }

    /// The longest one call can take, connection included (the HTTP client's timeout): a call
    /// that started has been answered or given up within it.
    public var timeout: Duration { .milliseconds(http.timeoutMilliseconds) }

    /// Sends up to 10 entries; returns each entry's result, or throws `BatchError` when SQS
    /// processed none of them.
    /// - Parameter startDeadline: when set, the call is not started after this instant (it
    ///   throws a `BatchError` of kind `.notSent`), so that whatever it sends reaches SQS by
    ///   `startDeadline + timeout` or not at all.
    public func sendMessageBatch(
        _ entries: [Entry],
        startDeadline: ContinuousClock.Instant? = nil
    ) async throws -> [String: EntryResult] {
        let request = SendMessageBatchRequest(
            QueueUrl: queueURL,
            Entries: entries.map { entry in
                .init(
                    Id: entry.id,
                    MessageBody: entry.body,
                    MessageAttributes: entry.attributes.mapValues { .init(DataType: "String", StringValue: $0) },
                    MessageGroupId: entry.messageGroupID,
                    MessageDeduplicationId: entry.deduplicationID
                )
            }
        )
        let body = try JSONEncoder().encode(request)
        let used = try await currentCredentials()
        do {
            return try await send(body, signedWith: used, startDeadline: startDeadline)
        } catch let error as BatchError {
            // Refused for its credentials (expired token, revoked key): nothing was delivered.
            // One forced refresh and one retry with the new credentials; a second refusal is
            // the outage.
            guard let used, let credentials,
                error.outageReason == .credentialsUnavailable || error.outageReason == .accessDenied,
                await credentials.refreshAfterRejection(of: used)
            else { throw error }
            return try await send(body, signedWith: try await currentCredentials(), startDeadline: startDeadline)
        }
    }

    /// The credentials to sign with now; `nil` for unsigned requests.
    private func currentCredentials() async throws(BatchError) -> AWSCredentials? {
        guard let credentials else { return nil }
        do {
            return try await credentials.current()
        } catch {
            // Nothing was sent: no valid credentials is an outage, never the events' fault.
            throw BatchError(
                kind: .outage(.credentialsUnavailable),
                code: "CredentialsUnavailable",
                message: error.description
            )
        }
    }

    /// One `SendMessageBatch` call with `body`, signed with `credentials`.
    private func send(
        _ body: Data,
        signedWith credentials: AWSCredentials?,
        startDeadline: ContinuousClock.Instant?
    ) async throws -> [String: EntryResult] {
        let signing = credentials.map { CurlHTTPClient.AWSSigning(region: region, service: "sqs", credentials: $0) }
        let response: CurlHTTPClient.Response
        do {
            response = try await metrics.execute(
                "SendMessageBatch",
                .init(
                    method: "POST",
                    url: endpoint.hasSuffix("/") ? endpoint : endpoint + "/",
                    headers: [
                        ("Content-Type", "application/x-amz-json-1.0"),
                        ("X-Amz-Target", "AmazonSQS.SendMessageBatch"),
                    ],
                    body: Array(body),
                    signing: signing,
                    startDeadline: startDeadline
                ),
                on: http
            )
        } catch let error as CurlHTTPClientError where error.code == .notStarted {
            throw BatchError(kind: .notSent, code: "NotStarted", message: error.description)
        } catch let error as CurlHTTPClientError {
            throw BatchError(kind: .outage(.serviceUnavailable), code: "Transport", message: error.description)
        }
        guard response.status == 200 else {
            throw Self.batchError(for: response)
        }
        guard let decoded = try? JSONDecoder().decode(SendMessageBatchResponse.self, from: Data(response.body)) else {
            throw BatchError(
                kind: .outage(.serviceUnavailable),
                code: "MalformedResponse",
                message: "unreadable SendMessageBatch response"
            )
        }
        var results: [String: EntryResult] = [:]
        for success in decoded.Successful ?? [] {
            results[success.Id] = .sent(messageID: success.MessageId)
        }
        for failure in decoded.Failed ?? [] {
            results[failure.Id] = .failed(
                code: failure.Code,
                message: failure.Message ?? failure.Code,
                senderFault: failure.SenderFault
            )
        }
        return results
    }

    /// Sorts an error response into an outage (breaker) or "this request was refused" (counts
    /// against the events), through ``SQSOutageReason``. Error bodies are JSON on AWS, but
    /// authentication errors come back as XML even for JSON requests, so the code is looked for
    /// in both, then in the `x-amzn-query-error` header (`AWS.SimpleQueueService.X;Sender`).
    static func batchError(for response: CurlHTTPClient.Response) -> BatchError {
        let text = String(decoding: response.body, as: UTF8.self)
        let headerCode = response.headers.first { $0.name == "x-amzn-query-error" }
            .flatMap { $0.value.split(separator: ";").first.map(String.init) }
        let foundCode = errorCode(in: text) ?? headerCode
        let code = foundCode ?? "HTTP\(response.status)"
        let message = String(text.prefix(300))
        if let reason = SQSOutageReason(status: response.status, code: foundCode) {
            return BatchError(kind: .outage(reason), code: code, message: message)
        }
        if let headerCode, let reason = SQSOutageReason(code: headerCode) {
            return BatchError(kind: .outage(reason), code: code, message: message)
        }
        return BatchError(kind: .requestRejected, code: code, message: message)
    }

    /// `"__type": "com.amazonaws.sqs#QueueDoesNotExist"` (JSON) or `<Code>...</Code>` (XML).
    static func errorCode(in body: String) -> String? {
        if let data = body.data(using: .utf8),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
            let type = (object["__type"] ?? object["code"] ?? object["Code"]) as? String
        {
            return type.split(separator: "#").last.map(String.init)
        }
        if let start = body.range(of: "<Code>"),
            let end = body.range(of: "</Code>", range: start.upperBound..<body.endIndex)
        {
            return String(body[start.upperBound..<end.lowerBound])
        }
        return nil
    }
}

// The wire shapes, named as SQS names them.
// swift-format-ignore: AlwaysUseLowerCamelCase
private struct SendMessageBatchRequest: Encodable {
    struct Entry: Encodable {
        let Id: String
        let MessageBody: String
        let MessageAttributes: [String: Attribute]
        let MessageGroupId: String?
        let MessageDeduplicationId: String?
    }

    struct Attribute: Encodable {
        let DataType: String
        let StringValue: String
    }

    let QueueUrl: String
    let Entries: [Entry]
}

private struct SendMessageBatchResponse: Decodable {
    struct Success: Decodable {
        let Id: String
        let MessageId: String
    }

    struct Failure: Decodable {
        let Id: String
        let SenderFault: Bool
        let Code: String
        let Message: String?

        /// `SenderFault` is a JSON boolean on AWS; some emulators send the string "true".
        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            Id = try container.decode(String.self, forKey: .Id)
            Code = try container.decode(String.self, forKey: .Code)
            Message = try container.decodeIfPresent(String.self, forKey: .Message)
            if let flag = try? container.decode(Bool.self, forKey: .SenderFault) {
                SenderFault = flag
            } else {
                SenderFault = (try? container.decode(String.self, forKey: .SenderFault))?.lowercased() == "true"
            }
        }

        private enum CodingKeys: String, CodingKey {
            case Id, SenderFault, Code, Message
        }
    }

    let Successful: [Success]?
    let Failed: [Failure]?
}
