import Domain
import Foundation

/// A photo `upload-url` is about to create: the client's validated request and what the
/// server chose for it (id, key, expiry). One value from the handler to the database row.
public struct NewPhoto: Sendable {
    public let photoID: UUID
    public let upload: UploadRequest
    public let userID: UUID
    /// The caller's organization: the photo is created only when its project belongs to it.
    public let organizationID: UUID
    public let bucket: String
    public let s3Key: String
    public let uploadExpiresAt: Date
    /// The request's `Idempotency-Key`, if it sent one.
    public let idempotency: Idempotency?

    public init(
        photoID: UUID,
        upload: UploadRequest,
        userID: UUID,
        organizationID: UUID,
        bucket: String,
        s3Key: String,
        uploadExpiresAt: Date,
        idempotency: Idempotency?
    ) {
        self.photoID = photoID
        self.upload = upload
        self.userID = userID
        self.organizationID = organizationID
        self.bucket = bucket
        self.s3Key = s3Key
        self.uploadExpiresAt = uploadExpiresAt
        self.idempotency = idempotency
    }

    /// What the upload URL of a newly created photo signs.
    public var uploadTarget: UploadTarget {
        UploadTarget(
            photoID: photoID,
            s3Key: s3Key,
            mediaType: upload.mediaType,
            fileSize: upload.fileSize,
            checksumSHA256: upload.checksumSHA256,
            status: .pendingUpload
        )
    }
}

/// An `Idempotency-Key` and the hash of the request it was sent with.
public struct Idempotency: Sendable {
    public let key: String
    public let requestHash: String

    public init(key: String, requestHash: String) {
        self.key = key
        self.requestHash = requestHash
    }
}

/// What an upload URL is signed for, as stored: a replay signs exactly what was first declared.
public struct UploadTarget: Sendable, Equatable {
    public let photoID: UUID
    public let s3Key: String
    public let mediaType: MediaType
    public let fileSize: Int
    public let checksumSHA256: String?
    public let status: PhotoStatus
}
