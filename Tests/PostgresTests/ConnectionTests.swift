import Foundation
import Postgres
import TestSupport
import Testing

@Suite(.requiresDatabase, .offTheCooperativePool) struct ConnectionTests {
    /// The suite's blocking libpq calls must not hold the cooperative pool's threads: its
    /// bodies run on `BlockingTestExecutor`'s, which NIO names "TP-#N".
    @Test func bodiesRunOffTheCooperativePool() async throws {
        #expect(currentThreadName().hasPrefix("TP-#"))
        try await Task.sleep(for: .milliseconds(1))
        #expect(currentThreadName().hasPrefix("TP-#"), "still off the pool after a suspension")
    }

    @Test func parametersWithQuotesAndSQLTravelVerbatim() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            try connection.query("CREATE TABLE notes (body text NOT NULL)")
            let hostile = #"O'Reilly "quoted" \backslash; DROP TABLE notes; --"#
            try connection.query("INSERT INTO notes (body) VALUES ($1)", [hostile])
            let row = try #require(try connection.query("SELECT body FROM notes").first)
            #expect(try row.decode("body", as: String.self) == hostile)
            #expect(try connection.query("SELECT count(*) AS n FROM notes").first?.decode("n", as: Int.self) == 1)
        }
    }

    @Test func stringsWithNULAreRejectedBeforeReachingTheServer() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let error = try #require(throws: PostgresError.self) {
                try connection.query("SELECT $1::text AS v", ["before\u{0}after"])
            }
            #expect(error.code == .invalidParameter)
            #expect(error.description.contains("$1"))
            // The connection is still fine afterwards.
            #expect(try connection.query("SELECT $1::text AS v", ["ok"]).first?.decode("v", as: String.self) == "ok")
            #expect(throws: PostgresError.self) { try connection.executeScript("SELECT 1;\u{0}") }
        }
    }

    @Test func unicodeRoundTripsAndTheServerCountsCharacters() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let text = "Zürich 東京 🚧 naïve e\u{301}"
            let row = try #require(try connection.query("SELECT $1::text AS v, length($1::text) AS n", [text]).first)
            #expect(try row.decode("v", as: String.self) == text)
            #expect(try row.decode("n", as: Int.self) == text.unicodeScalars.count)
        }
    }

    @Test func largeTextRoundTrips() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let text = String(repeating: "0123456789abcdef✓", count: 400_000)
            let row = try #require(try connection.query("SELECT $1::text AS v, md5($1::text) AS h", [text]).first)
            #expect(try row.decode("v", as: String.self) == text)
            #expect(try row.decode("h", as: String.self).count == 32)
        }
    }

    @Test func valuesOfEveryTypeRoundTrip() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let id = UUID()
            let date = Date(timeIntervalSince1970: 1_764_094_601.123456)
            let bytes = ByteArray([0, 1, 2, 255, 0, 10])
            let row = try #require(
                try connection.query(
                    "SELECT $1::uuid AS id, $2::timestamptz AS at, $3::bytea AS raw, $4::bigint AS big, "
                        + "$5::boolean AS flag, $6::float8 AS ratio, $7::text AS missing",
                    [id, date, bytes, Int64.max, true, 0.25, nil]
                ).first
            )
            #expect(try row.decode("id", as: UUID.self) == id)
            let decodedDate = try row.decode("at", as: Date.self)
            #expect(abs(decodedDate.timeIntervalSince(date)) < 0.000_001)
            #expect(try row.decode("raw", as: ByteArray.self) == bytes)
            #expect(try row.decode("big", as: Int64.self) == Int64.max)
            #expect(try row.decode("flag", as: Bool.self))
            #expect(try row.decode("ratio", as: Double.self) == 0.25)
            #expect(try row.decodeIfPresent("missing", as: String.self) == nil)
            #expect(throws: PostgresError.self) { try row.decode("missing", as: String.self) }
            #expect(throws: PostgresError.self) { try row.decode("no_such_column", as: String.self) }
            #expect(throws: PostgresError.self) { try row.decode("raw", as: Int.self) }
        }
    }

    @Test func datesBeforeTheEpochAndAtDayBoundariesDecode() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            for text in ["1969-12-31 23:59:59.5+00", "2000-02-29 00:00:00+00", "2026-11-25 18:16:41.000001+00"] {
                let row = try #require(
                    try connection.query(
                        "SELECT $1::timestamptz AS at, extract(epoch FROM $1::timestamptz)::float8 AS epoch",
                        [text]
                    ).first
                )
                let date = try row.decode("at", as: Date.self)
                #expect(abs(date.timeIntervalSince1970 - (try row.decode("epoch", as: Double.self))) < 0.000_01)
                let echoed = try #require(
                    try connection.query("SELECT $1::timestamptz = $2::timestamptz AS same", [date, text]).first
                )
                #expect(try echoed.decode("same", as: Bool.self))
            }
        }
    }

    @Test func serverErrorsKeepSQLStateAndConstraint() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            try connection.query("CREATE TABLE keys (k text CONSTRAINT keys_k_unique UNIQUE)")
            try connection.query("INSERT INTO keys VALUES ($1)", ["secret-value"])
            let error = try #require(throws: PostgresError.self) {
                try connection.query("INSERT INTO keys VALUES ($1)", ["secret-value"])
            }
            #expect(error.code == .serverError)
            #expect(error.sqlState == "23505")
            #expect(error.isUniqueViolation)
            #expect(error.constraint == "keys_k_unique")
            // Row values stay out of the loggable description.
            #expect(!error.description.contains("secret-value"))
            let syntax = try #require(throws: PostgresError.self) { try connection.query("SELEC 1") }
            #expect(syntax.sqlState == "42601")
        }
    }

    @Test func transactionRollsBackWhenTheBodyThrows() async throws {
        struct Abort: Error {}
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            try connection.query("CREATE TABLE items (n int)")
            #expect(throws: Abort.self) {
                try connection.transaction { connection in
                    try connection.query("INSERT INTO items VALUES (1)")
                    throw Abort()
                }
            }
            #expect(throws: PostgresError.self) {
                try connection.transaction { connection in
                    try connection.query("INSERT INTO items VALUES (2)")
                    try connection.query("INSERT INTO items VALUES ('not a number')")
                }
            }
            #expect(!connection.isInTransaction)
            try connection.transaction { try $0.query("INSERT INTO items VALUES (3)") }
            let values = try connection.query("SELECT n FROM items").rows.map { try $0.decode("n", as: Int.self) }
            #expect(values == [3])
        }
    }

    @Test func preparedStatementsArePreparedOncePerConnection() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let statement = PreparedStatement(name: "add_numbers", sql: "SELECT $1::int + $2::int AS sum")
            #expect(try connection.execute(statement, [1, 2]).first?.decode("sum", as: Int.self) == 3)
            #expect(try connection.execute(statement, [40, 2]).first?.decode("sum", as: Int.self) == 42)
            let prepared = try connection.query(
                "SELECT count(*) AS n FROM pg_prepared_statements WHERE name = $1",
                ["add_numbers"]
            )
            #expect(try prepared.first?.decode("n", as: Int.self) == 1)
        }
    }

    @Test func scriptsRunSeveralStatementsAndReportTheFirstError() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            try connection.executeScript("CREATE TABLE a (n int); INSERT INTO a VALUES (1); INSERT INTO a VALUES (2);")
            #expect(try connection.query("SELECT count(*) AS n FROM a").first?.decode("n", as: Int.self) == 2)
            let error = try #require(throws: PostgresError.self) {
                try connection.executeScript("INSERT INTO a VALUES (3); SELECT 1/0; INSERT INTO a VALUES (4);")
            }
            #expect(error.sqlState == "22012")
            // A multi-statement script is one implicit transaction: nothing of it stays.
            #expect(try connection.query("SELECT count(*) AS n FROM a").first?.decode("n", as: Int.self) == 2)
        }
    }

    @Test func connectionSettingsRejectMalformedStringsAndUnreachableServers() throws {
        #expect(throws: PostgresError.self) {
            try ConnectionSettings(connectionString: "host=localhost port", applicationName: "tests")
        }
        let settings = try ConnectionSettings(
            connectionString: "postgresql://postgres@127.0.0.1:1/none",
            applicationName: "tests",
            timeouts: ConnectionTimeouts(connect: .seconds(2))
        )
        let error = try #require(throws: PostgresError.self) { try Connection(settings: settings) }
        #expect(error.code == .connectionFailed)
        #expect(error.isConnectionProblem)
    }

    @Test func applicationNameIsSetOnTheSession() async throws {
        try await TestDatabase.withFresh { database in
            let settings = try ConnectionSettings(
                connectionString: database.connectionString,
                applicationName: "photo-api"
            )
            let connection = try Connection(settings: settings)
            let row = try #require(try connection.query("SELECT current_setting('application_name') AS name").first)
            #expect(try row.decode("name", as: String.self) == "photo-api")
        }
    }
}

