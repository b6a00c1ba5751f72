// swift-tools-version:6.0
// Skein: an event-sourced multi-network CNI meta-plugin.
//
// Dependency direction (toward purity):
//   skein ─▶ SkeinEngine ─▶ SkeinExecutor ─▶ SkeinNetlink ─▶ CNetlink (libnl-route-3)
//                  │  └────▶ SkeinJournal ─▶ CLMDB (liblmdb)
//                  └──────▶ SkeinReducer ─▶ SkeinModel            (pure: no Glibc, clock, randomness, I/O)
//   skein-journal ─▶ SkeinJournal, SkeinReducer, SkeinModel      (cannot link the executor: no edge to it)
import PackageDescription

let pure: [SwiftSetting] = [.swiftLanguageMode(.v5)]
let system: [SwiftSetting] = [.swiftLanguageMode(.v5)]

let package = Package(
    name: "Skein",
    products: [
        .executable(name: "skein", targets: ["skein"]),
        .executable(name: "skein-journal", targets: ["skein-journal"]),
    ],
    targets: [
        // C system libraries.
        .systemLibrary(name: "CLMDB", path: "Sources/CLMDB"),
        .systemLibrary(name: "CNetlink", path: "Sources/CNetlink", pkgConfig: "libnl-route-3.0"),
        .systemLibrary(name: "CSSL", path: "Sources/CSSL"),

        // Pure layers.
        .target(name: "SkeinModel", swiftSettings: pure),
        .target(name: "SkeinReducer", dependencies: ["SkeinModel"], swiftSettings: pure),
        // Multus semantics: NADs, the networks annotation, the delegate list, network-status.
        .target(name: "SkeinMeta", dependencies: ["SkeinModel"], swiftSettings: pure),

        // I/O layers.
        .target(name: "SkeinJournal", dependencies: ["SkeinModel", "SkeinReducer", "CLMDB"], swiftSettings: system),
        .target(name: "SkeinNetlink", dependencies: ["CNetlink"], swiftSettings: system),
        // The Kubernetes API over HTTPS (OpenSSL), for pods, NADs and pods/status.
        .target(name: "SkeinKube", dependencies: ["SkeinModel", "CSSL"], swiftSettings: system),
        .target(name: "SkeinExecutor", dependencies: ["SkeinModel", "SkeinReducer", "SkeinNetlink"], swiftSettings: system),
        .target(name: "SkeinEngine", dependencies: ["SkeinModel", "SkeinReducer", "SkeinJournal", "SkeinExecutor", "SkeinMeta", "SkeinKube"],
                swiftSettings: system),
        // The node installer (`skein install | install-status | uninstall`): files only, no kernel, no journal.
        .target(name: "SkeinInstall", dependencies: ["SkeinModel"], swiftSettings: system),

        // Executables.
        .executableTarget(name: "skein", dependencies: ["SkeinEngine", "SkeinInstall"], swiftSettings: system),
        .executableTarget(name: "skein-journal", dependencies: ["SkeinJournal", "SkeinReducer", "SkeinModel"],
                          path: "tools/skein-journal", swiftSettings: system),

        // Benchmark support (not shipped): synthesizes journals through the real append path.
        .executableTarget(name: "skein-journal-synth", dependencies: ["SkeinJournal", "SkeinModel"],
                          path: "tools/bench/synth", swiftSettings: system),

        // Fuzzing support (not shipped): the parsers as fuzz targets with their properties, and a seeded
        // mutator; libFuzzer drives them through tools/fuzz/run.sh, the CI-scaled run through SkeinFuzzTests.
        .target(name: "SkeinFuzz", dependencies: ["SkeinModel", "SkeinMeta"], path: "tools/fuzz/SkeinFuzz", swiftSettings: pure),

        // Tests.
        .testTarget(name: "SkeinModelTests", dependencies: ["SkeinModel"]),
        .testTarget(name: "SkeinReducerTests", dependencies: ["SkeinReducer", "SkeinModel"]),
        .testTarget(name: "SkeinJournalTests", dependencies: ["SkeinJournal", "SkeinReducer", "SkeinModel"]),
        .testTarget(name: "SkeinNetlinkTests", dependencies: ["SkeinNetlink"]),
        .testTarget(name: "SkeinMetaTests", dependencies: ["SkeinMeta", "SkeinModel"]),
        .testTarget(name: "SkeinKubeTests", dependencies: ["SkeinKube", "SkeinModel"], exclude: ["Fixtures"]),
        .testTarget(name: "SkeinEngineTests", dependencies: ["SkeinEngine", "SkeinModel"]),
        .testTarget(name: "SkeinExecutorTests", dependencies: ["SkeinExecutor", "SkeinNetlink", "SkeinReducer", "SkeinModel"]),
        .testTarget(name: "SkeinIntegrationTests", dependencies: ["SkeinModel"], exclude: ["Hostile"]),
        .testTarget(name: "SkeinInstallTests", dependencies: ["SkeinInstall", "SkeinModel", "SkeinKube"]),
        .testTarget(name: "SkeinFuzzTests", dependencies: ["SkeinFuzz", "SkeinModel", "SkeinMeta"], path: "tools/fuzz/Tests"),
    ]
)
