// Date translation: a bidirectional encoder reads a date written by a human ("Thursday,
// 3 May 1979", "05/03/79", "3rd of May 1979", …) and a decoder writes it in ISO form,
// 1979-05-03, one character at a time, feeding back its own predictions (teacher forcing
// while training).
//
//     swift run -c release translate                         # GRU, seed 0
//     swift run -c release translate --model lstm --json
//     swift run -c release translate --translate "3 May 1979" "Sunday, 1 January 2023"
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

    @Option(help: "The recurrent layers: \(TranslationModelKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: TranslationModelKind = .gru

    @Option(parsing: .unconditional, help: "The number of passes over the training examples.")
    var epochs: Int = TranslationOptions().epochs

    @Option(parsing: .unconditional, help: "The hidden size of the encoder (each direction) and the decoder.")
    var hidden: Int = TranslationOptions().hidden

    @Option(parsing: .unconditional, help: "Adam's initial learning rate (halved at half the epochs and again at three quarters).")
    var lr: Float = TranslationOptions().learningRate

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The mini-batch size.")
    var batchSize: Int = TranslationOptions().batchSize

    @Option(name: .customLong("train-size"), parsing: .unconditional, help: "The number of training examples (date, format).")
    var trainSize: Int = TranslationOptions().trainSize

    @Option(name: .customLong("test-size"), parsing: .unconditional, help: "The number of held-out dates (each written in every format).")
    var testSize: Int = TranslationOptions().testDates

    @Option(parsing: .unconditional, help: "The seed of the data, the initialisation and the shuffles.")
    var seed: UInt64 = 0

    @OptionGroup var common: CommonOptions

    @Option(parsing: .upToNextOption, help: "Dates to translate with the trained model (e.g. \"3 May 1979\").")
    var translate: [String] = []

    @Option(parsing: .unconditional, help: "The number of held-out failures to print.")
    var failures: Int = 8

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard hidden >= 1 else { throw ValidationError("--hidden must be at least 1, got \(hidden)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard trainSize >= 1 else { throw ValidationError("--train-size must be at least 1, got \(trainSize)") }
        guard testSize >= 1, testSize < TranslationDataset.dayCount else {
            throw ValidationError("--test-size must be between 1 and \(TranslationDataset.dayCount - 1) dates, got \(testSize)")
        }
        guard failures >= 0 else { throw ValidationError("--failures must be at least 0, got \(failures)") }
        // A training example: its text, its date and their encodings.
        try CommonOptions.checkMemory("--train-size", count: trainSize, bytesEach: 1024)
        for text in translate {
            guard !text.isEmpty else { throw ValidationError("--translate expects dates, got an empty string") }
            do { _ = try DateInputVocabulary.encode(text) } catch { throw ValidationError("--translate: \(error)") }
        }
    }

    func run() throws {
        common.applyThreads()
        var options = TranslationOptions()
        options.model = model
        options.epochs = epochs
        options.hidden = hidden
        options.learningRate = lr
        options.batchSize = batchSize
        options.trainSize = trainSize
        options.testDates = testSize
        options.seed = seed
        options.progress = common.progressStyle
        let dataset = try TranslationDataset(trainSize: trainSize, testDates: testSize, seed: seed)
        let layer = model.rawValue.uppercased()
        print("translate: bidirectional \(layer)(\(DateInputVocabulary.count) → \(hidden)) encoder, "
              + "\(layer)(\(ISOVocabulary.inputCount)+\(2 * hidden) → \(hidden)) decoder + Linear(\(hidden) → \(ISOVocabulary.classCount)), "
              + "Adam lr \(lr), batch \(batchSize), \(epochs) epochs over \(dataset.train.count) examples, "
              + "\(dataset.testDates.count) held-out dates × \(DateFormat.allCases.count) formats, seed \(seed)")
        let (translator, metrics, evaluation) = try trainTranslator(dataset, options)
        try TrainingDiverged.check(["the last epoch's loss": metrics.epochLosses.last ?? 0])

        print("")
        print(String(format: "Held-out exact match: %.4f   per character: %.4f   (%d translations of %d dates never seen in training)",
                     metrics.exactMatch, metrics.characterAccuracy, metrics.testCount, metrics.testDates))
        print("Trained in " + ProgressLine.duration(metrics.trainSeconds)
              + String(format: " (processor time %.1fs)", metrics.cpuTrainSeconds))
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

        let folder = common.outputFolder
        let trainingURL = folder.appendingPathComponent("translate-training.svg")
        let formatsURL = folder.appendingPathComponent("translate-formats.svg")
        try SVGPlot.write(TranslationPlots.training(metrics).svg(), to: trainingURL)
        if let chart = TranslationPlots.perFormat(metrics) { try SVGPlot.write(chart.svg(), to: formatsURL) }
        print("Plots: \(trainingURL.path), \(formatsURL.path)")

        if !translate.isEmpty {
            print("")
            for (text, iso) in zip(translate, try translator.translate(translate)) {
                // The reference, when one of the formats reads the text.
                let reference = try? DateFormat.parseAny(text).date.iso
                printTranslation(text, iso, reference)
            }
        }
        if common.json { try JSONReport.print(metrics) }
    }

    func printTranslation(_ text: String, _ prediction: String, _ target: String?) {
        let mark = target.map { $0 == prediction ? "✓" : "✗ (expected \($0))" } ?? "(no format reads it: no reference)"
        print("  " + "\"\(text)\"".padding(toLength: 36, withPad: " ", startingAt: 0) + " → \(prediction)  \(mark)")
    }
}
