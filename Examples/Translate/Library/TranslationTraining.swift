import ExampleSupport
import Foundation
import Recurrent

/// The options of a `translate` run (the command's flags).
public struct TranslationOptions: Sendable {
    /// The recurrent layers.
    public var model: TranslationModelKind = .gru
    /// The number of passes over the training examples.
    public var epochs: Int = 6
    /// The hidden size of the encoder (each direction) and the decoder.
    public var hidden: Int = 64
    /// Adam's initial learning rate (the schedule: ``learningRate(epoch:)``).
    public var learningRate: Float = 0.005
    /// The mini-batch size.
    public var batchSize: Int = 64
    /// The number of training examples (date, format).
    public var trainSize: Int = 25_000
    /// The number of held-out dates (each is written in every format).
    public var testDates: Int = 1000
    /// The largest gradient norm (`clipGradNorm`); `nil` for no clipping.
    public var maxGradientNorm: Float? = 1
    /// The seed of the data, the initialisation and the shuffles.
    public var seed: UInt64 = 0
    /// Evaluate the held-out dates after every epoch (for the plot); else only at the end.
    public var evaluateEveryEpoch = true
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent

    /// The defaults: GRU, 6 epochs, hidden 64, lr 0.005, batch 64, 25,000 examples, 1,000
    /// held-out dates, gradient norm clipped at 1, seed 0, no progress.
    public init() {}

    /// The learning rate of epoch `epoch` (1-based): ``learningRate`` for the first half of
    /// the epochs, then halved, and halved again for the last quarter.
    public func learningRate(epoch: Int) -> Float {
        let fraction = Double(epoch - 1) / Double(max(epochs, 1))
        return learningRate * (fraction < 0.5 ? 1 : fraction < 0.75 ? 0.5 : 0.25)
    }

    /// Checks every option.
    ///
    /// - Throws: ``TranslationError/invalidOption(_:)`` naming the option, what it expects
    ///   and what it got.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw TranslationError.invalidOption(message()) }
        }
        try check(epochs >= 0, "epochs: expected at least 0, got \(epochs)")
        try check(hidden >= 1, "hidden: expected at least 1, got \(hidden)")
        try check(learningRate > 0 && learningRate.isFinite, "learning rate: expected a positive number, got \(learningRate)")
        try check(batchSize >= 1, "batch size: expected at least 1, got \(batchSize)")
        try check(trainSize >= 1, "train size: expected at least 1, got \(trainSize)")
        try check(testDates >= 1 && testDates < TranslationDataset.dayCount,
                  "test size: expected 1 to \(TranslationDataset.dayCount - 1) dates, got \(testDates)")
        if let maxGradientNorm { try check(maxGradientNorm > 0, "gradient norm: expected a positive bound, got \(maxGradientNorm)") }
    }
}

/// The scores of translations against their targets.
public struct TranslationScores: Codable, Sendable, Equatable {
    /// The number of translations scored.
    public var count: Int
    /// The fraction of translations equal to their target, whole string.
    public var exactMatch: Double
    /// The fraction of characters equal to the target's at the same position (a missing
    /// character counts as wrong).
    public var characterAccuracy: Double

    /// The scores of `predictions` against `targets` (pairs in order; NaN when empty).
    ///
    /// - Throws: ``TranslationError/invalidOption(_:)`` when the counts differ.
    public init(predictions: [String], targets: [String]) throws {
        guard predictions.count == targets.count else {
            throw TranslationError.invalidOption("expected as many predictions as targets, got \(predictions.count) and \(targets.count)")
        }
        var exact = 0, correctCharacters = 0, characters = 0
        for (prediction, target) in zip(predictions, targets) {
            if prediction == target { exact += 1 }
            let p = Array(prediction), t = Array(target)
            for (i, c) in t.enumerated() where i < p.count && p[i] == c { correctCharacters += 1 }
            characters += max(t.count, p.count)
        }
        count = targets.count
        exactMatch = targets.isEmpty ? .nan : Double(exact) / Double(targets.count)
        characterAccuracy = characters == 0 ? .nan : Double(correctCharacters) / Double(characters)
    }
}

/// A held-out evaluation: every prediction, and the scores overall and per format.
public struct TranslationEvaluation: Sendable {
    /// The examples evaluated.
    public var examples: [TranslationExample]
    /// The greedy translation of each example.
    public var predictions: [String]
    /// The scores over every example.
    public var overall: TranslationScores
    /// The scores of each format's examples, in ``DateFormat`` order (formats with no
    /// example are left out).
    public var perFormat: [(format: DateFormat, scores: TranslationScores)]

