import AppConfig
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import OutboxRelay
import Telemetry

/// `outbox-relay`: the sidecar that drains `outbox_events` into SQS, and the operator verbs
/// for its backlog and dead letters.
struct OutboxRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox-relay",
        abstract: "Delivers committed outbox events to SQS.",
        discussion: "Exit status: 0 success, 1 failure, 2 usage error.",
        version: BuildInfo.versionLine,
        subcommands: [Run.self, DeadLetters.self, Stats.self],
        defaultSubcommand: Run.self
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the relay until SIGTERM (the default).",
            discussion: """
                Environment variables (docs/configuration.md; DETECTION_QUEUE_URL is required):

                \(ConfigurationVariable.helpText(for: .outboxRelay))

                Exit status: 0 after SIGTERM; 1 when the configuration is invalid or the schema is \
                behind this build; non-zero when the metrics port cannot be bound.
                """
        )

        func run() async throws {
            let environment = EnvironmentReader()
            guard let logLevel = Observability.logLevel(from: environment.string("LOG_LEVEL")) else {
                throw ValidationError("LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical")
            }
            Observability.bootstrap(logLevel: logLevel)
            let logger = Logger(label: "outbox-relay")
            do {
                let configuration = try RelayConfiguration(environment: environment)
                let application = try await OutboxRelayApplication.makeApplication(
                    configuration: configuration,
                    logger: logger
                )
                try await application.runService()
            } catch {
                FileHandle.standardError.write(Data("outbox-relay: \(error)\n".utf8))
                throw ExitCode.failure
            }
        }
    }
}

/// A usage error as one line, like every other error: ArgumentParser's message plus the
/// `--help` command its full message points to (`Usage:` and `See ...` would be two more).
func usageLine(for error: any Error) -> String {
    let message = OutboxRelayCommand.message(for: error).split(whereSeparator: \.isNewline).joined(separator: " ")
    let fullMessage = OutboxRelayCommand.fullMessage(for: error)
    guard let range = fullMessage.range(of: #"'[^'\n]*--help'"#, options: .regularExpression) else { return message }
    return "\(message) (see \(fullMessage[range]))"
}

/// Runs an async command's `run() async` (the relay) or a plain command's `run()` (the operator
/// verbs). It must be a function of its own: in top-level code the compiler picks the
/// synchronous `run()`, which for an async command only prints its help.
func execute(_ command: inout any ParsableCommand) async throws {
    if var asyncCommand = command as? any AsyncParsableCommand {
        try await asyncCommand.run()
    } else {
        try command.run()
    }
}

// Parsed by hand rather than with `main()`, as the migrator does, so that every usage error
// (unknown verb, bad DURATION or UUID, requeue with neither IDs nor --all) exits 2 and not
// ArgumentParser's 64, while the default `run` subcommand keeps working.
do {
    var command = try OutboxRelayCommand.parseAsRoot()
    do {
        try await execute(&command)
    } catch let failure as OperatorFailure {
        FileHandle.standardError.write(Data("outbox-relay: error: \(failure.message)\n".utf8))
        exit(1)
    } catch {
        OutboxRelayCommand.exit(withError: error)
    }
} catch {
    // Parsing failed: a usage error (or --help, which exits 0).
    if OutboxRelayCommand.exitCode(for: error) == .success {
        OutboxRelayCommand.exit(withError: error)
    }
    FileHandle.standardError.write(Data("outbox-relay: error: \(usageLine(for: error))\n".utf8))
    exit(2)
}
