import ExampleSupport
import Foundation
import Recurrent

/// The model the `names` example trains.
public enum NamesModelKind: String, CaseIterable, Codable, Sendable {
    /// The tutorial's hand-written cell (``CombinedCell``), one name per step, plain SGD.
    case tutorial
    /// ``RNN`` with a linear head, mini-batches.
    case rnn
    /// ``LSTM`` with a linear head, mini-batches.
    case lstm
    /// ``GRU`` with a linear head, mini-batches.
    case gru

    /// The recurrent layer of the mini-batch models, `nil` for the tutorial cell.
    public var cellKind: CellKindOption? { CellKindOption(rawValue: rawValue) }
}

/// A recurrent layer over a padded batch of names and a `Linear(hidden, languages)` head
/// on each name's final state (`hN`, taken at each name's own length through `lengths:`,
/// so the padding never reaches the head).
public final class SequenceClassifier: Module, @unchecked Sendable {
    /// The recurrent layer (`rnn.weight_ih_l0`, …).
    public let rnn: RecurrentBase
    /// The head (`fc.weight`, `fc.bias`).
    public let fc: Linear

    /// A classifier of `classes` classes over `inputSize` features with a `kind` layer of
    /// `hiddenSize`; the layer draws from `seed`, the head from the default random stream.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1.
    public init(kind: CellKindOption, inputSize: Int, hiddenSize: Int, classes: Int, seed: UInt64?) throws {
        rnn = try kind.makeLayer(inputSize: inputSize, hiddenSize: hiddenSize, seed: seed)
        fc = try Linear(inFeatures: hiddenSize, outFeatures: classes)
        super.init()
    }

    /// The logits `(B, classes)` of a batch-first padded input `(B, T, inputSize)`.
    ///
    /// - Throws: ``TensorError`` when the shapes or lengths do not fit.
    public func callAsFunction(_ input: Tensor, lengths: [Int]) throws -> Tensor {
        let (_, last) = try runRecurrent(rnn, input, lengths: lengths)
        return try fc(last)
    }
}

/// A trained (or loaded) names classifier: the model kind, its module, and the languages it
/// tells apart.
public final class NamesModel: @unchecked Sendable {
    /// Which model this is.
    public let kind: NamesModelKind
    /// The hidden size.
    public let hiddenSize: Int
    /// The language of each class index.
    public let languages: [String]
    /// The module: a ``CombinedCell`` for ``NamesModelKind/tutorial``, else a ``SequenceClassifier``.
    public let module: Module

    /// A freshly initialised model; the default random stream should be seeded first.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1.
    public init(kind: NamesModelKind, hiddenSize: Int, languages: [String], seed: UInt64?) throws {
        self.kind = kind
        self.hiddenSize = hiddenSize
        self.languages = languages
        if let cellKind = kind.cellKind {
            module = try SequenceClassifier(kind: cellKind, inputSize: NamesAlphabet.count, hiddenSize: hiddenSize,
                                            classes: languages.count, seed: seed)
        } else {
            module = try CombinedCell(inputSize: NamesAlphabet.count, hiddenSize: hiddenSize, outputSize: languages.count)
        }
    }

    /// The log-probabilities of every language for each sample (no gradients recorded).
    ///
    /// - Throws: ``TensorError`` on a shape error (a bug).
    public func logProbabilities(_ samples: [NameSample], batchSize: Int = 512) throws -> [[Float]] {
        try withoutGradients {
            var result: [[Float]] = []
            result.reserveCapacity(samples.count)
            let classes = languages.count
            if let cell = module as? CombinedCell {
                for sample in samples {
                    var output = Tensor(zeros: [1, classes])
                    if !sample.letters.isEmpty { output = try cell(oneHot: sample.letters, cell.initHidden()).output }
                    result.append(output.scalars)
                }
            } else if let classifier = module as? SequenceClassifier {
                var start = 0
                while start < samples.count {
                    let chunk = Array(samples[start..<min(start + batchSize, samples.count)])
                    let (input, lengths) = NamesEncoding.batch(chunk)
                    let scores = try classifier(input, lengths: lengths).logSoftmax(dim: 1).scalars
                    for b in chunk.indices { result.append(Array(scores[(b * classes)..<((b + 1) * classes)])) }
                    start += batchSize
                }
            }
            return result
        }
    }

