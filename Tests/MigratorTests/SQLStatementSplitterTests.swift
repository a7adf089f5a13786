import Testing

@testable import Migrator

@Suite struct SQLStatementSplitterTests {
    @Test func splitsAtTopLevelSemicolonsAndTrims() {
        #expect(
            SQLStatementSplitter.split("CREATE TABLE a (id int);\n  INSERT INTO a VALUES (1) ;\nSELECT 1")
                == ["CREATE TABLE a (id int)", "INSERT INTO a VALUES (1)", "SELECT 1"]
        )
    }

    @Test func emptyAndWhitespaceOnlyScriptsGiveNoStatements() {
        #expect(SQLStatementSplitter.split("").isEmpty)
        #expect(SQLStatementSplitter.split("  \n\t ;; ; \n").isEmpty)
    }

    @Test func semicolonsInsideSingleQuotesDoNotSplit() {
        #expect(
            SQLStatementSplitter.split("INSERT INTO t VALUES ('a;b'); SELECT 2")
                == ["INSERT INTO t VALUES ('a;b')", "SELECT 2"]
        )
    }

    @Test func doubledQuoteIsAnEscapeNotTheEnd() {
        #expect(
            SQLStatementSplitter.split("SELECT 'it''s; fine'; SELECT 2")
                == ["SELECT 'it''s; fine'", "SELECT 2"]
        )
        // An empty string literal followed by a semicolon.
        #expect(SQLStatementSplitter.split("SELECT ''; SELECT 2") == ["SELECT ''", "SELECT 2"])
    }

    @Test func backslashEscapesOnlyInEStrings() {
        #expect(
            SQLStatementSplitter.split(#"SELECT E'it\'s; still quoted'; SELECT 2"#)
                == [#"SELECT E'it\'s; still quoted'"#, "SELECT 2"]
        )
        #expect(
            SQLStatementSplitter.split(#"SELECT e'\\'; SELECT 2"#) == [#"SELECT e'\\'"#, "SELECT 2"]
        )
        // In a standard string a backslash is an ordinary character: the string ends at the quote.
        #expect(
            SQLStatementSplitter.split(#"SELECT 'C:\'; SELECT 2"#) == [#"SELECT 'C:\'"#, "SELECT 2"]
        )
    }

    @Test func doubleQuotedIdentifiersMayHoldSemicolonsAndDoubledQuotes() {
        #expect(
            SQLStatementSplitter.split(#"CREATE TABLE "odd;name" ("say ""hi"";" int); SELECT 2"#)
                == [#"CREATE TABLE "odd;name" ("say ""hi"";" int)"#, "SELECT 2"]
        )
    }

    @Test func lineCommentsMayHoldSemicolons() {
        let statements = SQLStatementSplitter.split(
            """
            -- first; a comment with a semicolon
            SELECT 1; -- trailing; comment
            SELECT 2
            """
        )
        #expect(statements.count == 2)
        #expect(statements[0].hasSuffix("SELECT 1"))
        #expect(statements[1].hasPrefix("-- trailing; comment"))
        #expect(statements[1].hasSuffix("SELECT 2"))
    }

    @Test func nestedBlockCommentsAreSkippedAsAWhole() {
        let statements = SQLStatementSplitter.split(
            "SELECT 1 /* outer; /* inner; */ still comment; */ + 1; SELECT 2"
        )
        #expect(statements == ["SELECT 1 /* outer; /* inner; */ still comment; */ + 1", "SELECT 2"])
    }

    @Test func dollarQuotedBodiesKeepTheirSemicolons() {
        let function = """
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM 1; PERFORM 'x;y';
                RETURN 1;
            END;
            $$
            """
        #expect(SQLStatementSplitter.split(function + ";\nSELECT f();") == [function, "SELECT f()"])
    }

    @Test func taggedDollarQuotesMayNestOtherTags() {
        let statement = "DO $outer$ BEGIN EXECUTE $inner$ SELECT 1; $inner$; END $outer$"
        #expect(SQLStatementSplitter.split(statement + "; SELECT 2") == [statement, "SELECT 2"])
        let withDigits = "SELECT $t1$ a; b $t1$"
        #expect(SQLStatementSplitter.split(withDigits + "; SELECT 2") == [withDigits, "SELECT 2"])
    }

    @Test func positionalParametersAreNotDollarQuotes() {
        #expect(
            SQLStatementSplitter.split("PREPARE p (int, int) AS SELECT $1 + $2; EXECUTE p (1, 2)")
                == ["PREPARE p (int, int) AS SELECT $1 + $2", "EXECUTE p (1, 2)"]
        )
        // `$1$` is not a tag either: a tag cannot start with a digit.
        #expect(SQLStatementSplitter.split("SELECT $1$; SELECT 2").count == 2)
    }

    @Test func commentOnlyTrailingTextIsDropped() {
        #expect(
            SQLStatementSplitter.split("SELECT 1;\n-- the end; really\n/* and a block; */\n  \n")
                == ["SELECT 1"]
        )
        #expect(SQLStatementSplitter.split("-- nothing but a comment;\n").isEmpty)
        #expect(SQLStatementSplitter.split("/* only ; comment */").isEmpty)
    }

    @Test func markerLineStaysWithTheFirstStatement() {
        let statements = SQLStatementSplitter.split(
            "\(MigrationFile.noTransactionMarker)\nCREATE INDEX CONCURRENTLY i ON t (a);\nCREATE INDEX CONCURRENTLY j ON t (b);\n"
        )
        #expect(statements.count == 2)
        #expect(statements[0].hasSuffix("CREATE INDEX CONCURRENTLY i ON t (a)"))
        #expect(statements[1] == "CREATE INDEX CONCURRENTLY j ON t (b)")
    }
}

