import Foundation
import Hummingbird
import Logging
import UUIDCoding

/// Writes one log line per request: method, route, status, latency, and the user when known.
///
/// `route` is the matched route pattern (`/api/v1/photos/:photo_id`), never the raw path, and
/// neither the query string nor any header is logged: pre-signed URL signatures and bearer
/// tokens must never reach the logs. An unmatched request logs as route `NotFound`.
///
/// It sits outside `ProblemMiddleware`, so it only ever sees a response: the status is the
/// response's, and for a failed request `code` and `reason` (an error's log-only detail, e.g. why
/// a token was refused) are what `ProblemMiddleware` recorded on the request's `RequestRecord`
/// when it classified the error, never a classification of its own.
public struct RequestLogMiddleware: RouterMiddleware {
    public typealias Context = APIRequestContext

    let level: Logger.Level

    /// - Parameter level: the level of successful requests' lines; server errors log at `error`.
    public init(level: Logger.Level = .info) {
        self.level = level
    }

    public func handle(
        _ request: Request,
        context: APIRequestContext,
        next: (Request, APIRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let problem = context.requestRecord.problem
        log(
            request,
            context,
            status: Int(response.status.code),
            code: problem?.code.description,
            reason: problem?.logDetail,
            since: start
        )
        return response
    }

    private func log(
        _ request: Request,
        _ context: APIRequestContext,
        status: Int,
        code: String?,
        reason: String?,
        since start: ContinuousClock.Instant
    ) {
        let lineLevel: Logger.Level = status >= 500 ? .error : level
        // The metadata (a dictionary and a formatted number) costs more than the rest of the
        // middleware: build it only when the line will be written (LOG_LEVEL=warning skips it).
        guard context.logger.logLevel <= lineLevel else { return }
        let elapsed = ContinuousClock.now - start
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
