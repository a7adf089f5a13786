import API
import AppConfig
import Foundation
import Hummingbird
import Logging
import Telemetry

// photo-api: answer --help and --version, or read the configuration once, fail fast with one
// line naming the problem, then run the application until SIGTERM/SIGINT.
switch CommandLineRequest(arguments: Array(CommandLine.arguments.dropFirst())) {
case .run:
    break
case .help:
    print(CommandLineRequest.helpText, terminator: "")
    exit(0)
case .version:
    print(BuildInfo.versionLine)
    exit(0)
case .usageError(let message):
    FileHandle.standardError.write(Data("photo-api: error: \(message)\n".utf8))
    exit(2)
}

let environment = EnvironmentReader()
guard let logLevel = Observability.logLevel(from: environment.string("LOG_LEVEL")) else {
    FileHandle.standardError.write(
        Data(
            "photo-api: invalid configuration: LOG_LEVEL must be one of trace, debug, info, notice, warning, error, critical\n"
                .utf8
        )
    )
    exit(1)
}
Observability.bootstrap(logLevel: logLevel)
let logger = Logger(label: "photo-api")

do {
    let configuration = try APIConfiguration(environment: environment)
    let application = try await PhotoAPI.makeApplication(configuration: configuration, logger: logger)
    try await application.runService()
} catch {
    FileHandle.standardError.write(Data("photo-api: \(error)\n".utf8))
    exit(1)
}
