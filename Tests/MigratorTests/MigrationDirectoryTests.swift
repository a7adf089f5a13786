import Foundation
import Testing

@testable import Migrator

/// `MigrationDirectory` on its own: no database.
@Suite struct MigrationDirectoryTests {
    @Test func loadsFilesInVersionOrderAndIgnoresOtherFiles() throws {
        let folder = try MigrationFolder([
            "0010_later.sql": "SELECT 10;",
            "0002_second.sql": "SELECT 2;",
            "0001_first.sql": "SELECT 1;",
            "README.md": "not a migration",
        ])
        defer { folder.remove() }
        let files = try MigrationDirectory(path: folder.path).load()
        #expect(files.map(\.version) == [1, 2, 10])
        #expect(files.map(\.name) == ["first", "second", "later"])
        #expect(files.map(\.fileName) == ["0001_first.sql", "0002_second.sql", "0010_later.sql"])
    }

    @Test func misnamedFileFailsWithInvalidFileName() throws {
        let folder = try MigrationFolder(["0001_fine.sql": "SELECT 1;", "abc.sql": "SELECT 2;"])
        defer { folder.remove() }
        let error = #expect(throws: MigratorError.self) { try MigrationDirectory(path: folder.path).load() }
        #expect(error?.code == .invalidFileName)
        #expect(error?.description.contains("abc.sql") == true)
    }

    @Test func duplicateVersionsFail() throws {
        let folder = try MigrationFolder(["0001_one.sql": "SELECT 1;", "0001_other.sql": "SELECT 2;"])
        defer { folder.remove() }
        let error = #expect(throws: MigratorError.self) { try MigrationDirectory(path: folder.path).load() }
        #expect(error?.code == .duplicateVersion)
        #expect(error?.description.contains("0001_one.sql") == true)
        #expect(error?.description.contains("0001_other.sql") == true)
    }

    @Test func sameVersionWithDifferentPaddingIsADuplicate() throws {
        let folder = try MigrationFolder(["0001_one.sql": "SELECT 1;", "00001_other.sql": "SELECT 2;"])
        defer { folder.remove() }
        let error = #expect(throws: MigratorError.self) { try MigrationDirectory(path: folder.path).load() }
        #expect(error?.code == .duplicateVersion)
    }

    @Test func missingDirectoryIsAFileSystemError() {
        let error = #expect(throws: MigratorError.self) {
            try MigrationDirectory(path: "/nonexistent/\(UUID().uuidString)").load()
        }
        #expect(error?.code == .fileSystem)
    }

    @Test func createFileNumbersAndSnakeCasesNames() throws {
        let folder = try MigrationFolder()
        defer { folder.remove() }
        let directory = MigrationDirectory(path: folder.path + "/sql")  // created on demand
        let first = try directory.createFile(named: "Add photo tags")
        #expect(first == folder.path + "/sql/0001_add_photo_tags.sql")
        let second = try directory.createFile(named: "drop-old-index")
        #expect(second == folder.path + "/sql/0002_drop_old_index.sql")
        let files = try directory.load()
        #expect(files.map(\.fileName) == ["0001_add_photo_tags.sql", "0002_drop_old_index.sql"])
        #expect(files.allSatisfy { $0.runsInTransaction })
    }

    @Test(arguments: ["9bad", "", "   ", "tags!", "a/b"])
    func createFileRejectsBadNames(name: String) throws {
        let folder = try MigrationFolder()
        defer { folder.remove() }
        let error = #expect(throws: MigratorError.self) {
            try MigrationDirectory(path: folder.path).createFile(named: name)
        }
        #expect(error?.code == .invalidName)
        #expect(error?.isUsageError == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)
    }
}
