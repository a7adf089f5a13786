import API
import AppConfig
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Logging
import Synchronization
import TestSupport

/// Shared by the authentication, problem document and request id tests.
enum AuthFixtures {
    static let secret = "test-only-secret-of-at-least-32-bytes!!"
    static let userID = UUID()
    static let organizationID = UUID()

    /// The environment `APIConfiguration` reads, for `database` plus `extra`.
    static func configuration(_ database: TestDatabase, _ extra: [String: String] = [:]) throws -> APIConfiguration {
        var environment = [
            "DATABASE_URL": database.connectionString,
            "JWT_HS256_SECRET": secret,
            "HOST": "127.0.0.1",
            "PORT": "0",
        ]
        environment.merge(extra) { _, new in new }
        return try APIConfiguration(environment: EnvironmentReader(environment))
    }

    /// Runs `body` against the real application (`PhotoAPI.makeApplication`) on a fresh,
    /// migrated database, through Hummingbird's router test client.
    static func withApplication(
        environment: [String: String] = [:],
        logger: Logger = Logger(label: "test"),
        _ body: @escaping @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await TestDatabase.withFresh { database in
            try await database.migrate()
            let app = try await PhotoAPI.makeApplication(
                configuration: try configuration(database, environment),
                logger: logger
            )
            try await app.test(.router, body)
        }
    }

    /// Claims of a token that passes every check.
    static func validClaims(scope: String? = nil) -> AuthFixtures.Claims {
        var claims: AuthFixtures.Claims = [
            "sub": .string(userID.uuidString),
            "org_id": .string(organizationID.uuidString),
            "exp": .number(Date().timeIntervalSince1970 + 300),
        ]
        if let scope {
            claims["scope"] = .string(scope)
        }
        return claims
    }

    /// An HS256 token signed with `secret`.
    static func hs256(
        _ claims: AuthFixtures.Claims,
        secret: String = secret,
        header: JWTHeader = JWTHeader()
    ) async throws
        -> String
    {
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(claims, header: header)
    }

    /// A token assembled by hand from JSON texts: for headers jwt-kit would not write.
    static func handMade(header: String, payload: String, signature: String = "") -> String {
        base64URL(Array(header.utf8)) + "." + base64URL(Array(payload.utf8)) + "." + signature
    }

    static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func bearer(_ token: String) -> HTTPFields {
        [.authorization: "Bearer \(token)"]
    }

    /// The response body as a problem document.
    static func problem(_ response: TestResponse) throws -> ProblemDocument {
        try JSONDecoder().decode(ProblemDocument.self, from: Data(response.body.readableBytesView))
    }
}

extension AuthFixtures {
    /// A JWT payload of arbitrary claims, so tests can leave claims out or give them the wrong type.
    struct Claims: JWTPayload, ExpressibleByDictionaryLiteral {
        enum Value: Codable, Sendable {
            case string(String)
            case number(Double)
            case strings([String])

            init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Double.self) {
                    self = .number(number)
                } else if let strings = try? container.decode([String].self) {
                    self = .strings(strings)
                } else {
                    self = .string(try container.decode(String.self))
                }
            }

