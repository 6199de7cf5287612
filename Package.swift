// swift-tools-version:6.0
// Targets follow the layers in README ("Layout"): each imports only the ones below it.
import PackageDescription

// Hot loops are compiled for the CPU that builds them (scripts/mstar and scripts/test always build
// where they run). MSTAR_TARGET_CPU=generic builds a portable binary instead.
let targetCPU = Context.environment["MSTAR_TARGET_CPU"] ?? "native"
let kernelFlags: [SwiftSetting] = [
    .unsafeFlags(["-Ounchecked"] + (targetCPU == "generic" ? [] : ["-target-cpu", targetCPU]),
                 .when(configuration: .release)),
] + (targetCPU == "generic" ? [.define("MSTAR_GENERIC_BUILD")] : [])

let package = Package(
    name: "mstar",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "mstar", targets: ["mstar"]),
        .library(name: "MSTaRTensor", targets: ["MSTaRTensor"]),
        .library(name: "MSTaRTasks", targets: ["MSTaRTasks"]),
        .library(name: "MSTaRModel", targets: ["MSTaRModel"]),
        .library(name: "MSTaR", targets: ["MSTaR"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
    ],
    targets: [
        // System libraries, found through pkg-config (Debian: libopenblas-dev, libedit-dev).
        .systemLibrary(name: "COpenBLAS", path: "Sources/COpenBLAS", pkgConfig: "openblas",
                       providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CEditLine", path: "Sources/CEditLine", pkgConfig: "libedit",
                       providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CZlib", path: "Sources/CZlib", pkgConfig: "zlib",
                       providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZMQ", path: "Sources/CZMQ", pkgConfig: "libzmq",
                       providers: [.apt(["libzmq3-dev"])]),

        .target(name: "MSTaRTensor", dependencies: ["COpenBLAS"],
                swiftSettings: kernelFlags),
        .target(name: "MSTaRTasks", dependencies: ["MSTaRTensor", "CZlib"]),
        .target(name: "MSTaRModel", dependencies: ["MSTaRTensor", "MSTaRTasks"],
                swiftSettings: kernelFlags),
        .target(name: "MSTaR", dependencies: ["MSTaRTensor", "MSTaRTasks", "MSTaRModel"]),
        // The remote backend: a ResponseGenerator and a StepScorer over an OpenAI-compatible server
        // (vLLM, `mstar serve`), on Foundation's URLSession (docs/remote.md). It needs only the model layer.
        .target(name: "MSTaRRemote", dependencies: ["MSTaRTensor", "MSTaRTasks", "MSTaRModel", "MSTaR"]),
        .target(name: "MSTaRWorkbench", dependencies: ["MSTaRTensor", "MSTaRTasks", "MSTaRModel", "MSTaR", "MSTaRRemote", "CEditLine"]),
        // `mstar serve`: the OpenAI-compatible HTTP server over a native policy (docs/serve.md).
        .target(name: "MSTaRServe", dependencies: [
            "MSTaRTensor", "MSTaRTasks", "MSTaRModel", "MSTaR",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // `mstar kernel`: the Jupyter kernel, the messaging protocol over ZeroMQ (docs/kernel.md).
        .target(name: "MSTaRKernel", dependencies: [
            "MSTaRTensor", "MSTaRTasks", "MSTaRWorkbench", "CZMQ",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // Harnesses over the decoders of untrusted input; Fuzz/ drives them with libFuzzer, the tests replay their corpora.
        .target(name: "MSTaRFuzz", dependencies: ["MSTaRTensor", "MSTaRTasks", "MSTaRModel", "MSTaRWorkbench"]),
        .executableTarget(name: "mstar", dependencies: [
            "MSTaRTensor", "MSTaRTasks", "MSTaRModel", "MSTaR", "MSTaRWorkbench", "MSTaRServe", "MSTaRKernel",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        .testTarget(name: "MSTaRTensorTests", dependencies: ["MSTaRTensor"]),
        .testTarget(name: "MSTaRTasksTests", dependencies: ["MSTaRTasks"]),
        .testTarget(name: "MSTaRModelTests", dependencies: ["MSTaRModel"]),
        .testTarget(name: "MSTaRTests", dependencies: ["MSTaR"]),
        .testTarget(name: "MSTaRWorkbenchTests", dependencies: ["MSTaRWorkbench", "MSTaRTasks", "MSTaRModel", "MSTaR"]),
        .testTarget(name: "MSTaRServeTests", dependencies: ["MSTaRServe", "MSTaR", "MSTaRModel", "MSTaRTasks", "MSTaRTensor"]),
        .testTarget(name: "MSTaRRemoteTests", dependencies: ["MSTaRRemote", "MSTaR", "MSTaRServe", "MSTaRModel", "MSTaRTasks", "MSTaRTensor"]),
        .testTarget(name: "MSTaRKernelTests", dependencies: ["MSTaRKernel", "MSTaRWorkbench"]),
        .testTarget(name: "MSTaRFuzzTests", dependencies: ["MSTaRFuzz", "MSTaRModel", "MSTaRTasks", "MSTaRTensor"]),
    ]
)

// The libFuzzer executable (scripts/fuzz sets MSTAR_FUZZ; MSTAR_FUZZ_TARGET picks its harness): it
// starts libFuzzer's driver, so it links only with -sanitize=fuzzer and stays out of the normal build.
if Context.environment["MSTAR_FUZZ"] != nil {
    package.targets.append(.executableTarget(name: "fuzz", dependencies: ["MSTaRFuzz"], path: "Fuzz/entry"))
    package.products.append(.executable(name: "fuzz", targets: ["fuzz"]))
    // Writes the checkpoint and safetensors seeds (scripts/fuzz --seeds builds it without a sanitizer).
    package.targets.append(.executableTarget(name: "fuzz-seeds", dependencies: ["MSTaRFuzz", "MSTaRModel", "MSTaRTasks", "MSTaRTensor"],
                                             path: "Fuzz/seeds"))
    package.products.append(.executable(name: "fuzz-seeds", targets: ["fuzz-seeds"]))
}
