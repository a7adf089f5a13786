/// The image types the service accepts (docs/api.md: `image/jpeg` and `image/png`),
/// with everything that follows from the type: the `mime_type` text, the S3 key's extension.
///
/// The one table of media types: validation, the key layout, the database row and the
/// confirmation's image check all go through it, so a third type is added in one place.
public enum MediaType: String, Sendable, CaseIterable, Codable {
    case jpeg = "image/jpeg"
    case png = "image/png"

    /// The `mime_type` text, as clients send it and the `photos.mime_type` column stores it.
    public var mimeType: String { rawValue }

    /// The S3 key's extension.
    public var fileExtension: String {
        switch self {
        case .jpeg: "jpg"
        case .png: "png"
        }
    }
}