    /// Translates `examples` greedily with `model` and scores them.
    ///
    /// - Throws: ``TensorError`` on a shape error (a bug).
    public init(model: DateTranslator, examples: [TranslationExample]) throws {
        let predictions = try model.greedyDecode(examples.map(\.input)).map(ISOVocabulary.decode)
        self.examples = examples
        self.predictions = predictions
        overall = try TranslationScores(predictions: predictions, targets: examples.map(\.target))
        var perFormat: [(DateFormat, TranslationScores)] = []
        for format in DateFormat.allCases {
            let indices = examples.indices.filter { examples[$0].format == format }
            if indices.isEmpty { continue }
            perFormat.append((format, try TranslationScores(predictions: indices.map { predictions[$0] },
                                                            targets: indices.map { examples[$0].target })))
        }
        self.perFormat = perFormat
    }

    /// The indices of the examples translated wrongly.
    public var failures: [Int] { examples.indices.filter { predictions[$0] != examples[$0].target } }
}

/// The metrics of a `translate` run, as printed by `--json`.
public struct TranslationMetrics: Codable, Sendable, Equatable {
    /// `"gru"` or `"lstm"`.
    public var model: String
    /// The hidden size.
    public var hidden: Int
    /// The number of epochs.
    public var epochs: Int
    /// Adam's initial learning rate.
    public var learningRate: Float
    /// The mini-batch size.
    public var batchSize: Int
    /// The seed.
    public var seed: UInt64
    /// The number of training examples.
    public var trainCount: Int
    /// The number of held-out dates and of held-out examples (dates × formats).
    public var testDates: Int, testCount: Int
    /// The held-out exact-match accuracy (whole ISO string).
    public var exactMatch: Double
    /// The held-out per-character accuracy.
    public var characterAccuracy: Double
    /// The held-out exact match of each format (by ``DateFormat`` raw value).
    public var perFormatExactMatch: [String: Double]
    /// The held-out per-character accuracy of each format.
    public var perFormatCharacterAccuracy: [String: Double]
    /// The mean training loss (cross-entropy per output character) of each epoch.
    public var epochLosses: [Double]
    /// The held-out exact match after each epoch (empty when not evaluated every epoch).
    public var epochExactMatch: [Double]
    /// The held-out exact match of each format after each epoch (by ``DateFormat`` raw
    /// value; empty when not evaluated every epoch).
    public var epochPerFormatExactMatch: [String: [Double]]
    /// The training time in seconds, wall clock (evaluations excluded).
    public var trainSeconds: Double
    /// The processor time of the process over the same span.
    public var cpuTrainSeconds: Double
}

