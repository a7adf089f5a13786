import API
import AWS
import AppConfig
import Auth
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import NIOCore
import Postgres
import TestSupport
import Testing

/// Keeps `GET /openapi.yaml` true to the router and to its file: every route the API registers
/// is documented, every documented operation not marked `x-status: planned` is registered, the
/// problem `code` enum is exactly `APIError.Code.allCodes`, and the served bytes are
/// `Sources/API/openapi.yaml`'s.
@Suite struct OpenAPIDocumentTests {
    /// An (OpenAPI path, lower-case method) pair, e.g. `/api/v1/photos/{photo_id}`, `get`.
    struct Operation: Hashable, CustomStringConvertible {
        let path: String
        let method: String
        var description: String { "\(method.uppercased()) \(path)" }
    }

    static let httpMethods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The document parsed by PyYAML (system `python3`) into JSON, then into Foundation values.
    static func parsedDocument() async throws -> [String: Any] {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("openapi-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("openapi.yaml")
        let output = directory.appendingPathComponent("openapi.json")
        try Data(OpenAPIDocument.bytes).write(to: input)
        let child = try ChildProcess(
            URL(fileURLWithPath: "/usr/bin/env"),
            [
                "python3", "-c",
                "import json, sys, yaml; json.dump(yaml.safe_load(open(sys.argv[1])), open(sys.argv[2], 'w'))",
                input.path, output.path,
            ]
        )
        try child.start()
        let status = try await child.wait()
        guard status == 0 else {
            throw TestEnvironmentError("python3 could not parse the document: \(child.standardError)")
        }
        guard let document = try JSONSerialization.jsonObject(with: Data(contentsOf: output)) as? [String: Any] else {
            throw TestEnvironmentError("the document is not a YAML mapping")
        }
        return document
    }

    /// The documented operations, split by `x-status: planned`.
    static func documentedOperations(
        _ document: [String: Any]
    ) throws -> (served: Set<Operation>, planned: Set<Operation>) {
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var served: Set<Operation> = []
        var planned: Set<Operation> = []
        for (path, item) in paths {
            for (method, value) in item where httpMethods.contains(method) {
                let operation = try #require(value as? [String: Any])
                if operation["x-status"] as? String == OpenAPIDocument.plannedStatus {
                    planned.insert(Operation(path: path, method: method))
                } else {
                    served.insert(Operation(path: path, method: method))
                }
            }
        }
        return (served, planned)
    }

    /// The routes of the real router (`PhotoAPI.makeRouter`); nothing is opened.
    static func registeredOperations() async throws -> Set<Operation> {
        let configuration = try APIConfiguration(
            environment: EnvironmentReader([
                "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none",
                "JWT_HS256_SECRET": AuthFixtures.secret,
                "HOST": "127.0.0.1",
                "PORT": "0",
            ])
        )
        let logger = Logger(label: "test")
        let verifier = try await TokenVerifier(hs256Secret: AuthFixtures.secret, jwks: nil)
        return try await Scoped.withPool(
            settings: configuration.database.settings,
            maximumConnections: 1,
            logger: logger
        ) { pool in
            try await Scoped.withHTTPClient { http in
                let router = PhotoAPI.makeRouter(
                    components: .init(pool: pool, configuration: configuration, http: http),
                    configuration: configuration,
                    verifier: verifier,
                    logger: logger
                )
                return Set(
                    router.routes.map {
                        Operation(
                            path: OpenAPIDocument.openAPIPath($0.path.description),
                            method: $0.method.rawValue.lowercased()
                        )
                    }
                )
            }
        }
    }

    @Test func everyRegisteredRouteIsDocumentedAndEveryServedOperationIsRegistered() async throws {
        let document = try await Self.parsedDocument()
        #expect(document["openapi"] as? String == "3.1.0")
        let (served, planned) = try Self.documentedOperations(document)
        let registered = try await Self.registeredOperations()
        #expect(
            registered.subtracting(served).isEmpty,
            "registered but not documented: \(registered.subtracting(served))"
        )
        #expect(
            served.subtracting(registered).isEmpty,
            "documented but not registered: \(served.subtracting(registered))"
        )
        // Planned operations must not be served yet; once one is, drop its `x-status`.
        #expect(
            planned.intersection(registered).isEmpty,
            "served but marked planned: \(planned.intersection(registered))"
        )
        // Every operation of the contract is served now.
        #expect(planned.isEmpty, "still marked planned: \(planned)")
    }

    @Test func theProblemCodeEnumIsEveryAPIErrorCode() async throws {
        let document = try await Self.parsedDocument()
        let components = try #require(document["components"] as? [String: Any])
        let schemas = try #require(components["schemas"] as? [String: Any])
        let code = try #require(schemas["ProblemCode"] as? [String: Any])
        let documented = try #require(code["enum"] as? [String])
        #expect(Set(documented) == Set(APIError.Code.allCodes.map(\.description)))
        #expect(documented.count == APIError.Code.allCodes.count)
        let schemes = try #require(components["securitySchemes"] as? [String: [String: Any]])
        #expect(schemes["bearerAuth"]?["scheme"] as? String == "bearer")
        #expect(schemes["bearerAuth"]?["bearerFormat"] as? String == "JWT")
    }

    @Test func everyErrorResponseIsAProblemDocumentWithARequestID() async throws {
        let document = try await Self.parsedDocument()
        let components = try #require(document["components"] as? [String: Any])
        let responses = try #require(components["responses"] as? [String: [String: Any]])
        for (name, response) in responses {
            let content = try #require(response["content"] as? [String: Any], "\(name)")
            #expect(Array(content.keys) == ["application/problem+json"], "\(name)")
            let headers = try #require(response["headers"] as? [String: Any], "\(name)")
            #expect(headers["X-Request-ID"] != nil, "\(name)")
        }
        #expect((responses["RateLimited"]?["headers"] as? [String: Any])?["Retry-After"] != nil)
        let parameters = try #require(components["parameters"] as? [String: [String: Any]])
        #expect(parameters["IdempotencyKey"]?["name"] as? String == "Idempotency-Key")
    }

    /// `Sources/API/openapi.yaml` in the repository, found from this file's location.
    static var repositoryFile: URL {
        URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/API/openapi.yaml")
    }

    /// The embedded copy is the repository's file, byte for byte: a build that embedded a stale or
    /// re-encoded copy, or a route that re-wrote the body, would serve another document.
    @Test func theServedBodyIsTheRepositoryFileByteForByte() async throws {
        let onDisk = [UInt8](try Data(contentsOf: Self.repositoryFile))
        #expect(!onDisk.isEmpty)
        #expect(OpenAPIDocument.bytes == onDisk)
        let router = Router()
        OpenAPIDocument.add(to: router)
        try await Application(router: router).test(.router) { client in
            for _ in 0..<2 {
                let response = try await client.execute(uri: "/openapi.yaml", method: .get)
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == OpenAPIDocument.mediaType)
                #expect(Array(buffer: response.body) == onDisk)
            }
        }
    }

    @Test(.requiresDatabase) func theDocumentIsServedWithoutAToken() async throws {
        try await AuthFixtures.withApplication { client in
            let response = try await client.execute(uri: "/openapi.yaml", method: .get)
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == OpenAPIDocument.mediaType)
            #expect(Array(buffer: response.body) == OpenAPIDocument.bytes)
            #expect(response.headers[HTTPField.Name("X-Request-ID")!] != nil)
        }
    }
}
