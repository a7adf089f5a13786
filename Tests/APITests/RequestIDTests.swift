import API
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import Testing

/// `X-Request-ID` on every response, echoed or generated (contract section 4).
@Suite(.requiresDatabase, .offTheCooperativePool) struct RequestIDTests {
    private static let header = RequestIDMiddleware.headerName

    @Test func aClientIDIsEchoedOnSuccessNotFoundAndUnauthorized() async throws {
        try await AuthFixtures.withApplication { client in
            for (path, status) in [
                ("/healthz", HTTPResponse.Status.ok), ("/no/such/route", .notFound), ("/api/v1/whoami", .unauthorized),
            ] {
                let id = "client-\(UUID().uuidString)"
                let response = try await client.execute(uri: path, method: .get, headers: [Self.header: id])
                #expect(response.status == status, "\(path)")
                #expect(response.headers[Self.header] == id, "\(path)")
                if status != .ok {
                    #expect(try AuthFixtures.problem(response).requestID == id, "\(path)")
                }
            }
        }
    }

    @Test func anIDIsGeneratedWhenTheClientSendsNone() async throws {
        try await AuthFixtures.withApplication { client in
            var seen: Set<String> = []
            for path in ["/healthz", "/healthz", "/no/such/route", "/api/v1/whoami"] {
                let response = try await client.execute(uri: path, method: .get)
                let id = try #require(response.headers[Self.header], "\(path)")
                #expect(UUID(uuidString: id) != nil, "\(path): \(id)")
                #expect(id == id.lowercased())
                seen.insert(id)
                if response.status != .ok {
                    #expect(try AuthFixtures.problem(response).requestID == id, "\(path)")
                }
            }
            #expect(seen.count == 4)
        }
    }

    @Test func unusableClientIDsAreReplaced() async throws {
        let longest = String(repeating: "a", count: 200)
        try await AuthFixtures.withApplication { client in
            let kept = try await client.execute(uri: "/healthz", method: .get, headers: [Self.header: longest])
            #expect(kept.headers[Self.header] == longest)
            let printable = "trace 42; span=7 \"quoted\""
            let keptPrintable = try await client.execute(
                uri: "/healthz",
                method: .get,
                headers: [Self.header: printable]
            )
            #expect(keptPrintable.headers[Self.header] == printable)

            for unusable in [longest + "a", "tab\there", "café-123"] {
                let response = try await client.execute(uri: "/healthz", method: .get, headers: [Self.header: unusable])
                let id = try #require(response.headers[Self.header])
                #expect(id != unusable)
                #expect(UUID(uuidString: id) != nil, "\(unusable.prefix(20)) -> \(id)")
            }
        }
    }

    @Test func theIDIsInEveryLogLineOfTheRequest() async throws {
        let capture = AuthFixtures.LogCapture()
        let token = try await AuthFixtures.hs256(AuthFixtures.validClaims())
        try await AuthFixtures.withApplication(logger: capture.logger) { client in
            _ = try await client.execute(
                uri: "/api/v1/whoami",
                method: .get,
                headers: [Self.header: "trace-me", .authorization: "Bearer \(token)"]
            )
        }
        let lines = capture.all.filter { $0.metadata["request_id"] == "trace-me" }
        #expect(lines.contains { $0.message == "request" && $0.metadata["route"] == "/api/v1/whoami" })
    }
}
