import AppConfig
import Testing

/// The operator CLI's durations (`--older-than 30d`): the accepted forms and their values, and
/// refusals (not crashes) for malformed or overflowing text.
@Suite struct DurationTextTests {
    static let valid: [(String, Duration)] = [
        ("500ms", .milliseconds(500)),
        ("30s", .seconds(30)),
        ("15m", .seconds(900)),
        ("2h", .seconds(7200)),
        ("7d", .seconds(604_800)),
        ("1h30m", .seconds(5400)),
        ("1m30s500ms", .milliseconds(90_500)),
        ("45", .seconds(45)),
        ("0", .zero),
        (" 5S ", .seconds(5)),
    ]

    @Test(arguments: valid)
    func parsesOperatorDurations(text: String, expected: Duration) {
        #expect(DurationText.parse(text) == expected)
    }

    @Test(arguments: ["", "   ", "abc", "5x", "-1s", "-5", "s", "1.5s", "5 s", "ms", "10sm", "1h-30m"])
    func rejectsMalformedDurations(text: String) {
        #expect(DurationText.parse(text) == nil)
    }

    /// An absurd value from an operator must be rejected, not crash the process: the unit
    /// multiplication overflows Int64 (`value * 86_400`).
    @Test(arguments: ["999999999999999999d", "9223372036854775807h", "9223372036854775807m"])
    func hugeValuesAreRejectedNotTrapped(text: String) async {
        await #expect(processExitsWith: .success) { [text] in
            precondition(DurationText.parse(text) == nil, "a huge duration was accepted")
        }
    }
}
