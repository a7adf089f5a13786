import Instrumentation
import Logging
import Metrics
import NIOPosix
import ServiceLifecycle
import Synchronization
import Tracing

/// A bounded pool of libpq connections whose blocking calls run on the pool's own threads.
///
/// Borrowers pass a synchronous closure that receives a `Connection`; it runs on one of the
/// pool's `NIOThreadPool` threads, because libpq blocks and must never run on an event loop or
/// the cooperative pool. One closure is one hop: a whole transaction runs in a single hop.
///
/// A single prepared statement (`execute`) takes no hop once the connection has prepared it:
/// the borrowing task sends it with libpq's non-blocking calls and suspends until the answer
/// arrives, which one thread watching every connection's socket reports
/// (`SocketReadinessMonitor`). That spares the thread switches of a hop, which were a large part
/// of the API's CPU per request under load.
///
/// Connections are opened lazily. A connection that broke is reconnected (`PQreset`) the next
/// time it is lent, after a cheap check of its socket, so a Postgres restart costs the
/// callers that were mid-query an error and nobody after them.
///
/// Every wait is bounded by the settings' ``ConnectionTimeouts/answerDeadline``: a statement's
/// answer (``AnswerWatchdog``) and a borrower's wait for a connection, which fails with
/// `timedOut` rather than queue behind connections a dead network holds.
public final class ConnectionPool: Sendable {
    public let settings: ConnectionSettings
    public let maximumConnections: Int
    private let threadPool: NIOThreadPool
    private let state: Mutex<State>
    private let logger: Logger
    let metrics: PoolMetrics
    /// Statements run without a thread hop, for tests to tell the two paths apart.
    let nonBlockingStatementCount = Atomic<Int>(0)

    /// Borrowers waiting for a connection, for tests.
    var waitingBorrowerCount: Int { state.withLock { $0.waiters.count } }

    /// Connections open or being opened, lent or idle, for tests.
    var openConnectionCount: Int { state.withLock { $0.openCount } }

    /// What the pool holds now, for its gauges (``recordOccupancy()``).
    public var occupancy: Occupancy {
        state.withLock { state in
            Occupancy(inUse: state.openCount - state.idle.count, idle: state.idle.count, waiting: state.waiters.count)
        }
    }

    private struct Waiter {
        let id: Int
        let continuation: CheckedContinuation<Lease, any Error>
        /// When the wait fails with `timedOut`; `nil` for no limit.
        let deadline: ContinuousClock.Instant?
    }

    /// What a borrower gets: an idle connection, or the right to open a new one.
    private enum Lease: @unchecked Sendable {
        case existing(Connection)
        case openNew

        var connection: Connection? {
            if case .existing(let connection) = self { return connection }
            return nil
        }
    }

    private struct State {
        var idle: [Connection] = []
        var openCount = 0
        var waiters: [Waiter] = []
        var nextWaiterID = 0
        var isShutDown = false
        /// Made on the first non-blocking statement; `nil` again after shutdown.
        var monitor: SocketReadinessMonitor?
        var monitorFailed = false
        var nonBlockingBorrowers = 0
        /// `shutdown()` calls waiting for the non-blocking borrowers to finish.
        var drained: [CheckedContinuation<Void, Never>] = []
        /// The watchdog's tick that fails overdue waiters, while it is registered.
        var overdueWaiterTick: UInt64?
    }

    /// - Parameters:
    ///   - maximumConnections: the most connections open at once, and the number of threads.
    ///   - metricsFactory: where ``PoolMetrics`` go; the process-wide factory by default.
    public init(
        settings: ConnectionSettings,
        maximumConnections: Int = 10,
        logger: Logger,
        metricsFactory: any MetricsFactory = MetricsSystem.factory
    ) {
        precondition(maximumConnections > 0, "a pool needs at least one connection")
        self.settings = settings
        self.maximumConnections = maximumConnections
        self.logger = logger
        self.metrics = PoolMetrics(factory: metricsFactory)
        self.threadPool = NIOThreadPool(numberOfThreads: maximumConnections)
        self.state = Mutex(State())
        threadPool.start()
        if settings.timeouts.answerDeadline != nil {
            let tick = AnswerWatchdog.shared.addTick { [weak self] now in self?.failOverdueWaiters(at: now) }
            state.withLock { $0.overdueWaiterTick = tick }
        }
    }

