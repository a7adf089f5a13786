import Testing

@testable import ImageInspection

@Suite struct ImageInspectorTests {
    // MARK: Every sample and generated fixture: dimensions as `exiftool -j -n FILE` reports
    // ImageWidth/ImageHeight, and whether an EXIF block is found.

    struct Expected: Sendable, CustomTestStringConvertible {
        let file: String
        let format: ImageFormat
        let width: Int
        let height: Int
        let hasExif: Bool
        var testDescription: String { file }
    }

    static let expected: [Expected] = [
        // Real camera samples (`exiftool -j -n Fixtures/FILE`).
        .init(file: "iphone4s-gps-orientation6.jpg", format: .jpeg, width: 205, height: 102, hasExif: true),
        .init(file: "canon.jpg", format: .jpeg, width: 80, height: 80, hasExif: true),
        .init(file: "sony.jpg", format: .jpeg, width: 80, height: 80, hasExif: true),
        .init(file: "no-exif.jpg", format: .jpeg, width: 50, height: 50, hasExif: false),
        .init(file: "corrupt-ifd-loop.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(file: "orientation-1.jpg", format: .jpeg, width: 40, height: 80, hasExif: true),
        .init(file: "orientation-2.jpg", format: .jpeg, width: 40, height: 80, hasExif: true),
        .init(file: "orientation-3.jpg", format: .jpeg, width: 40, height: 80, hasExif: true),
        .init(file: "orientation-4.jpg", format: .jpeg, width: 40, height: 80, hasExif: true),
        .init(file: "orientation-5.jpg", format: .jpeg, width: 80, height: 40, hasExif: true),
        .init(file: "orientation-6.jpg", format: .jpeg, width: 80, height: 40, hasExif: true),
        .init(file: "orientation-7.jpg", format: .jpeg, width: 80, height: 40, hasExif: true),
        .init(file: "orientation-8.jpg", format: .jpeg, width: 80, height: 40, hasExif: true),
        // Generated (`python3 Fixtures/make-fixtures.py`, then `exiftool -j -n Fixtures/generated/FILE`).
        .init(file: "generated/gps-north-east.jpg", format: .jpeg, width: 16, height: 8, hasExif: true),
        .init(file: "generated/gps-north-west.jpg", format: .jpeg, width: 16, height: 8, hasExif: true),
        .init(file: "generated/gps-south-east.jpg", format: .jpeg, width: 16, height: 8, hasExif: true),
        .init(file: "generated/gps-south-west.jpg", format: .jpeg, width: 16, height: 8, hasExif: true),
        .init(file: "generated/gps-below-sea-level.jpg", format: .jpeg, width: 16, height: 8, hasExif: true),
        .init(file: "generated/gps-zero-denominator.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(file: "generated/gps-null-island.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(file: "generated/nul-strings.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(file: "generated/empty-strings.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(file: "generated/offset-time.jpg", format: .jpeg, width: 24, height: 16, hasExif: true),
        .init(file: "generated/offset-time-negative.jpg", format: .jpeg, width: 24, height: 16, hasExif: true),
        .init(file: "generated/sof-beyond-head.jpg", format: .jpeg, width: 640, height: 480, hasExif: true),
        .init(file: "generated/date-time-original-future.jpg", format: .jpeg, width: 24, height: 16, hasExif: true),
        .init(file: "generated/make-model-in-exif-ifd.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(file: "generated/make-model-in-both-ifds.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(file: "generated/makernote-deep-ifd-chain.jpg", format: .jpeg, width: 8, height: 8, hasExif: true),
        .init(
            file: "generated/makernote-ifd-chain-within-budget.jpg",
            format: .jpeg,
            width: 8,
            height: 8,
            hasExif: true
        ),
        .init(file: "generated/with-exif.png", format: .png, width: 3, height: 2, hasExif: true),
        .init(file: "generated/plain.png", format: .png, width: 5, height: 7, hasExif: false),
    ]

    @Test(arguments: expected)
    func dimensionsOfFixture(_ expected: Expected) throws {
        let bytes = try Fixture.bytes(expected.file)
        let header = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: expected.format)
        #expect(header.format == expected.format)
        #expect(header.width == expected.width)
        #expect(header.height == expected.height)
        #expect((header.exifBlock != nil) == expected.hasExif)
        if let block = header.exifBlock {
            #expect(block.starts(with: Array("Exif".utf8) + [0, 0]))
            #expect(block.count <= 65533 || expected.format == .png)
        }
    }

    /// Starting from a tiny head, the needMoreBytes protocol converges on the same answer.
    @Test(arguments: expected)
    func smallFirstReadConverges(_ expected: Expected) throws {
        let bytes = try Fixture.bytes(expected.file)
        let full = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: expected.format)
        for initialLength in [0, 1, 2, 5, 16, 100] {
            let (header, _) = try Fixture.inspectLikeCaller(
                bytes,
                declared: expected.format,
                initialLength: initialLength
            )
            #expect(header == full)
        }
    }

    // MARK: Heads that end early.

    @Test func truncatedJPEG() throws {
        let bytes = try Fixture.bytes("canon.jpg")
        let head = Array(bytes.prefix(100))
        #expect(throws: ImageInspectionError.truncated) {
            try ImageInspector.inspect(head: head, objectSize: head.count, declared: .jpeg)
        }
        let error = #expect(throws: ImageInspectionError.self) {
            try ImageInspector.inspect(head: head, objectSize: bytes.count, declared: .jpeg)
        }
        guard case .needMoreBytes(let atLeast) = error else {
            Issue.record("expected needMoreBytes, got \(String(describing: error))")
            return
        }
        #expect(atLeast > head.count && atLeast <= bytes.count)
    }

