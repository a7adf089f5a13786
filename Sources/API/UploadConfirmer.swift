import AWS
import Domain
import Exif
import Foundation
import ImageInspection
import Logging
import Metrics
import PhotoStore
import Postgres
import Tracing
import UUIDCoding

/// Confirms an upload: checks the object in S3, reads its head for dimensions and EXIF, and
/// commits the confirmation with its `photo.uploaded` event (docs/api.md).
///
/// Shared by `POST /api/v1/photos/{id}/complete` and the background ``UploadReconciler``, so a
/// photo is confirmed the same way whoever notices the upload first.
///
/// **One confirmation per photo at a time in this process** (``confirmPending(_:changedBy:trace:logger:)``):
/// the photo is claimed in ``flights`` before any S3 read, and every `complete` call or
/// reconciler pass that asks for it meanwhile waits for that confirmation's outcome instead of
/// reading the object again. So N concurrent calls cost one `HEAD` and one ranged-read sequence,
/// not N of each (each up to 16 MiB). Replicas each have their own registry; between them the
/// conditional `pending_upload → uploaded` update (``PhotoLifecycle/confirm(_:_:changedBy:pool:)``)
/// stays the arbiter, so at most one writes however many read.
struct UploadConfirmer: Sendable {
    /// What a confirmation attempt found.
    enum Outcome: Sendable, Equatable {
        /// This call moved the photo to `uploaded` and wrote its event.
        case confirmed
        /// Someone else confirmed (or failed) the photo first; nothing was written.
        case alreadyChanged
        /// There is no object at the photo's key.
        case objectMissing
        /// The object was replaced while it was being checked (after `HEAD`, before the head's
        /// bytes were read); nothing was written and the photo is still `pending_upload`.
        case objectChanged
        /// The object is not the declared image; the photo is now `failed` with this reason.
        case invalid(reason: String)
    }

    let pool: ConnectionPool
    let objects: S3ObjectReader
    let bucket: String
    let confirmations: Counter
    let invalidUploads: Counter
    let exifFailures: Counter
    /// Deletes the object of a photo this confirmer fails.
    let cleaner: FailedUploadCleaner
    /// The confirmations in flight in this process, by photo; shared by every copy of this
    /// confirmer (the routes' and the reconciler's).
    let flights = SingleFlight<UUID, Outcome>()

    init(pool: ConnectionPool, objects: S3ObjectReader, bucket: String, cleaner: FailedUploadCleaner) {
        self.pool = pool
        self.objects = objects
        self.bucket = bucket
        self.cleaner = cleaner
        confirmations = Counter(label: "photo_confirmations_total")
        invalidUploads = Counter(label: "photo_invalid_uploads_total")
        exifFailures = Counter(label: "photo_exif_failures_total")
    }

    /// Confirms the photo `photoID` if it is still `pending_upload`, or waits for the
    /// confirmation of it already in flight in this process and answers that one's outcome.
    ///
    /// The photo is read again inside the claim, so a call that saw it pending just before
    /// another confirmation committed finds it confirmed and reads nothing from S3
    /// (``Outcome/alreadyChanged``). The work belongs to the registry, not to the caller: a
    /// caller that is cancelled does not cancel it for the others. `changedBy`, `trace` (stored
    /// with the event, for the relay's message) and `logger` are the first caller's; `joined`
    /// says this caller shared another's confirmation.
    ///
    /// - Throws: ``S3ReadError`` when S3 keeps failing or misbehaves (the photo is unchanged, so
    ///   the caller can retry), or a database error; callers that joined get the same error.
    func confirmPending(
        _ photoID: UUID,
        changedBy: ChangedBy,
        trace: TraceContext?,
        logger: Logger
    ) async throws -> (outcome: Outcome, joined: Bool) {
        let flight = flights.flight(for: photoID) {
            guard let photo = try await PhotoReads.photo(photoID, pool: pool), photo.status == .pendingUpload else {
                return .alreadyChanged
            }
            return try await confirm(photo, changedBy: changedBy, trace: trace, logger: logger)
        }
        if flight.joined {
            logger.debug("joined the confirmation in flight", metadata: ["confirmed_by": "\(changedBy)"])
        }
        return (try await flight.task.value, flight.joined)
    }

