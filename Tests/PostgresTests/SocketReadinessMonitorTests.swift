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
                try await waiting.value
                #expect(read(reader, &byte, 1) == 1)
            }
            #expect(endedEarly.load(ordering: .relaxed) == 0)
        }
    }

    @Test func dataThatArrivedBeforeTheWaitEndsItAtOnce() async throws {
        try await withSocketPair { reader, writer in
            let monitor = try SocketReadinessMonitor()
            defer { monitor.stop() }
            var byte: UInt8 = 1
            #expect(write(writer, &byte, 1) == 1)
            try await monitor.wait(for: reader, .readable)
            try await monitor.wait(for: writer, .readableOrWritable)
        }
    }

    @Test func stoppingFailsTheWaitersAndLaterWaits() async throws {
        try await withSocketPair { reader, _ in
            let monitor = try SocketReadinessMonitor()
            let waiting = Task { try await monitor.wait(for: reader, .readable) }
            try await Task.sleep(for: .milliseconds(50))
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

    private func withSocketPair(_ body: (Int32, Int32) async throws -> Void) async throws {
        var descriptors: [Int32] = [0, 0]
        try #require(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &descriptors) == 0)
        defer { for descriptor in descriptors { close(descriptor) } }
        try await body(descriptors[0], descriptors[1])
    }
}
