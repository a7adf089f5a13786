import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import JWTKit
import Synchronization
import TestSupport

/// Tokens, signing keys and a JWKS server, shared by the Auth, HTTPSupport and API tests.
public enum AuthFixtures {
    public static let secret = "test-only-secret-of-at-least-32-bytes!!"
    public static let userID = UUID()
    public static let organizationID = UUID()

    /// Claims of a token that passes every check.
    public static func validClaims(scope: String? = nil) -> AuthFixtures.Claims {
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

    /// The `sub` of the service tokens the tests sign: a client id, not a UUID.
    public static let serviceSubject = "detection-pipeline"

    /// Claims of a service principal's token (the detection pipeline): scope
    /// `photos:status:write` and no `org_id`.
    public static func serviceClaims(
        subject: String = serviceSubject,
        scope: String = "photos:status:write"
    ) -> AuthFixtures.Claims {
        [
            "sub": .string(subject),
            "exp": .number(Date().timeIntervalSince1970 + 300),
            "scope": .string(scope),
        ]
    }

    /// An HS256 token signed with `secret`.
    public static func hs256(
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
    public static func handMade(header: String, payload: String, signature: String = "") -> String {
        base64URL(Array(header.utf8)) + "." + base64URL(Array(payload.utf8)) + "." + signature
    }

    public static func base64URL(_ bytes: some Sequence<UInt8>) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// `Authorization: Bearer <token>`.
    public static func bearer(_ token: String) -> HTTPFields {
        [.authorization: "Bearer \(token)"]
    }
}

extension AuthFixtures {
    /// A JWT payload of arbitrary claims, so tests can leave claims out or give them the wrong type.
    public struct Claims: JWTPayload, ExpressibleByDictionaryLiteral {
        public enum Value: Codable, Sendable {
            case string(String)
            case number(Double)
            case strings([String])

            public init(from decoder: any Decoder) throws {
                let container = try decoder.singleValueContainer()
                if let number = try? container.decode(Double.self) {
                    self = .number(number)
                } else if let strings = try? container.decode([String].self) {
                    self = .strings(strings)
                } else {
                    self = .string(try container.decode(String.self))
                }
            }

            public func encode(to encoder: any Encoder) throws {
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

        public var values: [String: Value]

        public init(dictionaryLiteral elements: (String, Value)...) {
            values = Dictionary(elements) { _, new in new }
        }

        public subscript(name: String) -> Value? {
            get { values[name] }
            set { values[name] = newValue }
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: ClaimKey.self)
            values = [:]
            for key in container.allKeys {
                values[key.stringValue] = try container.decode(Value.self, forKey: key)
            }
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: ClaimKey.self)
            for (name, value) in values {
                try container.encode(value, forKey: ClaimKey(stringValue: name))
            }
        }

        public func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// Signing keys whose public halves a `JWKSServer` publishes.
    public enum Keys {
        /// A fresh 2048-bit RSA key. jwt-kit verifies RSA but does not generate it, so `openssl`
        /// (installed with libssl) makes one.
        public static func makeRSAKey() async throws -> Insecure.RSA.PrivateKey {
            let child = try await ChildProcess.run(
                URL(fileURLWithPath: "/usr/bin/env"),
                ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]
            )
            guard child.status == 0 else {
                throw TestEnvironmentError("openssl genpkey failed: \(child.standardError)")
            }
            return try Insecure.RSA.PrivateKey(pem: child.standardOutput)
        }

        public static func rsaJWK(
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

        public static func ecJWK(_ key: ES256PrivateKey, kid: String) throws -> [String: String] {
            guard let parameters = key.publicKey.parameters else {
                throw TestEnvironmentError("P-256 key without coordinates")
            }
            return ["kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "x": parameters.x, "y": parameters.y]
        }

        public static func jwks(_ keys: [[String: String]]) throws -> String {
            String(decoding: try JSONSerialization.data(withJSONObject: ["keys": keys]), as: UTF8.self)
        }

        public static func sign(
            _ claims: AuthFixtures.Claims,
            rsa key: Insecure.RSA.PrivateKey,
            kid: String
        ) async throws -> String {
            let keys = await JWTKeyCollection().add(rsa: key, digestAlgorithm: .sha256, kid: JWKIdentifier(string: kid))
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }

        public static func sign(
            _ claims: AuthFixtures.Claims,
            ecdsa key: ES256PrivateKey,
            kid: String
        ) async throws -> String {
            let keys = await JWTKeyCollection().add(ecdsa: key, kid: JWKIdentifier(string: kid))
            return try await keys.sign(claims, kid: JWKIdentifier(string: kid))
        }
    }

    /// A live HTTP server publishing a JWKS document at `/jwks.json` and counting the fetches.
    public final class JWKSServer: Sendable {
        private let document: Mutex<String>
        private let fetches = Mutex(0)

        public init(document: String) {
            self.document = Mutex(document)
        }

        /// How many times the key set was fetched.
        public var fetchCount: Int { fetches.withLock { $0 } }

        /// Publishes `document` from now on (a key rotation).
        public func publish(_ document: String) {
            self.document.withLock { $0 = document }
        }

        /// Runs `body` with the server listening; `body` gets the JWKS URL.
        public func withRunning(_ body: @escaping @Sendable (String) async throws -> Void) async throws {
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
}
