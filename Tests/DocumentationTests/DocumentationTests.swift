import AppConfig
import Foundation
import TestSupport
import Testing

/// The documents a newcomer reads are held to the code: every variable the processes read is in
/// `docs/configuration.md` and nothing else is; no relative link points nowhere; every script
/// and executable verb shown exists.
@Suite struct DocumentationTests {
    static let root = TestPaths.repositoryRoot

    /// README.md and every Markdown file under docs/, but for the build folders of the nested
    /// example packages (`docs/examples/swift-client/.build`: their dependencies' checkouts).
    static func documents() throws -> [(path: String, text: String)] {
        let docs = root.appendingPathComponent("docs")
        var paths = ["README.md"]
        let enumerator = FileManager.default.enumerator(atPath: docs.path)
        while let relative = enumerator?.nextObject() as? String {
            if relative.split(separator: "/").last?.hasPrefix(".build") == true {
                enumerator?.skipDescendants()
                continue
            }
            if relative.hasSuffix(".md") { paths.append("docs/" + relative) }
        }
        return try paths.sorted().map { path in
            (path, try String(contentsOf: root.appendingPathComponent(path), encoding: .utf8))
        }
    }

    /// Rows of the tables in docs/configuration.md: the backticked names of the first cell, and
    /// the processes cell when the table has one.
    static func documentedVariables() throws -> [(names: [String], processes: String?)] {
        let text = try String(contentsOf: root.appendingPathComponent("docs/configuration.md"), encoding: .utf8)
        var rows: [(names: [String], processes: String?)] = []
        var hasProcessesColumn = false
        for line in text.split(separator: "\n") where line.hasPrefix("|") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).dropFirst().dropLast()
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard let first = cells.first else { continue }
            if first == "variable" {
                hasProcessesColumn = cells.count > 1 && cells[1] == "processes"
                continue
            }
            let names = first.split(separator: "`", omittingEmptySubsequences: false).enumerated().filter {
                $0.offset % 2 == 1
            }.map {
                String($0.element)
            }
            guard !names.isEmpty else { continue }
            rows.append((names, hasProcessesColumn ? cells[1] : nil))
        }
        return rows
    }

    @Test func theConfigurationGuideListsExactlyTheVariablesTheCodeReads() throws {
        let documented = Set(try Self.documentedVariables().flatMap(\.names))
        let read = Set(ConfigurationVariable.all.map(\.name))
        #expect(read.subtracting(documented).sorted() == [], "read by the code, missing from docs/configuration.md")
        #expect(documented.subtracting(read).sorted() == [], "in docs/configuration.md, read by no process")
        #expect(ConfigurationVariable.all.count == read.count, "a variable is listed twice")
    }

    /// The processes column says which processes read a variable: `all`, or a list of `api`,
    /// `relay` and `migrator` (`a / b` pairs two variables of one row with one process each).
    @Test func theConfigurationGuideNamesTheProcessesThatReadEachVariable() throws {
        let short: [String: ConfigurationVariable.Process] = [
            "api": .photoAPI, "relay": .outboxRelay, "migrator": .migrator,
        ]
        let byName = Dictionary(uniqueKeysWithValues: ConfigurationVariable.all.map { ($0.name, $0.processes) })
        for row in try Self.documentedVariables() {
            guard let cell = row.processes else { continue }
            let groups = cell.split(separator: "/").map { $0.trimmingCharacters(in: .whitespaces) }
            for (index, name) in row.names.enumerated() {
                let group = groups.count == row.names.count ? groups[index] : cell
                let processes: Set<ConfigurationVariable.Process> =
                    group == "all"
                    ? Set(ConfigurationVariable.Process.allCases)
                    : Set(group.split(separator: ",").compactMap { short[$0.trimmingCharacters(in: .whitespaces)] })
                #expect(byName[name] == processes, "\(name): the guide says '\(group)'")
            }
        }
    }

    /// Only `EnvironmentReader` reads the environment, so nothing bypasses the list it checks.
    @Test func noSourceFileReadsTheEnvironmentAroundTheReader() throws {
        let sources = Self.root.appendingPathComponent("Sources")
        var offenders: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: sources.path)
        while let relative = enumerator?.nextObject() as? String {
            guard relative.hasSuffix(".swift"), !relative.hasPrefix("AppConfig/") else { continue }
            let text = try String(contentsOf: sources.appendingPathComponent(relative), encoding: .utf8)
            for pattern in ["ProcessInfo.processInfo.environment", "getenv("] where text.contains(pattern) {
                offenders.append("\(relative): \(pattern)")
            }
        }
        #expect(offenders == [])
    }

    @Test func everyRelativeLinkPointsIntoTheRepository() throws {
        var broken: [String] = []
        for document in try Self.documents() {
            let base = Self.root.appendingPathComponent(document.path).deletingLastPathComponent()
            for link in Self.links(in: document.text) where !link.contains("://") && !link.hasPrefix("mailto:") {
                let path = String(link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)[0])
                guard !path.isEmpty else { continue }
                let target = base.appendingPathComponent(path).standardizedFileURL
                if !target.path.hasPrefix(Self.root.standardizedFileURL.path)
                    || !FileManager.default.fileExists(atPath: target.path)
                {
                    broken.append("\(document.path): \(link)")
                }
            }
        }
        #expect(broken == [])
    }

    @Test func everyScriptShownExists() throws {
        var missing: Set<String> = []
        for document in try Self.documents() {
            for match in document.text.matches(of: /scripts\/[A-Za-z0-9_.-]+\.(sh|mjs|py)/) {
                let path = String(match.output.0)
                if !FileManager.default.isExecutableFile(atPath: Self.root.appendingPathComponent(path).path)
                    && !FileManager.default.fileExists(atPath: Self.root.appendingPathComponent(path).path)
                {
                    missing.insert("\(document.path): \(path)")
                }
            }
        }
        #expect(missing.sorted() == [])
    }

    /// Every `migrator ...` and `outbox-relay ...` command line in a code block names verbs the
    /// executable has: each verb is listed under SUBCOMMANDS in the help of the words before it.
    /// (`--help` itself exits 0 even after an unknown verb, so the exit status proves nothing.)
    @Test func everyExecutableVerbShownExists() async throws {
        var commands: Set<[String]> = []
        for document in try Self.documents() {
            var inCode = false
            for line in document.text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("```") {
                    inCode.toggle()
                    continue
                }
                guard inCode else { continue }
                let words = line.split(separator: " ").map(String.init)
                guard let executable = words.first, ["migrator", "outbox-relay"].contains(executable) else { continue }
                // The verbs: the words before the first option, argument or comment.
                let verbs = words.dropFirst().prefix {
                    $0.allSatisfy { $0.isLowercase || $0 == "-" } && !$0.hasPrefix("-")
                }
                commands.insert([executable] + verbs)
            }
        }
        #expect(commands.count >= 8, "found only \(commands.sorted { $0.joined() < $1.joined() })")
        var helps: [[String]: Set<String>] = [:]
        for command in commands {
            for position in 1..<command.count {
                let parent = Array(command[..<position])
                if helps[parent] == nil { helps[parent] = try await Self.subcommands(of: parent) }
                #expect(
                    helps[parent]?.contains(command[position]) == true,
                    "\(parent.joined(separator: " ")) has no verb \(command[position])"
                )
            }
        }
    }

    /// The verbs the help of `command` lists under SUBCOMMANDS.
    static func subcommands(of command: [String]) async throws -> Set<String> {
        let child = try await ChildProcess.run(
            try TestPaths.executable(command[0]),
            Array(command.dropFirst()) + ["--help"]
        )
        #expect(child.status == 0, "\(command.joined(separator: " ")) --help: \(child.standardError)")
        let lines = child.standardOutput.split(separator: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix("SUBCOMMANDS:") }) else { return [] }
        return Set(
            lines[(start + 1)...].filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
                .compactMap { $0.split(separator: " ").first.map(String.init) }
        )
    }

    /// Every JavaScript block of the docs parses (`node --check`): a snippet a client author
    /// copies must at least be valid code. (The Node example itself runs in `ExampleClientTests`.)
    @Test func everyJavaScriptSnippetParses() async throws {
        let path = try #require(
            ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":")
                .map { URL(fileURLWithPath: String($0)).appendingPathComponent("node") }
                .first { FileManager.default.isExecutableFile(atPath: $0.path) },
            "node is not on PATH: scripts/lib.sh ensure_prereqs installs it"
        )
        var checked = 0
        for document in try Self.documents() {
            for (index, match) in document.text.matches(of: /```js\n([\s\S]*?)```/).enumerated() {
                let file = FileManager.default.temporaryDirectory
                    .appendingPathComponent("snippet-\(UUID().uuidString).mjs")
                try Data(match.output.1.utf8).write(to: file)
                defer { try? FileManager.default.removeItem(at: file) }
                let child = try await ChildProcess.run(path, ["--check", file.path])
                #expect(child.status == 0, "\(document.path), JavaScript block \(index + 1): \(child.standardError)")
                checked += 1
            }
        }
        #expect(checked >= 1)
    }

    /// The targets of Markdown links, `[text](target)`.
    static func links(in text: String) -> [String] {
        text.matches(of: /\]\(([^)\s]+)\)/).map { String($0.output.1) }
    }
}
