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
import Postgres
import UUIDCoding

/// The photo endpoints of `/api/v1`: issuing upload URLs, reading a photo, listing a project's
/// photos (contract section 4).
///
/// Every endpoint checks organization access through the photo's project: a project or photo of
/// another organization is 403, one that does not exist is 404 (the contract's table; the
/// ids are random UUIDs, so telling the two apart leaks nothing useful).
struct PhotoRoutes: Sendable {
    /// The decoded upload-url body. Every field is optional here so that a missing field gets
    /// the domain's precise message; a field of the wrong JSON type fails decoding (400).
    struct UploadBody: Decodable, Sendable {
        let projectID: String?
        let fileName: String?
        let fileSize: Int?
        let mimeType: String?
        let detectionTypes: [String]?
        let priority: String?
        let checksumSHA256: String?

        enum CodingKeys: String, CodingKey {
            case projectID = "project_id"
            case fileName = "file_name"
            case fileSize = "file_size"
            case mimeType = "mime_type"
            case detectionTypes = "detection_types"
            case priority
            case checksumSHA256 = "checksum_sha256"
        }
    }

    /// `Idempotency-Key`; the literal is a valid field name, so this is never `nil`.
    static let idempotencyKeyField = HTTPField.Name("Idempotency-Key")
    /// Listing page sizes.
    static let defaultLimit = 50
    static let maximumLimit = 100

    let pool: ConnectionPool
    /// Inserts the photos of upload-url requests without an `Idempotency-Key`, batched.
    let inserts: PhotoInsertBatcher
    let uploads: UploadConfiguration
    let bucket: String
    /// Builds `s3_url`s always; signs only when `canSign` (static credentials are configured).
    let presigner: S3Presigner
    let canSign: Bool
    let rateLimiter: UploadRateLimiter
    let logger: Logger

    init(pool: ConnectionPool, configuration: APIConfiguration, logger: Logger) {
        self.pool = pool
        // Half the pool, so that reads and completions find a connection while uploads queue.
        inserts = PhotoInsertBatcher(pool: pool, maximumConcurrentBatches: pool.maximumConnections / 2)
        uploads = configuration.uploads
        bucket = configuration.aws.bucket
        let credentials = configuration.aws.credentials
        canSign = credentials != nil
        // Without credentials the presigner still formats object URLs; upload-url answers 503.
        presigner = configuration.aws.makeS3Presigner()
        rateLimiter = UploadRateLimiter(limit: configuration.uploads.rateLimitPerMinute)
        self.logger = logger
        if credentials == nil {
            logger.warning("no AWS credentials configured: POST /api/v1/photos/upload-url will answer 503")
        }
    }

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