/// Trains a ``DateTranslator`` on `dataset.train` with teacher forcing and evaluates its
/// greedy translations of `dataset.test`.
///
/// Each epoch shuffles the training examples into mini-batches of `options.batchSize`;
/// each batch runs the encoder and the teacher-forced decoder fused over the whole padded
/// batch, takes the mean cross-entropy of the 10 output characters, clips the gradient
/// norm and steps Adam (learning rate per ``TranslationOptions/learningRate(epoch:)``).
///
/// - Throws: ``TranslationError/invalidOption(_:)`` for invalid options; ``TensorError``
///   on a shape error (a bug).
public func trainTranslator(_ dataset: TranslationDataset, _ options: TranslationOptions)
    throws -> (model: DateTranslator, metrics: TranslationMetrics, evaluation: TranslationEvaluation) {
    try options.validate()
    RandomState.manualSeed(options.seed)
    let model = try DateTranslator(kind: options.model, hiddenSize: options.hidden, seed: options.seed)
    // Texts and dates of up to about 40 characters: a bidirectional encoder and a decoder.
    try TrainingMemory.check(model, optimizerBuffers: 2, activations: [[options.batchSize, 48, 24, options.hidden]],
                             what: "a \(options.model.rawValue) date translator of hidden size \(options.hidden) on batches of \(options.batchSize)")
    let optimizer = try Adam(model.parameters(), lr: options.learningRate)
    let parameters = model.parameters()
    var generator = SeededGenerator(seed: options.seed &+ 0x7EAC_4E55)
    let train = dataset.train
    var order = Array(train.indices)
    let batches = (train.count + options.batchSize - 1) / options.batchSize
    let progress = ProgressLine(totalEpochs: options.epochs, style: options.progress, itemUnit: "dates/s")
    var epochLosses: [Double] = [], epochExact: [Double] = []
    var epochPerFormat: [String: [Double]] = [:]
    var trainSeconds = 0.0, cpuSeconds = 0.0
    var evaluation: TranslationEvaluation?
    for epoch in stride(from: 1, through: options.epochs, by: 1) {
        optimizer.learningRate = options.learningRate(epoch: epoch)
        order.shuffle(using: &generator)
        progress.resume()
        let start = Date(), cpuStart = processCPUSeconds()
        var total = 0.0
        for b in 0..<batches {
            let examples = order[(b * options.batchSize)..<min((b + 1) * options.batchSize, order.count)].map { train[$0] }
            let (input, lengths) = try TranslationBatch.encoderInput(examples.map(\.input))
            optimizer.zeroGrad()
            let logits = try model.logits(input, lengths: lengths, previous: TranslationBatch.teacherForcedInput(examples))
            let loss = try crossEntropy(logits, target: TranslationBatch.targets(examples))
            loss.backward()
            if let maxNorm = options.maxGradientNorm { _ = clipGradNorm(parameters, maxNorm: maxNorm) }
            optimizer.step()
            total += Double(loss.item) * Double(examples.count)
            progress.update(epoch: epoch, fraction: Double(b + 1) / Double(batches),
                            loss: total / Double(b * options.batchSize + examples.count), items: examples.count)
        }
        trainSeconds += Date().timeIntervalSince(start)
        progress.pause()   // the evaluation that follows is not training time
        cpuSeconds += processCPUSeconds() - cpuStart
        epochLosses.append(total / Double(train.count))
        if options.evaluateEveryEpoch || epoch == options.epochs {
            let current = try TranslationEvaluation(model: model, examples: dataset.test)
            if options.evaluateEveryEpoch {
                epochExact.append(current.overall.exactMatch)
                for (format, scores) in current.perFormat { epochPerFormat[format.rawValue, default: []].append(scores.exactMatch) }
            }
            evaluation = current
        }
    }
    progress.finish()
    let final = try evaluation ?? TranslationEvaluation(model: model, examples: dataset.test)
    let metrics = TranslationMetrics(
        model: options.model.rawValue, hidden: options.hidden, epochs: options.epochs, learningRate: options.learningRate,
        batchSize: options.batchSize, seed: options.seed, trainCount: train.count, testDates: dataset.testDates.count,
        testCount: dataset.test.count, exactMatch: final.overall.exactMatch, characterAccuracy: final.overall.characterAccuracy,
        perFormatExactMatch: Dictionary(uniqueKeysWithValues: final.perFormat.map { ($0.format.rawValue, $0.scores.exactMatch) }),
        perFormatCharacterAccuracy: Dictionary(uniqueKeysWithValues: final.perFormat.map { ($0.format.rawValue, $0.scores.characterAccuracy) }),
        epochLosses: epochLosses, epochExactMatch: epochExact, epochPerFormatExactMatch: epochPerFormat, trainSeconds: trainSeconds, cpuTrainSeconds: cpuSeconds)
    return (model, metrics, final)
}

/// The `translate` plots.
public enum TranslationPlots {
    /// The training loss and the held-out error rate (1 − exact match) per epoch, on a
    /// logarithmic axis.
    public static func training(_ metrics: TranslationMetrics) -> LineChart {
        let epochs = metrics.epochLosses.indices.map { Double($0 + 1) }
        var series = [LineSeries(name: "training loss (cross-entropy per character)", x: epochs, y: metrics.epochLosses, markers: true)]
        if metrics.epochExactMatch.count == epochs.count {
            series.append(LineSeries(name: "held-out error rate (1 − exact match)", x: epochs,
                                     y: metrics.epochExactMatch.map { 1 - $0 }, markers: true))
        }
        let title = String(format: "Translate: %@ encoder–decoder (hidden %d), held-out exact match %.2f%%",
                           metrics.model.uppercased(), metrics.hidden, 100 * metrics.exactMatch)
        var chart = LineChart(title: title, xLabel: "Epoch", yLabel: "Loss / error rate", series: series, yScale: .logarithmic)
        chart.legend = .below   // inside, it covered the start of the curves
        return chart
    }

    /// The held-out exact match of each format after each epoch, as an annotated heat map
    /// (one row per format, named by its rendering of 3 September 1979; one column per
    /// epoch), or `nil` when the run did not evaluate every epoch.
    public static func perFormat(_ metrics: TranslationMetrics) -> HeatMap? {
        let epochs = metrics.epochLosses.count
        let rows = DateFormat.allCases.compactMap { format -> (String, [Double])? in
            guard let values = metrics.epochPerFormatExactMatch[format.rawValue], values.count == epochs, epochs > 0 else { return nil }
            return (format.example, values)
        }
        guard !rows.isEmpty else { return nil }
        return HeatMap(title: String(format: "Held-out exact match per format (%@, final %.2f%%)",
                                     metrics.model.uppercased(), 100 * metrics.exactMatch),
                       rowAxisLabel: "Input format", columnAxisLabel: "After epoch",
                       rowLabels: rows.map(\.0), columnLabels: (1...epochs).map(String.init), values: rows.map(\.1),
                       minimum: 0, maximum: 1, annotationFormat: "%.3f", annotationThreshold: 0, cellSize: 52)
    }
}
