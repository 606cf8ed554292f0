// The RNN's weakness, long-range dependencies: the adding problem (two marked numbers among T
// random ones; predict their sum) for several T with a tanh RNN, an orthogonally initialised
// RNN, a GRU and an LSTM; the gradient ‖∂L/∂h_t‖ over t; the spectra of W_hh before and
// after training; and clipGradNorm on a run whose gradients explode.
//
//     swift run -c release long-range                          # the whole study, seed 0
//     swift run -c release long-range --lengths 10,50 --models rnn,lstm --steps 300 --json
import ArgumentParser
import ExampleSupport
import LongRangeExample
import Foundation
import Recurrent

/// The `long-range` command.
@main
struct LongRange: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "long-range",
        abstract: "The adding problem: where a plain RNN fails and gated cells do not.",
        discussion: """
        Data: sequences of T steps with two channels, a number from U[0, 1) and a marker that \
        is 1 at one step of the first half and one step of the second half; the target is the \
        sum of the two marked numbers. Always predicting 1 scores an MSE of 1/6 ≈ 0.167. \
        Protocol: RNN/GRU/LSTM(2 → hidden) + Linear(hidden → 1) on the last hidden state, Adam \
        on a fresh batch every step with the gradient clipped to --clip-norm, MSE loss; test MSE \
        on 1000 fresh sequences. At --probe-length the gradient ‖∂L/∂h_t‖ is measured at every \
        step (cells unrolled with the layer's weights, a zero leaf added to each h_t) before and \
        after training, and the spectra of W_hh's gate blocks are printed. Last, a ReLU RNN with \
        W_hh of spectral radius --explode-gain is trained with SGD without and with clipGradNorm.
        """)

    @Option(parsing: .unconditional, help: "The number of Adam steps per (model, length), one fresh batch each.")
    var steps: Int = 2000

    @Option(help: "The sequence lengths T, comma separated.")
    var lengths: String = "10,50,100,200"

    @Option(help: "The models, comma separated: \(LongRangeModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var models: String = LongRangeModelKind.allCases.map(\.rawValue).joined(separator: ",")

    @Option(parsing: .unconditional, help: "The hidden size.")
    var hidden: Int = 32

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The number of sequences per step.")
    var batchSize: Int = 32

    @Option(parsing: .unconditional, help: "Adam's learning rate.")
    var lr: Float = 0.01

    @Option(name: .customLong("clip-norm"), parsing: .unconditional, help: "Clip the total gradient norm of every step to this (0: no clipping).")
    var clipNorm: Float = 1

    @Option(name: .customLong("test-size"), parsing: .unconditional, help: "The number of test sequences.")
    var testSize: Int = 1000

    @Option(name: .customLong("probe-length"), parsing: .unconditional,
            help: "The length T (one of --lengths) at which ‖∂L/∂h_t‖ and the spectra are reported (default: 100 when --lengths has it, else the longest of --lengths).")
    var probeLength: Int?

    /// `--probe-length`, or its default: 100 when `lengths` has it, else the longest length.
    static func probeLength(_ requested: Int?, lengths: [Int]) -> Int {
        requested ?? (lengths.contains(100) ? 100 : lengths.max() ?? 100)
    }

    @Option(name: .customLong("probe-size"), parsing: .unconditional, help: "The number of sequences of the gradient probe's batch.")
    var probeSize: Int = 256

    @Option(name: .customLong("explode-gain"), parsing: .unconditional, help: "The spectral radius of the exploding ReLU RNN's initial W_hh.")
    var explodeGain: Float = 1.5

    @Option(name: .customLong("explode-length"), parsing: .unconditional, help: "The sequence length of the exploding experiment.")
    var explodeLength: Int = 50

    @Option(name: .customLong("explode-steps"), parsing: .unconditional, help: "The number of SGD steps of each exploding run (0: skip the experiment).")
    var explodeSteps: Int = 300

    @Option(name: .customLong("explode-lr"), parsing: .unconditional, help: "SGD's learning rate in the exploding experiment.")
    var explodeLR: Float = 0.01

    @Option(parsing: .unconditional, help: "The seed of the weights, the batches and the test sets.")
    var seed: UInt64 = 0

    @OptionGroup var common: CommonOptions

    /// `--lengths` parsed.
    func parsedLengths() throws -> [Int] {
        let parts = lengths.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var result: [Int] = []
        for part in parts {
            guard let T = Int(part) else {
                throw ValidationError("--lengths: expected comma-separated whole numbers, got \"\(part)\" in \"\(lengths)\"")
            }
            guard T >= 2 else { throw ValidationError("--lengths: expected lengths of at least 2, got \(T)") }
            guard !result.contains(T) else { throw ValidationError("--lengths: expected each length once, got \(T) twice") }
            result.append(T)
        }
        return result
    }

    func validate() throws {
        let parsed = try parsedLengths()
        do { _ = try LongRangeModelKind.parseList(models) } catch let error as LongRangeError {
            throw ValidationError(error.description)
        }
        guard steps >= 1 else { throw ValidationError("--steps: expected at least 1, got \(steps)") }
        guard hidden >= 1 else { throw ValidationError("--hidden: expected at least 1, got \(hidden)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size: expected at least 1, got \(batchSize)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr: expected a positive number, got \(lr)") }
        guard clipNorm >= 0, clipNorm.isFinite else { throw ValidationError("--clip-norm: expected 0 (off) or a positive number, got \(clipNorm)") }
        guard testSize >= 1 else { throw ValidationError("--test-size: expected at least 1, got \(testSize)") }
        let probe = Self.probeLength(probeLength, lengths: parsed)
        guard parsed.contains(probe) else {
            throw ValidationError("--probe-length: expected one of the --lengths \(parsed.map(String.init).joined(separator: ", ")), got \(probe)")
        }
        guard probeSize >= 1 else { throw ValidationError("--probe-size: expected at least 1, got \(probeSize)") }
        guard explodeGain > 0, explodeGain.isFinite else { throw ValidationError("--explode-gain: expected a positive number, got \(explodeGain)") }
        guard explodeLength >= 2 else { throw ValidationError("--explode-length: expected at least 2, got \(explodeLength)") }
        guard explodeSteps >= 0 else { throw ValidationError("--explode-steps: expected 0 (skip) or more, got \(explodeSteps)") }
        guard explodeLR > 0, explodeLR.isFinite else { throw ValidationError("--explode-lr: expected a positive number, got \(explodeLR)") }
    }

    func run() throws {
        common.applyThreads()
        let lengthList = try parsedLengths()
        let kinds = try LongRangeModelKind.parseList(models)
        let probeLength = Self.probeLength(self.probeLength, lengths: lengthList)
        let started = Date()
        print("long-range: the adding problem, T ∈ {\(lengthList.map(String.init).joined(separator: ", "))}, "
              + "models \(kinds.map(\.rawValue).joined(separator: ", ")); layer(2 → \(hidden)) + Linear(\(hidden) → 1), "
              + "Adam lr \(lr), \(steps) steps of batch \(batchSize), "
              + (clipNorm > 0 ? "clipGradNorm \(clipNorm)" : "no clipping") + ", seed \(seed)")

        var runs: [LongRangeRunMetrics] = []
        var probeRuns: [(kind: LongRangeModelKind, losses: [Double])] = []
        var profiles: [GradientNormProfile] = []
        let probeProblem = try AddingProblem(length: probeLength)
        var probeGenerator = SeededGenerator(seed: LongRangeSeeds.probe(seed: seed, length: probeLength))
        let probeBatch = try probeProblem.batch(size: probeSize, using: &probeGenerator)
        for T in lengthList {
            for kind in kinds {
                var options = LongRangeOptions()
                options.model = kind
                options.length = T
                options.steps = steps
                options.hidden = hidden
                options.batchSize = batchSize
                options.learningRate = lr
                options.clipNorm = clipNorm > 0 ? clipNorm : nil
                options.seed = seed
                options.testSize = testSize
                options.progress = common.progressStyle
                let run = try trainAddingModel(options)
                let m = run.metrics
                runs.append(m)
                print(String(format: "  %@ T=%d: test MSE %.4f (predict-1 %.4f), %@",
                             kind.rawValue, T, m.testMSE, m.baselineMSE, ProgressLine.duration(m.trainSeconds))
                      + (m.divergedAtStep.map { ", loss non-finite at step \($0)" } ?? ""))
                if T == probeLength {
                    probeRuns.append((kind, run.losses))
                    let initial = try HiddenStateGradients.copy(of: run.model)
                    try initial.loadStateDict(run.initialWeights)
                    let before = try HiddenStateGradients.norms(of: initial, on: probeBatch)
                    let after = try HiddenStateGradients.norms(of: run.model, on: probeBatch)
                    profiles.append(GradientNormProfile(model: kind.rawValue, trained: false, length: T, loss: before.loss, norms: before.norms))
                    profiles.append(GradientNormProfile(model: kind.rawValue, trained: true, length: T, loss: after.loss, norms: after.norms))
                }
            }
        }

        var exploding: ExplodingReport?
        var explodingOptions = ExplodingOptions()
        if explodeSteps > 0 {
            explodingOptions.length = explodeLength
            explodingOptions.hidden = hidden
            explodingOptions.gain = explodeGain
            explodingOptions.steps = explodeSteps
            explodingOptions.learningRate = explodeLR
            explodingOptions.maxNorm = clipNorm > 0 ? clipNorm : 1
            explodingOptions.batchSize = batchSize
            explodingOptions.seed = seed
            explodingOptions.testSize = testSize
            print("Exploding run: ReLU RNN(2 → \(hidden)), W_hh orthogonal × \(explodeGain), T = \(explodeLength), SGD lr \(explodeLR), \(explodeSteps) steps, without and with clipGradNorm(maxNorm: \(explodingOptions.maxNorm))")
            let (unclipped, clipped) = try runExplodingExperiment(explodingOptions)
            exploding = ExplodingReport(unclipped: unclipped.metrics, clipped: clipped.metrics)
            let url = outputURL("long-range-clipping.svg")
            try SVGPlot.write(LongRangePlots.clipping(unclipped: unclipped, clipped: clipped, options: explodingOptions).svg(), to: url)
        }

        // Plots.
        let mseURL = outputURL("long-range-mse.svg"), gradientURL = outputURL("long-range-gradients.svg")
        let lossURL = outputURL("long-range-loss.svg")
        try SVGPlot.write(LongRangePlots.mse(runs: runs, models: kinds, lengths: lengthList).svg(), to: mseURL)
        try SVGPlot.write(LongRangePlots.gradients(profiles).svg(), to: gradientURL)
        try SVGPlot.write(LongRangePlots.loss(runs: probeRuns, length: probeLength).svg(), to: lossURL)

        printMSETable(runs, kinds: kinds, lengths: lengthList)
        printGradientTable(profiles, kinds: kinds)
        printSpectra(runs.filter { $0.length == probeLength }, kinds: kinds)
        if let exploding { printExploding(exploding) }
        let total = Date().timeIntervalSince(started)
        print("")
        print("Total time " + ProgressLine.duration(total))
        print("Plots: " + ([mseURL, gradientURL, lossURL] + (exploding == nil ? [] : [outputURL("long-range-clipping.svg")]))
            .map(\.path).joined(separator: ", "))
        if common.json {
            try JSONReport.print(LongRangeReport(
                lengths: lengthList, models: kinds.map(\.rawValue), steps: steps, hidden: hidden, batchSize: batchSize,
                learningRate: lr, clipNorm: clipNorm > 0 ? clipNorm : nil, seed: seed, baselineMSE: AddingProblem.baselineMSE,
                runs: runs, probeLength: probeLength, gradientProfiles: profiles, exploding: exploding, totalSeconds: total))
        }
    }

    func outputURL(_ name: String) -> URL {
        common.outputFolder.appendingPathComponent(name)
    }

    func cell(_ text: String, _ width: Int) -> String {
        text.count >= width ? text + " " : text.padding(toLength: width, withPad: " ", startingAt: 0)
    }

    func number(_ value: Double, _ format: String = "%.4f") -> String {
        value.isFinite ? String(format: format, value) : (value.isNaN ? "NaN" : (value > 0 ? "inf" : "-inf"))
    }

    func printMSETable(_ runs: [LongRangeRunMetrics], kinds: [LongRangeModelKind], lengths: [Int]) {
        print("")
        print("Test MSE (\(testSize) fresh sequences; always predicting 1 scores 1/6 ≈ 0.167):")
        print("  " + cell("T", 7) + kinds.map { cell($0.displayName, 18) }.joined() + "predict 1")
        for T in lengths {
            var line = "  " + cell(String(T), 7)
            for kind in kinds {
                let m = runs.first { $0.model == kind.rawValue && $0.length == T }
                line += cell(m.map { number($0.testMSE) + ($0.divergedAtStep == nil ? "" : " (diverged)") } ?? "—", 18)
            }
            line += number(runs.first { $0.length == T }?.baselineMSE ?? .nan)
            print(line)
        }
    }

    func printGradientTable(_ profiles: [GradientNormProfile], kinds: [LongRangeModelKind]) {
        guard let T = profiles.first?.length else { return }
        print("")
        print("‖∂L/∂h_t‖ at T = \(T) (probe batch of \(probeSize); ratio = ‖∂L/∂h_0‖ / ‖∂L/∂h_{T−1}‖):")
        print("  " + cell("model", 18) + cell("", 14) + cell("‖∂L/∂h_0‖", 12) + cell("‖∂L/∂h_T/2‖", 13) + cell("‖∂L/∂h_T−1‖", 13) + "ratio")
        for kind in kinds {
            for trained in [false, true] {
                guard let p = profiles.first(where: { $0.model == kind.rawValue && $0.trained == trained }), !p.norms.isEmpty else { continue }
                let first = p.norms[0], middle = p.norms[p.norms.count / 2], last = p.norms[p.norms.count - 1]
                print("  " + cell(kind.displayName, 18) + cell(trained ? "trained" : "initial", 14)
                      + cell(number(first, "%.2e"), 12) + cell(number(middle, "%.2e"), 13) + cell(number(last, "%.2e"), 13)
                      + number(first / last, "%.2e"))
            }
        }
    }

    func printSpectra(_ runs: [LongRangeRunMetrics], kinds: [LongRangeModelKind]) {
        guard let T = runs.first?.length else { return }
        print("")
        print("Spectra of W_hh at T = \(T) (per gate block, H × H; ρ spectral radius, σ₁ largest singular value):")
        print("  " + cell("model", 18) + cell("block", 7) + cell("ρ before", 10) + cell("σ₁ before", 11) + cell("ρ after", 10) + "σ₁ after")
        for kind in kinds {
            guard let m = runs.first(where: { $0.model == kind.rawValue }) else { continue }
            for (k, before) in m.spectraBefore.enumerated() {
                let after = m.spectraAfter?[k]
                print("  " + cell(k == 0 ? kind.displayName : "", 18) + cell(before.block, 7)
                      + cell(number(before.spectralRadius, "%.3f"), 10) + cell(number(before.largestSingularValue, "%.3f"), 11)
                      + cell(after.map { number($0.spectralRadius, "%.3f") } ?? "n/a", 10)
                      + (after.map { number($0.largestSingularValue, "%.3f") } ?? "n/a (non-finite weights)"))
            }
        }
    }

    func printExploding(_ report: ExplodingReport) {
        print("")
        print("Exploding gradients (ReLU RNN, ρ(W_hh) = \(explodeGain) at initialisation, T = \(explodeLength), SGD lr \(explodeLR); ‖g‖ before clipping; a run stops at a non-finite loss or gradient):")
        print("  " + cell("run", 24) + cell("steps", 7) + cell("non-finite at", 15) + cell("first loss", 12) + cell("last loss", 12)
              + cell("‖g‖ step 1", 12) + cell("max ‖g‖", 11) + cell("test MSE", 10) + "ρ after")
        for m in [report.unclipped, report.clipped] {
            print("  " + cell(m.clipped ? "clipGradNorm(\(m.maxNorm ?? 0))" : "no clipping", 24) + cell(String(m.steps), 7)
                  + cell(m.divergedAtStep.map(String.init) ?? "—", 15) + cell(number(m.initialLoss, "%.3g"), 12)
                  + cell(number(m.finalLoss, "%.3g"), 12) + cell(number(m.firstGradNorm, "%.3g"), 12) + cell(number(m.maxGradNorm, "%.3g"), 11)
                  + cell(number(m.testMSE, "%.4f"), 10) + (m.spectralRadiusAfter.map { number($0, "%.3f") } ?? "n/a (non-finite weights)"))
        }
        let clipped = report.clipped
        if clipped.divergedAtStep == nil && clipped.testMSE.isFinite {
            // Clipping keeps the run finite; whether it also learned is the test MSE against predicting 1.
            let learned = clipped.testMSE < 0.9 * AddingProblem.baselineMSE
            print(String(format: "  The clipped run's test MSE %.4f against %.4f for always predicting 1: ", clipped.testMSE, AddingProblem.baselineMSE)
                  + (learned ? "it learned something beyond the mean." : "clipping kept it finite, but it learned no more than the mean."))
        }
    }
}

