// Names classification: which of 18 languages does a surname come from? The tutorial's
// hand-written cell trained one name at a time (the default), or the library's RNN, LSTM
// or GRU on mini-batches.
//
//     swift run -c release names                               # tutorial cell, 5 epochs
//     swift run -c release names --model gru --save output/names-gru.safetensors
//     swift run -c release names --load output/names-gru.safetensors --predict Dostoevsky Satoshi
//     mpirun -np 2 .build/release/names --model lstm --distributed      # data-parallel (NamesDistributed.swift)
import ArgumentParser
import ExampleSupport
import NamesExample
import Foundation
import Recurrent

extension NamesModelKind: ExpressibleByArgument {}
extension NamesClassWeights: ExpressibleByArgument {}

/// The `names` command.
@main
struct Names: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "names",
        abstract: "Classify surnames into 18 languages with a recurrent network.",
        discussion: """
        Data: 20,074 names folded to ASCII; in each language the names with index i % 5 == 0 \
        are the test set (16,053 train / 4,021 test). The tutorial model is the hand-written \
        cell (i2h over cat(letter, hidden), i2o, log-softmax) trained one name per step with \
        NLLLoss and SGD; rnn, lstm and gru train the library's layers with a linear head on \
        mini-batches (Adam, cross-entropy).
        """)

    // The options that describe training are optional, so that --load (which takes the
    // model from the file and trains nothing) can reject them instead of ignoring them.
    @Option(help: "The model: \(NamesModelKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: tutorial).")
    var model: NamesModelKind?

    @Option(parsing: .unconditional, help: "The number of passes over the training names (default: 5).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "The hidden size (default: 128).")
    var hidden: Int?

    @Option(parsing: .unconditional, help: "The learning rate (default: 0.005 with SGD for the tutorial cell, 0.003 with Adam otherwise).")
    var lr: Float?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The mini-batch size of the rnn, lstm and gru models (default: 32).")
    var batchSize: Int?

    @Option(parsing: .unconditional, help: "The seed of the initialisation and of the shuffles (default: 0).")
    var seed: UInt64?

    @Option(name: .customLong("class-weights"),
            help: "How the loss weighs the languages: none (every name the same), or balanced (each language N / (languages · its names), a weighted NLL) (default: none).")
    var classWeights: NamesClassWeights?

    @Option(name: .customLong("per-language"), parsing: .unconditional,
            help: "Use only the first N training and test names of each language (for quick runs).")
    var perLanguage: Int?

    @OptionGroup var common: CommonOptions

    @Option(help: "Save the trained model to this safetensors file.")
    var save: String?

    @Option(help: "Load a model saved with --save instead of training one.")
    var load: String?

    @Option(parsing: .upToNextOption, help: "Names whose three most likely languages to print.")
    var predict: [String] = []

    @Flag(help: "Train on every rank that mpirun started (rnn, lstm, gru): mpirun -np 2 names --model lstm --distributed.")
    var distributed = false

    func validate() throws {
        if let epochs { guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") } }
        if let hidden { guard hidden >= 1 else { throw ValidationError("--hidden must be at least 1, got \(hidden)") } }
        if let perLanguage { guard perLanguage >= 1 else { throw ValidationError("--per-language must be at least 1, got \(perLanguage)") } }
        if let batchSize { guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") } }
        if let lr { guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive, got \(lr)") } }
        if let save { try CommonOptions.checkWritableFile(save, option: "--save") }
        if let load {
            try CommonOptions.checkLoad(load, takes: "the model (its kind and hidden size)", rejecting: [
                "--model": model != nil, "--epochs": epochs != nil, "--hidden": hidden != nil,
                "--lr": lr != nil, "--batch-size": batchSize != nil, "--seed": seed != nil,
                "--class-weights": classWeights != nil, "--save": save != nil
            ])
        }
    }

    func run() throws {
        common.applyThreads()
        if distributed { return try runDistributed() }
        let all = try NamesDataset.loadBundled()
        let dataset = perLanguage.map { all.subset(perLanguage: $0) } ?? all
        let namesModel: NamesModel
        if let load {
            namesModel = try NamesModel.load(from: URL(fileURLWithPath: load))
            print("names: loaded a \(namesModel.kind.rawValue) model (hidden \(namesModel.hiddenSize)) from \(load)")
            guard namesModel.languages == dataset.languages else {
                throw ValidationError("the model's languages \(namesModel.languages) differ from the data set's")
            }
            var loadedMetrics: LoadedModelMetrics?
            if predict.isEmpty || common.json {
                let (accuracy, perLanguage, confusion) = try evaluateNames(namesModel, dataset.test)
                report(accuracy: accuracy, perLanguage: perLanguage, languages: dataset.languages, secondsPerEpoch: nil,
                       cpuSecondsPerEpoch: nil)
                try writeConfusion(confusion, languages: dataset.languages, accuracy: accuracy, kind: namesModel.kind)
                loadedMetrics = LoadedModelMetrics(
                    model: namesModel.kind.rawValue, hidden: namesModel.hiddenSize, testAccuracy: accuracy,
                    macroAccuracy: macroAccuracy(perLanguage), perLanguageAccuracy: Dictionary(uniqueKeysWithValues: zip(dataset.languages, perLanguage)))
            }
            if !predict.isEmpty { try printPredictions(namesModel) }
            if common.json, let loadedMetrics { try JSONReport.print(loadedMetrics) }
            return
        } else {
            var options = NamesOptions()
            options.model = model ?? options.model
            options.epochs = epochs ?? options.epochs
            options.hidden = hidden ?? options.hidden
            options.learningRate = lr
            options.batchSize = batchSize ?? options.batchSize
            options.seed = seed ?? options.seed
            options.classWeights = classWeights ?? options.classWeights
            let (model, hidden, epochs, batchSize, seed) = (options.model, options.hidden, options.epochs, options.batchSize, options.seed)
            options.progress = common.progressStyle
            let what = model == .tutorial
                ? "tutorial cell (i2h: Linear(57+\(hidden) → \(hidden)), i2o: Linear(\(hidden) → 18), LogSoftmax), SGD lr \(options.effectiveLearningRate), one name per step"
                : "\(model.rawValue.uppercased())(57 → \(hidden)) + Linear(\(hidden) → 18), Adam lr \(options.effectiveLearningRate), batch \(batchSize)"
            let weighting = options.classWeights == .balanced ? ", balanced class weights" : ""
            print("names: \(what), \(epochs) epochs over \(dataset.train.count) names\(weighting), seed \(seed)")
            let (trained, result) = try trainNames(dataset, options)
            namesModel = trained
            let m = result.metrics
            try TrainingDiverged.check(["the last epoch's loss": m.epochLosses.last ?? 0])
            report(accuracy: m.testAccuracy, perLanguage: dataset.languages.map { m.perLanguageAccuracy[$0] ?? .nan },
                   languages: dataset.languages, secondsPerEpoch: m.secondsPerEpoch, cpuSecondsPerEpoch: m.cpuSecondsPerEpoch)
            try writeConfusion(result.confusion, languages: dataset.languages, accuracy: m.testAccuracy, kind: model)
            if let save {
                try namesModel.save(to: URL(fileURLWithPath: save))
                print("Saved the model to \(save)")
            }
            if !predict.isEmpty { try printPredictions(namesModel) }
            if common.json { try JSONReport.print(m) }
        }
    }

    func report(accuracy: Double, perLanguage: [Double], languages: [String], secondsPerEpoch: Double?,
                cpuSecondsPerEpoch: Double?) {
        print("")
        print(String(format: "Test accuracy: %.4f (micro: the fraction of names), %.4f (macro: the mean over languages)",
                     accuracy, macroAccuracy(perLanguage)))
        if let secondsPerEpoch, let cpuSecondsPerEpoch {
            print(String(format: "Seconds per epoch: %.3f (processor time %.3f)", secondsPerEpoch, cpuSecondsPerEpoch))
        }
        print("Per-language accuracy:")
        for (language, value) in zip(languages, perLanguage) {
            print("  " + language.padding(toLength: 12, withPad: " ", startingAt: 0) + String(format: "%.3f", value))
        }
    }

    func writeConfusion(_ confusion: [[Int]], languages: [String], accuracy: Double, kind: NamesModelKind) throws {
        let url = common.outputFolder.appendingPathComponent("names-confusion.svg")
        let title = String(format: "Names: test confusion matrix (\(kind.rawValue), accuracy %.3f, macro %.3f)",
                           accuracy, macroAccuracy(perClassAccuracy(confusion)))
        try SVGPlot.write(NamesPlots.confusion(confusion, languages: languages, title: title).svg(), to: url)
        print("Plot: \(url.path)")
    }

    func printPredictions(_ model: NamesModel) throws {
        for name in predict {
            print("\n> \(name)")
            for (language, probability) in try model.predict(name, top: 3) {
                print(String(format: "  (%.2f) ", probability) + language)
            }
        }
    }
}

/// The `--json` metrics of a loaded model (no training figures).
struct LoadedModelMetrics: Codable {
    /// The model kind.
    var model: String
    /// The hidden size.
    var hidden: Int
    /// The fraction of test names classified correctly.
    var testAccuracy: Double
    /// The mean of the languages' test accuracies.
    var macroAccuracy: Double
    /// The test accuracy of each language.
    var perLanguageAccuracy: [String: Double]
}