    /// The `top` most likely languages of `name` (folded first) with their probabilities,
    /// most likely first.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when the name has no letter of the
    ///   alphabet; ``TensorError`` on a shape error (a bug).
    public func predict(_ name: String, top: Int = 3) throws -> [(language: String, probability: Double)] {
        let sample = NameSample(name: name, language: 0)
        guard !sample.letters.isEmpty else {
            throw ExampleDataError.invalidData("\"\(name)\" has no letter of the names alphabet")
        }
        let logp = try logProbabilities([sample])[0]
        return logp.enumerated().sorted { $0.element > $1.element }.prefix(top).map {
            (languages[$0.offset], Foundation.exp(Double($0.element)))
        }
    }

    /// Saves the parameters as a safetensors state dict, with the model kind, hidden size
    /// and languages in its metadata so that ``load(from:)`` can rebuild the model.
    ///
    /// - Throws: the library's ``SafeTensorsError`` when the file cannot be written.
    public func save(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try module.saveStateDict(to: url, metadata: [
            "format": "pt", "model": kind.rawValue, "hidden_size": String(hiddenSize),
            "languages": languages.joined(separator: ","),
        ])
    }

    /// A model saved by ``save(to:)``.
    ///
    /// The metadata is not trusted: the hidden size and the languages must agree with the
    /// shape of the head's weight in the same file (`i2o.weight` or `fc.weight`,
    /// `(languages, hidden)`), so the model built before the tensors are loaded is never
    /// larger than what the file holds (and the file's size is bounded by the machine's memory).
    ///
    /// - Throws: ``SafeTensorsError`` when the file cannot be read,
    ///   ``ExampleDataError/invalidData(_:)`` when its metadata does not describe a names
    ///   model or disagrees with its tensors, ``StateDictError`` when its tensors do not fit
    ///   the model.
    public static func load(from url: URL) throws -> NamesModel {
        let header = try SafeTensors.readHeader(from: url)
        let metadata = header.metadata
        guard let kind = metadata["model"].flatMap(NamesModelKind.init(rawValue:)),
              let hidden = metadata["hidden_size"].flatMap(Int.init),
              let languages = metadata["languages"]?.split(separator: ",", omittingEmptySubsequences: false).map(String.init),
              !languages.isEmpty else {
            throw ExampleDataError.invalidData("\(url.path) is not a names model (its metadata lacks model, hidden_size or languages): \(metadata)")
        }
        guard hidden >= 1 else {
            throw ExampleDataError.invalidData("\(url.path): expected a hidden_size of at least 1 in the metadata, got \(hidden)")
        }
        guard Set(languages).count == languages.count, !languages.contains("") else {
            throw ExampleDataError.invalidData("\(url.path): expected distinct, non-empty languages in the metadata, got \(languages)")
        }
        let head = kind == .tutorial ? "i2o.weight" : "fc.weight"
        guard let entry = header.entries.first(where: { $0.name == head }) else {
            throw ExampleDataError.invalidData("\(url.path): a \(kind.rawValue) names model has a tensor \(head), the file has only \(header.names)")
        }
        guard entry.shape == [languages.count, hidden] else {
            throw ExampleDataError.invalidData("\(url.path): the metadata says hidden_size \(hidden) and \(languages.count) languages, so \(head) should have shape \([languages.count, hidden]), but the file's has \(entry.shape)")
        }
        let model = try NamesModel(kind: kind, hiddenSize: hidden, languages: languages, seed: 0)
        try model.module.loadStateDict(from: url)
        return model
    }
}

/// The options of a names run (the `names` command's flags).
public struct NamesOptions: Sendable {
    /// The model.
    public var model: NamesModelKind = .tutorial
    /// The number of passes over the training names.
    public var epochs: Int = 5
    /// The hidden size.
    public var hidden: Int = 128
    /// The learning rate; `nil` for the model's default (``defaultLearningRate(for:)``).
    public var learningRate: Float?
    /// The mini-batch size of the recurrent-layer models (the tutorial cell uses 1).
    public var batchSize: Int = 32
    /// The seed of the default random stream, the initialisation and the shuffles.
    public var seed: UInt64 = 0
    /// How the loss weighs the languages (default: unweighted).
    public var classWeights: NamesClassWeights = .unweighted
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent

