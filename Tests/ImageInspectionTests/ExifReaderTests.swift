import Foundation
import ImageInspection
import Testing

@testable import Exif

@Suite struct ExifReaderTests {
    struct Expected: Sendable, CustomTestStringConvertible {
        let file: String
        var format: ImageFormat = .jpeg
        let metadata: ExifMetadata
        var testDescription: String { file }
    }

    static func gps(_ latitude: Double?, _ longitude: Double?, _ altitude: Double?) -> GPSCoordinates {
        GPSCoordinates(latitude: latitude, longitude: longitude, altitude: altitude)
    }

    /// Values from `exiftool -j -n Fixtures/FILE` (Make, Model, DateTimeOriginal, OffsetTimeOriginal,
    /// Orientation, GPSLatitude/GPSLongitude/GPSAltitude with their refs), written the way the
    /// contract wants them. Where the contract's rules differ from exiftool's output, the comment says so.
    static let expected: [Expected] = [
        .init(
            file: "iphone4s-gps-orientation6.jpg",
            metadata: ExifMetadata(
                cameraMake: "Apple",
                cameraModel: "iPhone 4S",
                capturedAt: "2014-09-01T15:03:47",
                orientation: 6,
                gpsCoordinates: gps(59.3325472222222, 18.0649416666667, 29)
            )
        ),
        .init(
            file: "canon.jpg",
            metadata: ExifMetadata(
                cameraMake: "Canon",
                cameraModel: "Canon PowerShot G1 X Mark II",
                capturedAt: "2013-12-17T14:04:24",
                orientation: 1
            )
        ),
        .init(
            file: "sony.jpg",
            metadata: ExifMetadata(
                cameraMake: "SONY",
                cameraModel: "DSC-RX1R",
                capturedAt: "2013-04-13T10:22:18",
                orientation: 1
            )
        ),
        .init(file: "orientation-1.jpg", metadata: ExifMetadata(orientation: 1)),
        .init(file: "orientation-2.jpg", metadata: ExifMetadata(orientation: 2)),
        .init(file: "orientation-3.jpg", metadata: ExifMetadata(orientation: 3)),
        .init(file: "orientation-4.jpg", metadata: ExifMetadata(orientation: 4)),
        .init(file: "orientation-5.jpg", metadata: ExifMetadata(orientation: 5)),
        .init(file: "orientation-6.jpg", metadata: ExifMetadata(orientation: 6)),
        .init(file: "orientation-7.jpg", metadata: ExifMetadata(orientation: 7)),
        .init(file: "orientation-8.jpg", metadata: ExifMetadata(orientation: 8)),
        .init(
            file: "generated/gps-north-east.jpg",
            metadata: ExifMetadata(
                cameraMake: "Canon",
                cameraModel: "Canon EOS 80D",
                gpsCoordinates: gps(40.7128, 74.006, 10.5)
            )
        ),
        .init(
            file: "generated/gps-north-west.jpg",
            metadata: ExifMetadata(
                cameraMake: "Canon",
                cameraModel: "Canon EOS 80D",
                gpsCoordinates: gps(40.7128, -74.006, 10.5)
            )
        ),
        .init(
            file: "generated/gps-south-east.jpg",
            metadata: ExifMetadata(
                cameraMake: "Canon",
                cameraModel: "Canon EOS 80D",
                gpsCoordinates: gps(-33.8688, 151.2093, 58)
            )
        ),
        .init(
            file: "generated/gps-south-west.jpg",
            metadata: ExifMetadata(
                cameraMake: "Canon",
                cameraModel: "Canon EOS 80D",
                gpsCoordinates: gps(-22.9068, -43.1729, 0)
            )
        ),
        .init(
            file: "generated/gps-below-sea-level.jpg",
            metadata: ExifMetadata(
                cameraMake: "Canon",
                cameraModel: "Canon EOS 80D",
                gpsCoordinates: gps(31.559, 35.4732, -430.5)
            )
        ),
        // exiftool: GPSLatitude "" and GPSLongitude 0 from x/0 rationals; here both are absent.
        .init(
            file: "generated/gps-zero-denominator.jpg",
            metadata: ExifMetadata(cameraMake: "Nikon", gpsCoordinates: gps(nil, nil, 10))
        ),
        .init(file: "generated/gps-null-island.jpg", metadata: ExifMetadata(gpsCoordinates: gps(0, 0, 0))),
        // exiftool: Model "  EOS R5", Orientation 9, DateTimeOriginal "2025:13:17 10:30:00",
        // GPSLatitude -95, GPSLongitude 10 (no GPSLongitudeRef). The contract's rules trim the
        // model and omit the impossible orientation, date and latitude and the unsigned longitude.
        .init(file: "generated/nul-strings.jpg", metadata: ExifMetadata(cameraMake: "Canon", cameraModel: "EOS R5")),
        // exiftool: Make "" and Model "": omitted.
        .init(file: "generated/empty-strings.jpg", metadata: ExifMetadata()),
        .init(
            file: "generated/offset-time.jpg",
            metadata: ExifMetadata(capturedAt: "2025-11-17T10:30:00+05:45", orientation: 3)
        ),
        .init(
            file: "generated/offset-time-negative.jpg",
            metadata: ExifMetadata(capturedAt: "2025-11-17T10:30:00-05:00")
        ),
        .init(file: "generated/sof-beyond-head.jpg", metadata: ExifMetadata(cameraMake: "Sony")),
        // exiftool -a -G1: IFD0 Make "" and Model "", ExifIFD Make "HTC" and Model "HTC One_M8"
        // (as an HTC One M8 writes them); -j prints the ExifIFD's. The first non-empty one is kept.
        .init(
            file: "generated/make-model-in-exif-ifd.jpg",
            metadata: ExifMetadata(cameraMake: "HTC", cameraModel: "HTC One_M8", capturedAt: "2014-06-14T18:01:02")
        ),
        // exiftool -j prints the ExifIFD's "HTC"/"HTC One_M8" (a later duplicate wins there); the
        // rule here takes IFD0's first, where the EXIF specification puts Make and Model.
        .init(
            file: "generated/make-model-in-both-ifds.jpg",
            metadata: ExifMetadata(cameraMake: "Canon", cameraModel: "Canon EOS 80D")
        ),
        // A camera whose clock was wrong: exiftool DateTimeOriginal "2099:09:29 10:10:10", kept.
        .init(
            file: "generated/date-time-original-future.jpg",
            metadata: ExifMetadata(capturedAt: "2099-09-29T10:10:10")
        ),
        .init(
            file: "generated/with-exif.png",
            format: .png,
            metadata: ExifMetadata(
                cameraMake: "Google",
                cameraModel: "Pixel 8",
                capturedAt: "2024-02-29T23:59:59",
                orientation: 6,
                gpsCoordinates: gps(51.5007, -0.1246, nil)
            )
        ),
    ]

