/// The two image formats the service accepts.
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg
    case png

    /// `image/jpeg` → `.jpeg`, `image/png` → `.png`; anything else is not ours.
    public init?(mimeType: String) {
        switch mimeType {
        case "image/jpeg": self = .jpeg
        case "image/png": self = .png
        default: return nil
        }
    }

    public var mimeType: String {
        switch self {
        case .jpeg: "image/jpeg"
        case .png: "image/png"
        }
    }
}

/// What the head of an uploaded object says about the image.
public struct ImageHeader: Sendable, Equatable {
    public var format: ImageFormat
    public var width: Int
    public var height: Int
    /// The EXIF block as libexif wants it: `Exif\0\0` followed by the TIFF structure
    /// (from a JPEG APP1 segment, or a PNG `eXIf` chunk with the prefix added); `nil` when none.
    public var exifBlock: [UInt8]?

    public init(format: ImageFormat, width: Int, height: Int, exifBlock: [UInt8]?) {
        self.format = format
        self.width = width
        self.height = height
        self.exifBlock = exifBlock
    }
}

/// Why an object's head is not an acceptable image.
public enum ImageInspectionError: Error, Sendable, Equatable {
    /// The head ended before the dimensions, but the object is longer: fetch at least this many
    /// bytes from the start and inspect again.
    case needMoreBytes(atLeast: Int)
    /// The magic bytes are not those of the declared format.
    case notDeclaredType(declared: ImageFormat)
    /// The whole object ends before the dimensions.
    case truncated
    /// A marker or chunk breaks the format's rules (bad length, bad CRC, missing IHDR, ...).
    case malformed(String)
    /// More than ``ImageInspector/maximumPixels``: a decompression bomb.
    case tooManyPixels(width: Int, height: Int)
}

/// Reads dimensions and the EXIF block from the first bytes of a JPEG or PNG, with every length
/// checked against the bytes present: uploads are hostile input.
public enum ImageInspector {
    /// 100 megapixels: anything larger is refused as a decompression bomb.
    public static let maximumPixels = 100_000_000
    /// How much of an object to fetch first; enough for almost every camera JPEG's APP segments.
    public static let initialHeadLength = 128 * 1024

    /// Inspects `head`, the first bytes of an object of `objectSize` bytes declared as `declared`.
    public static func inspect(
        head: [UInt8],
        objectSize: Int,
        declared: ImageFormat
    ) throws(ImageInspectionError) -> ImageHeader {
        throw .malformed("not implemented")
    }
}