    /// The defaults: the tutorial cell, 5 epochs, hidden 128, batch 32, seed 0, unweighted
    /// loss, no progress.
    public init() {}

    /// The learning rate used when none is given: 0.005 (plain SGD) for the tutorial cell
    /// as in the tutorial, 0.003 (Adam) for the recurrent layers.
    public static func defaultLearningRate(for model: NamesModelKind) -> Float {
        model == .tutorial ? 0.005 : 0.003
    }

    /// The learning rate of this run.
    public var effectiveLearningRate: Float { learningRate ?? Self.defaultLearningRate(for: model) }
}

/// How the training loss weighs the languages (`--class-weights`).
public enum NamesClassWeights: String, CaseIterable, Codable, Sendable {
    /// Every name counts the same (`--class-weights none`): the plain mean of the negative
    /// log-likelihoods, which favours the languages with many names (Russian has 9,408 of
    /// the 20,074).
    case unweighted = "none"
    /// Each language weighs `N / (C · n_c)` (scikit-learn's `"balanced"`): `N` training names,
    /// `C` languages, `n_c` training names of language `c`, so that every language
    /// contributes the same total weight to an epoch. The loss is the weighted NLL with
    /// PyTorch's `weight=` semantics (the weighted mean divides by the sum of the targets'
    /// weights).
    case balanced

    /// The weight of each of `classes` classes for the training targets `labels`, or `nil`
    /// for ``unweighted``.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` for a label outside `0..<classes`, or,
    ///   for ``balanced``, a class with no training sample (its weight would be infinite).
    public func weights(labels: [Int], classes: Int) throws -> [Float]? {
        guard self == .balanced else { return nil }
        var counts = [Int](repeating: 0, count: classes)
        for label in labels {
            guard label >= 0 && label < classes else {
                throw ExampleDataError.invalidData("class weights: expected labels in 0..<\(classes), got \(label)")
            }
            counts[label] += 1
        }
        if let empty = counts.firstIndex(of: 0) {
            throw ExampleDataError.invalidData("balanced class weights: class \(empty) has no training sample")
        }
        return counts.map { Float(Double(labels.count) / (Double(classes) * Double($0))) }
    }
}

/// The macro-averaged accuracy: the mean of the per-class accuracies (each class's recall),
/// skipping the classes without a sample (NaN); NaN when no class has one.
public func macroAccuracy(_ perClass: [Double]) -> Double {
    let present = perClass.filter { !$0.isNaN }
    return present.isEmpty ? .nan : present.reduce(0, +) / Double(present.count)
}

/// The metrics of a names run, as printed by `--json`.
public struct NamesMetrics: Codable, Sendable, Equatable {
    /// `"tutorial"`, `"rnn"`, `"lstm"` or `"gru"`.
    public var model: String
    /// The optimizer (`"SGD"` or `"Adam"`).
    public var optimizer: String
    /// The learning rate.
    public var learningRate: Float
    /// The mini-batch size (1 for the tutorial cell).
    public var batchSize: Int
    /// The number of epochs.
    public var epochs: Int
    /// The seed.
    public var seed: UInt64
    /// The numbers of training and test names.
    public var trainCount: Int, testCount: Int
    /// How the loss weighed the languages (`"none"` or `"balanced"`).
    public var classWeights: String
    /// The fraction of test names classified correctly (micro-averaged accuracy).
    public var testAccuracy: Double
    /// The mean of the languages' test accuracies (macro-averaged: every language counts
    /// the same, however many names it has).
    public var macroAccuracy: Double
    /// The test accuracy of each language.
    public var perLanguageAccuracy: [String: Double]
    /// The mean training loss of each epoch (weighted as the training loss was).
    public var epochLosses: [Double]
    /// The training time per epoch in seconds, wall clock (evaluation excluded).
    public var secondsPerEpoch: Double
    /// The processor time of the process per epoch in seconds (the same span): on a busy
    /// machine a fairer measure than wall time of a one-thread run.
    public var cpuSecondsPerEpoch: Double
}

