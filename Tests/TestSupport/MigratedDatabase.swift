import Foundation
import Logging
import Migrator
import Postgres

extension TestDatabase {
    /// Applies the repository's `sql/` migrations to this database.
    public func migrate() throws {
        let directory = MigrationDirectory(path: TestPaths.repositoryRoot.appendingPathComponent("sql").path)
        try Migrator(directory: directory, settings: settings, logger: Logger(label: "test-migrator")).up()
    }
}
