import ExampleSupport
import Foundation
import Recurrent

/// The settings of one adding-problem training run (one model at one sequence length).
public struct LongRangeOptions: Sendable {
    /// The recurrent layer.
    public var model: LongRangeModelKind = .lstm
    /// The sequence length `T`.
    public var length = 100
    /// The number of Adam steps, each on a fresh batch.
    public var steps = 2000
    /// The hidden size.
    public var hidden = 32
    /// The number of sequences per step.
    public var batchSize = 32
    /// Adam's learning rate.
    public var learningRate: Float = 0.01
    /// The total gradient norm each step is clipped to (``clipGradNorm(_:maxNorm:normType:)``),
    /// or `nil` for no clipping.
    public var clipNorm: Float? = 1
    /// The seed of the weights, the training batches and the test set.
    public var seed: UInt64 = 0
    /// The number of test sequences (drawn from their own stream).
    public var testSize = 1000
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent

    /// The defaults: LSTM, T = 100, 2000 steps, hidden 32, batch 32, Adam lr 0.01, clipping
    /// at norm 1, seed 0, 1000 test sequences, no progress.
    public init() {}

    /// Checks every setting.
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` naming the setting, the expected range
    ///   and the value given.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw LongRangeError.invalidSetting(message()) }
        }
        try check(length >= 2, "length: expected at least 2, got \(length)")
        try check(steps >= 1, "steps: expected at least 1, got \(steps)")
        try check(hidden >= 1, "hidden: expected at least 1, got \(hidden)")
        try check(batchSize >= 1, "batch size: expected at least 1, got \(batchSize)")
        try check(learningRate > 0 && learningRate.isFinite, "learning rate: expected a positive finite number, got \(learningRate)")
        if let clipNorm { try check(clipNorm > 0 && clipNorm.isFinite, "clip norm: expected a positive finite number, got \(clipNorm)") }
        try check(testSize >= 1, "test size: expected at least 1, got \(testSize)")
    }
}

/// The seeds of the random streams of a run at sequence length `length`: every model sees the
/// same training batches and the same test set at a given length.
public enum LongRangeSeeds {
    /// The stream of the training batches.
    public static func training(seed: UInt64, length: Int) -> UInt64 { mix(seed, UInt64(length), 1) }
    /// The stream of the test set.
    public static func test(seed: UInt64, length: Int) -> UInt64 { mix(seed, UInt64(length), 2) }
    /// The stream of the batch the gradient probe reads.
    public static func probe(seed: UInt64, length: Int) -> UInt64 { mix(seed, UInt64(length), 3) }

    private static func mix(_ a: UInt64, _ b: UInt64, _ c: UInt64) -> UInt64 {
        var generator = SeededGenerator(seed: a ^ (b &* 0x9E37_79B9_7F4A_7C15) ^ (c &* 0xC2B2_AE3D_27D4_EB4F))
        return generator.next()
    }
}

/// The metrics of one adding-problem run, as printed by `--json`.
public struct LongRangeRunMetrics: Codable, Sendable {
    /// The model's ``LongRangeModelKind`` raw value.
    public var model: String
    /// The sequence length `T`.
    public var length: Int
    /// The number of steps trained (fewer than asked when the loss became non-finite).
    public var steps: Int
    /// The hidden size.
    public var hidden: Int
    /// The batch size.
    public var batchSize: Int
    /// Adam's learning rate.
    public var learningRate: Float
    /// The clipping norm, `nil` without clipping.
    public var clipNorm: Float?
    /// The test MSE of the trained model.
    public var testMSE: Double
    /// The test MSE of the model before training.
    public var initialTestMSE: Double
    /// The test MSE of always predicting 1 on the same test set (≈ 1/6).
    public var baselineMSE: Double
    /// The mean training loss over the last 5% of the steps.
    public var finalTrainLoss: Double
    /// The largest total gradient norm (before clipping) seen during training.
    public var maxGradNorm: Double
    /// The step at which the loss or the gradient became non-finite, `nil` when it never did.
    public var divergedAtStep: Int?
    /// The spectra of `W_hh`'s gate blocks at initialisation.
    public var spectraBefore: [RecurrentBlockSpectrum]
    /// The spectra after training, `nil` when the weights are not finite.
    public var spectraAfter: [RecurrentBlockSpectrum]?
    /// The training time in seconds.
    public var trainSeconds: Double
}

/// Everything one adding-problem run produces.
public struct LongRangeRun: @unchecked Sendable {
    /// The metrics.
    public var metrics: LongRangeRunMetrics
    /// The training loss of every step.
    public var losses: [Double]
    /// The total gradient norm of every step (before clipping).
    public var gradNorms: [Double]
    /// The trained model.
    public var model: AddingModel
    /// The model's weights at initialisation (a state dict), for the gradient probe.
    public var initialWeights: [String: Tensor]
}

/// Trains an ``AddingModel`` on the adding problem: Adam, MSE loss, a fresh batch from the
/// training stream every step, the gradient clipped to `options.clipNorm` when set; then
/// measures the MSE on a fresh test set. A step whose loss or gradient is not finite ends the
/// training (reported in ``LongRangeRunMetrics/divergedAtStep``) instead of crashing.
///
/// - Returns: the run: metrics, per-step losses and gradient norms, the trained model.
/// - Throws: ``LongRangeError/invalidSetting(_:)`` for invalid options; a ``LAPACKError``
///   if the spectra of the initial weights cannot be computed; ``TensorError`` on a shape
///   error (a bug).
public func trainAddingModel(_ options: LongRangeOptions) throws -> LongRangeRun {
    try options.validate()
    let problem = try AddingProblem(length: options.length)
    let model = try AddingModel(kind: options.model, hiddenSize: options.hidden, seed: options.seed)
    let initialWeights = model.stateDict()
    let spectraBefore = try RecurrentSpectra.spectra(of: model.rnn)
    var testGenerator = SeededGenerator(seed: LongRangeSeeds.test(seed: options.seed, length: options.length))
    let test = try problem.batch(size: options.testSize, using: &testGenerator)
    let initialTestMSE = try model.meanSquaredError(on: test)

    var generator = SeededGenerator(seed: LongRangeSeeds.training(seed: options.seed, length: options.length))
    let parameters = model.parameters()
    try TrainingMemory.check(model, optimizerBuffers: 2,
                             activations: [[options.batchSize, options.length, 8, options.hidden], [options.batchSize, options.length, 2]],
                             what: "a \(options.model.rawValue) of hidden size \(options.hidden) on \(options.batchSize) sequences of length \(options.length)")
    let optimizer = try Adam(parameters, lr: options.learningRate)
    let progress = ProgressLine(totalEpochs: options.steps, style: options.progress, plainEvery: max(1, options.steps / 5),
                                unit: "step", label: "\(options.model.rawValue) T=\(options.length)")
    var losses: [Double] = [], gradNorms: [Double] = []
    losses.reserveCapacity(options.steps)
    gradNorms.reserveCapacity(options.steps)
    var diverged: Int?
    let start = Date()
    for step in 1 ... options.steps {
        let batch = try problem.batch(size: options.batchSize, using: &generator)
        optimizer.zeroGrad()
        let loss = try mseLoss(model(batch.inputs), batch.targets)
        loss.backward()
        let norm = options.clipNorm.map { Double(clipGradNorm(parameters, maxNorm: $0)) } ?? Double(totalGradNorm(parameters))
        losses.append(Double(loss.item))
        gradNorms.append(norm)
        guard loss.item.isFinite && norm.isFinite else {
            diverged = step
            break
        }
        optimizer.step()
        progress.update(epoch: step, loss: Double(loss.item))
    }
    progress.finish()
    let trainSeconds = Date().timeIntervalSince(start)

    let tail = losses.suffix(max(1, losses.count / 20))
    let metrics = LongRangeRunMetrics(
        model: options.model.rawValue, length: options.length, steps: losses.count, hidden: options.hidden,
        batchSize: options.batchSize, learningRate: options.learningRate, clipNorm: options.clipNorm,
        testMSE: try model.meanSquaredError(on: test), initialTestMSE: initialTestMSE,
        baselineMSE: test.constantPredictionMSE(1), finalTrainLoss: tail.reduce(0, +) / Double(tail.count),
        maxGradNorm: largestValue(gradNorms),
        divergedAtStep: diverged, spectraBefore: spectraBefore,
        spectraAfter: try? RecurrentSpectra.spectra(of: model.rnn), trainSeconds: trainSeconds)
    return LongRangeRun(metrics: metrics, losses: losses, gradNorms: gradNorms, model: model, initialWeights: initialWeights)
}

/// The largest of `values`, NaN when one of them is NaN, 0 for none (`max` ignores NaN).
func largestValue(_ values: [Double]) -> Double {
    if values.contains(where: \.isNaN) { return .nan }
    return values.max() ?? 0
}
