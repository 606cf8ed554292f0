import ExampleSupport
import NamesExample
import Foundation
import Recurrent

/// The options of a generation run (the `generate` command's training flags).
public struct GenerationOptions: Sendable {
    /// The recurrent layer.
    public var model: CellKindOption = .gru
    /// The number of passes over the training names.
    public var epochs: Int = 12
    /// The hidden size.
    public var hidden: Int = 128
    /// Adam's learning rate of the first two thirds of the epochs (see ``learningRate(atEpoch:)``).
    public var learningRate: Float = 0.005
    /// The dropout probability on the recurrent outputs before the head, while training.
    public var dropout: Float = 0.25
    /// The number of names per mini-batch.
    public var batchSize: Int = 32
    /// The largest total gradient norm of a step (``clipGradNorm(_:maxNorm:normType:)``).
    public var maxGradientNorm: Float = 5
    /// The seed of the initialisation and of the shuffles.
    public var seed: UInt64 = 0
    /// Whether to measure the held-out loss after every epoch (for the plot); otherwise
    /// only after the last one.
    public var evaluateEveryEpoch = true
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent

    /// The defaults: GRU, 12 epochs, hidden 128, dropout 0.25, Adam lr 0.005 (a quarter of it
    /// for the last third), batch 32, clip 5, seed 0, evaluation every epoch, no progress.
    public init() {}

    /// The learning rate of epoch `epoch` (1-based): ``learningRate`` for the first two
    /// thirds of the epochs, then a quarter of it for the rest (a step decay: the last
    /// epochs settle into the minimum found with the larger steps).
    public func learningRate(atEpoch epoch: Int) -> Float {
        3 * (epoch - 1) < 2 * epochs ? learningRate : learningRate / 4
    }

    /// Checks the ranges of the options.
    ///
    /// - Throws: ``GenerationError/invalidOption(_:expected:got:)`` naming the first option
    ///   out of range, what it expects and what it got.
    public func validate() throws {
        guard epochs >= 1 else { throw GenerationError.invalidOption("--epochs", expected: "at least 1", got: "\(epochs)") }
        guard hidden >= 1 else { throw GenerationError.invalidOption("--hidden", expected: "at least 1", got: "\(hidden)") }
        guard batchSize >= 1 else {
            throw GenerationError.invalidOption("--batch-size", expected: "at least 1", got: "\(batchSize)")
        }
        guard learningRate > 0, learningRate.isFinite else {
            throw GenerationError.invalidOption("--lr", expected: "a finite value > 0", got: "\(learningRate)")
        }
        guard dropout >= 0, dropout < 1 else {
            throw GenerationError.invalidOption("--dropout", expected: "a probability in [0, 1)", got: "\(dropout)")
        }
        guard maxGradientNorm > 0, maxGradientNorm.isFinite else {
            throw GenerationError.invalidOption("maxGradientNorm", expected: "a finite value > 0", got: "\(maxGradientNorm)")
        }
    }
}

/// The metrics of a generation run, as printed by `--json`.
public struct GenerationMetrics: Codable, Sendable, Equatable {
    /// `"rnn"`, `"lstm"` or `"gru"`.
    public var model: String
    /// The hidden size.
    public var hidden: Int
    /// The number of epochs.
    public var epochs: Int
    /// Adam's initial learning rate (a quarter of it for the last third of the epochs).
    public var learningRate: Float
    /// The dropout probability before the head while training.
    public var dropout: Float
    /// The mini-batch size.
    public var batchSize: Int
    /// The seed.
    public var seed: UInt64
    /// The numbers of training and held-out names.
    public var trainCount: Int, testCount: Int
    /// The number of predicted characters of the held-out names (letters and ends).
    public var testCharacters: Int
    /// The model's held-out loss after training, nats per character.
    public var testLoss: Double
    /// The per-language bigram baseline's held-out loss (``LetterNGramModel``), nats per character.
    public var bigramLoss: Double
    /// The per-language unigram baseline's held-out loss, nats per character.
    public var unigramLoss: Double
    /// The mean training loss of each epoch (nats per character, as the weights moved).
    public var trainLosses: [Double]
    /// The held-out loss after each epoch (only the last one without ``GenerationOptions/evaluateEveryEpoch``).
    public var testLosses: [Double]
    /// The training time in seconds, wall clock (evaluations excluded).
    public var trainSeconds: Double
    /// The processor time of the process over the same span, in seconds.
    public var trainCPUSeconds: Double
    /// Generated names by language, then start letter (filled in by the command).
    public var samples: [String: [String: [String]]] = [:]
}

