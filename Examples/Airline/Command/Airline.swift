// The airline passengers forecast, and the same forecaster on any series in a CSV file: an
// ensemble of recurrent networks learns the residual of a seasonal base forecast on the
// training values, chooses its epochs on a validation span at their end, and is backtested
// over the last values beside the seasonal naive forecast, the seasonal random walk with
// drift, Holt-Winters and (for the bundled series) statsmodels' SARIMA and ETS.
//
//     swift run -c release airline                    # the bundled series, one step ahead
//     swift run -c release airline --seed 3 --json
//     swift run -c release airline --csv my.csv --column sales --date-column month --horizon 12
import ArgumentParser
import ExampleSupport
import AirlineExample
import Foundation
import Recurrent

extension CellKindOption: ExpressibleByArgument {}

/// `--base`: a base, or `auto` for the validation folds' choice among all of them.
enum BaseOption: String, CaseIterable, ExpressibleByArgument {
    case auto, srw, snaive, hw, sarima
    /// The candidate bases.
    var bases: [ForecastBase] { self == .auto ? ForecastBase.allCases : [ForecastBase(rawValue: rawValue)!] }
}

/// `--combine`: the partner of the network's forecast, `none`, or `auto` for the validation
/// folds' choice among both partners and none.
enum CombineOption: String, CaseIterable, ExpressibleByArgument {
    case auto, none, hw, sarima
    /// The candidate combinations.
    var combinations: [ForecastCombination] {
        switch self {
        case .auto: [.none] + ForecastCombination.weighted([.holtWinters, .airlineModel])
        case .none: [.none]
        case .hw: ForecastCombination.weighted([.holtWinters])
        case .sarima: ForecastCombination.weighted([.airlineModel])
        }
    }
}
extension SeriesTransform: ExpressibleByArgument {}

