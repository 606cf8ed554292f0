// The airline passengers forecast: a recurrent layer learns the monthly log differences
// of 1949–1958 and forecasts 1959–1960 one month ahead; the test RMSE is set against the
// seasonal-naive and last-value forecasts.
//
//     swift run -c release airline                 # RNN, seed 0
//     swift run -c release airline --model lstm --seed 3 --json
import ArgumentParser
import ExampleSupport
import AirlineExample
import Foundation
import Recurrent

extension CellKindOption: ExpressibleByArgument {}

/// The `airline` command.
@main
struct Airline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airline",
        abstract: "Forecast monthly airline passengers (1949–1960) with an RNN, LSTM or GRU.",
        discussion: """
        Protocol: log differences standardised with the training months' mean and standard \
        deviation, windows of 12 differences, the last 24 months as the test set, one-step-ahead \
        forecasts y[t] = y[t-1]·exp(d̂). Adam, full batch, MSE loss.
        """)

    @Option(help: "The recurrent layer: \(CellKindOption.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: CellKindOption = .rnn

    @Option(parsing: .unconditional, help: "The seed of the initialisation.")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "The number of full-batch epochs.")
    var epochs: Int = 200

    @Option(parsing: .unconditional, help: "The hidden size.")
    var hidden: Int = 32

    @Option(parsing: .unconditional, help: "Adam's learning rate.")
    var lr: Float = 0.01

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("init-weights"),
            help: "Start from this safetensors state dict (e.g. from Scripts/airline_torch.py --save-init) instead of the seeded initialisation.")
    var initWeights: String?

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard hidden >= 1 else { throw ValidationError("--hidden must be at least 1") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        if let initWeights { try CommonOptions.checkReadableFile(initWeights, option: "--init-weights") }
    }

    func run() throws {
        common.applyThreads()
        let series = try AirlineData.loadBundled()
        var options = AirlineOptions()
        options.model = model
        options.seed = seed
        options.epochs = epochs
        options.hidden = hidden
        options.learningRate = lr
        options.progress = common.progressStyle
        options.initialWeights = initWeights.map { URL(fileURLWithPath: $0) }

        print("airline: \(model.rawValue.uppercased())(1 → \(hidden)) + Linear(\(hidden) → 1), Adam lr \(lr), \(epochs) full-batch epochs, "
              + (initWeights.map { "initial weights from \($0)" } ?? "seed \(seed)"))
        let (_, result) = try trainAirline(options, series: series)
        let m = result.metrics
        try TrainingDiverged.check(["the final training loss": m.finalTrainLoss, "the test RMSE": m.rmse])

        let folder = common.outputFolder
        let forecastURL = folder.appendingPathComponent("airline-forecast.svg")
        let lossURL = folder.appendingPathComponent("airline-loss.svg")
        try SVGPlot.write(AirlinePlots.forecast(series: series, result: result).svg(), to: forecastURL)
        try SVGPlot.write(AirlinePlots.loss(result: result).svg(), to: lossURL)

        print("")
        print("Test RMSE, 1959–1960 (passengers, thousands):")
        func row(_ label: String, _ value: Double) -> String {
            "  " + label.padding(toLength: 24, withPad: " ", startingAt: 0) + String(format: "%7.2f", value)
        }
        print(row("\(model.rawValue.uppercased()) (seed \(seed))", m.rmse))
        print(row("seasonal naive y[t-12]", m.seasonalNaiveRMSE))
        print(row("last value y[t-1]", m.lastValueRMSE))
        print("Final training loss " + String(format: "%.4f", m.finalTrainLoss) + "; trained in "
              + ProgressLine.duration(m.trainSeconds) + String(format: " (%.1f epochs/s)", Double(m.epochs) / max(m.trainSeconds, 1e-9)))
        print("Plots: \(forecastURL.path), \(lossURL.path)")
        if common.json { try JSONReport.print(m) }
    }
}
