import Auth
import HTTPTypes
import Hummingbird
import JWTKit
import NIOCore
import Postgres

extension APIError {
    /// The problem any error thrown while handling a request stands for.
    ///
    /// Only `ProblemMiddleware` calls it, once per failed request: it answers with the result and
    /// records it on the request's `RequestRecord`, where the request log and the route metrics
    /// read it, so all three always agree. Only `APIError`s, Auth's refusals and well-known
    /// framework errors keep their meaning; anything else is a bug or an outage and becomes 500
    /// `internal_error`, its description kept for the logs (`logDetail`) and never sent.
    ///
    /// - Parameter routeIndex: turns Hummingbird's 404 for a path that exists with other methods
    ///   into 405.
    static func classify(
        _ error: any Error,
        request: Request,
        context: APIRequestContext,
        routeIndex: RouteMethodIndex?
    ) async -> APIError {
        if let error = error as? ErrorWithHeaders {
            return await classify(error.underlying, request: request, context: context, routeIndex: routeIndex)
                .adding(headers: error.headers)
        }
        if let error = error as? APIError {
            return error
        }
        if let error = error as? AuthenticationError {
            return APIError(error)
        }
        if let error = error as? AuthorizationError {
            return APIError(error)
        }
        if error is NIOTooManyBytesError {
            return .payloadTooLarge(limitBytes: context.maxUploadSize)
        }
        if error is JWTError {
            // The authentication middleware maps its own failures; a jwt-kit error that escapes
            // anywhere else is still a bad token, never a server fault (jwt-kit throws its own errors for bad input).
            return .unauthorized("the bearer token is not valid", logDetail: "jwt-kit: \(error)")
        }
        if let error = error as? PostgresError {
            // `description` holds the server's message and SQLSTATE, never row values.
            if error.isUnavailable {
                return .databaseUnavailable(logDetail: "database: \(error)")
            }
            return .internalError(logDetail: "database: \(error)")
        }
        if let error = error as? any HTTPResponseError {
            return await fromFramework(error, request: request, context: context, routeIndex: routeIndex)
        }
        return .internalError(logDetail: "\(type(of: error)): \(error)")
    }

    /// Hummingbird's own errors (`HTTPError` and friends) by status: route not found, body too
    /// large, undecodable JSON.
    private static func fromFramework(
        _ error: any HTTPResponseError,
        request: Request,
        context: APIRequestContext,
        routeIndex: RouteMethodIndex?
    ) async -> APIError {
        // `HTTPError` messages are written for clients (e.g. "Coding key `file_size` not found.").
        let message = (error as? HTTPError)?.body
        switch error.status {
        case .badRequest:
            return .invalidRequest(message ?? "the request is not valid")
        case .unauthorized:
            return .unauthorized(message ?? "authentication is required", challenge: .credentialsRequired)
        case .forbidden:
            return .forbidden(message ?? "this request is not allowed")
        case .notFound:
            // The router's fallback marks the context; a handler's own 404 does not.
            if context.endpointPath == RouteMethodIndex.notFoundEndpoint, let routeIndex {
                let allowed = await routeIndex.allowedMethods(for: request, context: context)
                if !allowed.isEmpty {
                    return .methodNotAllowed(request.method, allowed: allowed)
                }
                return .notFound("no route matches \(request.method.rawValue) \(request.uri.path)")
            }
            return .notFound(message ?? "the resource does not exist")
        case .methodNotAllowed:
            return .methodNotAllowed(request.method, allowed: [])
        case .contentTooLarge:
            return .payloadTooLarge(limitBytes: context.maxUploadSize)
        case .unsupportedMediaType:
            return .invalidFileType(message ?? "the media type is not supported")
        case .tooManyRequests:
            let retryAfter = (error as? HTTPError)?.headers[.retryAfter].flatMap { Int($0) } ?? 1
            return .rateLimited(retryAfterSeconds: retryAfter)
        default:
            if error.status.kind == .clientError {
                return .clientError(status: error.status, detail: message ?? error.status.reasonPhrase)
            }
            return .internalError(logDetail: "\(type(of: error)) \(error.status.code): \(message ?? "")")
        }
    }
}
