/// Walks JPEG markers from SOI to the first SOFn, collecting the first `Exif` APP1 segment.
enum JPEGHeaderParser {
    static let magic: [UInt8] = [0xFF, 0xD8, 0xFF]
    static let exifPrefix: [UInt8] = Array("Exif".utf8) + [0, 0]

    static func parse(_ reader: HeadReader) throws(ImageInspectionError) -> ImageHeader {
        guard try reader.starts(with: magic) else { throw .notDeclaredType(declared: .jpeg) }
        var exifBlock: [UInt8]?
        var offset = 2
        while true {
            // A marker: 0xFF, any number of 0xFF fill bytes, then the marker code.
            guard try reader.byte(at: offset) == 0xFF else {
                throw .malformed("JPEG: expected a marker at offset \(offset)")
            }
            offset += 1
            var marker = try reader.byte(at: offset)
            while marker == 0xFF {
                offset += 1
                marker = try reader.byte(at: offset)
            }
            offset += 1
            switch marker {
            case 0x01, 0xD0...0xD7:
                continue  // TEM and RSTn stand alone: no length follows.
            case 0x00:
                throw .malformed("JPEG: stuffed zero byte outside entropy-coded data")
            case 0xD8:
                throw .malformed("JPEG: a second SOI before the frame header")
            case 0xD9:
                throw .malformed("JPEG: EOI before the frame header")
            case 0xDA:
                throw .malformed("JPEG: scan data before the frame header")
            default:
                break
            }
            let length = try reader.uint16BE(at: offset)
            guard length >= 2 else { throw .malformed("JPEG: segment length \(length) below 2") }
            let payload = offset + 2
            let end = offset + length
            if isStartOfFrame(marker) {
                guard length >= 8 else { throw .malformed("JPEG: frame header too short") }
                let height = try reader.uint16BE(at: payload + 1)
                let width = try reader.uint16BE(at: payload + 3)
                guard width > 0, height > 0 else {
                    throw .malformed("JPEG: zero width or height in the frame header")
                }
                return ImageHeader(format: .jpeg, width: width, height: height, exifBlock: exifBlock)
            }
            if marker == 0xE1, exifBlock == nil, length >= 2 + exifPrefix.count {
                try reader.require(payload + exifPrefix.count)
                if reader.bytes[payload..<payload + exifPrefix.count].elementsEqual(exifPrefix) {
                    try reader.require(end)
                    exifBlock = Array(reader.bytes[payload..<end])
                }
            }
            offset = end
        }
    }

    /// SOF0...SOF15, except DHT (C4), JPG (C8) and DAC (CC) which share the range.
    static func isStartOfFrame(_ marker: UInt8) -> Bool {
        (0xC0...0xCF).contains(marker) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC
    }
}
