import ArgumentParser
import Foundation
import Recurrent

/// The command-line options every example program shares: where its plots go, the BLAS
/// thread count, and a JSON report. Each command includes them with
/// `@OptionGroup var common: CommonOptions`.
public struct CommonOptions: ParsableArguments {
    /// The folder the plots are written to (`--output`, default `output/`).
    @Option(help: "The folder the plots are written to.")
    public var output: String = "output/"

    /// The number of BLAS threads (`--threads`, default 1).
    @Option(help: "The number of BLAS threads (1, like torch.set_num_threads(1), is the fastest for these small shapes).")
    public var threads: Int = 1

    /// Whether to print the final metrics as one JSON object on the last line (`--json`).
    @Flag(help: "Print the final metrics as one JSON object on the last line.")
    public var json = false

    /// The defaults (ArgumentParser fills in the parsed values).
    public init() {}

    /// Checks `--threads`.
    /// - Throws: `ValidationError` when `--threads` is below 1.
    public func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
    }

    /// Sets the BLAS thread count to `--threads` (process-wide, like `torch.set_num_threads`).
    public func applyThreads() { ComputeThreads.set(threads) }

    /// The folder for the plots, as a URL.
    public var outputFolder: URL { URL(fileURLWithPath: output, isDirectory: true) }
}
