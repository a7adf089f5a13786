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
    private struct State {
        var generation = 0
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiterID = 0
    }

    private let state = Mutex(State())

    public init() {}

    public var generation: Int { state.withLock { $0.generation } }

    /// Workers currently waiting (for tests and diagnostics).
    var waitingCount: Int { state.withLock { $0.waiters.count } }

    /// Wakes one waiting worker (the one waiting longest).
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            state.generation += 1
            guard let oldest = state.waiters.keys.min() else { return nil }
            return state.waiters.removeValue(forKey: oldest)
        }
        waiter?.resume()
    }

    /// Wakes every waiting worker (shutdown).
    public func signalAll() {
        let waiters = state.withLock { state in
            state.generation += 1
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the generation has moved past `seen`, after `timeout`, or on cancellation.
    public func wait(after seen: Int, timeout: Duration) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal(after: seen) }
            group.addTask { try? await Task.sleep(for: timeout) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal(after seen: Int) async {
        let id = state.withLock { state -> Int in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.generation > seen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
    }
}
