// swift-tools-version: 6.1
import PackageDescription

// AVP: the Automotive Virtual Platform (AVPS v2.0) as vhost-user device servers.
// Layers, bottom to top: CAVPShim → SystemCalls → GuestMemory → Virtio → VhostUser → (FrontEnd, Devices) → ServerCommands
// → Platform → avp (and ServerCommands → avp-serve);
// CALSA (libasound) and CCrypto (libcrypto) sit under Devices alone.

/// Every function in its own section, so that the link of `avp-serve` can place the code an idle server
/// runs side by side (Sources/avp-serve/hot-functions.txt, written by scripts/hot-functions).
let functionSections: [SwiftSetting] = [.unsafeFlags(["-Xfrontend", "-function-sections"])]

let package = Package(
    name: "AVP",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "avp", targets: ["avp"]),
        .executable(name: "avp-serve", targets: ["avp-serve"]),
        .executable(name: "avp-bench", targets: ["avp-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C for what Swift cannot import from Glibc (CMSG macros, packed epoll_event, fences).
        .target(name: "CAVPShim"),
        // The sound server's ALSA host output and capture: a few plain-C calls over libasound, which
        // it opens on first use (dlopen) rather than linking it into every server.
        .target(name: "CALSA"),
        // The crypto server's ciphers: a keyed AES context and a scatter-gather run over the system's
        // libcrypto (OpenSSL 3), opened on first use like libasound.
        .target(name: "CCrypto"),
        .target(name: "SystemCalls", dependencies: ["CAVPShim"], swiftSettings: functionSections),
        .target(name: "GuestMemory", dependencies: ["CAVPShim", "SystemCalls"], swiftSettings: functionSections),
        .target(name: "Virtio", dependencies: ["CAVPShim", "SystemCalls", "GuestMemory", .product(name: "Logging", package: "swift-log")], swiftSettings: functionSections),
        .target(name: "VhostUser", dependencies: [
            "CAVPShim", "SystemCalls", "GuestMemory", "Virtio",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: functionSections),
        .target(name: "Devices", dependencies: [
            "CAVPShim", "CALSA", "CCrypto", "SystemCalls", "GuestMemory", "Virtio",
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: functionSections),
        // The driver side of a virtqueue, a Swift vhost-user front end and the memfd RAM it shares, and the
        // conformance probes built on them (`avp conformance --probe`).
        .target(name: "FrontEnd", dependencies: ["CAVPShim", "SystemCalls", "GuestMemory", "Virtio", "VhostUser"]),
        // Test doubles for tests, benchmarks and fuzz targets (re-exports FrontEnd); production never links it.
        .target(name: "AVPTestSupport", dependencies: ["CAVPShim", "SystemCalls", "GuestMemory", "Virtio", "VhostUser", "FrontEnd"]),
        // `avp serve <kind>`: each kind's server options, ArgumentParser types shared by the plan (writes
        // them) and the command (reads them), and the commands that run the servers. Foundation-free
        // (FoundationEssentials at most), so that the lean `avp-serve` links nothing of the platform.
        .target(name: "ServerCommands", dependencies: [
            "SystemCalls", "GuestMemory", "Virtio", "VhostUser", "Devices",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ], swiftSettings: functionSections),
        // Knows each device kind through one file in Platform/Kinds, which writes the kind's
        // ServerCommands options into the plan.
        .target(name: "Platform", dependencies: [
            "SystemCalls", "Virtio", "VhostUser", "Devices", "ServerCommands", "Yams",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .executableTarget(name: "avp", dependencies: [
            "Platform", "ServerCommands", "VhostUser", "Devices", "SystemCalls", "FrontEnd",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The device servers alone: what `avp serve` runs (it executes this program when it sits next to
        // `avp`). Without Foundation, Yams and the platform, and with the Swift runtime linked in, an idle
        // server maps and touches a fraction of what `avp` would (bench/idle-rss).
        // lld places the functions of Sources/avp-serve/hot-functions.txt (what a server runs from start to
        // idle) side by side, so that an idle server maps little of its code, and packs the relative
        // relocations (RELR, glibc 2.36) so that start-up reads kilobytes of them rather than a megabyte.
        .executableTarget(name: "avp-serve", dependencies: [
            "ServerCommands",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], exclude: ["hot-functions.txt"], swiftSettings: functionSections, linkerSettings: [.unsafeFlags([
            "-static-stdlib", "-l_FoundationCollections", "-l_FoundationCShims",
            "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
            "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/Sources/avp-serve/hot-functions.txt",
            "-Xlinker", "--no-warn-symbol-ordering",
        ])]),
        // Load generators for bench/ scripts: drive back ends through the Swift vhost-user front end.
        .executableTarget(name: "avp-bench", dependencies: [
            "AVPTestSupport", "VhostUser", "Virtio", "GuestMemory", "SystemCalls", "Devices",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "GuestMemoryTests", dependencies: ["AVPTestSupport", "GuestMemory", "SystemCalls"]),
        .testTarget(name: "VirtioTests", dependencies: ["AVPTestSupport", "Virtio", "GuestMemory", "SystemCalls"]),
        .testTarget(name: "VhostUserTests", dependencies: ["AVPTestSupport", "CAVPShim", "VhostUser", "Devices", "Virtio", "GuestMemory", "SystemCalls"]),
        .testTarget(name: "DeviceTests", dependencies: ["AVPTestSupport", "Devices", "VhostUser", "Virtio", "GuestMemory", "SystemCalls", "Platform", "ServerCommands"]),
        .testTarget(name: "PlatformTests", dependencies: ["Platform", "ServerCommands", "Devices", "SystemCalls"]),
        .testTarget(name: "GuestTests", dependencies: ["AVPTestSupport", "CAVPShim", "Platform", "ServerCommands", "VhostUser", "Virtio", "GuestMemory", "SystemCalls"]),
    ],
    swiftLanguageModes: [.v6]
)
