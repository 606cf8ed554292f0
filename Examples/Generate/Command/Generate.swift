// Name generation (one-to-many): a character-level GRU or LSTM conditioned on the language
// learns to spell surnames letter by letter, then writes new ones for given start letters.
// The held-out loss per character is set against per-language unigram and bigram models.
//
//     swift run -c release generate                                  # GRU, seed 0
//     swift run -c release generate --languages Russian,Irish --start-letters KMO --samples 3
//     swift run -c release generate --model lstm --temperature 0.5 --json
//     swift run -c release generate --save output/generate.safetensors
//     swift run -c release generate --load output/generate.safetensors --languages Irish --start-letters K
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

    // The options that describe training are optional, so that --load (which takes the
    // model from the file and trains nothing) can reject them instead of ignoring them.
    @Option(help: "The recurrent layer: \(CellKindOption.allCases.map(\.rawValue).joined(separator: ", ")) (default: \(GenerationOptions().model.rawValue)).")
    var model: CellKindOption?

    @Option(parsing: .unconditional, help: "The number of passes over the training names (default: \(GenerationOptions().epochs)).")
    var epochs: Int?

    @Option(parsing: .unconditional, help: "The hidden size (default: \(GenerationOptions().hidden)).")
    var hidden: Int?

    @Option(parsing: .unconditional, help: "Adam's learning rate, divided by 4 for the last third of the epochs (default: \(GenerationOptions().learningRate)).")
    var lr: Float?

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The number of names per mini-batch (default: \(GenerationOptions().batchSize)).")
    var batchSize: Int?

    @Option(parsing: .unconditional, help: "The dropout probability on the recurrent outputs before the head, while training (default: \(GenerationOptions().dropout)).")
    var dropout: Float?

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

    @Option(help: "Load a model saved with --save instead of training one (then only the sampling options apply).")
    var load: String?

    func validate() throws {
        func check(_ ok: Bool, _ option: String, _ expected: String, _ got: String) throws {
            if !ok { throw ValidationError("\(option): expected \(expected), got \(got)") }
        }
        if let epochs { try check(epochs >= 1, "--epochs", "at least 1", "\(epochs)") }
        if let save { try CommonOptions.checkWritableFile(save, option: "--save") }
        if let hidden { try check(hidden >= 1, "--hidden", "at least 1", "\(hidden)") }
        if let batchSize { try check(batchSize >= 1, "--batch-size", "at least 1", "\(batchSize)") }
        if let lr { try check(lr > 0 && lr.isFinite, "--lr", "a positive number", "\(lr)") }
        if let dropout { try check(dropout >= 0 && dropout < 1, "--dropout", "a probability in [0, 1)", "\(dropout)") }
        if let load {
            try CommonOptions.checkLoad(load, takes: "the model", rejecting: [
                "--model": model != nil, "--epochs": epochs != nil, "--hidden": hidden != nil,
                "--lr": lr != nil, "--batch-size": batchSize != nil, "--dropout": dropout != nil,
                "--save": save != nil
            ])
        }
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
        let generator: NameGenerator
        var metrics: GenerationMetrics?
        var loaded: LoadedGeneratorReport?
        if let load {
            generator = try NameGenerator.load(from: URL(fileURLWithPath: load))
            guard generator.languages == dataset.languages else {
                throw ValidationError("--load: the model's languages \(generator.languages) differ from the data set's \(dataset.languages)")
            }
            print("generate: loaded a \(generator.kind.rawValue.uppercased())(\(generator.hiddenSize)) generator from \(load)")
            let baselines = try GenerationBaselines(dataset)
            let report = LoadedGeneratorReport(model: generator.kind.rawValue, hidden: generator.hiddenSize,
                                               testLoss: try heldOutLoss(generator, on: dataset.test),
                                               bigramLoss: baselines.bigramLoss, unigramLoss: baselines.unigramLoss)
            printHeldOut(model: "\(generator.kind.rawValue.uppercased())(\(generator.hiddenSize)), loaded", loss: report.testLoss,
                         bigram: report.bigramLoss, unigram: report.unigramLoss,
                         characters: baselines.testCharacters, testCount: dataset.test.count)
            loaded = report
        } else {
            var options = GenerationOptions()
            options.model = model ?? options.model
            options.epochs = epochs ?? options.epochs
            options.hidden = hidden ?? options.hidden
            options.learningRate = lr ?? options.learningRate
            options.batchSize = batchSize ?? options.batchSize
            options.dropout = dropout ?? options.dropout
            options.seed = seed
            options.progress = common.progressStyle

            let L = dataset.languages.count
            print("generate: \(options.model.rawValue.uppercased())(\(L)+\(GenerationTokens.count) → \(options.hidden)) + "
                  + "Linear(\(options.hidden) → \(GenerationTokens.count)), dropout \(options.dropout), Adam lr \(options.learningRate), "
                  + "batch \(options.batchSize), \(options.epochs) epochs over \(dataset.train.count) names, seed \(seed)")
            let (trainedGenerator, trained) = try trainGenerator(dataset, options)
            generator = trainedGenerator
            try TrainingDiverged.check(["the last epoch's training loss": trained.trainLosses.last ?? 0, "the test loss": trained.testLoss])

            let url = common.outputFolder.appendingPathComponent("generate-loss.svg")
            try SVGPlot.write(GenerationPlots.loss(trained).svg(), to: url)
            print("Plot: \(url.path)")
            printHeldOut(model: "\(options.model.rawValue.uppercased())(\(options.hidden)), seed \(seed)", loss: trained.testLoss,
                         bigram: trained.bigramLoss, unigram: trained.unigramLoss,
                         characters: trained.testCharacters, testCount: trained.testCount)
            print("Trained in " + ProgressLine.duration(trained.trainSeconds)
                  + String(format: " (%.1f s per epoch, processor time %.1f s)",
                           trained.trainSeconds / Double(options.epochs), trained.trainCPUSeconds / Double(options.epochs)))
            metrics = trained
        }

        let groups = try sampleNames(generator, languages: chosenLanguages, startLetters: letters, count: samples,
                                     temperature: temperature, maxLength: maxLength, seed: seed)
        print("")
        print("Samples (temperature \(temperature), seed \(seed)):")
        var current = ""
        var line = ""
        var sampled: [String: [String: [String]]] = [:]
        for group in groups {
            if group.language != current {
                if !line.isEmpty { print(line) }
                current = group.language
                line = "  " + group.language.padding(toLength: 11, withPad: " ", startingAt: 0)
            }
            line += " \(group.start): " + group.names.joined(separator: ", ") + " "
            sampled[group.language, default: [:]][String(group.start)] = group.names
        }
        if !line.isEmpty { print(line) }
        if let save {
            try generator.save(to: URL(fileURLWithPath: save))
            print("Saved the model to \(save)")
        }
        if common.json {
            if var metrics {
                metrics.samples = sampled
                try JSONReport.print(metrics)
            } else if var loaded {
                loaded.samples = sampled
                try JSONReport.print(loaded)
            }
        }
    }

    func printHeldOut(model: String, loss: Double, bigram: Double, unigram: Double, characters: Int, testCount: Int) {
        print("")
        print("Held-out loss (\(testCount) names, \(characters) predicted characters incl. ends), nats/char:")
        func row(_ label: String, _ value: Double) -> String {
            "  " + label.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%.4f", value)
                + String(format: "  (perplexity %.2f)", Foundation.exp(value))
        }
        print(row(model, loss))
        print(row("per-language bigram", bigram))
        print(row("per-language unigram", unigram))
    }
}

/// The `--json` report of a loaded generator (no training figures).
struct LoadedGeneratorReport: Codable {
    /// The recurrent layer.
    var model: String
    /// The hidden size.
    var hidden: Int
    /// The held-out loss, nats per character.
    var testLoss: Double
    /// The per-language bigram baseline's held-out loss.
    var bigramLoss: Double
    /// The per-language unigram baseline's held-out loss.
    var unigramLoss: Double
    /// Generated names by language, then start letter.
    var samples: [String: [String: [String]]] = [:]
}