    /// Lends a connection to `body`, run on a pool thread. The connection goes back to the pool
    /// afterwards; a transaction `body` left open is rolled back first.
    @discardableResult
    public func withConnection<Value: Sendable>(
        _ body: @escaping @Sendable (Connection) throws -> Value
    ) async throws -> Value {
        // The borrower's trace, for the spans of the prepared statements `body` runs on the pool
        // thread, where the task's context is out of reach (see `Connection.spanParent`).
        let parent = InstrumentationContext.current
        return try await run(try await acquire()) { connection in
            connection.spanParent = parent
            defer { connection.spanParent = nil }
            return try body(connection)
        }
    }

    /// Runs one prepared statement on a pooled connection: without a thread hop when the
    /// connection has prepared it before and is not encrypted (`Connection.isEncrypted`), otherwise
    /// (first use, a reconnect, encryption) on a pool thread, which prepares it.
    @discardableResult
    public func execute(
        _ statement: PreparedStatement,
        _ parameters: [(any PostgresEncodable)?] = []
    ) async throws -> QueryResult {
        // A client span named by the statement, never its text, inside the caller's span (no-op
        // unless spans are exported); none for callers outside any span (background loops).
        guard let parent = InstrumentationContext.current else {
            return try await executeUntraced(statement, parameters)
        }
        let span = startSpan(statement.name, context: parent, ofKind: .client)
        defer { span.end() }
        if span.isRecording {
            span.attributes["db.system"] = "postgresql"
            span.attributes["db.operation.name"] = statement.name
        }
        do {
            return try await executeUntraced(statement, parameters)
        } catch {
            span.recordError(error)
            throw error
        }
    }

    private func executeUntraced(
        _ statement: PreparedStatement,
        _ parameters: [(any PostgresEncodable)?]
    ) async throws -> QueryResult {
        let lease = try await acquire()
        guard case .existing(let connection) = lease, connection.hasPrepared(statement), !connection.isEncrypted,
            connection.isUsableAfterIdle(), let monitor = beginNonBlockingBorrow()
        else {
            return try await run(lease) { try $0.execute(statement, parameters) }
        }
        defer { endNonBlockingBorrow() }
        nonBlockingStatementCount.add(1, ordering: .relaxed)
        do {
            let result = try await connection.executePrepared(statement, parameters, waitingOn: monitor)
            try await finishNonBlockingBorrow(connection)
            return result
        } catch {
            try? await finishNonBlockingBorrow(connection)
            throw error
        }
    }

    /// Runs `body` with the connection `lease` stands for, on a pool thread, and returns the
    /// connection to the pool.
    private func run<Value: Sendable>(
        _ lease: Lease,
        _ body: @escaping @Sendable (Connection) throws -> Value
    ) async throws -> Value {
        let settings = self.settings
        do {
            let (value, connection): (Value, Connection) = try await threadPool.runIfActive {
                let connection: Connection
                switch lease {
                case .existing(let idle):
                    if !idle.isUsableAfterIdle() { try idle.reset() }
                    connection = idle
                case .openNew:
                    connection = try Connection(settings: settings)
                }
                do {
                    let value = try body(connection)
                    if connection.isInTransaction { try connection.query("ROLLBACK") }
                    return (value, connection)
                } catch {
                    if connection.isOpen, connection.isInTransaction { _ = try? connection.query("ROLLBACK") }
                    throw BorrowFailure(underlying: error, connection: connection)
                }
            }
            release(connection)
            return value
        } catch let failure as BorrowFailure {
            release(failure.connection)
            throw failure.underlying
        } catch {
            // The connection could not be opened or reset, or the thread pool stopped.
            release(lease.connection)
            throw error
        }
    }

