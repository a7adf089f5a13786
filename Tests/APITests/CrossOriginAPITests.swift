import API
import AuthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import TestSupport
import Testing

/// `CORS_ALLOWED_ORIGINS` read by the real application: its routes answer preflights, and a
/// browser can read both a photo and a refusal.
@Suite(.serialized, .requiresDatabase, .offTheCooperativePool) struct CrossOriginAPITests {
    static let origin = "https://app.example.com"

    @Test func theApplicationAnswersPreflightsForItsRoutes() async throws {
        let token = try await PhotoWorld.token()
        try await PhotoWorld.run(environment: ["CORS_ALLOWED_ORIGINS": "\(Self.origin), http://localhost:3000"]) {
            world in
            let photo = try PhotoReadTests.insertPhoto(world, project: try world.makeProject(), status: "uploaded")
            let expectations: [(String, String)] = [
                ("/api/v1/photos/upload-url", "POST"),
                ("/api/v1/photos/\(photo)/complete", "POST"),
                ("/api/v1/photos/\(photo)/status", "PATCH"),
                ("/api/v1/photos/\(photo)", "GET"),
                ("/api/v1/projects/\(UUID())/photos", "GET"),
            ]
            for (path, method) in expectations {
                let preflight = try await world.client.execute(
                    uri: path,
                    method: .options,
                    headers: [
                        .origin: Self.origin, .accessControlRequestMethod: method,
                        .accessControlRequestHeaders: "authorization,content-type,idempotency-key",
                    ]
                )
                #expect(preflight.status == .noContent, "\(path)")
                #expect(preflight.headers[.accessControlAllowOrigin] == Self.origin, "\(path)")
                #expect(preflight.headers[.accessControlAllowMethods] == method, "\(path)")
                #expect(preflight.headers[.accessControlAllowHeaders]?.contains("Idempotency-Key") == true, "\(path)")
            }

            let read = try await world.request(
                .get,
                "/api/v1/photos/\(photo)",
                token: token,
                headers: [.origin: Self.origin]
            )
            #expect(read.status == .ok)
            #expect(read.headers[.accessControlAllowOrigin] == Self.origin)
            #expect(read.headers[.accessControlExposeHeaders]?.contains("X-Request-ID") == true)

            let refused = try await world.client.execute(
                uri: "/api/v1/photos/\(photo)",
                method: .get,
                headers: [.origin: Self.origin]
            )
            #expect(refused.status == .unauthorized)
            #expect(refused.headers[.accessControlAllowOrigin] == Self.origin)
            #expect(try PhotoWorld.json(refused)["code"] as? String == "unauthorized")

            let stranger = try await world.request(
                .get,
                "/api/v1/photos/\(photo)",
                token: token,
                headers: [.origin: "https://elsewhere.example.com"]
            )
            #expect(stranger.status == .ok)
            #expect(stranger.headers[.accessControlAllowOrigin] == nil)
        }
    }
}
