import Foundation

/// A locking or transaction hazard the linter knows, named as `-- migrator: allow <rule> <reason>`
/// names it.
public enum LintRule: String, Sendable, CaseIterable {
    /// `CREATE INDEX` without `CONCURRENTLY` on a table the file did not create: writes to the
    /// table wait (SHARE lock) for the whole build.
    case indexWithoutConcurrently = "index-without-concurrently"
    /// `ALTER COLUMN ... TYPE`: may rewrite the table and rebuild its indexes under ACCESS EXCLUSIVE.
    case columnTypeChange = "column-type-change"
    /// `ADD CONSTRAINT` of a `CHECK` or `FOREIGN KEY` without `NOT VALID`: every row is checked
    /// while the lock is held.
    case constraintWithoutNotValid = "constraint-without-not-valid"
    /// `SET NOT NULL` without a `CHECK (column IS NOT NULL)` validated before it in the file.
    case setNotNull = "set-not-null"
    /// `VACUUM FULL` rewrites the table under ACCESS EXCLUSIVE.
    case vacuumFull = "vacuum-full"
    /// `CLUSTER` rewrites the table under ACCESS EXCLUSIVE.
    case cluster
    /// `LOCK TABLE` in a migration.
    case lockTable = "lock-table"
    /// A statement Postgres refuses inside a transaction block, in a file that runs in one.
    case notInTransaction = "not-in-transaction"
    /// A `no-transaction` file with more than one statement: a failure half-way leaves the
    /// statements before it applied.
    case multipleStatementsWithoutTransaction = "no-transaction-multiple-statements"
    /// A function or `DO` body with SQL the linter cannot see through (dynamic `EXECUTE`, DDL):
    /// it says so rather than guess.
    case uncheckedBody = "unchecked-body"
    /// A malformed `-- migrator: allow` comment (unknown rule, no reason, nothing to silence).
    /// It cannot itself be allowed.
    case allowComment = "allow-comment"
}

/// One finding: where, which rule, and what to do about it.
public struct LintFinding: Sendable, Equatable, CustomStringConvertible {
    public let path: String
    public let line: Int
    public let rule: LintRule
    public let message: String

    public var description: String { "\(path):\(line): \(rule.rawValue): \(message)" }
}

/// Reads migration files for statements that lock or rewrite big tables, and for statements
/// that cannot run the way the file would run them. Works from the text alone: it cannot see a
/// table's size or the database's constraints, and its messages say so where that decides.
///
/// `-- migrator: allow <rule> <reason>` in the comments just above a statement (or inside it)
/// silences one finding of `rule` on that statement. A file that may not change any more (it is
/// applied, and its checksum is recorded) takes the same lines in `<file>.allow` next to it; each
/// silences one finding of its rule anywhere in the file.
public enum MigrationLinter {
    public static let allowPrefix = "migrator: allow"

