import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Enforces the client's deadlines (``ConnectionTimeouts/answerDeadline``) from one thread for
/// the whole process.
///
/// A statement whose answer is overdue has its socket shut down (`shutdown(2)`, not `close`:
/// the descriptor stays the connection's until libpq closes it). Whatever waits on that socket,
/// a blocking libpq read on a pool thread or the readiness monitor, wakes at once with the
/// connection broken, so one mechanism bounds both paths, TLS included, without a timer per
/// statement. Pools also register a tick, which fails borrowers that waited too long for a
/// connection.
///
/// Deadlines are checked every ``period``, so one fires up to that much late: fine for bounds
/// of seconds, and cheap (arming is a dictionary insert under a lock).
final class AnswerWatchdog: Sendable {
    static let shared = AnswerWatchdog()

    static let period = Duration.milliseconds(100)

    /// One statement being watched.
    struct Watch: Sendable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        let socket: Int32
        let deadline: ContinuousClock.Instant
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var fired: Set<UInt64> = []
        var ticks: [UInt64: @Sendable (ContinuousClock.Instant) -> Void] = [:]
        var nextID: UInt64 = 0
        var isStarted = false
    }

    private let state = Mutex(State())

    /// Shuts `socket` down if the answer has not arrived by `deadline`.
    func watch(socket: Int32, until deadline: ContinuousClock.Instant) -> Watch {
        let (id, start) = state.withLock { state -> (UInt64, Bool) in
            defer { state.nextID += 1 }
            state.entries[state.nextID] = Entry(socket: socket, deadline: deadline)
            return (state.nextID, startIfNeeded(&state))
        }
        if start { startThread() }
        return Watch(id: id)
    }

    /// Stops watching; once it returns, the socket is never touched again. Returns whether the
    /// deadline passed first, in which case the socket was shut down.
    func end(_ watch: Watch) -> Bool {
        state.withLock { state in
            state.entries[watch.id] = nil
            return state.fired.remove(watch.id) != nil
        }
    }

    /// Calls `tick` with the current time every ``period`` until ``removeTick(_:)``. It runs on
    /// the watchdog's thread outside its lock, so it may take its own locks; it must be quick.
    func addTick(_ tick: @escaping @Sendable (ContinuousClock.Instant) -> Void) -> UInt64 {
        let (id, start) = state.withLock { state -> (UInt64, Bool) in
            defer { state.nextID += 1 }
            state.ticks[state.nextID] = tick
            return (state.nextID, startIfNeeded(&state))
        }
        if start { startThread() }
        return id
    }

    func removeTick(_ id: UInt64) {
        _ = state.withLock { $0.ticks.removeValue(forKey: id) }
    }

    private func startIfNeeded(_ state: inout State) -> Bool {
        guard !state.isStarted else { return false }
        state.isStarted = true
        return true
    }

    private func startThread() {
        let thread = Thread { [self] in
            while true {
                Thread.sleep(forTimeInterval: Double(Self.period.wholeMilliseconds) / 1000)
                check(at: .now)
            }
        }
        thread.name = "postgres-deadlines"
        thread.start()
    }

    /// Shuts down the sockets whose deadline passed, under the lock so that ``end(_:)`` cannot
    /// return (and the connection close its socket) in between, then runs the ticks.
    func check(at now: ContinuousClock.Instant) {
        let ticks = state.withLock { state in
            for (id, entry) in state.entries where entry.deadline <= now {
                state.entries[id] = nil
                state.fired.insert(id)
                shutdown(entry.socket, Int32(SHUT_RDWR))
            }
            return Array(state.ticks.values)
        }
        for tick in ticks { tick(now) }
    }
}
