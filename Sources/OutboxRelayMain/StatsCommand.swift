import ArgumentParser
import Foundation
import OperatorConsole
import OutboxRelay

/// `outbox-relay stats`: the backlog at a glance, the same figures the relay exports as metrics.
struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the outbox backlog: pending, due, leased, oldest pending age, dead letters.",
        discussion: """
            Needs only DATABASE_URL. --json prints {"pending", "due", "leased", \
            "oldest_pending_age_seconds" (null when the outbox is empty), "dead_letters"}.
            """
    )

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    func run() throws {
        let statistics = try withDatabase { try OutboxStatistics.read(on: $0) }
        if json {
            let document: [String: Any] = [
                "pending": statistics.pending,
                "due": statistics.due,
                "leased": statistics.leased,
                "oldest_pending_age_seconds": statistics.oldestPendingAgeSeconds ?? NSNull(),
                "dead_letters": statistics.deadLetters,
            ]
            print(OperatorOutput.json(document), terminator: "")
            return
        }
        var table = TextTable(header: ["STATISTIC", "VALUE"])
        table.append(["pending", String(statistics.pending)])
        table.append(["due", String(statistics.due)])
        table.append(["leased", String(statistics.leased)])
        table.append(["oldest pending age", statistics.oldestPendingAgeSeconds.map(OperatorOutput.age) ?? "-"])
        table.append(["dead letters", String(statistics.deadLetters)])
        print(table.render(), terminator: "")
    }
}
