// Date translation: a bidirectional encoder reads a date written by a human ("Thursday,
// 3 May 1979", "05/03/79", "3rd of May 1979", …) and a decoder writes it in ISO form,
// 1979-05-03, one character at a time, feeding back its own predictions (teacher forcing
// while training).
//
//     swift run -c release translate                         # GRU, seed 0
//     swift run -c release translate --model lstm --json
//     swift run -c release translate --translate "3 May 1979" "Sunday, 1 January 2023"
//     swift run -c release translate --save output/translate.safetensors
//     swift run -c release translate --load output/translate.safetensors --translate "3 May 1979"
import ArgumentParser
import ExampleSupport
import TranslateExample
import Foundation
import Recurrent

extension TranslationModelKind: ExpressibleByArgument {}

/// The `translate` command.
@main
struct Translate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "translate",
        abstract: "Translate human-written dates to ISO 8601 (YYYY-MM-DD) with a recurrent encoder–decoder.",
        discussion: """
        Data: the days from 1950-01-01 to 2049-12-31 are shuffled with the seed; the first \
        --test-size of them are held out and written in all \(DateFormat.allCases.count) formats; the \
        --train-size training examples are the other dates, each in a random format. Formats: \
        \(DateFormat.allCases.map { "\"\($0.example)\"" }.joined(separator: ", ")). Slashes put the \
        month first (US), dots the day first; two-digit years 50–99 are 19xx, 00–49 20xx. Model: \
        a bidirectional GRU or LSTM encoder over one-hot characters; a decoder started from its \
        final states that reads the previous character and the encoder's summary at each of the \
        10 steps; Adam, cross-entropy, teacher forcing; greedy decoding at test time.
        """)

    // The options that describe training and its data are optional, so that --load (which
    // takes the model and its data set's seed and sizes from the file) can reject them.
    @Option(help: "The recurrent layers: \(TranslationModelKind.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(TranslationOptions().model.rawValue)).")
    var model: TranslationModelKind?

    @Option(parsing: .unconditional, help: "The number of passes over the training examples (default: \(TranslationOptions().epochs)).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "The hidden size of the encoder (each direction) and the decoder (default: \(TranslationOptions().hidden)).")
    var hidden: Int?

    @Option(parsing: .unconditional, help: "Adam's initial learning rate, halved at half the epochs and again at three quarters (default: \(TranslationOptions().learningRate)).")
    var lr: Float?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The mini-batch size (default: \(TranslationOptions().batchSize)).")
    var batchSize: Int?

    @Option(name: .customLong("train-size"), parsing: .unconditional, help: "The number of training examples (date, format) (default: \(TranslationOptions().trainSize)).")
    var trainSize: Int?

    @Option(name: .customLong("test-size"), parsing: .unconditional, help: "The number of held-out dates, each written in every format (default: \(TranslationOptions().testDates)).")
    var testSize: Int?

    @Option(parsing: .unconditional, help: "The seed of the data, the initialisation and the shuffles (default: 0).")
    var seed: UInt64?

    @Option(help: "Save the trained model to this safetensors file.")
    var save: String?

    @Option(help: "Load a model saved with --save instead of training one; its held-out dates are rebuilt from the seed and sizes in the file.")
    var load: String?

    @OptionGroup var common: CommonOptions

    @Option(parsing: .upToNextOption, help: "Dates to translate with the trained model (e.g. \"3 May 1979\").")
    var translate: [String] = []

    @Option(parsing: .unconditional, help: "The number of held-out failures to print.")
    var failures: Int = 8

    func validate() throws {
        if let epochs, epochs < 1 { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        if let hidden, hidden < 1 { throw ValidationError("--hidden must be at least 1, got \(hidden)") }
        if let lr, !(lr > 0 && lr.isFinite) { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        if let trainSize, trainSize < 1 { throw ValidationError("--train-size must be at least 1, got \(trainSize)") }
        if let testSize, !(testSize >= 1 && testSize < TranslationDataset.dayCount) {
            throw ValidationError("--test-size must be between 1 and \(TranslationDataset.dayCount - 1) dates, got \(testSize)")
        }
        guard failures >= 0 else { throw ValidationError("--failures must be at least 0, got \(failures)") }
        // A training example: its text, its date and their encodings.
        try CommonOptions.checkMemory("--train-size", count: trainSize ?? TranslationOptions().trainSize, bytesEach: 1024)
        if let save { try CommonOptions.checkWritableFile(save, option: "--save") }
        if let load {
            try CommonOptions.checkLoad(load, takes: "the model and its data set's seed and sizes", rejecting: [
                "--model": model != nil, "--epochs": epochs != nil, "--hidden": hidden != nil,
                "--lr": lr != nil, "--batch-size": batchSize != nil,
                "--train-size": trainSize != nil, "--test-size": testSize != nil,
                "--seed": seed != nil, "--save": save != nil
            ])
        }
        for text in translate {
            guard !text.isEmpty else { throw ValidationError("--translate expects dates, got an empty string") }
            do { _ = try DateInputVocabulary.encode(text) } catch { throw ValidationError("--translate: \(error)") }
        }
    }

    func run() throws {
        common.applyThreads()
        let translator: DateTranslator
        let dataset: TranslationDataset
        let evaluation: TranslationEvaluation
        var metrics: TranslationMetrics?
        if let load {
            let loaded = try DateTranslator.load(from: URL(fileURLWithPath: load))
            translator = loaded.model
            try CommonOptions.checkMemory("\(load)'s train_size", count: loaded.trainSize, bytesEach: 1024)
            dataset = try TranslationDataset(trainSize: loaded.trainSize, testDates: loaded.testDates, seed: loaded.seed)
            print("translate: loaded a \(translator.kind.rawValue.uppercased()) encoder–decoder (hidden \(translator.hiddenSize)) from \(load); "
                  + "its \(dataset.testDates.count) held-out dates × \(DateFormat.allCases.count) formats (data seed \(loaded.seed))")
            evaluation = try TranslationEvaluation(model: translator, examples: dataset.test)
            print("")
            print(String(format: "Held-out exact match: %.4f   per character: %.4f   (%d translations of %d dates never seen in training)",
                         evaluation.overall.exactMatch, evaluation.overall.characterAccuracy, dataset.test.count, dataset.testDates.count))
        } else {
            var options = TranslationOptions()
            options.model = model ?? options.model
            options.epochs = epochs ?? options.epochs
            options.hidden = hidden ?? options.hidden
            options.learningRate = lr ?? options.learningRate
            options.batchSize = batchSize ?? options.batchSize
            options.trainSize = trainSize ?? options.trainSize
            options.testDates = testSize ?? options.testDates
            options.seed = seed ?? options.seed
            options.progress = common.progressStyle
            dataset = try TranslationDataset(trainSize: options.trainSize, testDates: options.testDates, seed: options.seed)
            let layer = options.model.rawValue.uppercased(), hidden = options.hidden
            print("translate: bidirectional \(layer)(\(DateInputVocabulary.count) → \(hidden)) encoder, "
                  + "\(layer)(\(ISOVocabulary.inputCount)+\(2 * hidden) → \(hidden)) decoder + Linear(\(hidden) → \(ISOVocabulary.classCount)), "
                  + "Adam lr \(options.learningRate), batch \(options.batchSize), \(options.epochs) epochs over \(dataset.train.count) examples, "
                  + "\(dataset.testDates.count) held-out dates × \(DateFormat.allCases.count) formats, seed \(options.seed)")
            let trained = try trainTranslator(dataset, options)
            (translator, evaluation) = (trained.model, trained.evaluation)
            let m = trained.metrics
            try TrainingDiverged.check(["the last epoch's loss": m.epochLosses.last ?? 0])
            metrics = m
            print("")
            print(String(format: "Held-out exact match: %.4f   per character: %.4f   (%d translations of %d dates never seen in training)",
                         m.exactMatch, m.characterAccuracy, m.testCount, m.testDates))
            print("Trained in " + ProgressLine.duration(m.trainSeconds) + String(format: " (processor time %.1fs)", m.cpuTrainSeconds))
        }
        print("Per format:                                exact   per char")
        for (format, scores) in evaluation.perFormat {
            print("  " + "\"\(format.example)\"".padding(toLength: 40, withPad: " ", startingAt: 0)
                  + String(format: "%.3f   %.3f", scores.exactMatch, scores.characterAccuracy))
        }
        print("Examples:")
        for index in stride(from: 0, to: evaluation.examples.count, by: max(1, evaluation.examples.count / 6)).prefix(6) {
            printTranslation(evaluation.examples[index].text, evaluation.predictions[index], evaluation.examples[index].target)
        }
        let wrong = evaluation.failures
        print("Failures: \(wrong.count) of \(evaluation.examples.count)" + (wrong.isEmpty || failures == 0 ? "" : ", for example:"))
        for index in wrong.prefix(failures) {
            printTranslation(evaluation.examples[index].text, evaluation.predictions[index], evaluation.examples[index].target)
        }

        if let metrics {
            let folder = common.outputFolder
            let trainingURL = folder.appendingPathComponent("translate-training.svg")
            let formatsURL = folder.appendingPathComponent("translate-formats.svg")
            try SVGPlot.write(TranslationPlots.training(metrics).svg(), to: trainingURL)
            if let chart = TranslationPlots.perFormat(metrics) { try SVGPlot.write(chart.svg(), to: formatsURL) }
            print("Plots: \(trainingURL.path), \(formatsURL.path)")
        }
        if let save, let metrics {
            try translator.save(to: URL(fileURLWithPath: save), seed: metrics.seed, trainSize: dataset.train.count, testDates: metrics.testDates)
            print("Saved the model to \(save)")
        }

        if !translate.isEmpty {
            print("")
            for (text, iso) in zip(translate, try translator.translate(translate)) {
                // The reference, when one of the formats reads the text.
                let reference = try? DateFormat.parseAny(text).date.iso
                printTranslation(text, iso, reference)
            }
        }
        if common.json {
            if let metrics {
                try JSONReport.print(metrics)
            } else {
                try JSONReport.print(LoadedTranslatorReport(
                    model: translator.kind.rawValue, hidden: translator.hiddenSize, testDates: dataset.testDates.count,
                    testCount: dataset.test.count, exactMatch: evaluation.overall.exactMatch,
                    characterAccuracy: evaluation.overall.characterAccuracy))
            }
        }
    }

    func printTranslation(_ text: String, _ prediction: String, _ target: String?) {
        let mark = target.map { $0 == prediction ? "✓" : "✗ (expected \($0))" } ?? "(no format reads it: no reference)"
        print("  " + "\"\(text)\"".padding(toLength: 36, withPad: " ", startingAt: 0) + " → \(prediction)  \(mark)")
    }
}

/// The `--json` report of a loaded translator (no training figures).
struct LoadedTranslatorReport: Codable {
    /// The recurrent layers.
    var model: String
    /// The hidden size.
    var hidden: Int
    /// The numbers of held-out dates and of held-out examples (dates × formats).
    var testDates: Int, testCount: Int
    /// The held-out exact-match accuracy.
    var exactMatch: Double
    /// The held-out per-character accuracy.
    var characterAccuracy: Double
}
