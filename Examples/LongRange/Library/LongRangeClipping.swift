import ExampleSupport
import Foundation
import Recurrent

/// The settings of the exploding-gradient experiment: a ReLU ``RNN`` whose `W_hh` is
/// orthogonal times `gain` (so its spectral radius is exactly `gain` > 1) trained on the
/// adding problem with plain SGD, once without and once with
/// ``clipGradNorm(_:maxNorm:normType:)``, from the same weights on the same batches.
///
/// With ReLU the state grows by up to `gain` per step and so does `∂L/∂h_t` going back:
/// over `length` steps the first gradients are huge, SGD's first step throws the weights
/// far away and the loss overflows. Clipping bounds every step's length to `lr · maxNorm`,
/// and training proceeds. (Adam would hide the effect: its update is normalised by the
/// gradient's running magnitude; hence SGD here.)
public struct ExplodingOptions: Sendable {
    /// The sequence length.
    public var length = 50
    /// The hidden size.
    public var hidden = 32
    /// The spectral radius of the initial `W_hh` (orthogonal times this gain).
    public var gain: Float = 1.5
    /// The number of SGD steps of each run.
    public var steps = 300
    /// SGD's learning rate.
    public var learningRate: Float = 0.01
    /// The clipping norm of the clipped run.
    public var maxNorm: Float = 1
    /// The number of sequences per step.
    public var batchSize = 32
    /// The seed of the weights and the batches.
    public var seed: UInt64 = 0
    /// The number of test sequences.
    public var testSize = 1000

    /// The defaults: T = 50, hidden 32, gain 1.5, 300 SGD steps at lr 0.01, clipping at 1,
    /// batch 32, seed 0, 1000 test sequences.
    public init() {}

