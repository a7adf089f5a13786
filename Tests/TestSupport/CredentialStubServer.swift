import AWS
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Synchronization

/// A clock the tests move by hand.
public final class ManualClock: Sendable {
    private let instant: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        instant = Mutex(start)
    }

    public var now: Date { instant.withLock { $0 } }

    public func advance(seconds: TimeInterval) {
        instant.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    public var function: @Sendable () -> Date { { self.now } }
}

/// One loopback server playing the ECS/EKS container credentials endpoint (`GET /container`),
/// an IMDSv2 (`PUT /latest/api/token`, `GET /latest/meta-data/iam/security-credentials/...`)
/// and STS `AssumeRoleWithWebIdentity` (`POST /sts/`). Each fetch hands out a new key pair
/// (`AKIDGEN1`, `AKIDGEN2`, ...) expiring `lifetime` after the manual clock's now.
public final class CredentialStubServer: Sendable {
    public struct Recorded: Sendable, Equatable {
        public var method: String
        public var path: String
        public var authorization: String?
        public var metadataToken: String?
    }

    private struct State {
        public var requests: [Recorded] = []
        var down = false
        var generation = 0
        var lifetime: TimeInterval = 600
        /// When set, every answer carries this expiration.
        var fixedExpiration: Date?
        /// IMDS requests that came without the session token (IMDSv1): must stay 0.
        var requestsWithoutToken = 0
        /// Key pairs to hand out, in order, instead of generated ones (`AKIDGEN<n>`).
        var issuedKeys: [(accessKeyID: String, secret: String)] = []
        var webIdentityTokens: [String] = []
        var roleSessionNames: [String] = []
        /// SQS refuses keys of a generation below this one with `ExpiredToken`.
        var revokedBelow = 0
        /// The generation of the key each SQS or S3 request was signed with.
        var signedKeyGenerations: [Int] = []
        /// A real SQS API that accepted SQS requests go on to (``forwardSQS(to:)``).
        var sqsUpstream: String?
    }

    public static let imdsToken = "imds-session-token"
    /// The region the stub's instance metadata names.
    public static let instanceRegion = "eu-west-3"

    /// What is wrong with `child`'s exit for want of credentials: it must exit 1 with exactly
    /// one line saying so that names every source of the chain. Empty when all is well.
    public static func noCredentialsExitProblems(_ child: ChildProcess) -> [String] {
        var problems: [String] = []
        if child.status != 1 {
            problems.append("exit status \(child.status), not 1")
        }
        let lines = child.errorLines.filter { $0.contains("no AWS credentials") }
        if lines.count != 1 {
            problems.append("\(lines.count) lines say 'no AWS credentials'")
        }
        for source in ["environment", "web identity", "shared files", "container", "instance metadata"]
        where lines.first?.contains(source) != true {
            problems.append("the line does not name \(source)")
        }
        return problems
    }
    /// Unsets every credential source a child process could inherit (scripts/test.sh exports
    /// LocalStack's keys and endpoint; empty counts as unset) and disables instance metadata.
    public static let noCredentialsEnvironment = [
        "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "",
        "AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_S3": "", "AWS_ENDPOINT_URL_SQS": "",
        "AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "", "AWS_PROFILE": "",
        "AWS_SHARED_CREDENTIALS_FILE": "", "AWS_CONFIG_FILE": "", "HOME": "/nonexistent",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "", "AWS_CONTAINER_CREDENTIALS_FULL_URI": "",
        "AWS_EC2_METADATA_DISABLED": "true",
    ]
    public let clock: ManualClock
    private let state = Mutex(State())
    /// The client forwarded SQS requests go through; shut down when ``run(_:)`` ends.
    private let upstream = CurlHTTPClient(concurrency: 4, timeoutMilliseconds: 10_000)

    public init(clock: ManualClock) {
        self.clock = clock
    }

    public var requests: [Recorded] { state.withLock { $0.requests } }
    public var generation: Int { state.withLock { $0.generation } }
    public var requestsWithoutToken: Int { state.withLock { $0.requestsWithoutToken } }
    public var webIdentityTokens: [String] { state.withLock { $0.webIdentityTokens } }
    public var roleSessionNames: [String] { state.withLock { $0.roleSessionNames } }

