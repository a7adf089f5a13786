import AWS
import Foundation

/// The SQS calls a test makes around the relay (create a queue, receive and count what the relay
/// sent), against any SQS JSON-protocol endpoint: a `PrivateSQSServer`'s moto or the LocalStack
/// of `scripts/test.sh` (`LocalStackSQS`). Requests are SigV4-signed with the test credentials.
public final class SQSAdmin: Sendable {
    public let endpoint: String
    private let http = CurlHTTPClient(concurrency: 4, timeoutMilliseconds: 30_000, connectTimeoutMilliseconds: 2000)

    public init(endpoint: String) {
        self.endpoint = endpoint
    }

    /// Stops the client's threads.
    public func shutdown() async {
        await http.shutdown()
    }

    /// Creates a queue (a FIFO queue when `name` ends in `.fifo`) and returns its URL.
    @discardableResult
    public func createQueue(_ name: String) async throws -> String {
        var attributes: [String: String] = [:]
        if name.hasSuffix(".fifo") {
            attributes = ["FifoQueue": "true", "ContentBasedDeduplication": "false"]
        }
        let response = try await call("CreateQueue", ["QueueName": name, "Attributes": attributes])
        guard let url = response["QueueUrl"] as? String else {
            throw TestEnvironmentError("CreateQueue returned no QueueUrl")
        }
        return url
    }

    /// Receives up to 10 messages, with every attribute, and deletes them.
    public func receiveAndDelete(queueURL: String) async throws -> [SQSMessage] {
        let response = try await call(
            "ReceiveMessage",
            [
                "QueueUrl": queueURL,
                "MaxNumberOfMessages": 10,
                "VisibilityTimeout": 600,
                "WaitTimeSeconds": 0,
                "MessageAttributeNames": ["All"],
                "MessageSystemAttributeNames": ["All"],
                "AttributeNames": ["All"],
            ]
        )
        let raw = response["Messages"] as? [[String: Any]] ?? []
        let messages = raw.map(SQSMessage.init(json:))
        if !messages.isEmpty {
            let entries = messages.enumerated().map {
                ["Id": String($0.offset), "ReceiptHandle": $0.element.receiptHandle]
            }
            _ = try await call("DeleteMessageBatch", ["QueueUrl": queueURL, "Entries": entries])
        }
        return messages
    }

    /// Receives (and deletes) messages until the queue answers with none.
    public func drain(queueURL: String) async throws -> [SQSMessage] {
        var all: [SQSMessage] = []
        while true {
            let batch = try await receiveAndDelete(queueURL: queueURL)
            if batch.isEmpty { return all }
            all += batch
        }
    }

    /// `ApproximateNumberOfMessages` (visible messages).
    public func approximateNumberOfMessages(queueURL: String) async throws -> Int {
        let response = try await call(
            "GetQueueAttributes",
            ["QueueUrl": queueURL, "AttributeNames": ["ApproximateNumberOfMessages"]]
        )
        let attributes = response["Attributes"] as? [String: String]
        return attributes?["ApproximateNumberOfMessages"].flatMap { Int($0) } ?? 0
    }

    /// One SQS JSON-protocol call; throws `SQSCallError` on any status but 200.
    public func call(_ action: String, _ parameters: [String: Any]) async throws -> [String: Any] {
        let body = try JSONSerialization.data(withJSONObject: parameters)
        let response = try await http.execute(
            .init(
                method: "POST",
                url: endpoint + "/",
                headers: [("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AmazonSQS.\(action)")],
                body: Array(body),
                signing: .init(
                    region: PrivateSQSServer.region,
                    service: "sqs",
                    credentials: PrivateSQSServer.credentials
                )
            )
        )
        let text = String(decoding: response.body, as: UTF8.self)
        guard response.status == 200 else {
            throw SQSCallError(action: action, status: response.status, body: text)
        }
        if response.body.isEmpty { return [:] }
        guard let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any] else {
            throw SQSCallError(action: action, status: response.status, body: text)
        }
        return object
    }

    /// Deletes a queue.
    public func deleteQueue(_ queueURL: String) async throws {
        _ = try await call("DeleteQueue", ["QueueUrl": queueURL])
    }
}

/// The LocalStack SQS of `scripts/test.sh` (`AWS_ENDPOINT_URL_SQS`, else `AWS_ENDPOINT_URL`), for
/// tests that must hold against a real SQS API and not only moto or a fake (`.requiresLocalStack`).
/// Every test gets a queue of its own: the LocalStack is shared by every suite of the run.
public enum LocalStackSQS {
    /// The endpoint; throws (failing the test) when `scripts/test.sh` did not start LocalStack.
    public static func endpoint() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        guard
            let endpoint = [environment["AWS_ENDPOINT_URL_SQS"], environment["AWS_ENDPOINT_URL"]]
                .compactMap({ $0 }).first(where: { !$0.isEmpty })
        else {
            throw TestEnvironmentError(
                "AWS_ENDPOINT_URL is not set: this test needs LocalStack (scripts/test.sh starts it)"
            )
        }
        return endpoint
    }

    /// Creates a queue named `prefix-<random>`, runs `body` with the admin and the queue's URL,
    /// and deletes the queue whatever happened.
    @discardableResult
    public static func withQueue<Value>(
        prefix: String = "relay-test",
        _ body: (SQSAdmin, String) async throws -> Value
    ) async throws -> Value {
        let admin = SQSAdmin(endpoint: try endpoint())
        let name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        do {
            let queueURL = try await admin.createQueue(name)
            do {
                let value = try await body(admin, queueURL)
                try? await admin.deleteQueue(queueURL)
                await admin.shutdown()
                return value
            } catch {
                try? await admin.deleteQueue(queueURL)
                throw error
            }
        } catch {
            await admin.shutdown()
            throw error
        }
    }
}
