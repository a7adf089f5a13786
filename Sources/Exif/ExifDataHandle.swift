import CLibExif

/// Owns one libexif `ExifData` and frees it in `deinit`; reads entries with every size checked.
final class ExifDataHandle {
    enum IFD {
        case zero
        case exif
        case gps
    }

    private let data: UnsafeMutablePointer<ExifData>
    private let byteOrder: ExifByteOrder

    /// Loads `block` (`Exif\0\0` + TIFF) with libexif's specification fix-ups off (they add and
    /// delete tags) and unknown tags ignored (less of a hostile file is kept in memory).
    init?(loading block: [UInt8]) {
        guard let data = exif_data_new() else { return nil }
        self.data = data
        exif_data_unset_option(data, EXIF_DATA_OPTION_FOLLOW_SPECIFICATION)
        exif_data_set_option(data, EXIF_DATA_OPTION_IGNORE_UNKNOWN_TAGS)
        block.withUnsafeBufferPointer { buffer in
            if let base = buffer.baseAddress {
                exif_data_load_data(data, base, UInt32(buffer.count))
            }
        }
        byteOrder = exif_data_get_byte_order(data)
    }

    deinit {
        exif_data_unref(data)
    }

    /// Whether libexif found and parsed a maker note (``MakerNoteRemover`` should prevent it).
    var hasMakerNoteData: Bool {
        exif_data_get_mnote_data(data) != nil
    }

    /// The entry for `tag` in `ifd` only (GPS tag ids clash with Interoperability ones).
    func entry(_ tag: ExifTag, in ifd: IFD) -> ExifEntryView? {
        let content: UnsafeMutablePointer<ExifContent>? =
            switch ifd {
            case .zero: data.pointee.ifd.0
            case .exif: data.pointee.ifd.2
            case .gps: data.pointee.ifd.3
            }
        guard let content, let entry = exif_content_get_entry(content, tag) else { return nil }
        return ExifEntryView(entry.pointee)
    }

    /// The first SHORT of a SHORT entry.
    func short(_ entry: ExifEntryView) -> UInt16? {
        guard entry.format == EXIF_FORMAT_SHORT, entry.components >= 1, entry.bytes.count >= 2 else {
            return nil
        }
        return entry.bytes.withUnsafeBufferPointer { exif_get_short($0.baseAddress, byteOrder) }
    }

    /// `count` unsigned rationals as doubles, one `nil` for each zero denominator; `nil` overall
    /// when the entry is not exactly `count` RATIONALs with the bytes to back them.
    func rationals(_ entry: ExifEntryView, count: Int) -> [Double?]? {
        guard entry.format == EXIF_FORMAT_RATIONAL, entry.components == count, entry.bytes.count >= 8 * count else {
            return nil
        }
        return entry.bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return nil }
            return (0..<count).map { index in
                let value = exif_get_rational(base + 8 * index, byteOrder)
                guard value.denominator != 0 else { return nil }
                return Double(value.numerator) / Double(value.denominator)
            }
        }
    }

    /// The first byte of an ASCII entry (GPS N/S/E/W references).
    func firstASCIIByte(_ entry: ExifEntryView) -> UInt8? {
        guard entry.format == EXIF_FORMAT_ASCII else { return nil }
        return entry.bytes.first
    }

    /// The first byte of a BYTE entry (GPS altitude reference).
    func firstByte(_ entry: ExifEntryView) -> UInt8? {
        guard entry.format == EXIF_FORMAT_BYTE, entry.components >= 1 else { return nil }
        return entry.bytes.first
    }
}

/// A copy of one entry's format, component count and bytes, so nothing reads libexif memory
/// past `size` or after the data is freed.
struct ExifEntryView {
    let format: ExifFormat
    let components: Int
    let bytes: [UInt8]

    init(_ entry: ExifEntry) {
        format = entry.format
        components = Int(clamping: entry.components)
        if let pointer = entry.data, entry.size > 0 {
            bytes = Array(UnsafeBufferPointer(start: pointer, count: Int(entry.size)))
        } else {
            bytes = []
        }
    }
}