    public var signedKeyGenerations: [Int] { state.withLock { $0.signedKeyGenerations } }
    /// Makes SQS (`POST /sqs/`) and S3 (`HEAD /s3/photos-test/object.jpg`) refuse every key
    /// handed out so far (`ExpiredToken`, a bare 403).
    public func revokeKeysHandedOut() { state.withLock { $0.revokedBelow = $0.generation + 1 } }
    /// Hands out these key pairs, one per fetch, before generated ones (keys a LocalStack IAM
    /// created, so that its S3 checks signatures against their secrets).
    public func issue(keys: [(accessKeyID: String, secret: String)]) { state.withLock { $0.issuedKeys = keys } }
    public func setDown(_ down: Bool) { state.withLock { $0.down = down } }
    /// Sends the SQS requests signed with keys still valid on to `endpoint`, a real SQS API
    /// (LocalStack's, which does not check signatures itself), and answers with its answer:
    /// the stub then only adds the refusals of revoked keys in front of a real queue.
    public func forwardSQS(to endpoint: String) { state.withLock { $0.sqsUpstream = endpoint } }
    public func setLifetime(_ seconds: TimeInterval) { state.withLock { $0.lifetime = seconds } }
    public func setFixedExpiration(_ date: Date?) { state.withLock { $0.fixedExpiration = date } }

    /// Runs `body` with the server's base URL (`http://127.0.0.1:PORT`).
    public func run(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
        let application = Application(
            responder: CallbackResponder<BasicRequestContext> { request, _ in
                try await self.respond(request)
            },
            configuration: .init(address: .hostname("127.0.0.1", port: 0))
        )
        do {
            try await application.test(.live) { server in
                guard let port = server.port else { throw StubError("no port") }
                try await body("http://127.0.0.1:\(port)")
            }
        } catch {
            await upstream.shutdown()
            throw error
        }
        await upstream.shutdown()
    }

    private struct StubError: Error, CustomStringConvertible {
        let description: String
        init(_ description: String) { self.description = description }
    }

    private func issue() -> (generation: Int, expiration: Date)? {
        state.withLock { state in
            guard !state.down else { return nil }
            state.generation += 1
            return (state.generation, state.fixedExpiration ?? clock.now.addingTimeInterval(state.lifetime))
        }
    }

    private static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    private func metadataJSON(generation: Int, expiration: Date) -> String {
        let issued = state.withLock {
            $0.issuedKeys.indices.contains(generation - 1) ? $0.issuedKeys[generation - 1] : nil
        }
        let keyID = issued?.accessKeyID ?? "AKIDGEN\(generation)"
        let secret = issued?.secret ?? "secret/\(generation)+key"
        return """
            {"Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "\(keyID)",
             "SecretAccessKey": "\(secret)", "Token": "token/\(generation)+==",
             "Expiration": "\(Self.timestamp(expiration))", "LastUpdated": "\(Self.timestamp(Date()))"}
            """
    }

    private func respond(_ request: Request) async throws -> Response {
        let path = request.uri.path
        let method = request.method.rawValue
        let authorization = request.headers[.authorization]
        let metadataToken = HTTPField.Name("x-aws-ec2-metadata-token").flatMap { request.headers[$0] }
        state.withLock {
            $0.requests.append(
                Recorded(method: method, path: path, authorization: authorization, metadataToken: metadataToken)
            )
        }
        switch (method, path) {
        case ("GET", "/container"):
            guard let (generation, expiration) = issue() else { return Response(status: .serviceUnavailable) }
            return Self.text(metadataJSON(generation: generation, expiration: expiration))
        case ("PUT", "/latest/api/token"):
            let ttl = HTTPField.Name("x-aws-ec2-metadata-token-ttl-seconds").flatMap { request.headers[$0] }
            guard ttl != nil else { return Response(status: .badRequest) }
            return Self.text(Self.imdsToken)
        case ("GET", _) where path.hasPrefix("/latest/meta-data/"):
            guard metadataToken == Self.imdsToken else {
                state.withLock { $0.requestsWithoutToken += 1 }
                return Response(status: .unauthorized)
            }
            if path == "/latest/meta-data/placement/region" {
                return Self.text(Self.instanceRegion)
            }
            if path == "/latest/meta-data/iam/security-credentials/" {
                return Self.text("stub-role\n")
            }
            guard path == "/latest/meta-data/iam/security-credentials/stub-role" else {
                return Response(status: .notFound)
            }
            guard let (generation, expiration) = issue() else { return Response(status: .serviceUnavailable) }
            return Self.text(metadataJSON(generation: generation, expiration: expiration))
        case ("POST", "/sts/"):
            let body = try await request.body.collect(upTo: 100_000)
            let form = Self.form(String(buffer: body))
            guard form["Action"] == "AssumeRoleWithWebIdentity", let token = form["WebIdentityToken"],
                form["RoleArn"] != nil
            else {
                return Self.text(
                    "<ErrorResponse><Error><Code>InvalidParameter</Code></Error></ErrorResponse>",
                    .badRequest
                )
            }
            state.withLock {
                $0.webIdentityTokens.append(token)
                $0.roleSessionNames.append(form["RoleSessionName"] ?? "")
            }
            guard let (generation, expiration) = issue() else { return Response(status: .serviceUnavailable) }
            return Self.text(
                """
                <AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
                  <AssumeRoleWithWebIdentityResult>
                    <Credentials>
                      <SessionToken>token/\(generation)+==</SessionToken>
                      <SecretAccessKey>secret/\(generation)+key</SecretAccessKey>
                      <Expiration>\(Self.timestamp(expiration))</Expiration>
                      <AccessKeyId>AKIDGEN\(generation)</AccessKeyId>
                    </Credentials>
                  </AssumeRoleWithWebIdentityResult>
                </AssumeRoleWithWebIdentityResponse>
                """
            )
        case ("HEAD", "/s3/photos-test/object.jpg"):
            // S3 answers a HEAD with a refused key by a bare 403.
            guard !signedWithRevokedKey(authorization ?? "") else { return Response(status: .forbidden) }
            return Response(status: .ok, headers: [.contentLength: "1234", .eTag: "\"etag\""])
        case ("POST", "/sqs/"):
            return try await sendMessageBatch(request, authorization: authorization ?? "")
        default:
            return Response(status: .notFound)
        }
    }

