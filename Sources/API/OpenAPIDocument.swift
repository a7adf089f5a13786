import Hummingbird
import NIOCore

/// `GET /openapi.yaml`: the OpenAPI 3.1 document of every route of `photo-api`, served without
/// authentication as `application/yaml`.
///
/// Operations the contract defines but the API does not serve yet carry `x-status: planned`.
/// `OpenAPIDocumentTests` keeps the document and the router's route table in step, and
/// `scripts/schemathesis.sh` checks the live API against it.
///
/// The document is a Swift constant rather than a bundled resource, so that no target needs a
/// resource declaration.
public enum OpenAPIDocument {
    /// The media type of the served document.
    public static let mediaType = "application/yaml"

    /// The value of `x-status` on operations the API does not serve yet.
    public static let plannedStatus = "planned"

    /// Adds `GET /openapi.yaml` to `router` (outside `/api/v1`, so no token is needed).
    public static func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("openapi.yaml") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [.contentType: mediaType],
                body: .init(byteBuffer: ByteBuffer(string: yaml))
            )
        }
    }

    /// A Hummingbird route pattern (`/api/v1/photos/:photo_id`) as an OpenAPI path
    /// (`/api/v1/photos/{photo_id}`).
    public static func openAPIPath(_ routePattern: String) -> String {
        let components = routePattern.split(separator: "/", omittingEmptySubsequences: true).map { component in
            component.hasPrefix(":") ? "{\(component.dropFirst())}" : String(component)
        }
        return "/" + components.joined(separator: "/")
    }

    /// The document itself.
    public static let yaml = #"""
        openapi: 3.1.0
        info:
          title: photo-api
          version: 1.0.0
          description: |
            Photo upload service: issues pre-signed S3 upload URLs, tracks each photo through
            `pending_upload -> uploaded -> processing -> completed | failed`, and serves the photos'
            metadata. Every `/api/v1` route needs `Authorization: Bearer <JWT>` (claims `sub`,
            `org_id`, `exp`; optional `scope`). Errors are RFC 9457 problem documents
            (`application/problem+json`). Every response carries `X-Request-ID`.
        servers:
          - url: /
        tags:
          - name: photos
          - name: operations
        security:
          - bearerAuth: []
        paths:
          /healthz:
            get:
              operationId: getHealth
              tags: [operations]
              summary: The process is alive.
              security: []
              responses:
                "200":
                  description: Alive.
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/Health"
                "500":
                  $ref: "#/components/responses/InternalError"
          /readyz:
            get:
              operationId: getReadiness
              tags: [operations]
              summary: The database answers and the schema is at the version this build needs.
              security: []
              responses:
                "200":
                  description: Ready.
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/Readiness"
                "500":
                  $ref: "#/components/responses/InternalError"
                "503":
                  description: Not ready (database unreachable or schema behind).
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/Unavailable"
          /metrics:
            get:
              operationId: getMetrics
              tags: [operations]
              summary: Prometheus text exposition.
              description: |
                Includes `http_requests_total{method,route,status}` and
                `http_request_duration_seconds{method,route,status}`, where `route` is the matched
                route pattern (`NotFound` for unknown routes).
              security: []
              responses:
                "200":
                  description: The metrics.
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    text/plain:
                      schema:
                        type: string
                "500":
                  $ref: "#/components/responses/InternalError"
          /openapi.yaml:
            get:
              operationId: getOpenAPIDocument
              tags: [operations]
              summary: This document.
              security: []
              responses:
                "200":
                  description: The OpenAPI 3.1 document.
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/yaml:
                      schema:
                        type: string
                "500":
                  $ref: "#/components/responses/InternalError"
          /api/v1/whoami:
            get:
              operationId: whoAmI
              tags: [operations]
              summary: The caller as the API sees it (a debugging aid, not part of the contract).
              responses:
                "200":
                  description: The token's identity.
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/WhoAmI"
                "400":
                  $ref: "#/components/responses/BadRequest"
                "401":
                  $ref: "#/components/responses/Unauthorized"
                "500":
                  $ref: "#/components/responses/InternalError"
          /api/v1/photos/upload-url:
            post:
              operationId: createUploadURL
              tags: [photos]
              summary: Registers a photo and returns a pre-signed S3 PUT URL for it.
              description: |
                The URL is a SigV4 query-signed PUT for the key
                `{project_id}/{yyyy}/{mm}/{dd}/{photo_id}.{jpg|png}` with `content-type` and
                `content-length` signed. A photo with status `pending_upload` exists when the response
                is sent. Limited per user (429 with `Retry-After`).
              parameters:
                - $ref: "#/components/parameters/IdempotencyKey"
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      $ref: "#/components/schemas/UploadURLRequest"
              responses:
                "200":
                  description: The upload URL (the same `photo_id` again for a replayed `Idempotency-Key`).
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/UploadURLResponse"
                "400":
                  $ref: "#/components/responses/BadRequest"
                "401":
                  $ref: "#/components/responses/Unauthorized"
                "403":
                  $ref: "#/components/responses/Forbidden"
                "404":
                  $ref: "#/components/responses/NotFound"
                "413":
                  $ref: "#/components/responses/TooLarge"
                "415":
                  $ref: "#/components/responses/UnsupportedFileType"
                "422":
                  $ref: "#/components/responses/Unprocessable"
                "429":
                  $ref: "#/components/responses/RateLimited"
                "500":
                  $ref: "#/components/responses/InternalError"
                "503":
                  $ref: "#/components/responses/StorageUnavailable"
          /api/v1/photos/{photo_id}:
            get:
              operationId: getPhoto
              tags: [photos]
              summary: One photo with its status history.
              parameters:
                - $ref: "#/components/parameters/PhotoID"
              responses:
                "200":
                  description: The photo.
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/Photo"
                "400":
                  $ref: "#/components/responses/BadRequest"
                "401":
                  $ref: "#/components/responses/Unauthorized"
                "403":
                  $ref: "#/components/responses/Forbidden"
                "404":
                  $ref: "#/components/responses/NotFound"
                "500":
                  $ref: "#/components/responses/InternalError"
          /api/v1/projects/{project_id}/photos:
            get:
              operationId: listProjectPhotos
              tags: [photos]
              summary: The project's photos, newest first.
              description: List items are photos without `status_history`.
              parameters:
                - name: project_id
                  in: path
                  required: true
                  schema:
                    type: string
                    format: uuid
                - name: status
                  in: query
                  required: false
                  schema:
                    $ref: "#/components/schemas/PhotoStatus"
                - name: limit
                  in: query
                  required: false
                  schema:
                    type: integer
                    minimum: 1
                    maximum: 100
                    default: 50
                - name: cursor
                  in: query
                  required: false
                  description: The `next_cursor` of the previous page (opaque; any other value is 400).
                  schema:
                    type: string
                    minLength: 1
                    pattern: "^[A-Za-z0-9_-]+$"
              responses:
                "200":
                  description: One page.
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/PhotoPage"
                "400":
                  $ref: "#/components/responses/BadRequest"
                "401":
                  $ref: "#/components/responses/Unauthorized"
                "403":
                  $ref: "#/components/responses/Forbidden"
                "404":
                  $ref: "#/components/responses/NotFound"
                "500":
                  $ref: "#/components/responses/InternalError"
          /api/v1/photos/{photo_id}/complete:
            post:
              operationId: completeUpload
              tags: [photos]
              summary: Confirms an upload after the client's PUT succeeded.
              description: |
                Checks the object in S3 (HEAD: size and type must match the declaration), reads only
                its head (HTTP Range) for the dimensions (JPEG SOFn / PNG IHDR) and EXIF, and in one
                transaction sets status `uploaded`, appends the status history and inserts a
                `photo.uploaded` outbox event. Repeating it on a confirmed photo returns 200 with the
                current photo and writes nothing; concurrent calls produce one event. No object at
                the key: 409 `upload_not_found` (PUT first). Not the declared image type, a size
                that differs, truncated before the dimensions or more than 100 megapixels: the photo
                becomes `failed` and the answer is 422 `invalid_upload`. S3 unreachable after 3
                retries (1 s, 2 s, 4 s): 503 `storage_unavailable`, the photo unchanged. EXIF that
                cannot be read never fails the upload (`exif_data` is `{}`).
              parameters:
                - $ref: "#/components/parameters/PhotoID"
              responses:
                "200":
                  description: The photo (as GET).
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/Photo"
                "400":
                  $ref: "#/components/responses/BadRequest"
                "401":
                  $ref: "#/components/responses/Unauthorized"
                "403":
                  $ref: "#/components/responses/Forbidden"
                "404":
                  $ref: "#/components/responses/NotFound"
                "409":
                  $ref: "#/components/responses/Conflict"
                "422":
                  $ref: "#/components/responses/Unprocessable"
                "500":
                  $ref: "#/components/responses/InternalError"
                "503":
                  $ref: "#/components/responses/StorageUnavailable"
          /api/v1/photos/{photo_id}/status:
            patch:
              operationId: updatePhotoStatus
              tags: [photos]
              summary: The detection pipeline reports progress or the outcome.
              description: |
                Needs scope `photos:status:write` (403 `forbidden` without it). `result` (a JSON
                object) is stored and returned under `detection.result`; `error` only with `failed`.
                Allowed transitions: `pending_upload -> uploaded | failed`, `uploaded -> processing |
                failed`, `processing -> completed | failed`; the same status again is a no-op 200;
                anything else is 409 `invalid_status_transition`.
              parameters:
                - $ref: "#/components/parameters/PhotoID"
              requestBody:
                required: true
                content:
                  application/json:
                    schema:
                      $ref: "#/components/schemas/StatusUpdateRequest"
              responses:
                "200":
                  description: The photo after the change (as GET).
                  headers:
                    X-Request-ID:
                      $ref: "#/components/headers/X-Request-ID"
                  content:
                    application/json:
                      schema:
                        $ref: "#/components/schemas/Photo"
                "400":
                  $ref: "#/components/responses/BadRequest"
                "401":
                  $ref: "#/components/responses/Unauthorized"
                "403":
                  $ref: "#/components/responses/Forbidden"
                "404":
                  $ref: "#/components/responses/NotFound"
                "409":
                  $ref: "#/components/responses/Conflict"
                "413":
                  $ref: "#/components/responses/TooLarge"
                "500":
                  $ref: "#/components/responses/InternalError"
        components:
          securitySchemes:
            bearerAuth:
              type: http
              scheme: bearer
              bearerFormat: JWT
              description: |
                HS256 with the shared secret, or RS256/ES256 with a key of the JWKS selected by `kid`.
          headers:
            X-Request-ID:
              description: Echoed from the request when present, else generated.
              schema:
                type: string
            Retry-After:
              description: Seconds to wait before retrying.
              schema:
                type: integer
                minimum: 1
            WWW-Authenticate:
              description: The bearer challenge (RFC 6750).
              schema:
                type: string
          parameters:
            PhotoID:
              name: photo_id
              in: path
              required: true
              schema:
                type: string
                format: uuid
            IdempotencyKey:
              name: Idempotency-Key
              in: header
              required: false
              description: |
                The same key from the same user within 24 h returns the same `photo_id`; the same key
                with a different body is 422 `idempotency_key_reused`.
              schema:
                type: string
                minLength: 1
                maxLength: 255
                pattern: "^[\\x20-\\x7E]+$"
          responses:
            BadRequest:
              description: "`invalid_request` (malformed JSON, missing or ill-typed field, bad UUID, unsafe `file_name`) or `file_too_small`."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            Unauthorized:
              description: "`unauthorized`: missing, invalid or expired token."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
                WWW-Authenticate:
                  $ref: "#/components/headers/WWW-Authenticate"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            Forbidden:
              description: "`forbidden`: another organization's project or photo, or a missing scope."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            NotFound:
              description: "`not_found`: the project or photo does not exist."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            Conflict:
              description: "`invalid_status_transition` or `upload_not_found`."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            TooLarge:
              description: "`file_too_large` (declared `file_size` above the maximum) or `payload_too_large` (the request body itself)."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            UnsupportedFileType:
              description: "`invalid_file_type`: `mime_type` is neither `image/jpeg` nor `image/png`."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            Unprocessable:
              description: "`invalid_upload` or `idempotency_key_reused`."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            RateLimited:
              description: "`rate_limited`: over the per-user rate limit."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
                Retry-After:
                  $ref: "#/components/headers/Retry-After"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            InternalError:
              description: "`internal_error`."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
            StorageUnavailable:
              description: "`storage_unavailable`: S3 unreachable after retries, or uploads not configured."
              headers:
                X-Request-ID:
                  $ref: "#/components/headers/X-Request-ID"
              content:
                application/problem+json:
                  schema:
                    $ref: "#/components/schemas/Problem"
          schemas:
            Problem:
              type: object
              description: An RFC 9457 problem document.
              required: [type, title, status, detail, code, request_id]
              properties:
                type:
                  type: string
                  format: uri
                  description: "`https://errors.photo-api.example/<code>`"
                title:
                  type: string
                status:
                  type: integer
                  minimum: 400
                  maximum: 599
                detail:
                  type: string
                code:
                  $ref: "#/components/schemas/ProblemCode"
                request_id:
                  type: string
            ProblemCode:
              type: string
              enum:
                - invalid_request
                - file_too_small
                - unauthorized
                - forbidden
                - not_found
                - method_not_allowed
                - invalid_status_transition
                - upload_not_found
                - file_too_large
                - payload_too_large
                - invalid_file_type
                - invalid_upload
                - idempotency_key_reused
                - rate_limited
                - storage_unavailable
                - internal_error
            PhotoStatus:
              type: string
              enum: [pending_upload, uploaded, processing, completed, failed]
            Health:
              type: object
              required: [status]
              properties:
                status:
                  const: ok
            Readiness:
              type: object
              required: [status, schema_version]
              properties:
                status:
                  const: ready
                schema_version:
                  type: integer
            Unavailable:
              type: object
              required: [status, reason]
              properties:
                status:
                  const: unavailable
                reason:
                  type: string
                  enum: [database_unavailable, schema_behind]
            WhoAmI:
              type: object
              required: [user_id, org_id, scopes]
              properties:
                user_id:
                  type: string
                  format: uuid
                org_id:
                  type: string
                  format: uuid
                scopes:
                  type: array
                  items:
                    type: string
            UploadURLRequest:
              type: object
              required: [project_id, file_name, file_size, mime_type]
              properties:
                project_id:
                  type: string
                  format: uuid
                file_name:
                  type: string
                  minLength: 1
                  maxLength: 255
                  pattern: '^[^/\\\x00-\x1F\x7F-\x9F]+$'
                  not:
                    enum: [".", ".."]
                  description: |
                    Stored as given, never used in the object key: no path separators (`/`, `\`), no
                    control characters, not `.` or `..`.
                file_size:
                  type: integer
                  minimum: 1024
                  maximum: 52428800
                  description: |
                    Bytes, from `MIN_UPLOAD_BYTES` to `MAX_UPLOAD_BYTES` (the limits shown are the
                    defaults): below is 400 `file_too_small`, above is 413 `file_too_large`.
                mime_type:
                  type: string
                  enum: [image/jpeg, image/png]
                detection_types:
                  type: array
                  uniqueItems: true
                  minItems: 1
                  items:
                    type: string
                    enum: [damage, material]
                  default: [damage, material]
                priority:
                  type: string
                  enum: [low, normal, high]
                  default: normal
                checksum_sha256:
                  type: string
                  description: Base64 of the SHA-256 digest; when given, S3 checks the uploaded bytes against it.
                  pattern: "^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$"
            UploadURLResponse:
              type: object
              required:
                [upload_id, photo_id, upload_url, s3_url, method, expires_in_seconds, expires_at, headers, status, status_url, complete_url]
              properties:
                upload_id:
                  type: string
                  format: uuid
                photo_id:
                  type: string
                  format: uuid
                upload_url:
                  type: string
                  format: uri
                s3_url:
                  type: string
                  format: uri
                method:
                  const: PUT
                expires_in_seconds:
                  type: integer
                expires_at:
                  type: string
                  format: date-time
                headers:
                  type: object
                  additionalProperties:
                    type: string
                  description: Headers the PUT must carry exactly (`Content-Type`, `Content-Length`, ...).
                status:
                  $ref: "#/components/schemas/PhotoStatus"
                status_url:
                  type: string
                complete_url:
                  type: string
            StatusUpdateRequest:
              type: object
              required: [status]
              properties:
                status:
                  type: string
                  enum: [processing, completed, failed]
                result:
                  type: [object, "null"]
                  description: The detection result, stored verbatim; omitted or null keeps the stored one.
                error:
                  type: [string, "null"]
                  minLength: 1
                  maxLength: 2000
                  description: Why detection failed; only with status `failed`.
              # A non-null `error` is only allowed with status `failed` (400 otherwise).
              if:
                required: [error]
                properties:
                  error:
                    type: string
              then:
                properties:
                  status:
                    const: failed
            Timestamp:
              type: [string, "null"]
              format: date-time
            GPSCoordinates:
              type: object
              properties:
                latitude:
                  type: number
                longitude:
                  type: number
                altitude:
                  type: number
            EXIFData:
              type: object
              description: Fields absent from the photo's EXIF are omitted; `{}` when there is none.
              properties:
                camera_make:
                  type: string
                camera_model:
                  type: string
                captured_at:
                  type: string
                  description: EXIF local time, with the offset when the photo has one.
                orientation:
                  type: integer
                gps_coordinates:
                  $ref: "#/components/schemas/GPSCoordinates"
            Detection:
              type: object
              required: [status, types, priority, result]
              properties:
                status:
                  type: string
                  enum: [pending, processing, completed, failed]
                types:
                  type: array
                  items:
                    type: string
                priority:
                  type: string
                  enum: [low, normal, high]
                result:
                  type: [object, "null"]
            StatusChange:
              type: object
              required: [status, at]
              properties:
                status:
                  $ref: "#/components/schemas/PhotoStatus"
                at:
                  type: string
                  format: date-time
            Photo:
              type: object
              required:
                [id, project_id, user_id, file_name, mime_type, file_size, width, height, s3_key, s3_url, status, created_at,
                 uploaded_at, processing_at, completed_at, failed_at, exif_data, detection, error]
              properties:
                id:
                  type: string
                  format: uuid
                project_id:
                  type: string
                  format: uuid
                user_id:
                  type: string
                  format: uuid
                file_name:
                  type: string
                mime_type:
                  type: string
                  enum: [image/jpeg, image/png]
                file_size:
                  type: integer
                width:
                  type: [integer, "null"]
                height:
                  type: [integer, "null"]
                s3_key:
                  type: string
                s3_url:
                  type: string
                  format: uri
                status:
                  $ref: "#/components/schemas/PhotoStatus"
                created_at:
                  type: string
                  format: date-time
                uploaded_at:
                  $ref: "#/components/schemas/Timestamp"
                processing_at:
                  $ref: "#/components/schemas/Timestamp"
                completed_at:
                  $ref: "#/components/schemas/Timestamp"
                failed_at:
                  $ref: "#/components/schemas/Timestamp"
                exif_data:
                  $ref: "#/components/schemas/EXIFData"
                detection:
                  $ref: "#/components/schemas/Detection"
                error:
                  type: [string, "null"]
                status_history:
                  type: array
                  description: Only in `GET /api/v1/photos/{photo_id}`, oldest first.
                  items:
                    $ref: "#/components/schemas/StatusChange"
            PhotoPage:
              type: object
              required: [photos, next_cursor]
              properties:
                photos:
                  type: array
                  items:
                    $ref: "#/components/schemas/Photo"
                next_cursor:
                  type: [string, "null"]
        """#
}