    /// Confirms `photo`, which was just read `pending_upload`; only inside a claim of
    /// ``flights``.
    private func confirm(
        _ photo: StoredPhoto,
        changedBy: ChangedBy,
        trace: TraceContext?,
        logger: Logger
    ) async throws -> Outcome {
        let declared = ImageFormat(photo.mediaType)
        guard let object = try await objects.head(key: photo.s3Key) else { return .objectMissing }
        if object.size != photo.fileSize {
            return try await fail(
                photo,
                object: object,
                reason: "the object has \(object.size) bytes but \(photo.fileSize) were declared",
                changedBy: changedBy,
                logger: logger
            )
        }
        if let stored = object.contentType, stored != photo.mediaType.mimeType {
            return try await fail(
                photo,
                object: object,
                reason: "the object is stored as \(stored) but \(photo.mediaType.mimeType) was declared",
                changedBy: changedBy,
                logger: logger
            )
        }
        let header: ImageHeader
        do {
            header = try await inspectHead(of: photo, object: object, declared: declared)
        } catch let error as ImageInspectionError {
            return try await fail(
                photo,
                object: object,
                reason: Self.reason(error),
                changedBy: changedBy,
                logger: logger
            )
        } catch S3ReadError.notFound {
            return .objectMissing
        } catch S3ReadError.changed {
            // The bytes HEAD measured are not the ones at the key any more: validating the new
            // ones against the old size and type would be wrong, so nothing is decided now.
            logger.info(
                "object replaced while confirming",
                metadata: ["photo_id": "\(photo.photoID.lowercasedString)", "etag": "\(object.etag)"]
            )
            return .objectChanged
        }
        // What was validated is named in the row and the event: the `ETag` (and the version, in
        // a versioned bucket), so the pipeline can read exactly these bytes (docs/architecture.md,
        // "Integrity of the validated object").
        let confirmation = PhotoLifecycle.Confirmation(
            width: header.width,
            height: header.height,
            s3ETag: object.etag,
            s3VersionID: object.versionID,
            exifJSON: exifJSON(header.exifBlock, photoID: photo.photoID, logger: logger),
            eventID: UUID.randomVersion4(),
            event: PhotoUploadedEvent(
                photoID: photo.photoID,
                projectID: photo.projectID,
                bucket: bucket,
                key: photo.s3Key,
                detectionTypes: photo.detectionTypes,
                priority: photo.priority,
                mediaType: photo.mediaType,
                width: header.width,
                height: header.height,
                s3ETag: object.etag,
                s3VersionID: object.versionID
            ),
            trace: trace
        )
        guard try await PhotoLifecycle.confirm(photo.photoID, confirmation, changedBy: changedBy, pool: pool) else {
            return .alreadyChanged
        }
        confirmations.increment()
        logger.info(
            "upload confirmed",
            metadata: [
                "photo_id": "\(photo.photoID.lowercasedString)",
                "event_id": "\(confirmation.eventID.lowercasedString)",
                "width": "\(header.width)", "height": "\(header.height)", "confirmed_by": "\(changedBy)",
                "s3_etag": "\(object.etag)", "s3_version_id": "\(object.versionID ?? "")",
            ]
        )
        return .confirmed
    }

    /// Fetches the first bytes of exactly the object HEAD described (``S3ObjectReader``'s
    /// conditional read), more only when the image's header needs them.
    private func inspectHead(
        of photo: StoredPhoto,
        object: S3ObjectReader.ObjectInfo,
        declared: ImageFormat
    ) async throws -> ImageHeader {
        try await ImageInspector.inspect(objectSize: object.size, declared: declared) { length in
            try await objects.readPrefix(key: photo.s3Key, of: object, length: length)
        }
    }

    /// The EXIF JSON to store: `{}` when there is none or it cannot be read (logged; the upload
    /// still succeeds, as the contract says).
    private func exifJSON(_ block: [UInt8]?, photoID: UUID, logger: Logger) -> String {
        guard let block else { return "{}" }
        let span = startSpan("exif extract")
        defer { span.end() }
        if span.isRecording { span.attributes["exif.bytes"] = block.count }
        do {
            let metadata = try ExifReader.read(block)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(metadata), as: UTF8.self)
        } catch {
            exifFailures.increment()
            logger.warning(
                "EXIF extraction failed; storing {}",
                metadata: ["photo_id": "\(photoID.lowercasedString)", "error": "\(error)"]
            )
            return "{}"
        }
    }

    /// Marks `photo` failed as an invalid upload (422 for the client), recording the refused
    /// `object`, then deletes every version of its key. A deletion that fails is left due for the
    /// reconciler; the client's answer is the same either way.
    private func fail(
        _ photo: StoredPhoto,
        object: S3ObjectReader.ObjectInfo,
        reason: String,
        changedBy: ChangedBy,
        logger: Logger
    ) async throws -> Outcome {
        let error = "invalid_upload: \(reason)"
        let failed = try await PhotoLifecycle.failUpload(
            photo.photoID,
            error: error,
            s3ETag: object.etag,
            s3VersionID: object.versionID,
            changedBy: changedBy,
            pool: pool
        )
        guard failed else { return .alreadyChanged }
        invalidUploads.increment()
        do {
            try await cleaner.delete(photo.photoID, key: photo.s3Key, logger: logger)
        } catch {
            // The failure is committed; the deletion stays due and the reconciler retries it.
            logger.warning(
                "could not record the deletion of a failed upload's object",
                metadata: ["photo_id": "\(photo.photoID.lowercasedString)", "error": "\(error)"]
            )
        }
        return .invalid(reason: reason)
    }

    /// Fails a pending photo whose upload never arrived (the reconciler's `upload_expired`),
    /// unless its URL was re-issued meanwhile (the statement checks the expiry again).
    func expire(_ photoID: UUID, graceSeconds: Int, changedBy: ChangedBy) async throws -> Bool {
        try await PhotoLifecycle.expireUpload(
            photoID,
            graceSeconds: graceSeconds,
            changedBy: changedBy,
            pool: pool
        )
    }

    static func reason(_ error: ImageInspectionError) -> String {
        switch error {
        case .needMoreBytes(let atLeast): "the image header needs \(atLeast) bytes, more than the object has"
        case .notDeclaredType(let declared): "the object is not a \(declared == .jpeg ? "JPEG" : "PNG") image"
        case .truncated: "the image ends before its dimensions"
        case .malformed(let detail): "the image is malformed: \(detail)"
        case .tooManyPixels(let width, let height):
            "\(width)x\(height) is more than \(ImageInspector.maximumPixels / 1_000_000) megapixels"
        }
    }
}

extension ImageFormat {
    /// The header format a photo of `mediaType` must have.
    init(_ mediaType: MediaType) {
        switch mediaType {
        case .jpeg: self = .jpeg
        case .png: self = .png
        }
    }
}