/// Trains a ``NameGenerator`` on `dataset.train` and measures it and the n-gram baselines on
/// `dataset.test`.
///
/// Each epoch shuffles the training names (a ``SeededGenerator`` seeded from
/// `options.seed`), cuts them into mini-batches of `batchSize` padded names
/// (``GenerationBatch``), and takes one Adam step per batch on the masked cross-entropy
/// (the mean over the batch's predicted characters), the gradient norm clipped to
/// `maxGradientNorm`, at the learning rate of ``GenerationOptions/learningRate(atEpoch:)``.
/// Dropout (``NameGenerator/dropout``) acts during the steps only; the held-out loss is
/// measured after each epoch (or the last) in evaluation mode.
///
/// - Returns: the trained model, in evaluation mode, and the metrics (without samples).
/// - Throws: ``GenerationError`` for options out of range or an empty training set;
///   ``TensorError`` on a shape error (a bug).
public func trainGenerator(_ dataset: NamesDataset, _ options: GenerationOptions) throws
    -> (model: NameGenerator, metrics: GenerationMetrics) {
    try options.validate()
    guard !dataset.train.isEmpty else {
        throw GenerationError.invalidOption("training names", expected: "at least one", got: "0")
    }
    RandomState.manualSeed(options.seed)
    let L = dataset.languages.count
    let model = try NameGenerator(kind: options.model, hiddenSize: options.hidden, languages: dataset.languages,
                                  dropout: options.dropout, seed: options.seed)
    let parameters = model.parameters()
    try TrainingMemory.check(model, optimizerBuffers: 2,
                             activations: [[options.batchSize, 24, 8, options.hidden], [options.batchSize, 24, 2, model.inputSize]],
                             what: "a \(options.model.rawValue) name generator of hidden size \(options.hidden) on batches of \(options.batchSize)")
    let optimizer = try Adam(parameters, lr: options.learningRate)
    var generator = SeededGenerator(seed: options.seed &+ 0x9E37_79B9)
    let train = dataset.train
    var order = Array(train.indices)
    let batches = (train.count + options.batchSize - 1) / options.batchSize
    let progress = ProgressLine(totalEpochs: options.epochs, style: options.progress, itemUnit: "names/s")
    var trainLosses: [Double] = [], testLosses: [Double] = []
    var trainSeconds = 0.0, trainCPUSeconds = 0.0

    for epoch in 1...options.epochs {
        optimizer.learningRate = options.learningRate(atEpoch: epoch)
        order.shuffle(using: &generator)
        progress.resume()
        let start = Date(), cpuStart = processCPUSeconds()
        var total = 0.0, characters = 0
        for b in 0..<batches {
            let samples = order[(b * options.batchSize)..<min((b + 1) * options.batchSize, order.count)].map { train[$0] }
            let batch = try GenerationBatch(samples, languageCount: L)
            optimizer.zeroGrad()
            let loss = try model.loss(batch)
            loss.backward()
            clipGradNorm(parameters, maxNorm: options.maxGradientNorm)
            optimizer.step()
            total += Double(loss.item) * Double(batch.characterCount)
            characters += batch.characterCount
            progress.update(epoch: epoch, fraction: Double(b + 1) / Double(batches), loss: total / Double(characters),
                            items: samples.count)
        }
        trainSeconds += Date().timeIntervalSince(start)
        progress.pause()   // the evaluation that follows is not training time
        trainCPUSeconds += processCPUSeconds() - cpuStart
        trainLosses.append(total / Double(characters))
        if options.evaluateEveryEpoch || epoch == options.epochs {
            testLosses.append(try heldOutLoss(model, on: dataset.test))
        }
    }
    progress.finish()
    model.eval()

    let baselines = try GenerationBaselines(dataset)
    let metrics = GenerationMetrics(
        model: options.model.rawValue, hidden: options.hidden, epochs: options.epochs,
        learningRate: options.learningRate, dropout: options.dropout, batchSize: options.batchSize, seed: options.seed,
        trainCount: train.count, testCount: dataset.test.count, testCharacters: baselines.testCharacters,
        testLoss: testLosses.last ?? .nan, bigramLoss: baselines.bigramLoss, unigramLoss: baselines.unigramLoss,
        trainLosses: trainLosses, testLosses: testLosses, trainSeconds: trainSeconds, trainCPUSeconds: trainCPUSeconds)
    return (model, metrics)
}

