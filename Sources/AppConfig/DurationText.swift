import Foundation

/// Parses the durations operators type: `500ms`, `30s`, `15m`, `2h`, `7d`, or a combination
/// such as `1h30m`. A bare number is seconds.
public enum DurationText {
    /// The longest duration accepted: 100 years.
    public static let maximumSeconds: Int64 = 100 * 365 * 86_400

    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        guard !trimmed.isEmpty else { return nil }
        if let seconds = Int64(trimmed) { return seconds >= 0 && seconds <= maximumSeconds ? .seconds(seconds) : nil }
        var total = Duration.zero
        var number = ""
        var unit = ""
        func flush() -> Bool {
            guard let value = Int64(number), value >= 0 else { return false }
            let secondsPerUnit: [String: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
            if unit == "ms" {
                total += .milliseconds(value)
            } else if let multiplier = secondsPerUnit[unit] {
                let (seconds, overflow) = value.multipliedReportingOverflow(by: multiplier)
                // Past a century nothing an operator types is meant literally.
                guard !overflow, seconds <= maximumSeconds else { return false }
                total += .seconds(seconds)
            } else {
                return false
            }
            guard total <= .seconds(maximumSeconds) else { return false }
            number = ""
            unit = ""
            return true
        }
        for character in trimmed {
            if character.isASCII, character.isNumber {
                if !unit.isEmpty { guard flush() else { return nil } }
                number.append(character)
            } else if character.isASCII, character.isLetter {
                guard !number.isEmpty else { return nil }
                unit.append(character)
            } else {
                return nil
            }
        }
        guard flush() else { return nil }
        return total
    }
}
