/// How long anything on a connection may take, so a lost network or a stuck server costs a
/// bounded wait instead of a wedged pool.
///
/// A failover or a dropped route can leave a TCP connection half open: the client's kernel
/// keeps waiting for an answer that will never come, for over two hours by default. The bounds
/// here work at three levels:
/// - the kernel: TCP keepalives find a peer that vanished while the connection was idle, and
///   `tcp_user_timeout` drops a connection whose sent data stays unacknowledged;
/// - the server: `statement_timeout` cancels a statement that runs too long, and
///   `idle_in_transaction_session_timeout` ends a session that holds a transaction open, and with
///   it the locks of a client that stopped talking;
/// - the client: ``answerDeadline`` gives up on a statement whose answer has not arrived some
///   time after the server would have cancelled it, which is what catches a network that still
///   acknowledges packets but delivers nothing (a stuck proxy or load balancer). The connection
///   is then closed, since the state of the statement is unknown.
public struct ConnectionTimeouts: Sendable, Equatable {
    /// The server's `statement_timeout`; `nil` lets statements run as long as they need, as
    /// the migrator's must (a `CREATE INDEX CONCURRENTLY` can take hours).
    public var statement: Duration?
    /// The server's `idle_in_transaction_session_timeout`; `nil` for none.
    public var idleInTransaction: Duration?
    /// libpq's `tcp_user_timeout`: how long sent data may stay unacknowledged before the kernel
    /// drops the connection. `nil` keeps the kernel's default (about 15 minutes of retransmits).
    public var tcpUser: Duration?
    /// How long a new connection may take, handshake and authentication included (libpq's
    /// `connect_timeout`, whole seconds, at least 2).
    public var connect: Duration
    /// Idle seconds before the first keepalive probe, seconds between probes, and probes
    /// missed before the kernel drops the connection.
    public var keepalivesIdleSeconds = 30
    public var keepalivesIntervalSeconds = 10
    public var keepalivesCount = 3

    /// What the client adds to the statement timeout before giving up on an answer: time for the
    /// server's cancellation to arrive.
    public static let answerGrace = Duration.seconds(2)

    public init(
        statement: Duration? = .seconds(15),
        idleInTransaction: Duration? = .seconds(60),
        tcpUser: Duration? = .seconds(10),
        connect: Duration = .seconds(5)
    ) {
        self.statement = statement
        self.idleInTransaction = idleInTransaction
        self.tcpUser = tcpUser
        self.connect = connect
    }

    /// How long the client waits for one statement's answer (or for a connection from a full
    /// pool) before it gives up: the statement timeout plus ``answerGrace``. `nil`, no limit,
    /// when statements have none.
    public var answerDeadline: Duration? {
        statement.map { $0 + Self.answerGrace }
    }

    /// The libpq connection keywords these timeouts set.
    var connectionKeywords: [(String, String)] {
        var keywords: [(String, String)] = [
            ("connect_timeout", String(max(2, connect.wholeMilliseconds / 1000))),
            ("keepalives", "1"),
            ("keepalives_idle", String(keepalivesIdleSeconds)),
            ("keepalives_interval", String(keepalivesIntervalSeconds)),
            ("keepalives_count", String(keepalivesCount)),
        ]
        if let tcpUser { keywords.append(("tcp_user_timeout", String(tcpUser.wholeMilliseconds))) }
        return keywords
    }

    /// The session settings these timeouts set, as `SET` values in milliseconds (`0` for none).
    var sessionSettings: [(String, Int64)] {
        [
            ("statement_timeout", statement?.wholeMilliseconds ?? 0),
            ("idle_in_transaction_session_timeout", idleInTransaction?.wholeMilliseconds ?? 0),
        ]
    }
}

extension Duration {
    /// Whole milliseconds, rounded down, saturating at `Int64.max`.
    var wholeMilliseconds: Int64 {
        let (whole, overflow) = components.seconds.multipliedReportingOverflow(by: 1000)
        return overflow ? .max : whole + components.attoseconds / 1_000_000_000_000_000
    }
}
