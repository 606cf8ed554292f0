import ExampleSupport
import Foundation
import Recurrent

/// A bidirectional recurrent layer over a padded batch of token features and a
/// `Linear(2 · hidden, 7)` head on every step: the BIO tag scores of every token —
/// PyTorch's
///
/// ```python
/// out, _ = self.rnn(x)     # nn.LSTM(F, H, batch_first=True, bidirectional=True)
/// return self.fc(out)      # nn.Linear(2 * H, 7), on every step
/// ```
public final class BidirectionalTagger: Module, @unchecked Sendable {
    /// The bidirectional recurrent layer (`rnn.weight_ih_l0`, `rnn.weight_ih_l0_reverse`, …).
    public let rnn: RecurrentBase
    /// The head on each step's concatenated forward and backward outputs (`fc.weight`, `fc.bias`).
    public let fc: Linear

    /// A tagger with a bidirectional `kind` layer of `hiddenSize` features per direction over
    /// `inputSize` features and `tagCount` tags; the layer draws from `seed`, the head from
    /// the default random stream.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1.
    public init(kind: CellKindOption, inputSize: Int, hiddenSize: Int, tagCount: Int = BIOTag.all.count, seed: UInt64?) throws {
        guard tagCount >= 1 else { throw TensorError.invalidArgument("BidirectionalTagger: expected at least 1 tag, got \(tagCount)") }
        rnn = try kind.makeLayer(inputSize: inputSize, hiddenSize: hiddenSize, bidirectional: true, seed: seed)
        fc = try Linear(inFeatures: 2 * hiddenSize, outFeatures: tagCount)
        super.init()
    }

    /// The tag scores `(B, T, tagCount)` of a batch-first padded input `(B, T, inputSize)`
    /// whose sequences have the given `lengths` (the backward direction starts at each
    /// sequence's own last token; scores past a length are the head's bias alone).
    ///
    /// - Throws: ``TensorError`` when the shapes or lengths do not fit.
    public func callAsFunction(_ input: Tensor, lengths: [Int]) throws -> Tensor {
        let (output, _) = try runRecurrent(rnn, input, lengths: lengths)
        return try fc(output)
    }
}

/// A trained tagger: the token encoder and the network.
public final class EntityTagger: @unchecked Sendable {
    /// How tokens become features.
    public let encoder: TokenEncoder
    /// The network.
    public let network: BidirectionalTagger

    /// A tagger of `encoder`'s features with `network`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when the network does not read
    ///   `encoder.featureCount` features or does not score the 7 BIO tags.
    public init(encoder: TokenEncoder, network: BidirectionalTagger) throws {
        guard network.rnn.inputSize == encoder.featureCount, network.fc.outFeatures == BIOTag.all.count else {
            throw ExampleDataError.invalidData("the network reads \(network.rnn.inputSize) features and scores \(network.fc.outFeatures) tags; expected \(encoder.featureCount) and \(BIOTag.all.count)")
        }
        self.encoder = encoder
        self.network = network
    }

    /// The kind of the network's recurrent layer.
    public var kind: CellKindOption {
        switch network.rnn {
        case is LSTM: return .lstm
        case is GRU: return .gru
        default: return .rnn
        }
    }

    /// Saves the network's parameters as a safetensors state dict, with everything needed
    /// to rebuild the tagger in its metadata: the layer kind, the hidden size, the encoder's
    /// vocabulary (a JSON array) and hash buckets, and the corpus's `seed` and sentence
    /// counts, so that a loader can rebuild the same held-out sentences.
    ///
    /// - Throws: ``SafeTensorsError`` when the file cannot be written, or the file system's
    ///   error when its folder cannot be made.
    public func save(to url: URL, seed: UInt64, trainSentences: Int, testSentences: Int) throws {
        let vocabulary = String(decoding: try JSONEncoder().encode(encoder.vocabulary), as: UTF8.self)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try network.saveStateDict(to: url, metadata: [
            "format": "pt", "task": "tagging", "model": kind.rawValue, "hidden_size": String(network.rnn.hiddenSize),
            "hash_buckets": String(encoder.hashBuckets), "vocabulary": vocabulary, "seed": String(seed),
            "train_sentences": String(trainSentences), "test_sentences": String(testSentences),
        ])
    }

