import AWS
import Synchronization
import Testing

@testable import OutboxRelay

@Suite struct RetryPolicyTests {
    @Test func ceilingDoublesFromTheBaseUpToTheMaximum() {
        let policy = RetryPolicy(baseMilliseconds: 1000, maximumMilliseconds: 300_000)
        #expect((1...6).map { policy.ceiling(afterAttempts: $0) } == [1000, 2000, 4000, 8000, 16_000, 32_000])
        #expect(policy.ceiling(afterAttempts: 20) == 300_000)
        #expect(policy.ceiling(afterAttempts: 10_000) == 300_000)
        #expect(policy.ceiling(afterAttempts: 0) == 1000)
    }

    @Test func delayIsFullJitterBetweenZeroAndTheCeiling() {
        let policy = RetryPolicy(baseMilliseconds: 100, maximumMilliseconds: 10_000)
        #expect(policy.delay(afterAttempts: 3) { $0.lowerBound } == 0)
        #expect(policy.delay(afterAttempts: 3) { $0.upperBound } == 400)
        let draws = (0..<500).map { _ in policy.delay(afterAttempts: 4) }
        #expect(draws.allSatisfy { (0...800).contains($0) })
        // Spread out, not constant: full jitter.
        #expect(Set(draws).count > 100)
    }
}

@Suite struct CircuitBreakerTests {
    static let outage = CircuitBreaker.Outage(reason: .serviceUnavailable, detail: "SQS Transport: refused")

    /// `/readyz` names the outage while the breaker is open and while its probe runs (so
    /// readiness does not flap between pauses), and forgets it once SQS answers again.
    @Test func theOutageIsReportedUntilTheBreakerCloses() {
        let breaker = CircuitBreaker(policy: RetryPolicy(baseMilliseconds: 10, maximumMilliseconds: 10))
        let start = ContinuousClock.now
        #expect(breaker.outage == nil)
        let missing = CircuitBreaker.Outage(reason: .queueUnavailable, detail: "SQS QueueDoesNotExist: gone")
        let pause = breaker.recordOutage(missing, now: start)
        #expect(breaker.outage == missing)
        #expect(breaker.waitBeforeClaiming(now: start + pause) == nil)
        #expect(breaker.state == .halfOpen(since: start + pause))
        #expect(breaker.outage == missing)
        let denied = CircuitBreaker.Outage(reason: .accessDenied, detail: "SQS AccessDenied: no")
        breaker.recordOutage(denied, now: start + pause)
        #expect(breaker.outage?.reason == .accessDenied)
        breaker.recordSuccess()
        #expect(breaker.outage == nil)

        breaker.recordOutage(missing, now: start)
        #expect(breaker.waitBeforeClaiming(now: start + .seconds(1)) == nil)
        breaker.recordNothingToSend()
        #expect(breaker.outage == nil)
    }

    @Test func anOutageOpensThenOneProbeIsLetThrough() {
        let breaker = CircuitBreaker(policy: RetryPolicy(baseMilliseconds: 1000, maximumMilliseconds: 1000))
        let start = ContinuousClock.now
        #expect(breaker.waitBeforeClaiming(now: start) == nil)
        let pause = breaker.recordOutage(Self.outage, now: start)
        #expect(pause >= .milliseconds(100) && pause <= .seconds(1))
        #expect(breaker.isOpen)
        let wait = breaker.waitBeforeClaiming(now: start)
        #expect(wait == pause)
        // After the pause the first caller probes; the others keep waiting.
        let later = start + pause
        #expect(breaker.waitBeforeClaiming(now: later) == nil)
        #expect(breaker.state == .halfOpen(since: later))
        #expect(breaker.waitBeforeClaiming(now: later) != nil)
        // A probe that never reports is replaced after the probe timeout.
        let abandoned = later + CircuitBreaker.probeTimeout
        #expect(breaker.waitBeforeClaiming(now: abandoned) == nil)
        #expect(breaker.waitBeforeClaiming(now: abandoned) != nil)
        breaker.recordSuccess()
        #expect(breaker.state == .closed)
        #expect(breaker.waitBeforeClaiming(now: later) == nil)
    }

