// swift-tools-version: 6.1
import PackageDescription

/// `-O` in every configuration, for the numeric modules (see their targets).
let optimizedAlways: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "QuantumRealm",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "qrrm", targets: ["qrrm"]),
        .library(name: "Quantities", targets: ["Quantities"]),
        .library(name: "ZeroMQ", targets: ["ZeroMQ"]),
        .library(name: "USB", targets: ["USB"]),
        .library(name: "GPIO", targets: ["GPIO"]),
        .library(name: "HAL", targets: ["HAL"]),
        .library(name: "Drivers", targets: ["Drivers"]),
        .library(name: "Emulator", targets: ["Emulator"]),
        .library(name: "Sequences", targets: ["Sequences"]),
        .library(name: "Telemetry", targets: ["Telemetry"]),
        .library(name: "TelemetryRecording", targets: ["TelemetryRecording"]),
        .library(name: "TelemetryMetrics", targets: ["TelemetryMetrics"]),
        .library(name: "Runtime", targets: ["Runtime"]),
        .library(name: "Ledger", targets: ["Ledger"]),
        .library(name: "Allocation", targets: ["Allocation"]),
        .library(name: "Realm", targets: ["Realm"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
    ],
    targets: [
        // MARK: C modules (system libraries through pkg-config, and the shim targets)
        .systemLibrary(
            name: "CZeroMQ", path: "CShims/CZeroMQ", pkgConfig: "libzmq",
            providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(
            name: "CLibUSB", path: "CShims/CLibUSB", pkgConfig: "libusb-1.0",
            providers: [.apt(["libusb-1.0-0-dev"])]),
        .systemLibrary(
            name: "CGPIOD", path: "CShims/CGPIOD", pkgConfig: "libgpiod",
            providers: [.apt(["libgpiod-dev"])]),
        .target(name: "CPlatformShims", dependencies: ["CLibUSB"], path: "CShims/CPlatformShims"),
        .target(name: "CCycleCounter", path: "CShims/CCycleCounter"),

        // MARK: Ground floor and wrappers
        .target(name: "Quantities"),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"]),
        .target(name: "USB", dependencies: ["CLibUSB", "CPlatformShims"]),
        .target(name: "GPIO", dependencies: ["CGPIOD"]),
        .target(name: "HAL", dependencies: ["Quantities"]),
        .target(name: "Drivers", dependencies: ["HAL", "USB", "GPIO", "Quantities"]),
        .target(
            name: "Emulator",
            dependencies: ["HAL", "Quantities", .product(name: "Yams", package: "Yams")], swiftSettings: optimizedAlways),
        // Sequences never imports the emulator: when the two agree, that is an independent check.
        // The numeric modules are optimized in debug builds too: the test suite integrates filter functions
        // and simulates shots by the million, which unoptimized generic code runs 20-50x slower.
        .target(name: "Sequences", dependencies: ["HAL", "Quantities"], swiftSettings: optimizedAlways),
        // The wire schema's Swift code is generated once and committed (Sources/Telemetry/Generated);
        // only the SwiftProtobuf runtime is a dependency, never its protoc plugin.
        .target(
            name: "Telemetry",
            dependencies: ["ZeroMQ", "CCycleCounter", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
            exclude: ["Schema"]),
        // Recording to SQLite is its own target, so subscribers that do not record need no GRDB.
        .target(name: "TelemetryRecording", dependencies: ["Telemetry", "ZeroMQ", .product(name: "GRDB", package: "GRDB.swift")]),
        // The optional Prometheus /metrics endpoint, likewise apart.
        .target(name: "TelemetryMetrics", dependencies: ["Telemetry", .product(name: "Prometheus", package: "swift-prometheus")]),

        // MARK: The node runtime
        // Station files, the real-time loop, interlocks, experiments and the command endpoint. It reaches
        // the emulator only to serve a station's LOOPBACK instruments in this process.
        .target(
            name: "Runtime",
            dependencies: [
                "CPlatformShims", "Quantities", "HAL", "Drivers", "GPIO", "Emulator", "Sequences", "Telemetry", "ZeroMQ",
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]),

        // MARK: The realm
        // The signed, hash-chained log every contract writes to: SQLite embedded, PostgreSQL when shared.
        .target(
            name: "Ledger",
            dependencies: [
                "Quantities",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            // Optimized in debug builds too: the test suite verifies thousands of ML-DSA signatures
            // through MLDSA65Verifier, whose unoptimized arithmetic is 30x slower.
            swiftSettings: optimizedAlways),
        // The allocation contract: a pure, deterministic state machine the realm replays from its ledger.
        .target(name: "Allocation", dependencies: ["Quantities"]),
        // The realm: contracts over the ledger, serving clients, reaching nodes only over the wire.
        .target(name: "Realm", dependencies: ["Allocation", "Ledger", "Quantities", "Telemetry", "ZeroMQ",
                                              .product(name: "Logging", package: "swift-log")]),

        // MARK: The CLI
        .executableTarget(
            name: "qrrm",
            dependencies: [
                "Quantities", "ZeroMQ", "USB", "GPIO", "HAL", "Drivers", "Runtime", "Emulator", "Sequences", "Telemetry",
                "TelemetryRecording", "TelemetryMetrics", "Ledger", "Allocation", "Realm",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]),

        // MARK: Tests
        // SplitMix64, the seeded generator the randomized tests share.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "QuantitiesTests", dependencies: ["Quantities", "TestSupport"]),
        .testTarget(name: "ZeroMQTests", dependencies: ["ZeroMQ"]),
        .testTarget(name: "USBTests", dependencies: ["USB"]),
        .testTarget(name: "GPIOTests", dependencies: ["GPIO"]),
        .testTarget(name: "HALTests", dependencies: ["HAL"]),
        .testTarget(name: "DriversTests", dependencies: ["Drivers", "USB", "TestSupport"]),
        .testTarget(name: "EmulatorTests", dependencies: ["Emulator", "HAL", "Quantities"]),
        .testTarget(name: "SequencesTests", dependencies: ["Sequences", "HAL", "Quantities"]),
        .testTarget(name: "InstrumentTwinTests", dependencies: ["Drivers", "Emulator", "TestSupport"]),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime", "Emulator", "Drivers", "HAL", "Quantities", "Sequences", "Telemetry", "ZeroMQ", "TestSupport"]),
        .testTarget(
            name: "LedgerTests",
            dependencies: ["Ledger", "Quantities", "TestSupport", .product(name: "Crypto", package: "swift-crypto")]),
        .testTarget(name: "RealmTests", dependencies: ["Realm", "Allocation", "Ledger", "Quantities", "Telemetry", "ZeroMQ"]),
        .testTarget(name: "AllocationTests", dependencies: ["Allocation", "Quantities", "TestSupport"]),
        .testTarget(name: "PlatformShimsTests", dependencies: ["CPlatformShims"]),
        .testTarget(name: "TelemetryTests", dependencies: ["Telemetry", "ZeroMQ", "TestSupport"]),
        .testTarget(name: "TelemetryRecordingTests", dependencies: ["TelemetryRecording", "Telemetry", "ZeroMQ"]),
        .testTarget(name: "TelemetryMetricsTests", dependencies: ["TelemetryMetrics", "Telemetry"]),
        .testTarget(
            name: "InteropTests", dependencies: ["ZeroMQ", "Drivers", "Emulator", "HAL", "Quantities", "Sequences", "Telemetry", "TelemetryRecording",
                                                 "Ledger", "Allocation", "Realm"], path: "Tests/Interop",
            exclude: ["python", "requirements.txt"]),
    ],
    swiftLanguageModes: [.v6]
)
