import AWS
import Synchronization

/// Stops every worker of a relay from claiming while SQS as a whole is unavailable
/// (connection refused, 5xx, throttling, a missing queue, denied access, bad credentials), so
/// an outage does not burn the events' attempt budgets or fill the dead-letter table.
///
/// Closed: claim normally. Open: claim nothing until `reopensAt`. After that one worker probes
/// (half-open); its success closes the breaker, its failure opens it for longer.
public final class CircuitBreaker: Sendable {
    public enum State: Sendable, Equatable {
        case closed
        case open(until: ContinuousClock.Instant)
        /// One worker is probing since the instant given.
        case halfOpen(since: ContinuousClock.Instant)
    }

    /// A probe that has not reported by then (its worker hit a database error, say) is
    /// given up, and the next caller probes instead.
    public static let probeTimeout: Duration = .seconds(15)

    /// Why the breaker opened: what `/readyz` reports until SQS takes a message again.
    public struct Outage: Sendable, Equatable {
        public var reason: SQSOutageReason
        /// The SQS error, safe to log (no credentials).
        public var detail: String

        public init(reason: SQSOutageReason, detail: String) {
            self.reason = reason
            self.detail = detail
        }
    }

    private struct Storage {
        var state: State = .closed
        var consecutiveFailures = 0
        var outage: Outage?
    }

    private let policy: RetryPolicy
    private let storage = Mutex(Storage())

    /// - Parameter policy: the pause after `n` consecutive outages (jittered).
    public init(policy: RetryPolicy) {
        self.policy = policy
    }

    public var state: State { storage.withLock { $0.state } }

    /// The outage that opened the breaker, while it is open or probing; `nil` once closed.
    /// Kept through the probe (half-open) so `/readyz` does not flap between pauses.
    public var outage: Outage? {
        storage.withLock { $0.state == .closed ? nil : $0.outage }
    }

    public var isOpen: Bool {
        if case .open = state { return true }
        return false
    }

    /// How long a worker must wait before claiming, or `nil` to go ahead. When an open
    /// breaker's pause is over, the first caller becomes the probe and the others keep waiting.
    public func waitBeforeClaiming(now: ContinuousClock.Instant = .now) -> Duration? {
        storage.withLock { storage in
            switch storage.state {
            case .closed:
                return nil
            case .open(let until) where now >= until:
                storage.state = .halfOpen(since: now)
                return nil
            case .open(let until):
                return until - now
            case .halfOpen(let since) where now - since >= Self.probeTimeout:
                storage.state = .halfOpen(since: now)
                return nil
            case .halfOpen:
                // Someone is probing; check again shortly.
                return .milliseconds(50)
            }
        }
    }

    /// The probe found nothing to send, so it learned nothing: let every worker claim again
    /// (the next send reopens the breaker if SQS is still down).
    public func recordNothingToSend() {
        storage.withLock { storage in
            if case .halfOpen = storage.state {
                storage.state = .closed
                storage.outage = nil
            }
        }
    }

    public func recordSuccess() {
        storage.withLock { storage in
            storage.state = .closed
            storage.consecutiveFailures = 0
            storage.outage = nil
        }
    }

    /// SQS was unavailable because of `outage`: open (again) for a jittered, growing pause.
    /// Returns the pause.
    @discardableResult
    public func recordOutage(_ outage: Outage, now: ContinuousClock.Instant = .now) -> Duration {
        storage.withLock { storage in
            storage.consecutiveFailures += 1
            storage.outage = outage
            // At least a tenth of the ceiling, so a zero draw does not hammer SQS.
            let ceiling = policy.ceiling(afterAttempts: storage.consecutiveFailures)
            let pause = Duration.milliseconds(
                max(policy.delay(afterAttempts: storage.consecutiveFailures), ceiling / 10)
            )
            storage.state = .open(until: now + pause)
            return pause
        }
    }
}