    /// A tagger saved by ``save(to:seed:trainSentences:testSentences:)`` and the corpus it
    /// was trained on (its seed and sentence counts).
    ///
    /// The metadata is checked against the file's tensors before the network is built: the
    /// head `fc.weight` must be `(7, 2 · hidden_size)` and the layer's `rnn.weight_ih_l0`
    /// must read the encoder's features.
    ///
    /// - Throws: ``ExampleDataError`` when the file is missing, is not a tagger saved by
    ///   `tagging --save`, or its metadata disagrees with its tensors; the library's
    ///   ``SafeTensorsError`` or ``StateDictError`` when its tensors do not fit the network.
    public static func load(from url: URL) throws
        -> (tagger: EntityTagger, seed: UInt64, trainSentences: Int, testSentences: Int) {
        let file = try ModelFile(url: url, task: "tagging")
        let kind = try file.choice("model", as: CellKindOption.self)
        let hidden = try file.integer("hidden_size", in: 1...(1 << 20))
        let buckets = try file.integer("hash_buckets", in: 1...(1 << 24))
        guard let vocabulary = try? JSONDecoder().decode([String].self, from: Data(file.string("vocabulary").utf8)) else {
            throw ExampleDataError.invalidData("\(url.path): expected \"vocabulary\" to be a JSON array of words in the metadata")
        }
        let seedText = try file.string("seed")
        guard let seed = UInt64(seedText) else {
            throw ExampleDataError.invalidData("\(url.path): expected \"seed\" to be a whole number ≥ 0, got \"\(seedText)\"")
        }
        let trainSentences = try file.integer("train_sentences", in: 1...Int.max)
        let testSentences = try file.integer("test_sentences", in: 1...Int.max)
        let encoder = try TokenEncoder(vocabulary: vocabulary, hashBuckets: buckets)
        try file.requireShape("fc.weight", [BIOTag.all.count, 2 * hidden])
        guard let input = file.header.entries.first(where: { $0.name == "rnn.weight_ih_l0" }), input.shape.count == 2,
              input.shape[1] == encoder.featureCount else {
            throw ExampleDataError.invalidData("\(url.path): expected rnn.weight_ih_l0 to read the encoder's \(encoder.featureCount) features")
        }
        let network = try BidirectionalTagger(kind: kind, inputSize: encoder.featureCount, hiddenSize: hidden, seed: 0)
        try file.load(into: network)
        return (try EntityTagger(encoder: encoder, network: network), seed, trainSentences, testSentences)
    }

    /// The log-probabilities of the 7 tags (``BIOTag/all`` order) of every token of each
    /// sentence, `[sentence][token][tag]`, computed in batches without recording gradients.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when a sentence has no token;
    ///   ``TensorError`` on a shape error (a bug).
    public func logProbabilities(_ sentences: [EncodedSentence], batchSize: Int = 256) throws -> [[[Float]]] {
        try withoutGradients {
            let tags = BIOTag.all.count
            var result: [[[Float]]] = []
            result.reserveCapacity(sentences.count)
            var start = 0
            while start < sentences.count {
                let chunk = Array(sentences[start..<min(start + max(batchSize, 1), sentences.count)])
                let (input, lengths) = try encoder.batch(chunk)
                let steps = input.shape[1]
                let scores = try network(input, lengths: lengths).logSoftmax(dim: -1).scalars
                for (b, length) in lengths.enumerated() {
                    result.append((0..<length).map { t in
                        let base = (b * steps + t) * tags
                        return Array(scores[base..<(base + tags)])
                    })
                }
                start += chunk.count
            }
            return result
        }
    }

    /// The most likely tags of each sentence: with `constrained`, the most likely sequence
    /// in which every `I-X` follows a `B-X` or an `I-X` (``decode(_:constrained:)``);
    /// otherwise each token's most likely tag.
    ///
    /// - Throws: what ``logProbabilities(_:batchSize:)`` throws.
    public func predict(_ sentences: [EncodedSentence], constrained: Bool = true) throws -> [[BIOTag]] {
        try logProbabilities(sentences).map { Self.decode($0, constrained: constrained) }
    }

    /// The tags of one tokenised sentence.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `tokens` is empty.
    public func tag(_ tokens: [String], constrained: Bool = true) throws -> [BIOTag] {
        try predict(encoder.encode([tokens]), constrained: constrained)[0]
    }

