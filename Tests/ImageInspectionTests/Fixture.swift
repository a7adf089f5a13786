import Foundation
import ImageInspection

/// Test images committed under `Fixtures/` (real camera samples, and under `Fixtures/generated/`
/// the output of `Fixtures/make-fixtures.py`), found beside this source file so that the tests need
/// nothing outside the repository.
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    /// Plays the caller's part: a ranged read of `initialLength` bytes, then as many more as
    /// ``ImageInspectionError/needMoreBytes(atLeast:)`` asks for (each request must grow the head).
    static func inspectLikeCaller(
        _ object: [UInt8],
        declared: ImageFormat,
        initialLength: Int = ImageInspector.initialHeadLength
    ) throws(ImageInspectionError) -> (header: ImageHeader, fetches: Int) {
        var length = min(initialLength, object.count)
        var fetches = 1
        while true {
            do throws(ImageInspectionError) {
                let header = try ImageInspector.inspect(
                    head: Array(object.prefix(length)),
                    objectSize: object.count,
                    declared: declared
                )
                return (header, fetches)
            } catch .needMoreBytes(let atLeast) {
                guard atLeast > length, atLeast <= object.count, fetches < 64 else {
                    throw .malformed("test: needMoreBytes(\(atLeast)) with \(length) of \(object.count) bytes")
                }
                length = atLeast
                fetches += 1
            }
        }
    }
}
