import AWS
import Auth
import Domain
import Foundation
import HTTPSupport
import Hummingbird
import Logging
import PhotoStore
import Postgres
import UUIDCoding

/// The endpoints that move a photo along its lifecycle (docs/api.md):
/// `POST /api/v1/photos/{id}/complete` for clients and `PATCH /api/v1/photos/{id}/status` for
/// the detection pipeline. Both answer with the photo as `GET /api/v1/photos/{id}` shows it.
struct PhotoLifecycleRoutes: Sendable {
    /// The scope `PATCH .../status` needs: the detection pipeline's service token carries it
    /// (without `org_id`), and so may a user's token (docs/security.md).
    static let statusWriteScope = ServicePrincipal.statusWriteScope
    /// A photo changed under a PATCH is re-read and the change re-decided this many times.
    static let statusChangeAttempts = 3

    let pool: ConnectionPool
    let confirmer: UploadConfirmer
    /// `complete` calls per user and minute (`COMPLETE_RATE_LIMIT_PER_MINUTE`), counted apart
    /// from upload URLs.
    let rateLimiter: UserRateLimiter
    let shapes: PhotoShapes

    func add(to group: RouterGroup<APIRequestContext>) {
        group.post("photos/:photo_id/complete") { request, context in
            try await self.complete(request: request, context: context)
        }
        group.patch("photos/:photo_id/status") { request, context in
            try await self.changeStatus(request: request, context: context)
        }
    }

    // MARK: POST /api/v1/photos/{photo_id}/complete

    /// Confirms the client's upload. Only a `pending_upload` photo is checked in S3; a photo the
    /// service already confirmed answers 200 with its current state and writes nothing, so a
    /// client that lost the first response can simply call again.
    ///
    /// Bounded work per call: the per-user limit comes first (a repeat counts too, since each
    /// call costs a database read at least), and the S3 check runs once per photo however many
    /// calls for it arrive together (``UploadConfirmer/confirmPending(_:changedBy:trace:logger:)``).
    func complete(request: Request, context: APIRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        if let wait = rateLimiter.acquire(userID: identity.userID) {
            throw APIError.rateLimited(retryAfterSeconds: wait, detail: "too many complete calls, retry later")
        }
        let photoID = try PhotoRoutes.uuidParameter("photo_id", context)
        let logger = context.logger.with(photoID: photoID)
        let photo = try await loadAuthorized(photoID, principal: .user(identity))
        switch photo.status {
        case .pendingUpload:
            break
        case .uploaded, .processing, .completed:
            return try await respond(with: photoID)
        case .failed:
            throw Self.failedPhotoError(photo)
        }
        let outcome: UploadConfirmer.Outcome
        do {
            // Claims the photo before any S3 read: concurrent calls for it share one check.
            outcome = try await confirmer.confirmPending(
                photoID,
                changedBy: .api,
                trace: context.trace,
                logger: logger
            ).outcome
        } catch let error as S3ReadError {
            logger.warning("storage unavailable while confirming", metadata: ["error": "\(error)"])
            throw APIError.storageUnavailable()
        }
        switch outcome {
        case .confirmed:
            return try await respond(with: photoID)
        case .alreadyChanged:
            // Another request or the reconciler got there first: answer as if this call repeated it.
            let current = try await loadAuthorized(photoID, principal: .user(identity))
            if current.status == .failed { throw Self.failedPhotoError(current) }
            return try await respond(with: photoID)
        case .objectMissing:
            throw APIError.uploadNotFound(
                "no object was uploaded for photo \(photoID.lowercasedString); PUT it first"
            )
        case .objectChanged:
            // Still `pending_upload`, nothing written: the same action as for a missing object
            // (let the PUT finish, then complete again) checks whatever bytes are there then.
            throw APIError.uploadNotFound(
                "the object of photo \(photoID.lowercasedString) was replaced while it was being checked; "
                    + "call complete again once your PUT has finished"
            )
        case .invalid(let reason):
            throw APIError.invalidUpload(reason)
        }
    }

    /// A repeated complete of an upload refused as invalid gets the same 422 again; any other
    /// failed photo (expired, failed by detection) cannot be confirmed: 409.
    static func failedPhotoError(_ photo: StoredPhoto) -> APIError {
        let prefix = "invalid_upload: "
        if let error = photo.error, error.hasPrefix(prefix) {
            return .invalidUpload(String(error.dropFirst(prefix.count)))
        }
        return .invalidStatusTransition(
            "the photo has failed (\(photo.error ?? "no reason")); request a new upload URL"
        )
    }

