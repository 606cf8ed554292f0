// recurrent-bench: the library against the FMA peak of the machine (and, through
// Scripts/compare_bench.py, against PyTorch and onnxruntime running the same cases in
// Scripts/torch_bench.py and Scripts/onnx_bench.py).
//
//     swift run -c release recurrent-bench [--threads N] [--json] [--cases a,b] [--repeat K] [--list]
import ArgumentParser
import Foundation
import Recurrent

struct RecurrentBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recurrent-bench",
        abstract: "Times RNN/LSTM/GRU forward and training steps, streaming steps, autograd ops and the seed names epoch.",
        discussion: """
            Cases (--list describes them): \(allCaseNames.joined(separator: ", ")). FLOPs per layer and direction \
            2·T·B·G·(I·H + H·H); a training step counts 3× forward. Each case's GFLOP/s are read against \
            threads × peak, the FMA peak of one core measured at start-up (an FMA-chain kernel on the \
            widest vector unit); OpenBLAS sgemm at the case's largest GEMM shape is reported for reference.
            """)

    @Option(help: "BLAS threads (OpenBLAS); the peak fraction is against threads × the one-core peak.")
    var threads: Int = 1

    @Flag(help: "List the cases with their sizes and exit.")
    var list = false

    @Option(help: "Seconds of each timed run of the FMA peak kernel (the fastest of 5 counts).")
    var peakSeconds: Double = 0.02

    @Flag(help: "One JSON object per case and mode, one per line.")
    var json = false

    @Option(help: "Comma-separated cases (default: all).")
    var cases: String?

    @Option(name: .customLong("repeat"), help: "Timed samples per measurement (the median is reported).")
    var repeats: Int = 7

    @Option(help: "Minimum seconds per timed sample.")
    var minSample: Double = 0.02

    @Option(help: "Comma-separated modes of the module cases: forward, train.")
    var modes: String = "forward,train"

    @Option(help: "Profiling: run each measured body exactly this many times (no warm-up, one sample).")
    var iterations: Int?

    @Option(help: "Epochs timed for names-epoch (the median is reported).")
    var namesEpochs: Int = 1

    @Option(help: "Profiling: time only about this many names of the epoch (every k-th), scaled to the whole epoch.")
    var namesLimit: Int?

    @Option(help: "The names data directory (one <Category>.txt per category).")
    var namesData: String?

    @Option(help: "wall (default) or cpu: the process's CPU time, steadier on a loaded machine (one thread only).")
    var clock: String = "wall"

    func validate() throws {
        guard (1...1024).contains(threads) else { throw ValidationError("--threads is 1...1024, got \(threads)") }
        guard (1...10_000).contains(repeats) else { throw ValidationError("--repeat is 1...10000, got \(repeats)") }
        guard peakSeconds > 0, peakSeconds <= 60 else {
            throw ValidationError("--peak-seconds is in (0, 60], got \(peakSeconds)")
        }
    }

    mutating func run() throws {
        if list {
            printCaseList()
            return
        }
        ComputeThreads.set(threads)
        guard clock == "wall" || clock == "cpu" else { throw ValidationError("--clock is wall or cpu") }
        if clock == "cpu" { clockID = CLOCK_PROCESS_CPUTIME_ID }
        let selected = try selectedCases()
        var policy = TimingPolicy(repeats: repeats, minSampleSeconds: minSample)
        policy.fixedIterations = iterations
        let reference = GemmReference(policy: TimingPolicy(repeats: 5, minSampleSeconds: max(minSample, 0.02)))
        reference.disabled = iterations != nil
        // Profiling runs (--iterations) time nothing but the bodies.
        let peak = iterations == nil ? try Peak.measure(threads: ComputeThreads.count, seconds: peakSeconds, samples: 5) : nil
        let modeSet = Set(modes.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) })
        if !json {
            print("recurrent-bench: \(ComputeThreads.count) BLAS thread(s), median of \(repeats) samples")
            if let peak {
                print(String(format: "FMA peak: %.1f GFLOP/s per core", peak.perThreadGFLOPs)
                      + " (\(peak.unit.rawValue), \(peak.unit.accumulators) chains); threads × peak = "
                      + String(format: "%.1f GFLOP/s", peak.ceilingGFLOPs))
            }
            printHeader()
        }
        for name in selected {
            var results: [Result] = []
            if let c = moduleCases.first(where: { $0.name == name }) {
                results = try runModuleCase(c, policy: policy, reference: reference, modes: modeSet)
            } else if name == "stream-step" {
                results = try runStreamStep(policy: policy, modes: modeSet)
            } else if name == "autograd-op" {
                results = try runAutogradOp(policy: policy)
            } else if name == "names-epoch" {
                var p = policy
                p.repeats = namesEpochs
                results = try runNamesEpoch(policy: p, dataDirectory: try namesDirectory(), limit: namesLimit)
            }
            for r in results { json ? printJSON(r, peak: peak) : printRow(r, peak: peak) }
        }
    }

    func selectedCases() throws -> [String] {
        guard let cases else { return allCaseNames }
        let names = cases.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
        for n in names where !allCaseNames.contains(n) {
            throw ValidationError("unknown case \(n); known: \(allCaseNames.joined(separator: ", "))")
        }
        return names
    }

    func namesDirectory() throws -> String {
        if let namesData { return namesData }
        let candidates = ["Examples/Names/Library/Resources/names", "../shared/data/names", "/work/shared/data/names"]
        for c in candidates where FileManager.default.fileExists(atPath: c) { return c }
        throw BenchError.noData(candidates.joined(separator: " or "))
    }

    func printCaseList() {
        for c in moduleCases {
            var line = c.name.padding(16) + c.kind.rawValue.padding(6)
            line += "input \(c.input), hidden \(c.hidden), layers \(c.layers), batch \(c.batch), steps \(c.steps)"
            if c.bidirectional { line += ", bidirectional" }
            line += c.forwardOnly ? "; forward only" : "; forward, train"
            print(line)
        }
        print("stream-step".padding(22) + "one streaming RNN step (input 64, hidden 128, batch 1), and the module on one step")
        print("autograd-op".padding(22) + "one small recorded op, forward and backward (a chain of 91)")
        print("names-epoch".padding(22) + "one epoch of the seed tutorial's names classifier")
    }

    func printHeader() {
        print("case".padding(18) + "mode".padding(8) + "time".padding(13, left: true) + "GFLOP/s".padding(10, left: true)
              + "of peak".padding(9, left: true)
              + "sgemm shape".padding(20, left: true) + "sgemm GF/s".padding(12, left: true))
    }

    func printRow(_ r: Result, peak: Peak?) {
        let time: String
        if r.seconds >= 1 { time = String(format: "%.3f s", r.seconds) }
        else if r.seconds >= 1e-3 { time = String(format: "%.3f ms", r.seconds * 1e3) }
        else { time = String(format: "%.3f µs", r.seconds * 1e6) }
        var line = r.caseName.padding(18) + r.mode.padding(8) + time.padding(13, left: true)
        line += (r.gflops.map { String(format: "%.1f", $0) } ?? "").padding(10, left: true)
        line += (peak?.fraction(r).map { String(format: "%.1f%%", $0 * 100) } ?? "").padding(9, left: true)
        line += (r.sgemmShape.map(\.description) ?? "").padding(20, left: true)
        line += (r.sgemmGFLOPs.map { String(format: "%.1f", $0) } ?? "").padding(12, left: true)
        if !r.extra.isEmpty {
            line += "  " + r.extra.map { "\($0.0)=\($0.1.replacingOccurrences(of: "\"", with: ""))" }.joined(separator: " ")
        }
        print(line)
    }

    func printJSON(_ r: Result, peak: Peak?) {
        var fields: [(String, String)] = [
            ("impl", "\"swift\""), ("case", "\"\(r.caseName)\""), ("mode", "\"\(r.mode)\""),
            ("threads", "\(ComputeThreads.count)"), ("cpu_capability", "\"\(CPUCapability.current.rawValue)\""),
            ("ms", String(format: "%.6g", r.seconds * 1e3)), ("us", String(format: "%.6g", r.seconds * 1e6)),
        ]
        if let g = r.gflops { fields.append(("gflops", String(format: "%.4g", g))) }
        if let peak {
            // peak_gflops: one core; threads_peak_gflops: threads × peak, the ceiling of peak_fraction.
            fields.append(("peak_gflops", String(format: "%.4g", peak.perThreadGFLOPs)))
            fields.append(("peak_unit", "\"\(peak.unit.rawValue)\""))
            fields.append(("threads_peak_gflops", String(format: "%.4g", peak.ceilingGFLOPs)))
            if let f = peak.fraction(r) { fields.append(("peak_fraction", String(format: "%.4g", f))) }
        }
        if let s = r.sgemmShape { fields.append(("sgemm_shape", "[\(s.m), \(s.n), \(s.k)]")) }
        if let g = r.sgemmGFLOPs { fields.append(("sgemm_gflops", String(format: "%.4g", g))) }
        if let f = r.sgemmFraction { fields.append(("sgemm_fraction", String(format: "%.4g", f))) }
        if let s = r.stepGemmShape { fields.append(("step_sgemm_shape", "[\(s.m), \(s.n), \(s.k)]")) }
        if let g = r.stepSgemmGFLOPs { fields.append(("step_sgemm_gflops", String(format: "%.4g", g))) }
        if let g = r.stepPackedGFLOPs { fields.append(("step_packed_gflops", String(format: "%.4g", g))) }
        if let g = r.packedGFLOPs { fields.append(("packed_gflops", String(format: "%.4g", g))) }
        fields += r.extra
        print("{" + fields.map { "\"\($0.0)\": \($0.1)" }.joined(separator: ", ") + "}")
    }
}

extension String {
    func padding(_ width: Int, left: Bool = false) -> String {
        let n = count
        if n >= width { return self + " " }
        let pad = String(repeating: " ", count: width - n)
        return left ? pad + self : self + pad
    }
}

RecurrentBench.main()