    /// The tags of one sentence from its per-token log-probabilities `[token][tag]`.
    ///
    /// Unconstrained, each token takes its most likely tag. Constrained (Viterbi), the
    /// sequence maximises the summed log-probabilities among the valid BIO sequences: an
    /// `I-X` only after `B-X` or `I-X`, so every entity starts with a `B-`.
    public static func decode(_ logProbabilities: [[Float]], constrained: Bool) -> [BIOTag] {
        let all = BIOTag.all
        guard constrained else {
            return logProbabilities.map { row in all[row.indices.max(by: { row[$0] < row[$1] }) ?? 0] }
        }
        guard !logProbabilities.isEmpty else { return [] }
        func allowed(_ previous: BIOTag?, _ next: BIOTag) -> Bool {
            guard case let .inside(type) = next else { return true }
            return previous == .begin(type) || previous == .inside(type)
        }
        let K = all.count
        var score = (0..<K).map { allowed(nil, all[$0]) ? logProbabilities[0][$0] : -Float.infinity }
        var back: [[Int]] = []
        for row in logProbabilities.dropFirst() {
            var next = [Float](repeating: -.infinity, count: K)
            var from = [Int](repeating: 0, count: K)
            for k in 0..<K {
                for j in 0..<K where allowed(all[j], all[k]) && score[j] > next[k] {
                    next[k] = score[j]
                    from[k] = j
                }
                next[k] += row[k]
            }
            back.append(from)
            score = next
        }
        var k = score.indices.max(by: { score[$0] < score[$1] })!
        var path = [k]
        for from in back.reversed() {
            k = from[k]
            path.append(k)
        }
        return path.reversed().map { all[$0] }
    }
}

/// The options of a tagging run (the `tagging` command's flags).
public struct TaggingOptions: Sendable {
    /// The recurrent layer, bidirectional.
    public var model: CellKindOption = .lstm
    /// The number of passes over the training sentences.
    public var epochs: Int = 3
    /// The hidden size of each direction.
    public var hidden: Int = 64
    /// Adam's learning rate.
    public var learningRate: Float = 0.005
    /// The number of sentences per mini-batch.
    public var batchSize: Int = 32
    /// Words seen fewer times than this in the training sentences are `<unk>`.
    public var minWordCount: Int = 2
    /// The probability with which a training token's word is replaced by `<unk>`
    /// (``TokenEncoder/batch(_:wordDropout:using:)``).
    public var wordDropout: Double = 0.25
    /// The number of hashed spelling features.
    public var hashBuckets: Int = 512
    /// The largest gradient norm; larger gradients are scaled down (``clipGradNorm(_:maxNorm:normType:)``).
    public var maxGradientNorm: Float = 5
    /// Whether decoding keeps to valid BIO sequences (see ``EntityTagger/decode(_:constrained:)``).
    public var constrainedDecoding = true
    /// The seed of the initialisation and of the shuffles.
    public var seed: UInt64 = 0
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent

    /// The defaults: a bidirectional LSTM of 64 per direction, 3 epochs, Adam lr 0.005,
    /// batch 32, word dropout 0.25, seed 0, no progress.
    public init() {}
}

/// The metrics of a tagging run, as printed by `--json`.
public struct TaggingRunMetrics: Codable, Sendable, Equatable {
    /// `"rnn"`, `"lstm"` or `"gru"` (bidirectional).
    public var model: String
    /// The hidden size of each direction.
    public var hidden: Int
    /// Adam's learning rate.
    public var learningRate: Float
    /// The mini-batch size.
    public var batchSize: Int
    /// The number of epochs.
    public var epochs: Int
    /// The seed.
    public var seed: UInt64
    /// The numbers of training and held-out sentences.
    public var trainSentences: Int, testSentences: Int
    /// The numbers of training and held-out surnames (disjoint).
    public var trainSurnames: Int, testSurnames: Int
    /// The numbers of training and held-out places (disjoint).
    public var trainPlaces: Int, testPlaces: Int
    /// The number of known words (with `<unk>`) and of features per token.
    public var vocabularySize: Int, featureCount: Int
    /// Whether decoding kept to valid BIO sequences.
    public var constrainedDecoding: Bool
    /// The mean training loss (cross-entropy per token) of each epoch.
    public var epochLosses: [Double]
    /// The mean training loss over each tenth of an epoch (about), for a finer curve…
    public var intervalLosses: [Double]
    /// …and the point of training, in epochs, at the end of each of those intervals.
    public var intervalEnds: [Double]
    /// The held-out token accuracy after each epoch.
    public var epochTokenAccuracies: [Double]
    /// The held-out entity F1 after each epoch.
    public var epochEntityF1: [Double]
    /// The final held-out scores.
    public var heldOut: TaggingEvaluation
    /// The training time per epoch in seconds, wall clock (evaluation excluded).
    public var secondsPerEpoch: Double
    /// The processor time per epoch in seconds (the same span).
    public var cpuSecondsPerEpoch: Double
}

/// Everything a tagging run produces.
public struct TaggingResult: Sendable {
    /// The final metrics.
    public var metrics: TaggingRunMetrics
    /// The predicted tags of each held-out sentence.
    public var predictions: [[BIOTag]]
}