    @Test func truncatedPNG() throws {
        let bytes = try Fixture.bytes("generated/with-exif.png")
        for cut in [3, 8, 20, 33, 100] {
            let head = Array(bytes.prefix(cut))
            #expect(throws: ImageInspectionError.truncated) {
                try ImageInspector.inspect(head: head, objectSize: head.count, declared: .png)
            }
            let error = #expect(throws: ImageInspectionError.self) {
                try ImageInspector.inspect(head: head, objectSize: bytes.count, declared: .png)
            }
            guard case .needMoreBytes(let atLeast) = error else {
                Issue.record("cut \(cut): expected needMoreBytes, got \(String(describing: error))")
                continue
            }
            #expect(atLeast > head.count && atLeast <= bytes.count)
        }
    }

    @Test func emptyObjectIsTruncated() {
        #expect(throws: ImageInspectionError.truncated) {
            try ImageInspector.inspect(head: [], objectSize: 0, declared: .jpeg)
        }
        #expect(throws: ImageInspectionError.truncated) {
            try ImageInspector.inspect(head: [0x89, 0x50], objectSize: 2, declared: .png)
        }
    }

    /// APP segments push the frame header past the first ranged read: one more read suffices.
    @Test func frameHeaderBeyondInitialHead() throws {
        let bytes = try Fixture.bytes("generated/sof-beyond-head.jpg")
        let head = Array(bytes.prefix(ImageInspector.initialHeadLength))
        let error = #expect(throws: ImageInspectionError.self) {
            try ImageInspector.inspect(head: head, objectSize: bytes.count, declared: .jpeg)
        }
        guard case .needMoreBytes(let atLeast) = error else {
            Issue.record("expected needMoreBytes, got \(String(describing: error))")
            return
        }
        #expect(atLeast > ImageInspector.initialHeadLength && atLeast <= bytes.count)
        let header = try ImageInspector.inspect(
            head: Array(bytes.prefix(atLeast)),
            objectSize: bytes.count,
            declared: .jpeg
        )
        #expect(header.width == 640 && header.height == 480)
        #expect(header.exifBlock != nil)
    }

    /// A chain of APP segments whose frame header would lie beyond 16 MiB is refused, not fetched.
    @Test func frameHeaderBeyondSixteenMiBIsMalformed() throws {
        var bytes: [UInt8] = [0xFF, 0xD8]
        let segment: [UInt8] = [0xFF, 0xE2, 0xFF, 0xFF] + [UInt8](repeating: 0, count: 65533)
        for _ in 0..<256 { bytes += segment }
        let error = #expect(throws: ImageInspectionError.self) {
            try ImageInspector.inspect(head: bytes, objectSize: 64 << 20, declared: .jpeg)
        }
        guard case .malformed = error else {
            Issue.record("expected malformed, got \(String(describing: error))")
            return
        }
        // And a request from a shorter head never exceeds the cap or the object.
        let shorter = Array(bytes.prefix(10 << 20))
        let again = #expect(throws: ImageInspectionError.self) {
            try ImageInspector.inspect(head: shorter, objectSize: 64 << 20, declared: .jpeg)
        }
        guard case .needMoreBytes(let atLeast) = again else {
            Issue.record("expected needMoreBytes, got \(String(describing: again))")
            return
        }
        #expect(atLeast > shorter.count && atLeast <= ImageInspector.maximumHeadLength)
    }

    // MARK: Not what was declared.

    @Test func htmlDeclaredAsJPEG() {
        let html = Array("<!DOCTYPE html><html><body>hi</body></html>".utf8)
        #expect(throws: ImageInspectionError.notDeclaredType(declared: .jpeg)) {
            try ImageInspector.inspect(head: html, objectSize: html.count, declared: .jpeg)
        }
        #expect(throws: ImageInspectionError.notDeclaredType(declared: .png)) {
            try ImageInspector.inspect(head: html, objectSize: html.count, declared: .png)
        }
    }

    @Test func pngDeclaredAsJPEGAndViceVersa() throws {
        let png = try Fixture.bytes("generated/plain.png")
        #expect(throws: ImageInspectionError.notDeclaredType(declared: .jpeg)) {
            try ImageInspector.inspect(head: png, objectSize: png.count, declared: .jpeg)
        }
        let jpeg = try Fixture.bytes("canon.jpg")
        #expect(throws: ImageInspectionError.notDeclaredType(declared: .png)) {
            try ImageInspector.inspect(head: jpeg, objectSize: jpeg.count, declared: .png)
        }
        // A single wrong byte is enough to know, even from a one-byte head.
        #expect(throws: ImageInspectionError.notDeclaredType(declared: .jpeg)) {
            try ImageInspector.inspect(head: [0x89], objectSize: 1000, declared: .jpeg)
        }
    }

    // MARK: Hostile JPEG structure.

    static func jpeg(width: Int, height: Int, marker: UInt8 = 0xC0, before: [UInt8] = []) -> [UInt8] {
        let sof: [UInt8] = [
            0xFF, marker, 0x00, 0x0B, 0x08,
            UInt8(height >> 8), UInt8(height & 0xFF), UInt8(width >> 8), UInt8(width & 0xFF),
            0x01, 0x01, 0x11, 0x00,
        ]
        return [0xFF, 0xD8] + before + sof + [0xFF, 0xD9]
    }

    @Test func decompressionBombJPEG() {
        let bytes = Self.jpeg(width: 20000, height: 20000)
        #expect(throws: ImageInspectionError.tooManyPixels(width: 20000, height: 20000)) {
            try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
        }
        // Exactly the limit is allowed.
        let limit = Self.jpeg(width: 10000, height: 10000)
        #expect(throws: Never.self) {
            try ImageInspector.inspect(head: limit, objectSize: limit.count, declared: .jpeg)
        }
    }

    @Test func zeroDimensionsJPEG() {
        for (width, height) in [(0, 10), (10, 0), (0, 0)] {
            let bytes = Self.jpeg(width: width, height: height)
            #expect(throws: ImageInspectionError.self) {
                try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
            }
        }
    }

    @Test func frameMarkersAndLookalikes() throws {
        // SOF2 (progressive) and SOF15 count; DHT, JPG and DAC share the range but do not.
        for marker: UInt8 in [0xC1, 0xC2, 0xC3, 0xC5, 0xCB, 0xCF] {
            let bytes = Self.jpeg(width: 3, height: 4, marker: marker)
            let header = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
            #expect(header.width == 3 && header.height == 4)
        }
        let dhtThenFrame = Self.jpeg(
            width: 3,
            height: 4,
            before: [0xFF, 0xC4, 0x00, 0x0B] + [UInt8](repeating: 9, count: 9)
        )
        let header = try ImageInspector.inspect(head: dhtThenFrame, objectSize: dhtThenFrame.count, declared: .jpeg)
        #expect(header.width == 3 && header.height == 4)
        // Fill bytes, RSTn and TEM before the frame are skipped.
        let fill = Self.jpeg(width: 5, height: 6, before: [0xFF, 0xFF, 0xFF, 0x01, 0xFF, 0xD3])
        let filled = try ImageInspector.inspect(head: fill, objectSize: fill.count, declared: .jpeg)
        #expect(filled.width == 5 && filled.height == 6)
    }

    @Test(
        arguments: [
            ("scan before frame", [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x02, 0xFF, 0xD9]),
            ("end before frame", [0xFF, 0xD8, 0xFF, 0xD9, 0x00, 0x00]),
            ("second SOI", [0xFF, 0xD8, 0xFF, 0xD8, 0x00, 0x00]),
            ("segment length 1", [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0x00, 0x00]),
            ("segment length 0", [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00, 0x00, 0x00]),
            ("garbage between segments", [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x12, 0xC0]),
            ("stuffed zero as marker", [0xFF, 0xD8, 0xFF, 0x00, 0x00, 0x00]),
            ("short frame header", [0xFF, 0xD8, 0xFF, 0xC0, 0x00, 0x07, 8, 0, 1, 0, 1, 1, 0xFF, 0xD9]),
        ] as [(String, [UInt8])]
    )
    func malformedJPEG(_ name: String, _ bytes: [UInt8]) {
        let error = #expect(throws: ImageInspectionError.self, "\(name)") {
            try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
        }
        guard case .malformed = error else {
            Issue.record("\(name): expected malformed, got \(String(describing: error))")
            return
        }
    }

    /// A frame header that runs past the end of the object is truncated, not malformed.
    @Test func segmentRunningPastTheObject() {
        let bytes: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE1, 0x10, 0x00, 0x45, 0x78]
        #expect(throws: ImageInspectionError.truncated) {
            try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
        }
    }

    // MARK: Hostile PNG structure.

    static func chunk(_ type: String, _ data: [UInt8], corruptCRC: Bool = false) -> [UInt8] {
        let typeBytes = Array(type.utf8)
        var crc = CRC32.checksum(ArraySlice(typeBytes + data))
        if corruptCRC { crc ^= 1 }
        return bigEndian(UInt32(data.count)) + typeBytes + data + bigEndian(crc)
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    static func png(width: UInt32, height: UInt32, corruptCRC: Bool = false, chunks: [[UInt8]] = []) -> [UInt8] {
        let ihdr = chunk("IHDR", bigEndian(width) + bigEndian(height) + [8, 0, 0, 0, 0], corruptCRC: corruptCRC)
        let idat = chunk("IDAT", [0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01])
        return PNGHeaderParser.signature + ihdr + chunks.joined() + idat + chunk("IEND", [])
    }

    @Test func crcMatchesTheStandardCheckValue() {
        #expect(CRC32.checksum(ArraySlice("123456789".utf8)) == 0xCBF4_3926)
    }

    @Test func badPNGCRC() {
        let bytes = Self.png(width: 4, height: 4, corruptCRC: true)
        #expect(throws: ImageInspectionError.malformed("PNG: chunk CRC mismatch")) {
            try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .png)
        }
        let badExif = Self.png(
            width: 4,
            height: 4,
            chunks: [Self.chunk("eXIf", [0x4D, 0x4D, 0, 0x2A], corruptCRC: true)]
        )
        #expect(throws: ImageInspectionError.malformed("PNG: chunk CRC mismatch")) {
            try ImageInspector.inspect(head: badExif, objectSize: badExif.count, declared: .png)
        }
        // Any chunk before IDAT is checked, not only the ones whose data is used.
        let badText = Self.png(width: 4, height: 4, chunks: [Self.chunk("tEXt", Array("a\0b".utf8), corruptCRC: true)])
        #expect(throws: ImageInspectionError.malformed("PNG: chunk CRC mismatch")) {
            try ImageInspector.inspect(head: badText, objectSize: badText.count, declared: .png)
        }
        // IDAT is never read, so its CRC is not checked.
        var badData = Self.png(width: 4, height: 4)
        badData[badData.count - 13] ^= 0xFF
        #expect(throws: Never.self) {
            try ImageInspector.inspect(head: badData, objectSize: badData.count, declared: .png)
        }
    }

    @Test func zeroDimensionsPNG() {
        for (width, height): (UInt32, UInt32) in [(0, 10), (10, 0)] {
            let bytes = Self.png(width: width, height: height)
            #expect(throws: ImageInspectionError.malformed("PNG: zero width or height")) {
                try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .png)
            }
        }
    }

    @Test func decompressionBombPNG() {
        let bytes = Self.png(width: 20000, height: 20000)
        #expect(throws: ImageInspectionError.tooManyPixels(width: 20000, height: 20000)) {
            try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .png)
        }
        let huge = Self.png(width: 0x7FFF_FFFF, height: 0x7FFF_FFFF)
        #expect(throws: ImageInspectionError.tooManyPixels(width: 0x7FFF_FFFF, height: 0x7FFF_FFFF)) {
            try ImageInspector.inspect(head: huge, objectSize: huge.count, declared: .png)
        }
        let tooWide = Self.png(width: 0x8000_0000, height: 1)
        #expect(throws: ImageInspectionError.self) {
            try ImageInspector.inspect(head: tooWide, objectSize: tooWide.count, declared: .png)
        }
    }

    @Test func pngExifChunk() throws {
        let tiff: [UInt8] = [0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0]
        let bytes = Self.png(
            width: 2,
            height: 3,
            chunks: [Self.chunk("tEXt", Array("a\0b".utf8)), Self.chunk("eXIf", tiff)]
        )
        let header = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .png)
        #expect(header.exifBlock == Array("Exif".utf8) + [0, 0] + tiff)
        // An eXIf that already carries the prefix does not get it twice.
        let prefixed = Self.png(width: 2, height: 3, chunks: [Self.chunk("eXIf", Array("Exif".utf8) + [0, 0] + tiff)])
        let again = try ImageInspector.inspect(head: prefixed, objectSize: prefixed.count, declared: .png)
        #expect(again.exifBlock == header.exifBlock)
    }

    @Test func malformedPNG() {
        let signature = PNGHeaderParser.signature
        let cases: [(String, [UInt8])] = [
            ("first chunk not IHDR", signature + Self.chunk("tEXt", [0x61, 0, 0x62])),
            ("IHDR of the wrong length", signature + Self.chunk("IHDR", [UInt8](repeating: 1, count: 12))),
            ("length above 2^31-1", signature + [0x80, 0, 0, 0] + Array("IHDR".utf8)),
            ("chunk type not letters", signature + [0, 0, 0, 13] + [0x49, 0x48, 0x44, 0x00]),
            ("IEND before IDAT", Array(Self.png(width: 1, height: 1).prefix(33)) + Self.chunk("IEND", [])),
            ("second IHDR", Self.png(width: 1, height: 1, chunks: [Array(Self.png(width: 1, height: 1)[8..<33])])),
        ]
        for (name, bytes) in cases {
            let error = #expect(throws: ImageInspectionError.self, "\(name)") {
                try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .png)
            }
            guard case .malformed = error else {
                Issue.record("\(name): expected malformed, got \(String(describing: error))")
                continue
            }
        }
    }
}