/// The `airline` command.
@main
struct Airline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "airline",
        abstract: "Forecast monthly airline passengers (1949–1960), or your own series, with an ensemble of RNN, LSTM or GRU networks.",
        discussion: """
        Protocol: the last --test values are the test span; nothing is fitted on them. The \
        network models the residual of a base forecast (--base srw: the seasonal random walk \
        with drift y[t-1]·y[t-m]/y[t-m-1]; snaive: y[t-m]; hw: Holt-Winters; sarima: the \
        airline model SARIMA(0,1,1)(0,1,1)m fitted in Swift) in logs (--transform), from \
        windows of --window residuals, and its forecast may be combined, in logs, with \
        Holt-Winters' or the airline model's at a weight of 0.25, 0.5 or 0.75 (--combine). \
        For every candidate base, the base, the partners and the networks are first fitted \
        on the training values before each of --folds consecutive folds of the last \
        --validation training values (rolling origin) and forecast one step ahead over that \
        fold; the mean of the folds' RMSEs chooses the base, the combination and the epochs \
        (at most --epochs) together (--base auto, --combine auto: the defaults); then the \
        choice is refitted on all training values for that many epochs. --combine-hw fixes \
        the mean with Holt-Winters' (in logs). The backtest forecasts --horizon steps from every origin of the test \
        span with the parameters fixed; intervals come from a residual bootstrap (--paths \
        futures, each step adding an out-of-sample error of the validation folds drawn at random). MASE and sMAPE are the \
        M4 competition's. The defaults were chosen on the bundled series' four validation \
        folds (1955–1958) only (README.md, "A time series", says how).
        """)

    @Option(help: "A CSV file with a header line; forecast its --column instead of the bundled airline series.")
    var csv: String?

    @Option(help: "The CSV column to forecast (required with --csv).")
    var column: String?

    @Option(name: .customLong("date-column"), help: "The CSV column of the dates (YYYY-MM or YYYY are checked for gaps).")
    var dateColumn: String?

    @Option(parsing: .unconditional, help: "The season length m (12 for monthly data, 1 for none).")
    var season: Int = 12

    @Option(parsing: .unconditional, help: "The number of steps forecast from each origin.")
    var horizon: Int = 1

    @Option(parsing: .unconditional, help: "The number of values at the end held out for the backtest.")
    var test: Int = 24

    @Option(parsing: .unconditional, help: "The number of values at the end of the training span that choose the epochs (default: twice --test).")
    var validation: Int?

    @Option(parsing: .unconditional, help: "The number of rolling-origin folds the validation values are split into.")
    var folds: Int = ForecasterSettings().folds

    @Flag(name: .customLong("combine-hw"), inversion: .prefixedNo,
          help: "Forecast the mean (in logs) of the network's forecast and Holt-Winters' (instead of --combine).")
    var combineHW = false

    @Option(help: "The forecast combined (in logs) with the network's, at the weight the validation folds choose among 0.25, 0.5 and 0.75: hw, sarima, none, or auto (the folds choose among all, none included).")
    var combine: CombineOption = .auto

    @Option(parsing: .unconditional, help: "The nominal coverage of the prediction intervals.")
    var level: Double = 0.9

    @Option(parsing: .unconditional, help: "The number of bootstrap futures per origin.")
    var paths: Int = 500

    @Option(help: "The base forecast whose residual the network models: srw (seasonal random walk with drift), snaive (seasonal naive), hw (Holt-Winters), sarima (the airline model), or auto (the validation folds choose).")
    var base: BaseOption = .auto

    @Option(help: "auto (log when every value is positive), log or none.")
    var transform: SeriesTransform = .auto

    @Option(help: "The recurrent layer: \(CellKindOption.allCases.map(\.rawValue).joined(separator: ", ")).")
    var model: CellKindOption = ForecasterSettings().model

    @Option(parsing: .unconditional, help: "The seed of the ensemble (member k is seeded seed·ensemble + k).")
    var seed: UInt64 = 0

    @Option(parsing: .unconditional, help: "The number of networks averaged.")
    var ensemble: Int = ForecasterSettings().ensemble

    @Option(parsing: .unconditional, help: "The most full-batch epochs; the validation span chooses how many.")
    var epochs: Int = ForecasterSettings().maxEpochs

    @Option(parsing: .unconditional, help: "The hidden size.")
    var hidden: Int = ForecasterSettings().hidden

    @Option(parsing: .unconditional, help: "The number of past residuals each window holds.")
    var window: Int = ForecasterSettings().window

    @Option(parsing: .unconditional, help: "Adam's learning rate.")
    var lr: Float = ForecasterSettings().learningRate

    @Option(parsing: .unconditional, help: "The largest gradient norm of a step (clip_grad_norm_), 0 for none.")
    var clip: Float = ForecasterSettings().clipNorm

    @Flag(name: .customLong("validate-only"), help: "Fit on the training values minus the validation span, print the validation RMSE and stop (to choose settings without the test span).")
    var validateOnly = false

    @OptionGroup var common: CommonOptions

    @Option(name: .customLong("init-weights"),
            help: "Start every member from this safetensors state dict (e.g. from Scripts/airline_torch.py --save-init; use --ensemble 1).")
    var initWeights: String?

    /// Prints the validation score of every candidate, best first, and of the forecasts that
    /// need no network.
    static func printCandidates(_ forecaster: ResidualForecaster) {
        let candidates = forecaster.candidateValidation.sorted { ($0.value, $0.key) < ($1.value, $1.key) }
        print("  validation, network (base[+combination]): " + candidates.map { String(format: "%@ %.4g", $0.key, $0.value) }.joined(separator: ", "))
        let names = ["srw": "seasonal random walk with drift", "sarima": "airline model (Swift)", "hw": "Holt-Winters", "srw+hw": "mean of srw and hw"]
        let alone = ["srw", "sarima", "hw", "srw+hw"].compactMap { key in
            forecaster.baselineValidation[key].map { String(format: "%@ %.4g", names[key]!, $0) }
        }
        print("  validation, no network: " + alone.joined(separator: ", "))
    }

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1") }
        guard hidden >= 1 else { throw ValidationError("--hidden must be at least 1") }
        guard window >= 1 else { throw ValidationError("--window must be at least 1") }
        guard ensemble >= 1 && ensemble <= 1000 else { throw ValidationError("--ensemble must be in 1...1000, got \(ensemble)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
        guard clip >= 0, clip.isFinite else { throw ValidationError("--clip must be 0 (none) or positive, got \(clip)") }
        guard season >= 1 else { throw ValidationError("--season must be at least 1, got \(season)") }
        guard test >= 1 else { throw ValidationError("--test must be at least 1, got \(test)") }
        guard horizon >= 1 && horizon <= test else { throw ValidationError("--horizon must be in 1...--test (\(test)), got \(horizon)") }
        if let validation { guard validation >= 1 else { throw ValidationError("--validation must be at least 1, got \(validation)") } }
        guard folds >= 1 && folds <= (validation ?? 2 * test) else {
            throw ValidationError("--folds must be in 1...--validation (\(validation ?? 2 * test)), got \(folds)")
        }
        guard level > 0 && level < 1 else { throw ValidationError("--level must be in (0, 1), got \(level)") }
        guard paths >= 10 && paths <= 100_000 else { throw ValidationError("--paths must be in 10...100000, got \(paths)") }
        if csv != nil && column == nil { throw ValidationError("--csv needs --column NAME (the column to forecast)") }
        if csv == nil && (column != nil || dateColumn != nil) { throw ValidationError("--column and --date-column need --csv FILE") }
        if combineHW && combine != .auto { throw ValidationError("--combine-hw fixes the combination; it cannot go with --combine \(combine.rawValue)") }
        if let csv { try CommonOptions.checkReadableFile(csv, option: "--csv") }
        if let initWeights { try CommonOptions.checkReadableFile(initWeights, option: "--init-weights") }
    }

    func run() throws {
        common.applyThreads()
        let series: TimeSeries
        var extra: [(name: String, source: String, forecast: [Double])] = []
        if let csv, let column {
            series = try SeriesCSV.load(from: URL(fileURLWithPath: csv), column: column, dateColumn: dateColumn)
        } else {
            series = try AirlineData.loadBundled()
            let statsmodels = try AirlineData.statsmodelsBaselines()
            if statsmodels.testMonths == test && statsmodels.trainingMonths == series.count - test && horizon == 1 && season == 12 {
                extra = statsmodels.models.map { ($0.name, "statsmodels \(statsmodels.statsmodels)", $0.forecast) }
            }
        }
        var options = ForecastOptions()
        options.test = test
        options.horizon = horizon
        options.level = level
        options.paths = paths
        var s = ForecasterSettings()
        s.model = model
        s.hidden = hidden
        s.window = window
        s.learningRate = lr
        s.clipNorm = clip
        s.maxEpochs = epochs
        s.ensemble = ensemble
        s.seed = seed
        s.bases = base.bases
        s.transform = transform
        s.period = season
        s.validation = validation ?? 2 * test
        s.folds = folds
        s.combinations = combineHW ? [ForecastCombination(partner: .holtWinters, weight: 0.5)] : combine.combinations
        s.progress = common.progressStyle
        s.validationOnly = validateOnly
        s.initialWeights = initWeights.map { URL(fileURLWithPath: $0) }
        options.settings = s

        let baseName = base == .auto ? "a base the validation folds choose (\(ForecastBase.allCases.map(\.rawValue).joined(separator: ", ")))"
                                     : ForecastBase(rawValue: base.rawValue)!.title
        print("\(series.name): \(series.count) values, season \(season); \(model.rawValue.uppercased())(1 → \(hidden)) + Linear(\(hidden) → 1), "
              + "ensemble of \(ensemble) (seeds \(seed &* UInt64(ensemble))…\(seed &* UInt64(ensemble) &+ UInt64(ensemble - 1))), "
              + "windows of \(window) residuals of \(baseName), Adam lr \(lr), at most \(epochs) full-batch epochs")
        if validateOnly {
            let trainingEnd = series.count - test
            let forecaster = try ResidualForecaster(values: series.values, trainingEnd: trainingEnd, settings: s)
            let best = forecaster.validationCurve.min { $0.rmse < $1.rmse }
            let from = series.labels[trainingEnd - s.validation], to = series.labels[trainingEnd - 1]
            let perFold = forecaster.foldRMSEs.map { String(format: "%.3f", $0) }.joined(separator: ", ")
            print(String(format: "Validation score (\(from)…\(to), mean RMSE of \(s.folds) one-step folds, each fitted on the values before it): %.3f at epoch %d (folds: %@)",
                         best?.rmse ?? .nan, best?.epoch ?? 0, perFold))
            print("Chosen: base \(forecaster.base.rawValue), combination \(forecaster.combination)")
            Self.printCandidates(forecaster)
            if common.json {
                var report = ["validationRMSE": best?.rmse ?? .nan, "epochs": Double(best?.epoch ?? 0)]
                for (i, rmse) in forecaster.foldRMSEs.enumerated() { report["fold\(i + 1)RMSE"] = rmse }
                for (key, score) in forecaster.baselineValidation { report["\(key)ValidationRMSE"] = score }
                for (key, score) in forecaster.candidateValidation { report["network \(key)ValidationRMSE"] = score }
                try JSONReport.print(report)
            }
            return
        }
        let result = try runForecast(series, options, extra: extra)
        let r = result.report
        try TrainingDiverged.check(["the test RMSE": r.methods[0].rmse])

        let firstTest = series.labels[r.training], last = series.labels[series.count - 1]
        print("Chosen on \(r.folds) validation folds over \(series.labels[r.training - r.validation])…\(series.labels[r.training - 1]): "
              + "base \(r.base), combination \(r.combination), \(r.epochs) epochs (mean fold RMSE \(String(format: "%.2f", r.validationRMSE))); trained in \(ProgressLine.duration(r.trainSeconds))")
        Self.printCandidates(result.forecaster)
        print("")
        print("Test \(firstTest)…\(last): \(r.horizon) step\(r.horizon == 1 ? "" : "s") ahead from each of \(r.origins) origins, parameters fixed (\(series.name)):")
        let width = max(34, (r.methods.map { $0.name.count + ($0.source.map { $0.count + 3 } ?? 0) }.max() ?? 0) + 2)
        print("  " + "method".padding(toLength: width, withPad: " ", startingAt: 0) + "   RMSE    MASE   sMAPE  coverage")
        for method in r.methods {
            let name = method.name + (method.source.map { " (\($0))" } ?? "")
            let coverage = method.coverage.map { String(format: "  %.2f of %d %%", $0, Int((r.level * 100).rounded())) } ?? ""
            print("  " + name.padding(toLength: width, withPad: " ", startingAt: 0)
                  + String(format: "%7.2f  %6.3f  %5.2f %%", method.rmse, method.mase ?? .nan, method.smape ?? .nan) + coverage)
        }
        print("Holt-Winters (Swift): " + String(format: "α %.4f, β %.4f, γ %.4f (in-sample SSE %.1f)",
                                                r.holtWinters["alpha"] ?? .nan, r.holtWinters["beta"] ?? .nan,
                                                r.holtWinters["gamma"] ?? .nan, r.holtWinters["sse"] ?? .nan))
        print(String(format: "SARIMA(0,1,1)(0,1,1)%d (Swift, conditional sum of squares%@): θ %.4f, Θ %.4f", season, r.transform == "log" ? ", on logs" : "",
                     r.airlineModel["theta"] ?? .nan, r.airlineModel["seasonalTheta"] ?? .nan))
        let future = r.future.map { String(format: "%@ %.1f [%.1f, %.1f]", $0.label, $0.forecast, $0.lower, $0.upper) }
        print("Past the end (parameters of the training span): " + future.prefix(6).joined(separator: ", ") + (future.count > 6 ? ", …" : ""))

        let folder = common.outputFolder
        // The plots are named after the series: airline-*.svg, or <column>-*.svg (letters,
        // digits, '-' and '_' kept).
        let stem = csv == nil ? "airline" : String(series.name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        let forecastURL = folder.appendingPathComponent("\(stem)-forecast.svg")
        let lossURL = folder.appendingPathComponent("\(stem)-loss.svg")
        let validationURL = folder.appendingPathComponent("\(stem)-validation.svg")
        let errorsURL = folder.appendingPathComponent("\(stem)-errors.svg")
        let title = csv == nil ? "Airline passengers: one-step-ahead forecasts of 1959–1960" : "\(series.name): \(r.horizon)-step forecasts from the first test origin, and past the end"
        try SVGPlot.write(ForecastPlots.forecast(result, title: title, yLabel: csv == nil ? "Passengers (thousands)" : series.name).svg(), to: forecastURL)
        try SVGPlot.write(ForecastPlots.errors(result, title: csv == nil ? "Airline passengers: one-step errors over 1959–1960 (forecast − actual)"
                                                                           : "\(series.name): errors over the test span (forecast − actual)",
                                                       yLabel: csv == nil ? "Error (thousands)" : "Error").svg(), to: errorsURL)
        let training = ForecastPlots.training(result)
        try SVGPlot.write(training.loss.svg(), to: lossURL)
        try SVGPlot.write(training.validation.svg(), to: validationURL)
        print("Plots: \(forecastURL.path), \(errorsURL.path), \(validationURL.path), \(lossURL.path)")
        if common.json { try JSONReport.print(r) }
    }
}
