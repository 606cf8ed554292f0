// swift-tools-version:6.0
// Recurrent: recurrent neural networks (RNN, LSTM, GRU) on the CPU, on OpenBLAS and LAPACKE.
import PackageDescription

/// Whole-module optimisation and cross-module inlining are what SwiftPM does in release
/// builds; nothing here uses `unsafeFlags`, so the package stays usable as a dependency.
let package = Package(
    name: "Recurrent",
    products: [
        .library(name: "Recurrent", targets: ["Recurrent"]),
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        // CInclude: the C libraries, found through pkg-config.
        .systemLibrary(
            name: "CBLAS",
            path: "CInclude/CBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"]), .brew(["openblas"])]
        ),
        .systemLibrary(
            name: "CLAPACKE",
            path: "CInclude/CLAPACKE",
            pkgConfig: "lapacke",
            providers: [.apt(["liblapacke-dev"]), .brew(["lapack"])]
        ),

        // The library, one layer on the other.
        .target(name: "LinearAlgebra", dependencies: ["CBLAS", "CLAPACKE"]),
        .target(name: "Recurrent", dependencies: ["LinearAlgebra"]),

        // Example programs (added as they arrive).

        // Tests.
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(
            name: "RecurrentTests",
            dependencies: ["Recurrent"],
            resources: [.copy("Fixtures")]
        ),
    ]
)
