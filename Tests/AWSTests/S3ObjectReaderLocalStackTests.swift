import Foundation
import TestSupport
import Testing

@testable import AWS

/// `S3ObjectReader` against LocalStack: the ranged `GET` reads the object its `HEAD` described
/// or nothing (issue 13). Bytes replaced between the two are refused by `If-Match` in any
/// bucket; in a versioned bucket the `GET` reads the described version itself.
@Suite(.tags(.localstack), .requiresLocalStack) struct S3ObjectReaderLocalStackTests {
    static func reader(_ s3: LocalS3) -> S3ObjectReader {
        S3ObjectReader(presigner: s3.presigner, http: s3.http, retryDelays: [])
    }

    @Test func bytesReplacedAfterTheHeadAreRefused() async throws {
        try await LocalS3.with { s3 in
            let reader = Self.reader(s3)
            let key = "p/2026/12/01/replaced.jpg"
            let original = photoBytes(2048)
            try await s3.store(original, at: key)
            let described = try #require(try await reader.head(key: key))
            #expect(described.size == 2048)
            #expect(described.contentType == "image/jpeg")
            #expect(described.etag.hasPrefix("\""))
            #expect(described.versionID == nil)
            #expect(try await reader.readPrefix(key: key, of: described, length: 16) == Array(original.prefix(16)))

            // Same size and type, other bytes: only the ETag tells them apart.
            try await s3.store(photoBytes(2048, seed: 99), at: key)
            await #expect(throws: S3ReadError.changed) {
                try await reader.readPrefix(key: key, of: described, length: 16)
            }
            // A new HEAD describes the new bytes, which then read.
            let current = try #require(try await reader.head(key: key))
            #expect(current.etag != described.etag)
            #expect(try await reader.readPrefix(key: key, of: current, length: 16) == Array(photoBytes(16, seed: 99)))
        }
    }

    @Test func aVersionedBucketReadsTheVersionTheHeadDescribed() async throws {
        try await LocalS3.with { s3 in
            try await s3.enableVersioning()
            let reader = Self.reader(s3)
            let key = "p/2026/12/01/versioned.jpg"
            let original = photoBytes(2048)
            try await s3.store(original, at: key)
            let described = try #require(try await reader.head(key: key))
            let version = try #require(described.versionID)

            try await s3.store(photoBytes(2048, seed: 99), at: key)
            let current = try #require(try await reader.head(key: key))
            #expect(current.versionID != version)
            // The validated version is still there and is what is read, not the newer bytes.
            #expect(try await reader.readPrefix(key: key, of: described, length: 16) == Array(original.prefix(16)))
        }
    }
}