/// Trains a bidirectional tagger on `dataset.train` and scores it on `dataset.test` after
/// every epoch.
///
/// The encoder's vocabulary comes from the training sentences only. Each epoch shuffles
/// the training sentences and takes mini-batches of `batchSize` padded sentences with
/// `lengths:`; the loss is the cross-entropy of every real token (padding is ignored
/// through `ignoreIndex`), minimised by Adam with the gradient norm clipped. The
/// held-out scores of each epoch are only reported, never used to choose anything.
///
/// - Throws: ``TensorError/invalidArgument(_:)`` for invalid options;
///   ``ExampleDataError`` for an empty sentence; ``TensorError`` on a shape error (a bug).
public func trainTagger(_ dataset: TaggingDataset, _ options: TaggingOptions) throws -> (tagger: EntityTagger, result: TaggingResult) {
    guard options.epochs >= 0, options.batchSize >= 1, options.hidden >= 1,
          options.learningRate > 0, options.learningRate.isFinite, (0..<1).contains(options.wordDropout) else {
        throw TensorError.invalidArgument("tagging: expected epochs ≥ 0, batch size ≥ 1, hidden ≥ 1, a positive learning rate and a word dropout in [0, 1), got \(options.epochs), \(options.batchSize), \(options.hidden), \(options.learningRate) and \(options.wordDropout)")
    }
    guard !dataset.train.isEmpty else { throw TensorError.invalidArgument("tagging: no training sentence") }
    RandomState.manualSeed(options.seed)
    let encoder = try TokenEncoder(trainingSentences: dataset.train.map(\.tokens), minCount: options.minWordCount,
                                   hashBuckets: options.hashBuckets)
    let network = try BidirectionalTagger(kind: options.model, inputSize: encoder.featureCount, hiddenSize: options.hidden,
                                          seed: options.seed)
    let tagger = try EntityTagger(encoder: encoder, network: network)
    let train = encoder.encode(dataset.train.map(\.tokens))
    let test = encoder.encode(dataset.test.map(\.tokens))
    let trainTargets = dataset.train.map { $0.tags.map(\.index) }
    let goldTest = dataset.test.map(\.tags)

    // Sentences of up to about 60 tokens, both directions.
    try TrainingMemory.check(network, optimizerBuffers: 2,
                             activations: [[options.batchSize, 64, 16, options.hidden], [options.batchSize, 64, encoder.featureCount]],
                             what: "a bidirectional \(options.model.rawValue) tagger of hidden size \(options.hidden) on batches of \(options.batchSize)")
    let optimizer = try Adam(network.parameters(), lr: options.learningRate)
    var generator = SeededGenerator(seed: options.seed &+ 0x9E37_79B9)
    let progress = ProgressLine(totalEpochs: options.epochs, style: options.progress, itemUnit: "sentences/s")
    var order = Array(train.indices)
    let batches = (train.count + options.batchSize - 1) / options.batchSize
    var losses: [Double] = [], accuracies: [Double] = [], f1s: [Double] = []
    var intervalLosses: [Double] = [], intervalEnds: [Double] = []
    let interval = max(1, batches / 10)
    var trainSeconds = 0.0, trainCPUSeconds = 0.0
    var predictions: [[BIOTag]] = []
    var evaluation = try TaggingEvaluation(gold: goldTest, predicted: goldTest.map { $0.map { _ in .outside } })

    for epoch in stride(from: 1, through: options.epochs, by: 1) {
        order.shuffle(using: &generator)
        progress.resume()
        let start = Date(), cpuStart = processCPUSeconds()
        var total = 0.0, tokens = 0
        var intervalTotal = 0.0, intervalTokens = 0
        for b in 0..<batches {
            let indices = Array(order[(b * options.batchSize)..<min((b + 1) * options.batchSize, order.count)])
            let (input, lengths) = try encoder.batch(indices.map { train[$0] }, wordDropout: options.wordDropout,
                                                     using: &generator)
            let steps = input.shape[1]
            var target = [Int](repeating: -100, count: indices.count * steps)
            for (row, i) in indices.enumerated() {
                for (t, tag) in trainTargets[i].enumerated() { target[row * steps + t] = tag }
            }
            optimizer.zeroGrad()
            let logits = try network(input, lengths: lengths).reshaped([indices.count * steps, BIOTag.all.count])
            let loss = try crossEntropy(logits, target: target, ignoreIndex: -100)
            loss.backward()
            _ = clipGradNorm(optimizer.parameters, maxNorm: options.maxGradientNorm)
            optimizer.step()
            let count = lengths.reduce(0, +)
            total += Double(loss.item) * Double(count)
            tokens += count
            intervalTotal += Double(loss.item) * Double(count)
            intervalTokens += count
            if (b + 1) % interval == 0 || b == batches - 1 {
                intervalLosses.append(intervalTotal / Double(intervalTokens))
                intervalEnds.append(Double(epoch - 1) + Double(b + 1) / Double(batches))
                intervalTotal = 0
                intervalTokens = 0
            }
            progress.update(epoch: epoch, fraction: Double(b + 1) / Double(batches), loss: total / Double(tokens),
                            items: indices.count)
        }
        trainSeconds += Date().timeIntervalSince(start)
        progress.pause()   // the evaluation that follows is not training time
        trainCPUSeconds += processCPUSeconds() - cpuStart
        losses.append(total / Double(max(tokens, 1)))
        predictions = try tagger.predict(test, constrained: options.constrainedDecoding)
        evaluation = try TaggingEvaluation(gold: goldTest, predicted: predictions)
        accuracies.append(evaluation.tokenAccuracy)
        f1s.append(evaluation.overall.f1)
    }
    progress.finish()
    if options.epochs == 0 {
        predictions = try tagger.predict(test, constrained: options.constrainedDecoding)
        evaluation = try TaggingEvaluation(gold: goldTest, predicted: predictions)
    }
    let epochs = Double(max(options.epochs, 1))
    let metrics = TaggingRunMetrics(
        model: options.model.rawValue, hidden: options.hidden, learningRate: options.learningRate,
        batchSize: options.batchSize, epochs: options.epochs, seed: options.seed,
        trainSentences: dataset.train.count, testSentences: dataset.test.count,
        trainSurnames: dataset.surnames.train.count, testSurnames: dataset.surnames.test.count,
        trainPlaces: dataset.places.train.count, testPlaces: dataset.places.test.count,
        vocabularySize: encoder.vocabulary.count, featureCount: encoder.featureCount,
        constrainedDecoding: options.constrainedDecoding, epochLosses: losses, intervalLosses: intervalLosses, intervalEnds: intervalEnds, epochTokenAccuracies: accuracies,
        epochEntityF1: f1s, heldOut: evaluation, secondsPerEpoch: trainSeconds / epochs,
        cpuSecondsPerEpoch: trainCPUSeconds / epochs)
    return (tagger, TaggingResult(metrics: metrics, predictions: predictions))
}