    func createUploadURL(request: Request, context: APIRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        // Before anything else, so that a client hammering with bad bodies is limited too.
        if let wait = rateLimiter.acquire(userID: identity.userID) {
            throw APIError.rateLimited(retryAfterSeconds: wait)
        }
        let idempotencyKey = try Self.idempotencyKey(of: request)
        let body = try await request.decode(as: UploadBody.self, context: context)
        let upload: UploadRequest
        do {
            upload = try UploadRequest.validate(
                .init(
                    projectID: body.projectID,
                    fileName: body.fileName,
                    fileSize: body.fileSize,
                    mimeType: body.mimeType,
                    detectionTypes: body.detectionTypes,
                    priority: body.priority,
                    checksumSHA256: body.checksumSHA256
                ),
                minimumBytes: uploads.minimumBytes,
                maximumBytes: uploads.maximumBytes
            )
        } catch {
            throw Self.apiError(error)
        }
        guard canSign else {
            throw APIError.storageUnavailable("uploads are not configured on this server")
        }
        let now = Date()
        let photoID = UUID.randomVersion4()
        guard
            let key = PhotoKey.make(projectID: upload.projectID, photoID: photoID, mimeType: upload.mimeType, date: now)
        else {
            throw APIError.internalError(logDetail: "no key for validated type \(upload.mimeType)")
        }
        let values = UploadRequestValues(
            projectID: upload.projectID,
            fileName: upload.fileName,
            fileSize: upload.fileSize,
            mimeType: upload.mimeType,
            detectionTypes: upload.detectionTypes,
            priority: upload.priority.rawValue,
            checksumSHA256: upload.checksumSHA256
        )
        let newPhoto = PhotoStore.NewPhoto(
            id: photoID,
            userID: identity.userID,
            organizationID: identity.organizationID,
            bucket: bucket,
            key: key,
            expiresAt: now.addingTimeInterval(Double(uploads.urlLifetimeSeconds)),
            idempotency: idempotencyKey.map {
                PhotoStore.Idempotency(key: $0, requestHash: SHA256.hash(upload.canonicalText).hexString)
            }
        )
        let record: PhotoStore.IssuedPhoto
        switch try await PhotoStore.createUpload(values, newPhoto, pool: pool, inserts: inserts) {
        case .created(let created):
            record = created
        case .replayed(let replayed):
            record = replayed
            context.logger.info("idempotent replay", metadata: ["photo_id": "\(replayed.id.lowercasedString)"])
        case .projectNotFound:
            throw APIError.notFound("project \(upload.projectID.lowercasedString) does not exist")
        case .projectForbidden:
            throw APIError.forbidden("the project belongs to another organization")
        case .keyReusedWithAnotherBody:
            throw APIError.idempotencyKeyReused("the Idempotency-Key was used with a different request body")
        }
        // Signed from the stored row, so a replay signs exactly what was first declared.
        let presigned = presigner.presignPut(
            key: record.s3Key,
            contentType: record.mimeType,
            contentLength: record.fileSize,
            checksumSHA256: record.checksumSHA256,
            expiresIn: uploads.urlLifetimeSeconds,
            now: now
        )
        let response = UploadURLResponse(
            photoID: record.id.lowercasedString,
            uploadURL: presigned.url,
            s3URL: presigner.s3URL(key: record.s3Key),
            method: presigned.method,
            expiresInSeconds: uploads.urlLifetimeSeconds,
            expiresAt: presigned.expiresAt,
            headers: presigned.headers,
            status: record.status
        )
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: response.bytes))
        )
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
        let identity = try context.requireIdentity()
        let photoID = try Self.uuidParameter("photo_id", context)
        guard let record = try await pool.withConnection({ try PhotoStore.loadPhoto(photoID, on: $0) }) else {
            throw APIError.notFound("photo \(photoID.lowercasedString) does not exist")
        }
        guard record.organizationID == identity.organizationID else {
            throw APIError.forbidden("the photo belongs to another organization")
        }
        return try Self.jsonResponse(photoJSON(record, includeHistory: true))
    }

    // MARK: GET /api/v1/projects/{project_id}/photos

    /// Lists newest first. List items carry the photo shape without `status_history` (one
    /// query per page instead of one per photo); `GET /photos/{id}` has the history.
    func listPhotos(request: Request, context: APIRequestContext) async throws -> Response {
        let identity = try context.requireIdentity()
        let projectID = try Self.uuidParameter("project_id", context)
        let query = request.uri.queryParameters
        var status: String?
        if let text = query.get("status") {
            guard PhotoStatus(rawValue: text) != nil else {
                throw APIError.invalidRequest(
                    "status must be one of \(PhotoStatus.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            status = text
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
        let page: [PhotoRecord]? = try await pool.withConnection { connection in
            guard let organization = try PhotoStore.projectOrganization(projectID, on: connection),
                organization == identity.organizationID
            else { return nil }
            // One extra row says whether there is a next page.
            return try PhotoStore.listPhotos(
                projectID: projectID,
                status: filter,
                after: after,
                limit: pageSize + 1,
                on: connection
            )
        }
        guard let page else {
            // Tell the two failures apart only after the query: a second, cheap look.
            let exists = try await PhotoStore.projectOrganization(projectID, pool: pool)
            if exists == nil {
                throw APIError.notFound("project \(projectID.lowercasedString) does not exist")
            }
            throw APIError.forbidden("the project belongs to another organization")
        }
        let items = page.prefix(limit)
        let next: Any =
            page.count > limit
            ? (items.last.map { PhotoListCursor(createdAtText: $0.createdAtText, id: $0.id).encoded } ?? NSNull())
            : NSNull()
        return try Self.jsonResponse([
            "photos": items.map { photoJSON($0, includeHistory: false) },
            "next_cursor": next,
        ])
    }

    // MARK: Shapes

    /// The contract's photo object.
    func photoJSON(_ record: PhotoRecord, includeHistory: Bool) -> [String: Any] {
        var json: [String: Any] = [
            "id": record.id.lowercasedString,
            "project_id": record.projectID.lowercasedString,
            "user_id": record.userID.lowercasedString,
            "file_name": record.fileName,
            "mime_type": record.mimeType,
            "file_size": record.fileSize,
            "width": record.width ?? NSNull(),
            "height": record.height ?? NSNull(),
            "s3_key": record.s3Key,
            "s3_url": presigner.s3URL(key: record.s3Key),
            "status": record.status,
            "created_at": Self.timestamp(record.createdAt),
            "uploaded_at": Self.timestamp(record.uploadedAt),
            "processing_at": Self.timestamp(record.processingAt),
            "completed_at": Self.timestamp(record.completedAt),
            "failed_at": Self.timestamp(record.failedAt),
            "exif_data": Self.parsedJSON(record.exifJSON) ?? [String: Any](),
            "detection": [
                "status": Self.detectionStatus(photoStatus: record.status),
                "types": Self.parsedJSON(record.detectionTypesJSON) ?? [Any](),
                "priority": record.priority,
                "result": record.detectionResultJSON.flatMap(Self.parsedJSON) ?? NSNull(),
            ] as [String: Any],
            "error": record.error ?? NSNull(),
        ]
        if includeHistory {
            json["status_history"] = record.history.map { ["status": $0.status, "at": Self.timestamp($0.at)] }
        }
        return json
    }

    /// Detection has not started before the photo is `processing`: `pending` until then, and
    /// the photo's own status afterwards (the pipeline's outcome is the photo's outcome).
    static func detectionStatus(photoStatus: String) -> String {
        switch photoStatus {
        case "pending_upload", "uploaded": "pending"
        default: photoStatus
        }
    }

    static func parsedJSON(_ text: String) -> Any? {
        try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
    }

    /// ISO 8601 UTC to the second, e.g. `2026-11-25T10:45:00Z`.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(timeZone: .gmt))
    }

    static func timestamp(_ date: Date?) -> Any {
        date.map { timestamp($0) as Any } ?? NSNull()
    }

    static func uuidParameter(_ name: String, _ context: APIRequestContext) throws(APIError) -> UUID {
        guard let text = context.parameters.get(name), let id = UUID(canonicalText: text) else {
            throw APIError.invalidRequest("\(name) must be a UUID")
        }
        return id
    }

    static func jsonResponse(_ json: [String: Any]) throws -> Response {
        let data = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .ok,
            headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: data))
        )
    }
}
