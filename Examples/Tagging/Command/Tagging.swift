// Named-entity tagging (many-to-many, aligned): a bidirectional LSTM, GRU or RNN tags every
// token of a sentence with BIO tags (persons, places, dates). The sentences are made from
// templates filled with surnames of the names data, places and dates; the held-out
// sentences use only surnames and places never seen in training.
//
//     swift run -c release tagging                       # bidirectional LSTM, seed 0
//     swift run -c release tagging --model gru --epochs 4 --json
//     swift run -c release tagging --tag "Yesterday Dr. Abernathy flew to Lima on 3 May 1979 ."
//     swift run -c release tagging --save output/tagging.safetensors
//     swift run -c release tagging --load output/tagging.safetensors --tag "Anna Kowalski flew to Lima ."
import ArgumentParser
import ExampleSupport
import TaggingExample
import Foundation
import Recurrent

extension CellKindOption: ExpressibleByArgument {}

/// The `tagging` command.
@main
struct Tagging: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tagging",
        abstract: "Tag persons, places and dates in sentences with a bidirectional RNN, LSTM or GRU.",
        discussion: """
        Data: \(TaggingLexicon.templates.count) sentence templates filled with surnames of the names \
        data (alone, after a title, or after a first name), \(TaggingLexicon.places.count) places and \
        dates (years \(TaggingLexicon.years.lowerBound)–\(TaggingLexicon.years.upperBound), month names, \
        days). The distinct surnames and the places are split 80/20 with the seed: held-out sentences only \
        use surnames and places never seen in training; some slots take a person or a place at even odds. Tokens are read as a word one-hot over the training vocabulary (<unk> \
        otherwise), hashed character prefixes, suffixes and trigrams, and shape flags. The model is a \
        bidirectional layer with a linear head on every token, trained with cross-entropy over the real \
        tokens and Adam; decoding keeps to valid BIO sequences (Viterbi) unless --greedy. Scores: token \
        accuracy and CoNLL entity precision, recall and F1 (exact span and type).
        """)

    // The options that describe training and its corpus are optional, so that --load (which
    // takes the model and its corpus's seed and sizes from the file) can reject them.
    @Option(help: "The recurrent layer, bidirectional: \(CellKindOption.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(TaggingOptions().model.rawValue)).")
    var model: CellKindOption?

    @Option(parsing: .unconditional, help: "The number of passes over the training sentences (default: \(TaggingOptions().epochs)).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "The hidden size of each direction (default: \(TaggingOptions().hidden)).")
    var hidden: Int?

    @Option(parsing: .unconditional, help: "Adam's learning rate (default: \(TaggingOptions().learningRate)).")
    var lr: Float?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The number of sentences per mini-batch (default: \(TaggingOptions().batchSize)).")
    var batchSize: Int?

    @Option(name: .customLong("train-sentences"), parsing: .unconditional, help: "The number of training sentences (default: \(Self.defaultTrainSentences)).")
    var trainSentences: Int?

    @Option(name: .customLong("test-sentences"), parsing: .unconditional, help: "The number of held-out sentences (default: \(Self.defaultTestSentences)).")
    var testSentences: Int?

    @Option(name: .customLong("word-dropout"), parsing: .unconditional,
            help: "The probability with which a training token's word is replaced by <unk>, its spelling and shape staying (default: \(TaggingOptions().wordDropout)).")
    var wordDropout: Double?

    @Option(parsing: .unconditional, help: "The seed of the corpus, the surname split, the initialisation and the shuffles (default: 0).")
    var seed: UInt64?

    @Option(help: "Save the trained model to this safetensors file.")
    var save: String?

    @Option(help: "Load a model saved with --save instead of training one; its held-out sentences are rebuilt from the seed and sizes in the file.")
    var load: String?

    static let defaultTrainSentences = 5000
    static let defaultTestSentences = 1000

    @OptionGroup var common: CommonOptions

    @Option(parsing: .unconditional, help: "The number of held-out sentences to print with their predicted tags.")
    var show: Int = 6

    @Option(parsing: .upToNextOption, help: "Sentences to tag after training (split at spaces, final punctuation split off).")
    var tag: [String] = []

    @Flag(help: "Take each token's most likely tag instead of the most likely valid BIO sequence.")
    var greedy = false

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let hidden, hidden < 1 { throw ValidationError("--hidden must be at least 1, got \(hidden)") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let trainSentences, trainSentences < 1 { throw ValidationError("--train-sentences must be at least 1, got \(trainSentences)") }
        if let testSentences, testSentences < 1 { throw ValidationError("--test-sentences must be at least 1, got \(testSentences)") }
        if let wordDropout, !(wordDropout >= 0 && wordDropout < 1) {
            throw ValidationError("--word-dropout must be in [0, 1), got \(wordDropout)")
        }
        guard show >= 0 else { throw ValidationError("--show must be at least 0, got \(show)") }
        // A generated sentence, its tokens, tags and features: a few kilobytes.
        try CommonOptions.checkMemory("--train-sentences", count: trainSentences ?? Self.defaultTrainSentences, bytesEach: 4096)
        try CommonOptions.checkMemory("--test-sentences", count: testSentences ?? Self.defaultTestSentences, bytesEach: 4096)
        if let save { try CommonOptions.checkWritableFile(save, option: "--save") }
        if let load {
            try CommonOptions.checkLoad(load, takes: "the model and its corpus's seed and sizes", rejecting: [
                "--model": model != nil, "--epochs": epochs != nil, "--hidden": hidden != nil,
                "--lr": lr != nil, "--batch-size": batchSize != nil,
                "--train-sentences": trainSentences != nil,
                "--test-sentences": testSentences != nil, "--word-dropout": wordDropout != nil,
                "--seed": seed != nil, "--save": save != nil
            ])
        }
        if let empty = tag.firstIndex(where: { TaggingTokenizer.tokens(of: $0).isEmpty }) {
            throw ValidationError("--tag expects sentences with at least one token, got an empty sentence at position \(empty + 1)")
        }
    }

    func run() throws {
        common.applyThreads()
        let tagger: EntityTagger
        let dataset: TaggingDataset
        let predictions: [[BIOTag]]
        let evaluation: TaggingEvaluation
        var metrics: TaggingRunMetrics?
        let constrained = !greedy
        if let load {
            let loaded = try EntityTagger.load(from: URL(fileURLWithPath: load))
            tagger = loaded.tagger
            try CommonOptions.checkMemory("\(load)'s train_sentences", count: loaded.trainSentences, bytesEach: 4096)
            try CommonOptions.checkMemory("\(load)'s test_sentences", count: loaded.testSentences, bytesEach: 4096)
            dataset = try TaggingDataset.bundled(trainCount: loaded.trainSentences, testCount: loaded.testSentences, seed: loaded.seed)
            print("tagging: loaded a bidirectional \(tagger.kind.rawValue.uppercased()) (hidden \(tagger.network.rnn.hiddenSize)) from \(load); "
                  + "its \(dataset.test.count) held-out sentences (corpus seed \(loaded.seed)), "
                  + (greedy ? "greedy decoding" : "BIO-constrained decoding"))
            predictions = try tagger.predict(tagger.encoder.encode(dataset.test.map(\.tokens)), constrained: constrained)
            evaluation = try TaggingEvaluation(gold: dataset.test.map(\.tags), predicted: predictions)
        } else {
            var options = TaggingOptions()
            options.model = model ?? options.model
            options.epochs = epochs ?? options.epochs
            options.hidden = hidden ?? options.hidden
            options.learningRate = lr ?? options.learningRate
            options.batchSize = batchSize ?? options.batchSize
            options.seed = seed ?? options.seed
            options.wordDropout = wordDropout ?? options.wordDropout
            options.constrainedDecoding = constrained
            options.progress = common.progressStyle
            dataset = try TaggingDataset.bundled(trainCount: trainSentences ?? Self.defaultTrainSentences,
                                                 testCount: testSentences ?? Self.defaultTestSentences, seed: options.seed)

            print("tagging: \(dataset.train.count) training sentences (\(dataset.surnames.train.count) surnames, "
                  + "\(dataset.places.train.count) places), \(dataset.test.count) held-out sentences "
                  + "(\(dataset.surnames.test.count) other surnames, \(dataset.places.test.count) other places), seed \(options.seed)")
            print("  e.g. \(render(dataset.train[0].tokens, dataset.train[0].tags))")
            print("model: bidirectional \(options.model.rawValue.uppercased())(features → \(options.hidden) × 2) + Linear(\(2 * options.hidden) → 7), "
                  + "Adam lr \(options.learningRate), batch \(options.batchSize), \(options.epochs) epochs, word dropout \(options.wordDropout), "
                  + (greedy ? "greedy decoding" : "BIO-constrained decoding"))
            let (trained, result) = try trainTagger(dataset, options)
            let m = result.metrics
            try TrainingDiverged.check(["the last epoch's loss": m.epochLosses.last ?? 0])
            print("Features per token: \(m.featureCount) (\(m.vocabularySize) known words with <unk>, "
                  + "\(options.hashBuckets) spelling buckets, \(TokenEncoder.shapeFeatureNames.count) shape flags)")
            (tagger, predictions, evaluation, metrics) = (trained, result.predictions, m.heldOut, m)
        }

        let e = evaluation
        print("")
        print("Held-out sentences (surnames and places never seen in training):")
        print(String(format: "  token accuracy  %.4f  (%d tokens)", e.tokenAccuracy, e.tokenCount))
        print("  entity     precision  recall     F1   (gold / predicted)")
        func row(_ label: String, _ s: EntityScores) -> String {
            "  " + label.padding(toLength: 9, withPad: " ", startingAt: 0)
                + String(format: "  %7.4f  %7.4f  %7.4f   (%d / %d)", s.precision, s.recall, s.f1, s.gold, s.predicted)
        }
        print(row("overall", e.overall))
        for type in EntityType.allCases { print(row(type.rawValue, e.perType[type.rawValue]!)) }
        if let m = metrics {
            print(String(format: "Trained in %@ (%.2f s per epoch, processor time %.2f s)",
                         ProgressLine.duration(m.secondsPerEpoch * Double(m.epochs)), m.secondsPerEpoch, m.cpuSecondsPerEpoch))
        }

        if show > 0 {
            print("")
            print("Held-out sentences, predicted tags (a wrong tag shows the gold one after /):")
            for (sentence, predicted) in zip(dataset.test, predictions).prefix(show) {
                print("  " + render(sentence.tokens, predicted, gold: sentence.tags))
            }
            let errors = zip(dataset.test, predictions).filter { $0.0.tags != $0.1 }
            if !errors.isEmpty {
                print("Some of the \(errors.count) held-out sentences with a wrong tag:")
                for (sentence, predicted) in errors.prefix(show) {
                    print("  " + render(sentence.tokens, predicted, gold: sentence.tags))
                }
            }
        }
        for text in tag {
            let tokens = TaggingTokenizer.tokens(of: text)
            print("\n> \(text)")
            print("  " + render(tokens, try tagger.tag(tokens, constrained: constrained)))
        }

        let folder = common.outputFolder
        let trainingURL = folder.appendingPathComponent("tagging-training.svg")
        if let metrics { try SVGPlot.write(TaggingPlots.training(metrics).svg(), to: trainingURL) }
        let heatURL = folder.appendingPathComponent("tagging-probabilities.svg")
        let pick = Self.illustrativeSentence(dataset.test)
        let sentence = dataset.test[pick]
        let probabilities = try tagger.logProbabilities(tagger.encoder.encode([sentence.tokens]))[0].map { $0.map(Foundation.exp) }
        try SVGPlot.write(TaggingPlots.probabilities(
            tokens: sentence.tokens, gold: sentence.tags, probabilities: probabilities,
            title: "Tag probabilities, held-out sentence \(pick + 1) (Bi-\(tagger.kind.rawValue.uppercased()))").svg(), to: heatURL)
        print("\nPlots: " + (metrics == nil ? "" : "\(trainingURL.path), ") + heatURL.path)
        if let save, let metrics {
            try tagger.save(to: URL(fileURLWithPath: save), seed: metrics.seed, trainSentences: dataset.train.count,
                            testSentences: dataset.test.count)
            print("Saved the model to \(save)")
        }
        if common.json {
            if let metrics {
                try JSONReport.print(metrics)
            } else {
                try JSONReport.print(LoadedTaggerReport(model: tagger.kind.rawValue, hidden: tagger.network.rnn.hiddenSize,
                                                        heldOut: evaluation))
            }
        }
    }

    /// `tokens` with each entity in brackets and its type: `[PER Anna Kowalski] flew to [LOC Paris]`;
    /// where `gold` is given and differs, the gold tag follows the token after a slash.
    func render(_ tokens: [String], _ tags: [BIOTag], gold: [BIOTag]? = nil) -> String {
        var words: [String] = []
        var open = false
        for (i, (token, tag)) in zip(tokens, tags).enumerated() {
            let starts: Bool
            switch tag {
            case .outside: starts = false
            case .begin: starts = true
            case let .inside(type): starts = !(i > 0 && tags[i - 1].entityType == type)
            }
            if open && (tag == .outside || starts) { words[words.count - 1] += "]"; open = false }
            var word = token
            if let gold, gold[i] != tag { word += "/\(gold[i])" }
            if starts { word = "[\(tag.entityType!.rawValue) " + word; open = true }
            words.append(word)
        }
        if open { words[words.count - 1] += "]" }
        return words.joined(separator: " ")
    }

    /// The index of the first held-out sentence of at most 14 tokens with a person, a place
    /// and a date, the person or the place of several tokens (0 when there is none): the
    /// sentence of the heat map.
    static func illustrativeSentence(_ sentences: [TaggedSentence]) -> Int {
        sentences.firstIndex { s in
            Set(s.entities.map(\.type)).count == 3 && s.tokens.count <= 14
                && s.entities.contains { $0.type != .date && $0.end - $0.start > 1 }
        } ?? 0
    }
}

/// The `--json` report of a loaded tagger (no training figures).
struct LoadedTaggerReport: Encodable {
    /// The recurrent layer.
    var model: String
    /// The hidden size of each direction.
    var hidden: Int
    /// The held-out scores.
    var heldOut: TaggingEvaluation
}
