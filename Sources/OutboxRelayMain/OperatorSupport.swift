import AppConfig
import Foundation
import Postgres
import UUIDCoding

/// A failure of an operator verb once its command line was accepted: the database could not
/// be reached or said no, or an id named nothing. Usage errors never get here: they are
/// `ValidationError`s thrown while parsing, which `main.swift` turns into exit status 2;
/// this one exits 1.
struct OperatorFailure: Error {
    let message: String

    init(_ message: String) {
        // Errors are one line on stderr, so that a wrapper script can log them as one event.
        self.message = message.split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}

/// Opens one connection for an operator verb and turns whatever fails into an
/// `OperatorFailure`.
///
/// The verbs need only `DATABASE_URL`: an operator on a bastion host can inspect and requeue
/// without the relay's SQS and AWS settings. One plain connection is enough for one command.
func withDatabase<Value>(_ body: (Connection) throws -> Value) throws -> Value {
    let settings: ConnectionSettings
    do {
        // A name of its own in pg_stat_activity, so a DBA tells the operator apart from the
        // running relays.
        settings = try DatabaseConfiguration(environment: EnvironmentReader(), applicationName: "outbox-relay-cli")
            .settings
    } catch {
        throw OperatorFailure("\(error)")
    }
    let connection: Connection
    do {
        connection = try Connection(settings: settings)
    } catch {
        throw OperatorFailure("cannot connect to Postgres: \(error)")
    }
    do {
        return try body(connection)
    } catch let failure as OperatorFailure {
        throw failure
    } catch let error as PostgresError where error.sqlState == "42P01" {
        // undefined_table: pointed at the wrong database, or one nobody migrated yet.
        throw OperatorFailure("\(error); is the schema migrated? run `migrator up` first")
    } catch {
        throw OperatorFailure("\(error)")
    }
}

/// Rendering shared by the verbs: tables for people, JSON for scripts.
enum OperatorOutput {
    /// Pretty-printed with sorted keys, so that diffs and `jq` see a stable document.
    static func json(_ object: Any) -> String {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object,
                options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            )
        else { return "{}\n" }
        return String(decoding: data, as: UTF8.self) + "\n"
    }

    /// A stored JSON document as a JSON value to embed, or as a string should it not parse.
    static func embedded(_ jsonText: String) -> Any {
        (try? JSONSerialization.jsonObject(with: Data(jsonText.utf8), options: [.fragmentsAllowed])) ?? jsonText
    }

    /// With milliseconds, so scripts can order dead letters that share a second.
    static func timestamp(_ date: Date) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    /// Whole seconds are enough for a person reading a table.
    static func shortTimestamp(_ date: Date) -> String {
        date.formatted(.iso8601)
    }

    /// One table cell: runs of whitespace (newlines included) become one space, so a
    /// multi-line error cannot break the table's alignment.
    static func cell(_ text: String, limit: Int? = nil) -> String {
        let flat = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard let limit, flat.count > limit else { return flat }
        return String(flat.prefix(max(limit - 3, 0))) + "..."
    }

    /// `12.3s`, `4m 05s`, `3h 04m`, `2d 03h`: the two largest units an operator looks at.
    static func age(_ seconds: Double) -> String {
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds)
        if whole < 3600 { return String(format: "%dm %02ds", whole / 60, whole % 60) }
        if whole < 86_400 { return String(format: "%dh %02dm", whole / 3600, whole % 3600 / 60) }
        return String(format: "%dd %02dh", whole / 86_400, whole % 86_400 / 3600)
    }

    static func plural(_ count: Int, _ noun: String, _ pluralNoun: String? = nil) -> String {
        "\(count) \(count == 1 ? noun : pluralNoun ?? noun + "s")"
    }

    /// Lower case, as Postgres prints a uuid, so what an operator copies from here matches
    /// what `psql` and the logs show.
    static func id(_ uuid: UUID) -> String {
        uuid.lowercasedString
    }
}
