import AppConfig
import Foundation
import TestSupport
import Testing

/// The manifests under `deploy/kubernetes/` are checked like code: valid against the Kubernetes
/// schemas, clean under checkov, and setting only variables the processes read.
///
/// Both run `scripts/check-kubernetes.sh`, which uses the venv `scripts/test.sh` installs
/// (`ensure_prereqs`); without it they fail, naming the script. No cluster is needed.
@Suite struct KubernetesManifestTests {
    static let script = TestPaths.repositoryRoot.appendingPathComponent("scripts/check-kubernetes.sh")

    /// Which process each container of the manifests runs.
    static let processes: [String: ConfigurationVariable.Process] = [
        "photo-api": .photoAPI,
        "outbox-relay": .outboxRelay,
        "migrator": .migrator,
    ]

    @Test func theManifestsPassKubernetesValidateAndCheckov() async throws {
        let run = try await ChildProcess.run(Self.script, [], timeout: .seconds(600))
        #expect(
            run.status == 0,
            "scripts/check-kubernetes.sh failed:\n\(run.standardOutput)\n\(run.standardError)"
        )
    }

    /// Every variable a container gets (from `env`, or from a ConfigMap or Secret through
    /// `envFrom`) is one docs/configuration.md lists for the process that container runs, so a
    /// renamed or removed variable cannot linger in the manifests unnoticed.
    @Test func everyVariableTheManifestsSetIsOneTheProcessReads() async throws {
        let run = try await ChildProcess.run(Self.script, ["--env"], timeout: .seconds(120))
        try #require(run.status == 0, "scripts/check-kubernetes.sh --env failed:\n\(run.standardError)")
        let documented = Set(try DocumentationTests.documentedVariables().flatMap(\.names))
        let readers = Dictionary(
            ConfigurationVariable.all.map { ($0.name, $0.processes) },
            uniquingKeysWith: { $0.union($1) }
        )
        var seen: [String: Set<String>] = [:]
        for line in run.standardOutput.split(whereSeparator: \.isNewline) {
            let fields = line.split(separator: "\t").map(String.init)
            try #require(fields.count == 2, "unexpected line \(line)")
            let (container, name) = (fields[0], fields[1])
            seen[container, default: []].insert(name)
            let process = try #require(Self.processes[container], "container \(container) runs no known process")
            #expect(documented.contains(name), "\(container) sets \(name), which docs/configuration.md does not list")
            #expect(
                readers[name]?.contains(process) == true,
                "\(container) sets \(name), which \(process.rawValue) does not read"
            )
        }
        // The manifests really were read: each process gets its database.
        #expect(Set(seen.keys) == Set(Self.processes.keys))
        for (container, names) in seen {
            #expect(names.contains("DATABASE_URL"), "\(container) gets no DATABASE_URL")
        }
    }
}
