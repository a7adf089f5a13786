import AWS
import AppConfig
import Auth
import Digest
import Domain
import Foundation
import HTTPSupport
import HTTPTypes
import Hummingbird
import Logging
import PhotoStore
import Postgres
import UUIDCoding
import WireFormats

/// The photo endpoints of `/api/v1`: issuing upload URLs, reading a photo, listing a project's
/// photos (docs/api.md).
///
/// Every endpoint checks organization access through the photo's project: a project or photo of
/// another organization is 403, one that does not exist is 404 (the contract's table; the
/// ids are random UUIDs, so telling the two apart leaks nothing useful).
struct PhotoRoutes: Sendable {
    /// `Idempotency-Key`; the literal is a valid field name, so this is never `nil`.
    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key")
    /// Listing page sizes.
    static let defaultLimit = 50
    static let maximumLimit = 100

    let pool: ConnectionPool
    let uploads: PhotoUploads
    let limits: UploadConfiguration
    let bucket: String
    /// Signs upload URLs with the current credentials, and formats `s3_url`s. Without
    /// credentials upload-url answers 503.
    let presigners: S3PresignerSource
    let shapes: PhotoShapes

    /// Adds the routes to the authenticated `/api/v1` group.
    func add(to group: RouterGroup<APIRequestContext>) {
        group.post("photos/upload-url") { request, context in
            try await self.createUploadURL(request: request, context: context)
        }
        group.get("photos/:photo_id") { request, context in
            try await self.getPhoto(request: request, context: context)
        }
        group.get("projects/:project_id/photos") { request, context in
            try await self.listPhotos(request: request, context: context)
        }
    }

    // MARK: POST /api/v1/photos/upload-url

    /// Everything the upload statement needs, from a request that passed every check before it.
    private struct PreparedUpload {
        let photo: NewPhoto
        let signing: S3PresignerSource.Current
        let lifetime: Int
        let now: Date
    }

