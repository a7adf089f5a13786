import CivilTime

/// Byte-level building blocks of SigV4 (percent-encoding, timestamps, decimal numbers).
///
/// They append to a `[UInt8]` buffer so that a whole canonical request, string to sign or URL
/// is assembled in one growing array: no intermediate `String`s, no Foundation formatters.
enum SigV4Encoding {
    private static let upperHexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    /// RFC 3986 unreserved: `A-Z a-z 0-9 - _ . ~`, the only bytes SigV4 leaves unencoded.
    @inline(__always)
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."),
            UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    /// Appends the UTF-8 bytes of `text`, each byte outside the unreserved set as `%XX`
    /// (upper-case hex). With `keepingSlashes`, `/` stays as it is (an S3 object key in a path:
    /// each segment encoded once).
    static func appendPercentEncoded(_ text: String, keepingSlashes: Bool, to buffer: inout [UInt8]) {
        var text = text
        text.withUTF8 { bytes in
            for byte in bytes {
                if isUnreserved(byte) || (keepingSlashes && byte == UInt8(ascii: "/")) {
                    buffer.append(byte)
                } else {
                    buffer.append(UInt8(ascii: "%"))
                    buffer.append(upperHexDigits[Int(byte >> 4)])
                    buffer.append(upperHexDigits[Int(byte & 0x0F)])
                }
            }
        }
    }

    /// The percent-encoded form of `text` (see `appendPercentEncoded`).
    static func percentEncoded(_ text: String, keepingSlashes: Bool) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(text.utf8.count * 3)
        appendPercentEncoded(text, keepingSlashes: keepingSlashes, to: &buffer)
        return buffer
    }

    /// Appends a canonical header value: leading and trailing whitespace removed, each inner
    /// run of whitespace as one space (SigV4's "Trimall", as botocore applies it).
    static func appendTrimmedHeaderValue(_ value: String, to buffer: inout [UInt8]) {
        var value = value
        value.withUTF8 { bytes in
            var pendingSpace = false
            var wroteAny = false
            for byte in bytes {
                switch byte {
                case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\n"), UInt8(ascii: "\r"), 0x0B, 0x0C:
                    pendingSpace = wroteAny
                default:
                    if pendingSpace {
                        buffer.append(UInt8(ascii: " "))
                        pendingSpace = false
                    }
                    buffer.append(byte)
                    wroteAny = true
                }
            }
        }
    }

    /// Appends the decimal digits of a non-negative `value`.
    static func appendDecimal(_ value: Int, to buffer: inout [UInt8]) {
        precondition(value >= 0, "negative number in a SigV4 field")
        if value < 10 {
            buffer.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes of scratch: Int.max has 19 digits
        var count = 0
        var remaining = value
        withUnsafeMutableBytes(of: &digits) { scratch in
            while remaining > 0 {
                scratch[count] = UInt8(ascii: "0") + UInt8(remaining % 10)
                remaining /= 10
                count += 1
            }
            for index in stride(from: count - 1, through: 0, by: -1) {
                buffer.append(scratch[index])
            }
        }
    }

    /// A UTC instant split into the fields SigV4 prints, computed by hand (proleptic
    /// Gregorian calendar) so the hot path never touches a `DateFormatter`.
    struct Timestamp: Equatable {
        /// Whole seconds since 1970-01-01T00:00:00Z (sub-second parts truncated, as botocore does).
        let secondsSince1970: Int
        /// Days since 1970-01-01; identifies the date stamp (and so the signing key).
        let dayNumber: Int
        let year: Int
        let month: Int
        let day: Int
        let hour: Int
        let minute: Int
        let second: Int

        init(secondsSince1970 seconds: Int) {
            secondsSince1970 = seconds
            let fields = UTCDateTime(secondsSince1970: seconds)
            dayNumber = fields.daysSince1970
            year = fields.year
            month = fields.month
            day = fields.day
            hour = fields.hour
            minute = fields.minute
            second = fields.second
        }

        /// `YYYYMMDD`, the date stamp of the credential scope.
        func appendDateStamp(to buffer: inout [UInt8]) {
            precondition((0...9999).contains(year), "SigV4 timestamps need a four-digit year, got \(year)")
            Self.appendTwoDigits(year / 100, to: &buffer)
            Self.appendTwoDigits(year % 100, to: &buffer)
            Self.appendTwoDigits(month, to: &buffer)
            Self.appendTwoDigits(day, to: &buffer)
        }

        /// `YYYYMMDDTHHMMSSZ`, the value of `X-Amz-Date`.
        func appendAmzDate(to buffer: inout [UInt8]) {
            appendDateStamp(to: &buffer)
            buffer.append(UInt8(ascii: "T"))
            Self.appendTwoDigits(hour, to: &buffer)
            Self.appendTwoDigits(minute, to: &buffer)
            Self.appendTwoDigits(second, to: &buffer)
            buffer.append(UInt8(ascii: "Z"))
        }

        var dateStamp: [UInt8] {
            var buffer: [UInt8] = []
            buffer.reserveCapacity(8)
            appendDateStamp(to: &buffer)
            return buffer
        }

        @inline(__always)
        private static func appendTwoDigits(_ value: Int, to buffer: inout [UInt8]) {
            buffer.append(UInt8(ascii: "0") + UInt8(value / 10))
            buffer.append(UInt8(ascii: "0") + UInt8(value % 10))
        }
    }
}
