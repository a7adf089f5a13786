import AppConfig
import Foundation
import Testing

@testable import TraceExport

/// The OpenTelemetry variables, read as the specification names them.
@Suite struct TracingConfigurationTests {
    static func make(_ values: [String: String]) throws -> TracingConfiguration {
        try TracingConfiguration(environment: EnvironmentReader(values), defaultServiceName: "photo-api")
    }

    @Test func withoutAnEndpointNothingIsExported() throws {
        let configuration = try Self.make([:])
        #expect(!configuration.isExporting)
        #expect(configuration.serviceName == "photo-api")
        #expect(configuration.sampler == .parentBased(root: .alwaysOn))
        #expect(configuration.exportInterval == .milliseconds(5000))
        #expect(configuration.maximumQueueSize == 2048)
    }

    @Test func theEndpointsResourceAndSamplerAreRead() throws {
        let configuration = try Self.make([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/",
            "OTEL_SERVICE_NAME": "photos-eu",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=prod, team=field%20apps",
            "OTEL_TRACES_SAMPLER": "parentbased_traceidratio",
            "OTEL_TRACES_SAMPLER_ARG": "0.25",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        ])
        #expect(configuration.tracesEndpoint?.absoluteString == "http://collector:4318/v1/traces")
        #expect(configuration.serviceName == "photos-eu")
        #expect(
            configuration.resourceAttributes.map { "\($0.key)=\($0.value)" } == [
                "deployment.environment=prod", "team=field apps",
            ]
        )
        #expect(configuration.sampler == .parentBased(root: .traceIDRatio(0.25)))
        #expect(configuration.exportInterval == .milliseconds(200))
        let direct = try Self.make([
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://traces.example.com/otlp",
        ])
        #expect(direct.tracesEndpoint?.absoluteString == "https://traces.example.com/otlp")
    }

    @Test(arguments: [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", ["OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"]),
        ("OTEL_TRACES_SAMPLER", ["OTEL_TRACES_SAMPLER": "sometimes"]),
        ("OTEL_TRACES_SAMPLER_ARG", ["OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "2"]),
        ("OTEL_RESOURCE_ATTRIBUTES", ["OTEL_RESOURCE_ATTRIBUTES": "novalue"]),
        ("OTEL_BSP_SCHEDULE_DELAY", ["OTEL_BSP_SCHEDULE_DELAY": "0"]),
    ])
    func badValuesStopTheStartNamingTheVariable(variable: String, values: [String: String]) {
        #expect {
            _ = try Self.make(values)
        } throws: { error in
            (error as? ConfigurationError)?.variable == variable
        }
    }

    /// The ratio sampler decides by the trace id alone, so every process decides alike; a
    /// parent-based sampler follows the caller's flag.
    @Test func samplersDecideAsTheSpecificationSays() {
        let low = "4bf92f3577b34da60000000000000001"
        let high = "4bf92f3577b34da6ffffffffffffffff"
        #expect(Sampler.traceIDRatio(0.5).isSampled(traceID: low, parentSampled: nil))
        #expect(!Sampler.traceIDRatio(0.5).isSampled(traceID: high, parentSampled: nil))
        #expect(!Sampler.traceIDRatio(0).isSampled(traceID: low, parentSampled: nil))
        #expect(Sampler.parentBased(root: .alwaysOff).isSampled(traceID: high, parentSampled: true))
        #expect(!Sampler.parentBased(root: .alwaysOn).isSampled(traceID: low, parentSampled: false))
        #expect(Sampler.parentBased(root: .alwaysOn).isSampled(traceID: low, parentSampled: nil))
    }
}