    /// Lints every `.sql` file of each directory in `paths`, and each file named directly.
    public static func lint(paths: [String]) throws -> [LintFinding] {
        var findings: [LintFinding] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw MigratorError(.fileSystem, "lint: \(path) does not exist")
            }
            let files: [String]
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files = names.filter { $0.hasSuffix(".sql") }.sorted().map { "\(path)/\($0)" }
            } else {
                files = [path]
            }
            for file in files {
                guard let contents = FileManager.default.contents(atPath: file) else {
                    throw MigratorError(.fileSystem, "lint: cannot read \(file)")
                }
                let sidecar = FileManager.default.contents(atPath: file + ".allow").map {
                    String(decoding: $0, as: UTF8.self)
                }
                findings += lint(path: file, sql: String(decoding: contents, as: UTF8.self), allowFile: sidecar)
            }
        }
        return findings
    }

    /// Lints one file's text. `allowFile` is the text of its `.allow` file, if any.
    public static func lint(path: String, sql: String, allowFile: String? = nil) -> [LintFinding] {
        let firstLine = sql.prefix { !$0.isNewline }.trimmingCharacters(in: .whitespaces)
        let inTransaction = firstLine != MigrationFile.noTransactionMarker
        let statements = SQLStatementSplitter.scan(sql)
        let lineStarts = lineStartOffsets(sql)
        func line(of offset: Int) -> Int {
            var low = 0
            var high = lineStarts.count - 1
            while low < high {
                let middle = (low + high + 1) / 2
                if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
            }
            return low + 1
        }

        var findings: [LintFinding] = []
        var createdTables: Set<String> = []
        var validatedTables: Set<String> = []
        for (position, statement) in statements.enumerated() {
            let statementLine = line(of: statement.codeOffset)
            var raw = hazards(
                in: statement,
                inTransaction: inTransaction,
                createdTables: createdTables,
                validatedTables: validatedTables
            )
            if !inTransaction, position == 1 {
                raw.append(
                    (
                        .multipleStatementsWithoutTransaction,
                        "a no-transaction file runs each statement on its own: if this one fails, the "
                            + "\(position) before it stay applied and the version stays pending; put one statement "
                            + "in each no-transaction file"
                    )
                )
            }
            if let table = createdTable(statement.code) { createdTables.insert(table) }
            if let table = validatedTable(statement.code) { validatedTables.insert(table) }

            var allows = allowComments(statement.lineComments)
            for allow in allows where allow.problem != nil {
                findings.append(
                    LintFinding(path: path, line: statementLine, rule: .allowComment, message: allow.problem ?? "")
                )
            }
            allows.removeAll { $0.problem != nil }
            for (rule, message) in raw {
                if let used = allows.firstIndex(where: { $0.rule == rule }) {
                    allows.remove(at: used)
                    continue
                }
                findings.append(LintFinding(path: path, line: statementLine, rule: rule, message: message))
            }
            for unused in allows {
                findings.append(
                    LintFinding(
                        path: path,
                        line: statementLine,
                        rule: .allowComment,
                        message: "allow \(unused.rule?.rawValue ?? "") silences nothing on this statement"
                    )
                )
            }
        }

        guard let allowFile else { return findings }
        let sidecarPath = path + ".allow"
        var sidecarAllows = allowComments(
            allowFile.split(separator: "\n").map { line in
                let trimmed = line.trimmingCharacters(in: .whitespaces)
                return trimmed.hasPrefix("--") ? String(trimmed.dropFirst(2)) : trimmed
            }
        )
        var kept: [LintFinding] = []
        for allow in sidecarAllows where allow.problem != nil {
            kept.append(LintFinding(path: sidecarPath, line: 1, rule: .allowComment, message: allow.problem ?? ""))
        }
        sidecarAllows.removeAll { $0.problem != nil }
        for finding in findings {
            if finding.rule != .allowComment, let used = sidecarAllows.firstIndex(where: { $0.rule == finding.rule }) {
                sidecarAllows.remove(at: used)
            } else {
                kept.append(finding)
            }
        }
        for unused in sidecarAllows {
            kept.append(
                LintFinding(
                    path: sidecarPath,
                    line: 1,
                    rule: .allowComment,
                    message: "allow \(unused.rule?.rawValue ?? "") silences nothing in \(path)"
                )
            )
        }
        return kept
    }

    // MARK: Rules

    private static func hazards(
        in statement: SQLStatementSplitter.ScannedStatement,
        inTransaction: Bool,
        createdTables: Set<String>,
        validatedTables: Set<String>
    ) -> [(LintRule, String)] {
        let code = statement.code.uppercased()
        var found: [(LintRule, String)] = []
        func refusedInTransaction(_ what: String) {
            if inTransaction {
                found.append(
                    (
                        .notInTransaction,
                        "Postgres refuses \(what) inside a transaction block, and this file runs in one: make "
                            + "\"\(MigrationFile.noTransactionMarker)\" its first line and this its only statement"
                    )
                )
            }
        }

        if let match = firstMatch(#"^CREATE (UNIQUE )?INDEX( CONCURRENTLY)?\b.*?\bON (ONLY )?([^ (]+)"#, code) {
            let table = normalizedName(match[4])
            if match[2] != nil {
                refusedInTransaction("CREATE INDEX CONCURRENTLY")
            } else if !createdTables.contains(table) {
                found.append(
                    (
                        .indexWithoutConcurrently,
                        "CREATE INDEX on \(table) without CONCURRENTLY blocks writes to it (SHARE lock) for the "
                            + "whole build; \(table) is not created in this file and its size cannot be told from "
                            + "the text: use CREATE INDEX CONCURRENTLY in a no-transaction file"
                    )
                )
            }
        }
        if firstMatch(#"^(DROP INDEX|REINDEX .*) CONCURRENTLY\b"#, code) != nil {
            refusedInTransaction(code.hasPrefix("DROP") ? "DROP INDEX CONCURRENTLY" : "REINDEX CONCURRENTLY")
        }
        if firstMatch(#"^ALTER TABLE .* DETACH PARTITION .* CONCURRENTLY\b"#, code) != nil {
            refusedInTransaction("DETACH PARTITION CONCURRENTLY")
        }
        if let match = firstMatch(
            #"^(CREATE DATABASE|DROP DATABASE|CREATE TABLESPACE|DROP TABLESPACE|ALTER SYSTEM)\b"#,
            code
        ) {
            refusedInTransaction(match[1] ?? "")
        }
        if code.hasPrefix("VACUUM") {
            refusedInTransaction("VACUUM")
            if firstMatch(#"^VACUUM (\(([^)]*\b)?FULL\b|FULL\b)"#, code) != nil {
                found.append(
                    (
                        .vacuumFull,
                        "VACUUM FULL rewrites the table under an ACCESS EXCLUSIVE lock: reads and writes wait "
                            + "for the whole rewrite"
                    )
                )
            }
        }
        if firstMatch(#"^CLUSTER\b"#, code) != nil {
            found.append(
                (.cluster, "CLUSTER rewrites the table under an ACCESS EXCLUSIVE lock: reads and writes wait for it")
            )
        }
        if firstMatch(#"^LOCK\b"#, code) != nil {
            found.append(
                (
                    .lockTable,
                    "LOCK TABLE holds the lock until the file's transaction ends; every query on the table "
                        + "queues behind it"
                )
            )
        }
        if let match = firstMatch(#"^ALTER TABLE (IF EXISTS )?(ONLY )?([^ ]+)"#, code) {
            let table = normalizedName(match[3])
            if !createdTables.contains(table) {
                found += alterTableHazards(code: code, table: table, validated: validatedTables.contains(table))
            }
        }
        if firstMatch(#"^(DO|CREATE (OR REPLACE )?(FUNCTION|PROCEDURE))\b"#, code) != nil {
            let bodies = statement.dollarBodies.joined(separator: "\n").uppercased()
            if firstMatch(
                #"\b(EXECUTE|ALTER TABLE|CREATE (UNIQUE )?INDEX|VACUUM|CLUSTER|LOCK TABLE|REINDEX)\b"#,
                bodies
            ) != nil {
                found.append(
                    (
                        .uncheckedBody,
                        "this body runs DDL or dynamic SQL (EXECUTE) that the linter cannot check from the text; "
                            + "read it for the hazards above"
                    )
                )
            }
        }
        return found
    }

    private static func alterTableHazards(code: String, table: String, validated: Bool) -> [(LintRule, String)] {
        var found: [(LintRule, String)] = []
        let typeChanges = allMatches(#"\bALTER (COLUMN )?([^ ]+) (SET DATA )?TYPE\b"#, code).map {
            normalizedName($0[2])
        }
        if !typeChanges.isEmpty {
            found.append(
                (
                    .columnTypeChange,
                    "ALTER COLUMN \(typeChanges.joined(separator: ", ")) TYPE on \(table) rewrites the table and "
                        + "rebuilds its indexes under ACCESS EXCLUSIVE unless the change is binary coercible "
                        + "(varchar(n) to text or to a longer varchar), which cannot be told from the text"
                )
            )
        }
        let constraints = allMatches(#"\bADD (CONSTRAINT [^ ]+ )?(CHECK|FOREIGN KEY)\b"#, code).count
        let notValid = allMatches(#"\bNOT VALID\b"#, code).count
        if constraints > notValid {
            found.append(
                (
                    .constraintWithoutNotValid,
                    "ADD CONSTRAINT (CHECK or FOREIGN KEY) on \(table) without NOT VALID checks every row while "
                        + "holding the lock (a foreign key locks the referenced table too): add it NOT VALID, "
                        + "then VALIDATE CONSTRAINT in a later migration"
                )
            )
        }
        let notNull = allMatches(#"\bALTER (COLUMN )?([^ ]+) SET NOT NULL\b"#, code).map { normalizedName($0[2]) }
        if !notNull.isEmpty, !validated {
            found.append(
                (
                    .setNotNull,
                    "SET NOT NULL on \(table).\(notNull.joined(separator: ", ")) scans the whole table under "
                        + "ACCESS EXCLUSIVE unless a validated CHECK (column IS NOT NULL) exists; none is validated "
                        + "earlier in this file, and the database's constraints cannot be seen from the text"
                )
            )
        }
        return found
    }

    private static func createdTable(_ code: String) -> String? {
        firstMatch(
            #"^CREATE (UNLOGGED |TEMP |TEMPORARY )?TABLE (IF NOT EXISTS )?([^ (]+)"#,
            code.uppercased()
        ).map { normalizedName($0[3]) }
    }

    private static func validatedTable(_ code: String) -> String? {
        firstMatch(#"^ALTER TABLE (IF EXISTS )?(ONLY )?([^ ]+) VALIDATE CONSTRAINT\b"#, code.uppercased()).map {
            normalizedName($0[3])
        }
    }

    // MARK: Allow comments

    private struct Allow {
        var rule: LintRule?
        var problem: String?
    }

    /// The `migrator: allow <rule> <reason>` among `comments` (each a comment's text after `--`).
    private static func allowComments(_ comments: [String]) -> [Allow] {
        comments.compactMap { comment in
            let text = comment.trimmingCharacters(in: .whitespaces)
            guard text.hasPrefix(allowPrefix) else { return nil }
            let words = text.dropFirst(allowPrefix.count).split(separator: " ", maxSplits: 1)
            guard let name = words.first else {
                return Allow(problem: "an allow comment names no rule: write `-- \(allowPrefix) <rule> <reason>`")
            }
            guard let rule = LintRule(rawValue: String(name)), rule != .allowComment else {
                return Allow(
                    problem: "allow names an unknown rule '\(name)'; the rules are "
                        + LintRule.allCases.filter { $0 != .allowComment }.map(\.rawValue).joined(separator: ", ")
                )
            }
            guard words.count == 2, !words[1].trimmingCharacters(in: .whitespaces).isEmpty else {
                return Allow(rule: rule, problem: "allow \(rule.rawValue) gives no reason: say why it is safe here")
            }
            return Allow(rule: rule)
        }
    }

    // MARK: Text helpers

    private static func normalizedName(_ name: String?) -> String {
        (name ?? "").lowercased().replacingOccurrences(of: "\"", with: "")
    }

    private static func lineStartOffsets(_ text: String) -> [Int] {
        var starts = [0]
        for (offset, scalar) in text.unicodeScalars.enumerated() where scalar == "\n" {
            starts.append(offset + 1)
        }
        return starts
    }

    private static func firstMatch(_ pattern: String, _ text: String) -> [String?]? {
        allMatches(pattern, text).first
    }

    private static func allMatches(_ pattern: String, _ text: String) -> [[String?]] {
        guard let expression = try? NSRegularExpression(pattern: pattern) else { return [] }
        let nsText = text as NSString
        return expression.matches(in: text, range: NSRange(location: 0, length: nsText.length)).map { match in
            (0..<match.numberOfRanges).map { index in
                let range = match.range(at: index)
                return range.location == NSNotFound ? nil : nsText.substring(with: range)
            }
        }
    }
}
