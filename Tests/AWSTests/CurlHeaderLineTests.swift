import Testing

@testable import AWS

/// The header lines libcurl hands over, parsed on their bytes (CurlHTTPClientTests covers them
/// through a live server; these cover the whitespace a server may send).
@Suite struct CurlHeaderLineTests {
    private func parse(_ line: String) -> CurlHeaderLine {
        Array(line.utf8).withUnsafeBytes { CurlHeaderLine($0) }
    }

    @Test func fieldsAreLowercasedAndTrimmed() {
        #expect(parse("Content-Length: 1234\r\n") == .field(name: "content-length", value: "1234"))
        #expect(parse("ETag:\t \"abc\" \t\r\n") == .field(name: "etag", value: "\"abc\""))
        #expect(parse("X-Empty:\r\n") == .field(name: "x-empty", value: ""))
        #expect(parse("x-amz-meta-note: a: b\n") == .field(name: "x-amz-meta-note", value: "a: b"))
        #expect(parse("X-Utf8: caf\u{e9}\r\n") == .field(name: "x-utf8", value: "caf\u{e9}"))
    }

    @Test func statusAndBlankLines() {
        #expect(parse("HTTP/1.1 206 Partial Content\r\n") == .statusLine)
        #expect(parse("HTTP/2 200\r\n") == .statusLine)
        #expect(parse("\r\n") == .other)
        #expect(parse("") == .other)
        #expect(parse("no colon here\r\n") == .other)
        #expect(parse("HTTP") == .other)
    }
}
