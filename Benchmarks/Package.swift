// swift-tools-version: 6.1
//
// Benchmarks for QuantumRealm, kept as a separate package so that the main package does not
// depend on the benchmark framework. Build it from this folder (`swift build -c release`): it
// has its own .build/ and never touches the main package's. `run.sh` runs everything.
import PackageDescription

// SwiftPM names a path dependency by its folder's name, lowercased: "main" in /work/main, but a
// fresh clone may sit in a folder of any name, so derive it from where this manifest is.
let mainPackageIdentity = Context.packageDirectory
    .split(separator: "/").dropLast().last.map { $0.lowercased() } ?? "main"

let package = Package(
    name: "QuantumRealmBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // The main package, for its ZeroMQ, Drivers, Emulator and HAL products.
        .package(path: ".."),
        // ordo-one/benchmark 1.38.1. Naming the traits explicitly enables only the malloc
        // interposer (the mallocCount* metrics, LD_PRELOADed by the plugin; no jemalloc on
        // Swift 6.3) and leaves out the default "RuntimeInterposer" trait, whose package
        // (ordo-one/swift-runtime-interposer) is not mirrored here; it only feeds the ARC metrics.
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        // swift-crypto, for realm-compare's second anchor: its own ML-DSA-65 verification (BoringSSL).
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        // The PUB→SUB measurement written against our ZeroMQ module; shared by both runners.
        .target(
            name: "ZMQBenchSupport",
            dependencies: [.product(name: "ZeroMQ", package: mainPackageIdentity)],
            path: "Sources/ZMQBenchSupport"),

        // Raw libzmq send loop in C: the send-path malloc baseline the Swift API is compared to.
        .target(
            name: "CZMQRawSend",
            path: "Sources/CZMQRawSend",
            linkerSettings: [.linkedLibrary("zmq")]),

        // ordo-one benchmarks: `swift package benchmark` runs every executable target whose
        // sources are in a folder directly under Benchmarks/.
        .executableTarget(
            name: "ZeroMQThroughput",
            dependencies: [
                "ZMQBenchSupport",
                "CZMQRawSend",
                .product(name: "ZeroMQ", package: mainPackageIdentity),
                .product(name: "Benchmark", package: "benchmark"),
            ],
            path: "Benchmarks/ZeroMQThroughput",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]),

        // Flag parsing shared by the compare tools.
        .target(name: "CompareSupport", path: "Sources/CompareSupport"),

        // Sample-level CPMG compile throughput at 2.5 GS/s: SequenceCompiler vs numpy.
        .executableTarget(
            name: "compile-compare",
            dependencies: [
                "CompareSupport",
                .product(name: "Sequences", package: mainPackageIdentity),
                .product(name: "HAL", package: mainPackageIdentity),
                .product(name: "Quantities", package: mainPackageIdentity),
            ],
            path: "Sources/compile-compare"),

        // The control loop's wake-up latency vs cyclictest (rt-tests), same period, policy and priority.
        .executableTarget(
            name: "loop-compare",
            dependencies: ["CompareSupport", .product(name: "Runtime", package: mainPackageIdentity)],
            path: "Sources/loop-compare"),

        // Confirmed allocations/s through the realm on SQLite and PostgreSQL vs the ML-DSA work alone; quote p99.
        .executableTarget(
            name: "realm-compare",
            dependencies: [
                "CompareSupport",
                .product(name: "Realm", package: mainPackageIdentity),
                .product(name: "Ledger", package: mainPackageIdentity),
                .product(name: "Allocation", package: mainPackageIdentity),
                .product(name: "Quantities", package: mainPackageIdentity),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Sources/realm-compare"),

        // χ for CPMG-1…64 under 1/f: the Sequences library vs filter-functions at equal accuracy.
        .executableTarget(
            name: "chi-compare",
            dependencies: ["CompareSupport", .product(name: "Sequences", package: mainPackageIdentity)],
            path: "Sources/chi-compare"),

        // Swift vs. raw libzmq (Anchors/zmq_pubsub.c), interleaved rounds in one invocation.
        .executableTarget(
            name: "zmq-compare",
            dependencies: [
                "ZMQBenchSupport",
                .product(name: "ZeroMQ", package: mainPackageIdentity),
            ],
            path: "Sources/zmq-compare"),

        // Telemetry end to end (record → PUB → TCP → SUB → decode) vs raw libzmq sending the same
        // frames pre-encoded (Anchors/telemetry_raw.c), interleaved rounds in one invocation.
        .executableTarget(
            name: "telemetry-compare",
            dependencies: [
                "CompareSupport",
                .product(name: "Telemetry", package: mainPackageIdentity),
                .product(name: "ZeroMQ", package: mainPackageIdentity),
            ],
            path: "Sources/telemetry-compare"),

        // SCPI round trips: our driver stack to the emulated 372 vs. a C line server
        // (Anchors/line_echo_server.c), interleaved rounds in one invocation.
        .executableTarget(
            name: "scpi-compare",
            dependencies: [
                "CompareSupport",
                .product(name: "Drivers", package: mainPackageIdentity),
                .product(name: "Emulator", package: mainPackageIdentity),
                .product(name: "HAL", package: mainPackageIdentity),
            ],
            path: "Sources/scpi-compare"),

        // Emulated qubit shots per second (CPMG-64, 1/f noise) through QubitTestbed vs the same
        // algorithm in numpy (Anchors/qubit_numpy.py), interleaved rounds in one invocation.
        .executableTarget(
            name: "qubit-compare",
            dependencies: [
                "CompareSupport",
                .product(name: "Emulator", package: mainPackageIdentity),
                .product(name: "HAL", package: mainPackageIdentity),
                .product(name: "Quantities", package: mainPackageIdentity),
            ],
            path: "Sources/qubit-compare"),
    ],
    swiftLanguageModes: [.v6]
)