    /// Checks every setting.
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` naming the setting, the expected range
    ///   and the value given.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw LongRangeError.invalidSetting(message()) }
        }
        try check(length >= 2, "exploding length: expected at least 2, got \(length)")
        try check(hidden >= 1, "exploding hidden size: expected at least 1, got \(hidden)")
        try check(gain > 0 && gain.isFinite, "exploding gain: expected a positive finite number, got \(gain)")
        try check(steps >= 1, "exploding steps: expected at least 1, got \(steps)")
        try check(learningRate > 0 && learningRate.isFinite, "exploding learning rate: expected a positive finite number, got \(learningRate)")
        try check(maxNorm > 0 && maxNorm.isFinite, "exploding max norm: expected a positive finite number, got \(maxNorm)")
        try check(batchSize >= 1, "exploding batch size: expected at least 1, got \(batchSize)")
        try check(testSize >= 1, "exploding test size: expected at least 1, got \(testSize)")
    }
}

/// The metrics of one run of the exploding-gradient experiment.
public struct ExplodingRunMetrics: Codable, Sendable {
    /// Whether the gradients were clipped.
    public var clipped: Bool
    /// The clipping norm, `nil` for the unclipped run.
    public var maxNorm: Float?
    /// The number of steps taken (up to and including a non-finite one).
    public var steps: Int
    /// The first step whose loss or gradient norm was not finite, `nil` when none was.
    public var divergedAtStep: Int?
    /// The loss of the first step.
    public var initialLoss: Double
    /// The loss of the last step taken.
    public var finalLoss: Double
    /// The largest loss seen (NaN when one was NaN).
    public var maxLoss: Double
    /// The largest total gradient norm seen, before clipping (NaN when one was NaN).
    public var maxGradNorm: Double
    /// The total gradient norm of the first step, before clipping.
    public var firstGradNorm: Double
    /// The test MSE after training (NaN or infinite for a diverged run).
    public var testMSE: Double
    /// The spectral radius of `W_hh` before training (the gain).
    public var spectralRadiusBefore: Double
    /// The spectral radius after training, `nil` when the weights are not finite.
    public var spectralRadiusAfter: Double?
}

/// One run of the exploding-gradient experiment: metrics and per-step curves.
public struct ExplodingRun: Sendable {
    /// The metrics.
    public var metrics: ExplodingRunMetrics
    /// The loss of every step taken.
    public var losses: [Double]
    /// The total gradient norm of every step taken, before clipping.
    public var gradNorms: [Double]
}

/// The ReLU RNN of the exploding experiment: `RNN(2 → hidden, relu)` with `W_hh` orthogonal
/// times `gain`, and a `Linear(hidden → 1)` head, all drawn from `seed`.
///
/// - Throws: ``LongRangeError/invalidSetting(_:)`` for a hidden size below 1; a
///   ``LAPACKError`` if the orthogonal initialisation fails.
public func makeExplodingModel(hidden: Int, gain: Float, seed: UInt64) throws -> AddingModel {
    guard hidden >= 1 else {
        throw LongRangeError.invalidSetting("exploding model: expected a hidden size of at least 1, got \(hidden)")
    }
    let layer = try RNN(inputSize: AddingProblem.inputSize, hiddenSize: hidden, nonlinearity: .relu, batchFirst: true, seed: seed)
    try layer.initializeRecurrentWeightsOrthogonally(gain: gain, seed: seed &+ 0x0127)
    var generator = SeededGenerator(seed: seed &+ 0xFC)
    return try AddingModel(layer: layer, head: Linear(inFeatures: hidden, outFeatures: 1, using: &generator))
}

/// Runs the exploding-gradient experiment: the same ReLU RNN, the same batches, SGD with and
/// without clipping. A non-finite loss or gradient ends a run (no crash); the metrics say at
/// which step.
///
/// - Returns: the unclipped and the clipped run.
/// - Throws: ``LongRangeError/invalidSetting(_:)`` for invalid options; a ``LAPACKError`` if
///   the initial spectrum cannot be computed; ``TensorError`` on a shape error (a bug).
public func runExplodingExperiment(_ options: ExplodingOptions) throws -> (unclipped: ExplodingRun, clipped: ExplodingRun) {
    try options.validate()
    let problem = try AddingProblem(length: options.length)
    var testGenerator = SeededGenerator(seed: LongRangeSeeds.test(seed: options.seed, length: options.length))
    let test = try problem.batch(size: options.testSize, using: &testGenerator)

    func run(clip: Float?) throws -> ExplodingRun {
        let model = try makeExplodingModel(hidden: options.hidden, gain: options.gain, seed: options.seed)
        let radiusBefore = try model.rnn.spectralRadiusOfRecurrentWeights()
        let parameters = model.parameters()
        let optimizer = try SGD(parameters, lr: options.learningRate)
        var generator = SeededGenerator(seed: LongRangeSeeds.training(seed: options.seed, length: options.length))
        var losses: [Double] = [], norms: [Double] = []
        var diverged: Int?
        for step in 1 ... options.steps {
            let batch = try problem.batch(size: options.batchSize, using: &generator)
            optimizer.zeroGrad()
            let loss = try mseLoss(model(batch.inputs), batch.targets)
            loss.backward()
            let norm = clip.map { Double(clipGradNorm(parameters, maxNorm: $0)) } ?? Double(totalGradNorm(parameters))
            losses.append(Double(loss.item))
            norms.append(norm)
            guard loss.item.isFinite && norm.isFinite else {
                diverged = step
                break
            }
            optimizer.step()
        }
        let metrics = ExplodingRunMetrics(
            clipped: clip != nil, maxNorm: clip, steps: losses.count, divergedAtStep: diverged,
            initialLoss: losses.first ?? .nan, finalLoss: losses.last ?? .nan, maxLoss: largestValue(losses),
            maxGradNorm: largestValue(norms), firstGradNorm: norms.first ?? .nan, testMSE: try model.meanSquaredError(on: test),
            spectralRadiusBefore: radiusBefore, spectralRadiusAfter: try? model.rnn.spectralRadiusOfRecurrentWeights())
        return ExplodingRun(metrics: metrics, losses: losses, gradNorms: norms)
    }
    return (try run(clip: nil), try run(clip: options.maxNorm))
}

extension RecurrentBase {
    /// The largest spectral radius among the gate blocks of `weight_hh_l0`
    /// (``RecurrentSpectra/spectra(of:)``; for an RNN, the radius of `W_hh`).
    ///
    /// - Throws: what ``RecurrentSpectra/spectra(of:)`` throws — notably
    ///   ``LAPACKError/nonFiniteInput(routine:)`` for non-finite weights.
    public func spectralRadiusOfRecurrentWeights() throws -> Double {
        try RecurrentSpectra.spectra(of: self).map(\.spectralRadius).max() ?? 0
    }
}
