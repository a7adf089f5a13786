import CLibPQ
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Suspends tasks until a libpq socket can be read (or written), on one thread for every
/// connection of a pool.
///
/// It lets a pool run a single statement with libpq's non-blocking calls from the borrowing
/// task itself: the task sends, suspends here, and is resumed when the answer arrives. A
/// blocking borrow instead wakes a pool thread to send and parks that thread until the answer
/// arrives, which under load costs two more thread switches per statement.
///
/// One `epoll` instance holds the sockets being waited on, each registered one-shot, so a
/// socket reports once per wait; an `eventfd` wakes the thread to stop it.
final class SocketReadinessMonitor: Sendable {
    /// What a wait is for.
    enum Interest {
        case readable
        case readableOrWritable
    }

    private struct State {
        var waiters: [Int32: CheckedContinuation<Void, any Error>] = [:]
        var isStopped = false
    }

    private let epollDescriptor: Int32
    private let wakeDescriptor: Int32
    private let state = Mutex(State())

    /// Starts the monitor's thread. Throws when the kernel refuses an `epoll` or `eventfd`
    /// descriptor (the process is out of descriptors).
    init() throws {
        let epollDescriptor = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard epollDescriptor >= 0 else {
            throw PostgresError(
                code: .connectionFailed,
                message: "epoll_create1 failed: \(String(cString: strerror(errno)))"
            )
        }
        let wakeDescriptor = eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK))
        guard wakeDescriptor >= 0 else {
            close(epollDescriptor)
            throw PostgresError(code: .connectionFailed, message: "eventfd failed: \(String(cString: strerror(errno)))")
        }
        var event = epoll_event()
        event.events = EPOLLIN.rawValue
        event.data.fd = wakeDescriptor
        guard epoll_ctl(epollDescriptor, EPOLL_CTL_ADD, wakeDescriptor, &event) == 0 else {
            close(wakeDescriptor)
            close(epollDescriptor)
            throw PostgresError(
                code: .connectionFailed,
                message: "epoll_ctl failed: \(String(cString: strerror(errno)))"
            )
        }
        self.epollDescriptor = epollDescriptor
        self.wakeDescriptor = wakeDescriptor
        let thread = Thread { [self] in run() }
        thread.name = "postgres-readiness"
        thread.start()
    }

    /// Returns when `socket` is ready for `interest`, throws `poolShutDown` when the monitor
    /// stopped, and `CancellationError` when the waiting task is cancelled. Level-triggered:
    /// data that arrived before the call is reported at once.
    ///
    /// There is no timeout here: ``AnswerWatchdog`` shuts an overdue socket down, which reports
    /// it readable (end of stream) and so ends the wait.
    ///
    /// At most one task may wait on a socket at a time, which holds because a connection is lent
    /// to one borrower at a time.
    func wait(for socket: Int32, _ interest: Interest) async throws {
        var event = epoll_event()
        event.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | EPOLLONESHOT.rawValue
        if interest == .readableOrWritable { event.events |= EPOLLOUT.rawValue }
        event.data.fd = socket
        try await withTaskCancellationHandler {
            try await armAndWait(for: socket, event)
        } onCancel: {
            // Either this finds the waiter, or the wait has not registered it yet and will see
            // the task cancelled under the same lock, or the answer already resumed it.
            let waiter = state.withLock { $0.waiters.removeValue(forKey: socket) }
            waiter?.resume(throwing: CancellationError())
        }
    }

    private func armAndWait(for socket: Int32, _ event: epoll_event) async throws {
        var event = event
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            // Armed under the lock, so `stop()` cannot close the epoll descriptor in between.
            let failure = state.withLock { state -> (any Error)? in
                if state.isStopped { return PostgresError(code: .poolShutDown, message: "the pool shut down") }
                if Task.isCancelled { return CancellationError() }
                state.waiters[socket] = continuation
                // A socket stays in the epoll set between waits (disarmed by ONESHOT), so re-arm
                // it; a socket new to the set (first wait, or reopened by a reset) is added.
                guard
                    epoll_ctl(epollDescriptor, EPOLL_CTL_MOD, socket, &event) == 0
                        || (errno == ENOENT && epoll_ctl(epollDescriptor, EPOLL_CTL_ADD, socket, &event) == 0)
                else {
                    state.waiters[socket] = nil
                    return PostgresError(
                        code: .connectionLost,
                        message: "epoll_ctl failed: \(String(cString: strerror(errno)))"
                    )
                }
                return nil
            }
            if let failure { continuation.resume(throwing: failure) }
        }
    }

    /// Whether the thread still runs: `stop()` was not called and `epoll_wait` did not fail.
    var isRunning: Bool {
        state.withLock { !$0.isStopped }
    }

    /// Tasks waiting now, for tests.
    var waitingCount: Int {
        state.withLock { $0.waiters.count }
    }

    /// Stops the thread and fails the tasks still waiting. Call it once no statement is in
    /// flight: a stopped monitor cannot deliver their answers. Calls after the first do nothing.
    func stop() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>]? in
            guard !state.isStopped else { return nil }
            state.isStopped = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        guard let waiters else { return }
        for waiter in waiters {
            waiter.resume(throwing: PostgresError(code: .poolShutDown, message: "the pool shut down"))
        }
        // The thread closes the descriptors only after reading this, and only the first call
        // gets here, so the descriptor is still this monitor's eventfd.
        var one: UInt64 = 1
        _ = write(wakeDescriptor, &one, MemoryLayout<UInt64>.size)
    }

    private func run() {
        defer {
            close(wakeDescriptor)
            close(epollDescriptor)
        }
        let capacity = 64
        let events = UnsafeMutablePointer<epoll_event>.allocate(capacity: capacity)
        defer { events.deallocate() }
        while true {
            let count = epoll_wait(epollDescriptor, events, Int32(capacity), -1)
            if count < 0 {
                if errno == EINTR { continue }
                stop()
                return
            }
            var ready: [CheckedContinuation<Void, any Error>] = []
            var stopRequested = false
            state.withLock { state in
                for index in 0..<Int(count) {
                    let socket = events[index].data.fd
                    if socket == wakeDescriptor {
                        stopRequested = true
                    } else if let waiter = state.waiters.removeValue(forKey: socket) {
                        ready.append(waiter)
                    }
                }
            }
            for waiter in ready { waiter.resume() }
            if stopRequested { return }
        }
    }
}