    /// Returns a connection a non-blocking statement used. A statement that opened a
    /// transaction (a prepared `BEGIN`) leaves one to roll back, which blocks, so on a pool
    /// thread.
    private func finishNonBlockingBorrow(_ connection: Connection) async throws {
        guard connection.isReusable, connection.isInTransaction else {
            release(connection)
            return
        }
        try await run(.existing(connection)) { _ in }
    }

    /// The readiness monitor for a non-blocking statement, counted as in flight until
    /// `endNonBlockingBorrow`; `nil` (use a pool thread) after shutdown or when the monitor
    /// could not be made.
    private func beginNonBlockingBorrow() -> SocketReadinessMonitor? {
        enum Outcome {
            case monitor(SocketReadinessMonitor)
            case unavailable
            case failed(String)
        }
        let outcome = state.withLock { state -> Outcome in
            guard !state.isShutDown, !state.monitorFailed else { return .unavailable }
            if let monitor = state.monitor, !monitor.isRunning {
                // Its `epoll_wait` failed; statements go through the pool threads from now on.
                state.monitor = nil
                state.monitorFailed = true
                return .failed("the readiness monitor stopped")
            }
            if state.monitor == nil {
                do {
                    state.monitor = try SocketReadinessMonitor()
                } catch {
                    state.monitorFailed = true
                    return .failed("\(error)")
                }
            }
            guard let monitor = state.monitor else { return .unavailable }
            state.nonBlockingBorrowers += 1
            return .monitor(monitor)
        }
        switch outcome {
        case .monitor(let monitor):
            return monitor
        case .unavailable:
            return nil
        case .failed(let reason):
            logger.warning("non-blocking statements are off: \(reason)")
            return nil
        }
    }

    private func endNonBlockingBorrow() {
        let drained = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.nonBlockingBorrowers -= 1
            guard state.nonBlockingBorrowers == 0 else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        for shutdown in drained { shutdown.resume() }
    }

    /// Runs `body` in a transaction on a pooled connection: committed when it returns,
    /// rolled back when it throws.
    @discardableResult
    public func withTransaction<Value: Sendable>(
        _ body: @escaping @Sendable (Connection) throws -> Value
    ) async throws -> Value {
        try await withConnection { connection in
            try connection.transaction(body)
        }
    }

