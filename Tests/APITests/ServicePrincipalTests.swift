import API
import AuthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// The detection pipeline's service token (scope `photos:status:write`, no `org_id`) through the
/// real router: it reads and moves any organization's photo, is refused everywhere else, and the
/// status history and the log name it.
@Suite(.serialized, .requiresDatabase, .offTheCooperativePool) struct ServicePrincipalTests {
    static func serviceToken() async throws -> String {
        try await AuthFixtures.hs256(AuthFixtures.serviceClaims())
    }

    static func changedBy(_ world: PhotoWorld, _ photoID: UUID, status: String) throws -> String? {
        try world.sql(
            "SELECT changed_by FROM photo_status_history WHERE photo_id = $1 AND status = $2",
            [photoID, status]
        ).first?.decode("changed_by")
    }

    @Test func itMovesAndReadsPhotosOfEveryOrganization() async throws {
        let token = try await Self.serviceToken()
        let logs = AuthFixtures.LogCapture()
        try await PhotoWorld.run(logger: logs.logger) { world in
            for organization in [AuthFixtures.organizationID, UUID(), UUID()] {
                let project = try world.makeProject(organization: organization)
                let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "uploaded")
                let (status, body) = try await PhotoStatusTests.patch(
                    world,
                    photo,
                    #"{"status":"processing"}"#,
                    token: token
                )
                #expect(status == 200)
                #expect(body["status"] as? String == "processing")
                #expect(try Self.changedBy(world, photo, status: "processing") == "service:detection-pipeline")

                let read = try await world.request(.get, "/api/v1/photos/\(photo)", token: token)
                #expect(read.status == .ok)
                #expect(try PhotoWorld.json(read)["status"] as? String == "processing")
            }
            // A photo that does not exist is still a 404.
            let missing = try await world.request(.get, "/api/v1/photos/\(UUID())", token: token)
            #expect(missing.status == .notFound)
        }
        let changes = logs.all.filter { $0.message == "photo status changed" }
        #expect(changes.count == 3)
        #expect(changes.allSatisfy { $0.metadata["changed_by"] == "service:detection-pipeline" })
        #expect(changes.allSatisfy { $0.metadata["service_sub"] == "detection-pipeline" })
        let requests = logs.all.filter { $0.message == "request" }
        #expect(!requests.isEmpty)
        #expect(
            requests.allSatisfy { $0.metadata["service_sub"] == "detection-pipeline" && $0.metadata["user_id"] == nil }
        )
    }

    @Test func everyUserRouteRefusesIt() async throws {
        let token = try await Self.serviceToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "pending_upload")
            let refused: [(HTTPRequest.Method, String, String?)] = [
                (.post, "/api/v1/photos/upload-url", PhotoWorld.uploadBody(project: project)),
                (.post, "/api/v1/photos/\(photo)/complete", nil),
                (.get, "/api/v1/projects/\(project)/photos", nil),
                (.get, "/api/v1/whoami", nil),
            ]
            for (method, path, body) in refused {
                let response = try await world.request(method, path, token: token, body: body)
                #expect(response.status == .forbidden, "\(method) \(path)")
                let problem = try PhotoWorld.json(response)
                #expect(problem["code"] as? String == "forbidden", "\(method) \(path)")
                #expect(
                    problem["detail"] as? String == "a service token may only read photos and change their status"
                )
            }
            // Nothing was written: no photo beyond the seeded one, its status unchanged.
            let photos: Int = try world.sql("SELECT count(*)::integer AS n FROM photos").first?.decode("n") ?? -1
            #expect(photos == 1)
            let stored: String? = try world.sql("SELECT status FROM photos WHERE id = $1", [photo]).first?.decode(
                "status"
            )
            #expect(stored == "pending_upload")
        }
    }

    @Test func aUserTokenWithTheScopeIsRecordedAsThatUser() async throws {
        let user = UUID()
        let token = try await AuthFixtures.hs256([
            "sub": .string(user.uuidString),
            "org_id": .string(AuthFixtures.organizationID.uuidString),
            "exp": .number(Date().timeIntervalSince1970 + 300),
            "scope": .string("photos:status:write"),
        ])
        try await PhotoWorld.run { world in
            let own = try PhotoReadTests.insertPhoto(world, project: try world.makeProject(), status: "processing")
            let (status, _) = try await PhotoStatusTests.patch(
                world,
                own,
                #"{"status":"failed","error":"blurred"}"#,
                token: token
            )
            #expect(status == 200)
            #expect(try Self.changedBy(world, own, status: "failed") == "user:\(user.uuidString.lowercased())")
            // Another organization's photo stays closed to a user token, scope or not.
            let foreign = try PhotoReadTests.insertPhoto(
                world,
                project: try world.makeProject(organization: UUID()),
                status: "processing"
            )
            let (foreignStatus, problem) = try await PhotoStatusTests.patch(
                world,
                foreign,
                #"{"status":"completed"}"#,
                token: token
            )
            #expect(foreignStatus == 403)
            #expect(problem["code"] as? String == "forbidden")
        }
    }

    @Test func aTokenWithoutOrganizationOrScopeIsUnauthorized() async throws {
        let token = try await AuthFixtures.hs256(AuthFixtures.serviceClaims(scope: "photos:read"))
        try await PhotoWorld.run { world in
            let photo = try PhotoReadTests.insertPhoto(world, project: try world.makeProject(), status: "uploaded")
            let response = try await world.request(.get, "/api/v1/photos/\(photo)", token: token)
            #expect(response.status == .unauthorized)
            #expect(try PhotoWorld.json(response)["code"] as? String == "unauthorized")
        }
    }
}
