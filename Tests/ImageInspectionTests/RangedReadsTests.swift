import Testing

@testable import ImageInspection

/// ``ImageInspector/inspect(objectSize:declared:readPrefix:)``, the upload path's ranged reads,
/// over objects held in memory in place of S3.
@Suite struct RangedReadsTests {
    struct ReaderFailure: Error {}

    /// A JPEG whose frame header follows `count` maximal (65,535-byte) APP segments of `marker`.
    static func jpeg(width: Int, height: Int, maximalSegments count: Int, marker: UInt8 = 0xED) -> [UInt8] {
        let segment: [UInt8] = [0xFF, marker, 0xFF, 0xFF] + [UInt8](repeating: 0x20, count: 65_533)
        return ImageInspectorTests.jpeg(
            width: width,
            height: height,
            before: Array([[UInt8]](repeating: segment, count: count).joined())
        )
    }

    /// Inspects `object` through the ranged-read loop and returns the lengths it asked for.
    static func inspect(
        _ object: [UInt8],
        declared: ImageFormat = .jpeg
    ) async -> (result: Result<ImageHeader, any Error>, lengths: [Int]) {
        var lengths: [Int] = []
        do {
            let header = try await ImageInspector.inspect(objectSize: object.count, declared: declared) { length in
                lengths.append(length)
                return Array(object.prefix(length))
            }
            return (.success(header), lengths)
        } catch {
            return (.failure(error), lengths)
        }
    }

    /// The reported upload: a phone's twenty maximal APP13 (Photoshop IRB) segments put the frame
    /// header 1,310,742 bytes in. Four doubling reads stop at 1 MiB; the fifth reaches it.
    @Test func frameHeaderAfterTwentyMaximalAPP13Segments() async throws {
        let object = Self.jpeg(width: 321, height: 123, maximalSegments: 20)
        let (result, lengths) = await Self.inspect(object)
        let header = try result.get()
        #expect(header.width == 321 && header.height == 123)
        #expect(lengths == [131_072, 262_144, 524_288, 1_048_576, object.count])
    }

    /// The deepest frame header the limit allows: 255 maximal segments (16,711,937 bytes), found in
    /// eight reads, the last of them the whole object.
    @Test func frameHeaderJustWithinTheLimit() async throws {
        let object = Self.jpeg(width: 4000, height: 3000, maximalSegments: 255, marker: 0xE2)
        #expect(object.count < ImageInspector.maximumHeadLength)
        let (result, lengths) = await Self.inspect(object)
        let header = try result.get()
        #expect(header.width == 4000 && header.height == 3000)
        #expect(lengths.count == 8)
        #expect(lengths.last == object.count)
        #expect(lengths.count <= ImageInspector.maximumHeadReads)
    }

    /// One segment more and the frame header lies past 16 MiB: malformed, and nothing past the
    /// limit is read.
    @Test func frameHeaderBeyondTheLimitIsMalformed() async {
        let object = Self.jpeg(width: 4000, height: 3000, maximalSegments: 256, marker: 0xE2)
        let (result, lengths) = await Self.inspect(object)
        guard case .failure(ImageInspectionError.malformed) = result else {
            Issue.record("expected malformed, got \(result)")
            return
        }
        #expect(lengths.max() == ImageInspector.maximumHeadLength)
    }

    /// A reader that keeps answering short (an object replaced under us) cannot keep the loop going.
    @Test func aReaderThatNeverGrowsEndsTheLoop() async throws {
        let object = try Fixture.bytes("generated/sof-beyond-head.jpg")
        var reads = 0
        await #expect(throws: ImageInspectionError.self) {
            try await ImageInspector.inspect(objectSize: object.count, declared: .jpeg) { _ in
                reads += 1
                return Array(object.prefix(100))
            }
        }
        #expect(reads == ImageInspector.maximumHeadReads)
    }

    /// The reader's own errors (S3 unavailable, the object gone) come out unchanged.
    @Test func readerErrorsPassThrough() async {
        await #expect(throws: ReaderFailure.self) {
            try await ImageInspector.inspect(objectSize: 1000, declared: .png) { _ in throw ReaderFailure() }
        }
    }

    /// Small objects are read whole in one request, and a header in the first read needs no other.
    @Test func oneReadWhenTheFirstSuffices() async throws {
        for (file, format) in [("canon.jpg", ImageFormat.jpeg), ("generated/with-exif.png", .png)] {
            let object = try Fixture.bytes(file)
            let (result, lengths) = await Self.inspect(object, declared: format)
            _ = try result.get()
            #expect(lengths == [min(object.count, ImageInspector.initialHeadLength)], "\(file)")
        }
        let (result, lengths) = await Self.inspect(try Fixture.bytes("generated/sof-beyond-head.jpg"))
        #expect(try result.get().width == 640)
        #expect(lengths.count == 2)
    }
}
