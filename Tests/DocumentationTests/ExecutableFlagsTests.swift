import AppConfig
import Foundation
import TestSupport
import Testing

/// `--version` and `--help` of the three executables, run as built: each exits 0 at once, without
/// reading the environment or touching a database.
@Suite struct ExecutableFlagsTests {
    static let executables = ["photo-api", "outbox-relay", "migrator"]

    /// `1.0.0 (commit 0123456789ab)`: the version and the commit scripts/stamp-build.sh stamped.
    @Test(arguments: executables) func versionNamesTheReleaseAndTheCommit(executable: String) async throws {
        let child = try await ChildProcess.run(try TestPaths.executable(executable), ["--version"])
        #expect(child.status == 0, "\(executable) --version: \(child.standardError)")
        let line = child.standardOutput.trimmingCharacters(in: .newlines)
        let match = try #require(
            line.wholeMatch(of: /(\d+\.\d+\.\d+) \(commit ([0-9a-f]{12}(?:-dirty)?|unknown)\)/),
            "\(executable) --version printed '\(line)'"
        )
        // scripts/test.sh stamps the build just before compiling it, so there the commit is the
        // checkout's; a bare `swift build` may carry an older stamp or none.
        if ProcessInfo.processInfo.environment["REQUIRE_TEST_DATABASE"] == "1", let head = Self.headCommit() {
            #expect(
                [head, head + "-dirty"].contains(String(match.output.2)),
                "\(executable) was built from \(match.output.2), the checkout is at \(head)"
            )
        }
    }

    @Test func theThreeExecutablesReportTheSameBuild() async throws {
        var lines: Set<String> = []
        for executable in Self.executables {
            lines.insert(try await ChildProcess.run(try TestPaths.executable(executable), ["--version"]).standardOutput)
        }
        #expect(lines.count == 1, "\(lines)")
    }

    /// photo-api takes no arguments, so its help is about the environment: every variable it
    /// reads, from the same list `docs/configuration.md` is checked against.
    @Test func photoAPIHelpListsItsConfigurationVariablesAndExitsZero() async throws {
        let child = try await ChildProcess.run(
            try TestPaths.executable("photo-api"),
            ["--help"],
            // Would make it fail at start if it tried to start.
            environment: ["LOG_LEVEL": "nonsense", "PORT": "not-a-port"]
        )
        #expect(child.status == 0, "\(child.standardError)")
        let help = child.standardOutput
        #expect(help.contains("USAGE: photo-api [--help] [--version]"))
        let listed = ConfigurationVariable.all.filter { $0.processes.contains(.photoAPI) }.map(\.name)
        #expect(listed.count > 10)
        let words = Set(help.split(whereSeparator: { $0 == " " || $0 == "," || $0 == "\n" }).map(String.init))
        #expect(listed.filter { !words.contains($0) } == [], "missing from photo-api --help")
        #expect(words.contains("DETECTION_QUEUE_URL") == false, "a relay-only variable")
        let short = try await ChildProcess.run(try TestPaths.executable("photo-api"), ["-h"])
        #expect(short.status == 0 && short.standardOutput == help)
    }

    @Test func photoAPIRefusesAnUnknownArgumentWithAUsageError() async throws {
        let child = try await ChildProcess.run(try TestPaths.executable("photo-api"), ["--port", "8080"])
        #expect(child.status == 2)
        #expect(child.standardOutput.isEmpty)
        #expect(child.standardError == "photo-api: error: unexpected argument '--port' (see 'photo-api --help')\n")
    }

    @Test(arguments: ["outbox-relay", "migrator"]) func theOperatorCLIsListVersionInTheirHelp(
        executable: String
    ) async throws {
        let child = try await ChildProcess.run(try TestPaths.executable(executable), ["--help"])
        #expect(child.status == 0)
        #expect(child.standardOutput.contains("--version"), "\(child.standardOutput)")
    }

    /// `git rev-parse --short=12 HEAD` of the repository; `nil` without git or outside a clone.
    static func headCommit() -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["git", "-C", TestPaths.repositoryRoot.path, "rev-parse", "--short=12", "HEAD"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do {
            try process.run()
        } catch {
            return nil
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        let commit = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        return commit.isEmpty ? nil : commit
    }
}
