import API
import AWS
import AuthTestSupport
import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Postgres
import TestSupport
import Testing

/// `PATCH /api/v1/photos/{id}/status`: the detection pipeline's changes.
@Suite(.serialized, .requiresDatabase, .offTheCooperativePool) struct PhotoStatusTests {
    static func pipelineToken(organization: UUID = AuthFixtures.organizationID) async throws -> String {
        try await AuthFixtures.hs256([
            "sub": .string(UUID().uuidString),
            "org_id": .string(organization.uuidString),
            "exp": .number(Date().timeIntervalSince1970 + 300),
            "scope": .string("photos:read photos:status:write"),
        ])
    }

    static func patch(
        _ world: PhotoWorld,
        _ photoID: UUID,
        _ body: String,
        token: String
    ) async throws -> (Int, [String: Any]) {
        let response = try await world.request(
            .patch,
            "/api/v1/photos/\(photoID.uuidString)/status",
            token: token,
            body: body
        )
        return (Int(response.status.code), try PhotoWorld.json(response))
    }

    static func historyCount(_ world: PhotoWorld, _ photoID: UUID) throws -> Int {
        try world.sql("SELECT count(*)::integer AS n FROM photo_status_history WHERE photo_id = $1", [photoID])
            .first?.decode("n") ?? -1
    }

    @Test func thePipelineMovesAPhotoThroughDetectionWithItsResult() async throws {
        let token = try await Self.pipelineToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "uploaded")

            let (processingStatus, processing) = try await Self.patch(
                world,
                photo,
                #"{"status":"processing"}"#,
                token: token
            )
            #expect(processingStatus == 200)
            #expect(processing["status"] as? String == "processing")
            #expect(processing["processing_at"] is String)

            let result = #"{"damage":[{"label":"hail","confidence":0.93}],"material":"asphalt"}"#
            let (completedStatus, completed) = try await Self.patch(
                world,
                photo,
                #"{"status":"completed","result":\#(result)}"#,
                token: token
            )
            #expect(completedStatus == 200)
            #expect(completed["status"] as? String == "completed")
            #expect(completed["completed_at"] is String)
            let detection = try #require(completed["detection"] as? [String: Any])
            #expect(detection["status"] as? String == "completed")
            let stored = try #require(detection["result"] as? [String: Any])
            #expect(stored["material"] as? String == "asphalt")
            let history = try #require(completed["status_history"] as? [[String: Any]])
            #expect(history.compactMap { $0["status"] as? String }.suffix(2) == ["processing", "completed"])

            // The same status again is a no-op 200 that writes nothing.
            let before = try Self.historyCount(world, photo)
            let (sameStatus, same) = try await Self.patch(world, photo, #"{"status":"completed"}"#, token: token)
            #expect(sameStatus == 200)
            #expect(same["status"] as? String == "completed")
            #expect(try Self.historyCount(world, photo) == before)

            // Completed is final.
            let (backStatus, back) = try await Self.patch(world, photo, #"{"status":"processing"}"#, token: token)
            #expect(backStatus == 409)
            #expect(back["code"] as? String == "invalid_status_transition")
        }
    }

    @Test func aFailureKeepsTheErrorAndHistoryReason() async throws {
        let token = try await Self.pipelineToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "processing")
            let (status, body) = try await Self.patch(
                world,
                photo,
                #"{"status":"failed","error":"model timed out"}"#,
                token: token
            )
            #expect(status == 200)
            #expect(body["status"] as? String == "failed")
            #expect(body["error"] as? String == "model timed out")
            #expect(body["failed_at"] is String)
            let reason: String? = try world.sql(
                "SELECT reason FROM photo_status_history WHERE photo_id = $1 AND status = 'failed'",
                [photo]
            ).first?.decode("reason")
            #expect(reason == "model timed out")
        }
    }

    @Test(arguments: [
        ("pending_upload", "completed"),
        ("pending_upload", "processing"),
        ("uploaded", "completed"),
        ("failed", "processing"),
        ("completed", "failed"),
    ])
    func transitionsOutsideTheTableAre409(from current: String, to target: String) async throws {
        let token = try await Self.pipelineToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: current)
            let (status, body) = try await Self.patch(world, photo, #"{"status":"\#(target)"}"#, token: token)
            #expect(status == 409)
            #expect(body["code"] as? String == "invalid_status_transition")
            let stored: String? = try world.sql("SELECT status FROM photos WHERE id = $1", [photo]).first?.decode(
                "status"
            )
            #expect(stored == current)
        }
    }

    @Test(arguments: [
        "not json",
        "[]",
        #"{}"#,
        #"{"status":"uploaded"}"#,
        #"{"status":"pending_upload"}"#,
        #"{"status":"done"}"#,
        #"{"status":7}"#,
        #"{"status":"completed","result":[1,2]}"#,
        #"{"status":"completed","result":"fine"}"#,
        #"{"status":"completed","error":"only with failed"}"#,
        #"{"status":"failed","error":""}"#,
        #"{"status":"failed","error":42}"#,
    ])
    func badBodiesAre400(_ body: String) async throws {
        let token = try await Self.pipelineToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "uploaded")
            let (status, problem) = try await Self.patch(world, photo, body, token: token)
            #expect(status == 400, "\(body)")
            #expect(problem["code"] as? String == "invalid_request", "\(body)")
        }
    }

    @Test func theScopeAndTheOrganizationAreRequired() async throws {
        let withoutScope = try await PhotoWorld.token()
        let stranger = try await Self.pipelineToken(organization: UUID())
        let token = try await Self.pipelineToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "uploaded")
            let (unscoped, unscopedBody) = try await Self.patch(
                world,
                photo,
                #"{"status":"processing"}"#,
                token: withoutScope
            )
            #expect(unscoped == 403)
            #expect(unscopedBody["code"] as? String == "forbidden")
            let (foreign, foreignBody) = try await Self.patch(
                world,
                photo,
                #"{"status":"processing"}"#,
                token: stranger
            )
            #expect(foreign == 403)
            #expect(foreignBody["code"] as? String == "forbidden")
            let (unknown, unknownBody) = try await Self.patch(world, UUID(), #"{"status":"processing"}"#, token: token)
            #expect(unknown == 404)
            #expect(unknownBody["code"] as? String == "not_found")
            let stored: String? = try world.sql("SELECT status FROM photos WHERE id = $1", [photo]).first?.decode(
                "status"
            )
            #expect(stored == "uploaded")
        }
    }

    @Test func concurrentChangesToOneStatusWriteOneHistoryRow() async throws {
        let token = try await Self.pipelineToken()
        try await PhotoWorld.run { world in
            let project = try world.makeProject()
            let photo = try PhotoReadTests.insertPhoto(world, project: project, status: "uploaded")
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await Self.patch(world, photo, #"{"status":"processing"}"#, token: token).0 }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == Array(repeating: 200, count: 8))
            let rows: Int =
                try world.sql(
                    "SELECT count(*)::integer AS n FROM photo_status_history WHERE photo_id = $1 AND status = 'processing'",
                    [photo]
                ).first?.decode("n") ?? -1
            #expect(rows == 1)
        }
    }
}
