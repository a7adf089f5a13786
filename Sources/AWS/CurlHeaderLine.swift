/// One line of a response's header as libcurl hands it to the header callback: the status line
/// (a new response starts: after a redirect or a `100 Continue`), a field, or neither (the blank
/// line that ends the header).
///
/// Parsed on the bytes, without a `String` per line: trimming each line as a `String`
/// (`trimmingCharacters(in:)` over `Character`s) took 15 % of photo-api's CPU in the `complete`
/// benchmark (docs/benchmarks.md), for the twenty-odd lines of a HEAD and a ranged GET.
enum CurlHeaderLine: Equatable {
    case statusLine
    /// The name lowercased; the value without the spaces and tabs around it.
    case field(name: String, value: String)
    case other

    init(_ bytes: UnsafeRawBufferPointer) {
        var start = bytes.startIndex
        var end = bytes.endIndex
        // The line without the spaces and the CR LF around it.
        while start < end, Self.isLineSpace(bytes[start]) { start += 1 }
        while end > start, Self.isLineSpace(bytes[end - 1]) { end -= 1 }
        if end - start >= Self.statusPrefix.count,
            Self.statusPrefix.indices.allSatisfy({ bytes[start + $0] == Self.statusPrefix[$0] })
        {
            self = .statusLine
            return
        }
        guard let colon = bytes[start..<end].firstIndex(of: UInt8(ascii: ":")) else {
            self = .other
            return
        }
        var valueStart = colon + 1
        var valueEnd = end
        while valueStart < valueEnd, Self.isFieldSpace(bytes[valueStart]) { valueStart += 1 }
        while valueEnd > valueStart, Self.isFieldSpace(bytes[valueEnd - 1]) { valueEnd -= 1 }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<colon]), as: UTF8.self)
        let value = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[valueStart..<valueEnd]), as: UTF8.self)
        self = .field(name: name.lowercased(), value: value)
    }

    private static let statusPrefix: [UInt8] = Array("HTTP/".utf8)

    private static func isLineSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\n")
    }

    private static func isFieldSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }
}
