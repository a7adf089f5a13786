import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes each log event as one JSON object on one line of standard error, the shape log
/// shippers index without parsing rules:
/// `{"ts":"2026-11-25T18:00:00.123Z","level":"info","logger":"photo-api","msg":"...","request_id":"..."}`.
///
/// Metadata values are flattened into the object; callers are responsible for never putting
/// tokens, secrets or pre-signed URLs into metadata.
public struct JSONLogHandler: LogHandler {
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label
        self.logLevel = level
        self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var fields = metadata
        if let provided = metadataProvider?.get() { fields.merge(provided) { _, new in new } }
        if let eventMetadata = event.metadata { fields.merge(eventMetadata) { _, new in new } }
        if let error = event.error { fields["error"] = "\(error)" }

        var line = "{\"ts\":\(JSONText.quoted(Self.timestamp()))"
        line += ",\"level\":\(JSONText.quoted(event.level.rawValue))"
        line += ",\"logger\":\(JSONText.quoted(label))"
        line += ",\"msg\":\(JSONText.quoted(event.message.description))"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += ",\(JSONText.quoted(key)):\(JSONText.encode(value))"
        }
        line += "}\n"
        // One write(2) per line keeps lines whole when several threads log at once.
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            _ = write(STDERR_FILENO, buffer.baseAddress, buffer.count)
        }
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var seconds = now.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(
            format: "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
            parts.tm_year + 1900,
            parts.tm_mon + 1,
            parts.tm_mday,
            parts.tm_hour,
            parts.tm_min,
            parts.tm_sec,
            Int(now.tv_nsec / 1_000_000)
        )
    }
}

/// Minimal JSON text building for log lines.
enum JSONText {
    static func quoted(_ string: String) -> String {
        var result = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where scalar.value < 0x20:
                result += String(format: "\\u%04x", scalar.value)
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }

    static func encode(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let string): quoted(string)
        case .stringConvertible(let convertible): quoted(convertible.description)
        case .array(let values): "[" + values.map(encode).joined(separator: ",") + "]"
        case .dictionary(let dictionary):
            "{"
                + dictionary.sorted { $0.key < $1.key }.map { "\(quoted($0.key)):\(encode($0.value))" }
                .joined(separator: ",") + "}"
        }
    }
}