            func encode(to encoder: any Encoder) throws {
                var container = encoder.singleValueContainer()
                switch self {
                case .string(let value): try container.encode(value)
                case .number(let value): try container.encode(value)
                case .strings(let value): try container.encode(value)
                }
            }
        }

        struct ClaimKey: CodingKey {
            let stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        var values: [String: Value]

        init(dictionaryLiteral elements: (String, Value)...) {
            values = Dictionary(elements) { _, new in new }
        }

        subscript(name: String) -> Value? {
            get { values[name] }
            set { values[name] = newValue }
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: ClaimKey.self)
            values = [:]
            for key in container.allKeys {
                values[key.stringValue] = try container.decode(Value.self, forKey: key)
            }
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: ClaimKey.self)
            for (name, value) in values {
                try container.encode(value, forKey: ClaimKey(stringValue: name))
            }
        }

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// Signing keys whose public halves a `JWKSServer` publishes.
    enum Keys {
        /// A fresh 2048-bit RSA key. jwt-kit verifies RSA but does not generate it, so `openssl`
        /// (installed with libssl) makes one.
        static func makeRSAKey() async throws -> Insecure.RSA.PrivateKey {
            let child = try await ChildProcess.run(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
            )
            guard child.status == 0 else {
                throw TestEnvironmentError("openssl genpkey failed: \(child.standardError)")
            }
            return try Insecure.RSA.PrivateKey(pem: child.standardOutput)
        }

        static func rsaJWK(
            _ key: Insecure.RSA.PrivateKey,
            kid: String,
            alg: String? = "RS256"
        ) throws -> [String: String] {
            let (modulus, exponent) = try key.publicKey.getKeyPrimitives()
            var jwk = [
                "kty": "RSA", "kid": kid, "use": "sig",
                "n": AuthFixtures.base64URL(modulus), "e": AuthFixtures.base64URL(exponent),
            ]
            jwk["alg"] = alg
            return jwk
        }

        static func ecJWK(_ key: ES256PrivateKey, kid: String) throws -> [String: String] {
            guard let parameters = key.publicKey.parameters else {
                throw TestEnvironmentError("P-256 key without coordinates")
            }
            return ["kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "x": parameters.x, "y": parameters.y]
        }

        static func jwks(_ keys: [[String: String]]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: ["keys": keys]), as: UTF8.self)
        }

        static func sign(
            _ claims: AuthFixtures.Claims,
            rsa key: Insecure.RSA.PrivateKey,
            kid: String
        ) async throws -> String {
            let keys = await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }

        static func sign(_ claims: AuthFixtures.Claims, ecdsa key: ES256PrivateKey, kid: String) async throws -> String
        {
            let keys = await JWTKeyCollection().add(ecdsa: key, kid: JWKIdentifier(string: kid))
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }
    }

    /// A live HTTP server publishing a JWKS document at `/jwks.json` and counting the fetches.
    final class JWKSServer: Sendable {
        private let document: Mutex<String>
        private let fetches = Mutex(0)

        init(document: String) {
            self.document = Mutex(document)
        }

        /// How many times the key set was fetched.
        var fetchCount: Int { fetches.withLock { $0 } }

        /// Publishes `document` from now on (a key rotation).
        func publish(_ document: String) {
            self.document.withLock { $0 = document }
        }

        /// Runs `body` with the server listening; `body` gets the JWKS URL.
        func withRunning(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
            let router = Router()
            router.get("jwks.json") { _, _ -> Response in
                self.fetches.withLock { $0 += 1 }
                let json = self.document.withLock { $0 }
                return Response(
                    status: .ok,
                    headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(string: json))
                )
            }
            let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
            try await app.test(.live) { client in
                guard let port = client.port else {
                    throw TestEnvironmentError("the JWKS server has no port")
                }
                try await body("http://127.0.0.1:\(port)/jwks.json")
            }
        }
    }

    /// Keeps every log record, to check what the request log says and what it never says.
    final class LogCapture: Sendable {
        struct Record: Sendable {
            let level: Logger.Level
            let message: String
            let metadata: [String: String]

            /// The whole record as text, for "never contains" checks.
            var text: String { message + " " + metadata.map { "\($0)=\($1)" }.joined(separator: " ") }
        }

        private let records = Mutex<[Record]>([])

        var all: [Record] { records.withLock { $0 } }

        var logger: Logger {
            var logger = Logger(label: "capture") { _ in Handler(capture: self) }
            logger.logLevel = .trace
            return logger
        }

        fileprivate func append(_ record: Record) {
            records.withLock { $0.append(record) }
        }

        private struct Handler: LogHandler {
            let capture: LogCapture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(event: LogEvent) {
                let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
                capture.append(
                    Record(
                        level: event.level,
                        message: "\(event.message)",
                        metadata: merged.mapValues { "\($0)" }
                    )
                )
            }
        }
    }

    /// A JSON value, to read response bodies without a type per response.
    enum JSONValue: Decodable, Equatable {
        case string(String)
        case number(Double)
        case strings([String])
        case other

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let string = try? container.decode(String.self) {
                self = .string(string)
            } else if let number = try? container.decode(Double.self) {
                self = .number(number)
            } else if let strings = try? container.decode([String].self) {
                self = .strings(strings)
            } else {
                self = .other
            }
        }
    }
}