/// The tagging plots.
public enum TaggingPlots {
    /// The training loss (over each tenth of an epoch) and the held-out error rates after
    /// each epoch — tokens with a wrong tag, and 1 − entity F1 — on a logarithmic axis.
    public static func training(_ metrics: TaggingRunMetrics) -> LineChart {
        let epochs = metrics.epochLosses.indices.map { Double($0 + 1) }
        var chart = LineChart(
            title: "Tagging: bidirectional \(metrics.model.uppercased()), held-out sentences with unseen surnames and places",
            xLabel: "Epoch", yLabel: "Loss / error rate (log scale)",
            series: [
                LineSeries(name: "training loss (cross-entropy per token)", x: metrics.intervalEnds, y: metrics.intervalLosses),
                LineSeries(name: "held-out token error (1 − accuracy)", x: epochs,
                           y: metrics.epochTokenAccuracies.map { 1 - $0 }, markers: true),
                LineSeries(name: "held-out entity error (1 − F1)", x: epochs, y: metrics.epochEntityF1.map { 1 - $0 },
                           markers: true),
            ], yScale: .logarithmic)
        chart.legend = .below
        chart.zeroLabel = "a held-out error of 0 (no mistake), drawn on the bottom edge"
        return chart
    }

    /// The tag probabilities of every token of one sentence as a heat map: one row per
    /// token, labelled with the token and its gold tag, one column per tag.
    ///
    /// - Precondition: `probabilities` has one row of 7 values per token and `gold` one
    ///   tag per token.
    public static func probabilities(tokens: [String], gold: [BIOTag], probabilities: [[Float]], title: String) -> HeatMap {
        let labels = zip(tokens, gold).map { "\($0)  (\($1))" }
        return HeatMap(title: title, rowAxisLabel: "Token (gold tag)", columnAxisLabel: "Predicted tag probability",
                       rowLabels: labels, columnLabels: BIOTag.all.map(\.description),
                       values: probabilities.map { $0.map(Double.init) }, minimum: 0, maximum: 1,
                       annotationFormat: "%.2f", annotationThreshold: 0.01, cellSize: 40)
    }
}
