/// Reads the PNG signature, `IHDR`, and the chunks up to the first `IDAT` (for `eXIf`).
enum PNGHeaderParser {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    static let exifPrefix: [UInt8] = Array("Exif".utf8) + [0, 0]
    /// PNG lengths and dimensions are at most 2^31 - 1 (PNG specification, 5.3 and 11.2.2).
    static let maximumValue = 0x7FFF_FFFF

    static let ihdr = fourCC("IHDR")
    static let idat = fourCC("IDAT")
    static let iend = fourCC("IEND")
    static let exif = fourCC("eXIf")

    static func parse(_ reader: HeadReader) throws(ImageInspectionError) -> ImageHeader {
        guard try reader.starts(with: signature) else { throw .notDeclaredType(declared: .png) }
        var offset = signature.count
        var width = 0
        var height = 0
        var exifBlock: [UInt8]?
        var isFirst = true
        while true {
            let length = try reader.uint32BE(at: offset)
            guard length <= maximumValue else { throw .malformed("PNG: chunk length above 2^31-1") }
            let type = try reader.uint32BE(at: offset + 4)
            guard isValidChunkType(type) else { throw .malformed("PNG: invalid chunk type") }
            let dataStart = offset + 8
            let dataEnd = dataStart + length
            let chunkEnd = dataEnd + 4
            if isFirst, type != ihdr || length != 13 {
                throw .malformed("PNG: the first chunk is not a 13-byte IHDR")
            }
            // Every chunk before IDAT is checked whole: a damaged header is a damaged upload.
            // IDAT itself is never read (nor its CRC), so the walk stops before it.
            if type != idat {
                try verifyCRC(reader, offset: offset, length: length)
            }
            if isFirst {
                width = try reader.uint32BE(at: dataStart)
                height = try reader.uint32BE(at: dataStart + 4)
                guard width > 0, height > 0 else { throw .malformed("PNG: zero width or height") }
                guard width <= maximumValue, height <= maximumValue else {
                    throw .malformed("PNG: width or height above 2^31-1")
                }
                isFirst = false
            } else if type == ihdr {
                throw .malformed("PNG: a second IHDR")
            } else if type == idat {
                return ImageHeader(format: .png, width: width, height: height, exifBlock: exifBlock)
            } else if type == iend {
                throw .malformed("PNG: IEND before any IDAT")
            } else if type == exif, exifBlock == nil {
                let data = reader.bytes[dataStart..<dataEnd]
                // Some writers put the JPEG-style prefix inside eXIf too; never double it.
                exifBlock = data.starts(with: exifPrefix) ? Array(data) : exifPrefix + data
            }
            offset = chunkEnd
        }
    }

    /// Checks the CRC-32 over type and data of the chunk at `offset` (which must be present).
    static func verifyCRC(_ reader: HeadReader, offset: Int, length: Int) throws(ImageInspectionError) {
        let crcOffset = offset + 8 + length
        let stored = try reader.uint32BE(at: crcOffset)
        let computed = CRC32.checksum(reader.bytes[(offset + 4)..<crcOffset])
        guard UInt32(stored) == computed else { throw .malformed("PNG: chunk CRC mismatch") }
    }

    /// Chunk types are four ASCII letters (PNG specification, 5.4).
    static func isValidChunkType(_ type: Int) -> Bool {
        for shift in stride(from: 24, through: 0, by: -8) {
            let byte = UInt8(truncatingIfNeeded: type >> shift)
            guard (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) else { return false }
        }
        return true
    }

    static func fourCC(_ name: StaticString) -> Int {
        var value = 0
        name.withUTF8Buffer { buffer in
            for byte in buffer { value = value << 8 | Int(byte) }
        }
        return value
    }
}
