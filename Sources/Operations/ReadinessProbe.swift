import Migrator
import Postgres

/// The answer of `GET /readyz`, computed at most once per ``timeToLive`` however many ask.
///
/// Each check borrows a pooled connection and runs two queries, and `/readyz` needs no
/// credentials: uncached, anyone who can reach the port could keep the pool busy and load the
/// database with it. Cached, a flood of probes costs one check a second. Failures are cached
/// too, so a database that is down is not asked again on every probe while it restarts.
/// Callers that arrive while a check runs wait for that check instead of starting another.
public actor ReadinessProbe {
    /// What the check found.
    public enum Answer: Sendable, Equatable {
        /// Postgres answered and the schema is at `schemaVersion`, at least what the build needs.
        case ready(schemaVersion: Int)
        /// The schema is older than this build needs; the text says by how much.
        case schemaBehind(String)
        /// Postgres could not be reached or the query failed; the text is the error.
        case databaseUnavailable(String)
    }

    /// About a second: short enough for a load balancer to see a change at its next probe,
    /// long enough that a flood of probes costs one check a second.
    public static let defaultTimeToLive = Duration.seconds(1)

    let timeToLive: Duration
    let check: @Sendable () async -> Answer
    private var cached: (answer: Answer, expiresAt: ContinuousClock.Instant)?
    private var running: Task<Answer, Never>?

    /// A probe whose answer is `check`'s, kept for `timeToLive` after each check ends.
    public init(timeToLive: Duration = defaultTimeToLive, check: @escaping @Sendable () async -> Answer) {
        self.timeToLive = timeToLive
        self.check = check
    }

    /// The probe of `pool`: the schema check both applications run at start.
    public init(pool: ConnectionPool, timeToLive: Duration = defaultTimeToLive) {
        self.init(timeToLive: timeToLive) {
            do {
                let version = try await pool.withConnection { connection in
                    try SchemaRequirement.check(on: connection)
                    return try SchemaRequirement.currentVersion(on: connection)
                }
                return .ready(schemaVersion: version)
            } catch let behind as SchemaRequirement.SchemaBehind {
                return .schemaBehind(behind.description)
            } catch {
                return .databaseUnavailable("\(error)")
            }
        }
    }

    /// The cached answer while it is fresh; otherwise the answer of the check running now, or of
    /// a new one.
    public func answer() async -> Answer {
        if let cached, ContinuousClock.now < cached.expiresAt { return cached.answer }
        if let running { return await running.value }
        // Unstructured on purpose: a prober that hangs up must not cancel the check the
        // others are waiting for.
        let task = Task { await check() }
        running = task
        let answer = await task.value
        cached = (answer, ContinuousClock.now + timeToLive)
        running = nil
        return answer
    }
}
