import CivilTime
import Foundation
import Testing

@Suite struct UTCDateTimeTests {
    static func fields(_ time: UTCDateTime) -> [Int] {
        [time.year, time.month, time.day, time.hour, time.minute, time.second]
    }

    /// Against Foundation's Gregorian calendar in UTC, over instants from 1600 to 2400 (leap
    /// years, century rules, the epoch, and before it).
    @Test func fieldsMatchFoundationsCalendar() throws {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = try #require(TimeZone(identifier: "UTC"))
        var seconds = -11_676_096_000  // 1600-01-01
        var generator = SystemRandomNumberGenerator()
        while seconds < 13_569_465_600 {  // 2400-01-01
            let fields = UTCDateTime(secondsSince1970: seconds)
            let expected = calendar.dateComponents(
                [.year, .month, .day, .hour, .minute, .second],
                from: Date(timeIntervalSince1970: Double(seconds))
            )
            #expect(
                Self.fields(fields) == [
                    expected.year, expected.month, expected.day, expected.hour, expected.minute, expected.second,
                ]
                .map { $0 ?? -1 } as [Int],
                "at \(seconds)"
            )
            #expect(
                UTCDateTime.daysSince1970(year: fields.year, month: fields.month, day: fields.day)
                    == fields.daysSince1970
            )
            seconds += Int.random(in: 1...9_000_000, using: &generator)
        }
    }

    @Test func knownInstants() {
        let epoch = UTCDateTime(secondsSince1970: 0)
        #expect(Self.fields(epoch) == [1970, 1, 1, 0, 0, 0])
        let beforeEpoch = UTCDateTime(secondsSince1970: -1)
        #expect(Self.fields(beforeEpoch) == [1969, 12, 31, 23, 59, 59])
        #expect(beforeEpoch.daysSince1970 == -1)
        let leapDay = UTCDateTime(secondsSince1970: 951_782_400)  // 2000-02-29T00:00:00Z
        #expect(Self.fields(leapDay) == [2000, 2, 29, 0, 0, 0])
    }

    @Test func datesAndTimesArePrintedZeroPadded() {
        var text: [UInt8] = []
        let instant = UTCDateTime(secondsSince1970: -62_135_596_800 + 3_723)  // 0001-01-01T01:02:03Z
        instant.appendDate(to: &text)
        text.append(UInt8(ascii: " "))
        instant.appendTime(to: &text)
        text.append(UInt8(ascii: " "))
        UTCDateTime(secondsSince1970: 1_764_590_400).appendDate(separator: UInt8(ascii: "/"), to: &text)
        #expect(String(decoding: text, as: UTF8.self) == "0001-01-01 01:02:03 2025/12/01")
    }

    @Test func digitsArePaddedLikePrintf() {
        var text: [UInt8] = []
        UTCDateTime.appendDigits(7, width: 2, to: &text)
        UTCDateTime.appendDigits(-5, width: 4, to: &text)
        UTCDateTime.appendDigits(12345, width: 2, to: &text)
        #expect(String(decoding: text, as: UTF8.self) == "07-00512345")
    }
}