/// The held-out loss of the per-language unigram and bigram letter models fitted on a data
/// set's training names, the yardsticks of a generator's held-out loss.
public struct GenerationBaselines: Sendable {
    /// The number of predicted characters of the held-out names (letters and ends).
    public var testCharacters: Int
    /// The bigram model's held-out loss, nats per character.
    public var bigramLoss: Double
    /// The unigram model's held-out loss, nats per character.
    public var unigramLoss: Double

    /// Fits both models on `dataset.train` and measures them on `dataset.test`.
    ///
    /// - Throws: what ``LetterNGramModel`` throws for names outside the data set's languages.
    public init(_ dataset: NamesDataset) throws {
        let L = dataset.languages.count
        let unigram = try LetterNGramModel(fitting: dataset.train, languageCount: L, order: .unigram)
        let bigram = try LetterNGramModel(fitting: dataset.train, languageCount: L, order: .bigram)
        testCharacters = dataset.test.reduce(0) { $0 + $1.letters.count + 1 }
        bigramLoss = try bigram.loss(on: dataset.test)
        unigramLoss = try unigram.loss(on: dataset.test)
    }
}

/// Names generated for every pair of a language and a start letter.
///
/// For each language of `languages` (indices into `model.languages`) and each start letter
/// of `startLetters` (letter indices), `count` names, generated in one batch by
/// ``NameGenerator/generate(_:temperature:maxLength:using:)`` with a generator seeded with
/// `seed`.
///
/// - Returns: per language (in the given order) and start letter, the names.
/// - Throws: what ``NameGenerator/generate(_:temperature:maxLength:using:)`` throws, and
///   ``GenerationError/invalidOption(_:expected:got:)`` for a `count` below 1.
public func sampleNames(_ model: NameGenerator, languages: [Int], startLetters: [Int], count: Int, temperature: Float,
                        maxLength: Int = 20, seed: UInt64) throws
    -> [(language: String, start: Character, names: [String])] {
    guard count >= 1 else { throw GenerationError.invalidOption("--samples", expected: "at least 1", got: "\(count)") }
    var prompts: [GenerationPrompt] = []
    for language in languages {
        for letter in startLetters {
            for _ in 0..<count { prompts.append(GenerationPrompt(language: language, prefix: [letter])) }
        }
    }
    var generator = SeededGenerator(seed: seed)
    let names = try model.generate(prompts, temperature: temperature, maxLength: maxLength, using: &generator)
    var result: [(language: String, start: Character, names: [String])] = []
    var k = 0
    for language in languages {
        for letter in startLetters {
            result.append((model.languages.indices.contains(language) ? model.languages[language] : "?",
                           NamesAlphabet.letters[letter], Array(names[k..<(k + count)])))
            k += count
        }
    }
    return result
}

/// The generation plots.
public enum GenerationPlots {
    /// The training and held-out loss per epoch, with the bigram baseline's held-out loss as
    /// a dashed line (the unigram's, far above, is left out so as not to squash the scale).
    public static func loss(_ metrics: GenerationMetrics) -> LineChart {
        let epochs = (1...max(metrics.trainLosses.count, 1)).map(Double.init)
        var series = [
            LineSeries(name: "training (mean over the epoch)", x: Array(epochs.prefix(metrics.trainLosses.count)),
                       y: metrics.trainLosses, markers: true),
        ]
        if metrics.testLosses.count == metrics.trainLosses.count {
            series.append(LineSeries(name: "held-out", x: epochs, y: metrics.testLosses, markers: true))
        }
        let span = [epochs.first!, epochs.last!]
        series.append(LineSeries(name: String(format: "bigram baseline, held-out (%.3f)", metrics.bigramLoss),
                                 x: span, y: [metrics.bigramLoss, metrics.bigramLoss], color: "#7f7f7f", dashed: true))
        let title = "Name generation: \(metrics.model.uppercased())(\(metrics.hidden)), "
            + String(format: "held-out loss %.3f nats/char (bigram %.3f)", metrics.testLoss, metrics.bigramLoss)
        var chart = LineChart(title: title, xLabel: "Epoch", yLabel: "Cross-entropy (nats per character)", series: series)
        chart.legend = .below   // inside, it covered the start of the curves
        return chart
    }
}
