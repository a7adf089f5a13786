import AWS
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import Tracing

/// Finished spans waiting for export: bounded, so a collector that is down costs memory up to
/// `maximumQueueSize` spans and then drops (and counts) new ones instead of growing.
final class SpanExporter: Sendable {
    private struct Queue {
        var spans: [FinishedSpan] = []
        var dropped = 0
        var flushRequested = false
    }

    private let queue = Mutex(Queue())
    let maximumQueueSize: Int

    init(maximumQueueSize: Int) {
        self.maximumQueueSize = maximumQueueSize
    }

    func enqueue(_ span: FinishedSpan) {
        queue.withLock { queue in
            if queue.spans.count < maximumQueueSize {
                queue.spans.append(span)
            } else {
                queue.dropped += 1
            }
        }
    }

    func requestFlush() {
        queue.withLock { $0.flushRequested = true }
    }

    /// Everything queued, and how many were dropped since the last call.
    func drain() -> (spans: [FinishedSpan], dropped: Int) {
        queue.withLock { queue in
            defer {
                queue.spans = []
                queue.dropped = 0
                queue.flushRequested = false
            }
            return (queue.spans, queue.dropped)
        }
    }

    var flushRequested: Bool { queue.withLock { $0.flushRequested } }
}

/// Sends finished spans to the collector every `exportInterval`, as OTLP/HTTP JSON
/// (`POST .../v1/traces`, `Content-Type: application/json`), and once more at shutdown. Export
/// is best effort: a batch the collector refuses or cannot take is dropped with one warning per
/// failure streak, never retried into a backlog.
public struct OTLPExporter: Service {
    let configuration: TracingConfiguration
    let exporter: SpanExporter
    let http: CurlHTTPClient
    let logger: Logger

    public func run() async throws {
        var failing = false
        func flush() async {
            let (spans, dropped) = exporter.drain()
            if dropped > 0 {
                logger.warning("spans dropped: the export queue was full", metadata: ["dropped": "\(dropped)"])
            }
            guard !spans.isEmpty, let endpoint = configuration.tracesEndpoint else { return }
            let body = OTLPJSON.encode(spans, configuration: configuration)
            do {
                let response = try await http.execute(
                    .init(
                        method: "POST",
                        url: endpoint.absoluteString,
                        headers: [("Content-Type", "application/json")],
                        body: body
                    )
                )
                guard (200..<300).contains(response.status) else {
                    throw ExportRefused(status: response.status)
                }
                if failing {
                    logger.info("span export works again")
                    failing = false
                }
            } catch {
                if !failing {
                    logger.warning(
                        "span export failed; dropping spans until the collector answers",
                        metadata: ["error": "\(error)", "spans": "\(spans.count)"]
                    )
                    failing = true
                }
            }
        }
        let tick = Duration.milliseconds(50)
        var waited = Duration.zero
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await Task.sleep(for: tick)
            waited += tick
            if waited >= configuration.exportInterval || exporter.flushRequested {
                waited = .zero
                await flush()
            }
        }
        await flush()
        await http.shutdown()
    }

    struct ExportRefused: Error, CustomStringConvertible {
        let status: Int
        var description: String { "the collector answered \(status)" }
    }
}

/// Bootstraps the process's tracer once, at start.
public enum TracingBootstrap {
    private static let installed = Mutex<SpanExporter?>(nil)

    /// With an endpoint configured: installs ``OTLPTracer`` as the process's tracer and returns
    /// the exporter `Service` to run beside the others (it flushes at shutdown). Without one:
    /// leaves swift-distributed-tracing's no-op tracer and returns `nil`.
    ///
    /// The tracer is process-wide and swift-distributed-tracing allows one bootstrap per process:
    /// a second call (an application built twice in one test process) reuses the first tracer.
    public static func start(_ configuration: TracingConfiguration, logger: Logger) -> OTLPExporter? {
        guard configuration.isExporting else { return nil }
        let exporter = installed.withLock { installed in
            if let installed { return installed }
            let exporter = SpanExporter(maximumQueueSize: configuration.maximumQueueSize)
            InstrumentationSystem.bootstrap(OTLPTracer(sampler: configuration.sampler, exporter: exporter))
            installed = exporter
            return exporter
        }
        logger.info(
            "exporting traces with OTLP/HTTP JSON",
            metadata: ["service_name": "\(configuration.serviceName)"]
        )
        return OTLPExporter(
            configuration: configuration,
            exporter: exporter,
            http: CurlHTTPClient(concurrency: 1, timeoutMilliseconds: 10_000, connectTimeoutMilliseconds: 2_000),
            logger: logger
        )
    }
}
