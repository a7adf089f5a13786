import Foundation
import Synchronization
import Testing

@testable import Postgres

#if canImport(Glibc)
import Glibc
#endif

/// The monitor on its own, over a Unix socket pair instead of a libpq connection.
@Suite struct SocketReadinessMonitorTests {
    @Test func aWaitEndsWhenDataArrivesAndAgainForTheNextData() async throws {
        try await withSocketPair { reader, writer in
            let monitor = try SocketReadinessMonitor()
            defer { monitor.stop() }
            let endedEarly = Atomic<Int>(0)
            for round in 0..<3 {
                let ended = Atomic<Bool>(false)
                let waiting = Task {
                    try await monitor.wait(for: reader, .readable)
                    ended.store(true, ordering: .releasing)
                }
                try await Task.sleep(for: .milliseconds(20))
                // Nothing to read yet: the wait must still be pending.
                if ended.load(ordering: .acquiring) { endedEarly.add(1, ordering: .relaxed) }
                var byte = UInt8(round)
                #expect(write(writer, &byte, 1) == 1)
                try await withTimeout { try await waiting.value }
                #expect(read(reader, &byte, 1) == 1)
            }
            #expect(endedEarly.load(ordering: .relaxed) == 0)
        }
    }

    @Test func dataThatArrivedBeforeTheWaitEndsItAtOnce() async throws {
        try await withSocketPair { reader, writer in
            let monitor = try SocketReadinessMonitor()
            defer { monitor.stop() }
            // The first wait adds the socket to the epoll set, the later ones re-arm it.
            for round in 0..<3 {
                var byte = UInt8(round)
                #expect(write(writer, &byte, 1) == 1)
                try await withTimeout { try await monitor.wait(for: reader, .readable) }
                #expect(read(reader, &byte, 1) == 1)
            }
            try await withTimeout { try await monitor.wait(for: writer, .readableOrWritable) }
        }
    }

    @Test func stoppingFailsTheWaitersAndLaterWaits() async throws {
        try await withSocketPair { reader, _ in
            let monitor = try SocketReadinessMonitor()
            let waiting = Task { try await monitor.wait(for: reader, .readable) }
            while monitor.waitingCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
            monitor.stop()
            monitor.stop()
            let error = await #expect(throws: PostgresError.self) { try await waiting.value }
            #expect(error?.code == .poolShutDown)
            await #expect(throws: PostgresError.self) { try await monitor.wait(for: reader, .readable) }
        }
    }

    @Test func aSocketTheKernelRefusesFailsTheWait() async throws {
        let monitor = try SocketReadinessMonitor()
        defer { monitor.stop() }
        let error = await #expect(throws: PostgresError.self) { try await monitor.wait(for: -1, .readable) }
        #expect(error?.code == .connectionLost)
    }

    /// Runs `body`, failing after 60 s instead of hanging the run when a wake-up is lost (a
    /// task group would wait for the hung child; this returns without it).
    private func withTimeout(_ body: @escaping @Sendable () async throws -> Void) async throws {
        let first = FirstOutcome()
        let finished = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<Bool, any Error>) in
            first.set(continuation)
            Task {
                do {
                    try await body()
                    first.resume(with: .success(true))
                } catch {
                    first.resume(with: .failure(error))
                }
            }
            Task {
                try? await Task.sleep(for: .seconds(15))
                first.resume(with: .success(false))
            }
        }
        if !finished { Issue.record("the wait did not end within 15 s") }
    }

    private func withSocketPair(_ body: (Int32, Int32) async throws -> Void) async throws {
        var descriptors: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &descriptors) == 0)
        defer { for descriptor in descriptors { close(descriptor) } }
        try await body(descriptors[0], descriptors[1])
    }
}

/// The continuation of `withTimeout`, resumed by whichever of its two tasks ends first.
private final class FirstOutcome: Sendable {
    private let continuation = Mutex<CheckedContinuation<Bool, any Error>?>(nil)

    func set(_ continuation: CheckedContinuation<Bool, any Error>) {
        self.continuation.withLock { $0 = continuation }
    }

    func resume(with result: Result<Bool, any Error>) {
        continuation.withLock { $0.take() }?.resume(with: result)
    }
}
