/// A UTC instant as calendar fields (proleptic Gregorian), by integer arithmetic.
///
/// Every hot path that prints a time (SigV4's `X-Amz-Date`, Postgres `timestamptz` text, the
/// API's ISO 8601 timestamps, the S3 key's `yyyy/mm/dd`) needs only these fields. Foundation's
/// `Calendar` and `DateFormatter` cost a locale-aware computation per call; this is a few
/// divisions (Howard Hinnant's `civil_from_days` / `days_from_civil`), correct before 1970 too.
public struct UTCDateTime: Sendable, Equatable {
    /// Days since 1970-01-01 (negative before it).
    public let daysSince1970: Int
    public let year: Int
    /// 1...12
    public let month: Int
    /// 1...31
    public let day: Int
    public let hour: Int
    public let minute: Int
    public let second: Int

    /// The fields of `secondsSince1970` (whole seconds; floor division, so an instant before 1970
    /// still belongs to the right day).
    public init(secondsSince1970 seconds: Int) {
        let days = Self.floorDivide(seconds, 86_400)
        let secondOfDay = seconds - days * 86_400
        daysSince1970 = days
        hour = secondOfDay / 3600
        minute = secondOfDay % 3600 / 60
        second = secondOfDay % 60
        // civil_from_days
        let shifted = days + 719_468
        let era = Self.floorDivide(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
    }

    /// `days_from_civil`: days since 1970-01-01 of a proleptic Gregorian date.
    public static func daysSince1970(year: Int, month: Int, day: Int) -> Int {
        let shiftedYear = month <= 2 ? year - 1 : year
        let era = floorDivide(shiftedYear, 400)
        let yearOfEra = shiftedYear - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The days of `month` (1...12) in `year` (proleptic Gregorian), 0 for a month that does not
    /// exist: what a parser checks a day against before trusting ``daysSince1970(year:month:day:)``,
    /// which silently rolls 2026-02-30 over into March.
    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 1, 3, 5, 7, 8, 10, 12: return 31
        case 4, 6, 9, 11: return 30
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        default: return 0
        }
    }

    /// Appends `YYYY-MM-DD` (with `separator` instead of `-` when given): the date of ISO 8601,
    /// Postgres' text and, with `/`, the S3 key's date path.
    public func appendDate(separator: UInt8 = UInt8(ascii: "-"), to text: inout [UInt8]) {
        Self.appendDigits(year, width: 4, to: &text)
        text.append(separator)
        Self.appendDigits(month, width: 2, to: &text)
        text.append(separator)
        Self.appendDigits(day, width: 2, to: &text)
    }

    /// Appends `HH:MM:SS`.
    public func appendTime(to text: inout [UInt8]) {
        Self.appendDigits(hour, width: 2, to: &text)
        text.append(UInt8(ascii: ":"))
        Self.appendDigits(minute, width: 2, to: &text)
        text.append(UInt8(ascii: ":"))
        Self.appendDigits(second, width: 2, to: &text)
    }

    /// Appends `value` in decimal, zero-padded to at least `width` digits (a minus sign first for
    /// negative values), as `%0*d` prints it, without `String(format:)`.
    public static func appendDigits(_ value: Int, width: Int, to text: inout [UInt8]) {
        if value < 0 { text.append(UInt8(ascii: "-")) }
        var digits: [UInt8] = []
        var rest = value.magnitude
        repeat {
            digits.append(UInt8(ascii: "0") + UInt8(rest % 10))
            rest /= 10
        } while rest > 0
        let padding = max(0, width - (value < 0 ? 1 : 0) - digits.count)
        text.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: padding))
        text.append(contentsOf: digits.reversed())
    }

    static func floorDivide(_ value: Int, _ divisor: Int) -> Int {
        value >= 0 ? value / divisor : (value - divisor + 1) / divisor
    }
}
