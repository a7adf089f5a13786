import Foundation
import Testing

@testable import API

/// The hand-written upload-url body is byte for byte what `JSONSerialization` wrote before.
@Suite struct UploadURLResponseTests {
    @Test func theBytesAreWhatJSONSerializationWrote() throws {
        let expiresAt = Date(timeIntervalSince1970: 1_764_094_601)
        let awkward = "a\"b\\c/d\u{1}\n\t\u{7F}é😀"
        let cases: [[(name: String, value: String)]] = [
            [("Content-Type", "image/jpeg"), ("Content-Length", "2097152")],
            [("Content-Type", "image/png"), ("Content-Length", "1024"), ("x-amz-checksum-sha256", "q+/=")],
            [("X-Odd", awkward)],
            [("X-Controls", String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }) + "\"\\ plain")],
        ]
        for headers in cases {
            let response = UploadURLResponse(
                photoID: "0d9f6c2e-3b1a-4c55-9e0f-1a2b3c4d5e6f",
                uploadURL: "https://photos.s3.amazonaws.com/p/x.jpg?X-Amz-Signature=ab&q=\(awkward)",
                s3URL: "https://photos.s3.us-east-1.amazonaws.com/p/2026/11/25/x.jpg",
                method: "PUT",
                expiresInSeconds: 900,
                expiresAt: expiresAt,
                headers: headers,
                status: "pending_upload"
            )
            let photoText = response.photoID
            let json: [String: Any] = [
                "upload_id": photoText,
                "photo_id": photoText,
                "upload_url": response.uploadURL,
                "s3_url": response.s3URL,
                "method": response.method,
                "expires_in_seconds": response.expiresInSeconds,
                "expires_at": PhotoShapes.timestamp(expiresAt),
                "headers": Dictionary(headers.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last }),
                "status": response.status,
                "status_url": "/api/v1/photos/\(photoText)",
                "complete_url": "/api/v1/photos/\(photoText)/complete",
            ]
            let expected = try JSONSerialization.data(
                withJSONObject: json,
                options: [.sortedKeys, .withoutEscapingSlashes]
            )
            #expect(String(decoding: response.bytes, as: UTF8.self) == String(decoding: expected, as: UTF8.self))
        }
    }

    @Test func expiryTimestampsMatchTheISO8601FormatStyle() {
        let seconds: [Double] = [0, 1_764_094_601, 1_764_094_601.999, 951_782_400, 1_709_164_800, 4_102_444_799, -1]
        for value in seconds {
            let date = Date(timeIntervalSince1970: value)
            #expect(UploadURLResponse.iso8601(date) == PhotoShapes.timestamp(date), "\(value)")
        }
    }
}
