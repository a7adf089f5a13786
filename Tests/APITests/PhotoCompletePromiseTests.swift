import API
import AuthTestSupport
import Foundation
import HTTPSupport
import HTTPTypes
import HummingbirdTesting
import Postgres
import TestSupport
import Testing

/// What `complete` promises a client about S3 trouble and unreadable EXIF (contract section 4),
/// observed from outside against a stub S3 that counts the requests and times them: a transient
/// failure is retried after 1 s, 2 s and 4 s (scaled by `STORAGE_RETRY_BASE_MS`, so the pauses
/// keep the ratios 1:2:4) and the photo is confirmed when a retry succeeds; after the third retry
/// fails the answer is 503 `storage_unavailable` with the photo unchanged; an EXIF block that
/// cannot be read never fails the upload.
///
/// The pauses are checked against lower bounds only: a loaded machine makes them longer, never
/// shorter, so an upper bound would measure the machine.
@Suite(.requiresDatabase, .offTheCooperativePool) struct PhotoCompletePromiseTests {
    /// `STORAGE_RETRY_BASE_MS` here: the pauses are 150, 300 and 600 ms.
    static let retryBase = 150

    /// Each gap at least its documented multiple of the base: 1x, 2x, 4x.
    static func expectDocumentedPauses(_ gaps: [Duration]) {
        #expect(gaps.count >= 3, "\(gaps)")
        for (gap, multiple) in zip(gaps, [1, 2, 4]) {
            #expect(gap >= .milliseconds(retryBase * multiple), "pause \(multiple)x: \(gaps)")
        }
    }

    /// Issues an upload of a camera photo and completes it against a stub S3 that refuses its
    /// first `failures` requests; `check` gets the world, the photo id, the answer and the stub.
    static func complete(
        failures: Int,
        _ check: @escaping @Sendable (PhotoWorld, String, TestResponse, StubStorage) async throws -> Void
    ) async throws {
        let token = try await PhotoWorld.token()
        let bytes = try ImageFixtures.bytes("canon.jpg")
        let storage = StubStorage(object: bytes, failures: failures)
        try await storage.withWorld(retryBaseMilliseconds: Self.retryBase) { world in
            let photoID = try await world.issueUpload(project: try world.makeProject(), size: bytes.count, token: token)
            try await check(world, photoID, try await world.complete(photoID, token: token), storage)
        }
    }

    @Test func aTransientFailureIsRetriedAfterOneTwoAndFourBasePausesAndThenConfirmed() async throws {
        try await Self.complete(failures: 3) { world, photoID, response, storage in
            let photo = try PhotoWorld.json(response)
            #expect(response.status == .ok)
            #expect(photo["status"] as? String == "uploaded")
            // Three refused HEADs, the one that succeeds, then the ranged GET of the head.
            #expect(storage.arrivals.map(\.method) == ["HEAD", "HEAD", "HEAD", "HEAD", "GET"])
            #expect(storage.arrivals.map(\.status) == [503, 503, 503, 200, 206])
            Self.expectDocumentedPauses(storage.gaps)
            let events = try world.count("outbox_events", where: "aggregate_id", is: photoID)
            #expect(events == 1)
        }
    }

    @Test func oneTransientFailureCostsOneRetryAndTheAnswerIs200() async throws {
        try await Self.complete(failures: 1) { world, photoID, response, storage in
            #expect(response.status == .ok)
            #expect(storage.arrivals.map(\.status) == [503, 200, 206])
            let gaps = storage.gaps
            #expect(gaps.first.map { $0 >= .milliseconds(Self.retryBase) } == true, "\(gaps)")
            let events = try world.count("outbox_events", where: "aggregate_id", is: photoID)
            #expect(events == 1)
        }
    }

    @Test func s3FailingEveryTryIs503AfterExactlyThreeRetriesWithThePhotoUnchanged() async throws {
        try await Self.complete(failures: .max) { world, photoID, response, storage in
            #expect(response.status == .serviceUnavailable)
            #expect(try AuthFixtures.problem(response).code == "storage_unavailable")
            #expect(storage.arrivals.map(\.method) == ["HEAD", "HEAD", "HEAD", "HEAD"])
            Self.expectDocumentedPauses(storage.gaps)
            let status: String? = try world.sql("SELECT status FROM photos WHERE id = $1::uuid", [photoID]).first?
                .decode("status")
            #expect(status == "pending_upload")
            #expect(try world.count("photo_status_history", is: photoID) == 1)
            #expect(try world.count("outbox_events", where: "aggregate_id", is: photoID) == 0)
        }
    }

    /// A JPEG whose `Exif` APP1 segment holds no TIFF structure: libexif is never able to read
    /// it, the header walk still finds the dimensions.
    static func jpegWithCorruptExif() throws -> [UInt8] {
        let jpeg = try ImageFixtures.bytes("no-exif.jpg")
        let payload = Array("Exif".utf8) + [0, 0] + Array("not a TIFF header at all".utf8)
        let length = payload.count + 2
        let app1: [UInt8] = [0xFF, 0xE1, UInt8(length >> 8), UInt8(length & 0xFF)] + payload
        return Array(jpeg.prefix(2)) + app1 + Array(jpeg.dropFirst(2))
    }

    @Test func aFileWithCorruptExifIsConfirmedWithEmptyExifDataAndExactlyOneEvent() async throws {
        let token = try await PhotoWorld.token()
        let bytes = try Self.jpegWithCorruptExif()
        let logs = AuthFixtures.LogCapture()
        try await StubStorage(object: bytes).withWorld(logger: logs.logger) { world in
            let photoID = try await world.issueUpload(project: try world.makeProject(), size: bytes.count, token: token)
            let response = try await world.complete(photoID, token: token)
            #expect(response.status == .ok)
            let photo = try PhotoWorld.json(response)
            #expect(photo["status"] as? String == "uploaded")
            #expect(photo["width"] as? Int == 50)
            #expect(photo["height"] as? Int == 50)
            let exif = try #require(photo["exif_data"] as? [String: Any])
            #expect(exif.isEmpty, "\(exif)")
            let stored: String? = try world.sql(
                "SELECT exif_data::text AS e FROM photos WHERE id = $1::uuid",
                [photoID]
            )
            .first?.decode("e")
            #expect(stored == "{}")
            // `{}` because the block could not be read, not because none was found.
            let failures = logs.all.filter { $0.message.hasPrefix("EXIF extraction failed") }
            #expect(failures.count == 1)
            #expect(failures.first?.metadata["photo_id"] == photoID)
            #expect(try world.count("outbox_events", where: "aggregate_id", is: photoID) == 1)
            // A repeat is answered from the row and writes nothing more.
            #expect(try await world.complete(photoID, token: token).status == .ok)
            #expect(try world.count("outbox_events", where: "aggregate_id", is: photoID) == 1)
        }
    }
}
