import Synchronization

/// Wakes idle relay workers when events commit (a NOTIFY arrived) or the relay stops.
///
/// Each wake-up bumps a generation number. A worker reads the generation before it claims
/// and, when the claim came back empty, waits for a newer one, so a NOTIFY that arrived while
/// it was claiming is not lost. `signal()` wakes one waiting worker, not all of them: at a
/// steady trickle of commits, waking every worker for each NOTIFY would have all but one of
/// them run an empty claim. A worker whose claim came back full calls `signal()` in turn, so
/// a burst recruits as many workers as it needs.
public final class WakeSignal: Sendable {
    /// How a wait ended.
    public enum WaitOutcome: Sendable, Equatable {
        /// A signal (or one that came before the wait) ended it.
        case signalled
        /// The timeout, or cancellation, ended it.
        case timedOut
    }

    private struct State {
        var generation = 0
        var waiters: [Int: CheckedContinuation<Bool, Never>] = [:]
        var nextWaiterID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: Int { state.withLock { $0.generation } }

    /// Workers currently waiting (for tests and diagnostics).
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Wakes one waiting worker (the one waiting longest).
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Bool, Never>? in
            state.generation += 1
            guard let oldest = state.waiters.keys.min() else { return nil }
            return state.waiters.removeValue(forKey: oldest)
        }
        waiter?.resume(returning: true)
    }

    /// Wakes every waiting worker (shutdown).
    public func signalAll() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: true) }
    }

    /// Returns when the generation has moved past `seen`, after `timeout`, or on cancellation.
    ///
    /// The outcome is decided when the waiter is resumed, not when its task next runs: a
    /// waiter that a busy machine resumes late still reports `.signalled`, so tests can tell a
    /// lost wake-up from a slow one without measuring time.
    @discardableResult
    public func wait(after seen: Int, timeout: Duration) async -> WaitOutcome {
        await withTaskGroup(of: Bool.self) { group in
            group.addTask { await self.waitForSignal(after: seen) }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return false
            }
            var signalled = await group.next() ?? false
            group.cancelAll()
            for await outcome in group { signalled = signalled || outcome }
            return signalled ? .signalled : .timedOut
        }
    }

    /// Whether a signal ended the wait (`false`: cancelled).
    private func waitForSignal(after seen: Int) async -> Bool {
        let id = state.withLock { state -> Int in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
                let resumeNow = state.withLock { state -> Bool? in
                    if state.generation > seen { return true }
                    if Task.isCancelled { return false }
                    state.waiters[id] = continuation
                    return nil
                }
                if let resumeNow { continuation.resume(returning: resumeNow) }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume(returning: false)
        }
    }
}
