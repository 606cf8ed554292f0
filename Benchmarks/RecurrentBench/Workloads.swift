// What each case runs. Every workload is built once (modules, inputs) and returns the body
// the timer calls.
import Foundation
import Recurrent

/// A measured result, one JSON object per line with `--json`.
struct Result {
    var caseName: String
    var mode: String                 // "forward", "train", "step", "op", "epoch"
    var seconds: Double              // median seconds per iteration
    var flops: Double? = nil         // per iteration
    var sgemmShape: GemmShape? = nil
    var sgemmGFLOPs: Double? = nil
    var stepGemmShape: GemmShape? = nil
    var stepSgemmGFLOPs: Double? = nil
    var stepPackedGFLOPs: Double? = nil
    /// ``PackedGEMM`` at `sgemmShape`, packing included (the layers use it there when the
    /// layer is small and single-threaded).
    var packedGFLOPs: Double? = nil
    var extra: [(String, String)] = []

    var gflops: Double? { flops.map { $0 / seconds / 1e9 } }
    /// GFLOP/s as a fraction of `sgemm`'s at `sgemmShape` (for reference: the headline
    /// fraction is against the FMA peak, ``Peak/fraction(_:)``).
    var sgemmFraction: Double? {
        guard let g = gflops, let s = sgemmGFLOPs, s > 0 else { return nil }
        return g / s
    }
}

/// Builds the module of a case (weights from a fixed seed): its forward and its parameters.
func makeModuleAndParameters(_ c: ModuleCase) throws -> (forward: (Tensor) throws -> Tensor, parameters: [Parameter]) {
    switch c.kind {
    case .rnn:
        let m = try RNN(inputSize: c.input, hiddenSize: c.hidden, numLayers: c.layers, batchFirst: true,
                        bidirectional: c.bidirectional, seed: 1)
        return ({ try m($0).output }, m.parameters())
    case .gru:
        let m = try GRU(inputSize: c.input, hiddenSize: c.hidden, numLayers: c.layers, batchFirst: true,
                        bidirectional: c.bidirectional, resetAfter: c.variant != .resetBefore, seed: 1)
        return ({ try m($0).output }, m.parameters())
    case .lstm:
        let m = try LSTM(inputSize: c.input, hiddenSize: c.hidden, numLayers: c.layers, batchFirst: true,
                         bidirectional: c.bidirectional, peepholes: c.variant == .peepholes, seed: 1)
        return ({ try m($0).output }, m.parameters())
    case .layerNormLSTM:
        let m = try LayerNormLSTM(inputSize: c.input, hiddenSize: c.hidden, numLayers: c.layers, batchFirst: true,
                                  bidirectional: c.bidirectional, seed: 1)
        return ({ try m($0).output }, m.parameters())
    }
}

/// Forward (no recording) and training step of a module case (forward only for a
/// `forwardOnly` case, whatever `modes` asks).
func runModuleCase(_ c: ModuleCase, policy: TimingPolicy, reference: GemmReference, modes: Set<String>) throws -> [Result] {
    let (forward, parameters) = try makeModuleAndParameters(c)
    var generator = SeededGenerator(seed: 7)
    let x = Tensor(uniform: [c.batch, c.steps, c.input], low: -1, high: 1, using: &generator)
    let largest = c.largestGemm, step = c.stepGemm
    var timed: [(mode: String, seconds: Double, flops: Double)] = []
    if modes.contains("forward") {
        let t = try measure(policy) {
            _ = try withoutGradients { try forward(x) }
        }
        timed.append(("forward", t.median, c.forwardFLOPs))
    }
    if modes.contains("train") && !c.forwardOnly {
        let t = try measure(policy) {
            let y = try forward(x)
            let loss = y.sum()
            loss.backward()
            for p in parameters { p.zeroGrad() }
        }
        timed.append(("train", t.median, c.trainingFLOPs))
    }
    // The reference products after the case's own timings: OpenBLAS's threads spin for a while
    // after a multi-threaded sgemm, on the cores the case would then run on.
    let sgemm = reference.gflops(largest), stepSgemm = reference.gflops(step), stepPacked = reference.packedGFLOPs(step)
    let packed = reference.packedGFLOPs(largest, packsEachCall: true)
    return timed.map { mode, seconds, flops in
        Result(caseName: c.name, mode: mode, seconds: seconds, flops: flops,
               sgemmShape: largest, sgemmGFLOPs: sgemm, stepGemmShape: step, stepSgemmGFLOPs: stepSgemm,
               stepPackedGFLOPs: stepPacked, packedGFLOPs: packed)
    }
}