@Suite(.requiresDatabase, .offTheCooperativePool) struct ArrayParameterTests {
    @Test func arraysRoundTripThroughUnnest() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let texts = ["plain", "with,comma", "{braces}", #"quote " and \ backslash"#, "", "NULL", "ünï 🚧"]
            let rows = try connection.query(
                "SELECT value FROM unnest($1::text[]) WITH ORDINALITY AS t(value, n) ORDER BY n",
                [texts]
            )
            #expect(try rows.rows.map { try $0.decode("value", as: String.self) } == texts)
            let ids = [UUID(), UUID()]
            let count = try connection.query(
                "SELECT count(*) AS n FROM unnest($1::uuid[]) AS u(id) WHERE id = ANY($1::uuid[])",
                [ids]
            )
            #expect(try count.first?.decode("n", as: Int.self) == 2)
            let sum = try connection.query("SELECT sum(v) AS s FROM unnest($1::bigint[]) AS t(v)", [[Int64(1), 2, 3]])
            #expect(try sum.first?.decode("s", as: Int.self) == 6)
            let empty = try connection.query("SELECT cardinality($1::text[]) AS n", [[String]()])
            #expect(try empty.first?.decode("n", as: Int.self) == 0)
        }
    }
}

/// The name the current thread was given (NIO names its pools' threads), as Linux reports it.
private func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? ""
    return name.trimmingCharacters(in: .whitespacesAndNewlines)
}