    /// Every answer carries the user's `RateLimit-*` headers: the request is counted against the
    /// user's budget in the statement that creates its photo, or on its own when it is refused
    /// before that (``refusedBeforeCounting(_:userID:context:)``). Only a request the database
    /// never saw (it was unreachable) answers without them.
    func createUploadURL(request: Request, context: APIRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let prepared: PreparedUpload
        do {
            prepared = try await prepareUpload(request: request, context: context, identity: identity)
        } catch {
            throw await refusedBeforeCounting(error, userID: identity.userID, context: context)
        }
        let photo = prepared.photo
        let answer = try await uploads.create(photo)
        let rateLimitHeaders = RateLimitHeaders.fields(answer.rateLimit)
        let target: UploadTarget
        switch answer.outcome {
        case .created:
            target = photo.uploadTarget
        case .replayed(let stored):
            context.logger.info(
                "idempotent replay",
                metadata: ["photo_id": "\(stored.photoID.lowercasedString)", "status": "\(stored.status.rawValue)"]
            )
            // Only a pending photo may be uploaded to: a URL for one the service already
            // validated would let the client replace the bytes it confirmed.
            guard stored.status == .pendingUpload else {
                let photoID = stored.photoID.lowercasedString
                throw APIError.alreadyUploaded(
                    photoID: photoID,
                    photoStatus: stored.status.rawValue,
                    statusURL: UploadURLResponse.statusURL(photoID: photoID)
                ).adding(headers: rateLimitHeaders)
            }
            target = stored
        case .rateLimited:
            throw APIError.rateLimited(retryAfterSeconds: answer.rateLimit.resetSeconds)
                .adding(headers: rateLimitHeaders)
        case .projectNotFound:
            throw APIError.notFound("project \(photo.upload.projectID.lowercasedString) does not exist")
                .adding(headers: rateLimitHeaders)
        case .projectForbidden:
            throw APIError.forbidden("the project belongs to another organization").adding(headers: rateLimitHeaders)
        case .keyReusedWithAnotherBody:
            throw APIError.idempotencyKeyReused("the Idempotency-Key was used with a different request body")
                .adding(headers: rateLimitHeaders)
        }
        let signing = prepared.signing
        let lifetime = prepared.lifetime
        let now = prepared.now
        // Signed from the stored row, so a replay signs exactly what was first declared.
        let presigned = signing.presigner.presignPut(
            key: target.s3Key,
            contentType: target.mediaType.mimeType,
            contentLength: target.fileSize,
            checksumSHA256: target.checksumSHA256,
            expiresIn: lifetime,
            now: now
        )
        let response = UploadURLResponse(
            photoID: target.photoID.lowercasedString,
            uploadURL: presigned.url,
            s3URL: presigners.urlFormatter.s3URL(key: target.s3Key),
            method: presigned.method,
            expiresInSeconds: lifetime,
            expiresAt: presigned.expiresAt,
            headers: presigned.headers,
            status: target.status.rawValue
        )
        var headers: HTTPFields = [.contentType: "application/json; charset=utf-8"]
        headers.append(contentsOf: rateLimitHeaders)
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: response.bytes)))
    }

    /// Parses and validates the request and picks the credentials to sign with: every check
    /// that needs no database.
    private func prepareUpload(
        request: Request,
        context: APIRequestContext,
        identity: AuthenticatedIdentity
    ) async throws -> PreparedUpload {
        let idempotencyKey = try Self.idempotencyKey(of: request)
        let fields = try await request.decode(as: UploadRequest.Fields.self, context: context)
        let upload: UploadRequest
        do {
            upload = try UploadRequest.validate(
                fields,
                minimumBytes: limits.minimumBytes,
                maximumBytes: limits.maximumBytes
            )
        } catch {
            throw Self.apiError(error)
        }
        guard presigners.canSign else {
            throw APIError.storageUnavailable("uploads are not configured on this server")
        }
        // Before the row is written: without valid credentials there is no URL to give.
        let signing: S3PresignerSource.Current
        do {
            signing = try await presigners.current()
        } catch {
            throw APIError.storageUnavailable("AWS credentials are unavailable, retry later")
        }
        // A URL dies with the credentials that signed it: with temporary ones it lives no
        // longer than they do (minus a margin), and the response says so.
        let lifetime = presigners.urlLifetime(limits.urlLifetimeSeconds, for: signing)
        let now = Date()
        let photoID = UUID.randomVersion4()
        let photo = NewPhoto(
            photoID: photoID,
            upload: upload,
            userID: identity.userID,
            organizationID: identity.organizationID,
            bucket: bucket,
            s3Key: PhotoKey.make(projectID: upload.projectID, photoID: photoID, mediaType: upload.mediaType, date: now),
            uploadExpiresAt: now.addingTimeInterval(Double(lifetime)),
            idempotency: idempotencyKey.map {
                Idempotency(key: $0, requestHash: SHA256.hash(upload.canonicalText).hexString)
            }
        )
        return PreparedUpload(photo: photo, signing: signing, lifetime: lifetime, now: now)
    }

    /// The error to answer a request refused before the upload statement with, once the request
    /// is counted: `rate_limited` when it was over the budget (as the limit was checked first
    /// when it was counted in memory), else `error`; both with the `RateLimit-*` headers. When
    /// the count itself fails (the database is unreachable), `error` alone.
    private func refusedBeforeCounting(_ error: any Error, userID: UUID, context: APIRequestContext) async -> any Error
    {
        let status: RateLimitStatus
        do {
            status = try await uploads.countRefusedRequest(of: userID)
        } catch let countError {
            context.logger.warning("could not count a refused upload-url request", metadata: ["error": "\(countError)"])
            return error
        }
        let headers = RateLimitHeaders.fields(status)
        if status.used > status.limit {
            return APIError.rateLimited(retryAfterSeconds: status.resetSeconds).adding(headers: headers)
        }
        return ErrorWithHeaders(error, headers: headers)
    }

    /// The `Idempotency-Key` header: 1-255 printable ASCII characters, or absent.
    static func idempotencyKey(of request: Request) throws(APIError) -> String? {
        guard let name = idempotencyKeyField else { return nil }
        let values = request.headers[values: name]
        guard let value = values.first else { return nil }
        guard values.count == 1, (1...255).contains(value.utf8.count),
            value.utf8.allSatisfy({ (0x21...0x7E).contains($0) || $0 == 0x20 })
        else {
            throw APIError.invalidRequest("Idempotency-Key must be one value of 1 to 255 printable ASCII characters")
        }
        return value
    }

    static func apiError(_ error: UploadValidationError) -> APIError {
        switch error {
        case .invalidRequest(let detail): APIError.invalidRequest(detail)
        case .fileTooSmall(let detail): APIError.fileTooSmall(detail)
        case .fileTooLarge(let detail): APIError.fileTooLarge(detail)
        case .invalidFileType(let detail): APIError.invalidFileType(detail)
        }
    }

    // MARK: GET /api/v1/photos/{photo_id}

    func getPhoto(request: Request, context: APIRequestContext) async throws -> Response {
        // Open to service principals too: the detection pipeline reads any organization's photo.
        let principal = try context.requirePrincipal()
        let photoID = try Self.uuidParameter("photo_id", context)
        guard let photo = try await PhotoReads.photo(photoID, pool: pool) else {
            throw APIError.notFound("photo \(photoID.lowercasedString) does not exist")
        }
        guard principal.mayAccess(organization: photo.organizationID) else {
            throw APIError.forbidden("the photo belongs to another organization")
        }
        return try await shapes.response(photo)
    }

    // MARK: GET /api/v1/projects/{project_id}/photos

    /// Lists newest first. List items carry the photo shape without `status_history` (one
    /// query per page instead of one per photo); `GET /photos/{id}` has the history.
    func listPhotos(request: Request, context: APIRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let projectID = try Self.uuidParameter("project_id", context)
        let query = request.uri.queryParameters
        var status: PhotoStatus?
        if let text = query.get("status") {
            guard let parsed = PhotoStatus(rawValue: text) else {
                throw APIError.invalidRequest(
                    "status must be one of \(PhotoStatus.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            status = parsed
        }
        var limit = Self.defaultLimit
        if let text = query.get("limit") {
            guard let value = Int(text), (1...Self.maximumLimit).contains(value) else {
                throw APIError.invalidRequest("limit must be an integer from 1 to \(Self.maximumLimit)")
            }
            limit = value
        }
        var cursor: PhotoListCursor?
        if let text = query.get("cursor") {
            guard let decoded = PhotoListCursor(encoded: text) else {
                throw APIError.invalidRequest("cursor is not a cursor this API returned")
            }
            cursor = decoded
        }
        let filter = status
        let after = cursor
        let pageSize = limit
        let page: [StoredPhoto]? = try await pool.withConnection { connection in
            guard let organization = try PhotoReads.projectOrganization(projectID, on: connection),
                identity.mayAccess(organization: organization)
            else { return nil }
            // One extra row says whether there is a next page.
            return try PhotoReads.projectPhotos(
                projectID,
                status: filter,
                after: after,
                limit: pageSize + 1,
                on: connection
            )
        }
        guard let page else {
            // Tell the two failures apart only after the query: a second, cheap look.
            let exists = try await PhotoReads.projectOrganization(projectID, pool: pool)
            if exists == nil {
                throw APIError.notFound("project \(projectID.lowercasedString) does not exist")
            }
            throw APIError.forbidden("the project belongs to another organization")
        }
        let items = page.prefix(limit)
        // One signer for the page: credentials and expiry looked up once, each photo one signature.
        let downloads = await shapes.downloads.signer()
        var body = JSONObjectWriter()
        body.string("next_cursor", page.count > limit ? items.last.map { PhotoListCursor(after: $0).encoded } : nil)
        body.array("photos", items.map { shapes.object($0, includeHistory: false, downloads: downloads) })
        return PhotoShapes.jsonResponse(body.finish())
    }

    static func uuidParameter(_ name: String, _ context: APIRequestContext) throws(APIError) -> UUID {
        guard let text = context.parameters.get(name), let id = UUID(canonicalText: text) else {
            throw APIError.invalidRequest("\(name) must be a UUID")
        }
        return id
    }
}
