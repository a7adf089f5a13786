// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "photo-upload",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "photo-api", targets: ["PhotoAPIMain"]),
        .executable(name: "outbox-relay", targets: ["OutboxRelayMain"]),
        .executable(name: "migrator", targets: ["MigratorMain"]),
        // For the nested fuzzing package Fuzz/ (scripts/fuzz.sh).
        .library(name: "ImageInspection", targets: ["ImageInspection"]),
        .library(name: "Exif", targets: ["Exif"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.8.0"),
    ],
    targets: [
        // MARK: C libraries, each reached through exactly one Swift module below.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            pkgConfig: "libcurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .systemLibrary(
            name: "CLibExif",
            pkgConfig: "libexif",
            providers: [.apt(["libexif-dev"])]
        ),
        .systemLibrary(
            name: "COpenSSL",
            pkgConfig: "libcrypto",
            providers: [.apt(["libssl-dev"])]
        ),

        // MARK: Infrastructure libraries.
        .target(name: "CivilTime", swiftSettings: swiftSettings),
        .target(name: "UUIDCoding", swiftSettings: swiftSettings),
        .target(name: "WireFormats", swiftSettings: swiftSettings),
        .target(
            name: "Digest",
            dependencies: ["COpenSSL"],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Postgres",
            dependencies: [
                "AppConfig",
                "CLibPQ",
                "CivilTime",
                "UUIDCoding",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "AWS",
            dependencies: [
                "AppConfig",
                "CCurl",
                "CivilTime",
                "Digest",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "AppConfig", swiftSettings: swiftSettings),
        // The git commit of the build (scripts/stamp-build.sh), for --version and build_info.
        .target(name: "CBuildStamp"),
        .target(
            name: "Telemetry",
            dependencies: [
                "CBuildStamp",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),

        // Spans as OTLP/HTTP JSON over the libcurl client, when OTEL_EXPORTER_OTLP_ENDPOINT is set.
        .target(
            name: "TraceExport",
            dependencies: [
                "AppConfig",
                "AWS",
                "Domain",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),

        // Plain-text output of the operator CLIs; no Hummingbird, so `migrator` does not link it.
        .target(name: "OperatorConsole", swiftSettings: swiftSettings),
        .target(
            name: "Operations",
            dependencies: [
                "AppConfig",
                "Migrator",
                "Postgres",
                "Telemetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Uploaded bytes: bounds-checked JPEG/PNG headers, and EXIF through libexif.
        .target(name: "ImageInspection", swiftSettings: swiftSettings),
        .target(name: "Exif", dependencies: ["CLibExif"], swiftSettings: swiftSettings),

        // MARK: The system's pieces (contract section 1).
        .target(
            name: "Domain",
            dependencies: ["CivilTime", "UUIDCoding"],
            swiftSettings: swiftSettings
        ),
        // MARK: The only code that reads or writes photos, their history and idempotency keys,
        // and inserts outbox events.
        .target(
            name: "PhotoStore",
            dependencies: [
                "Domain",
                "Postgres",
                "UUIDCoding",
                "WireFormats",
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "Migrator",
            dependencies: [
                "Digest",
                "Postgres",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Who is calling and what may they do: bearer tokens, JWKS keys, identities, scopes. No HTTP.
        .target(
            name: "Auth",
            dependencies: [
                "AppConfig",
                "AWS",
                "UUIDCoding",
                "WireFormats",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // photo-api's HTTP plumbing: errors as problem documents, request ids, logs, metrics, authentication.
        .target(
            name: "HTTPSupport",
            dependencies: [
                "AppConfig",
                "TraceExport",
                "Auth",
                "Domain",
                "Postgres",
                "UUIDCoding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "API",
            dependencies: [
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "TraceExport",
                "AppConfig",
                "Auth",
                "AWS",
                "CivilTime",
                "Digest",
                "Domain",
                "Exif",
                "HTTPSupport",
                "ImageInspection",
                "Operations",
                "PhotoStore",
                "Postgres",
                "UUIDCoding",
                "WireFormats",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            // GET /openapi.yaml, compiled into the binary: a deployed photo-api needs no file beside it.
            resources: [.embedInCode("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "OutboxRelay",
            dependencies: [
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                "TraceExport",
                "AppConfig",
                "AWS",
                "Domain",
                "Operations",
                "PhotoStore",
                "Postgres",
                "UUIDCoding",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Thin executables: argument parsing, configuration, wiring, lifecycle.
        .executableTarget(
            name: "PhotoAPIMain",
            dependencies: [
                "API",
                "AppConfig",
                "Telemetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "OutboxRelayMain",
            dependencies: [
                "AppConfig",
                "OperatorConsole",
                "OutboxRelay",
                "Postgres",
                "Telemetry",
                "UUIDCoding",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "MigratorMain",
            dependencies: [
                "AppConfig",
                "Migrator",
                "OperatorConsole",
                "Postgres",
                "Telemetry",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tests. Unit tests need nothing; integration tests need TEST_DATABASE_URL (scripts/test.sh),
        // and a bare `swift test` skips them (TestSupport's `.requiresDatabase`).
        .target(
            name: "TestSupport",
            dependencies: [
                "AWS", "Migrator", "Postgres", .product(name: "Logging", package: "swift-log"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "DomainTests", dependencies: ["Domain"], swiftSettings: swiftSettings),
        .testTarget(
            name: "DocumentationTests",
            dependencies: ["AppConfig", "TestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "WireFormatsTests", dependencies: ["WireFormats"], swiftSettings: swiftSettings),
        .testTarget(
            name: "PhotoStoreTests",
            dependencies: ["Domain", "PhotoStore", "Postgres", "TestSupport", "UUIDCoding"],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "CivilTimeTests", dependencies: ["CivilTime"], swiftSettings: swiftSettings),
        .testTarget(name: "UUIDCodingTests", dependencies: ["UUIDCoding"], swiftSettings: swiftSettings),
        .testTarget(name: "DigestTests", dependencies: ["Digest"], swiftSettings: swiftSettings),
        .testTarget(
            name: "ImageInspectionTests",
            dependencies: ["Exif", "ImageInspection"],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AWSTests",
            dependencies: [
                "AppConfig",
                "AWS",
                "Digest",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ConfigurationTests",
            dependencies: [
                "API", "AWS", "AppConfig", "Auth", "Domain", "HTTPSupport", "Operations", "OutboxRelay", "Postgres",
                "TraceExport",
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "PostgresTests",
            dependencies: [
                "Postgres",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MigratorTests",
            dependencies: [
                "Migrator",
                "Postgres",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Tokens, signing keys, a JWKS server and a log capture, for the Auth, HTTPSupport and API tests.
        .target(
            name: "AuthTestSupport",
            dependencies: [
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/AuthTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "AuthTests",
            dependencies: [
                "AppConfig",
                "Auth",
                "AuthTestSupport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "HTTPSupportTests",
            dependencies: [
                "Auth",
                "AuthTestSupport",
                "HTTPSupport",
                "Operations",
                "Postgres",
                "Telemetry",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "APITests",
            dependencies: [
                "API",
                "AppConfig",
                "Auth",
                "AuthTestSupport",
                "AWS",
                "HTTPSupport",
                "Migrator",
                "Postgres",
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "OutboxRelayTests",
            dependencies: [
                "AppConfig",
                "AWS",
                "Migrator",
                "OutboxRelay",
                "Postgres",
                "TestSupport",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Benchmarks/run.sh: a fast local SQS stand-in (SendMessageBatch) for the relay benchmark.
        .executableTarget(
            name: "BenchSQSSink",
            dependencies: [
                "Digest",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/SQSSink",
            swiftSettings: swiftSettings
        ),
        .executableTarget(name: "BenchPresign", dependencies: ["AWS"], path: "Benchmarks/Presign"),
        // MARK: Benchmarks/complete/run.sh: an in-memory S3 (HEAD, ranged GET) for the complete benchmark.
        .executableTarget(
            name: "BenchS3Stub",
            dependencies: [
                "Digest",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/S3Stub",
            swiftSettings: swiftSettings
        ),
    ]
)
