import Foundation
import Testing

@testable import Auth

/// `BearerCredentials` finds the token of an `Authorization` header, and says whether one was sent.
@Suite struct BearerTokenParsingTests {
    /// `trimmingBlanks` removes what Foundation's `trimmingCharacters(in: .whitespaces)` removed,
    /// and nothing else.
    @Test func blanksAreTrimmedLikeFoundationDid() {
        let samples = [
            "abc.def.ghi", " abc", "abc ", "\tabc\t", "\u{00A0}abc\u{2003}", "\u{3000}a b\u{3000}", "abc\n",
            "\nabc", "", " ", "\t \u{00A0}", "é.ü.ß", "a\u{200B}",
        ]
        for sample in samples {
            let expected = sample.trimmingCharacters(in: .whitespaces)
            let trimmed = BearerCredentials.trimmingBlanks(Substring(sample))
            #expect(trimmed == expected, "\(sample.debugDescription)")
        }
    }

    @Test func theTokenOfOneBearerValueIsFoundWhateverTheSchemesCase() throws {
        for value in ["Bearer abc.def.ghi", "bearer abc.def.ghi", "BEARER   abc.def.ghi\t"] {
            #expect(try BearerCredentials.token(fromAuthorization: [value]) == "abc.def.ghi", "\(value)")
        }
    }

    /// No header or another scheme: nothing was presented (challenge `Bearer`); anything else
    /// malformed counts as a presented, invalid token (`error="invalid_token"`).
    @Test func refusalsSayWhetherATokenWasPresented() {
        let cases: [([String], Bool)] = [
            ([], false),
            (["Basic dXNlcjpwYXNzd29yZA=="], false),
            (["Bearer a.b.c", "Bearer d.e.f"], true),
            (["Bearer"], true),
            (["Bearer a b"], true),
        ]
        for (values, presented) in cases {
            do throws(AuthenticationError) {
                _ = try BearerCredentials.token(fromAuthorization: values)
                Issue.record("\(values) was accepted")
            } catch {
                #expect(error.tokenWasPresented == presented, "\(values)")
                #expect(error.logDetail != nil, "\(values)")
                #expect(!error.description.contains("a.b.c"), "\(values)")
            }
        }
    }
}
