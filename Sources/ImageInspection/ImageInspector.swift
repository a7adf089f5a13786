/// The two image formats the inspector reads (Domain's `MediaType` maps onto them).
public enum ImageFormat: String, Sendable, CaseIterable {
    case jpeg
    case png
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
    /// The furthest into an object that the dimensions (JPEG SOF, PNG chunks before `IDAT`) may
    /// lie: metadata larger than this is not a photo worth ranged re-reads, so it is refused as
    /// malformed rather than making the caller fetch ever more of the object.
    public static let maximumHeadLength = 16 * 1024 * 1024

    /// Inspects `head`, the first bytes of an object of `objectSize` bytes declared as `declared`.
    ///
    /// Throws ``ImageInspectionError/needMoreBytes(atLeast:)`` when the answer lies beyond `head`
    /// but within the object (never asking for more than `objectSize` or ``maximumHeadLength``),
    /// and ``ImageInspectionError/truncated`` when it lies beyond the object itself.
    public static func inspect(
        head: [UInt8],
        objectSize: Int,
        declared: ImageFormat
    ) throws(ImageInspectionError) -> ImageHeader {
        let reader = HeadReader(bytes: head, objectSize: objectSize)
        let header: ImageHeader
        switch declared {
        case .jpeg: header = try JPEGHeaderParser.parse(reader)
        case .png: header = try PNGHeaderParser.parse(reader)
        }
        let (pixels, overflow) = header.width.multipliedReportingOverflow(by: header.height)
        if overflow || pixels > maximumPixels {
            throw .tooManyPixels(width: header.width, height: header.height)
        }
        return header
    }
}

/// Bounds-checked access to the head of an object, turning "past the end" into the right error.
struct HeadReader {
    let bytes: [UInt8]
    /// The object's size; never less than the bytes we hold (a caller passing a smaller size
    /// would otherwise make us ask for bytes we already have).
    let objectSize: Int

    init(bytes: [UInt8], objectSize: Int) {
        self.bytes = bytes
        self.objectSize = max(objectSize, bytes.count)
    }

    /// Makes sure `bytes[0..<end]` exists, or says why it does not: the object is shorter
    /// (truncated), the position is absurdly far (malformed), or the caller should fetch more.
    func require(_ end: Int) throws(ImageInspectionError) {
        if end <= bytes.count { return }
        if end > objectSize { throw .truncated }
        if end > ImageInspector.maximumHeadLength {
            throw .malformed("the image header lies beyond \(ImageInspector.maximumHeadLength) bytes")
        }
        // Ask generously (doubling) so that a run of large segments costs few round trips.
        let wanted = max(end, bytes.count.multipliedReportingOverflow(by: 2).partialValue)
        throw .needMoreBytes(atLeast: min(wanted, objectSize, ImageInspector.maximumHeadLength))
    }

    func byte(at offset: Int) throws(ImageInspectionError) -> UInt8 {
        try require(offset + 1)
        return bytes[offset]
    }

    func uint16BE(at offset: Int) throws(ImageInspectionError) -> Int {
        try require(offset + 2)
        return Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
    }

    func uint32BE(at offset: Int) throws(ImageInspectionError) -> Int {
        try require(offset + 4)
        return Int(bytes[offset]) << 24 | Int(bytes[offset + 1]) << 16 | Int(bytes[offset + 2]) << 8
            | Int(bytes[offset + 3])
    }

    /// Whether the object starts with `magic`; a prefix that matches as far as the object goes
    /// but ends early is `.truncated`, one that matches as far as the head goes asks for more.
    func starts(with magic: [UInt8]) throws(ImageInspectionError) -> Bool {
        let present = min(magic.count, bytes.count)
        if !bytes[0..<present].elementsEqual(magic[0..<present]) { return false }
        try require(magic.count)
        return true
    }
}
