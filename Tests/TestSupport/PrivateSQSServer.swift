import AWS
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A `moto_server` of a test's own: an SQS (JSON protocol) on a free port of 127.0.0.1 that a
/// test may stop and start again on the same port to simulate an outage.
///
/// moto keeps its state in memory, so queues are gone after `stop()`; create them again after
/// `start()`. Requests are SigV4-signed (moto picks the service from the signature's scope).
public final class PrivateSQSServer: Sendable {
    public static let accountID = "123456789012"
    public static let region = "us-east-1"
    public static let credentials = AWSCredentials(accessKeyID: "test", secretAccessKey: "test")

    public let port: Int
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    private let child = Mutex<ChildProcess?>(nil)
    /// The SQS calls a test makes (create, receive, count), on this server.
    public let admin: SQSAdmin

    private init(port: Int) {
        self.port = port
        admin = SQSAdmin(endpoint: "http://127.0.0.1:\(port)")
    }

    /// Starts a server, runs `body`, and stops the server whatever happened.
    @discardableResult
    public static func withServer<Value>(_ body: (PrivateSQSServer) async throws -> Value) async throws -> Value {
        var lastError: any Error = TestEnvironmentError("moto_server did not start")
        // Another process may take the free port before moto binds it: try another one.
        for _ in 1...3 {
            let server = PrivateSQSServer(port: try freePort())
            do {
                try await server.start()
            } catch {
                await server.shutdown()
                lastError = error
                continue
            }
            do {
                let value = try await body(server)
                await server.shutdown()
                return value
            } catch {
                await server.shutdown()
                throw error
            }
        }
        throw lastError
    }

    /// Starts `moto_server` on this server's port and waits until it answers SQS requests.
    public func start() async throws {
        // Started directly, not through a shell that closes inherited descriptors: Foundation's
        // Process learns of a child's exit when the child's end of a socket pair closes, and
        // then blocks its only monitoring thread in waitpid() until that child exits. A server
        // that closed the socket early would stall the exit of every other child of the tests.
        let process = try ChildProcess(
            URL(fileURLWithPath: try Self.motoExecutable()),
            ["-H", "127.0.0.1", "-p", String(port)]
        )
        try process.start()
        child.withLock { $0 = process }
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            if !process.process.isRunning {
                throw TestEnvironmentError("moto_server exited on port \(port): \(process.standardError.suffix(2000))")
            }
            if (try? await call("ListQueues", [:])) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestEnvironmentError("moto_server did not answer on port \(port) within 30 s")
    }

    /// Kills the server (SIGKILL: an abrupt outage) and waits for it to exit. Its state is lost.
    public func stop() async {
        let taken = child.withLock { state -> ChildProcess? in
            let process = state
            state = nil
            return process
        }
        guard let process = taken else { return }
        if process.process.isRunning {
            kill(process.process.processIdentifier, SIGKILL)
        }
        _ = try? await process.wait(timeout: .seconds(10))
    }

    private func shutdown() async {
        await stop()
        await admin.shutdown()
    }

    /// `http://127.0.0.1:PORT/123456789012/NAME`, whether the queue exists or not.
    public func queueURL(_ name: String) -> String {
        "\(endpoint)/\(Self.accountID)/\(name)"
    }

    /// Creates a queue (a FIFO queue when `name` ends in `.fifo`) and returns its URL.
    @discardableResult
    public func createQueue(_ name: String) async throws -> String {
        try await admin.createQueue(name)
    }

    /// Receives up to 10 messages, with every attribute, and deletes them.
    public func receiveAndDelete(queueURL: String) async throws -> [SQSMessage] {
        try await admin.receiveAndDelete(queueURL: queueURL)
    }

    /// Receives (and deletes) messages until the queue answers with none.
    public func drain(queueURL: String) async throws -> [SQSMessage] {
        try await admin.drain(queueURL: queueURL)
    }

    /// `ApproximateNumberOfMessages` (visible messages).
    public func approximateNumberOfMessages(queueURL: String) async throws -> Int {
        try await admin.approximateNumberOfMessages(queueURL: queueURL)
    }

    /// One SQS JSON-protocol call; throws `SQSCallError` on any status but 200.
    public func call(_ action: String, _ parameters: [String: Any]) async throws -> [String: Any] {
        try await admin.call(action, parameters)
    }

    /// A TCP port nobody listens on right now (bound to 0, read, closed).
    public static func freePort() throws -> Int {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw TestEnvironmentError("socket() failed") }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
                bind(descriptor, socketAddress, length) == 0
                    && getsockname(descriptor, socketAddress, &length) == 0
            }
        }
        guard bound else { throw TestEnvironmentError("could not bind a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// `MOTO_SERVER_BIN`, else `moto_server` on `PATH` (`scripts/lib.sh ensure_prereqs` installs it).
    static func motoExecutable() throws -> String {
        let environment = ProcessInfo.processInfo.environment
        if let path = environment["MOTO_SERVER_BIN"], FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        for directory in (environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/moto_server"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        throw TestEnvironmentError(
            "moto_server is not installed: run `source scripts/lib.sh && ensure_prereqs` (pip install \"moto[server]\")"
        )
    }
}

/// A message as `ReceiveMessage` returned it.
public struct SQSMessage: Sendable {
    public let messageID: String
    public let receiptHandle: String
    public let body: String
    /// String message attributes: name to value.
    public let attributes: [String: String]
    /// Message attributes: name to `DataType`.
    public let attributeTypes: [String: String]
    /// System attributes such as `MessageGroupId` and `MessageDeduplicationId`.
    public let systemAttributes: [String: String]

    public init(
        messageID: String,
        receiptHandle: String = "",
        body: String,
        attributes: [String: String],
        attributeTypes: [String: String] = [:],
        systemAttributes: [String: String] = [:]
    ) {
        self.messageID = messageID
        self.receiptHandle = receiptHandle
        self.body = body
        self.attributes = attributes
        self.attributeTypes = attributeTypes
        self.systemAttributes = systemAttributes
    }

    init(json: [String: Any]) {
        messageID = json["MessageId"] as? String ?? ""
        receiptHandle = json["ReceiptHandle"] as? String ?? ""
        body = json["Body"] as? String ?? ""
        let messageAttributes = json["MessageAttributes"] as? [String: [String: Any]] ?? [:]
        attributes = messageAttributes.compactMapValues { $0["StringValue"] as? String }
        attributeTypes = messageAttributes.compactMapValues { $0["DataType"] as? String }
        systemAttributes = (json["Attributes"] as? [String: Any] ?? [:]).compactMapValues { $0 as? String }
    }
}

/// An SQS call answered with an error status.
public struct SQSCallError: Error, CustomStringConvertible {
    public let action: String
    public let status: Int
    public let body: String

    public var description: String { "\(action): HTTP \(status): \(body.prefix(500))" }
}
