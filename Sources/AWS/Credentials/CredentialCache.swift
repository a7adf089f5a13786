import Foundation
import Logging
import Metrics
import ServiceLifecycle
import Synchronization

/// The current credentials of one process, refreshed ahead of their expiry.
///
/// - Callers never wait while the current credentials are valid: ``current()`` answers from
///   memory and, when less than the refresh window is left, starts a refresh in the
///   background. One refresh is in flight at a time.
/// - Only when nothing valid is held does a caller wait, for the same single refresh.
/// - A failed refresh keeps the old credentials until they expire and is retried after a
///   backoff (`retryBase`, doubling up to `retryMaximum`); until then callers without valid
///   credentials fail at once with ``CredentialError/Code/unavailable``.
/// - A source that hands back credentials still inside the window (the same expiry again)
///   is asked again only after the backoff, never once per request.
///
/// The window is clamped to half of the credentials' lifetime as fetched, so that keys which
/// live shorter than the window are not refreshed on every request.
///
/// As a `Service` it also refreshes on time when no request asks (``run()``).
public final class CredentialCache: Service, Sendable {
    public struct Settings: Sendable {
        /// Refresh when less than this is left.
        public var refreshWindow: Duration
        /// Credentials this close to their expiry are no longer handed out; it is also what
        /// an upload URL's lifetime keeps clear of the expiry.
        public var expiryMargin: Duration
        public var retryBase: Duration
        public var retryMaximum: Duration

        public init(
            refreshWindow: Duration,
            expiryMargin: Duration = .seconds(60),
            retryBase: Duration = .seconds(1),
            retryMaximum: Duration = .seconds(60)
        ) {
            self.refreshWindow = refreshWindow
            self.expiryMargin = expiryMargin
            self.retryBase = retryBase
            self.retryMaximum = retryMaximum
        }
    }

    private struct State {
        var credentials: AWSCredentials?
        /// When the held credentials were fetched (for the window's clamp).
        var fetchedAt: Date?
        var refresh: Task<Void, Never>?
        var failures = 0
        var retryAt: Date?
        var lastError: CredentialError?
        var refreshCount = 0
        /// The credentials a service last refused, for which a refresh was forced once.
        var forcedFor: AWSCredentials?
    }

    public let provider: any CredentialProvider
    public let settings: Settings
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let state = Mutex(State())
    /// `aws_credentials_refreshes_total{outcome="success"|"failure"}`.
    private let refreshSuccesses: Counter
    private let refreshFailures: Counter
    /// `aws_credentials_expiration_timestamp_seconds`: when the held credentials expire (Unix
    /// time; 0 for long-lived keys). An alert on `... - time() < 300` sees a stuck refresh.
    private let expirationTimestamp: Gauge

    /// - Parameters:
    ///   - metrics: where the refresh metrics go (the process's Prometheus registry by default).
    ///   - now: the clock (tests inject one).
    public init(
        provider: any CredentialProvider,
        settings: Settings,
        logger: Logger = Logger(label: "aws-credentials"),
        metrics: any MetricsFactory = MetricsSystem.factory,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.provider = provider
        self.settings = settings
        self.logger = logger
        self.now = now
        refreshSuccesses = Counter(
            label: "aws_credentials_refreshes_total",
            dimensions: [("outcome", "success")],
            factory: metrics
        )
        refreshFailures = Counter(
            label: "aws_credentials_refreshes_total",
            dimensions: [("outcome", "failure")],
            factory: metrics
        )
        expirationTimestamp = Gauge(label: "aws_credentials_expiration_timestamp_seconds", factory: metrics)
    }

    /// A cache of fixed credentials (tests, and static keys).
    public convenience init(static credentials: AWSCredentials) {
        self.init(
            provider: StaticCredentialProvider(name: "static", credentials: credentials),
            settings: .init(refreshWindow: .zero)
        )
        state.withLock {
            $0.credentials = credentials
            $0.fetchedAt = now()
        }
    }

