import ExampleSupport
import Foundation
import Recurrent

/// What a forecast run does besides the network's settings: the test span, the horizon and
/// the intervals.
public struct ForecastOptions: Sendable {
    /// The network, its training and the validation span.
    public var settings = ForecasterSettings()
    /// The number of values at the end held out for the backtest.
    public var test: Int = 24
    /// The number of steps forecast from each origin.
    public var horizon: Int = 1
    /// The nominal coverage of the prediction intervals (0.9: the 5 % and 95 % quantiles).
    public var level: Double = 0.9
    /// The number of bootstrap futures per origin.
    public var paths: Int = 500

    /// The defaults of the `airline` command.
    public init() {}
}

/// The backtest accuracy of one forecasting method.
public struct MethodScore: Codable, Sendable, Equatable {
    /// The method.
    public var name: String
    /// The root mean squared error over every (origin, step) of the backtest.
    public var rmse: Double
    /// The mean absolute scaled error (M4: scaled by the in-sample seasonal naive MAE).
    public var mase: Double?
    /// The symmetric MAPE of M4, in percent.
    public var smape: Double?
    /// The fraction of the actual values inside the prediction intervals, for the methods
    /// that have them.
    public var coverage: Double?
    /// Where the figures come from when not from this program (`"statsmodels 0.15.0"`).
    public var source: String?
}

/// The report of a forecast run (`--json` prints it).
public struct ForecastReport: Codable, Sendable, Equatable {
    /// The series' name.
    public var series: String
    /// Its number of values.
    public var count: Int
    /// The season length.
    public var season: Int
    /// The number of training values (the first ones); the validation span is their end.
    public var training: Int
    /// The number of validation values (the end of the training span), and the number of
    /// rolling-origin folds they are split into.
    public var validation: Int, folds: Int
    /// Whether the network's forecast is combined with Holt-Winters' (see ``combination``).
    public var combineWithHoltWinters: Bool
    /// The combination the validation folds chose: `none`, or the partner's weight and name
    /// (`0.25·sarima`).
    public var combination: String
    /// The best validation score of every candidate base and combination (keys as in
    /// ``ResidualForecaster/candidateValidation``), and of the forecasts that need no network
    /// on the same folds (``ResidualForecaster/baselineValidation``).
    public var candidateValidation: [String: Double], baselineValidation: [String: Double]
    /// The number of test values (the last ones).
    public var test: Int
    /// The steps forecast from each origin.
    public var horizon: Int
    /// The number of backtest origins.
    public var origins: Int
    /// `"log"` or `"none"`.
    public var transform: String
    /// The base the network corrects, chosen on the validation folds (`srw`, `snaive`, `hw`, `sarima`).
    public var base: String
    /// The network (`rnn`, `lstm`, `gru`).
    public var model: String
    /// Its hidden size, window, learning rate and ensemble size.
    public var hidden: Int, window: Int, learningRate: Float, ensemble: Int
    /// The seed of the ensemble.
    public var seed: UInt64
    /// The epochs chosen on the validation folds, the mean of the folds' RMSEs there, and
    /// each fold's RMSE.
    public var epochs: Int, validationRMSE: Double, foldRMSEs: [Double]
    /// The interval's nominal coverage and the bootstrap's futures.
    public var level: Double, paths: Int
    /// The fitted Holt-Winters smoothing parameters (α, β, γ) and its in-sample SSE.
    public var holtWinters: [String: Double]
    /// The airline model fitted on the training values (`theta`, `seasonalTheta`: statsmodels'
    /// `ma.L1`, `ma.S.L12`), in the forecaster's scale.
    public var airlineModel: [String: Double]
    /// The methods, the network first.
    public var methods: [MethodScore]
    /// The forecasts past the end of the series, with their intervals.
    public var future: [FutureValue]
    /// The training time in seconds (the validation and the final fits).
    public var trainSeconds: Double
}

