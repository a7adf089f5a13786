import Foundation
import HTTPSupport
import HTTPTypes
import TestSupport
import Testing

/// Holds docs/api.md's route and error-code tables, which users read, to what the service does:
/// the routes are exactly the OpenAPI document's operations and the router's routes; the codes
/// are exactly the document's `ProblemCode` enum and `APIError.Code.allCodes`, each with the
/// status docs/api.md gives it, in `APIError` and in every operation response that names it.
/// `OpenAPIDocumentTests` only compares the document with the server; this compares both with
/// what the documentation promises.
@Suite struct DocumentedContractTests {
    typealias Operation = OpenAPIDocumentTests.Operation

    /// The rows of docs/api.md's Markdown table whose header row is `header`, as cells with
    /// their backticks removed.
    static func readmeTable(header: [String]) throws -> [[String]] {
        let readme = try String(
            contentsOf: TestPaths.repositoryRoot.appendingPathComponent("docs/api.md"),
            encoding: .utf8
        )
        let lines = readme.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func cells(_ line: String) -> [String] {
            line.split(separator: "|").map {
                $0.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "`", with: "")
            }
        }
        guard let start = lines.firstIndex(where: { $0.hasPrefix("|") && cells($0) == header }) else {
            throw TestEnvironmentError("docs/api.md has no table headed \(header)")
        }
        // Skip the header and the `|---|` row; the table ends at the first line not a row.
        return lines[(start + 2)...].prefix { $0.hasPrefix("|") }.map(cells)
    }

    /// docs/api.md's routes: (OpenAPI path, lower-case method).
    static func readmeRoutes() throws -> [Operation] {
        try readmeTable(header: ["method", "path", "what"]).map { Operation(path: $0[1], method: $0[0].lowercased()) }
    }

    /// docs/api.md's codes with their statuses.
    static func readmeCodes() throws -> [(status: Int, code: String)] {
        try readmeTable(header: ["status", "code", "when"]).map { row in
            guard let status = Int(row[0]) else { throw TestEnvironmentError("not a status: \(row)") }
            return (status, row[1])
        }
    }

    @Test func theReadmesRoutesAreTheDocumentsOperationsAndTheRoutersRoutes() async throws {
        let readme = try Self.readmeRoutes()
        #expect(readme.count >= 10, "\(readme)")
        #expect(Set(readme).count == readme.count, "a route is listed twice")
        let (served, planned) = try OpenAPIDocumentTests.documentedOperations(
            try await OpenAPIDocumentTests.parsedDocument()
        )
        let documented = served.union(planned)
        #expect(
            Set(readme).subtracting(documented).isEmpty,
            "in docs/api.md only: \(Set(readme).subtracting(documented))"
        )
        #expect(documented.subtracting(readme).isEmpty, "in the document only: \(documented.subtracting(readme))")
        let registered = try await OpenAPIDocumentTests.registeredOperations()
        #expect(Set(readme).subtracting(registered).isEmpty, "not served: \(Set(readme).subtracting(registered))")
        #expect(registered.subtracting(readme).isEmpty, "not in docs/api.md: \(registered.subtracting(readme))")
    }

    @Test func theReadmesCodesAreAPIErrorsCodesWithTheirStatuses() throws {
        let readme = try Self.readmeCodes()
        #expect(Set(readme.map(\.code)).count == readme.count, "a code is listed twice")
        let codes = Dictionary(uniqueKeysWithValues: APIError.Code.allCodes.map { ($0.description, $0) })
        #expect(Set(readme.map(\.code)) == Set(codes.keys))
        for row in readme {
            #expect(codes[row.code].map { Int($0.status.code) } == row.status, "\(row.code)")
        }
    }

    /// Codes the router answers for any path, so no operation lists them.
    static let routerWideCodes: Set<String> = ["method_not_allowed"]

    @Test func theDocumentNamesEachCodeUnderTheReadmesStatus() async throws {
        let readme = try Self.readmeCodes()
        let statusOf = Dictionary(uniqueKeysWithValues: readme.map { ($0.code, $0.status) })
        let document = try await OpenAPIDocumentTests.parsedDocument()
        let components = try #require(document["components"] as? [String: Any])
        let problemCodes = try #require((components["schemas"] as? [String: Any])?["ProblemCode"] as? [String: Any])
        #expect(Set(try #require(problemCodes["enum"] as? [String])) == Set(statusOf.keys))

        // Every (status, code) pair the operations' error responses name, from their descriptions.
        let shared = try #require(components["responses"] as? [String: [String: Any]])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        var named: [String: Set<Int>] = [:]
        for (path, item) in paths {
            for (method, value) in item where OpenAPIDocumentTests.httpMethods.contains(method) {
                let responses = try #require((value as? [String: Any])?["responses"] as? [String: [String: Any]])
                for (statusText, response) in responses {
                    let status = try #require(Int(statusText), "\(method) \(path) \(statusText)")
                    // `$ref: "#/components/responses/NotFound"`, or the response itself.
                    let name = (response["$ref"] as? String)?.split(separator: "/").last.map(String.init)
                    let resolved = try name.map { try #require(shared[$0], "\($0)") } ?? response
                    let description = try #require(resolved["description"] as? String, "\(method) \(path) \(status)")
                    for code in Self.backticked(description) where statusOf[code] != nil {
                        named[code, default: []].insert(status)
                    }
                }
            }
        }
        for (code, statuses) in named {
            #expect(statuses == [statusOf[code]], "\(code) is documented under \(statuses.sorted())")
        }
        let unnamed = Set(statusOf.keys).subtracting(named.keys).subtracting(Self.routerWideCodes)
        #expect(unnamed.isEmpty, "no operation names \(unnamed.sorted())")
    }

    /// The `code` spans of a Markdown text.
    static func backticked(_ text: String) -> [String] {
        text.split(separator: "`", omittingEmptySubsequences: false).enumerated().compactMap {
            $0.offset % 2 == 1 ? String($0.element) : nil
        }
    }
}