    /// Credentials valid now (at least `expiryMargin` from their expiry).
    public func current() async throws(CredentialError) -> AWSCredentials {
        let (held, waitFor) = state.withLock { state -> (AWSCredentials?, Task<Void, Never>?) in
            let now = now()
            if let credentials = state.credentials, isUsable(credentials, at: now) {
                if state.refresh == nil, isDue(state, at: now), mayRetry(state, at: now) {
                    state.refresh = startRefresh()
                }
                return (credentials, nil)
            }
            if state.refresh == nil, mayRetry(state, at: now) {
                state.refresh = startRefresh()
            }
            return (nil, state.refresh)
        }
        if let held { return held }
        if let waitFor {
            await waitFor.value
        }
        let result = state.withLock { state -> Result<AWSCredentials, CredentialError> in
            if let credentials = state.credentials, isUsable(credentials, at: now()) {
                return .success(credentials)
            }
            let reason = state.lastError.map { ": \($0.description)" } ?? ""
            return .failure(
                CredentialError(code: .unavailable, source: provider.name, message: "no valid credentials\(reason)")
            )
        }
        return try result.get()
    }

    /// Fetches now, waiting for it (start-up). Throws when the fetch fails.
    public func refreshNow() async throws(CredentialError) {
        let task = state.withLock { state in
            if let refresh = state.refresh { return refresh }
            let refresh = startRefresh()
            state.refresh = refresh
            return refresh
        }
        await task.value
        if let error = state.withLock({ $0.failures > 0 ? $0.lastError : nil }) {
            throw error
        }
    }

    /// A service refused `rejected` as expired or invalid (`ExpiredToken`,
    /// `InvalidClientTokenId`, an S3 403): refresh now, whatever the window and the backoff,
    /// once per set of credentials (a second report of the same ones joins or skips it, so a
    /// source that keeps handing out bad keys causes no loop), and wait for it.
    ///
    /// - Returns: whether other credentials than `rejected` are now held, i.e. whether one
    ///   retry of the refused request is worth it.
    public func refreshAfterRejection(of rejected: AWSCredentials) async -> Bool {
        let refresh = state.withLock { state -> Task<Void, Never>? in
            guard state.credentials == rejected, state.forcedFor != rejected else { return state.refresh }
            state.forcedFor = rejected
            if state.refresh == nil {
                state.refresh = startRefresh()
            }
            return state.refresh
        }
        await refresh?.value
        return state.withLock { state in
            guard let held = state.credentials, held != rejected else { return false }
            return isUsable(held, at: now())
        }
    }

    /// Why no valid credentials are held now, or `nil` while they are: what `/readyz` reports
    /// as `aws_credentials_unavailable`. From memory only (no fetch), so probes cost nothing.
    public var unavailability: CredentialError? {
        state.withLock { state in
            if let credentials = state.credentials, isUsable(credentials, at: now()) {
                return nil
            }
            return state.lastError
                ?? CredentialError(code: .unavailable, source: provider.name, message: "no valid credentials held")
        }
    }

    /// Waits for the refresh in flight, if any (tests).
    func waitForRefresh() async {
        let refresh = state.withLock { $0.refresh }
        await refresh?.value
    }

    /// How many fetches were made (the tests count refreshes).
    public var refreshCount: Int { state.withLock { $0.refreshCount } }

    /// The seconds an upload URL may live: `lifetime`, or less when the credentials expire
    /// sooner (their remaining life minus `expiryMargin`). Never below 1 for usable credentials.
    public func urlLifetime(_ lifetime: Int, for credentials: AWSCredentials) -> Int {
        guard let expiration = credentials.expiration else { return lifetime }
        let remaining = expiration.timeIntervalSince(now()) - seconds(settings.expiryMargin)
        return max(1, min(lifetime, Int(remaining.rounded(.down))))
    }

    // MARK: Service