/// Everything a names run produces.
public struct NamesResult: Sendable {
    /// The final metrics.
    public var metrics: NamesMetrics
    /// The test confusion counts, `confusion[true][predicted]`.
    public var confusion: [[Int]]
}

/// Trains a names classifier on `dataset.train` and evaluates it on `dataset.test`.
///
/// The tutorial cell is trained one name at a time, exactly as the tutorial's loop: the
/// name's letters (one-hot) go through ``CombinedCell`` from a zero hidden state (as one
/// node over the whole name, ``CombinedCell/callAsFunction(oneHot:_:)``), the log-softmax
/// output after the last letter meets NLLLoss, and plain SGD updates the weights, over the
/// training names in an order shuffled each epoch.
///
/// The recurrent layers are trained on shuffled mini-batches of `batchSize` padded names
/// with `lengths:`, the head on each name's final state, cross-entropy loss and Adam.
///
/// - Throws: ``TensorError`` on a shape error (a bug), or for invalid options.
public func trainNames(_ dataset: NamesDataset, _ options: NamesOptions) throws -> (model: NamesModel, result: NamesResult) {
    guard options.epochs >= 0, options.batchSize >= 1, options.hidden >= 1 else {
        throw TensorError.invalidArgument("names: expected epochs ≥ 0, batch size ≥ 1 and hidden ≥ 1")
    }
    RandomState.manualSeed(options.seed)
    let model = try NamesModel(kind: options.model, hiddenSize: options.hidden, languages: dataset.languages, seed: options.seed)
    // Names have at most about 20 letters; a step keeps the gates and the states.
    let batch = options.model == .tutorial ? 1 : options.batchSize
    try TrainingMemory.check(model.module, optimizerBuffers: options.model == .tutorial ? 0 : 2,
                             activations: [[batch, 24, 8, options.hidden], [batch, 24, NamesAlphabet.count]],
                             what: "a \(options.model.rawValue) names model of hidden size \(options.hidden) on batches of \(batch)")
    var generator = SeededGenerator(seed: options.seed &+ 0x9E37_79B9)
    let lr = options.effectiveLearningRate
    let train = dataset.train
    let progress = ProgressLine(totalEpochs: options.epochs, style: options.progress, itemUnit: "names/s")
    var epochLosses: [Double] = []
    var trainSeconds = 0.0
    let cpuStart = processCPUSeconds()
    let optimizerName: String
    var order = Array(train.indices)
    let classWeights = try options.classWeights.weights(labels: train.map(\.language), classes: dataset.languages.count)
    let weightTensor = classWeights.map { Tensor(shape: [$0.count], scalars: $0) }

    if let cell = model.module as? CombinedCell {
        optimizerName = "SGD"
        let optimizer = try SGD(cell.parameters(), lr: lr)
        let reportEvery = max(1, train.count / 200)
        for epoch in stride(from: 1, through: options.epochs, by: 1) {
            order.shuffle(using: &generator)
            let start = Date()
            var total = 0.0
            for (k, index) in order.enumerated() {
                let sample = train[index]
                var hidden = try cell.initHidden()
                var output = hidden
                // Every letter's step, as one node over the whole name.
                if !sample.letters.isEmpty { (output, hidden) = try cell(oneHot: sample.letters, hidden) }
                // One name per step: a weighted *mean* over one item would divide the weight
                // away (PyTorch's semantics), so a weighted run sums, which is w_c · NLL.
                let loss = try nllLoss(output, target: [sample.language], weight: weightTensor,
                                       reduction: weightTensor == nil ? .mean : .sum)
                optimizer.zeroGrad(setToNil: false)
                loss.backward()
                optimizer.step()
                total += Double(loss.item)
                if (k + 1) % reportEvery == 0 {
                    progress.update(epoch: epoch, fraction: Double(k + 1) / Double(order.count),
                                    loss: total / Double(k + 1), items: reportEvery)
                }
            }
            trainSeconds += Date().timeIntervalSince(start)
            epochLosses.append(total / Double(max(order.count, 1)))
            progress.update(epoch: epoch, loss: epochLosses.last!, items: order.count % reportEvery)
        }
    } else if let classifier = model.module as? SequenceClassifier {
        optimizerName = "Adam"
        let optimizer = try Adam(classifier.parameters(), lr: lr)
        let batches = (train.count + options.batchSize - 1) / options.batchSize
        for epoch in stride(from: 1, through: options.epochs, by: 1) {
            order.shuffle(using: &generator)
            let start = Date()
            var total = 0.0
            for b in 0..<batches {
                let indices = order[(b * options.batchSize)..<min((b + 1) * options.batchSize, order.count)]
                let samples = indices.map { train[$0] }
                let (input, lengths) = NamesEncoding.batch(samples)
                optimizer.zeroGrad()
                let loss = try crossEntropy(classifier(input, lengths: lengths), target: samples.map(\.language),
                                            weight: weightTensor)
                loss.backward()
                optimizer.step()
                total += Double(loss.item) * Double(samples.count)
                progress.update(epoch: epoch, fraction: Double(b + 1) / Double(batches),
                                loss: total / Double(b * options.batchSize + samples.count), items: samples.count)
            }
            trainSeconds += Date().timeIntervalSince(start)
            epochLosses.append(total / Double(max(order.count, 1)))
        }
    } else {
        throw TensorError.invalidArgument("names: unsupported module \(type(of: model.module))")
    }
    let trainCPUSeconds = processCPUSeconds() - cpuStart
    progress.finish()

    let (accuracy, perLanguage, confusion) = try evaluateNames(model, dataset.test)
    let metrics = NamesMetrics(
        model: options.model.rawValue, optimizer: optimizerName, learningRate: lr,
        batchSize: options.model == .tutorial ? 1 : options.batchSize, epochs: options.epochs, seed: options.seed,
        trainCount: train.count, testCount: dataset.test.count, classWeights: options.classWeights.rawValue,
        testAccuracy: accuracy, macroAccuracy: macroAccuracy(perLanguage),
        perLanguageAccuracy: Dictionary(uniqueKeysWithValues: zip(dataset.languages, perLanguage)),
        epochLosses: epochLosses, secondsPerEpoch: options.epochs > 0 ? trainSeconds / Double(options.epochs) : 0,
        cpuSecondsPerEpoch: options.epochs > 0 ? trainCPUSeconds / Double(options.epochs) : 0)
    return (model, NamesResult(metrics: metrics, confusion: confusion))
}

