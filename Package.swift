// swift-tools-version:6.1
import PackageDescription

/// One module per concern; the folder tree under Sources/ is the architecture (see README.md).
let package = Package(
    name: "PlexLab",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "plexlab", targets: ["plexlab"]),
        // The QEMU TCG plugin is a plain C shared object that qemu-user loads with -plugin.
        .library(name: "PlexLabQEMUPlugin", type: .dynamic, targets: ["QEMUPlugin"]),
        // Whole-system recording (issue 23): the plugin qemu-system-x86_64 10.x loads with -plugin.
        .library(name: "PlexLabQEMUSystemPlugin", type: .dynamic, targets: ["QEMUSystemPlugin"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    ],
    targets: [
        // System libraries from Debian (.ci/run installs the -dev packages).
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CZydis", providers: [.apt(["libzydis-dev"])]),
        // LZ4 for the fast form of a recording (2x zstd's fastest level on the plugin's stream).
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CElf", pkgConfig: "libelf", providers: [.apt(["libelf-dev"])]),
        // SQLite's defensive switches (sqlite3_db_config is variadic, so Swift needs a C wrapper).
        .systemLibrary(name: "CSQLiteHardening", providers: [.apt(["libsqlite3-dev"])]),

        // The plugin's wire protocol and ring layout: one C header shared by the plugin and the recorder.
        .target(name: "PlexLabWire"),
        // The recording engine's plugin (C, QEMU plugin API v1 as shipped with QEMU 7.2).
        .target(name: "QEMUPlugin", dependencies: ["PlexLabWire"], cSettings: [.unsafeFlags(["-O2", "-fomit-frame-pointer", "-momit-leaf-frame-pointer"])]),
        // The whole-system recording plugin (C, QEMU plugin API v4 as shipped with QEMU 10.0).
        .target(name: "QEMUSystemPlugin", dependencies: ["PlexLabWire"], cSettings: [.unsafeFlags(["-O2"])]),

        // x86 decoding over Zydis: exit kinds, static targets, sensitive instructions, the page scan.
        .target(name: "X86Decode", dependencies: ["CZydis", "TraceModel"]),
        // Value types every module shares: block definitions, events, metadata.
        .target(name: "TraceModel"),
        // The block-stream codec: a successor predictor plus an entropy coder (bits per executed block).
        .target(name: "BlockCodec", dependencies: ["TraceModel"]),
        // The trace file: schema, chunked streams, streaming writer and reader.
        .target(name: "TraceStore", dependencies: ["TraceModel", "BlockCodec", "CZstd", "CLZ4", "CSQLiteHardening",
                                                   .product(name: "GRDB", package: "GRDB.swift")]),
        // Turns code bytes plus executed block starts into block definitions and a trace.
        .target(name: "TraceBuilder", dependencies: ["TraceStore", "X86Decode"]),
        // `plexlab record`: runs programs under qemu-user with the plugin.
        .target(name: "Recorder", dependencies: ["PlexLabWire", "TraceBuilder", "TraceStore", "X86Decode"]),
        // `plexlab import`: the documented JSON Lines trace format.
        .target(name: "TraceImport", dependencies: ["TraceBuilder", "TraceStore", "X86Decode"]),
        // Cycle costs per event: built-in and user profiles.
        .target(name: "CostModel", dependencies: ["TraceModel"]),
        // The replay engine and one file per strategy.
        .target(name: "Replay", dependencies: ["TraceStore", "X86Decode", "CostModel"]),
        // ELF symbols for hot trap sites.
        .target(name: "Symbols", dependencies: ["CElf", "TraceModel"]),
        // Parameter sweeps: grids, plans and shards, points stored one file each, curves and knees (docs/sweep.md).
        .target(name: "Sweep", dependencies: ["Replay", "CostModel", "TraceStore", "TraceModel"]),
        // Markdown, HTML/SVG and JSON reports.
        .target(name: "Reports", dependencies: ["Replay", "CostModel", "TraceStore", "X86Decode", "Symbols", "Sweep"]),
        // The CI performance gate.
        .target(name: "Gate", dependencies: ["Replay", "CostModel", "TraceStore", "Workloads"]),
        // The workload corpus: named, reproducible programs to record.
        .target(name: "Workloads", dependencies: ["TraceModel", "TraceStore", "Recorder"]),
        // `plexlab calibrate`: this machine's trap costs.
        // -O2 even in debug builds: the lookup kernels must measure optimized code, not -O0 spills.
        .target(name: "CCalibrate", dependencies: ["CZydis"], cSettings: [.unsafeFlags(["-O2"])]),
        .target(name: "Calibrate", dependencies: ["CCalibrate", "CostModel", "TraceModel"]),
        // `plexlab live` and `plexlab fidelity`: programs run under a real INT3 / page-protection monitor (docs/live.md).
        .target(name: "CLiveTrace"),
        .target(name: "LiveMonitor", dependencies: ["CLiveTrace", "X86Decode", "TraceModel", "Replay", "Reports"]),
        .target(name: "Fidelity", dependencies: ["LiveMonitor", "Recorder", "Replay", "CostModel", "Calibrate", "Workloads"]),
        // The thin command-line front end.
        .executableTarget(name: "plexlab", dependencies: [
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            "TraceModel", "TraceStore", "X86Decode", "TraceBuilder", "Recorder", "TraceImport", "CostModel",
            "Replay", "Reports", "Gate", "Workloads", "Calibrate", "LiveMonitor", "Fidelity",
            "Sweep",
        ]),
        // Replay throughput benchmark (scripts/bench-replay.sh): makes traces, measures against decompression.
        .executableTarget(name: "replay-bench", dependencies: ["Replay", "TraceStore", "TraceModel", "X86Decode"],
                          path: "scripts/replay-bench"),

        // libFuzzer targets (docs/reliability.md): a plain build replays files through them once;
        // scripts/fuzz.sh builds them with -sanitize=fuzzer into .build-fuzz and runs them.
        .target(name: "CFuzzDriver", path: "Sources/FuzzTargets/CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver", "TraceModel"], path: "Sources/FuzzTargets/FuzzSupport"),
        .executableTarget(name: "FuzzImportLines", dependencies: ["TraceImport", "FuzzSupport"],
                          path: "Sources/FuzzTargets/FuzzImportLines"),
        .executableTarget(name: "FuzzImportFile", dependencies: ["TraceImport", "TraceStore", "FuzzSupport"],
                          path: "Sources/FuzzTargets/FuzzImportFile"),
        .executableTarget(name: "FuzzChunkDecode", dependencies: ["TraceStore", "TraceModel", "FuzzSupport"],
                          path: "Sources/FuzzTargets/FuzzChunkDecode"),
        .executableTarget(name: "FuzzTraceFile", dependencies: ["TraceStore", "TraceModel", "FuzzSupport"],
                          path: "Sources/FuzzTargets/FuzzTraceFile"),
        // Codec measurements for scripts/bench-codec.sh (bits per block, encode/decode speed).
        .executableTarget(name: "codec-bench", dependencies: ["BlockCodec", "TraceModel", "TraceStore", "CZstd"],
                          path: "scripts/codec-bench"),

        .testTarget(name: "X86DecodeTests", dependencies: ["X86Decode"]),
        .testTarget(name: "BlockCodecTests", dependencies: ["BlockCodec", "TraceModel"]),
        .testTarget(name: "TraceStoreTests", dependencies: ["TraceStore", "CZstd",
                                                         .product(name: "GRDB", package: "GRDB.swift")]),
        .testTarget(name: "TraceBuilderTests", dependencies: ["TraceBuilder", "TraceStore", "X86Decode"]),
        .testTarget(name: "RecorderTests", dependencies: ["Recorder", "TraceStore", "Workloads", "Symbols"]),
        .testTarget(name: "TraceImportTests", dependencies: ["TraceImport", "TraceStore"]),
        .testTarget(name: "ReplayTests", dependencies: ["Replay", "CostModel", "TraceStore", "TraceImport", "Recorder", "Workloads", "Sweep"]),
        // Sweeps through the library on hand-worked traces, and the one-node Slurm cluster test.
        .testTarget(name: "SweepTests", dependencies: ["Sweep", "Reports", "Replay", "TraceStore", "TraceModel"]),
        .testTarget(name: "ReportsTests", dependencies: ["Reports", "Replay", "TraceImport", "Symbols"]),
        .testTarget(name: "GateTests", dependencies: ["Gate", "Replay", "CostModel", "TraceImport", "Workloads"]),
        .testTarget(name: "CalibrateTests", dependencies: ["Calibrate", "CostModel"]),
        .testTarget(name: "LiveMonitorTests", dependencies: ["LiveMonitor", "Fidelity", "Replay", "Recorder", "Workloads", "TraceModel", "CostModel"]),
        // Whole-system recording: a guest boot under qemu-system (skipped where the host lacks it), the guest image.
        .testTarget(name: "SystemRecordTests", dependencies: ["Recorder", "TraceStore", "TraceModel", "X86Decode"]),
        // End-to-end tests that run the built `plexlab` executable (found next to the test bundle).
        .testTarget(name: "CLITests", dependencies: ["TraceModel", "TraceStore"]),
        // Hostile files, kill -9, live readers and the fuzz corpus, through the library and the built executables.
        .testTarget(name: "ReliabilityTests", dependencies: ["TraceStore", "TraceImport", "TraceModel", "CZstd",
                                                            .product(name: "GRDB", package: "GRDB.swift")]),
    ],
    swiftLanguageModes: [.v6]
)