    /// Closes idle connections, fails waiters and stops the threads. Borrowers still running
    /// finish first.
    public func shutdown() async {
        stopFailingOverdueWaiters()
        let waiters = state.withLock { state in
            state.isShutDown = true
            state.openCount -= state.idle.count
            state.idle = []
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters {
            waiter.continuation.resume(throwing: PostgresError(code: .poolShutDown, message: "the pool shut down"))
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let drained = state.withLock { state -> Bool in
                if state.nonBlockingBorrowers == 0 { return true }
                state.drained.append(continuation)
                return false
            }
            if drained { continuation.resume() }
        }
        let monitor = state.withLock { state in
            defer { state.monitor = nil }
            return state.monitor
        }
        monitor?.stop()
        try? await threadPool.shutdownGracefully()
    }

    deinit {
        // A pool dropped without `shutdown()` must not leave the monitor's thread behind.
        state.withLock { $0.monitor }?.stop()
        stopFailingOverdueWaiters()
    }

    private func stopFailingOverdueWaiters() {
        let tick = state.withLock { state in
            defer { state.overdueWaiterTick = nil }
            return state.overdueWaiterTick
        }
        if let tick { AnswerWatchdog.shared.removeTick(tick) }
    }

    /// Fails the borrowers that have waited for a connection past their deadline.
    private func failOverdueWaiters(at now: ContinuousClock.Instant) {
        let overdue = state.withLock { state -> [Waiter] in
            // Waiters queue in arrival order with one deadline each, so the first is the oldest.
            guard let first = state.waiters.first?.deadline, first <= now else { return [] }
            let overdue = state.waiters.filter { $0.deadline.map { $0 <= now } ?? false }
            state.waiters.removeAll { $0.deadline.map { $0 <= now } ?? false }
            return overdue
        }
        guard !overdue.isEmpty, let answerDeadline = settings.timeouts.answerDeadline else { return }
        let error = PostgresError(
            code: .timedOut,
            message: "no database connection became free within \(answerDeadline.wholeMilliseconds) ms"
        )
        metrics.waitTimeouts.increment(by: overdue.count)
        for waiter in overdue { waiter.continuation.resume(throwing: error) }
    }

    /// A connection or the right to open one, and the wait for it in `postgres_pool_wait_seconds`.
    private func acquire() async throws -> Lease {
        let start = ContinuousClock.now
        let lease = try await waitForLease()
        let waited = ContinuousClock.now - start
        metrics.wait.recordNanoseconds(
            waited.components.seconds * 1_000_000_000 + waited.components.attoseconds / 1_000_000_000
        )
        return lease
    }

    private func waitForLease() async throws -> Lease {
        enum Decision {
            case lease(Lease)
            case wait(Int)
            case shutDown
        }
        let id = state.withLock { state -> Int in
            defer { state.nextWaiterID += 1 }
            return state.nextWaiterID
        }
        let deadline = settings.timeouts.answerDeadline.map { ContinuousClock.now + $0 }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Lease, any Error>) in
                let decision = state.withLock { state -> Decision in
                    if state.isShutDown { return .shutDown }
                    if let connection = state.idle.popLast() { return .lease(.existing(connection)) }
                    if state.openCount < maximumConnections {
                        state.openCount += 1
                        return .lease(.openNew)
                    }
                    state.waiters.append(Waiter(id: id, continuation: continuation, deadline: deadline))
                    return .wait(id)
                }
                switch decision {
                case .lease(let lease): continuation.resume(returning: lease)
                case .shutDown:
                    continuation.resume(throwing: PostgresError(code: .poolShutDown, message: "the pool shut down"))
                case .wait: break
                }
            }
        } onCancel: {
            let waiter = state.withLock { state -> Waiter? in
                guard let index = state.waiters.firstIndex(where: { $0.id == id }) else { return nil }
                return state.waiters.remove(at: index)
            }
            waiter?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Returns a connection (or, with `nil`, the slot of one that could not be opened) to the
    /// pool, handing it straight to the longest waiter when there is one.
    private func release(_ connection: Connection?) {
        let usable = connection.flatMap { $0.isReusable ? $0 : nil }
        let waiter = state.withLock { state -> (Waiter, Lease)? in
            if !state.waiters.isEmpty {
                let waiter = state.waiters.removeFirst()
                return (waiter, usable.map(Lease.existing) ?? .openNew)
            }
            if let usable, !state.isShutDown {
                state.idle.append(usable)
            } else {
                state.openCount -= 1
            }
            return nil
        }
        if let (waiter, lease) = waiter {
            waiter.continuation.resume(returning: lease)
        }
        if connection != nil, usable == nil {
            logger.warning("discarded a broken Postgres connection; the next borrower reconnects")
        }
    }
}

extension ConnectionPool {
    /// Runs one statement on a pooled connection.
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) async throws -> QueryResult {
        try await withConnection { try $0.query(sql, parameters) }
    }
}

/// Carries the connection out of a failed borrow so it can be returned to the pool.
private struct BorrowFailure: Error, @unchecked Sendable {
    let underlying: any Error
    let connection: Connection
}

extension ConnectionPool: Service {
    /// Keeps the pool open until graceful shutdown, then closes it. List the pool before the
    /// services that use it: a `ServiceGroup` stops services in reverse order.
    public func run() async throws {
        try? await gracefulShutdown()
        await shutdown()
    }
}
