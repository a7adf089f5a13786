/// An error from Postgres or from talking to it.
///
/// `description` is safe to log and to show an operator: it carries the server's primary message
/// and the SQLSTATE, never parameter values. The server's `detail` (which can quote row values)
/// is only in `debugDescription`.
///
/// Its fields can be set only inside this module: an error reports what the server or libpq
/// said, so no other module may rewrite it on its way to a log line or a response.
public struct PostgresError: Error, Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    /// What went wrong, independent of the server's wording.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Sendable {
            case invalidConnectionString
            case connectionFailed
            case connectionLost
            case serverError
            case invalidParameter
            case decodingFailed
            case poolShutDown
            case timedOut
        }

        private let base: Base

        /// `DATABASE_URL` (or another connection string) could not be parsed by libpq.
        public static let invalidConnectionString = Code(base: .invalidConnectionString)
        /// A new connection could not be opened.
        public static let connectionFailed = Code(base: .connectionFailed)
        /// An open connection broke (server restart, network failure); the outcome of the
        /// statement that was running is unknown.
        public static let connectionLost = Code(base: .connectionLost)
        /// The server rejected a statement; `sqlState` says why.
        public static let serverError = Code(base: .serverError)
        /// A parameter cannot be sent, for example a string holding a NUL character.
        public static let invalidParameter = Code(base: .invalidParameter)
        /// A result value could not be decoded into the requested Swift type.
        public static let decodingFailed = Code(base: .decodingFailed)
        /// The pool was shut down while the caller was waiting for a connection.
        public static let poolShutDown = Code(base: .poolShutDown)
        /// No answer, or no free connection, within the client's deadline
        /// (``ConnectionTimeouts/answerDeadline``); a connection that timed out was closed.
        public static let timedOut = Code(base: .timedOut)

        public var description: String { base.rawValue }
    }

    public internal(set) var code: Code
    /// The five-character SQLSTATE reported by the server, when there is one.
    public internal(set) var sqlState: String?
    /// A message without row data: the server's primary message or our own.
    public internal(set) var message: String
    /// The server's detail line; may contain data values, so it stays out of `description`.
    public internal(set) var detail: String?
    /// The constraint a violation names, e.g. `photos_s3_key_key`.
    public internal(set) var constraint: String?

    public init(
        code: Code,
        message: String,
        sqlState: String? = nil,
        detail: String? = nil,
        constraint: String? = nil
    ) {
        self.code = code
        self.message = message
        self.sqlState = sqlState
        self.detail = detail
        self.constraint = constraint
    }

    /// SQLSTATE 23505.
    public var isUniqueViolation: Bool { sqlState == "23505" }

    /// The connection is gone or could not be made; retrying on a new connection may succeed.
    public var isConnectionProblem: Bool {
        code == .connectionFailed || code == .connectionLost || sqlState?.hasPrefix("08") == true
            || sqlState == "57P01" || sqlState == "57P02" || sqlState == "57P03"
    }

    /// The client's deadline passed (``Code/timedOut``) or the server cancelled the statement at
    /// its `statement_timeout` (SQLSTATE 57014).
    public var isTimeout: Bool {
        code == .timedOut || sqlState == "57014"
    }

    /// The database cannot serve now, though it may soon: a lost or refused connection, or a
    /// timeout. What a caller reports as "unavailable, retry later" rather than as a fault.
    public var isUnavailable: Bool {
        isConnectionProblem || isTimeout
    }

    public var description: String {
        var text = "\(code): \(message)"
        if let sqlState { text += " (SQLSTATE \(sqlState))" }
        return text
    }

    public var debugDescription: String {
        var text = description
        if let constraint { text += " constraint=\(constraint)" }
        if let detail { text += " detail=\(detail)" }
        return text
    }
}