    // MARK: PATCH /api/v1/photos/{photo_id}/status

    /// The detection pipeline's status changes, decided by `PhotoStatus`'s transition table.
    ///
    /// A service principal may change any organization's photo, a user's token with the scope
    /// only its own organization's; the history and the log line name the principal.
    func changeStatus(request: Request, context: APIRequestContext) async throws -> Response {
        let principal = try context.requireScope(Self.statusWriteScope)
        let photoID = try PhotoRoutes.uuidParameter("photo_id", context)
        let change = try await Self.decodeStatusChange(request: request, context: context)
        for _ in 0..<Self.statusChangeAttempts {
            let current = try await loadAuthorized(photoID, principal: principal).status
            switch current.transition(to: change.status) {
            case .unchanged:
                return try await respond(with: photoID)
            case .rejected:
                throw APIError.invalidStatusTransition(
                    "a \(current.rawValue) photo cannot become \(change.status.rawValue)"
                )
            case .change:
                let changed = try await PhotoLifecycle.changeStatus(
                    photoID,
                    from: current,
                    to: change.status,
                    resultJSON: change.resultJSON,
                    error: change.error,
                    changedBy: principal.changedBy,
                    pool: pool
                )
                if changed {
                    context.logger.with(photoID: photoID).info(
                        "photo status changed",
                        metadata: [
                            "from": "\(current.rawValue)", "to": "\(change.status.rawValue)",
                            "changed_by": "\(principal.changedBy.postgresText)",
                        ]
                    )
                    return try await respond(with: photoID)
                }
            // The status moved between the read and the write (the relay, another PATCH): decide again.
            }
        }
        throw APIError.invalidStatusTransition("the photo's status kept changing; retry")
    }

    /// Decodes the body with `JSONSerialization`, because `result` is any JSON object.
    static func decodeStatusChange(request: Request, context: APIRequestContext) async throws -> StatusChangeRequest {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        guard
            let json = try? JSONSerialization.jsonObject(with: Data(buffer.readableBytesView), options: []),
            let object = json as? [String: Any]
        else { throw APIError.invalidRequest("the body must be a JSON object") }
        guard object["status"] == nil || object["status"] is String else {
            throw APIError.invalidRequest("status must be a string")
        }
        let errorValue = object["error"].flatMap { $0 is NSNull ? nil : $0 }
        guard errorValue == nil || errorValue is String else { throw APIError.invalidRequest("error must be a string") }
        var resultJSON: String?
        var resultIsObject = false
        if let result = object["result"], !(result is NSNull) {
            resultIsObject = result is [String: Any]
            let data = try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .fragmentsAllowed])
            resultJSON = String(decoding: data, as: UTF8.self)
        }
        do {
            return try StatusChangeRequest.validate(
                status: object["status"] as? String,
                resultJSON: resultJSON,
                resultIsObject: resultIsObject,
                error: errorValue as? String
            )
        } catch {
            switch error {
            case .invalid(let detail): throw APIError.invalidRequest(detail)
            }
        }
    }

    // MARK: Shared

    /// The photo, when it exists (404) and the caller may access its organization (403).
    private func loadAuthorized(_ photoID: UUID, principal: Principal) async throws -> StoredPhoto {
        guard let photo = try await PhotoReads.photo(photoID, pool: pool) else {
            throw APIError.notFound("photo \(photoID.lowercasedString) does not exist")
        }
        guard principal.mayAccess(organization: photo.organizationID) else {
            throw APIError.forbidden("the photo belongs to another organization")
        }
        return photo
    }

    /// The photo as `GET` shows it, read after the change committed.
    private func respond(with photoID: UUID) async throws -> Response {
        guard let photo = try await PhotoReads.photo(photoID, pool: pool) else {
            throw APIError.notFound("photo \(photoID.lowercasedString) does not exist")
        }
        return try await shapes.response(photo)
    }
}

extension Logger {
    /// This logger with `photo_id` set, for every line about one photo.
    func with(photoID: UUID) -> Logger {
        var logger = self
        logger[metadataKey: "photo_id"] = "\(photoID.lowercasedString)"
        return logger
    }
}

extension Principal {
    /// How `photo_status_history.changed_by` names this principal.
    var changedBy: ChangedBy {
        switch self {
        case .user(let identity): .user(identity.userID)
        case .service(let service): .service(service.subject)
        }
    }
}
