import CLibPQ
import Foundation
import Instrumentation
import Tracing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One libpq connection. Every method blocks the calling thread until the server answers.
///
/// Use it through `ConnectionPool` or `NotificationListener`, which run it on their own
/// threads, never on a NIO event loop or the cooperative pool. It is not thread-safe: the
/// pool lends it to one borrower at a time, which is why it can be `@unchecked Sendable`.
public final class Connection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let answerDeadline: Duration?
    private let sessionSettings: [(String, Int64)]
    private var preparedStatements: Set<String> = []
    /// Set when an answer did not arrive in time and the watchdog shut the socket down: the
    /// statement's outcome is unknown, so the connection is never used again.
    private var isAbandoned = false
    /// The trace of the task that borrowed this connection, while a `withConnection` body runs
    /// on a pool thread: the parent of its statements' spans. Only that thread touches it.
    var spanParent: InstrumentationContext?

    /// Opens a connection and sets the session up (UTC time zone, ISO dates) so that
    /// timestamps decode the same way on every connection, with the timeouts of `settings`.
    public init(settings: ConnectionSettings) throws {
        let options =
            [("dbname", settings.connectionString), ("application_name", settings.applicationName)]
            + settings.timeouts.connectionKeywords
        let keywords = options.map(\.0)
        let values = options.map(\.1)
        // expand_dbname = 1: the first dbname may be a whole connection string; keywords after
        // it override what it sets, so application_name and the timeouts always hold.
        let connection = withCStringArray(keywords) { keywordPointers in
            withCStringArray(values) { valuePointers in
                PQconnectdbParams(keywordPointers, valuePointers, 1)
            }
        }
        guard let connection else {
            throw PostgresError(code: .connectionFailed, message: "out of memory allocating a connection")
        }
        // From here on every stored property is set, so a throw runs deinit, which frees it.
        handle = connection
        answerDeadline = settings.timeouts.answerDeadline
        sessionSettings = settings.timeouts.sessionSettings
        // Server NOTICEs ("relation already exists, skipping") would otherwise go to stderr
        // as unstructured text; nothing here acts on them.
        PQsetNoticeProcessor(handle, { _, _ in }, nil)
        guard PQstatus(handle) == CONNECTION_OK else {
            throw PostgresError(code: .connectionFailed, message: lastErrorMessage)
        }
        try configureSession()
    }

    deinit {
        PQfinish(handle)
    }

    /// Whether libpq still considers the connection open, and no answer on it came too late.
    public var isOpen: Bool { !isAbandoned && PQstatus(handle) == CONNECTION_OK }

    /// Whether the connection sits inside a transaction block (open or failed).
    public var isInTransaction: Bool {
        let status = PQtransactionStatus(handle)
        return status == PQTRANS_INTRANS || status == PQTRANS_INERROR
    }

    /// The server's process id for this session, as `pg_stat_activity.pid` shows it.
    public var backendPID: Int { Int(PQbackendPID(handle)) }

    /// Runs one statement with parameters sent out of band (`PQexecParams`).
    @discardableResult
    public func query(_ sql: String, _ parameters: [(any PostgresEncodable)?] = []) throws -> QueryResult {
        try withAnswerDeadline {
            let result = try withParameterPointers(parameters) { pointers in
                PQexecParams(handle, sql, Int32(pointers.count), nil, pointers.baseAddress, nil, nil, 0)
            }
            return try consume(result)
        }
    }

    /// Runs a prepared statement, preparing it on this connection the first time.
    @discardableResult
    public func execute(
        _ statement: PreparedStatement,
        _ parameters: [(any PostgresEncodable)?] = []
    ) throws
        -> QueryResult
    {
        // A client span named by the statement when a borrower's trace came with the
        // connection (`ConnectionPool.withConnection`); `ConnectionPool.execute` spans its own.
        guard let spanParent else { return try executeUntraced(statement, parameters) }
        let span = startSpan(statement.name, context: spanParent, ofKind: .client)
        defer { span.end() }
        if span.isRecording {
            span.attributes["db.system"] = "postgresql"
            span.attributes["db.operation.name"] = statement.name
        }
        do {
            return try executeUntraced(statement, parameters)
        } catch {
            span.recordError(error)
            throw error
        }
    }

    private func executeUntraced(
        _ statement: PreparedStatement,
        _ parameters: [(any PostgresEncodable)?]
    ) throws -> QueryResult {
        try withAnswerDeadline {
            if !preparedStatements.contains(statement.name) {
                try consume(PQprepare(handle, statement.name, statement.sql, 0, nil))
                preparedStatements.insert(statement.name)
            }
            let result = try withParameterPointers(parameters) { pointers in
                PQexecPrepared(handle, statement.name, Int32(pointers.count), pointers.baseAddress, nil, nil, 0)
            }
            return try consume(result)
        }
    }

    /// Whether `statement` has been prepared on this connection.
    func hasPrepared(_ statement: PreparedStatement) -> Bool {
        preparedStatements.contains(statement.name)
    }

    /// Whether the session is encrypted (TLS or GSSAPI).
    ///
    /// libpq's asynchronous reads (`PQconsumeInput`) cannot see bytes the encryption layer
    /// still holds after a record larger than libpq's 8 kB read: the socket is no longer
    /// readable, yet the answer is not complete. Postgres 17 and later, and proxies, can send
    /// such records, so a pool keeps encrypted connections on its threads, whose blocking reads
    /// check the encryption layer's buffer first.
    var isEncrypted: Bool { PQsslInUse(handle) == 1 || PQgssEncInUse(handle) == 1 }

    /// Whether the connection can go back to a pool: open, and not in the middle of a
    /// statement (a non-blocking run that failed half-way leaves one in flight).
    var isReusable: Bool {
        isOpen && PQtransactionStatus(handle) != PQTRANS_ACTIVE && PQisnonblocking(handle) == 0
    }

    /// Runs `statement`, already prepared on this connection, with libpq's non-blocking calls:
    /// the calling task sends it, then suspends on `monitor` until the server has answered, so
    /// no thread blocks meanwhile.
    ///
    /// Cancelling the task abandons the statement (`CancellationError`; whether it ran is
    /// unknown) and with it the connection, as the answer deadline does (`timedOut`).
    func executePrepared(
        _ statement: PreparedStatement,
        _ parameters: [(any PostgresEncodable)?],
        waitingOn monitor: SocketReadinessMonitor
    ) async throws -> QueryResult {
        guard PQsetnonblocking(handle, 1) == 0 else { throw lostOrFailed() }
        // Back to blocking mode for the pool's other borrowers; nothing is left to flush then.
        defer { PQsetnonblocking(handle, 0) }
        let watch = watchAnswer()
        do {
            let answer = try await sendAndAwaitAnswer(statement, parameters, waitingOn: monitor)
            try endWatch(watch)
            return answer
        } catch {
            try endWatch(watch)
            // Cancelled with the statement in flight: its outcome is unknown.
            if error is CancellationError { isAbandoned = true }
            throw error
        }
    }

    private func sendAndAwaitAnswer(
        _ statement: PreparedStatement,
        _ parameters: [(any PostgresEncodable)?],
        waitingOn monitor: SocketReadinessMonitor
    ) async throws -> QueryResult {
        let sent = try withParameterPointers(parameters) { pointers in
            PQsendQueryPrepared(handle, statement.name, Int32(pointers.count), pointers.baseAddress, nil, nil, 0)
        }
        guard sent == 1 else { throw lostOrFailed() }
        try await flushOutput(waitingOn: monitor)
        // One statement yields one result; read on until libpq reports the end (the server's
        // ReadyForQuery), so the connection is idle again when this returns.
        var answer: Result<QueryResult, any Error>?
        do {
            while let result = try await nextResult(waitingOn: monitor) {
                let consumed = Result(catching: { try consume(result) })
                if answer == nil { answer = consumed }
            }
        } catch {
            // The server's own error (say, 57P01 when the backend was terminated) says more than
            // the lost connection that followed it.
            if case .failure(let serverError)? = answer { throw serverError }
            throw error
        }
        guard let answer else { throw lostOrFailed() }
        return try answer.get()
    }

    private func flushOutput(waitingOn monitor: SocketReadinessMonitor) async throws {
        while true {
            switch PQflush(handle) {
            case 0:
                return
            case 1:
                // The kernel's send buffer is full; libpq asks to read while waiting, so the
                // server is not blocked writing to us either.
                try await monitor.wait(for: PQsocket(handle), .readableOrWritable)
                guard PQconsumeInput(handle) == 1 else { throw lostOrFailed() }
            default:
                throw lostOrFailed()
            }
        }
    }

    /// The next result of the statement in flight, or `nil` when it has none left.
    private func nextResult(waitingOn monitor: SocketReadinessMonitor) async throws -> OpaquePointer? {
        while PQisBusy(handle) == 1 {
            try await monitor.wait(for: PQsocket(handle), .readable)
            guard PQconsumeInput(handle) == 1 else { throw lostOrFailed() }
        }
        return PQgetResult(handle)
    }

    /// Runs a script of one or more statements with the simple query protocol and no
    /// parameters. Only for trusted SQL such as migration files; several statements in one
    /// call run as one implicit transaction unless the script controls transactions itself.
    public func executeScript(_ sql: String) throws {
        guard !sql.utf8.contains(0) else {
            throw PostgresError(code: .invalidParameter, message: "the SQL text contains a NUL character")
        }
        try withAnswerDeadline {
            var failure: PostgresError?
            guard PQsendQuery(handle, sql) == 1 else { throw lostOrFailed() }
            // A multi-statement script yields one result per statement; drain them all so the
            // connection is ready for the next command, and report the first error.
            while let result = PQgetResult(handle) {
                do {
                    try consume(result)
                } catch let error as PostgresError {
                    if failure == nil { failure = error }
                }
            }
            if let failure { throw failure }
        }
    }

    /// Runs `body` inside `BEGIN` / `COMMIT`; any error thrown rolls the transaction back and
    /// is rethrown.
    @discardableResult
    public func transaction<Value>(_ body: (Connection) throws -> Value) throws -> Value {
        try query("BEGIN")
        do {
            let value = try body(self)
            try query("COMMIT")
            return value
        } catch {
            if isOpen { _ = try? query("ROLLBACK") }
            throw error
        }
    }

    /// Checks, without a round trip, that an idle connection was not closed by the server.
    ///
    /// A pooled connection does not LISTEN, so nothing should arrive while it is idle: a
    /// readable socket means the server sent a FATAL (restart, `pg_terminate_backend`) and
    /// closed it. libpq would only notice at the next query, which would then fail.
    func isUsableAfterIdle() -> Bool {
        guard isOpen else { return false }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        return poll(&descriptor, 1, 0) == 0
    }

    /// Reconnects with the original settings after the connection broke.
    func reset() throws {
        PQreset(handle)
        preparedStatements.removeAll()
        isAbandoned = false
        guard isOpen else { throw PostgresError(code: .connectionFailed, message: lastErrorMessage) }
        try configureSession()
    }

    /// Waits up to `timeoutMilliseconds` for asynchronous notifications (after `LISTEN`) and
    /// returns those that arrived. Throws `connectionLost` when the connection broke.
    func waitForNotifications(timeoutMilliseconds: Int32) throws -> [(channel: String, payload: String)] {
        var notifications = drainNotifications()
        guard notifications.isEmpty else { return notifications }
        var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
        let ready = poll(&descriptor, 1, timeoutMilliseconds)
        if ready > 0 {
            guard PQconsumeInput(handle) == 1 else {
                throw PostgresError(code: .connectionLost, message: lastErrorMessage)
            }
            notifications = drainNotifications()
        }
        guard isOpen else { throw PostgresError(code: .connectionLost, message: lastErrorMessage) }
        return notifications
    }

    private func drainNotifications() -> [(channel: String, payload: String)] {
        var notifications: [(channel: String, payload: String)] = []
        while let notification = PQnotifies(handle) {
            notifications.append(
                (String(cString: notification.pointee.relname), String(cString: notification.pointee.extra))
            )
            PQfreemem(notification)
        }
        return notifications
    }

    /// One round trip: the time zone and date style every decoder expects, and the server-side
    /// timeouts. The values are this process's own integers, never input.
    private func configureSession() throws {
        let timeouts = sessionSettings.map { "SET \($0.0) = \($0.1)" }
        try executeScript((["SET TimeZone = 'UTC'", "SET DateStyle = 'ISO, YMD'"] + timeouts).joined(separator: "; "))
    }

    /// Runs `body`, one exchange with the server, under the client's answer deadline.
    private func withAnswerDeadline<Value>(_ body: () throws -> Value) throws -> Value {
        let watch = watchAnswer()
        let result = Result(catching: body)
        try endWatch(watch)
        return try result.get()
    }

    private func watchAnswer() -> AnswerWatchdog.Watch? {
        answerDeadline.map { AnswerWatchdog.shared.watch(socket: PQsocket(handle), until: .now + $0) }
    }

    /// Throws `timedOut`, and retires the connection, when the watchdog shut its socket down:
    /// the answer came too late or not at all, and whatever libpq reported since is its echo.
    private func endWatch(_ watch: AnswerWatchdog.Watch?) throws {
        guard let watch, AnswerWatchdog.shared.end(watch), let answerDeadline else { return }
        isAbandoned = true
        throw PostgresError(
            code: .timedOut,
            message:
                "no answer from the server within \(answerDeadline.wholeMilliseconds) ms; the connection was closed"
        )
    }

    /// libpq's last message on one line (its messages can span several, e.g. "connection
    /// refused" followed by "Is the server running...").
    private var lastErrorMessage: String {
        guard let message = PQerrorMessage(handle) else { return "unknown libpq error" }
        let text = String(cString: message)
            .split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: "; ")
        return text.isEmpty ? "unknown libpq error" : text
    }

    private func lostOrFailed() -> PostgresError {
        PostgresError(code: isOpen ? .serverError : .connectionLost, message: lastErrorMessage)
    }

    /// Turns a `PGresult` into a `QueryResult` or a `PostgresError`, and frees it.
    @discardableResult
    private func consume(_ result: OpaquePointer?) throws -> QueryResult {
        guard let result else { throw lostOrFailed() }
        defer { PQclear(result) }
        switch PQresultStatus(result) {
        case PGRES_COMMAND_OK, PGRES_EMPTY_QUERY:
            return QueryResult(columns: [], values: [], affectedRows: affectedRows(result))
        case PGRES_TUPLES_OK:
            let rowCount = Int(PQntuples(result))
            let columnCount = Int(PQnfields(result))
            let columns = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
            var values = [[String?]]()
            values.reserveCapacity(rowCount)
            for row in 0..<Int32(rowCount) {
                var rowValues = [String?]()
                rowValues.reserveCapacity(columnCount)
                for column in 0..<Int32(columnCount) {
                    if PQgetisnull(result, row, column) == 1 {
                        rowValues.append(nil)
                    } else {
                        rowValues.append(String(cString: PQgetvalue(result, row, column)))
                    }
                }
                values.append(rowValues)
            }
            return QueryResult(columns: columns, values: values, affectedRows: rowCount)
        default:
            throw error(from: result)
        }
    }

    private func affectedRows(_ result: OpaquePointer) -> Int {
        guard let tuples = PQcmdTuples(result) else { return 0 }
        return Int(String(cString: tuples)) ?? 0
    }

    private func error(from result: OpaquePointer) -> PostgresError {
        func field(_ code: Character) -> String? {
            guard let ascii = code.asciiValue, let value = PQresultErrorField(result, Int32(ascii)) else {
                return nil
            }
            return String(cString: value)
        }
        let sqlState = field("C")
        let message = field("M") ?? lastErrorMessage
        let code: PostgresError.Code = isOpen ? .serverError : .connectionLost
        return PostgresError(
            code: code,
            message: message,
            sqlState: sqlState,
            detail: field("D"),
            constraint: field("n")
        )
    }
}