/// The exploding experiment's two runs, in the `--json` report.
struct ExplodingReport: Codable {
    /// SGD without clipping.
    var unclipped: ExplodingRunMetrics
    /// SGD with clipGradNorm.
    var clipped: ExplodingRunMetrics
}

/// The `--json` report of `long-range`.
struct LongRangeReport: Codable {
    /// The sequence lengths.
    var lengths: [Int]
    /// The models.
    var models: [String]
    /// Adam steps per run.
    var steps: Int
    /// The hidden size.
    var hidden: Int
    /// The batch size.
    var batchSize: Int
    /// Adam's learning rate.
    var learningRate: Float
    /// The clipping norm of the Adam runs, `nil` without clipping.
    var clipNorm: Float?
    /// The seed.
    var seed: UInt64
    /// 1/6, the expected MSE of always predicting 1.
    var baselineMSE: Double
    /// One entry per (length, model).
    var runs: [LongRangeRunMetrics]
    /// The length of the gradient probe.
    var probeLength: Int
    /// ‖∂L/∂h_t‖ per model, at initialisation and trained.
    var gradientProfiles: [GradientNormProfile]
    /// The exploding experiment, `nil` when skipped.
    var exploding: ExplodingReport?
    /// The wall time of the whole command in seconds.
    var totalSeconds: Double
}
