import Foundation
import Testing

@testable import API

/// `AuthenticationMiddleware.trimmingBlanks` removes what Foundation's
/// `trimmingCharacters(in: .whitespaces)` removed, and nothing else.
@Suite struct BearerTokenParsingTests {
    @Test func blanksAreTrimmedLikeFoundationDid() {
        let samples = [
            "abc.def.ghi", " abc", "abc ", "\tabc\t", "\u{00A0}abc\u{2003}", "\u{3000}a b\u{3000}", "abc\n",
            "\nabc", "", " ", "\t \u{00A0}", "é.ü.ß", "a\u{200B}",
        ]
        for sample in samples {
            let expected = sample.trimmingCharacters(in: .whitespaces)
            let trimmed = AuthenticationMiddleware.trimmingBlanks(Substring(sample))
            #expect(trimmed == expected, "\(sample.debugDescription)")
        }
    }
}
