import Foundation
import Logging
import Migrator
import Postgres

extension TestDatabase {
    /// Applies the repository's `sql/` migrations to this database, off the cooperative pool
    /// (`runBlocking`).
    public func migrate() async throws {
        let directory = MigrationDirectory(path: TestPaths.repositoryRoot.appendingPathComponent("sql").path)
        let settings = settings
        try await runBlocking {
            try Migrator(directory: directory, settings: settings, logger: Logger(label: "test-migrator")).up()
        }
    }
}
