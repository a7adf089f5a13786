import AppConfig
import ArgumentParser
import Foundation
import Hummingbird
import Logging
import OutboxRelay
import Telemetry

/// `outbox-relay`: the sidecar that drains `outbox_events` into SQS.
@main
struct OutboxRelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox-relay",
        abstract: "Delivers committed outbox events to SQS.",
        subcommands: [Run.self],
        defaultSubcommand: Run.self
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the relay until SIGTERM (the default).")

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
