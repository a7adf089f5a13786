import Foundation

extension ChildProcess {
    /// The port a server started with `PORT=0` reports in its "Server started and listening on
    /// 127.0.0.1:PORT" log line, waiting for the line up to `timeout`; `nil` when the process
    /// exits or the time runs out first. Binding port 0 lets the kernel pick a free port, so
    /// several servers started side by side never race for one.
    public func reportedListeningPort(timeout: Duration = .seconds(30)) async throws -> Int? {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning, ContinuousClock.now < deadline {
            if let line = errorLines.first(where: { $0.contains("Server started") }),
                let range = line.range(of: #"127\.0\.0\.1:(\d+)"#, options: .regularExpression)
            {
                return Int(line[range].split(separator: ":").last ?? "")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }
}
