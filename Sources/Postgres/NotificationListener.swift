import Logging
import NIOPosix
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Holds a dedicated connection that `LISTEN`s on channels and reports what arrives, for as
/// long as the calling task runs.
///
/// Notifications sent while the connection was down are lost (Postgres does not queue them
/// for absent listeners), so after every (re)connect the listener reports `.connected`:
/// consumers should then look at the table they watch instead of trusting notifications alone.
public struct NotificationListener: Sendable {
    /// What the listener reports.
    public enum Event: Sendable, Equatable {
        /// The `LISTEN`s are in place (first connect or after a reconnect).
        case connected
        /// A `NOTIFY` arrived.
        case notification(channel: String, payload: String)
    }

    public let settings: ConnectionSettings
    public let channels: [String]
    public let logger: Logger
    /// How long to wait before reconnecting, doubling up to `maximumReconnectDelay`.
    public var initialReconnectDelay: Duration = .milliseconds(100)
    public var maximumReconnectDelay: Duration = .seconds(5)

    /// - Parameter channels: channel names; they must be plain identifiers (letters, digits, `_`).
    public init(settings: ConnectionSettings, channels: [String], logger: Logger) {
        precondition(
            channels.allSatisfy { $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") } },
            "LISTEN channel names must be plain identifiers"
        )
        self.settings = settings
        self.channels = channels
        self.logger = logger
    }

    /// Listens until the task is cancelled, calling `onEvent` from the listener's thread.
    /// Connection failures are retried with backoff, never thrown.
    public func run(onEvent: @escaping @Sendable (Event) -> Void) async throws {
        // One thread of its own: it spends its life blocked in poll(2) on the socket.
        let thread = NIOThreadPool(numberOfThreads: 1)
        thread.start()
        let stopped = StopFlag()
        let pollInterval: Int32 = 100
        try await withTaskCancellationHandler {
            try await thread.runIfActive { [self] in
                var delay = initialReconnectDelay
                while !stopped.isSet {
                    do {
                        let connection = try Connection(settings: settings)
                        for channel in channels { try connection.query("LISTEN \(channel)") }
                        delay = initialReconnectDelay
                        onEvent(.connected)
                        while !stopped.isSet {
                            for notification in try connection.waitForNotifications(timeoutMilliseconds: pollInterval) {
                                onEvent(.notification(channel: notification.channel, payload: notification.payload))
                            }
                        }
                    } catch {
                        logger.warning(
                            "LISTEN connection failed; reconnecting",
                            metadata: ["error": "\(error)", "retry_in": "\(delay)"]
                        )
                        sleepUnlessStopped(delay, stopped: stopped)
                        delay = min(delay * 2, maximumReconnectDelay)
                    }
                }
            }
        } onCancel: {
            stopped.set()
        }
        try? await thread.shutdownGracefully()
    }
}

/// Sleeps in short steps so that cancellation is noticed quickly.
private func sleepUnlessStopped(_ duration: Duration, stopped: StopFlag) {
    let deadline = ContinuousClock.now + duration
    while !stopped.isSet, ContinuousClock.now < deadline {
        usleep(20_000)
    }
}

/// A flag the cancellation handler sets and the listener's thread reads.
private final class StopFlag: Sendable {
    private let value = Atomic<Bool>(false)
    var isSet: Bool { value.load(ordering: .relaxed) }
    func set() { value.store(true, ordering: .relaxed) }
}
