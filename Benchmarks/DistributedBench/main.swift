// recurrent-ddp-bench: samples per second of data-parallel LSTM training
// (BENCHMARKS.md, "Past one machine"). The model is lstm-medium's shapes — LSTM(64 → 128,
// 2 layers, batch first), sequences of 50 — with a Linear(128 → 10) head on the last state,
// cross-entropy and SGD, at a global batch of 64 split evenly over the ranks.
//
//     .build/release/recurrent-ddp-bench --threads 1                 # one process, no MPI
//     .build/release/recurrent-ddp-bench --threads 2
//     mpirun -np 2 .build/release/recurrent-ddp-bench --threads 1    # two processes (DDP)
//
// Scripts/ddp_bench.py runs these and Scripts/torch_ddp_bench.py (PyTorch DDP, Gloo) in
// alternating rounds and prints the ratios. Started by mpirun (Open MPI's
// OMPI_COMM_WORLD_SIZE, or PMI_SIZE), the program trains with DistributedDataParallel;
// otherwise it is one process without MPI.
import ArgumentParser
import Foundation
import Recurrent
import RecurrentDistributed

/// The benchmarked model: LSTM and a linear head on the last layer's final state.
final class LSTMClassifier: Module, @unchecked Sendable {
    let lstm: LSTM
    let fc: Linear

    init(input: Int, hidden: Int, layers: Int, classes: Int) throws {
        lstm = try LSTM(inputSize: input, hiddenSize: hidden, numLayers: layers, batchFirst: true, seed: 1)
        var generator = SeededGenerator(seed: 2)
        fc = try Linear(inFeatures: hidden, outFeatures: classes, using: &generator)
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h = try lstm(x).state.h
        return try fc(h.select(dim: 0, index: h.shape[0] - 1))
    }
}

/// Seconds on the monotonic clock.
func now() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// One result line.
struct BenchResult: Codable {
    var implementation = "recurrent"
    var processes: Int
    var threadsPerProcess: Int
    var globalBatch: Int
    var input: Int, hidden: Int, layers: Int, sequence: Int
    var parameters: Int
    /// Gradient bytes each rank contributes per step (4 bytes per parameter, plus the
    /// bucket header of 4 · (3 + tensors) bytes).
    var gradientBytesPerStep: Int
    var buckets: Int
    /// Median seconds per training step (the slowest rank's, per sample).
    var secondsPerStep: Double
    var samplesPerSecond: Double
    /// Median seconds per step inside synchronizeGradients (communication and waiting
    /// for the slowest rank), and its fraction of the step.
    var synchronizeSeconds: Double
    var synchronizeFraction: Double
    /// Median seconds of one all-reduce of the gradient buckets alone, after a barrier.
    var allReduceSeconds: Double
}

