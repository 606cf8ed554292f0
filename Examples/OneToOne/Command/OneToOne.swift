// One-to-one: no recurrence at all. The library's Linear layers, an activation, Sequential,
// cross-entropy and Adam classify the points of two interleaved half-moons (a two-feature
// tabular task); a plain Linear(2 → 2), logistic regression, is the baseline that shows what
// the activation buys.
//
//     swift run -c release one-to-one
//     swift run -c release one-to-one --activation relu --hidden 32 --json
import ArgumentParser
import ExampleSupport
import OneToOneExample
import Foundation
import Recurrent

extension OneToOneActivation: ExpressibleByArgument {}

/// The `one-to-one` command.
@main
struct OneToOne: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "one-to-one",
        abstract: "Classify two interleaved half-moons with Linear + activation layers (no recurrence).",
        discussion: """
        Data: 400 training and 1,000 test points of scikit-learn's make_moons shape with \
        Gaussian noise, generated from --seed. The network is Linear(2→h), activation, \
        Linear(h→h), activation, Linear(h→2), trained with cross-entropy and Adam on \
        mini-batches; the same run with one Linear(2→2) is the baseline.
        """)

    @Option(parsing: .unconditional, help: "The hidden width (0 trains only the logistic-regression baseline).")
    var hidden: Int = 16

    @Option(help: "The activation: \(OneToOneActivation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var activation: OneToOneActivation = .tanh

    @Option(parsing: .unconditional, help: "The number of passes over the training points.")
    var epochs: Int = 200

    @Option(parsing: .unconditional, help: "Adam's learning rate.")
    var lr: Float = 0.01

    @Option(name: .customLong("batch-size"), parsing: .unconditional, help: "The mini-batch size.")
    var batchSize: Int = 32

    @Option(parsing: .unconditional, help: "The standard deviation of the noise on each coordinate.")
    var noise: Float = 0.2

    @Option(parsing: .unconditional, help: "The seed of the data, the initialisation and the shuffles.")
    var seed: UInt64 = 0

    @OptionGroup var common: CommonOptions

    func validate() throws {
        do {
            try options(hidden: hidden).validate()
        } catch let error as OneToOneError {
            throw ValidationError(error.description)
        }
    }

    private func options(hidden: Int) -> OneToOneOptions {
        var options = OneToOneOptions()
        options.hidden = hidden
        options.activation = activation
        options.epochs = epochs
        options.learningRate = lr
        options.batchSize = batchSize
        options.noise = noise
        options.seed = seed
        return options
    }

    /// The report of `--json`.
    struct Report: Encodable {
        var network: OneToOneResult
        var baseline: OneToOneResult
    }

    func run() throws {
        common.applyThreads()
        let baselineOptions = options(hidden: 0)
        var runs: [(String, OneToOneOptions)] = [("baseline", baselineOptions)]
        if hidden > 0 { runs.append(("network", options(hidden: hidden))) }

        var results: [OneToOneResult] = []
        var trained: Sequential?
        for (label, runOptions) in runs {
            print("one-to-one \(label): \(runOptions.hidden == 0 ? "Linear(2→2)" : "2 → \(hidden) → \(hidden) → 2, \(activation.rawValue)"), "
                  + "Adam lr \(lr), \(epochs) epochs, seed \(seed)")
            let progress = ProgressLine(totalEpochs: epochs, style: common.progressStyle, plainEvery: max(epochs / 10, 1))
            let (network, result) = try trainOneToOne(runOptions) { epoch, loss in
                progress.update(epoch: epoch, loss: loss)
            }
            progress.finish()
            try TrainingDiverged.check(["the \(label)'s last epoch loss": result.epochLosses.last ?? 0])
            results.append(result)
            trained = network
        }

        let folder = common.outputFolder
        let lossURL = folder.appendingPathComponent("one-to-one-loss.svg")
        let mapURL = folder.appendingPathComponent("one-to-one-boundary.svg")
        let series = zip(runs, results).map { run, result in
            LineSeries(name: run.0 == "baseline" ? "Linear(2→2)" : "\(activation.rawValue) network",
                       x: result.epochLosses.indices.map { Double($0 + 1) }, y: result.epochLosses)
        }
        try SVGPlot.write(LineChart(title: "One-to-one: training loss on the two moons", xLabel: "epoch",
                                    yLabel: "cross-entropy", series: series).svg(), to: lossURL)
        if let trained {
            // A fine grid (the field of 120 × 75 cells over x −1.5…2.5, y −1…1.5, square
            // cells) and the training points on top.
            let grid = try oneToOneProbabilityGrid(trained, columns: 120, rows: 75)
            let train = try oneToOneTrainingSet(options(hidden: hidden))
            let points = (0..<train.count).map { i in
                (x: Double(train.features[2 * i]), y: Double(train.features[2 * i + 1]), label: train.labels[i])
            }
            let map = FieldPlot(title: "P(lower moon), \(activation.rawValue) network, hidden \(hidden)", xLabel: "x", yLabel: "y",
                                xRange: grid.xRange, yRange: grid.yRange, values: grid.values, points: points,
                                classNames: ["upper moon (training)", "lower moon (training)"], valueLabel: "P(lower)",
                                plotWidth: 560, plotHeight: 350)
            try SVGPlot.write(map.svg(), to: mapURL)
        }

        print("")
        print("Accuracy on 1,000 unseen points (train in brackets):")
        for result in results {
            print("  " + result.architecture.padding(toLength: 60, withPad: " ", startingAt: 0)
                  + String(format: "%6.1f%%  (%5.1f%%)  %d parameters, %@", 100 * result.testAccuracy,
                           100 * result.trainAccuracy, result.parameterCount, ProgressLine.duration(result.trainSeconds)))
        }
        print("Plots: \(lossURL.path), \(mapURL.path)")
        if common.json {
            try JSONReport.print(Report(network: results.last!, baseline: results[0]))
        }
    }
}