/// One streaming step of a 1-layer RNN (input 64, hidden 128, batch 1), carrying its
/// state: the streaming API (preallocated buffers), and the module called on a sequence of
/// one step, for comparison.
/// With `--modes stream`, only the streaming API runs (for counting its allocations under
/// valgrind: the totals for `--iterations 1000` and `2000` are the same).
func runStreamStep(policy: TimingPolicy, modes: Set<String>) throws -> [Result] {
    let rnn = try RNN(inputSize: 64, hiddenSize: 128, batchFirst: true, seed: 1)
    var generator = SeededGenerator(seed: 7)
    let input = (0..<64).map { _ in generator.uniform(Float(-1), Float(1)) }
    let flops = 2.0 * 128 * (64 + 128)
    var results: [Result] = []

    let stream = try RecurrentStream(rnn, batchSize: 1)
    var output: Float = 0
    let t = try input.withUnsafeBufferPointer { x in
        try measure(policy) {
            let h = try stream.step(x)
            output += h[0]
        }
    }
    results.append(Result(caseName: "stream-step", mode: "step", seconds: t.median, flops: flops,
                          extra: [("api", "\"RecurrentStream\"")]))

    if modes == ["stream"] { return results }
    let x = Tensor(shape: [1, 1, 64], scalars: input)
    var h = Tensor(zeros: [1, 1, 128])
    let tm = try measure(policy) {
        h = try withoutGradients { try rnn(x, h).hN }
    }
    results.append(Result(caseName: "stream-step-module", mode: "step", seconds: tm.median, flops: flops,
                          extra: [("api", "\"RNN(x, h) with one step\"")]))
    withExtendedLifetime(output) {}
    return results
}

/// The cost of one small recorded op, forward and backward: a chain of `ops` elementwise
/// operations on a `(1, 20)` tensor (alternating `*`, `+`, `tanh`), summed and backpropagated.
func runAutogradOp(policy: TimingPolicy) throws -> [Result] {
    var generator = SeededGenerator(seed: 7)
    let w = Tensor(uniform: [1, 20], low: -1, high: 1, using: &generator, requiresGrad: true)
    let b = Tensor(uniform: [1, 20], low: -1, high: 1, using: &generator, requiresGrad: true)
    let x = Tensor(uniform: [1, 20], low: -1, high: 1, using: &generator)
    let rounds = 30           // 3 ops each, + sum
    let ops = rounds * 3 + 1
    let t = measure(policy) {
        var y = x
        for _ in 0..<rounds { y = (y * w + b).tanh() }
        y.sum().backward()
        w.zeroGrad(); b.zeroGrad()
    }
    return [Result(caseName: "autograd-op", mode: "op", seconds: t.median / Double(ops),
                   extra: [("ops_per_iteration", "\(ops)")])]
}

// MARK: - The seed tutorial's names classifier

/// The seed tutorial's letters: ASCII letters and " .,;'".
let allLetters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'")

/// The names data set: `(category index, name)` in file order, categories sorted by name.
func loadNames(from directory: String) throws -> (categories: [String], items: [(Int, [Int])]) {
    let files = try FileManager.default.contentsOfDirectory(atPath: directory)
        .filter { $0.hasSuffix(".txt") }.sorted()
    guard !files.isEmpty else { throw BenchError.noData(directory) }
    var index: [Character: Int] = [:]
    for (i, c) in allLetters.enumerated() { index[c] = i }
    var items: [(Int, [Int])] = []
    for (k, file) in files.enumerated() {
        let text = try String(contentsOfFile: directory + "/" + file, encoding: .utf8)
        for line in text.split(whereSeparator: \.isNewline) {
            // unicodeToAscii: NFD, then keep the tutorial's letters only.
            let letters = String(line).decomposedStringWithCanonicalMapping.compactMap { index[$0] }
            if !letters.isEmpty { items.append((k, letters)) }
        }
    }
    return (files.map { String($0.dropLast(4)) }, items)
}

enum BenchError: Error, CustomStringConvertible {
    case noData(String)
    var description: String {
        switch self {
        case .noData(let d): return "no names data (*.txt) in \(d); pass --names-data"
        }
    }
}

/// One epoch of the tutorial loop: for every name, the CombinedCell (hidden 128) over its
/// letters one-hot, `nllLoss` on the last output, backward, and the tutorial's manual SGD
/// update `p -= lr · grad` (lr 0.005) with the gradients zeroed. The cell runs over each
/// name as one node (`cell(oneHot:_:)`, as the names example does), the same steps as
/// calling it on each letter's one-hot row.
func runNamesEpoch(policy: TimingPolicy, dataDirectory: String, limit: Int? = nil) throws -> [Result] {
    let (categories, all) = try loadNames(from: dataDirectory)
    // A profiling run may take every k-th name only (the epoch time is then scaled up).
    let stride = limit.map { max(1, all.count / max($0, 1)) } ?? 1
    let items = Swift.stride(from: 0, to: all.count, by: stride).map { all[$0] }
    RandomState.manualSeed(0)
    let cell = try CombinedCell(inputSize: allLetters.count, hiddenSize: 128, outputSize: categories.count)
    let optimizer = try SGD(cell.parameters(), lr: 0.005)
    var lossSum = 0.0
    func train(_ item: (Int, [Int])) throws {
        let (output, _) = try cell(oneHot: item.1, cell.initHidden())
        let loss = try nllLoss(output, target: [item.0])
        optimizer.zeroGrad(setToNil: false)
        loss.backward()
        optimizer.step()
        lossSum += Double(loss.item)
    }
    for item in items.prefix(500) { try train(item) }     // warm-up
    var samples: [Double] = []
    var meanLoss = 0.0
    for _ in 0..<max(1, policy.repeats) {
        lossSum = 0
        let start = now()
        for item in items { try train(item) }
        samples.append(now() - start)
        meanLoss = lossSum / Double(items.count)
    }
    samples.sort()
    let scale = Double(all.count) / Double(items.count)
    return [Result(caseName: "names-epoch", mode: "epoch", seconds: samples[samples.count / 2] * scale,
                   extra: [("names", "\(items.count)"), ("mean_loss", String(format: "%.4f", meanLoss))])]
}