struct DistributedBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recurrent-ddp-bench",
        abstract: "Samples per second of LSTM training, one process or data-parallel under mpirun.")

    @Option(help: "Threads per process (ComputeThreads: OpenBLAS and the recurrent layers' worker pool).")
    var threads: Int = 1
    @Option(name: .customLong("global-batch"), help: "Samples per step over all ranks (a multiple of the number of ranks).")
    var globalBatch: Int = 64
    @Option(help: "Input features.")
    var input: Int = 64
    @Option(help: "Hidden size.")
    var hidden: Int = 128
    @Option(help: "LSTM layers.")
    var layers: Int = 2
    @Option(help: "Sequence length.")
    var sequence: Int = 50
    @Option(help: "Untimed steps first.")
    var warmup: Int = 5
    @Option(help: "Steps per timed sample.")
    var steps: Int = 10
    @Option(name: .customLong("repeat"), help: "Timed samples (the median is reported).")
    var repeats: Int = 5
    @Flag(help: "One JSON object instead of the text line.")
    var json = false

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard globalBatch >= 1, input >= 1, hidden >= 1, layers >= 1, sequence >= 1 else {
            throw ValidationError("--global-batch, --input, --hidden, --layers and --sequence must be at least 1")
        }
        guard warmup >= 0, steps >= 1, repeats >= 1 else {
            throw ValidationError("--warmup must be at least 0, --steps and --repeat at least 1")
        }
    }

    func run() throws {
        ComputeThreads.set(threads)
        let environment = ProcessInfo.processInfo.environment
        let underMPI = environment["OMPI_COMM_WORLD_SIZE"] != nil || environment["PMI_SIZE"] != nil
        let group = underMPI ? try ProcessGroup.world() : nil
        let size = group?.size ?? 1
        let rank = group?.rank ?? 0
        guard globalBatch % size == 0 else {
            throw ValidationError("--global-batch (\(globalBatch)) must be a multiple of the number of ranks (\(size))")
        }
        let localBatch = globalBatch / size

        let model = try LSTMClassifier(input: input, hidden: hidden, layers: layers, classes: 10)
        let ddp = try group.map { try DistributedDataParallel(model, processGroup: $0) }
        let optimizer = try SGD(model.parameters(), lr: 0.01)
        var generator = SeededGenerator(seed: 10 + UInt64(rank))
        let x = Tensor(uniform: [localBatch, sequence, input], low: -1, high: 1, using: &generator)
        let y = (0..<localBatch).map { _ in Int(generator.next() % 10) }

        var synchronizeTime = 0.0
        func step() throws {
            optimizer.zeroGrad()
            let loss = try crossEntropy(model(x), target: y)
            loss.backward()
            if let ddp {
                let start = now()
                try ddp.synchronizeGradients()
                synchronizeTime += now() - start
            }
            optimizer.step()
        }

        for _ in 0..<warmup { try step() }
        var stepSamples: [Double] = []
        var synchronizeSamples: [Double] = []
        for _ in 0..<repeats {
            try group?.barrier()
            synchronizeTime = 0
            let start = now()
            for _ in 0..<steps { try step() }
            var elapsed = (now() - start) / Double(steps)
            if let group { elapsed = try group.allGather(elapsed).max()! }
            stepSamples.append(elapsed)
            synchronizeSamples.append(synchronizeTime / Double(steps))
        }

        // One all-reduce of the gradients' buckets alone (what the network carries).
        var allReduceSamples: [Double] = []
        if let group, let ddp {
            for _ in 0..<max(repeats, 5) {
                try group.barrier()
                let start = now()
                try ddp.synchronizeGradients()
                var elapsed = now() - start
                elapsed = try group.allGather(elapsed).max()!
                allReduceSamples.append(elapsed)
            }
        }

        func median(_ values: [Double]) -> Double {
            guard !values.isEmpty else { return 0 }
            let sorted = values.sorted()
            return sorted[sorted.count / 2]
        }
        let parameters = model.parameters().reduce(0) { $0 + $1.count }
        let tensors = model.parameters().count
        let secondsPerStep = median(stepSamples)
        let result = BenchResult(
            processes: size, threadsPerProcess: threads, globalBatch: globalBatch, input: input, hidden: hidden,
            layers: layers, sequence: sequence, parameters: parameters,
            gradientBytesPerStep: 4 * (parameters + 3 + tensors), buckets: ddp?.bucketElementCounts.count ?? 0,
            secondsPerStep: secondsPerStep, samplesPerSecond: Double(globalBatch) / secondsPerStep,
            synchronizeSeconds: median(synchronizeSamples),
            synchronizeFraction: median(synchronizeSamples) / secondsPerStep,
            allReduceSeconds: median(allReduceSamples))
        if rank == 0 {
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                print(String(decoding: try encoder.encode(result), as: UTF8.self))
            } else {
                print(String(format: "recurrent %d process(es) × %d thread(s): %.1f samples/s (%.2f ms/step; synchronize %.2f ms = %.1f%%, all-reduce alone %.2f ms; %d parameters, %d gradient bytes per step in %d bucket(s))",
                             size, threads, result.samplesPerSecond, secondsPerStep * 1e3, result.synchronizeSeconds * 1e3,
                             result.synchronizeFraction * 100, result.allReduceSeconds * 1e3, parameters,
                             result.gradientBytesPerStep, result.buckets))
            }
        }
        if group != nil { try ProcessGroup.finalize() }
    }
}

DistributedBench.main()
