import Foundation
import Migrator

/// The lines `migrator up` prints on stdout while it runs.
enum ProgressLine {
    static func text(_ progress: MigrationProgress) -> String {
        switch progress {
        case .started(let file):
            "applying \(file.fileName) (\(file.runsInTransaction ? "in a transaction" : "no transaction"))"
        case .running(let file, let elapsed, let activity):
            "still applying \(file.fileName) after \(seconds(elapsed)) s: \(activity)"
        case .finished(let file, let elapsed):
            "applied \(file.fileName) in \(seconds(elapsed)) s"
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.3f", Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18)
    }
}