@Suite struct MigrationFileTests {
    @Test func parsesWellFormedNames() throws {
        let parsed = try #require(MigrationFile.parseFileName("0001_initial_schema.sql"))
        #expect(parsed.version == 1)
        #expect(parsed.name == "initial_schema")
        #expect(MigrationFile.parseFileName("0042_add_2fa.sql")?.version == 42)
        #expect(MigrationFile.parseFileName("12345_big.sql")?.version == 12345)
    }

    @Test(arguments: [
        "abc.sql", "001_short.sql", "0000_zero.sql", "0001-dash.sql", "0001_.sql", "0001_Capital.sql",
        "0001_has space.sql", "0001_1starts_with_digit.sql", "0001_name.SQL", "0001_name",
    ])
    func rejectsMisnamedFiles(fileName: String) {
        #expect(MigrationFile.parseFileName(fileName) == nil)
    }

    @Test func noTransactionMarkerOnlyCountsOnTheFirstLine() {
        func file(_ sql: String) -> MigrationFile {
            MigrationFile(version: 1, name: "x", fileName: "0001_x.sql", contents: Array(sql.utf8))
        }
        #expect(file("CREATE TABLE t (id int);").runsInTransaction)
        #expect(!file("-- migrator: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (id);").runsInTransaction)
        #expect(file("-- hello\n-- migrator: no-transaction\nSELECT 1;").runsInTransaction)
    }

    /// A file saved with Windows line endings: in Swift "\r\n" is ONE Character, equal to
    /// neither "\r" nor "\n", so a first-line scan that compares Characters runs past it.
    @Test func noTransactionMarkerWorksWithCRLFLineEndings() {
        let file = MigrationFile(
            version: 1,
            name: "x",
            fileName: "0001_x.sql",
            contents: Array("-- migrator: no-transaction\r\nCREATE INDEX CONCURRENTLY i ON t (id);\r\n".utf8)
        )
        #expect(!file.runsInTransaction)
    }

    @Test func checksumIsSHA256OfTheBytes() {
        let file = MigrationFile(version: 1, name: "x", fileName: "0001_x.sql", contents: Array("abc".utf8))
        #expect(file.checksum == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
