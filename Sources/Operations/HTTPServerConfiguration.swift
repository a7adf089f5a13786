import AppConfig
import HummingbirdCore
import NIOCore

/// How both servers (`photo-api`, and the relay's `/healthz` `/readyz` `/metrics`) treat their
/// HTTP connections.
public struct HTTPServerConfiguration: Sendable {
    /// `HTTP_IDLE_TIMEOUT_SECONDS` when unset.
    ///
    /// Longer than the 60 s idle timeout of common load balancers (AWS ALB), so the balancer,
    /// not this server, closes its kept-alive connections first and never sends a request on a
    /// connection this server is closing.
    public static let defaultIdleTimeoutSeconds = 75

    /// Seconds a connection may stay idle (nothing read or written) before the server closes it
    /// (`HTTP_IDLE_TIMEOUT_SECONDS`). Without it a client that opens connections and sends
    /// nothing, or keeps them alive and silent, holds a socket and a channel each forever.
    public let idleTimeoutSeconds: Int

    /// Reads `HTTP_IDLE_TIMEOUT_SECONDS` (1 to 3600).
    public init(environment: EnvironmentReader) throws {
        idleTimeoutSeconds = try environment.integer(
            "HTTP_IDLE_TIMEOUT_SECONDS",
            default: Self.defaultIdleTimeoutSeconds,
            range: 1...3600
        )
    }

    /// The HTTP/1.1 server these settings describe, for `Application(server:)`.
    public var server: HTTPServerBuilder {
        .http1(configuration: .init(idleTimeout: .seconds(Int64(idleTimeoutSeconds))))
    }
}
