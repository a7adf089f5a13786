import Foundation
import Synchronization

/// Facts about one request that inner middlewares report to outer ones.
///
/// Contexts are values, so what an inner middleware sets on its copy never reaches an outer
/// middleware; this reference, created once per request, does. `AuthenticationMiddleware`
/// records the user, `ProblemMiddleware` the problem it answered with, so the request log and
/// the route metrics (outside both) read them instead of working them out again.
final class RequestRecord: Sendable {
    private struct State {
        var userID: UUID?
        var serviceSubject: String?
        var problem: APIError?
    }

    private let state = Mutex(State())

    /// The authenticated user, once `AuthenticationMiddleware` has verified the token.
    var userID: UUID? {
        get { state.withLock { $0.userID } }
        set { state.withLock { $0.userID = newValue } }
    }

    /// The service principal's `sub`, when a service token was verified instead of a user's.
    var serviceSubject: String? {
        get { state.withLock { $0.serviceSubject } }
        set { state.withLock { $0.serviceSubject = newValue } }
    }

    /// The problem `ProblemMiddleware` answered with, when the request failed: its `code` and
    /// log-only `logDetail` go into the request log line. Set once per request, by the one
    /// middleware that classifies errors.
    var problem: APIError? {
        get { state.withLock { $0.problem } }
        set { state.withLock { $0.problem = newValue } }
    }
}
