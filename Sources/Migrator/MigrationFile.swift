import Digest
import Foundation

/// One `sql/NNNN_snake_case_name.sql` file.
public struct MigrationFile: Sendable, Equatable {
    /// The marker that, as the first line, makes a file run outside a transaction (needed for
    /// `CREATE INDEX CONCURRENTLY`, which Postgres refuses inside one).
    public static let noTransactionMarker = "-- migrator: no-transaction"

    public let version: Int
    public let name: String
    public let fileName: String
    public let sql: String
    /// Lower-case hex SHA-256 of the file's bytes, stored in `schema_migrations.checksum`.
    public let checksum: String

    public var runsInTransaction: Bool {
        let firstLine = sql.prefix { !$0.isNewline }
        return firstLine.trimmingCharacters(in: .whitespaces) != Self.noTransactionMarker
    }

    public init(version: Int, name: String, fileName: String, contents: [UInt8]) {
        self.version = version
        self.name = name
        self.fileName = fileName
        self.sql = String(decoding: contents, as: UTF8.self)
        self.checksum = SHA256.hash(contents).hexString
    }

    /// Parses `NNNN_snake_case_name.sql` into version and name; `nil` when the name does not
    /// have that shape.
    static func parseFileName(_ fileName: String) -> (version: Int, name: String)? {
        guard fileName.hasSuffix(".sql") else { return nil }
        let stem = fileName.dropLast(4)
        let digits = stem.prefix { $0.isASCII && $0.isNumber }
        guard digits.count >= 4, let version = Int(digits), version > 0 else { return nil }
        let rest = stem.dropFirst(digits.count)
        guard rest.first == "_" else { return nil }
        let name = String(rest.dropFirst())
        guard isSnakeCase(name) else { return nil }
        return (version, name)
    }

    static func isSnakeCase(_ name: String) -> Bool {
        guard let first = name.first, first.isASCII, first.isLowercase else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || $0 == "_") }
    }
}

/// The directory of migration files (`--dir`, default `sql`).
public struct MigrationDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// All migration files in version order. Files that end in `.sql` but are misnamed, and
    /// duplicate versions, are errors: silently skipping one would leave the schema short.
    public func load() throws -> [MigrationFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
        } catch {
            throw MigratorError(.fileSystem, "cannot read migrations directory \(path): \(error.localizedDescription)")
        }
        var files: [MigrationFile] = []
        for fileName in names.sorted() where fileName.hasSuffix(".sql") {
            guard let (version, name) = MigrationFile.parseFileName(fileName) else {
                throw MigratorError(
                    .invalidFileName,
                    "\(path)/\(fileName) is not named NNNN_snake_case_name.sql"
                )
            }
            if let twin = files.first(where: { $0.version == version }) {
                throw MigratorError(
                    .duplicateVersion,
                    "\(twin.fileName) and \(fileName) both have version \(version)"
                )
            }
            guard let contents = FileManager.default.contents(atPath: "\(path)/\(fileName)") else {
                throw MigratorError(.fileSystem, "cannot read \(path)/\(fileName)")
            }
            files.append(MigrationFile(version: version, name: name, fileName: fileName, contents: Array(contents)))
        }
        return files.sorted { $0.version < $1.version }
    }

    /// Creates the next migration file for `name` and returns its path.
    ///
    /// Spaces, dashes and capitals in `name` are folded to snake case, so
    /// `migrator new "Add photo tags"` gives `NNNN_add_photo_tags.sql`.
    public func createFile(named name: String) throws -> String {
        let snakeName = String(
            name.trimmingCharacters(in: .whitespaces).lowercased().map { $0 == " " || $0 == "-" ? "_" : $0 }
        )
        guard MigrationFile.isSnakeCase(snakeName) else {
            throw MigratorError(
                .invalidName,
                "migration name '\(name)' must start with a letter and contain only letters, digits, '_', '-' or spaces"
            )
        }
        var isDirectory: ObjCBool = false
        if !FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw MigratorError(.fileSystem, "cannot create \(path): \(error.localizedDescription)")
            }
        }
        let nextVersion = (try load().last?.version ?? 0) + 1
        let fileName = String(format: "%04d_%@.sql", nextVersion, snakeName)
        let filePath = "\(path)/\(fileName)"
        let template = """
            -- \(fileName)
            -- Runs in one transaction together with its schema_migrations row.
            -- For CREATE INDEX CONCURRENTLY, make the first line "\(MigrationFile.noTransactionMarker)"
            -- and keep such a file to statements that are safe to re-run (IF NOT EXISTS).

            """
        guard FileManager.default.createFile(atPath: filePath, contents: Data(template.utf8)) else {
            throw MigratorError(.fileSystem, "cannot write \(filePath)")
        }
        return filePath
    }
}
