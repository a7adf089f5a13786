import Foundation
import UUIDCoding

/// A validated `POST /api/v1/photos/upload-url` body (docs/api.md), with defaults applied.
///
/// Validation lives here, away from HTTP, so every rule is unit-tested without a server and the
/// handler only maps ``UploadValidationError`` to the contract's error table. The normalised
/// value is also what the idempotency check hashes (``canonicalText``), so two bodies that differ
/// only in key order, whitespace or an omitted default count as the same request.
public struct UploadRequest: Sendable, Equatable {
    /// The detection types a client may ask for. Only these two exist in the detection pipeline
    /// today; an unknown type is refused (400) instead of being silently ignored downstream.
    public static let allowedDetectionTypes: Set<String> = ["damage", "material"]
    /// Used when the body has no `detection_types`, as the contract says.
    public static let defaultDetectionTypes = ["damage", "material"]
    /// `file_name` length limit in Unicode code points, which is what the column's domain
    /// (`photo_file_name`, Postgres's `length`) and JSON Schema's `maxLength` count too.
    public static let maximumFileNameLength = 255

    /// Detection priority; `normal` by default.
    public enum Priority: String, Sendable, CaseIterable {
        case low
        case normal
        case high
    }

    public let projectID: UUID
    public let fileName: String
    public let fileSize: Int
    public let mediaType: MediaType
    public let detectionTypes: [String]
    public let priority: Priority
    /// Base64 SHA-256 of the body the client will upload; S3 verifies it when present.
    public let checksumSHA256: String?

    /// The raw fields as decoded from the JSON body; `nil` means absent (or JSON `null`).
    ///
    /// Every field is optional here so that a missing one gets ``validate(_:minimumBytes:maximumBytes:)``'s
    /// precise message; a field of the wrong JSON type fails decoding (400).
    public struct Fields: Sendable, Decodable {
        public var projectID: String?
        public var fileName: String?
        public var fileSize: Int?
        public var mimeType: String?
        public var detectionTypes: [String]?
        public var priority: String?
        public var checksumSHA256: String?

        public init(
            projectID: String? = nil,
            fileName: String? = nil,
            fileSize: Int? = nil,
            mimeType: String? = nil,
            detectionTypes: [String]? = nil,
            priority: String? = nil,
            checksumSHA256: String? = nil
        ) {
            self.projectID = projectID
            self.fileName = fileName
            self.fileSize = fileSize
            self.mimeType = mimeType
            self.detectionTypes = detectionTypes
            self.priority = priority
            self.checksumSHA256 = checksumSHA256
        }

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

    /// Validates `fields` against the contract and the configured size range.
    ///
    /// Checks run in a fixed order (required fields and their shapes first, then the type, then
    /// the size), so a body with several problems always gets the same answer.
    public static func validate(
        _ fields: Fields,
        minimumBytes: Int,
        maximumBytes: Int
    ) throws(UploadValidationError) -> UploadRequest {
        guard let projectText = fields.projectID else { throw .invalidRequest("project_id is required") }
        guard let projectID = UUID(canonicalText: projectText) else {
            throw .invalidRequest("project_id must be a UUID")
        }
        guard let fileName = fields.fileName else { throw .invalidRequest("file_name is required") }
        if let problem = fileNameProblem(fileName) { throw .invalidRequest(problem) }
        guard let fileSize = fields.fileSize else { throw .invalidRequest("file_size is required") }
        guard let mimeType = fields.mimeType else { throw .invalidRequest("mime_type is required") }

        var detectionTypes = defaultDetectionTypes
        if let requested = fields.detectionTypes {
            guard !requested.isEmpty else { throw .invalidRequest("detection_types must not be empty") }
            guard Set(requested).count == requested.count else {
                throw .invalidRequest("detection_types must not repeat a type")
            }
            guard requested.allSatisfy(allowedDetectionTypes.contains) else {
                throw .invalidRequest(
                    "detection_types may contain only \(allowedDetectionTypes.sorted().joined(separator: ", "))"
                )
            }
            detectionTypes = requested
        }
        var priority = Priority.normal
        if let text = fields.priority {
            guard let parsed = Priority(rawValue: text) else {
                throw .invalidRequest("priority must be low, normal or high")
            }
            priority = parsed
        }
        if let checksum = fields.checksumSHA256, !isValidChecksumSHA256(checksum) {
            throw .invalidRequest("checksum_sha256 must be the base64 encoding of a 32-byte SHA-256 digest")
        }

        guard let mediaType = MediaType(rawValue: mimeType) else {
            throw .invalidFileType("mime_type must be image/jpeg or image/png")
        }
        guard fileSize >= minimumBytes else {
            throw .fileTooSmall("file_size must be at least \(minimumBytes) bytes")
        }
        guard fileSize <= maximumBytes else {
            throw .fileTooLarge("file_size must be at most \(maximumBytes) bytes")
        }
        return UploadRequest(
            projectID: projectID,
            fileName: fileName,
            fileSize: fileSize,
            mediaType: mediaType,
            detectionTypes: detectionTypes,
            priority: priority,
            checksumSHA256: fields.checksumSHA256
        )
    }

