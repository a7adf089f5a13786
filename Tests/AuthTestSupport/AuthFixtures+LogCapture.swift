import Logging
import Synchronization

extension AuthFixtures {
    /// Keeps every log record, to check what the request log says and what it never says.
    public final class LogCapture: Sendable {
        public struct Record: Sendable {
            public let level: Logger.Level
            public let message: String
            public let metadata: [String: String]

            /// The whole record as text, for "never contains" checks.
            public var text: String { message + " " + metadata.map { "\($0)=\($1)" }.joined(separator: " ") }
        }

        public init() {}

        private let records = Mutex<[Record]>([])

        public var all: [Record] { records.withLock { $0 } }

        public var logger: Logger {
            var logger = Logger(label: "capture") { _ in Handler(capture: self) }
            logger.logLevel = .trace
            return logger
        }

        fileprivate func append(_ record: Record) {
            records.withLock { $0.append(record) }
        }

        private struct Handler: LogHandler {
            let capture: LogCapture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(event: LogEvent) {
                let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
                capture.append(
                    Record(
                        level: event.level,
                        message: "\(event.message)",
                        metadata: merged.mapValues { "\($0)" }
                    )
                )
            }
        }
    }
}
