// swift-tools-version:6.0
// Recurrent: recurrent neural networks (RNN, LSTM, GRU) on the CPU, on OpenBLAS and LAPACKE.
import PackageDescription

// Release builds get whole-module optimisation and cross-module inlining from SwiftPM itself;
// nothing here uses `unsafeFlags`, so the package stays usable as a dependency.
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

/// An example under `Examples/<directory>`: its data set, model and training in
/// `Library/` (the target `<directory>Example`, which the tests import) and its command in
/// `Command/` (the executable `product`). `uses` names other examples' libraries it builds on.
func example(_ name: String, product: String, resources: Bool = false, uses: [String] = []) -> (Product, [Target]) {
    let library = Target.target(
        name: "\(name)Example",
        dependencies: ["Recurrent", "ExampleSupport", argumentParser] + uses.map { .target(name: "\($0)Example") },
        path: "Examples/\(name)/Library",
        resources: resources ? [.copy("Resources")] : nil)
    let command = Target.executableTarget(
        name: name,
        dependencies: ["Recurrent", "ExampleSupport", .target(name: "\(name)Example"), argumentParser],
        path: "Examples/\(name)/Command")
    return (.executable(name: product, targets: [name]), [library, command])
}

/// An example small enough to be one file, `Examples/<directory>/main.swift`.
func singleFileExample(_ name: String, product: String) -> (Product, [Target]) {
    (.executable(name: product, targets: [name]),
     [.executableTarget(name: name, dependencies: ["Recurrent", "ExampleSupport", argumentParser],
                        path: "Examples/\(name)")])
}

let examples = [
    singleFileExample("SeedManualRNN", product: "seed-manual-rnn"),
    singleFileExample("SeedNNRNN", product: "seed-nn-rnn"),
    example("Airline", product: "airline", resources: true),
    example("Names", product: "names", resources: true),
    example("OneToOne", product: "one-to-one"),
    example("Generate", product: "generate", uses: ["Names"]),
    example("Tagging", product: "tagging", uses: ["Names"]),
    example("Translate", product: "translate"),
    example("LongRange", product: "long-range"),
    example("CTC", product: "ctc"),
]
/// The examples' libraries, which the examples' tests reach.
let exampleLibraries = examples.flatMap(\.1).filter { $0.type == .regular }.map { Target.Dependency.target(name: $0.name) }

let package = Package(
    name: "Recurrent",
    products: [
        .library(name: "Recurrent", targets: ["Recurrent"]),
        .library(name: "LinearAlgebra", targets: ["LinearAlgebra"]),
        .executable(name: "recurrent-bench", targets: ["RecurrentBench"]),
    ] + examples.map(\.0),
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

        // The library's own C kernels (AVX2 + FMA activations and the packed small GEMM of
        // the recurrent steps), chosen per function at run time; no compiler flags.
        .target(name: "CKernels", path: "CInclude/CKernels"),

        // The library, one layer on the other.
        .target(name: "LinearAlgebra", dependencies: ["CBLAS", "CLAPACKE", "CKernels"]),
        .target(name: "Recurrent", dependencies: ["LinearAlgebra"]),

        // What several example programs share: options, progress lines, SVG plots, JSON
        // reports, reading bundled files. Each example's own code is under Examples/<Name>/.
        .target(name: "ExampleSupport", dependencies: ["Recurrent", argumentParser], path: "Examples/Support"),

        // The benchmark (run it with `swift run -c release recurrent-bench`).
        .executableTarget(name: "RecurrentBench", dependencies: ["Recurrent", argumentParser],
                          path: "Benchmarks/RecurrentBench"),

        // Tests.
        .testTarget(name: "LinearAlgebraTests", dependencies: ["LinearAlgebra"]),
        .testTarget(
            name: "RecurrentTests",
            dependencies: ["Recurrent"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "ExamplesTests",
            dependencies: ["ExampleSupport", "Recurrent"] + exampleLibraries
        ),
    ] + examples.flatMap(\.1)
)

// Data-parallel training over MPI: a product of its own, so that the `Recurrent` product
// never links MPI. `CMPI` finds Open MPI through pkg-config (`ompi-c`); on a machine without
// it, SwiftPM warns, its shim compiles to functions that report MPI as unavailable, and
// everything still builds (see CInclude/CMPI/shim.h).
package.products += [
    .library(name: "RecurrentDistributed", targets: ["RecurrentDistributed"]),
    .executable(name: "recurrent-mpi-tests", targets: ["RecurrentMPITests"]),
    .executable(name: "recurrent-ddp-bench", targets: ["DistributedBench"]),
]
package.targets += [
    .systemLibrary(
        name: "CMPI",
        path: "CInclude/CMPI",
        pkgConfig: "ompi-c",
        providers: [.apt(["libopenmpi-dev", "openmpi-bin"]), .brew(["open-mpi"])]
    ),
    .target(name: "RecurrentDistributed", dependencies: ["Recurrent", "CMPI"]),
    // The tests that need several processes: a program run by CI under
    // `mpirun --allow-run-as-root --oversubscribe -np 2 .build/debug/recurrent-mpi-tests`.
    .executableTarget(name: "RecurrentMPITests", dependencies: ["RecurrentDistributed", "Recurrent"],
                      path: "Tests/RecurrentMPITests"),
    // Samples per second of data-parallel LSTM training (BENCHMARKS.md, "Past one machine");
    // run it through Scripts/ddp_bench.py.
    .executableTarget(name: "DistributedBench", dependencies: ["RecurrentDistributed", "Recurrent", argumentParser],
                      path: "Benchmarks/DistributedBench"),
]
// `names --distributed` trains on every rank that mpirun started.
for target in package.targets where target.name == "Names" {
    target.dependencies.append("RecurrentDistributed")
}
