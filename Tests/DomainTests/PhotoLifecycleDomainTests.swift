import Domain
import Foundation
import Testing

/// The body of `PATCH .../status`: the statuses the pipeline may set, `result` an object, `error`
/// only with `failed` and bounded (contract section 4, README).
@Suite struct StatusChangeRequestTests {
    @Test(arguments: ["processing", "completed", "failed"])
    func thePipelinesStatusesAreAccepted(_ status: String) throws {
        let request = try StatusChangeRequest.validate(
            status: status,
            resultJSON: nil,
            resultIsObject: false,
            error: nil
        )
        #expect(request.status.rawValue == status)
    }

    @Test(arguments: [nil, "uploaded", "pending_upload", "PROCESSING", ""])
    func otherStatusesAreRefused(_ status: String?) {
        #expect(throws: StatusChangeValidationError.self) {
            try StatusChangeRequest.validate(status: status, resultJSON: nil, resultIsObject: false, error: nil)
        }
    }

    @Test func aResultMustBeAnObject() throws {
        #expect(throws: StatusChangeValidationError.invalid("result must be a JSON object")) {
            try StatusChangeRequest.validate(status: "completed", resultJSON: "[1]", resultIsObject: false, error: nil)
        }
        let accepted = try StatusChangeRequest.validate(
            status: "completed",
            resultJSON: #"{"a":1}"#,
            resultIsObject: true,
            error: nil
        )
        #expect(accepted.resultJSON == #"{"a":1}"#)
    }

    @Test func anErrorGoesOnlyWithFailedAndIsBounded() throws {
        let failed = try StatusChangeRequest.validate(
            status: "failed",
            resultJSON: nil,
            resultIsObject: false,
            error: "timeout"
        )
        #expect(failed.error == "timeout")
        for (status, error) in [
            ("completed", "x"), ("failed", ""), ("failed", String(repeating: "e", count: 2001)), ("failed", "a\u{0}b"),
        ] {
            #expect(throws: StatusChangeValidationError.self) {
                try StatusChangeRequest.validate(status: status, resultJSON: nil, resultIsObject: false, error: error)
            }
        }
    }
}

/// The `photo.uploaded` payload, the SQS message body the detection pipeline reads: the
/// contract's members with their values (section 6) and the README's additive ones.
@Suite struct PhotoUploadedEventTests {
    @Test func thePayloadIsTheContractsMessageBody() throws {
        let photo = try #require(UUID(uuidString: "6F1C2B1E-8C9A-4E0B-9D55-0C1A2B3C4D5E"))
        let project = try #require(UUID(uuidString: "0A0B0C0D-0000-4000-8000-000000000001"))
        let event = PhotoUploadedEvent(
            photoID: photo,
            projectID: project,
            bucket: "companycam-photos-development",
            key: "k/2026/12/01/p.jpg",
            detectionTypes: ["damage"],
            priority: .high,
            mediaType: .jpeg,
            width: 4032,
            height: 3024,
            s3ETag: #""9b2cf535f27731c974343645a3985328""#,
            s3VersionID: nil
        )
        // The contract's members (section 6) and the README's additive ones, with their values;
        // members added later do not break this.
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(event.payloadJSON().utf8)) as? [String: Any]
        )
        #expect(json["photo_id"] as? String == "6f1c2b1e-8c9a-4e0b-9d55-0c1a2b3c4d5e")
        #expect(json["s3_url"] as? String == "s3://companycam-photos-development/k/2026/12/01/p.jpg")
        #expect(json["detection_types"] as? [String] == ["damage"])
        #expect(json["priority"] as? String == "high")
        #expect(json["s3_etag"] as? String == #""9b2cf535f27731c974343645a3985328""#)
        #expect(json["project_id"] as? String == "0a0b0c0d-0000-4000-8000-000000000001")
        #expect(json["mime_type"] as? String == "image/jpeg")
        #expect(json["width"] as? Int == 4032)
        #expect(json["height"] as? Int == 3024)
        // Unversioned: no `s3_version_id` member at all (not even null).
        #expect(json.keys.contains("s3_version_id") == false)
        #expect(PhotoUploadedEvent.eventType == "photo.uploaded")
    }

    @Test func aVersionedObjectsEventNamesItsVersion() throws {
        let event = PhotoUploadedEvent(
            photoID: UUID(),
            projectID: UUID(),
            bucket: "b",
            key: "k.png",
            detectionTypes: [],
            priority: .normal,
            mediaType: .png,
            width: 1,
            height: 1,
            s3ETag: #""e""#,
            s3VersionID: "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
        )
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(event.payloadJSON().utf8)) as? [String: Any]
        )
        #expect(json["s3_etag"] as? String == #""e""#)
        #expect(json["s3_version_id"] as? String == "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")
    }
}
