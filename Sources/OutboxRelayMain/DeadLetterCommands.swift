import AppConfig
import ArgumentParser
import Foundation
import OperatorConsole
import OutboxRelay
import UUIDCoding

/// `outbox-relay dead-letters ...`: what an operator does with events the relay gave up on.
struct DeadLetters: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dead-letters",
        abstract: "Inspect, requeue and purge dead-lettered outbox events.",
        discussion: """
            Needs only DATABASE_URL (or the PG* variables). Exit status: 0 success, 1 failure \
            (database unreachable, unknown id), 2 usage error.
            """,
        subcommands: [List.self, Show.self, Requeue.self, Purge.self]
    )
}

extension DeadLetters {
    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List dead letters, newest first.",
            discussion: """
                --json prints {"dead_letters": [DEAD_LETTER, ...]}, each DEAD_LETTER as \
                `dead-letters show --json` prints it.
                """
        )

        @Flag(name: .long, help: "Print JSON instead of a table.")
        var json = false

        @Option(name: .long, help: "Show at most this many dead letters.")
        var limit = 50

        @Option(name: .long, help: ArgumentHelp("Only dead letters of this event type.", valueName: "type"))
        var eventType: String?

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Only dead letters dead-lettered within this long, e.g. 12h or 7d.",
                valueName: "duration"
            )
        )
        var since: String?

        func validate() throws {
            guard limit >= 1 else { throw ValidationError("--limit must be at least 1, got \(limit)") }
            if let eventType, eventType.isEmpty { throw ValidationError("--event-type must not be empty") }
            if let since { _ = try parseDuration(since, option: "--since") }
        }

        func run() throws {
            let window = try since.map { try parseDuration($0, option: "--since") }
            let deadLetters = try withDatabase {
                try DeadLetterStore.list(on: $0, limit: limit, eventType: eventType, since: window)
            }
            if json {
                print(OperatorOutput.json(["dead_letters": deadLetters.map(jsonObject)]), terminator: "")
                return
            }
            guard !deadLetters.isEmpty else {
                print("No dead letters.")
                return
            }
            var table = TextTable(header: [
                "ID", "EVENT ID", "EVENT TYPE", "AGGREGATE ID", "ATTEMPTS", "DEAD-LETTERED AT", "LAST ERROR",
            ])
            for deadLetter in deadLetters {
                table.append([
                    OperatorOutput.id(deadLetter.id),
                    OperatorOutput.id(deadLetter.eventID),
                    deadLetter.eventType,
                    OperatorOutput.id(deadLetter.aggregateID),
                    String(deadLetter.attempts),
                    OperatorOutput.shortTimestamp(deadLetter.deadLetteredAt),
                    OperatorOutput.cell(deadLetter.lastError ?? "", limit: 60),
                ])
            }
            print(table.render(), terminator: "")
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show one dead letter: its payload and every attempt's error.",
            discussion: """
                ID is the dead letter's id or the original event id. An unknown ID exits 1. \
                --json prints {"id", "event_id", "event_type", "aggregate_type", "aggregate_id", \
                "attempts", "last_error", "created_at", "dead_lettered_at", "payload", \
                "error_history"}, with payload and error_history as stored.
                """
        )

        @Argument(help: "The dead letter's id or its original event id.")
        var id: String

        @Flag(name: .long, help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            _ = try parseUUID(id)
        }

        func run() throws {
            let wanted = try parseUUID(id)
            let found = try withDatabase { try DeadLetterStore.show(on: $0, id: wanted) }
            guard let deadLetter = found else {
                throw OperatorFailure("no dead letter has id or event id \(OperatorOutput.id(wanted))")
            }
            print(json ? OperatorOutput.json(jsonObject(deadLetter)) : text(deadLetter), terminator: "")
        }

        private func text(_ deadLetter: DeadLetter) -> String {
            let fields: [(String, String)] = [
                ("Dead letter", OperatorOutput.id(deadLetter.id)),
                ("Event id", OperatorOutput.id(deadLetter.eventID)),
                ("Event type", deadLetter.eventType),
                ("Aggregate", "\(deadLetter.aggregateType) \(OperatorOutput.id(deadLetter.aggregateID))"),
                ("Attempts", String(deadLetter.attempts)),
                ("Created at", OperatorOutput.timestamp(deadLetter.createdAt)),
                ("Dead-lettered at", OperatorOutput.timestamp(deadLetter.deadLetteredAt)),
                ("Last error", OperatorOutput.cell(deadLetter.lastError ?? "-")),
            ]
            let width = fields.map(\.0.count).max() ?? 0
            var text = fields.map { $0.0.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + $0.1 }
                .joined(separator: "\n")
            text += "\n\nPayload:\n" + prettyJSON(deadLetter.payloadJSON)
            let history = deadLetter.errorHistory
            text += "\nError history (\(OperatorOutput.plural(history.count, "entry", "entries"))):\n"
            guard !history.isEmpty else { return text + "(none recorded)\n" }
            var table = TextTable(header: ["ATTEMPT", "AT", "ERROR"])
            for entry in history {
                table.append([
                    entry.attempt.map(String.init) ?? "-",
                    entry.at ?? "-",
                    OperatorOutput.cell(entry.error),
                ])
            }
            return text + table.render()
        }

        private func prettyJSON(_ jsonText: String) -> String {
            let value = OperatorOutput.embedded(jsonText)
            guard value is [String: Any] || value is [Any] else { return jsonText + "\n" }
            return OperatorOutput.json(value)
        }
    }

    struct Requeue: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Move dead letters back into the outbox for another round of attempts.",
            discussion: """
                Give dead-letter ids or original event ids (mixed freely), or --all. Each event \
                goes back into outbox_events under its original event id, with attempts reset to \
                0, due at once, its error history kept; a running relay is woken at commit. \
                Everything moves in one transaction.

                An ID that is not a dead letter (mistyped, or already requeued) does not stop the \
                others: they are requeued, the unknown IDs are named on stderr and the exit \
                status is 1. --dry-run lists what would move and changes nothing. \
                --json prints {"dry_run", "requeued": [{"id", "event_id", "event_type"}], \
                "not_found": [ID]}.
                """
        )

        @Argument(help: ArgumentHelp("Dead-letter ids or event ids.", valueName: "id"))
        var ids: [String] = []

        @Flag(name: .long, help: "Requeue every dead letter.")
        var all = false

        @Flag(name: .long, help: "Report what would be requeued and change nothing.")
        var dryRun = false

        @Flag(name: .long, help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            if all, !ids.isEmpty { throw ValidationError("give either IDs or --all, not both") }
            if !all, ids.isEmpty { throw ValidationError("give the IDs to requeue, or --all") }
            for id in ids { _ = try parseUUID(id) }
        }

        func run() throws {
            let wanted = try ids.map(parseUUID)
            let result = try withDatabase { connection in
                all
                    ? try DeadLetterStore.requeueAll(on: connection, dryRun: dryRun)
                    : try DeadLetterStore.requeue(on: connection, ids: wanted, dryRun: dryRun)
            }
            print(json ? OperatorOutput.json(jsonObject(result)) : text(result), terminator: "")
            if !result.notFound.isEmpty {
                let list = result.notFound.map(OperatorOutput.id).joined(separator: ", ")
                throw OperatorFailure("not dead letters, nothing requeued for them: \(list)")
            }
        }

        private func jsonObject(_ result: RequeueResult) -> [String: Any] {
            [
                "dry_run": result.dryRun,
                "requeued": result.requeued.map { event in
                    [
                        "id": OperatorOutput.id(event.deadLetterID),
                        "event_id": OperatorOutput.id(event.eventID),
                        "event_type": event.eventType,
                    ]
                },
                "not_found": result.notFound.map(OperatorOutput.id),
            ]
        }

        private func text(_ result: RequeueResult) -> String {
            let count = OperatorOutput.plural(result.requeued.count, "dead letter")
            guard !result.requeued.isEmpty else {
                return result.dryRun ? "Would requeue nothing (dry run).\n" : "Requeued nothing.\n"
            }
            var table = TextTable(header: ["ID", "EVENT ID", "EVENT TYPE"])
            for event in result.requeued {
                table.append([OperatorOutput.id(event.deadLetterID), OperatorOutput.id(event.eventID), event.eventType])
            }
            let summary =
                result.dryRun
                ? "Would requeue \(count) (dry run, nothing changed):\n"
                : "Requeued \(count) into outbox_events:\n"
            return summary + table.render()
        }
    }

    struct Purge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Delete dead letters for good once they are older than a duration.",
            discussion: """
                Deletes the dead letters dead-lettered more than DURATION ago (e.g. 30d, 12h). \
                --dry-run counts them and changes nothing. --json prints {"dry_run", "purged", \
                "cutoff"}.
                """
        )

        @Option(
            name: .long,
            help: ArgumentHelp(
                "Purge dead letters dead-lettered longer ago than this, e.g. 30d.",
                valueName: "duration"
            )
        )
        var olderThan: String

        @Flag(name: .long, help: "Report how many would be purged and change nothing.")
        var dryRun = false

        @Flag(name: .long, help: "Print JSON instead of text.")
        var json = false

        func validate() throws {
            _ = try parseDuration(olderThan, option: "--older-than")
        }

        func run() throws {
            let age = try parseDuration(olderThan, option: "--older-than")
            let result = try withDatabase { try DeadLetterStore.purge(on: $0, olderThan: age, dryRun: dryRun) }
            if json {
                let document: [String: Any] = [
                    "dry_run": result.dryRun,
                    "purged": result.count,
                    "cutoff": OperatorOutput.timestamp(result.cutoff),
                ]
                print(OperatorOutput.json(document), terminator: "")
                return
            }
            let count = OperatorOutput.plural(result.count, "dead letter")
            let cutoff = OperatorOutput.shortTimestamp(result.cutoff)
            print(
                result.dryRun
                    ? "Would purge \(count) dead-lettered before \(cutoff) (dry run, nothing changed)."
                    : "Purged \(count) dead-lettered before \(cutoff)."
            )
        }
    }
}