    @Test func aProbeWithNothingToSendClosesTheBreaker() {
        let breaker = CircuitBreaker(policy: RetryPolicy(baseMilliseconds: 10, maximumMilliseconds: 10))
        let start = ContinuousClock.now
        let pause = breaker.recordOutage(Self.outage, now: start)
        #expect(breaker.waitBeforeClaiming(now: start + pause) == nil)
        breaker.recordNothingToSend()
        #expect(breaker.state == .closed)
        // Nothing to send while closed changes nothing either.
        breaker.recordNothingToSend()
        #expect(breaker.state == .closed)
    }

    @Test func repeatedOutagesPauseLonger() {
        let breaker = CircuitBreaker(policy: RetryPolicy(baseMilliseconds: 100, maximumMilliseconds: 100_000))
        let now = ContinuousClock.now
        // Ceilings grow 100, 200, 400, ...; a pause is at least a tenth of its ceiling.
        var minimums: [Duration] = []
        for _ in 0..<8 {
            let pause = breaker.recordOutage(Self.outage, now: now)
            minimums.append(pause)
        }
        #expect(minimums.last.map { $0 >= .milliseconds(1280) } == true)
    }
}

/// A lost wake-up shows as a wait that ends `.timedOut`. The outcome is decided when the
/// waiter is resumed, so a machine that runs the woken task late cannot fail these tests; the
/// timeout only bounds how long a lost wake-up takes to fail.
@Suite struct WakeSignalTests {
    static let timeout = Duration.seconds(10)

    @Test func aSignalWakesWaitersAndIsNotLostWhenItCameFirst() async {
        let signal = WakeSignal()
        let seen = signal.generation
        signal.signal()
        // The signal came between reading the generation and waiting: no wait at all.
        #expect(await signal.wait(after: seen, timeout: Self.timeout) == .signalled)

        // Read before the task starts, so that a task started late still sees the signal.
        let current = signal.generation
        let waiter = Task { await signal.wait(after: current, timeout: Self.timeout) }
        for _ in 0..<500 where signal.waitingCount < 1 { try? await Task.sleep(for: .milliseconds(10)) }
        signal.signal()
        #expect(await waiter.value == .signalled)
    }

    @Test func signalWakesOneWaiterAndSignalAllWakesEveryone() async {
        let signal = WakeSignal()
        let woken = Counter()
        let seen = signal.generation
        let waiters = (0..<3).map { _ in
            Task {
                let outcome = await signal.wait(after: seen, timeout: Self.timeout)
                if outcome == .signalled { woken.increment() }
                return outcome
            }
        }
        // Waiters that register after a signal return at once (by design), so wait for all three.
        for _ in 0..<500 where signal.waitingCount < 3 { try? await Task.sleep(for: .milliseconds(10)) }
        #expect(signal.waitingCount == 3)
        signal.signal()
        // One waiter left the set, the other two still wait.
        #expect(signal.waitingCount == 2)
        signal.signalAll()
        var outcomes: [WakeSignal.WaitOutcome] = []
        for waiter in waiters { outcomes.append(await waiter.value) }
        // Woken by the signals, not by their timeout.
        #expect(outcomes == [.signalled, .signalled, .signalled])
        #expect(woken.value == 3)
    }

    @Test func waitingEndsAfterTheTimeout() async {
        let signal = WakeSignal()
        let started = ContinuousClock.now
        #expect(await signal.wait(after: signal.generation, timeout: .milliseconds(100)) == .timedOut)
        #expect(ContinuousClock.now - started >= .milliseconds(100))
    }

    @Test func aCancelledWaitEndsTimedOutAndLeavesNoWaiter() async {
        let signal = WakeSignal()
        let waiter = Task { await signal.wait(after: signal.generation, timeout: Self.timeout) }
        for _ in 0..<500 where signal.waitingCount < 1 { try? await Task.sleep(for: .milliseconds(10)) }
        waiter.cancel()
        #expect(await waiter.value == .timedOut)
        #expect(signal.waitingCount == 0)
    }
}

/// Counts wake-ups across tasks.
private final class Counter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func increment() { count.withLock { $0 += 1 } }
}
