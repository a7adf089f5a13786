/// A W3C Trace Context (`traceparent` and `tracestate`): what ties a client's request, the
/// outbox event its transaction wrote and the SQS message the relay sent into one trace.
///
/// Only version `00` is written. A `traceparent` of a later version is read by its first four
/// fields, as the specification asks, so a newer client still joins its trace; one that breaks
/// the format (wrong lengths, upper-case or non-hex digits, all-zero ids) is ignored, and the
/// request starts a trace of its own rather than failing.
public struct TraceContext: Sendable, Equatable {
    /// 32 lower-case hex digits, not all zero.
    public let traceID: String
    /// 16 lower-case hex digits, not all zero: the span this context names as parent.
    public let spanID: String
    /// Whether the trace is sampled (flag bit 0).
    public let sampled: Bool
    /// The vendors' list, passed on unchanged when it is well formed; `nil` otherwise.
    public let traceState: String?

    /// The longest `tracestate` carried: 32 members of the specification's 256 characters each
    /// would be 8 KiB per message; 512 is what it asks every carrier to keep.
    public static let maximumTraceStateLength = 512

    /// The `traceparent` header's value for this context.
    public var traceParent: String {
        "00-\(traceID)-\(spanID)-\(sampled ? "01" : "00")"
    }

    /// Reads a `traceparent` (and its `tracestate`); `nil` when `traceParent` is missing or
    /// malformed.
    public init?(traceParent: String?, traceState: String? = nil) {
        guard let traceParent else { return nil }
        let fields = traceParent.split(separator: "-", omittingEmptySubsequences: false)
        guard fields.count >= 4, let version = fields.first, version.count == 2, Self.isLowerHex(version),
            version != "ff"
        else { return nil }
        // Version 00 has exactly four fields; a later version may add some after them.
        guard version == "00" ? fields.count == 4 : traceParent.utf8.count >= 55 else { return nil }
        let (traceID, spanID, flags) = (fields[1], fields[2], fields[3])
        guard traceID.count == 32, Self.isLowerHex(traceID), traceID.contains(where: { $0 != "0" }),
            spanID.count == 16, Self.isLowerHex(spanID), spanID.contains(where: { $0 != "0" }),
            flags.count == 2, Self.isLowerHex(flags), let flagBits = UInt8(flags, radix: 16)
        else { return nil }
        self.traceID = String(traceID)
        self.spanID = String(spanID)
        self.sampled = flagBits & 1 == 1
        self.traceState = Self.acceptedTraceState(traceState)
    }

    /// A context with these parts; `spanID` and `traceID` must already be valid.
    public init(traceID: String, spanID: String, sampled: Bool, traceState: String? = nil) {
        self.traceID = traceID
        self.spanID = spanID
        self.sampled = sampled
        self.traceState = traceState
    }

    /// The start of a new trace: a random trace id and span id.
    public static func newTrace(sampled: Bool = true) -> TraceContext {
        var generator = SystemRandomNumberGenerator()
        return TraceContext(
            traceID: randomHex(bytes: 16, using: &generator),
            spanID: randomHex(bytes: 8, using: &generator),
            sampled: sampled
        )
    }

    /// A span of this trace whose parent is this context's span: same trace id, sampling and
    /// state, a new span id.
    public func child() -> TraceContext {
        var generator = SystemRandomNumberGenerator()
        return TraceContext(
            traceID: traceID,
            spanID: Self.randomHex(bytes: 8, using: &generator),
            sampled: sampled,
            traceState: traceState
        )
    }

    private static func isLowerHex(_ text: Substring) -> Bool {
        text.utf8.allSatisfy {
            (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0)
        }
    }

    /// `value` when it is a plausible list (printable ASCII, not too long); `nil` otherwise,
    /// so nothing a client sends can forge log lines or message attributes.
    private static func acceptedTraceState(_ value: String?) -> String? {
        guard let value = value?.trimmingSpaces(), !value.isEmpty, value.utf8.count <= maximumTraceStateLength,
            value.utf8.allSatisfy({ (0x20...0x7E).contains($0) })
        else { return nil }
        return value
    }

    private static func randomHex(bytes: Int, using generator: inout SystemRandomNumberGenerator) -> String {
        while true {
            var text = ""
            text.reserveCapacity(bytes * 2)
            var allZero = true
            for _ in 0..<bytes {
                let byte = UInt8.random(in: 0...255, using: &generator)
                allZero = allZero && byte == 0
                text += byte < 16 ? "0" + String(byte, radix: 16) : String(byte, radix: 16)
            }
            if !allZero { return text }
        }
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        var view = Substring(self)
        while view.first == " " || view.first == "\t" { view.removeFirst() }
        while view.last == " " || view.last == "\t" { view.removeLast() }
        return String(view)
    }
}
