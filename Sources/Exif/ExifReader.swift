import CLibExif

/// The EXIF fields the service keeps (`exif_data` in docs/api.md); absent fields are `nil`
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
///
/// The block is hostile input: every entry's format, component count and size are checked before
/// its bytes are read, strings lose NULs and padding (Postgres `jsonb` rejects `\u0000`), values
/// out of range are omitted rather than guessed, and no division by a zero denominator happens.
public enum ExifReader {
    /// The `Exif\0\0` prefix that libexif expects in front of the TIFF header.
    static let exifPrefix: [UInt8] = Array("Exif".utf8) + [0, 0]

    /// Extracts the fields of docs/api.md (`exif_data`); fields that are absent or invalid
    /// are `nil`. Throws only when the block is not an EXIF block at all.
    public static func read(_ exifBlock: [UInt8]) throws(ExifReadError) -> ExifMetadata {
        guard exifBlock.count >= exifPrefix.count + 8, exifBlock.starts(with: exifPrefix) else {
            throw .unreadable("the block is not Exif\\0\\0 followed by a TIFF header")
        }
        let byteOrderMark = exifBlock[exifPrefix.count..<exifPrefix.count + 4]
        guard
            byteOrderMark.elementsEqual([0x49, 0x49, 0x2A, 0x00])
                || byteOrderMark.elementsEqual([0x4D, 0x4D, 0x00, 0x2A])
        else {
            throw .unreadable("the TIFF header is neither II*\\0 nor MM\\0*")
        }
        guard exifBlock.count <= Int(UInt32.max) else { throw .unreadable("the block is too large") }
        guard let withoutMakerNotes = MakerNoteRemover.removingMakerNotes(from: exifBlock) else {
            throw .unreadable("more than \(MakerNoteRemover.maximumIFDs) IFDs: not handed to libexif")
        }
        guard let data = ExifDataHandle(loading: withoutMakerNotes) else {
            throw .unreadable("libexif could not allocate its data")
        }

        var metadata = ExifMetadata()
        let tiff = TIFFStructure(block: exifBlock)
        metadata.cameraMake = cameraText(EXIF_TAG_MAKE, data: data, tiff: tiff)
        metadata.cameraModel = cameraText(EXIF_TAG_MODEL, data: data, tiff: tiff)
        metadata.orientation = data.entry(EXIF_TAG_ORIENTATION, in: .zero).flatMap { entry in
            data.short(entry).flatMap { (1...8).contains($0) ? Int($0) : nil }
        }
        if let original = data.entry(EXIF_TAG_DATE_TIME_ORIGINAL, in: .exif).flatMap(cleanString),
            let local = isoLocalTime(fromExif: original)
        {
            let offset = data.entry(EXIF_TAG_OFFSET_TIME_ORIGINAL, in: .exif).flatMap(cleanString)
            metadata.capturedAt = local + (offset.flatMap(validOffset) ?? "")
        }
        metadata.gpsCoordinates = gpsCoordinates(data)
        return metadata
    }

    // MARK: GPS

    static func gpsCoordinates(_ data: ExifDataHandle) -> GPSCoordinates? {
        let latitude = signedDegrees(
            data,
            value: 0x0002,
            ref: 0x0001,
            positive: UInt8(ascii: "N"),
            negative: UInt8(ascii: "S"),
            limit: 90
        )
        let longitude = signedDegrees(
            data,
            value: 0x0004,
            ref: 0x0003,
            positive: UInt8(ascii: "E"),
            negative: UInt8(ascii: "W"),
            limit: 180
        )
        let altitude = signedAltitude(data)
        if latitude == nil, longitude == nil, altitude == nil { return nil }
        return GPSCoordinates(latitude: latitude, longitude: longitude, altitude: altitude)
    }

    /// Degrees, minutes, seconds (three unsigned rationals) signed by the N/S or E/W reference.
    /// A missing or unknown reference omits the value: guessing the hemisphere would be wrong.
    static func signedDegrees(
        _ data: ExifDataHandle,
        value: UInt16,
        ref: UInt16,
        positive: UInt8,
        negative: UInt8,
        limit: Double
    ) -> Double? {
        guard let refEntry = data.entry(ExifTag(rawValue: UInt32(ref)), in: .gps),
            let refByte = data.firstASCIIByte(refEntry),
            refByte == positive || refByte == negative,
            let valueEntry = data.entry(ExifTag(rawValue: UInt32(value)), in: .gps),
            let parts = data.rationals(valueEntry, count: 3)
        else { return nil }
        guard let degrees = parts[0], let minutes = parts[1], let seconds = parts[2] else { return nil }
        let magnitude = degrees + minutes / 60 + seconds / 3600
        guard magnitude.isFinite, magnitude <= limit else { return nil }
        return refByte == negative ? -magnitude : magnitude
    }

