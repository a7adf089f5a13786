import Foundation
import HTTPSupport
import TestSupport
import Testing

/// Keeps the OpenAPI document's examples and links useful to client teams: every request body
/// and every response has an example; a problem example carries a `code` that docs/api.md's
/// error table gives its status and that the response names, with that code's real `title`,
/// `type` and `status`; every link names an existing operation, fills that operation's path
/// parameters, and reads them from fields the response schema really has. Every example is
/// also validated against its schema (`scripts/check-openapi-examples.py`).
@Suite struct OpenAPIExamplesTests {
    typealias Document = [String: Any]

    /// Follows local `$ref`s (`#/components/...`) to the object they name.
    static func resolve(_ node: Any?, in document: Document) throws -> [String: Any] {
        var current = node
        for _ in 0..<10 {
            guard let object = current as? [String: Any] else {
                throw TestEnvironmentError("not an object: \(String(describing: current))")
            }
            guard let reference = object["$ref"] as? String else { return object }
            current = try pointer(reference, in: document)
        }
        throw TestEnvironmentError("a $ref chain longer than 10")
    }

    /// The value at a local reference `#/a/b/c`.
    static func pointer(_ reference: String, in document: Document) throws -> Any {
        guard reference.hasPrefix("#/") else { throw TestEnvironmentError("not a local $ref: \(reference)") }
        var target: Any = document
        for part in reference.dropFirst(2).split(separator: "/") {
            guard let next = (target as? [String: Any])?[String(part)] else {
                throw TestEnvironmentError("\(reference) points at nothing")
            }
            target = next
        }
        return target
    }

    /// An operation of the document with what it answers.
    struct DocumentedOperation {
        let name: String
        let operationID: String?
        let operation: [String: Any]
        let requestBody: [String: Any]?
        let responses: [(status: String, response: [String: Any])]
    }

    static func operations(_ document: Document) throws -> [DocumentedOperation] {
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var found: [DocumentedOperation] = []
        for (path, item) in paths {
            for (method, value) in item where OpenAPIDocumentTests.httpMethods.contains(method) {
                let operation = try #require(value as? [String: Any])
                let responses = try #require(operation["responses"] as? [String: Any])
                found.append(
                    DocumentedOperation(
                        name: "\(method.uppercased()) \(path)",
                        operationID: operation["operationId"] as? String,
                        operation: operation,
                        requestBody: try operation["requestBody"].map { try resolve($0, in: document) },
                        responses: try responses.sorted { $0.key < $1.key }.map {
                            ($0.key, try resolve($0.value, in: document))
                        }
                    )
                )
            }
        }
        return found
    }

