import CLibExif

/// The EXIF fields the service keeps (contract section 4, `exif_data`); absent fields are `nil`
/// and omitted from the JSON.
public struct ExifMetadata: Sendable, Equatable, Codable {
    public var cameraMake: String?
    public var cameraModel: String?
    /// EXIF local time `yyyy-MM-ddTHH:mm:ss`, with the offset appended when the file has one.
    public var capturedAt: String?
    public var orientation: Int?
    public var gpsCoordinates: GPSCoordinates?

    public init(
        cameraMake: String? = nil,
        cameraModel: String? = nil,
        capturedAt: String? = nil,
        orientation: Int? = nil,
        gpsCoordinates: GPSCoordinates? = nil
    ) {
        self.cameraMake = cameraMake
        self.cameraModel = cameraModel
        self.capturedAt = capturedAt
        self.orientation = orientation
        self.gpsCoordinates = gpsCoordinates
    }

    enum CodingKeys: String, CodingKey {
        case cameraMake = "camera_make"
        case cameraModel = "camera_model"
        case capturedAt = "captured_at"
        case orientation
        case gpsCoordinates = "gps_coordinates"
    }
}

/// Signed decimal degrees (south and west negative) and metres (below sea level negative).
public struct GPSCoordinates: Sendable, Equatable, Codable {
    public var latitude: Double?
    public var longitude: Double?
    public var altitude: Double?

    public init(latitude: Double? = nil, longitude: Double? = nil, altitude: Double? = nil) {
        self.latitude = latitude
        self.longitude = longitude
        self.altitude = altitude
    }
}

/// Why an EXIF block could not be read at all.
public enum ExifReadError: Error, Sendable, Equatable {
    case unreadable(String)
}

/// Reads ``ExifMetadata`` from an EXIF block (`Exif\0\0` + TIFF) through libexif.
public enum ExifReader {
    public static func read(_ exifBlock: [UInt8]) throws(ExifReadError) -> ExifMetadata {
        throw .unreadable("not implemented")
    }
}