/// A forecast past the end of the series.
public struct FutureValue: Codable, Sendable, Equatable {
    /// Its label (the next date when the labels are dates, else `+k`).
    public var label: String
    /// The point forecast and the interval.
    public var forecast: Double, lower: Double, upper: Double
}

/// Everything a forecast run produces, for the report and the plots.
public struct ForecastResult {
    /// The series.
    public var series: TimeSeries
    /// The report.
    public var report: ForecastReport
    /// The fitted forecaster.
    public var forecaster: ResidualForecaster
    /// The backtest origins.
    public var origins: [Int]
    /// Each method's forecasts, per origin, per step (same order as `report.methods`).
    public var backtest: [String: [[Double]]]
    /// The network's intervals per origin, per step.
    public var lower: [[Double]], upper: [[Double]]
    /// The forecast past the end: points and intervals.
    public var futurePoint: [Double], futureLower: [Double], futureUpper: [Double]
}

/// Fits the forecaster on `series` minus its last `options.test` values and backtests it
/// with rolling origins over them: from each origin `o` in `n − test … n − horizon` (the
/// values before `o` known, the parameters fixed), `horizon` steps ahead, beside the seasonal
/// naive forecast, the seasonal random walk with drift and Holt-Winters fitted on the same
/// training values; `extra` adds one-step forecasts of the test values computed elsewhere
/// (statsmodels), scored the same way when the horizon is 1.
///
/// - Throws: ``ExampleDataError/invalidData(_:)`` when the series is too short for the
///   test span, the horizon and the network's windows; what ``ResidualForecaster`` throws.
public func runForecast(_ series: TimeSeries, _ options: ForecastOptions,
                        extra: [(name: String, source: String, forecast: [Double])] = []) throws -> ForecastResult {
    let y = series.values, n = y.count, m = options.settings.period
    guard options.test >= 1, options.horizon >= 1, options.horizon <= options.test else {
        throw ExampleDataError.invalidData("--horizon (\(options.horizon)) must be in 1...--test (\(options.test))")
    }
    guard options.level > 0 && options.level < 1, options.paths >= 10 else {
        throw ExampleDataError.invalidData("the interval level must be in (0, 1) and the bootstrap needs at least 10 paths")
    }
    let trainingEnd = n - options.test
    guard trainingEnd > 2 * m + 1 else {
        throw ExampleDataError.invalidData("a series of \(n) values leaves \(max(trainingEnd, 0)) for training before \(options.test) test values; two seasons of \(m) and one more value are needed at least")
    }
    let forecaster = try ResidualForecaster(values: y, trainingEnd: trainingEnd, settings: options.settings)
    let origins = Array(trainingEnd...(n - options.horizon))
    let h = options.horizon
    let network = try forecaster.forecast(origins: origins, steps: h, paths: options.paths, level: options.level,
                                          seed: options.settings.seed &+ 0x5EED)
    let training = Array(y[..<trainingEnd])
    let holtWinters = try HoltWinters.fit(training, period: m)
    // The airline model on the forecaster's scale (logs for a positive series), fitted on the training values.
    let v = y.map(forecaster.transformed)
    let arima = try AirlineARIMA.fit(Array(v[..<trainingEnd]), period: m)
    let positive = y.allSatisfy { $0 > 0 }
    var backtest: [(String, [[Double]])] = [
        ("\(options.settings.model.rawValue.uppercased()) ensemble" + (forecaster.combination.partner.map { p in
            String(format: ", %g · %@", forecaster.combination.weight, p == .holtWinters ? "Holt-Winters" : p == .airlineModel ? "SARIMA (Swift)" : p.rawValue) } ?? ""),
         network.map(\.point)),
        ("seasonal naive", origins.map { SeasonalBaselines.seasonalNaive(y, origin: $0, steps: h, period: m) }),
        ("seasonal random walk with drift", origins.map {
            SeasonalBaselines.seasonalRandomWalkWithDrift(y, origin: $0, steps: h, period: m, multiplicative: positive)
        }),
        ("Holt-Winters (Swift)", origins.map { SeasonalBaselines.holtWinters(holtWinters, y, origin: $0, steps: h) }),
        ("SARIMA(0,1,1)(0,1,1)\(m) (Swift)", origins.map { o in
            arima.forecasts(v, origin: o, steps: h).map(forecaster.untransformed) }),
    ]
    var sources: [String: String] = [:]
    for e in extra where h == 1 && e.forecast.count == origins.count {
        backtest.append((e.name, e.forecast.map { [$0] }))
        sources[e.name] = e.source
    }
    let actual = origins.flatMap { o in (0..<h).map { y[o + $0] } }
    let scale = Metrics.maseScale(inSample: training, period: m)
    var methods = backtest.map { name, f -> MethodScore in
        let flat = f.flatMap { $0 }
        return MethodScore(name: name, rmse: Metrics.rmse(flat, actual), mase: Metrics.mase(flat, actual, scale: scale),
                           smape: Metrics.smape(flat, actual), source: sources[name])
    }
    methods[0].coverage = Metrics.coverage(lower: network.flatMap(\.lower), upper: network.flatMap(\.upper), actual)

    let future = try forecaster.forecast(origins: [n], steps: h, paths: options.paths, level: options.level,
                                         seed: options.settings.seed &+ 0xF0CA)[0]
    let futureLabels = (1...h).map { nextLabel(after: series.labels.last ?? "", steps: $0) }
    let s = options.settings
    let report = ForecastReport(
        series: series.name, count: n, season: m, training: trainingEnd, validation: s.validation, folds: s.folds,
        combineWithHoltWinters: forecaster.combination.partner == .holtWinters, combination: forecaster.combination.description,
        candidateValidation: forecaster.candidateValidation, baselineValidation: forecaster.baselineValidation, test: options.test,
        horizon: h, origins: origins.count, transform: forecaster.usesLog ? "log" : "none", base: forecaster.base.rawValue,
        model: s.model.rawValue, hidden: s.hidden, window: s.window, learningRate: s.learningRate, ensemble: s.ensemble,
        seed: s.seed, epochs: forecaster.epochs,
        validationRMSE: forecaster.validationCurve.map(\.rmse).min() ?? .nan, foldRMSEs: forecaster.foldRMSEs, level: options.level, paths: options.paths,
        holtWinters: ["alpha": holtWinters.alpha, "beta": holtWinters.beta, "gamma": holtWinters.gamma,
                      "sse": holtWinters.sumOfSquaredErrors(training)],
        airlineModel: ["theta": arima.theta, "seasonalTheta": arima.seasonalTheta],
        methods: methods,
        future: (0..<h).map { FutureValue(label: futureLabels[$0], forecast: future.point[$0], lower: future.lower[$0], upper: future.upper[$0]) },
        trainSeconds: forecaster.trainSeconds)
    return ForecastResult(series: series, report: report, forecaster: forecaster, origins: origins,
                          backtest: Dictionary(uniqueKeysWithValues: backtest), lower: network.map(\.lower), upper: network.map(\.upper),
                          futurePoint: future.point, futureLower: future.lower, futureUpper: future.upper)
}

/// The label `steps` after `label`: the next month or year for `YYYY-MM` and `YYYY`, else `+steps`.
func nextLabel(after label: String, steps: Int) -> String {
    let parts = label.split(separator: "-")
    if parts.count == 2, let year = Int(parts[0]), let month = Int(parts[1]), parts[0].count == 4 {
        let index = year * 12 + (month - 1) + steps
        return String(format: "%04d-%02d", index / 12, index % 12 + 1)
    }
    if parts.count == 1, label.count == 4, let year = Int(label) { return String(year + steps) }
    return "+\(steps)"
}