    /// The example values of a media type object: `example`, and each of `examples` (whose
    /// entries may be `$ref`s to `components/examples`).
    static func examples(of media: [String: Any], in document: Document) throws -> [(name: String, value: Any)] {
        var values: [(String, Any)] = []
        if let example = media["example"] { values.append(("example", example)) }
        for (name, entry) in (media["examples"] as? [String: Any] ?? [:]).sorted(by: { $0.key < $1.key }) {
            values.append(
                (name, try #require(try resolve(entry, in: document)["value"], "example \(name) has no value"))
            )
        }
        return values
    }

    @Test func everyRequestBodyAndResponseHasAnExample() async throws {
        let document = try await OpenAPIDocumentTests.parsedDocument()
        var counted = 0
        for operation in try Self.operations(document) {
            var holders: [(String, [String: Any])] = operation.responses.map { ("response \($0.status)", $0.response) }
            if let body = operation.requestBody { holders.append(("request body", body)) }
            for (place, holder) in holders {
                for (mediaType, media) in holder["content"] as? [String: [String: Any]] ?? [:] {
                    let examples = try Self.examples(of: media, in: document)
                    #expect(!examples.isEmpty, "\(operation.name) \(place) \(mediaType) has no example")
                    counted += examples.count
                }
            }
        }
        #expect(counted >= 60, "only \(counted) examples")
    }

    @Test func everyProblemExampleCarriesACodeTheDocsGiveItsStatusAndTheResponseNames() async throws {
        let document = try await OpenAPIDocumentTests.parsedDocument()
        let table = try DocumentedContractTests.readmeCodes()
        let titles = Dictionary(uniqueKeysWithValues: APIError.Code.allCodes.map { ($0.description, $0.title) })
        for operation in try Self.operations(document) {
            for (statusText, response) in operation.responses {
                guard let media = (response["content"] as? [String: [String: Any]])?["application/problem+json"] else {
                    continue
                }
                let status = try #require(Int(statusText))
                let place = "\(operation.name) \(status)"
                // What this route may answer under this status: the codes its response names that
                // docs/api.md's table lists with this status.
                let description = try #require(response["description"] as? String, "\(place)")
                let allowed = Set(DocumentedContractTests.backticked(description)).intersection(
                    table.filter { $0.status == status }.map(\.code)
                )
                #expect(!allowed.isEmpty, "\(place) names no code of status \(status)")
                var shown: Set<String> = []
                for (name, value) in try Self.examples(of: media, in: document) {
                    let problem = try #require(value as? [String: Any], "\(place) example \(name)")
                    let code = try #require(problem["code"] as? String, "\(place) example \(name) has no code")
                    shown.insert(code)
                    #expect(
                        allowed.contains(code),
                        "\(place) example \(name): \(code) is not one of \(allowed.sorted())"
                    )
                    #expect(problem["status"] as? Int == status, "\(place) example \(name): status")
                    #expect(
                        problem["type"] as? String == "https://errors.photo-api.example/\(code)",
                        "\(place) \(name)"
                    )
                    #expect(problem["title"] as? String == titles[code], "\(place) example \(name): title")
                }
                #expect(
                    shown == allowed,
                    "\(place): examples show \(shown.sorted()), the response names \(allowed.sorted())"
                )
            }
        }
    }

    /// The schema a JSON pointer (`/a/b`) leads to inside `schema`, through `$ref`s, `allOf` and
    /// `properties`; nil when a segment is no property. Array indices are not supported.
    static func schema(at pointer: String, in schema: [String: Any], document: Document) throws -> [String: Any]? {
        var current = try resolve(schema, in: document)
        for segment in pointer.split(separator: "/").map(String.init) {
            let parts = [current] + (try (current["allOf"] as? [Any] ?? []).map { try resolve($0, in: document) })
            guard let next = parts.lazy.compactMap({ ($0["properties"] as? [String: Any])?[segment] }).first else {
                return nil
            }
            current = try resolve(next, in: document)
        }
        return current
    }

    @Test func everyLinkNamesAnOperationAndFillsItsParametersFromRealFields() async throws {
        let document = try await OpenAPIDocumentTests.parsedDocument()
        let operations = try Self.operations(document)
        let byID = Dictionary(uniqueKeysWithValues: operations.compactMap { op in op.operationID.map { ($0, op) } })
        var links = 0
        for operation in operations {
            for (status, response) in operation.responses {
                for (name, value) in response["links"] as? [String: Any] ?? [:] {
                    links += 1
                    let place = "\(operation.name) \(status) link \(name)"
                    let link = try Self.resolve(value, in: document)
                    #expect(link["operationRef"] == nil, "\(place): use operationId")
                    #expect((link["description"] as? String)?.isEmpty == false, "\(place) has no description")
                    let operationID = link["operationId"] as? String ?? ""
                    guard let target = byID[operationID] else {
                        Issue.record("\(place): no operation has the operationId \(operationID)")
                        continue
                    }
                    let targetParameters = try (target.operation["parameters"] as? [Any] ?? []).map {
                        try Self.resolve($0, in: document)
                    }
                    let requiredPath = Set(
                        targetParameters.filter { $0["in"] as? String == "path" }.compactMap { $0["name"] as? String }
                    )
                    let given = link["parameters"] as? [String: String] ?? [:]
                    #expect(
                        Set(given.keys) == requiredPath,
                        "\(place) fills \(given.keys.sorted()), needs \(requiredPath.sorted())"
                    )
                    for (parameter, expression) in given {
                        let prefix = "$response.body#"
                        guard expression.hasPrefix(prefix) else {
                            Issue.record("\(place) \(parameter): \(expression) is not a $response.body# expression")
                            continue
                        }
                        let pointer = String(expression.dropFirst(prefix.count))
                        let body = try #require(
                            (response["content"] as? [String: [String: Any]])?["application/json"]?["schema"]
                                as? [String: Any],
                            "\(place): the response has no JSON schema"
                        )
                        let field = try Self.schema(at: pointer, in: body, document: document)
                        #expect(field != nil, "\(place) \(parameter): \(pointer) is no field of the response")
                        // A top-level field the response always has.
                        let topLevel = String(pointer.split(separator: "/").first ?? "")
                        let required = try Self.resolve(body, in: document)["required"] as? [String] ?? []
                        #expect(required.contains(topLevel), "\(place): \(topLevel) is not a required field")
                        // The same type as the parameter it fills.
                        let parameterSchema = targetParameters.first { $0["name"] as? String == parameter }?["schema"]
                        let expected = try Self.resolve(parameterSchema, in: document)
                        #expect(field?["type"] as? String == expected["type"] as? String, "\(place) \(parameter): type")
                        #expect(
                            field?["format"] as? String == expected["format"] as? String,
                            "\(place) \(parameter): format"
                        )
                    }
                }
            }
        }
        // upload-url -> completeUpload and getPhoto; complete -> getPhoto.
        #expect(links >= 3)
    }

    /// The schemathesis venv's python, which has PyYAML and jsonschema_rs.
    static var python: URL {
        OpenAPISchemathesisTests.venv.appendingPathComponent("bin/python")
    }

    /// Runs under `scripts/test.sh` (which installs the venv), or wherever the venv exists.
    static var canValidate: Bool {
        ProcessInfo.processInfo.environment["REQUIRE_TEST_DATABASE"] == "1"
            || FileManager.default.isExecutableFile(atPath: python.path)
    }

    @Test(.enabled(if: canValidate, "needs the schemathesis venv: run scripts/test.sh"))
    func everyExampleIsValidAgainstItsSchema() async throws {
        try #require(
            FileManager.default.isExecutableFile(atPath: Self.python.path),
            "\(Self.python.path) is missing: run the tests through scripts/test.sh, which installs it"
        )
        let run = try await ChildProcess.run(
            Self.python,
            [
                TestPaths.repositoryRoot.appendingPathComponent("scripts/check-openapi-examples.py").path,
                OpenAPIDocumentTests.repositoryFile.path,
            ],
            timeout: .seconds(60)
        )
        #expect(run.status == 0, "\(run.standardOutput)\(run.standardError)")
        #expect(run.standardError.contains(" examples checked, 0 problems"), "\(run.standardError)")
    }
}