    @Test(arguments: expected)
    func metadataOfFixture(_ expected: Expected) throws {
        let bytes = try Fixture.bytes(expected.file)
        let header = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: expected.format)
        let block = try #require(header.exifBlock)
        let metadata = try ExifReader.read(block)
        #expect(metadata.cameraMake == expected.metadata.cameraMake)
        #expect(metadata.cameraModel == expected.metadata.cameraModel)
        #expect(metadata.capturedAt == expected.metadata.capturedAt)
        #expect(metadata.orientation == expected.metadata.orientation)
        #expect((metadata.gpsCoordinates == nil) == (expected.metadata.gpsCoordinates == nil))
        let gps = metadata.gpsCoordinates ?? GPSCoordinates()
        let want = expected.metadata.gpsCoordinates ?? GPSCoordinates()
        #expect(Self.close(gps.latitude, want.latitude), "latitude \(String(describing: gps.latitude))")
        #expect(Self.close(gps.longitude, want.longitude), "longitude \(String(describing: gps.longitude))")
        #expect(Self.close(gps.altitude, want.altitude), "altitude \(String(describing: gps.altitude))")
    }

    /// exiftool prints 15 significant digits; the generated files went through its DMS rounding.
    static func close(_ actual: Double?, _ expected: Double?) -> Bool {
        switch (actual, expected) {
        case (nil, nil): true
        case (let actual?, let expected?): abs(actual - expected) < 1e-6
        default: false
        }
    }

    /// The sample whose IFD points back at itself: libexif must return (no hang, no crash). exiftool
    /// reports Orientation 1 with a warning "Suspicious IFD0 offset".
    @Test func loopingIFD() throws {
        let bytes = try Fixture.bytes("corrupt-ifd-loop.jpg")
        let header = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
        let block = try #require(header.exifBlock)
        do {
            let metadata = try ExifReader.read(block)
            #expect(metadata.orientation == nil || metadata.orientation == 1)
            #expect(metadata.gpsCoordinates == nil)
        } catch {
            // Unreadable is an acceptable answer too.
        }
    }

    /// canon.jpg carries a Canon MakerNote that libexif would parse; after MakerNoteRemover it
    /// does not, and the fields we read are unchanged.
    @Test func makerNotesAreHiddenFromLibexif() throws {
        let bytes = try Fixture.bytes("canon.jpg")
        let header = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
        let block = try #require(header.exifBlock)
        let raw = try #require(ExifDataHandle(loading: block))
        #expect(raw.hasMakerNoteData)
        let cleaned = try #require(MakerNoteRemover.removingMakerNotes(from: block))
        #expect(cleaned.count == block.count)
        #expect(cleaned != block)
        let handle = try #require(ExifDataHandle(loading: cleaned))
        #expect(!handle.hasMakerNoteData)
        #expect(try ExifReader.read(block).cameraModel == "Canon PowerShot G1 X Mark II")
    }

    /// The EXIF block of a fixture, as the inspector hands it over.
    static func exifBlock(_ file: String) throws -> [UInt8] {
        let bytes = try Fixture.bytes(file)
        let header = try ImageInspector.inspect(head: bytes, objectSize: bytes.count, declared: .jpeg)
        return try #require(header.exifBlock)
    }

    /// A MakerNote 40 pointer-only IFDs below IFD0, GPS and Exif pointers alternating: libexif
    /// follows such a chain (it refuses only a pointer into the IFD it is loading, or into one that
    /// already has entries) down to its Canon parser. MakerNoteRemover's walk gives up first, so
    /// the block is not handed to libexif at all and the read fails (the upload stores `{}`).
    @Test func makerNoteBeyondTheWalksBudgetIsNotHandedToLibexif() throws {
        let block = try Self.exifBlock("generated/makernote-deep-ifd-chain.jpg")
        #expect(try #require(ExifDataHandle(loading: block)).hasMakerNoteData)
        #expect(MakerNoteRemover.removingMakerNotes(from: block) == nil)
        #expect(throws: ExifReadError.self) { try ExifReader.read(block) }
    }

    /// The same chain 28 IFDs deep is within the walk's budget: the MakerNote is hidden and the
    /// rest is read.
    @Test func makerNoteWithinTheWalksBudgetIsHidden() throws {
        let block = try Self.exifBlock("generated/makernote-ifd-chain-within-budget.jpg")
        #expect(try #require(ExifDataHandle(loading: block)).hasMakerNoteData)
        let cleaned = try #require(MakerNoteRemover.removingMakerNotes(from: block))
        #expect(try #require(ExifDataHandle(loading: cleaned)).hasMakerNoteData == false)
        #expect(try ExifReader.read(block) == ExifMetadata(cameraMake: "Canon"))
    }

    /// Pointer loops and absurd counts end the walk without touching anything else.
    @Test func makerNoteRemoverOnHostileTIFF() {
        let prefix: [UInt8] = Array("Exif".utf8) + [0, 0]
        // IFD0 at 8 with one Exif pointer back to itself and a next-IFD link to itself.
        let loop =
            prefix + [0x49, 0x49, 0x2A, 0x00, 0x08, 0, 0, 0, 0x01, 0x00]
            + [0x69, 0x87, 0x04, 0x00, 0x01, 0, 0, 0, 0x08, 0, 0, 0] + [0x08, 0, 0, 0]
        #expect(MakerNoteRemover.removingMakerNotes(from: loop) == loop)
        let hugeCount = prefix + [0x4D, 0x4D, 0x00, 0x2A, 0, 0, 0, 8, 0xFF, 0xFF, 0x92, 0x7C]
        #expect(MakerNoteRemover.removingMakerNotes(from: hugeCount) == hugeCount)
        for cut in 0..<loop.count {
            let short = Array(loop.prefix(cut))
            #expect(MakerNoteRemover.removingMakerNotes(from: short) == short)
        }
    }

    @Test func notAnExifBlock() {
        let prefix: [UInt8] = Array("Exif".utf8) + [0, 0]
        for block: [UInt8] in [
            [], prefix, Array("JFIF\0\0II*\0\u{8}\0\0\0".utf8), prefix + Array("XX*\0\u{8}\0\0\0".utf8),
        ] {
            #expect(throws: ExifReadError.self) { try ExifReader.read(block) }
        }
    }

    /// TIFF headers whose IFD offsets point outside the block, or at a huge entry count: nothing,
    /// but no crash.
    @Test func hostileTIFF() throws {
        let prefix: [UInt8] = Array("Exif".utf8) + [0, 0]
        let blocks: [[UInt8]] = [
            prefix + [0x49, 0x49, 0x2A, 0x00, 0xFF, 0xFF, 0xFF, 0xFF],
            prefix + [0x4D, 0x4D, 0x00, 0x2A, 0x00, 0x00, 0x00, 0x08, 0xFF, 0xFF, 0x01, 0x0F, 0x00, 0x02],
            prefix + [0x49, 0x49, 0x2A, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00]
                + [0x69, 0x87, 0x04, 0x00, 0x01, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00],
        ]
        for block in blocks {
            #expect(try ExifReader.read(block) == ExifMetadata())
        }
    }

    @Test func localTimeValidation() {
        #expect(ExifReader.isoLocalTime(fromExif: "2024:02:29 00:00:00") == "2024-02-29T00:00:00")
        // A wrong clock is still the camera's word: only malformed values are dropped.
        #expect(ExifReader.isoLocalTime(fromExif: "2099:09:29 10:10:10") == "2099-09-29T10:10:10")
        #expect(ExifReader.isoLocalTime(fromExif: "2023:02:29 00:00:00") == nil)
        #expect(ExifReader.isoLocalTime(fromExif: "0000:00:00 00:00:00") == nil)
        #expect(ExifReader.isoLocalTime(fromExif: "    :  :     :  :  ") == nil)
        #expect(ExifReader.isoLocalTime(fromExif: "2025:11:17 24:00:00") == nil)
        #expect(ExifReader.isoLocalTime(fromExif: "2025-11-17 10:30:00") == nil)
        #expect(ExifReader.isoLocalTime(fromExif: "2025:11:17 10:30:00Z") == nil)
        #expect(ExifReader.validOffset("+05:45") == "+05:45")
        #expect(ExifReader.validOffset("-05:00") == "-05:00")
        #expect(ExifReader.validOffset("+18:00") == "+18:00")
        #expect(ExifReader.validOffset("+18:01") == nil)
        #expect(ExifReader.validOffset("05:00") == nil)
        #expect(ExifReader.validOffset("+5:00") == nil)
        #expect(ExifReader.validOffset("   :  ") == nil)
    }

    @Test func jsonOmitsAbsentFieldsAndUsesSnakeCase() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let empty = String(decoding: try encoder.encode(ExifMetadata()), as: UTF8.self)
        #expect(empty == "{}")
        let some = ExifMetadata(
            cameraMake: "Canon",
            cameraModel: "Canon EOS 80D",
            capturedAt: "2025-11-17T10:30:00-05:00",
            orientation: 1,
            gpsCoordinates: GPSCoordinates(latitude: 40.5, longitude: -74.25)
        )
        let json = String(decoding: try encoder.encode(some), as: UTF8.self)
        #expect(
            json == #"{"camera_make":"Canon","camera_model":"Canon EOS 80D","captured_at":"2025-11-17T10:30:00-05:00","#
                + #""gps_coordinates":{"latitude":40.5,"longitude":-74.25},"orientation":1}"#
        )
        let decoded = try JSONDecoder().decode(ExifMetadata.self, from: Data(json.utf8))
        #expect(decoded == some)
    }
}