    /// Refreshes on time without a request asking, until graceful shutdown (which ends it
    /// normally: a service that throws would make the process exit non-zero).
    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let wait = self.nextWakeUp()
                do {
                    try await Task.sleep(for: wait)
                } catch {
                    return
                }
                let refresh = self.state.withLock { state -> Task<Void, Never>? in
                    let now = self.now()
                    if state.refresh == nil, self.isDue(state, at: now), self.mayRetry(state, at: now) {
                        state.refresh = self.startRefresh()
                    }
                    return state.refresh
                }
                await refresh?.value
            }
        }
    }

    private func nextWakeUp() -> Duration {
        state.withLock { state in
            let now = now()
            // Due (nothing held, or inside the window): at the end of the backoff, if any.
            // Otherwise when the window opens. Never more than a minute, so a clock that jumps
            // is noticed.
            var next: Date
            if isDue(state, at: now) {
                next = state.retryAt ?? now
            } else if let expiration = state.credentials?.expiration {
                next = expiration.addingTimeInterval(-window(for: state))
            } else {
                next = now.addingTimeInterval(60)
            }
            next = min(next, now.addingTimeInterval(60))
            let interval = max(0.05, next.timeIntervalSince(now))
            return .milliseconds(Int64(interval * 1000))
        }
    }

    // MARK: Refresh

    private func isUsable(_ credentials: AWSCredentials, at now: Date) -> Bool {
        guard let expiration = credentials.expiration else { return true }
        return now < expiration.addingTimeInterval(-seconds(settings.expiryMargin))
    }

    /// The refresh window, clamped to half the held credentials' lifetime.
    private func window(for state: State) -> TimeInterval {
        var window = seconds(settings.refreshWindow)
        if let expiration = state.credentials?.expiration, let fetchedAt = state.fetchedAt {
            window = min(window, max(0, expiration.timeIntervalSince(fetchedAt)) / 2)
        }
        return window
    }

    private func isDue(_ state: State, at now: Date) -> Bool {
        guard let credentials = state.credentials else { return true }
        guard let expiration = credentials.expiration else { return false }
        return expiration.timeIntervalSince(now) < window(for: state)
    }

    private func mayRetry(_ state: State, at now: Date) -> Bool {
        state.retryAt.map { now >= $0 } ?? true
    }

    /// Called with the lock held; the task takes it again when it is done.
    private func startRefresh() -> Task<Void, Never> {
        Task { await self.performRefresh() }
    }

    private func performRefresh() async {
        let outcome: Result<AWSCredentials, CredentialError>
        do {
            outcome = .success(try await provider.credentials())
        } catch {
            outcome = .failure(error)
        }
        let logLine: (Logger.Level, String)? = state.withLock { state in
            let now = now()
            state.refresh = nil
            state.refreshCount += 1
            var line: (Logger.Level, String)?
            switch outcome {
            case .success(let credentials):
                let recovered = state.failures > 0 && state.lastError != nil
                state.credentials = credentials
                state.fetchedAt = now
                state.lastError = nil
                if isDue(state, at: now) {
                    // The source keeps handing out what is already due (the same expiry):
                    // ask again after the backoff, not on the next request.
                    state.failures += 1
                    state.retryAt = now.addingTimeInterval(backoff(failures: state.failures))
                } else {
                    state.failures = 0
                    state.retryAt = nil
                }
                if recovered {
                    line = (.notice, "AWS credentials from \(provider.name) are available again")
                }
            case .failure(let error):
                let firstFailure = state.lastError == nil
                state.failures += 1
                state.lastError = error
                state.retryAt = now.addingTimeInterval(backoff(failures: state.failures))
                if firstFailure {
                    let held =
                        state.credentials.map { isUsable($0, at: now) } == true
                        ? "keeping the current ones until they expire" : "none valid held"
                    line = (.error, "AWS credentials refresh failed, \(held): \(error)")
                }
            }
            return line
        }
        switch outcome {
        case .success(let credentials):
            refreshSuccesses.increment()
            expirationTimestamp.record(credentials.expiration?.timeIntervalSince1970 ?? 0)
        case .failure:
            refreshFailures.increment()
        }
        if let (level, message) = logLine {
            logger.log(level: level, "\(message)")
        }
    }

    private func backoff(failures: Int) -> TimeInterval {
        let base = seconds(settings.retryBase)
        let exponent = Double(min(max(failures - 1, 0), 20))
        return min(seconds(settings.retryMaximum), base * pow(2, exponent))
    }

    private func seconds(_ duration: Duration) -> TimeInterval {
        let (seconds, attoseconds) = duration.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