/// The JSON form of one dead letter, shared by `list --json` and `show --json`.
private func jsonObject(_ deadLetter: DeadLetter) -> [String: Any] {
    [
        "id": OperatorOutput.id(deadLetter.id),
        "event_id": OperatorOutput.id(deadLetter.eventID),
        "event_type": deadLetter.eventType,
        "aggregate_type": deadLetter.aggregateType,
        "aggregate_id": OperatorOutput.id(deadLetter.aggregateID),
        "attempts": deadLetter.attempts,
        "last_error": deadLetter.lastError ?? NSNull(),
        "created_at": OperatorOutput.timestamp(deadLetter.createdAt),
        "dead_lettered_at": OperatorOutput.timestamp(deadLetter.deadLetteredAt),
        "payload": OperatorOutput.embedded(deadLetter.payloadJSON),
        "error_history": OperatorOutput.embedded(deadLetter.errorHistoryJSON),
    ]
}

/// Usage errors are caught in `validate()`, before any connection is made; `run()` parses
/// again rather than force-unwrapping what `validate()` accepted.
private func parseDuration(_ text: String, option: String) throws -> Duration {
    guard let duration = DurationText.parse(text) else {
        throw ValidationError("\(option) must be a duration such as 30s, 15m, 12h or 7d, got '\(text)'")
    }
    return duration
}

private func parseUUID(_ text: String) throws -> UUID {
    guard let id = UUID(canonicalText: text.trimmingCharacters(in: .whitespaces)) else {
        throw ValidationError("'\(text)' is not a UUID")
    }
    return id
}
