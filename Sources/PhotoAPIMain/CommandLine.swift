import AppConfig
import Telemetry

/// What photo-api's arguments ask for. It takes no arguments to run: everything is in the
/// environment (docs/configuration.md). `--help` and `--version` answer and exit 0 without
/// reading the environment; anything else is a usage error (exit 2), not ignored.
enum CommandLineRequest: Equatable {
    case run
    case help
    case version
    case usageError(String)

    init(arguments: [String]) {
        switch arguments {
        case []: self = .run
        case ["--help"], ["-h"]: self = .help
        case ["--version"]: self = .version
        default:
            self = .usageError("unexpected argument '\(arguments[0])' (see 'photo-api --help')")
        }
    }

    /// The answer to `--help`.
    static let helpText = """
        OVERVIEW: Serves the photo upload API until SIGTERM.

        Takes no arguments: the configuration is the environment, read once at start;
        an invalid value stops it with one line naming the variable.

        USAGE: photo-api [--help] [--version]

        OPTIONS:
          -h, --help              Show help information.
          --version               Show the version and the git commit of this build.

        Environment variables (docs/configuration.md; JWT_HS256_SECRET or JWT_JWKS_URL
        is required):

        \(ConfigurationVariable.helpText(for: .photoAPI).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))

        Exit status: 0 after SIGTERM; 1 when the configuration is invalid, the database
        is unreachable or the schema is behind this build; 2 usage error.

        """
}
