import Foundation
import Testing

extension Tag {
    /// Needs a LocalStack with S3 signature validation on (`scripts/test.sh --with-localstack`
    /// exports `AWS_ENDPOINT_URL` and friends). Under `scripts/test.sh` such a test fails, rather
    /// than passes, without it; a bare `swift test` skips it (`.requiresLocalStack`).
    @Tag static var localstack: Self
}

/// Runs a child process with its output in files (no pipes to drain) and polls for its exit.
///
/// AWSTests does not depend on TestSupport (whose `ChildProcess` does the same), so this is
/// the small subset the presigner tests need.
struct PresignerChildProcess {
    let status: Int32
    let standardOutput: String
    let standardError: String

    static func run(
        _ executable: String,
        _ arguments: [String],
        timeout: Duration = .seconds(120)
    ) async throws -> PresignerChildProcess {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("presigner-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let outputURL = directory.appendingPathComponent("out")
        let errorURL = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        try process.run()
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                throw PresignerTestError(
                    "\(executable) \(arguments.joined(separator: " ")) did not exit within \(timeout)"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return PresignerChildProcess(
            status: process.terminationStatus,
            standardOutput: String(decoding: (try? Data(contentsOf: outputURL)) ?? Data(), as: UTF8.self),
            standardError: String(decoding: (try? Data(contentsOf: errorURL)) ?? Data(), as: UTF8.self)
        )
    }
}

struct PresignerTestError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}

/// botocore's `generate_presigned_url`, driven through `Fixtures/botocore_presign.py`.
enum Botocore {
    /// One request to pre-sign, in the script's JSON field names.
    struct Case: Encodable, Sendable {
        var operation = "put_object"
        var region: String
        var bucket: String
        var key: String
        var content_type: String?
        var content_length: Int?
        var checksum_sha256: String?
        var expires: Int
        var timestamp: Int
        var access_key: String
        var secret_key: String
        var session_token: String?
        var endpoint: String?
        var addressing_style: String
        var version_id: String?
    }

    private struct Output: Decodable {
        let botocore_version: String
        let urls: [String]
    }

    static let scriptPath = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()
        .appendingPathComponent("Fixtures/botocore_presign.py")
        .path

    /// Interpreters to try, in order: `BOTOCORE_PYTHON`, `PHOTO_VENV_PYTHON` (scripts/test.sh
    /// --with-localstack: a venv with boto3), then `python3` from PATH.
    static var interpreters: [String] {
        let environment = ProcessInfo.processInfo.environment
        let configured = [environment["BOTOCORE_PYTHON"], environment["PHOTO_VENV_PYTHON"]].compactMap { $0 }
        return configured.filter { !$0.isEmpty } + ["python3"]
    }

    /// botocore's URL for each case, and botocore's version.
    static func presignedURLs(for cases: [Case]) async throws -> (urls: [String], version: String) {
        let input = FileManager.default.temporaryDirectory.appendingPathComponent(
            "presign-cases-\(UUID().uuidString).json"
        )
        try JSONEncoder().encode(cases).write(to: input)
        defer { try? FileManager.default.removeItem(at: input) }
        var attempts: [String] = []
        for interpreter in interpreters {
            let child = try await PresignerChildProcess.run(interpreter, [scriptPath, input.path])
            switch child.status {
            case 0:
                let output = try JSONDecoder().decode(Output.self, from: Data(child.standardOutput.utf8))
                guard output.urls.count == cases.count else {
                    throw PresignerTestError(
                        "botocore_presign.py returned \(output.urls.count) URLs for \(cases.count) cases"
                    )
                }
                return (output.urls, output.botocore_version)
            case 2, 127:
                // No botocore (or no such interpreter) here: try the next one.
                attempts.append(
                    "\(interpreter): \(child.standardError.trimmingCharacters(in: .whitespacesAndNewlines))"
                )
            default:
                throw PresignerTestError(
                    "botocore_presign.py failed under \(interpreter) (status \(child.status)): \(child.standardError)"
                )
            }
        }
        throw PresignerTestError(
            "no Python with botocore found (pip install botocore, or set BOTOCORE_PYTHON): "
                + attempts.joined(separator: "; ")
        )
    }
}
