import Synchronization
import Testing

@testable import API

/// The per-key registry under `complete`'s one-confirmation-per-photo (issue 13, point 6). No
/// sleeps: the work waits on a stream the test feeds, so every step is ordered by the test.
@Suite struct SingleFlightTests {
    struct WorkFailed: Error, Equatable {}

    @Test func callersOfOneKeyShareOneRunThatOutlivesACancelledFirstCaller() async throws {
        let flights = SingleFlight<Int, Int>()
        let (release, releaser) = AsyncStream<Void>.makeStream()
        let runs = Mutex(0)
        let leader = flights.flight(for: 1) {
            runs.withLock { $0 += 1 }
            for await _ in release { break }
            // The work's own task: a cancelled caller must not cancel it.
            return Task.isCancelled ? -1 : 42
        }
        #expect(!leader.joined)
        // The first caller gives up while the work runs.
        let firstCaller = Task { try await leader.task.value }
        firstCaller.cancel()

        let follower = flights.flight(for: 1) {
            runs.withLock { $0 += 1 }
            return 7
        }
        #expect(follower.joined)
        // Another key is not joined to it.
        let other = flights.flight(for: 2) { 5 }
        #expect(!other.joined)
        #expect(try await other.task.value == 5)

        releaser.yield()
        #expect(try await follower.task.value == 42)
        #expect(try await firstCaller.value == 42)
        #expect(runs.withLock { $0 } == 1)

        // Done work leaves the registry: the next call for the key runs afresh.
        #expect(flights.count == 0)
        let next = flights.flight(for: 1) { 9 }
        #expect(!next.joined)
        #expect(try await next.task.value == 9)
    }

    @Test func aFailureIsEveryCallersAndIsNotKept() async throws {
        let flights = SingleFlight<String, Int>()
        let (release, releaser) = AsyncStream<Void>.makeStream()
        let leader = flights.flight(for: "photo") {
            for await _ in release { break }
            throw WorkFailed()
        }
        let follower = flights.flight(for: "photo") { 1 }
        #expect(follower.joined)
        releaser.yield()
        await #expect(throws: WorkFailed()) { try await leader.task.value }
        await #expect(throws: WorkFailed()) { try await follower.task.value }
        #expect(flights.count == 0)
        let retry = flights.flight(for: "photo") { 2 }
        #expect(try await retry.task.value == 2)
    }
}
