import Foundation
import Hummingbird
import Logging
import UUIDCoding

/// The one log line per request: method, route, status, latency, and the user (`user_id`) or
/// service principal (`service_sub`) when known.
///
/// `route` is the matched route pattern (`/api/v1/photos/:photo_id`), never the raw path, and
/// neither the query string nor any header is logged: pre-signed URL signatures and bearer
/// tokens must never reach the logs. An unmatched request logs as route `NotFound`.
///
/// `RequestTelemetryMiddleware` writes it from the response, outside `ProblemMiddleware`: for a
/// failed request `code` and `reason` (an error's log-only detail, e.g. why a token was refused)
/// are what `ProblemMiddleware` recorded on the request's `RequestRecord` when it classified the
/// error, never a classification of its own.
struct RequestLog: Sendable {
    /// The level of successful requests' lines; server errors log at `error`.
    let level: Logger.Level

    /// Writes the line of `request`, answered with `status` after `elapsed`.
    func write(_ request: Request, _ context: APIRequestContext, status: Int, elapsed: Duration) {
        let problem = context.requestRecord.problem
        log(
            request,
            context,
            status: status,
            code: problem?.code.description,
            reason: problem?.logDetail,
            elapsed: elapsed
        )
    }

    private func log(
        _ request: Request,
        _ context: APIRequestContext,
        status: Int,
        code: String?,
        reason: String?,
        elapsed: Duration
    ) {
        let lineLevel: Logger.Level = status >= 500 ? .error : level
        // The metadata (a dictionary and a formatted number) costs more than the rest of the
        // middleware: build it only when the line will be written (LOG_LEVEL=warning skips it).
        guard context.logger.logLevel <= lineLevel else { return }
        let milliseconds =
            Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        var metadata: Logger.Metadata = [
            "method": .string(request.method.rawValue),
            "route": .string(context.endpointPath ?? "unknown"),
            "status": .stringConvertible(status),
            "latency_ms": .string(Self.twoDecimals(milliseconds)),
        ]
        if let userID = context.requestRecord.userID {
            metadata["user_id"] = .string(userID.lowercasedString)
        }
        if let serviceSubject = context.requestRecord.serviceSubject {
            metadata["service_sub"] = .string(serviceSubject)
        }
        if let code {
            metadata["code"] = .string(code)
        }
        if let reason {
            metadata["reason"] = .string(reason)
        }
        context.logger.log(level: lineLevel, "request", metadata: metadata)
    }

    /// `%.2f` without `String(format:)`, which goes through CoreFoundation's locale-aware
    /// formatter (String(format:) was about 3 % of photo-api's CPU under load, docs/benchmarks.md).
    static func twoDecimals(_ value: Double) -> String {
        guard value.isFinite, value >= 0, value < 1e15 else { return String(format: "%.2f", value) }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }
}
