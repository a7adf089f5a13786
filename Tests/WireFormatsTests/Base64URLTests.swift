import Foundation
import Testing
import WireFormats

/// The one base64url codec, used by JWS headers and the photo list's cursor.
@Suite struct Base64URLTests {
    @Test(arguments: [0, 1, 2, 3, 4, 5, 31, 32, 33, 255])
    func roundTrips(length: Int) {
        let bytes = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 251) }
        let text = Base64URL.encode(bytes)
        #expect(!text.contains("="))
        #expect(!text.contains("+"))
        #expect(!text.contains("/"))
        #expect(Base64URL.decode(text) == bytes)
    }

    @Test func usesTheURLSafeAlphabet() {
        #expect(Base64URL.encode([0xFB, 0xFF, 0xBF]) == "-_-_")
        #expect(Base64URL.decode("-_-_") == [0xFB, 0xFF, 0xBF])
    }

    @Test(arguments: ["+/+/", "AAA=", "AA==", "A", "AAAAA", "AA AA", "ÄA", "AA\n"])
    func refusesWhatIsNotUnpaddedBase64URL(text: String) {
        #expect(Base64URL.decode(text) == nil)
    }

    @Test func decodesTheEmptyText() {
        #expect(Base64URL.decode("") == [])
    }
}

/// JSON written member by member: the escaping `JSONSerialization` would do.
@Suite struct JSONObjectWriterTests {
    @Test func escapesWhatJSONRequires() {
        var writer = JSONObjectWriter()
        writer.string("s", "a\"b\\c/d\u{1}\n\t\u{8}\u{C}\r é")
        writer.number("n", -42)
        writer.strings("a", ["x", "\"y\""])
        writer.object("o", [(name: "k", value: "v")])
        let text = String(decoding: writer.finish(), as: UTF8.self)
        #expect(text == #"{"s":"a\"b\\c/d\u0001\n\t\b\f\r é","n":-42,"a":["x","\"y\""],"o":{"k":"v"}}"#)
    }

    /// The photo object's parts: absent values as `null`, stored JSON copied, nested objects and
    /// arrays of documents; the whole parses as the JSON it claims to be.
    @Test func writesNullsStoredJSONNestedObjectsAndArrays() throws {
        var writer = JSONObjectWriter()
        writer.string("absent", nil as String?)
        writer.number("none", nil as Int?)
        writer.number("some", 7 as Int?)
        writer.json("exif", #"{"Make": "Canon", "ISO": 100}"#)
        writer.object("detection") { detection in
            detection.null("result")
            detection.strings("types", [])
        }
        writer.array(
            "history",
            ["a", "b"].map { status in
                var item = JSONObjectWriter()
                item.string("status", status)
                return item.finish()
            }
        )
        writer.array("empty", [])
        let bytes = writer.finish()
        #expect(
            String(decoding: bytes, as: UTF8.self)
                == #"{"absent":null,"none":null,"some":7,"exif":{"Make": "Canon", "ISO": 100},"detection":{"result":null,"types":[]},"history":[{"status":"a"},{"status":"b"}],"empty":[]}"#
        )
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect((parsed["exif"] as? [String: Any])?["Make"] as? String == "Canon")
        #expect((parsed["history"] as? [[String: Any]])?.count == 2)
    }
}
