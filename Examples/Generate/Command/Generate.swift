// Name generation (one-to-many): a character-level GRU or LSTM conditioned on the language
// learns to spell surnames letter by letter, then writes new ones for given start letters.
// The held-out loss per character is set against per-language unigram and bigram models.
//
//     swift run -c release generate                                  # GRU, seed 0
//     swift run -c release generate --languages Russian,Irish --start-letters KMO --samples 3
//     swift run -c release generate --model lstm --temperature 0.5 --json
import ArgumentParser
import ExampleSupport
import NamesExample
import GenerateExample
import Foundation
import Recurrent

extension CellKindOption: ExpressibleByArgument {}

/// The `generate` command.
@main
struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate surnames in a given language with a character-level GRU or LSTM.",
        discussion: """
        Data: the 18-language names data set folded to ASCII, with the names split of the names \
        example (16,053 train / 4,021 held out). Each step reads cat(language one-hot, previous \
        token one-hot) — the start mark, then the name's letters — and predicts the next letter \
        or the end mark; the loss is the cross-entropy over every letter and the end of each \
        name, padding masked. Adam on mini-batches of padded names, dropout before the head, the \
        learning rate divided by 4 for the last third of the epochs. The held-out loss (nats per \
        character) is compared with per-language unigram and bigram letter models fitted on the \
        training names.
        """)

    @Option(help: "The recurrent layer: \(CellKindOption.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: CellKindOption = .gru

    @Option(parsing: .unconditional, help: "The number of passes over the training names.")
    var epochs: Int = GenerationOptions().epochs

    @Option(parsing: .unconditional, help: "The hidden size.")
    var hidden: Int = GenerationOptions().hidden

    @Option(parsing: .unconditional, help: "Adam's learning rate (divided by 4 for the last third of the epochs).")
    var lr: Float = GenerationOptions().learningRate

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The number of names per mini-batch.")
    var batchSize: Int = GenerationOptions().batchSize

    @Option(parsing: .unconditional, help: "The dropout probability on the recurrent outputs before the head, while training.")
    var dropout: Float = GenerationOptions().dropout

    @Option(parsing: .unconditional, help: "The sampling temperature: softmax(logits / T); 0 takes the most likely letter.")
    var temperature: Float = 0.7

    @Option(help: "The comma-separated languages to sample names in (case-insensitive).")
    var languages: String = "Russian,German,Spanish,Chinese,Irish,Japanese"

    @Option(name: .customLong("start-letters"), help: "The start letters: one group of samples per letter.")
    var startLetters: String = "ABCS"

    @Option(parsing: .unconditional, help: "The number of names to sample per language and start letter.")
    var samples: Int = 2

    @Option(name: .customLong("max-length"), parsing: .unconditional, help: "The longest generated name, in letters.")
    var maxLength: Int = 20

    @Option(parsing: .unconditional, help: "The seed of the initialisation, the shuffles and the sampling.")
    var seed: UInt64 = 0

    @OptionGroup var common: CommonOptions

    @Option(help: "Save the trained model to this safetensors file.")
    var save: String?

    func validate() throws {
        func check(_ ok: Bool, _ option: String, _ expected: String, _ got: String) throws {
            if !ok { throw ValidationError("\(option): expected \(expected), got \(got)") }
        }
        try check(epochs >= 1, "--epochs", "at least 1", "\(epochs)")
        if let save { try CommonOptions.checkWritableFile(save, option: "--save") }
        try check(hidden >= 1, "--hidden", "at least 1", "\(hidden)")
        try check(batchSize >= 1, "--batch-size", "at least 1", "\(batchSize)")
        try check(lr > 0 && lr.isFinite, "--lr", "a positive number", "\(lr)")
        try check(dropout >= 0 && dropout < 1, "--dropout", "a probability in [0, 1)", "\(dropout)")
        try check(temperature >= 0 && temperature.isFinite, "--temperature", "a number ≥ 0", "\(temperature)")
        try check(samples >= 1, "--samples", "at least 1", "\(samples)")
        try check(maxLength >= 1, "--max-length", "at least 1", "\(maxLength)")
        // Every sample keeps its letters (and a step's probabilities) until it ends.
        try CommonOptions.checkMemory("--samples × --max-length", count: samples, bytesEach: maxLength.multipliedReportingOverflow(by: 1024).overflow ? Int.max : maxLength * 1024)
        do {
            _ = try GenerationRequest.startLetters(startLetters)
            _ = try GenerationRequest.languages(languages, known: NamesDataset.loadBundled().languages)
        } catch let error as GenerationError {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        common.applyThreads()
        let dataset = try NamesDataset.loadBundled()
        let chosenLanguages = try GenerationRequest.languages(languages, known: dataset.languages)
        let letters = try GenerationRequest.startLetters(startLetters)
        var options = GenerationOptions()
        options.model = model
        options.epochs = epochs
        options.hidden = hidden
        options.learningRate = lr
        options.batchSize = batchSize
        options.dropout = dropout
        options.seed = seed
        options.progress = common.progressStyle

        let L = dataset.languages.count
        print("generate: \(model.rawValue.uppercased())(\(L)+\(GenerationTokens.count) → \(hidden)) + "
              + "Linear(\(hidden) → \(GenerationTokens.count)), dropout \(dropout), Adam lr \(lr), batch \(batchSize), "
              + "\(epochs) epochs over \(dataset.train.count) names, seed \(seed)")
        let (generator, trained) = try trainGenerator(dataset, options)
        var metrics = trained
        try TrainingDiverged.check(["the last epoch's training loss": metrics.trainLosses.last ?? 0, "the test loss": metrics.testLoss])

        let url = common.outputFolder.appendingPathComponent("generate-loss.svg")
        try SVGPlot.write(GenerationPlots.loss(metrics).svg(), to: url)

        print("")
        print("Held-out loss (\(metrics.testCount) names, \(metrics.testCharacters) predicted characters incl. ends), nats/char:")
        func row(_ label: String, _ value: Double) -> String {
            "  " + label.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%.4f", value)
                + String(format: "  (perplexity %.2f)", Foundation.exp(value))
        }
        print(row("\(model.rawValue.uppercased())(\(hidden)), seed \(seed)", metrics.testLoss))
        print(row("per-language bigram", metrics.bigramLoss))
        print(row("per-language unigram", metrics.unigramLoss))
        print("Trained in " + ProgressLine.duration(metrics.trainSeconds)
              + String(format: " (%.1f s per epoch, processor time %.1f s)",
                       metrics.trainSeconds / Double(epochs), metrics.trainCPUSeconds / Double(epochs)))

        let groups = try sampleNames(generator, languages: chosenLanguages, startLetters: letters, count: samples,
                                     temperature: temperature, maxLength: maxLength, seed: seed)
        print("")
        print("Samples (temperature \(temperature), seed \(seed)):")
        var current = ""
        var line = ""
        for group in groups {
            if group.language != current {
                if !line.isEmpty { print(line) }
                current = group.language
                line = "  " + group.language.padding(toLength: 11, withPad: " ", startingAt: 0)
            }
            line += " \(group.start): " + group.names.joined(separator: ", ") + " "
            metrics.samples[group.language, default: [:]][String(group.start)] = group.names
        }
        if !line.isEmpty { print(line) }
        print("Plot: \(url.path)")
        if let save {
            try generator.save(to: URL(fileURLWithPath: save))
            print("Saved the model to \(save)")
        }
        if common.json { try JSONReport.print(metrics) }
    }
}
