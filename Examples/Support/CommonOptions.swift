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
    @Option(parsing: .unconditional,
            help: "The number of BLAS threads, at most the number of processors (1, like torch.set_num_threads(1), is the fastest for these small shapes).")
    public var threads: Int = 1

    /// Whether to print the final metrics as one JSON object on the last line (`--json`);
    /// the progress lines are then silenced.
    @Flag(help: "Print the final metrics as one JSON object on the last line (and no progress lines).")
    public var json = false

    /// The defaults (ArgumentParser fills in the parsed values).
    public init() {}

    /// The largest `--threads`: the processors the machine has.
    public static var maximumThreads: Int { max(ProcessInfo.processInfo.activeProcessorCount, 1) }

    /// Checks `--threads` and `--output` before anything runs, so that a bad option fails
    /// at once rather than after a whole training run.
    /// - Throws: `ValidationError` when `--threads` is outside 1...``maximumThreads``, or
    ///   `--output` is empty, an existing file, or a folder that cannot be created or written.
    public func validate() throws {
        guard threads >= 1 && threads <= Self.maximumThreads else {
            throw ValidationError("--threads must be in 1...\(Self.maximumThreads) (the processors of this machine), got \(threads)")
        }
        try Self.checkWritableFolder(output, option: "--output")
    }

    /// Sets the BLAS thread count to `--threads` (process-wide, like `torch.set_num_threads`).
    public func applyThreads() { ComputeThreads.set(threads) }

    /// The folder for the plots, as a URL.
    public var outputFolder: URL { URL(fileURLWithPath: output, isDirectory: true) }

    /// The progress style of a run: silent with `--json` (the last line must be the JSON
    /// object and nothing else should clutter the output), else ``ProgressLine/defaultStyle``.
    public var progressStyle: ProgressLine.Style { json ? .silent : ProgressLine.defaultStyle }

    /// Checks that `count` items of about `bytesEach` bytes (a data set size or a number of
    /// samples from the command line) fit in the machine's memory.
    /// - Throws: `ValidationError` naming the option, the estimate and the machine's memory.
    public static func checkMemory(_ option: String, count: Int, bytesEach: Int) throws {
        do {
            let (bytes, overflow) = count.multipliedReportingOverflow(by: bytesEach)
            try MemoryLimit.check(bytes: overflow ? nil : bytes, for: "\(option) \(count) (about \(bytesEach) bytes each)")
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// Checks that `path` names a folder that exists and can be written, or that can be
    /// created (its nearest existing ancestor is a writable folder).
    /// - Throws: `ValidationError` naming the option, the path and what is wrong.
    public static func checkWritableFolder(_ path: String, option: String) throws {
        guard !path.isEmpty else { throw ValidationError("\(option) expects a folder, got an empty path") }
        var url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
            let parent = url.deletingLastPathComponent()
            if parent.path == url.path { break }
            url = parent
        }
        guard isDirectory.boolValue else {
            throw ValidationError("\(option) expects a folder, but \(url.path) is a file")
        }
        guard FileManager.default.isWritableFile(atPath: url.path) else {
            throw ValidationError("\(option) expects a folder it can write to, but \(url.path) is not writable")
        }
    }

    /// Checks that `path` names a file that can be written (it may exist; its folder is
    /// created if needed).
    /// - Throws: `ValidationError` naming the option, the path and what is wrong.
    public static func checkWritableFile(_ path: String, option: String) throws {
        guard !path.isEmpty else { throw ValidationError("\(option) expects a file, got an empty path") }
        let url = URL(fileURLWithPath: path).standardizedFileURL
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ValidationError("\(option) expects a file, but \(url.path) is a folder")
        }
        try checkWritableFolder(url.deletingLastPathComponent().path, option: option)
    }

    /// Checks the options given with `--load`: the file must be readable, and none of the
    /// `training` options (name, whether given) may be given, since the model comes from the
    /// file and nothing is trained; `takes` says what the file provides.
    /// - Throws: `ValidationError` naming the file's problem, or the options to remove.
    public static func checkLoad(_ path: String, takes: String, rejecting training: KeyValuePairs<String, Bool>) throws {
        try checkReadableFile(path, option: "--load")
        let given = training.filter(\.value).map(\.key)
        guard given.isEmpty else {
            throw ValidationError("--load takes \(takes) from the file and trains nothing; remove \(given.joined(separator: ", ")), "
                                  + "or drop --load to train a new model")
        }
    }

    /// Checks that `path` names an existing regular file.
    /// - Throws: `ValidationError` naming the option, the path and what is wrong.
    public static func checkReadableFile(_ path: String, option: String) throws {
        guard !path.isEmpty else { throw ValidationError("\(option) expects a file, got an empty path") }
        if let problem = fileProblem(URL(fileURLWithPath: path)) { throw ValidationError("\(option): \(problem)") }
    }
}

/// What keeps `url` from being read as a regular file (it does not exist, is a folder, a
/// device or a pipe, or cannot be read), or `nil` when nothing does.
package func fileProblem(_ url: URL) -> String? {
    guard let attributes = try? FileManager.default.attributesOfItem(atPath: url.path) else {
        return "\(url.path) does not exist"
    }
    let type = attributes[.type] as? FileAttributeType
    guard type == .typeRegular else {
        let kind = type == .typeDirectory ? "a folder" : type == .typeCharacterSpecial || type == .typeBlockSpecial ? "a device"
            : type == .typeSocket ? "a socket" : "not a regular file (a pipe or another special file)"
        return "expected a regular file, but \(url.path) is \(kind)"
    }
    guard FileManager.default.isReadableFile(atPath: url.path) else { return "\(url.path) cannot be read (permission denied)" }
    return nil
}

/// A run that diverged: a loss or a metric that should be finite is not.
public struct TrainingDiverged: Error, CustomStringConvertible, Sendable {
    /// What is not finite, and its value.
    public let what: String
    /// The value.
    public let value: Double

    /// The message.
    public var description: String {
        "training diverged: \(what) is \(value) (a smaller --lr, or gradient clipping, may help)"
    }

    /// Throws unless every value is finite.
    /// - Throws: ``TrainingDiverged`` naming the first value that is not.
    public static func check(_ values: KeyValuePairs<String, Double>) throws {
        for (what, value) in values where !value.isFinite { throw TrainingDiverged(what: what, value: value) }
    }
}