    /// Records the generation of the key `authorization` was signed with; whether it is revoked.
    private func signedWithRevokedKey(_ authorization: String) -> Bool {
        let generation =
            authorization.components(separatedBy: "Credential=AKIDGEN").dropFirst().first
            .flatMap { Int($0.prefix { $0.isNumber }) } ?? 0
        return state.withLock { state in
            state.signedKeyGenerations.append(generation)
            return generation < state.revokedBelow
        }
    }

    /// SQS `SendMessageBatch` (JSON protocol) that accepts every entry, unless the request was
    /// signed with a revoked key: then 403 `ExpiredToken` in XML, as SQS answers auth errors.
    private func sendMessageBatch(_ request: Request, authorization: String) async throws -> Response {
        let body = try await request.body.collect(upTo: 1_000_000)
        guard !signedWithRevokedKey(authorization) else {
            return Self.text(
                "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code>"
                    + "<Message>The security token included in the request is expired</Message></Error></ErrorResponse>",
                .forbidden
            )
        }
        if let upstreamEndpoint = state.withLock({ $0.sqsUpstream }) {
            return try await forward(request, body: Array(body.readableBytesView), to: upstreamEndpoint)
        }
        struct Batch: Decodable {
            struct Entry: Decodable { let Id: String }
            let Entries: [Entry]
        }
        let batch = try JSONDecoder().decode(Batch.self, from: Data(body.readableBytesView))
        let successful = batch.Entries.map { #"{"Id":"\#($0.Id)","MessageId":"m-\#($0.Id)","MD5OfMessageBody":"x"}"# }
        return Self.text(#"{"Successful":[\#(successful.joined(separator: ","))],"Failed":[]}"#)
    }

    /// `request` as it came (method, headers, body), sent to `endpoint`; its answer as it came.
    private func forward(_ request: Request, body: [UInt8], to endpoint: String) async throws -> Response {
        let hopByHop: Set<String> = ["host", "content-length", "connection", "transfer-encoding", "expect"]
        let headers = request.headers.filter { !hopByHop.contains($0.name.canonicalName) }
            .map { (name: $0.name.rawName, value: $0.value) }
        let answer = try await upstream.execute(
            .init(method: request.method.rawValue, url: endpoint, headers: headers, body: body)
        )
        var fields = HTTPFields()
        for (name, value) in answer.headers where !hopByHop.contains(name) {
            if let fieldName = HTTPField.Name(name) { fields.append(HTTPField(name: fieldName, value: value)) }
        }
        return Response(
            status: HTTPResponse.Status(code: answer.status),
            headers: fields,
            body: .init(byteBuffer: ByteBuffer(bytes: answer.body))
        )
    }

    private static func text(_ text: String, _ status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    private static func form(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { continue }
            fields[parts[0]] = parts[1].replacingOccurrences(of: "+", with: " ").removingPercentEncoding
        }
        return fields
    }
}
