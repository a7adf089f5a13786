import CivilTime
import Foundation
import UUIDCoding

/// A Swift value that can be sent as a query parameter, in Postgres text format.
///
/// Parameters always travel separately from the SQL text (`PQexecParams` / `PQexecPrepared`),
/// so no value is ever spliced into a statement.
public protocol PostgresEncodable: Sendable {
    /// The value in Postgres text input format.
    var postgresText: String { get }
}

/// A Swift type a result column can be decoded into, from Postgres text output format.
public protocol PostgresDecodable: Sendable {
    init?(postgresText: String)
}

extension String: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self }
    public init?(postgresText: String) { self = postgresText }
}

extension Int: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int32: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Int64: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Double: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { String(self) }
    public init?(postgresText: String) { self.init(postgresText) }
}

extension Bool: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { self ? "t" : "f" }
    public init?(postgresText: String) {
        switch postgresText {
        case "t", "true": self = true
        case "f", "false": self = false
        default: return nil
        }
    }
}

extension UUID: PostgresEncodable, PostgresDecodable {
    public var postgresText: String { lowercasedString }
    public init?(postgresText: String) { self.init(canonicalText: postgresText) }
}

/// `bytea`, sent and read in hex format (`\x0a1b...`), which also keeps NUL bytes out of the
/// C strings libpq works with.
public struct ByteArray: PostgresEncodable, PostgresDecodable, Hashable {
    public var bytes: [UInt8]

    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    public var postgresText: String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = [UInt8(ascii: "\\"), UInt8(ascii: "x")]
        text.reserveCapacity(2 + bytes.count * 2)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    public init?(postgresText: String) {
        let utf8 = Array(postgresText.utf8)
        guard utf8.count >= 2, utf8[0] == UInt8(ascii: "\\"), utf8[1] == UInt8(ascii: "x"), utf8.count % 2 == 0
        else { return nil }
        var bytes = [UInt8]()
        bytes.reserveCapacity((utf8.count - 2) / 2)
        var index = 2
        while index < utf8.count {
            guard let high = hexValue(utf8[index]), let low = hexValue(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        self.bytes = bytes
    }
}

private func hexValue(_ character: UInt8) -> UInt8? {
    switch character {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): character - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): character - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): character - UInt8(ascii: "A") + 10
    default: nil
    }
}

/// `timestamptz`. Every connection sets `TimeZone = 'UTC'` and `DateStyle = 'ISO'`, so the
/// server's output is always `YYYY-MM-DD HH:MM:SS[.ffffff]+00`.
extension Date: PostgresEncodable, PostgresDecodable {
    public var postgresText: String {
        // Microseconds since the epoch, the resolution of timestamptz.
        let microseconds = (timeIntervalSince1970 * 1_000_000).rounded()
        let seconds = Int64((microseconds / 1_000_000).rounded(.down))
        let fraction = Int64(microseconds) - seconds * 1_000_000
        let fields = UTCDateTime(secondsSince1970: Int(seconds))
        // By hand: `String(format:)` goes through CoreFoundation's locale-aware formatter,
        // several times the cost of the rest of this (the upload-url statement sends a date).
        var text = [UInt8]()
        text.reserveCapacity(29)
        fields.appendDate(to: &text)
        text.append(UInt8(ascii: " "))
        fields.appendTime(to: &text)
        text.append(UInt8(ascii: "."))
        UTCDateTime.appendDigits(Int(fraction), width: 6, to: &text)
        text.append(contentsOf: "+00".utf8)
        return String(decoding: text, as: UTF8.self)
    }

    /// The instant of a `timestamptz` as this session prints it, or `nil` for anything else.
    ///
    /// Every field is range-checked (year 1...9999, the month's real days, hours 0...23, minutes
    /// and seconds 0...59) and every separator compared, because the calendar arithmetic would
    /// otherwise turn `2026-13-45 25:61:61+00` into some instant, while Postgres refuses that
    /// text: a value decoded here can always be sent back.
    public init?(postgresText text: String) {
        // "2026-11-25 18:16:41.123456+00"; the fraction is optional, the offset is "+00".
        let characters = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= characters.count else { return nil }
            var value: Int64 = 0
            for index in range {
                let digit = characters[index]
                guard digit >= UInt8(ascii: "0"), digit <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int64(digit - UInt8(ascii: "0"))
            }
            return value
        }
        guard characters.count >= 22,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            zip([4, 7, 10, 13, 16], "-- ::".utf8).allSatisfy({ characters[$0] == $1 }),
            (1...9999).contains(year),
            day >= 1, day <= UTCDateTime.daysInMonth(year: Int(year), month: Int(month)),
            (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second)
        else { return nil }
        var index = 19
        var microseconds: Int64 = 0
        if characters[index] == UInt8(ascii: ".") {
            index += 1
            // One to six digits: timestamptz's resolution is the microsecond.
            var scale: Int64 = 100_000
            while index < characters.count, let digit = number(index..<(index + 1)) {
                guard scale > 0 else { return nil }
                microseconds += digit * scale
                scale /= 10
                index += 1
            }
            guard scale < 100_000 else { return nil }
        }
        guard text.utf8.count - index == 3, text.hasSuffix("+00") else { return nil }
        let days = Int64(UTCDateTime.daysSince1970(year: Int(year), month: Int(month), day: Int(day)))
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second
        self.init(timeIntervalSince1970: Double(seconds) + Double(microseconds) / 1_000_000)
    }
}

/// A one-dimensional array parameter (`$1::uuid[]`, `$2::text[]`, `$3::bigint[]`), the way
/// set-based statements take many rows in one round trip with `unnest` or `= ANY`.
extension Array: PostgresEncodable where Element: PostgresEncodable {
    public var postgresText: String {
        // Every element is double-quoted with `"` and `\` escaped, which the array input
        // syntax reads back verbatim whatever the text holds (commas, braces, spaces).
        var text = "{"
        for (index, element) in enumerated() {
            if index > 0 { text += "," }
            text += "\""
            for character in element.postgresText {
                if character == "\"" || character == "\\" { text += "\\" }
                text.append(character)
            }
            text += "\""
        }
        return text + "}"
    }
}
