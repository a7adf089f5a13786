import AWS
import Foundation

/// A child process whose output goes to files (no pipes, so nothing in this process has to
/// block reading while it runs), awaited by polling.
public final class ChildProcess: @unchecked Sendable {
    public let process = Process()
    private let outputURL: URL
    private let errorURL: URL

    public init(_ executable: URL, _ arguments: [String], environment: [String: String] = [:]) throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("child-\(UUID().uuidString)")
        outputURL = base.appendingPathExtension("out")
        errorURL = base.appendingPathExtension("err")
        _ = FileManager.default.createFile(atPath: outputURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errorURL.path, contents: nil)
        process.executableURL = executable
        process.arguments = arguments
        var merged = ProcessInfo.processInfo.environment
        // The test environment may carry settings of its own (scripts/test.sh exports some);
        // the children see only what each test chooses, on top of a neutral base.
        for name in [
            "PORT", "HOST", "LOG_LEVEL", "JWT_HS256_SECRET", "JWT_JWKS_URL", "DETECTION_QUEUE_URL",
            "RELAY_METRICS_PORT", "PHOTOS_BUCKET", "APP_ENV",
        ] {
            merged[name] = nil
        }
        // A crashing child should say so in one line, not with a multi-kilobyte backtrace.
        merged["SWIFT_BACKTRACE"] = "enable=no"
        merged.merge(environment) { _, new in new }
        process.environment = merged
        process.standardOutput = try FileHandle(forWritingTo: outputURL)
        process.standardError = try FileHandle(forWritingTo: errorURL)
        process.standardInput = FileHandle.nullDevice
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: outputURL)
        try? FileManager.default.removeItem(at: errorURL)
    }

    public func start() throws {
        try process.run()
    }

    public var standardOutput: String {
        String(decoding: (try? Data(contentsOf: outputURL)) ?? Data(), as: UTF8.self)
    }

    public var standardError: String {
        String(decoding: (try? Data(contentsOf: errorURL)) ?? Data(), as: UTF8.self)
    }

    /// Non-empty lines of standard error.
    public var errorLines: [String] {
        standardError.split(whereSeparator: \.isNewline).map(String.init).filter {
            !$0.trimmingCharacters(in: .whitespaces).isEmpty
        }
    }

    /// Waits for the exit and returns the status; kills the child and throws after `timeout`.
    @discardableResult
    public func wait(timeout: Duration = .seconds(30)) async throws -> Int32 {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning {
            if ContinuousClock.now > deadline {
                process.terminate()
                let lastLines = errorLines.suffix(20).joined(separator: "\n")
                throw TestEnvironmentError(
                    "\(process.executableURL?.lastPathComponent ?? "child") did not exit within \(timeout); "
                        + "the end of its standard error:\n\(lastLines)"
                )
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        return process.terminationStatus
    }

    /// Starts, waits, and returns the status.
    public static func run(
        _ executable: URL,
        _ arguments: [String],
        environment: [String: String] = [:],
        timeout: Duration = .seconds(30)
    ) async throws -> ChildProcess {
        let child = try ChildProcess(executable, arguments, environment: environment)
        try child.start()
        try await child.wait(timeout: timeout)
        return child
    }

    public var status: Int32 { process.terminationStatus }
}

/// The status of `GET http://127.0.0.1:PORT/PATH`, or `nil` when nothing answers, through a
/// client made (and shut down) for this one request; a test that polls should keep one client
/// (`withHTTPClient`, `httpGetStatus(port:path:using:)`).
public func httpGetStatus(port: Int, path: String) async -> Int? {
    await withHTTPClient { client in await httpGetStatus(port: port, path: path, using: client) }
}
