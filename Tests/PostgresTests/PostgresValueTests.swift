import Foundation
import Postgres
import Testing

/// Parameter text that needs no server.
@Suite struct PostgresValueTests {
    /// The hand-written `timestamptz` text is what the former `String(format:)` wrote, for
    /// dates either side of the epoch, leap days and the largest four-digit year (the reference
    /// is Foundation's Gregorian calendar, which turns Julian before 1582, so no earlier dates).
    @Test func dateTextMatchesThePrintfFormat() {
        let dates: [Date] = [
            Date(timeIntervalSince1970: 0),
            Date(timeIntervalSince1970: 1_764_094_601.123456),
            Date(timeIntervalSince1970: 1_709_164_800.000_001),  // 2024-02-29
            Date(timeIntervalSince1970: -1.5),
            Date(timeIntervalSince1970: -2_208_988_800.25),  // 1899-12-31 23:59:59.75
            Date(timeIntervalSince1970: 253_402_300_799.999_999),  // 9999-12-31 23:59:59.999999
            Date(timeIntervalSince1970: 951_782_400),  // 2000-02-29
        ]
        for date in dates {
            #expect(date.postgresText == Self.printf(date), "\(date.timeIntervalSince1970)")
        }
    }

    /// Only a timestamp Postgres itself would accept decodes: every field is range-checked and
    /// every separator compared, so a decoded value can always be sent back.
    @Test(arguments: [
        "2026-13-01 00:00:00+00", "2026-00-10 00:00:00+00", "2026-01-32 00:00:00+00", "2026-04-31 00:00:00+00",
        "2026-02-29 00:00:00+00", "1900-02-29 00:00:00+00", "2026-01-00 00:00:00+00", "0000-01-01 00:00:00+00",
        "2026-01-01 25:00:00+00", "2026-01-01 24:00:00+00", "2026-01-01 10:60:00+00", "2026-01-01 10:00:60+00",
        "2026x01-01 00:00:00+00", "2026-01-01T00:00:00+00", "2026-01-01 00-00-00+00", "2026-01-01 00:00:00.+00",
        "2026-01-01 00:00:00.1234567+00", "2026-01-01 00:00:00+01",
    ])
    func impossibleTimestampsAreRefused(text: String) {
        #expect(Date(postgresText: text) == nil)
    }

    @Test func printedDatesDecodeBack() {
        for text in ["2024-02-29 23:59:59.999999+00", "2000-02-29 00:00:00+00", "0001-01-01 00:00:00.5+00"] {
            let date = Date(postgresText: text)
            #expect(date != nil, "\(text)")
            #expect(date.map { Date(postgresText: $0.postgresText) } == date, "\(text)")
        }
    }

    /// The former implementation.
    static func printf(_ date: Date) -> String {
        let microseconds = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((microseconds / 1_000_000).rounded(.down))
        let fraction = Int64(microseconds) - seconds * 1_000_000
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0) ?? calendar.timeZone
        let parts = calendar.dateComponents(
            [.year, .month, .day, .hour, .minute, .second],
            from: Date(timeIntervalSince1970: Double(seconds))
        )
        return String(
            format: "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld+00",
            Int64(parts.year ?? 0),
            Int64(parts.month ?? 0),
            Int64(parts.day ?? 0),
            Int64(parts.hour ?? 0),
            Int64(parts.minute ?? 0),
            Int64(parts.second ?? 0),
            fraction
        )
    }
}