    /// Why `name` is not an acceptable `file_name`, or `nil`.
    ///
    /// The name is stored and shown back, never used in the S3 key, but it still reaches logs,
    /// `Content-Disposition` headers and users' file systems, so anything that could act as a
    /// path or a control sequence is refused rather than cleaned up.
    public static func fileNameProblem(_ name: String) -> String? {
        if name.isEmpty { return "file_name must not be empty" }
        // Code points, not Swift's characters: "e" and 300 combining accents is one character
        // but 301 code points, which the database would refuse.
        if name.unicodeScalars.count > maximumFileNameLength {
            return "file_name must be at most \(maximumFileNameLength) characters"
        }
        if name == "." || name == ".." { return "file_name must not be . or .." }
        for scalar in name.unicodeScalars {
            if scalar == "/" || scalar == "\\" { return "file_name must not contain path separators" }
            if scalar.properties.generalCategory == .control || scalar.value == 0 {
                return "file_name must not contain control characters"
            }
            // Format characters (category Cf) are invisible: a right-to-left override (U+202E)
            // shows `photo\u{202E}gpj.exe` as `photoexe.jpg`, and zero-width spaces, joiners or
            // a byte order mark make two names that look the same differ.
            if scalar.properties.generalCategory == .format {
                return "file_name must not contain invisible format characters (such as U+\(hex(scalar)))"
            }
        }
        return nil
    }

    /// `scalar`'s code point as four or more upper-case hex digits, as Unicode writes it.
    private static func hex(_ scalar: Unicode.Scalar) -> String {
        let digits = String(scalar.value, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - digits.count)) + digits
    }

    /// Whether `value` is standard base64 (with padding) of exactly 32 bytes, the only form of
    /// `x-amz-checksum-sha256` S3 accepts.
    public static func isValidChecksumSHA256(_ value: String) -> Bool {
        guard value.utf8.count == 44, value.hasSuffix("="), !value.hasSuffix("==") else { return false }
        guard let decoded = Data(base64Encoded: value) else { return false }
        return decoded.count == 32
    }

    /// A stable text of the normalised request, hashed for `Idempotency-Key` comparisons.
    ///
    /// Built from the validated values, not the raw body, so formatting and defaults do not
    /// matter; each field is length-prefixed so no value can imitate a separator.
    public var canonicalText: String {
        let parts = [
            projectID.lowercasedString,
            fileName,
            String(fileSize),
            mediaType.mimeType,
            detectionTypes.joined(separator: ","),
            priority.rawValue,
            checksumSHA256 ?? "",
        ]
        return parts.map { "\($0.utf8.count):\($0)" }.joined(separator: ";")
    }
}

/// Why an upload request was refused; each case is one row of the contract's error table.
public enum UploadValidationError: Error, Sendable, Equatable {
    /// 400 `invalid_request`.
    case invalidRequest(String)
    /// 400 `file_too_small`.
    case fileTooSmall(String)
    /// 413 `file_too_large`.
    case fileTooLarge(String)
    /// 415 `invalid_file_type`.
    case invalidFileType(String)
}
