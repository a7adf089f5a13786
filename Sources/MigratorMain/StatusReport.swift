import Foundation
import Migrator
import OperatorConsole

/// The two renderings of `migrator status`.
enum StatusReport {
    static func table(_ statuses: [MigrationStatus]) -> String {
        guard !statuses.isEmpty else { return "No migrations found.\n" }
        var table = TextTable(header: ["VERSION", "NAME", "STATE", "APPLIED AT", "NOTE"])
        for status in statuses {
            table.append([
                String(format: "%04d", status.version),
                status.name,
                status.state.rawValue,
                status.applied.map { iso8601($0.appliedAt) } ?? "",
                note(status),
            ])
        }
        return table.render()
    }

    static func json(_ statuses: [MigrationStatus]) -> String {
        let current = statuses.filter { $0.state == .applied }.map(\.version).max() ?? 0
        let migrations: [[String: Any]] = statuses.map { status in
            var entry: [String: Any] = [
                "version": status.version,
                "name": status.name,
                "state": status.state.rawValue,
                "drift": status.drift.rawValue,
                "out_of_order": status.isOutOfOrder,
            ]
            if let file = status.file {
                entry["file"] = file.fileName
                entry["checksum"] = file.checksum
            }
            if let applied = status.applied {
                entry["applied_at"] = iso8601(applied.appliedAt)
                entry["applied_checksum"] = applied.checksum
                entry["execution_ms"] = applied.executionMilliseconds
                if let note = applied.note {
                    entry["note"] = note
                }
            }
            if !status.repairs.isEmpty {
                entry["repairs"] = status.repairs.map { repair -> [String: Any] in
                    [
                        "old_checksum": repair.oldChecksum,
                        "new_checksum": repair.newChecksum,
                        "repaired_by": repair.repairedBy,
                        "application_name": repair.applicationName,
                        "repaired_at": iso8601(repair.repairedAt),
                        "reason": repair.reason ?? NSNull(),
                    ]
                }
            }
            return entry
        }
        let document: [String: Any] = [
            "current_version": current,
            "pending": statuses.filter { $0.state == .pending }.count,
            "migrations": migrations,
        ]
        guard let data = try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .prettyPrinted])
        else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    private static func note(_ status: MigrationStatus) -> String {
        var notes: [String] = []
        switch status.drift {
        case .none: break
        case .checksumChanged: notes.append("file changed since it was applied")
        case .fileMissing: notes.append("file missing")
        }
        if status.isOutOfOrder { notes.append("out of order") }
        if let note = status.applied?.note { notes.append(note) }
        if !status.repairs.isEmpty { notes.append("repaired") }
        return notes.joined(separator: "; ")
    }

    private static func iso8601(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
