import Postgres
import TestSupport
import Testing

/// Typed statements (`Statement`) bind their own parameters and decode rows into Swift types.
@Suite(.requiresDatabase, .offTheCooperativePool) struct TypedStatementTests {
    enum Color: String { case red, green }

    struct Echo: Statement {
        static let prepared = PreparedStatement(
            name: "typed_statement_echo",
            sql: "SELECT $1::text AS color, $2::int AS number FROM generate_series(1, $3::int)"
        )
        let color: String
        let number: Int
        let rows: Int

        var bindings: [(any PostgresEncodable)?] { [color, number, rows] }

        func decodeRow(_ row: Row) throws -> (Color, Int) { (try row.decode("color"), try row.decode("number")) }
    }

    @Test func bindsInOrderAndDecodesEnums() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            let rows = try connection.execute(Echo(color: "green", number: 7, rows: 3))
            #expect(rows.count == 3)
            #expect(rows.allSatisfy { $0 == (.green, 7) })
            try await database.withPool(maximumConnections: 1) { pool in
                let red = try await pool.execute(Echo(color: "red", number: 1, rows: 1))
                #expect(red.first?.0 == .red)
            }
        }
    }

    @Test func aValueTheEnumDoesNotKnowIsADecodingError() async throws {
        try await TestDatabase.withFresh { database in
            let connection = try database.connect()
            #expect {
                try connection.execute(Echo(color: "blue", number: 1, rows: 1))
            } throws: { error in
                (error as? PostgresError)?.code == .decodingFailed
            }
        }
    }
}