/// The accuracy of `model` on `samples`, overall and per language (NaN for a language
/// with no sample), and the confusion counts `confusion[true][predicted]`.
///
/// - Throws: ``TensorError`` on a shape error (a bug).
public func evaluateNames(_ model: NamesModel, _ samples: [NameSample]) throws
    -> (accuracy: Double, perLanguage: [Double], confusion: [[Int]]) {
    let classes = model.languages.count
    var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
    let scores = try model.logProbabilities(samples)
    var correct = 0
    for (sample, row) in zip(samples, scores) {
        var best = 0
        for k in 1..<row.count where row[k] > row[best] { best = k }
        confusion[sample.language][best] += 1
        if best == sample.language { correct += 1 }
    }
    return (samples.isEmpty ? .nan : Double(correct) / Double(samples.count), perClassAccuracy(confusion), confusion)
}

/// The accuracy of each class from confusion counts `confusion[true][predicted]`: the
/// diagonal over the row's total (the class's recall), NaN for a class with no sample.
public func perClassAccuracy(_ confusion: [[Int]]) -> [Double] {
    confusion.enumerated().map { k, row -> Double in
        let total = row.reduce(0, +)
        return total > 0 && k < row.count ? Double(row[k]) / Double(total) : .nan
    }
}

/// The names plots.
public enum NamesPlots {
    /// The confusion matrix as a heat map, each row normalised to the fraction of that
    /// language's test names predicted as each language.
    public static func confusion(_ confusion: [[Int]], languages: [String], title: String) -> HeatMap {
        let normalised = confusion.map { row -> [Double] in
            let total = Double(row.reduce(0, +))
            return row.map { total > 0 ? Double($0) / total : 0 }
        }
        return HeatMap(title: title, rowAxisLabel: "True language", columnAxisLabel: "Predicted language",
                       rowLabels: languages, columnLabels: languages, values: normalised,
                       minimum: 0, maximum: 1, annotationFormat: "%.2f", annotationThreshold: 0.01, cellSize: 34)
    }
}
