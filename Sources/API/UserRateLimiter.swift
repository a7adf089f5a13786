import Foundation
import Synchronization

/// A per-user budget of requests per minute, answered with 429 and `Retry-After` when spent.
///
/// `photo-api` keeps one, for `complete` calls (`COMPLETE_RATE_LIMIT_PER_MINUTE`), a budget apart
/// from that of upload URLs, so that confirmations, which read from S3, cannot eat it or the
/// other way round. Upload URLs are counted in Postgres instead (`UploadRateLimit`), where
/// every replica shares one budget per user.
///
/// **Per instance**: the counts live in this process's memory, so N API instances behind a load
/// balancer allow up to N times the limit in the worst case. That is deliberate for `complete`:
/// its limit protects S3 from a runaway client, not a precise quota, each call already does
/// the work that makes it expensive before any statement runs, and it needs no shared store.
///
/// A fixed one-minute window per user: the first request opens a window, requests are counted
/// until it ends, and `Retry-After` is the rest of the window (rounded up). It is O(1) per user
/// in memory, unlike a sliding log, whatever the limit. Windows that have ended are swept out
/// now and then so idle users do not accumulate.
final class UserRateLimiter: Sendable {
    private struct Window {
        var start: Date
        var count: Int
    }

    private struct State {
        var windows: [UUID: Window] = [:]
        var lastSweep = Date.distantPast
    }

    let limit: Int
    let windowSeconds: Double
    private let state = Mutex(State())

    init(limit: Int, windowSeconds: Double = 60) {
        self.limit = limit
        self.windowSeconds = windowSeconds
    }

    /// Counts one request of `userID`; returns `nil` when allowed, else the seconds to wait.
    func acquire(userID: UUID, now: Date = Date()) -> Int? {
        state.withLock { state in
            if now.timeIntervalSince(state.lastSweep) >= windowSeconds {
                state.windows = state.windows.filter { now.timeIntervalSince($0.value.start) < windowSeconds }
                state.lastSweep = now
            }
            var window = state.windows[userID] ?? Window(start: now, count: 0)
            if now.timeIntervalSince(window.start) >= windowSeconds {
                window = Window(start: now, count: 0)
            }
            guard window.count < limit else {
                let remaining = windowSeconds - now.timeIntervalSince(window.start)
                return max(1, Int(remaining.rounded(.up)))
            }
            window.count += 1
            state.windows[userID] = window
            return nil
        }
    }
}
