import ServiceLifecycle

/// Keeps a ``CurlHTTPClient``'s threads until the process shuts down gracefully, then stops them.
///
/// The client is made before the services that use it and outlives them: list this service
/// before its users in a `ServiceGroup`, so it stops after them (services stop in reverse).
/// `photo-api` (S3) and `outbox-relay` (SQS) both run their client under it.
public struct CurlHTTPClientService: Service {
    public let client: CurlHTTPClient

    public init(client: CurlHTTPClient) {
        self.client = client
    }

    public func run() async throws {
        try? await gracefulShutdown()
        await client.shutdown()
    }
}
