import ExampleSupport
import Foundation
import Recurrent

/// The CTC example's task: read the digits out of a synthetic 1-D signal. Each digit `d`
/// is a burst of a sine of its own frequency (`(d + 1) / 24` cycles per step) lasting 6 to
/// 9 steps, the bursts separated by 1 to 3 steps of silence, plus Gaussian noise — so the
/// alignment of digits to steps is unknown to the model, as in speech.
public struct CTCDigitsData {
    /// The signals, each `(Tᵢ, 1)`.
    public let signals: [Tensor]
    /// The digits of each signal (0–9).
    public let digits: [[Int]]

    /// `count` signals of 2 to `maxDigits` digits each.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `count` or `maxDigits` is below 1
    ///   or 2, or `noise` is negative or not finite.
    public static func generate(count: Int, maxDigits: Int = 5, noise: Float = 0.1,
                                using generator: inout SeededGenerator) throws -> CTCDigitsData {
        guard count >= 1, maxDigits >= 2, noise >= 0, noise.isFinite else {
            throw TensorError.invalidArgument("CTCDigitsData: expected count ≥ 1, maxDigits ≥ 2 and noise ≥ 0, got \(count), \(maxDigits), \(noise)")
        }
        var signals: [Tensor] = [], digits: [[Int]] = []
        for _ in 0..<count {
            let labels = (0..<Int.random(in: 2...maxDigits, using: &generator)).map { _ in Int.random(in: 0...9, using: &generator) }
            var values: [Float] = []
            for d in labels {
                for _ in 0..<Int.random(in: 1...3, using: &generator) { values.append(0) }
                let frequency = Float(d + 1) / 24
                for t in 0..<Int.random(in: 6...9, using: &generator) {
                    values.append(Foundation.sin(2 * Float.pi * frequency * Float(t) + 0.5))
                }
            }
            values.append(0)
            values = values.map { $0 + noise * generator.normal() }
            signals.append(Tensor(shape: [values.count, 1], scalars: values))
            digits.append(labels)
        }
        return CTCDigitsData(signals: signals, digits: digits)
    }
}

/// A bidirectional LSTM that emits, at every step, log-probabilities over the blank (class
/// 0) and the digits (classes 1–10).
public final class CTCDigitsModel: Module {
    /// The recurrent reader, time first.
    public let lstm: LSTM
    /// The per-step classifier.
    public let head: Linear

    /// A reader with `hidden` units per direction.
    /// - Throws: what the layers' initialisers throw.
    public init(hidden: Int) throws {
        lstm = try LSTM(inputSize: 1, hiddenSize: hidden, numLayers: 2, bidirectional: true)
        head = try Linear(inFeatures: 2 * hidden, outFeatures: 11)
        super.init()
    }

    /// Log-probabilities `(T, N, 11)` of padded signals `(T, N, 1)`.
    /// - Throws: what the layers throw for a wrong shape.
    public func callAsFunction(_ input: Tensor, lengths: [Int]) throws -> Tensor {
        let (output, _) = try lstm(input, lengths: lengths)
        return try head(output).logSoftmax(dim: 2)
    }
}

/// The label error rate: the edit distance between each prediction and its truth, summed,
/// over the number of true labels.
public func labelErrorRate(_ predictions: [[Int]], _ truths: [[Int]]) -> Double {
    var distance = 0, total = 0
    for (p, t) in zip(predictions, truths) {
        var row = Array(0...t.count)
        for (i, a) in p.enumerated() {
            var previous = row[0]
            row[0] = i + 1
            for (j, b) in t.enumerated() {
                let substitution = previous + (a == b ? 0 : 1)
                previous = row[j + 1]
                row[j + 1] = Swift.min(substitution, row[j] + 1, row[j + 1] + 1)
            }
        }
        distance += row[t.count]
        total += t.count
    }
    return total == 0 ? 0 : Double(distance) / Double(total)
}

/// The result of ``trainCTCDigits(train:test:hidden:epochs:batchSize:learningRate:seed:)``.
public struct CTCDigitsResult {
    /// The mean CTC loss of each epoch.
    public let losses: [Float]
    /// The test label error rate of greedy decoding.
    public let greedyErrorRate: Double
    /// The test label error rate of beam-search decoding (beam 8).
    public let beamErrorRate: Double
    /// The test label error rate of the baseline that always answers the training set's
    /// most frequent digit, as many times as the median number of digits.
    public let baselineErrorRate: Double
}

/// Trains a ``CTCDigitsModel`` with ``CTCLoss`` on `train` (shuffled batches, a one-cycle
/// learning rate with gradient clipping) and measures the label error rates on `test`.
/// - Throws: ``TensorError/invalidArgument(_:)`` for a non-positive `hidden`, `epochs` or
///   `batchSize`; what the model and loss throw.
public func trainCTCDigits(train: CTCDigitsData, test: CTCDigitsData, hidden: Int = 24, epochs: Int = 40,
                           batchSize: Int = 8, learningRate: Double = 3e-2, seed: UInt64 = 0) throws -> CTCDigitsResult {
    guard hidden > 0, epochs > 0, batchSize > 0 else {
        throw TensorError.invalidArgument("trainCTCDigits: expected hidden, epochs and batchSize > 0, got \(hidden), \(epochs), \(batchSize)")
    }
    RandomState.manualSeed(seed)
    let model = try CTCDigitsModel(hidden: hidden)
    let data = try SequenceDataset(sequences: train.signals, targets: train.digits.map { $0.map { $0 + 1 } }, batchFirst: false)
    let loader = try DataLoader(data, batchSize: batchSize, shuffle: true, generator: SeededGenerator(seed: seed))
    let optimizer = try Adam(model.parameters(), lr: Float(learningRate))
    let scheduler = try OneCycleLR(optimizer, maxLR: learningRate, totalSteps: epochs * loader.count)
    let criterion = CTCLoss(blank: 0, zeroInfinity: true)
    var losses: [Float] = []
    for _ in 0..<epochs {
        var total: Float = 0
        for batch in loader {
            optimizer.zeroGrad()
            let loss = try criterion(try model(batch.input, lengths: batch.lengths), targets: batch.targets,
                                     inputLengths: batch.lengths)
            loss.backward()
            clipGradNorm(model.parameters(), maxNorm: 1)
            optimizer.step()
            try scheduler.step()
            total += loss.item
        }
        losses.append(total / Float(loader.count))
    }
    let testData = try SequenceDataset(sequences: test.signals, targets: test.digits, batchFirst: false)
    let batch = testData.batch(Array(0..<testData.count))
    let logProbs = try withoutGradients { try model(batch.input, lengths: batch.lengths) }
    let greedy = try ctcGreedyDecode(logProbs, inputLengths: batch.lengths).map { $0.map { $0 - 1 } }
    let beam = try ctcBeamSearchDecode(logProbs, inputLengths: batch.lengths, beamWidth: 8).map { $0.labels.map { $0 - 1 } }
    var frequency = [Int](repeating: 0, count: 10)
    for d in train.digits.joined() { frequency[d] += 1 }
    let common = frequency.indices.max { frequency[$0] < frequency[$1] }!
    let median = train.digits.map(\.count).sorted()[train.digits.count / 2]
    let baseline = Array(repeating: Array(repeating: common, count: median), count: test.digits.count)
    return CTCDigitsResult(losses: losses, greedyErrorRate: labelErrorRate(greedy, test.digits),
                           beamErrorRate: labelErrorRate(beam, test.digits),
                           baselineErrorRate: labelErrorRate(baseline, test.digits))
}