/// Calls `body` with C strings for `parameters`, rejecting strings that hold NUL: libpq
/// would silently cut them at the NUL, storing something other than what was asked.
private func withParameterPointers<Result>(
    _ parameters: [(any PostgresEncodable)?],
    _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) -> Result
) throws -> Result {
    var copies = [UnsafeMutablePointer<CChar>?]()
    copies.reserveCapacity(parameters.count)
    defer { for copy in copies { free(copy) } }
    for (position, parameter) in parameters.enumerated() {
        guard let parameter else {
            copies.append(nil)
            continue
        }
        let text = parameter.postgresText
        guard !text.utf8.contains(0) else {
            throw PostgresError(
                code: .invalidParameter,
                message: "parameter $\(position + 1) contains a NUL character, which Postgres text cannot hold"
            )
        }
        copies.append(strdup(text))
    }
    let constPointers = copies.map { UnsafePointer($0) }
    return constPointers.withUnsafeBufferPointer(body)
}

/// Calls `body` with a C array of C strings for `strings`.
private func withCStringArray<Result>(
    _ strings: [String],
    _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> Result
) -> Result {
    let copies = strings.map { strdup($0) }
    defer { for copy in copies { free(copy) } }
    let pointers = copies.map { UnsafePointer($0) } + [nil]
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}
