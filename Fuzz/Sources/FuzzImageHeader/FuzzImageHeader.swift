import Exif
import ImageInspection

/// libFuzzer entry point. The first byte picks what the rest of the input is:
/// - 0: a JPEG object, inspected whole; 1: a PNG object, inspected whole;
/// - 2: an EXIF TIFF structure, handed to ExifReader with the `Exif\0\0` prefix;
/// - 3: a JPEG and 4: a PNG, inspected through the caller's needMoreBytes protocol from a
///   head whose first length comes from the second byte.
/// Any EXIF block that the inspector finds goes on to ExifReader, as in the upload path.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImageHeader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data, count: size))
    let body = Array(input.dropFirst())
    switch input[0] % 5 {
    case 0: inspect(body, declared: .jpeg, initialLength: body.count)
    case 1: inspect(body, declared: .png, initialLength: body.count)
    case 2: read(Array("Exif".utf8) + [0, 0] + body)
    case 3: inspect(Array(body.dropFirst()), declared: .jpeg, initialLength: Int(body.first ?? 0))
    default: inspect(Array(body.dropFirst()), declared: .png, initialLength: Int(body.first ?? 0))
    }
    return 0
}

/// SwiftPM links an executable with `--defsym main=<Module>_main`, a symbol that
/// `-parse-as-library` (needed so that libFuzzer owns `main`) never emits; so provide it here and
/// hand control to libFuzzer's driver, which is what libFuzzer's own `main` does.
@_cdecl("FuzzImageHeader_main")
public func fuzzMain(
    _ argc: CInt,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        guard let data else { return 0 }
        return fuzzImageHeader(data, size)
    }
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

func inspect(_ object: [UInt8], declared: ImageFormat, initialLength: Int) {
    var length = min(initialLength, object.count)
    for _ in 0..<64 {
        do throws(ImageInspectionError) {
            let header = try ImageInspector.inspect(
                head: Array(object.prefix(length)),
                objectSize: object.count,
                declared: declared
            )
            precondition(header.width > 0 && header.height > 0, "zero dimension accepted")
            precondition(header.width * header.height <= ImageInspector.maximumPixels, "bomb accepted")
            if let block = header.exifBlock { read(block) }
            return
        } catch .needMoreBytes(let atLeast) {
            precondition(atLeast > length && atLeast <= object.count, "needMoreBytes(\(atLeast)) from \(length)")
            length = atLeast
        } catch {
            return
        }
    }
    preconditionFailure("more than 64 needMoreBytes rounds")
}

func read(_ block: [UInt8]) {
    guard let metadata = try? ExifReader.read(block) else { return }
    for text in [metadata.cameraMake, metadata.cameraModel, metadata.capturedAt] {
        if let text { precondition(!text.isEmpty && !text.utf8.contains(0), "NUL or empty string") }
    }
    if let orientation = metadata.orientation { precondition((1...8).contains(orientation)) }
    if let gps = metadata.gpsCoordinates {
        precondition(gps.latitude != nil || gps.longitude != nil || gps.altitude != nil, "empty GPS")
        if let latitude = gps.latitude { precondition(latitude.isFinite && abs(latitude) <= 90) }
        if let longitude = gps.longitude { precondition(longitude.isFinite && abs(longitude) <= 180) }
        if let altitude = gps.altitude { precondition(altitude.isFinite) }
    }
}
