/// Exponential backoff with full jitter: the delay before attempt `n + 1` is uniform in
/// `[0, min(maximum, base * 2^(n-1))]`. Full jitter spreads retries of events that failed
/// together, so a recovering SQS is not hit by all of them in the same instant.
public struct RetryPolicy: Sendable {
    public let baseMilliseconds: Int64
    public let maximumMilliseconds: Int64

    public init(baseMilliseconds: Int64, maximumMilliseconds: Int64) {
        self.baseMilliseconds = baseMilliseconds
        self.maximumMilliseconds = max(baseMilliseconds, maximumMilliseconds)
    }

    /// The ceiling of the delay after `attempts` failed attempts (1 or more).
    public func ceiling(afterAttempts attempts: Int) -> Int64 {
        let exponent = min(max(attempts - 1, 0), 62)
        let (scaled, overflow) = baseMilliseconds.multipliedReportingOverflow(by: Int64(1) << exponent)
        return overflow ? maximumMilliseconds : min(scaled, maximumMilliseconds)
    }

    /// A random delay in `[0, ceiling]`; `random` is injectable for tests.
    public func delay(
        afterAttempts attempts: Int,
        using random: (ClosedRange<Int64>) -> Int64 = { Int64.random(in: $0) }
    ) -> Int64 {
        random(0...ceiling(afterAttempts: attempts))
    }
}
