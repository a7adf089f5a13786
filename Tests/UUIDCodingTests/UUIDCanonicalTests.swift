import Foundation
import Testing
import UUIDCoding

@Suite struct UUIDCanonicalTests {
    @Test func formatsAsFoundationDoesInLowercase() {
        // One expectation over all the values: 10,000 `#expect`s would hold the cooperative
        // threads long enough to stall the timing-sensitive suites running beside this one.
        let ids = (0..<10_000).map { _ in UUID() }
        #expect(ids.filter { $0.lowercasedString != $0.uuidString.lowercased() }.isEmpty)
        let edges = [
            UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)),
            UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255)),
        ]
        #expect(edges.map(\.lowercasedString) == edges.map { $0.uuidString.lowercased() })
    }

    @Test func parsesWhatFoundationParses() {
        let ids = (0..<10_000).map { _ in UUID() }
        #expect(ids.filter { UUID(canonicalText: $0.uuidString) != $0 }.isEmpty)
        #expect(ids.filter { UUID(canonicalText: $0.uuidString.lowercased()) != $0 }.isEmpty)
    }

    @Test(arguments: [
        "",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c88",
        "6ba7b8109dad11d180b400c04fd430c8",
        "6ba7b810-9dad-11d1-80b400c04fd430c8-",
        "6ba7b810_9dad-11d1-80b4-00c04fd430c8",
        "6ba7b810-9dad-11d1-80b4-00c04fd430cg",
        "{6ba7b810-9dad-11d1-80b4-00c04fd430c}",
        "6ba7b810-9dad-11d1-80b4-00c04fd430c\u{0}",
        "6ba7b810-9dad-11d1-80b4-00c04fd430é",
        "-6ba7b810-9dad-11d1-80b4-00c04fd430c",
        "6ba7b81--9dad-11d1-80b4-00c04fd430c8",
    ])
    func refusesWhatFoundationRefuses(text: String) {
        #expect(UUID(uuidString: text) == nil)
        #expect(UUID(canonicalText: text) == nil)
    }

    /// Foundation's `sscanf`-based parser (swift-corelibs 6.3) reads this as a UUID: it skips
    /// the space and takes the lone last digit for a byte. Ours does not.
    @Test func refusesSpacesInsideTheText() {
        #expect(UUID(canonicalText: " 6ba7b810-9dad-11d1-80b4-00c04fd430c") == nil)
        #expect(UUID(canonicalText: "6ba7b810-9dad-11d1-80b4-00c04fd430c ") == nil)
        #expect(UUID(canonicalText: "6ba7b810-9dad-11d1-80b4-0 c04fd430c8") == nil)
    }

    @Test func randomValuesAreVersion4WithTheRFCVariantAndDistinct() {
        let ids = (0..<10_000).map { _ in UUID.randomVersion4() }
        let texts = ids.map { Array($0.lowercasedString.utf8) }
        #expect(texts.filter { $0[14] != UInt8(ascii: "4") }.isEmpty)
        #expect(texts.filter { !Array("89ab".utf8).contains($0[19]) }.isEmpty)
        #expect(Set(ids).count == 10_000)
    }
}
