import API
import AWS
import Foundation
import HTTPTypes
import Postgres
import TestSupport
import Testing

/// Failed uploads leave nothing in a versioned bucket: when `complete` finds the object invalid,
/// photo-api deletes every version of the key (a plain DELETE would only add a delete marker),
/// the photo row keeps its reason, and a deletion S3 could not do is retried by the reconciler.
/// `ListObjectVersions`, asked directly, is the oracle.
@Suite(.tags(.localstack), .serialized, .requiresDatabase, .requiresLocalStack, .offTheCooperativePool)
struct FailedUploadCleanupLocalStackTests {
    /// Bytes of the declared length that are not a JPEG.
    static func garbage(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
    }

    /// What `ListObjectVersions` lists for exactly `key` (versions and delete markers), asked with
    /// the test's own credentials.
    static func versions(_ world: StorageWorld, key: String) async throws -> [String] {
        let response = try await world.http.execute(
            .init(
                method: "GET",
                url: "\(world.s3Endpoint)/\(world.bucket)?versions&prefix=\(key)",
                signing: StorageWorld.signing
            )
        )
        guard response.status == 200 else {
            throw TestEnvironmentError("ListObjectVersions answered \(response.status)")
        }
        let body = String(decoding: response.body, as: UTF8.self)
        // Each `<Version>` / `<DeleteMarker>` entry names its key; count the ones of this key.
        return body.components(separatedBy: "<Key>\(key)</Key>").dropFirst().map { _ in key }
    }

    /// On the world's bucket, versioned: a photo, and `puts` PUTs through its URL of bytes of
    /// the declared length that are not a JPEG (each a version of the key).
    static func uploadGarbage(
        _ world: StorageWorld,
        puts: Int,
        token: String
    ) async throws -> (
        upload: (photoID: String, url: String, headers: [(name: String, value: String)]), key: String, bytes: [UInt8]
    ) {
        try await world.enableVersioning()
        let bytes = garbage(4096)
        let upload = try await world.requestUpload(
            project: try world.photos.makeProject(),
            size: bytes.count,
            token: token
        )
        for index in 0..<puts {
            try await world.put(
                index % 2 == 0 ? bytes : Array(bytes.reversed()),
                to: upload.url,
                headers: upload.headers
            )
        }
        return (upload, try key(world, upload.photoID), bytes)
    }

    /// The photo's S3 key.
    static func key(_ world: StorageWorld, _ photoID: String) throws -> String {
        try #require(try world.photos.sql("SELECT s3_key FROM photos WHERE id = $1", [photoID]).first?.decode("s3_key"))
    }

    /// The photo row's reason, recorded object and pending deletion.
    static func row(_ world: StorageWorld, _ photoID: String) throws -> (error: String?, version: String?, due: Bool) {
        let row = try #require(
            try world.photos.sql(
                "SELECT error, s3_version_id, object_delete_due_at IS NOT NULL AS due FROM photos WHERE id = $1",
                [photoID]
            ).first
        )
        return (try row.decodeIfPresent("error"), try row.decodeIfPresent("s3_version_id"), try row.decode("due"))
    }

    @Test func anInvalidUploadLeavesNoVersionBehind() async throws {
        let token = try await PhotoWorld.token()
        try await StorageWorld.runOnLocalStack(environment: UploadReconcilerTests.withoutTheApplicationsReconciler) {
            world in
            // Two PUTs through the same URL: two versions of the key.
            let (upload, key, _) = try await Self.uploadGarbage(world, puts: 2, token: token)
            #expect(try await Self.versions(world, key: key).count == 2)

            let completed = try await world.complete(upload.photoID, token: token)
            #expect(completed.status == 422)
            #expect(completed.code == "invalid_upload")
            #expect(try await Self.versions(world, key: key).isEmpty)
            let row = try Self.row(world, upload.photoID)
            #expect(row.error?.hasPrefix("invalid_upload: ") == true)
            // The refused object is named in the row; the URL is still valid, so one more sweep is due.
            #expect(row.version?.isEmpty == false)
            #expect(row.due)
            #expect(try world.status(upload.photoID) == "failed")
        }
    }

    /// The client PUTs the key again after the failure (its URL is still valid) while S3 is down
    /// for the reconciler: the object stays and the deletion stays due; once S3 answers, a pass
    /// deletes every version and nothing is due any more.
    @Test func aRePutIsSweptAndADeletionS3RefusedIsRetriedByTheReconciler() async throws {
        let token = try await PhotoWorld.token()
        let refusing = try RefusingPort()
        defer { withExtendedLifetime(refusing) {} }
        try await StorageWorld.runOnLocalStack(environment: UploadReconcilerTests.withoutTheApplicationsReconciler) {
            world in
            let (upload, key, bytes) = try await Self.uploadGarbage(world, puts: 1, token: token)
            #expect((try await world.complete(upload.photoID, token: token)).code == "invalid_upload")
            #expect(try await Self.versions(world, key: key).isEmpty)

            // The re-PUT, then the URL expires: the sweep becomes due.
            try await world.put(bytes, to: upload.url, headers: upload.headers)
            #expect(try await Self.versions(world, key: key).count == 1)
            try world.photos.sql(
                "UPDATE photos SET upload_expires_at = now() - interval '1 hour', object_delete_due_at = now() WHERE id = $1",
                [upload.photoID]
            )

            try await UploadReconcilerTests.withReconcilers(
                world,
                count: 1,
                environment: ["AWS_ENDPOINT_URL_S3": refusing.endpoint]
            ) { reconcilers in
                let summary = try await reconcilers[0].runPass()
                #expect(summary.failedObjectDeletions == 1)
                #expect(summary.deletedObjects == 0)
            }
            #expect(try await Self.versions(world, key: key).count == 1)
            #expect(try Self.row(world, upload.photoID).due)

            // The claim runs out (here at once), and S3 is back.
            try world.photos.sql("UPDATE photos SET object_delete_due_at = now() WHERE id = $1", [upload.photoID])
            try await UploadReconcilerTests.withReconcilers(world, count: 1) { reconcilers in
                let summary = try await reconcilers[0].runPass()
                #expect(summary.deletedObjects == 1)
                #expect(summary.failedObjectDeletions == 0)
                // Nothing is due any more: a second pass finds no work.
                #expect(try await reconcilers[0].runPass().deletedObjects == 0)
            }
            #expect(try await Self.versions(world, key: key).isEmpty)
            let row = try Self.row(world, upload.photoID)
            #expect(!row.due)
            #expect(row.error?.hasPrefix("invalid_upload: ") == true)
            #expect(try world.status(upload.photoID) == "failed")
        }
    }
}