    /// Metres; reference 1 means below sea level. A missing reference means above (its default).
    static func signedAltitude(_ data: ExifDataHandle) -> Double? {
        guard let entry = data.entry(ExifTag(rawValue: 0x0006), in: .gps),
            let parts = data.rationals(entry, count: 1),
            let metres = parts[0], metres.isFinite
        else { return nil }
        guard let refEntry = data.entry(ExifTag(rawValue: 0x0005), in: .gps) else { return metres }
        switch data.firstByte(refEntry) {
        case 0: return metres
        case 1: return -metres
        default: return nil
        }
    }

    // MARK: Strings and times

    /// IFD0's Make or Model, else the Exif IFD's (the first non-empty one, as exiftool finds
    /// them): some phones (an HTC One M8) leave IFD0's empty and write them in the Exif IFD.
    /// libexif drops them there, as tags not recorded in that IFD, and
    /// `EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS` stays on (it keeps libexif from copying every unknown
    /// tag of a hostile block), so that entry is read from the block, bounds-checked.
    static func cameraText(_ tag: ExifTag, data: ExifDataHandle, tiff: TIFFStructure?) -> String? {
        if let text = data.entry(tag, in: .zero).flatMap(cleanString) { return text }
        guard let tiff, let ifd = tiff.exifIFD, let entry = tiff.entry(Int(tag.rawValue), inIFDAt: ifd),
            let value = tiff.asciiValue(ofEntryAt: entry)
        else { return nil }
        return cleanText(value)
    }

    /// The entry's text as ``cleanText(_:)`` makes it; `nil` when not ASCII-typed.
    static func cleanString(_ entry: ExifEntryView) -> String? {
        guard entry.format == EXIF_FORMAT_ASCII else { return nil }
        return cleanText(entry.bytes)
    }

    /// The text up to its first NUL, without surrounding whitespace; `nil` when empty. Bytes that
    /// are not UTF-8 become U+FFFD; the length is capped.
    static func cleanText(_ raw: some Collection<UInt8>) -> String? {
        var bytes = Array(raw.prefix { $0 != 0 }.prefix(256))
        while let last = bytes.last, isPadding(last) { bytes.removeLast() }
        while let first = bytes.first, isPadding(first) { bytes.removeFirst() }
        if bytes.isEmpty { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func isPadding(_ byte: UInt8) -> Bool {
        byte == 0x20 || (0x09...0x0D).contains(byte)
    }

    /// `YYYY:MM:DD HH:MM:SS` → `YYYY-MM-DDTHH:MM:SS`, or `nil` if any part is not a real date/time
    /// (cameras write `0000:00:00 00:00:00` or blanks when the clock was never set). A real date
    /// far from today (`2099:09:29`, a camera whose clock was wrong) is kept: it is the camera's
    /// word, and only the form is checked, never the clock of this server.
    static func isoLocalTime(fromExif text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 19, bytes[4] == UInt8(ascii: ":"), bytes[7] == UInt8(ascii: ":"),
            bytes[10] == UInt8(ascii: " "), bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"),
            let year = number(bytes[0..<4]), let month = number(bytes[5..<7]), let day = number(bytes[8..<10]),
            let hour = number(bytes[11..<13]), let minute = number(bytes[14..<16]),
            let second = number(bytes[17..<19])
        else { return nil }
        guard year >= 1, (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour <= 23, minute <= 59, second <= 59
        else { return nil }
        let date = text.utf8.prefix(10).map { $0 == UInt8(ascii: ":") ? UInt8(ascii: "-") : $0 }
        return String(decoding: date, as: UTF8.self) + "T" + String(decoding: bytes[11..<19], as: UTF8.self)
    }

    /// `+HH:MM` / `-HH:MM` within ±18:00 (the widest offset parsers accept), else `nil`.
    static func validOffset(_ text: String) -> String? {
        let bytes = Array(text.utf8)
        guard bytes.count == 6, bytes[0] == UInt8(ascii: "+") || bytes[0] == UInt8(ascii: "-"),
            bytes[3] == UInt8(ascii: ":"), let hours = number(bytes[1..<3]), let minutes = number(bytes[4..<6]),
            minutes <= 59, hours * 60 + minutes <= 18 * 60
        else { return nil }
        return text
    }

    static func number(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for digit in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(digit) else { return nil }
            value = value * 10 + Int(digit - UInt8(ascii: "0"))
        }
        return value
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}
