import ExampleSupport
import Foundation
import Recurrent

/// The forecast the recurrent network corrects: it models the residual of this base
/// forecast, in the transformed (usually log) scale. The candidates a forecaster would
/// consider; ``ResidualForecaster`` lets its validation folds choose among them.
public enum ForecastBase: String, CaseIterable, Codable, Sendable {
    /// The seasonal random walk with drift, `v̂[t] = v[t−1] + v[t−m] − v[t−m−1]` in the
    /// transformed scale (`ŷ[t] = y[t−1]·y[t−m]/y[t−m−1]` on logs): the residual is the
    /// doubly differenced series `∇∇ₘ v`, the stationary series of Box & Jenkins' airline
    /// model (the network then plays the part of its moving-average terms).
    case seasonalRandomWalk = "srw"
    /// The seasonal naive forecast `v̂[t] = v[t−m]` in the transformed scale: the network sees
    /// the seasonally differenced series `∇ₘ v` (on logs, the year-on-year growth) and learns
    /// its trend and persistence itself.
    case seasonalNaive = "snaive"
    /// ``HoltWinters`` fitted on the span before each fold, and on the training span for the
    /// final fit (the ES-RNN idea of Smyl, M4 2018: exponential smoothing normalises, the
    /// network learns the rest); for positive series.
    case holtWinters = "hw"
    /// ``AirlineARIMA``, SARIMA(0,1,1)(0,1,1)ₘ on the transformed series, fitted like
    /// Holt-Winters: the network corrects what the airline model leaves.
    case airlineModel = "sarima"

    /// Whether the base needs a positive series (Holt-Winters' multiplicative seasonality).
    public var needsPositiveValues: Bool { self == .holtWinters }

    /// Its name in reports.
    public var title: String {
        switch self {
        case .seasonalRandomWalk: "the seasonal random walk with drift"
        case .seasonalNaive: "the seasonal naive forecast"
        case .holtWinters: "Holt-Winters"
        case .airlineModel: "the airline model SARIMA(0,1,1)(0,1,1) (Swift)"
        }
    }
}

/// A forecast combination: the forecast is `(1 − weight)·network + weight·partner` in the
/// transformed scale (a weighted geometric mean on logs), the partner a statistical forecast
/// fitted on the same values (forecast combinations won the M4 competition).
public struct ForecastCombination: Hashable, Codable, Sendable, CustomStringConvertible {
    /// The statistical forecast combined with the network's, `nil` for the network alone.
    public var partner: ForecastBase?
    /// The partner's weight, in [0, 1).
    public var weight: Double

    /// A combination; `partner` `nil` (or `weight` 0) is the network alone.
    public init(partner: ForecastBase?, weight: Double) {
        self.partner = weight == 0 ? nil : partner
        self.weight = partner == nil ? 0 : weight
    }

    /// The network alone.
    public static let none = ForecastCombination(partner: nil, weight: 0)

    /// The candidates with `partners`, each at the weights 0.25, 0.5 and 0.75.
    public static func weighted(_ partners: [ForecastBase]) -> [ForecastCombination] {
        partners.flatMap { p in [0.25, 0.5, 0.75].map { ForecastCombination(partner: p, weight: $0) } }
    }

    /// `none` or `0.25·hw`.
    public var description: String {
        partner.map { String(format: "%g·", weight) + $0.rawValue } ?? "none"
    }
}

/// How a series is transformed before the base and the network see it.
public enum SeriesTransform: String, CaseIterable, Codable, Sendable {
    /// `log` when every value is positive, else `none`.
    case auto
    /// The natural logarithm (the series must be positive).
    case log
    /// None.
    case none
}

/// The settings of a ``ResidualForecaster``: the network, its training, the ensemble and
/// the protocol's spans.
public struct ForecasterSettings: Sendable {
    /// The recurrent layer.
    public var model: CellKindOption = .rnn
    /// The hidden size.
    public var hidden: Int = 4
    /// The number of past residuals each window holds.
    public var window: Int = 13
    /// Adam's learning rate.
    public var learningRate: Float = 0.003
    /// The largest gradient norm of a step (`clip_grad_norm_`), or 0 for no clipping.
    public var clipNorm: Float = 1
    /// The most epochs the validation run trains; the final run trains the best number of them.
    public var maxEpochs: Int = 500
    /// The validation error is measured every this many epochs.
    public var evaluateEvery: Int = 10
    /// The number of networks averaged (member `k` is seeded `seed · ensemble + k`).
    public var ensemble: Int = 10
    /// The seed of the ensemble.
    public var seed: UInt64 = 0
    /// The candidate bases whose residual the network models: the validation folds choose
    /// one (a single one fixes it). Holt-Winters is left out of the choice on a series with
    /// a value that is not positive.
    public var bases: [ForecastBase] = ForecastBase.allCases
    /// The transform of the series.
    public var transform: SeriesTransform = .auto
    /// The season length `m`.
    public var period: Int = 12
    /// The number of values, at the end of the training span, that choose the epochs; they
    /// are split into ``folds`` consecutive folds.
    public var validation: Int = 48
    /// The number of rolling-origin validation folds: each fold's values are forecast one
    /// step ahead by the base and networks fitted on the values before the fold, and the
    /// validation score is the mean of the folds' RMSEs.
    public var folds: Int = 4
    /// The candidate combinations of the network's forecast with a statistical one: the
    /// validation folds choose one, jointly with the base and the epochs (a single one fixes
    /// it). By default the network alone, or with Holt-Winters or the airline model at the
    /// weights 0.25, 0.5 and 0.75 (a weight of 1 would be the statistical model alone, which
    /// the reports show beside the network anyway).
    public var combinations: [ForecastCombination] = [.none] + ForecastCombination.weighted([.holtWinters, .airlineModel])
    /// Whether the forecast is the mean (in the transformed scale) of the network's forecast
    /// and Holt-Winters' (fitted on the same values): the combination `0.5·hw` fixed.
    /// Setting it to `false` fixes the network alone.
    public var combineWithHoltWinters: Bool {
        get { combinations == [ForecastCombination(partner: .holtWinters, weight: 0.5)] }
        set { combinations = newValue ? [ForecastCombination(partner: .holtWinters, weight: 0.5)] : [.none] }
    }
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent
    /// Stop after the validation fits (to choose settings on the validation span without
    /// fitting, or looking at, anything else): the choice (``ResidualForecaster/base``,
    /// ``ResidualForecaster/combination``, ``ResidualForecaster/epochs``), the scores and
    /// ``ResidualForecaster/validationCurve`` are then set; the members and the fitted
    /// statistical models are those of the last validation fit (the last candidate base's
    /// last fold), not of the choice.
    public var validationOnly = false
    /// A safetensors state dict every member starts from instead of its seeded
    /// initialisation (with `ensemble = 1`, to follow a PyTorch run step by step).
    public var initialWeights: URL?

    /// The defaults of the `airline` command, chosen with `airline --validate-only` on the
    /// airline series' four validation folds (1955, 1956, 1957, 1958, each forecast by fits on
    /// the months before it; the score is the mean of the folds' RMSEs): the bases and the
    /// combination with Holt-Winters under RNN, LSTM and GRU, then 108 settings of the
    /// seasonal random walk base (RNN, LSTM, GRU; hidden 4–32; windows 13–37; learning rates
    /// 0.001–0.01), the best eight again with and without the combination over seeds 0–2,
    /// then the ensemble size (5, 10, 20). The base and the combination are not fixed: every
    /// run lets its own validation folds choose them among ``bases`` and ``combinations``.
    /// README.md ("A time series") gives the scores. The test span was not used to choose.
    public init() {}
}

/// A forecaster of one series: a base forecast (``ForecastBase``) and an ensemble of
/// recurrent networks that predict the base's next residual from the last `window` ones,
/// possibly combined with a statistical forecast (``ForecastCombination``).
///
/// **Protocol.** Only the values before `trainingEnd` are used to fit anything:
/// 1. *validation*, rolling origin: the last `validation` training values are split into
///    `folds` consecutive folds (``validationFolds(end:validation:folds:)``); for each
///    candidate base and each fold, the base, the statistical partners and the networks are
///    fitted on the values before the fold, and every `evaluateEvery` epochs the one-step RMSE
///    over the fold of every candidate combination is measured; the base, combination and
///    epoch count whose mean RMSE over the folds (``multiFoldScore(forecasts:actuals:)``) is
///    lowest win;
/// 2. *final*: the chosen base, partner and networks (same seeds) are fitted on all values
///    before `trainingEnd` for that many epochs.
/// The forecasts then run with these fixed parameters over the rest of the series.
///
/// Residuals `r[t] = v[t] − base[t]` (v the transformed series) start at `t = m + 1`; they are
/// standardised with the mean and the population standard deviation of the fitting span's
/// residuals; a window `z[t−L ..< t]` predicts `z[t]`; the network's forecast is
/// `n̂[t] = base[t] + μ + σ · mean over members of ẑ[t]`, the forecast
/// `v̂[t] = (1 − w)·n̂[t] + w·partner[t]`, transformed back.
public final class ResidualForecaster {
    /// The settings.
    public let settings: ForecasterSettings
    /// The series (untransformed).
    public let values: [Double]
    /// Whether the series is modelled in logs.
    public let usesLog: Bool
    /// The end of the training span (exclusive).
    public let trainingEnd: Int
    /// The base the validation folds chose among ``ForecasterSettings/bases``.
    public private(set) var base: ForecastBase
    /// The combination the validation folds chose among ``ForecasterSettings/combinations``.
    public private(set) var combination: ForecastCombination = .none
    /// The fitted Holt-Winters model when it is the base or the partner of the combination,
    /// else `nil`.
    public private(set) var holtWinters: HoltWinters?
    /// The fitted airline model when it is the base or the partner of the combination, else `nil`.
    public private(set) var airlineModel: AirlineARIMA?
    /// The mean and standard deviation of the training residuals.
    public private(set) var mean = 0.0, standardDeviation = 1.0
    /// The networks of the final fit.
    public private(set) var members: [AirlineModel] = []
    /// The epochs the final fit trained (chosen on the validation span).
    public private(set) var epochs = 0
    /// The validation score (the mean over the folds of the one-step RMSE) of the chosen base
    /// and combination after every `evaluateEvery` epochs.
    public private(set) var validationCurve: [(epoch: Int, rmse: Double)] = []
    /// Each fold's one-step RMSE at the epochs chosen.
    public private(set) var foldRMSEs: [Double] = []
    /// The best validation score over the epochs of every candidate, keyed `base` for the
    /// network alone and `base+combination` (`"srw+0.25·hw"`) for a combination.
    public private(set) var candidateValidation: [String: Double] = [:]
    /// The validation score, on the same folds, of the forecasts that need no network, each
    /// fitted on the values before its fold: `"srw"` (the seasonal random walk with drift),
    /// `"sarima"` (the airline model, when the fold has two seasons and two values before
    /// it), `"hw"` (Holt-Winters; for positive series) and `"srw+hw"` (the mean of the
    /// seasonal random walk and Holt-Winters in the transformed scale).
    public private(set) var baselineValidation: [String: Double] = [:]
    /// The mean training loss over the members after each epoch of the final fit.
    public private(set) var trainingLosses: [Double] = []
    /// The seconds spent training (both fits).
    public private(set) var trainSeconds = 0.0
    /// The out-of-sample one-step errors of the validation fits, at the base, combination and
    /// epochs chosen, over every fold, in the transformed scale: what the residual bootstrap
    /// draws from (the training errors of a network that fits its span closely would make
    /// intervals far too narrow).
    public private(set) var validationErrors: [Double] = []

    /// The folds of the validation span: `validation` values before `end` split into `folds`
    /// consecutive ranges whose sizes differ by at most 1 (the later ones longer).
    ///
    /// - Precondition: `1 ≤ folds ≤ validation ≤ end`.
    public static func validationFolds(end: Int, validation: Int, folds: Int) -> [Range<Int>] {
        precondition(folds >= 1 && folds <= validation && validation <= end, "validationFolds: \(folds) folds of \(validation) values before \(end)")
        let start = end - validation, short = validation / folds, longer = validation % folds
        var lower = start
        return (0..<folds).map { f in
            let size = short + (f >= folds - longer ? 1 : 0)
            defer { lower += size }
            return lower..<(lower + size)
        }
    }

    /// The multi-fold validation score: the mean over the folds of the RMSE of each fold's
    /// `forecasts` against its `actuals`.
    ///
    /// - Precondition: at least one fold; each fold has as many forecasts as actual values, at least one.
    public static func multiFoldScore(forecasts: [[Double]], actuals: [[Double]]) -> Double {
        precondition(!forecasts.isEmpty && forecasts.count == actuals.count, "multiFoldScore: \(forecasts.count) folds of forecasts, \(actuals.count) of values")
        return zip(forecasts, actuals).reduce(0) { $0 + Metrics.rmse($1.0, $1.1) } / Double(forecasts.count)
    }

    /// The first index with a residual.
    public var firstResidual: Int { settings.period + 1 }

    /// Fits a forecaster to `values[..<trainingEnd]` (see the type's protocol).
    ///
    /// - Throws: ``TrainingDiverged`` when a fit's training loss is not finite;
    ///   ``ExampleDataError/invalidData(_:)`` when the series is too short for the
    ///   window, the validation span and a few training windows, has values the
    ///   transform or the base cannot take, or no candidate base or combination applies;
    ///   ``TensorError`` on a bad setting; the library's errors when `initialWeights` cannot
    ///   be loaded.
    public init(values: [Double], trainingEnd: Int, settings: ForecasterSettings) throws {
        guard settings.window >= 1, settings.hidden >= 1, settings.ensemble >= 1, settings.maxEpochs >= 1,
              settings.evaluateEvery >= 1, settings.validation >= 1, settings.period >= 1, settings.folds >= 1 else {
            throw ExampleDataError.invalidData("window, hidden size, ensemble, epochs, validation, folds and season must be at least 1")
        }
        guard settings.folds <= settings.validation else {
            throw ExampleDataError.invalidData("\(settings.folds) validation folds need at least as many validation values, got \(settings.validation)")
        }
        guard settings.clipNorm >= 0, settings.clipNorm.isFinite else {
            throw ExampleDataError.invalidData("the gradient clipping norm must be 0 (none) or positive, got \(settings.clipNorm)")
        }
        guard settings.combinations.allSatisfy({ $0.weight >= 0 && $0.weight < 1 }) else {
            throw ExampleDataError.invalidData("a combination's weight must be in [0, 1), got \(settings.combinations.map(\.weight))")
        }
        guard values.allSatisfy(\.isFinite) else { throw ExampleDataError.invalidData("the series has a value that is not finite") }
        let positive = values.allSatisfy { $0 > 0 }
        switch settings.transform {
        case .auto: usesLog = positive
        case .log:
            guard positive else { throw ExampleDataError.invalidData("the log transform needs positive values") }
            usesLog = true
        case .none: usesLog = false
        }
        // The candidates this series can take: Holt-Winters only on a positive series; when
        // it is the only candidate of its kind, a clear error instead of an empty choice.
        // Holt-Winters needs two seasons before the first fold, the airline model two more values.
        let minimumWindows = 8
        let fitStart = settings.period + 1 + settings.window
        let validationStart = trainingEnd - settings.validation
        func applies(_ kind: ForecastBase) -> Bool {
            switch kind {
            case .holtWinters: positive && validationStart >= 2 * settings.period
            case .airlineModel: validationStart >= 2 * settings.period + 2
            case .seasonalRandomWalk, .seasonalNaive: true
            }
        }
        let bases = settings.bases.count == 1 ? settings.bases : settings.bases.filter(applies)
        let combinations = settings.combinations.count == 1 ? settings.combinations : settings.combinations.filter { $0.partner.map(applies) ?? true }
        guard let firstBase = bases.first, !combinations.isEmpty else {
            throw ExampleDataError.invalidData("no candidate base or combination applies to this series (Holt-Winters needs positive values and two seasons before the validation span, the airline model two seasons and two values)")
        }
        if (bases + combinations.compactMap(\.partner)).contains(where: \.needsPositiveValues) && !positive {
            throw ExampleDataError.invalidData("Holt-Winters (the base or the combination) has multiplicative seasonality and needs positive values")
        }
        guard trainingEnd <= values.count, validationStart - fitStart >= minimumWindows else {
            throw ExampleDataError.invalidData(
                "\(trainingEnd) training values are too few: a season of \(settings.period), windows of \(settings.window) and \(settings.validation) validation values leave \(max(0, validationStart - fitStart)) training windows, at least \(minimumWindows) are needed")
        }
        self.settings = settings
        self.values = values
        self.trainingEnd = trainingEnd
        self.base = firstBase

        let start = Date()
        // 1. Validation, rolling origin: for each candidate base and fold, fit on the values
        //    before the fold and measure every combination's one-step RMSE on it along the
        //    epochs; score each (base, combination, epoch count) by the mean over the folds.
        let folds = Self.validationFolds(end: trainingEnd, validation: settings.validation, folds: settings.folds)
        let actuals = folds.map { $0.map { values[$0] } }
        var baselines: [String: [[Double]]] = [:]
        for fold in folds {
            for (name, forecast) in try baselineForecasts(end: fold.lowerBound, targets: Array(fold)) {
                baselines[name, default: []].append(forecast)
            }
        }
        baselineValidation = baselines.filter { $0.value.count == folds.count }.mapValues { Self.multiFoldScore(forecasts: $0, actuals: actuals) }
        partners = Set(combinations.compactMap(\.partner))
        var best: (score: Double, base: ForecastBase, combination: ForecastCombination, curve: [(epoch: Int, rmse: Double)],
                   index: Int, folds: [Double], errors: [Double])?
        for candidate in bases {
            base = candidate
            var runs: [(checkpoints: [Int], network: [[Double]], partners: [ForecastBase: [Double]])] = []
            for fold in folds { runs.append(try fit(end: fold.lowerBound, epochs: settings.maxEpochs, evaluateOn: Array(fold))) }
            let checkpoints = runs[0].checkpoints
            for combination in combinations {
                // The transformed forecasts of each checkpoint and fold.
                let forecasts = checkpoints.indices.map { c in
                    runs.map { run in Self.combined(run.network[c], combination.partner.map { run.partners[$0]! }, combination.weight) }
                }
                let curve = checkpoints.indices.map { c in
                    (epoch: checkpoints[c], rmse: Self.multiFoldScore(forecasts: forecasts[c].map { $0.map(untransformed) }, actuals: actuals))
                }
                let index = curve.indices.min { curve[$0].rmse < curve[$1].rmse } ?? 0
                let key = candidate.rawValue + (combination.partner == nil ? "" : "+\(combination)")
                candidateValidation[key] = curve[index].rmse
                if best == nil || curve[index].rmse < best!.score {
                    let errors = zip(folds, forecasts[index]).flatMap { fold, f in zip(fold, f).map { transformed(values[$0]) - $1 } }
                    best = (curve[index].rmse, candidate, combination, curve, index,
                            zip(forecasts[index], actuals).map { Metrics.rmse($0.map(untransformed), $1) }, errors)
                }
            }
        }
        let chosen = best!
        base = chosen.base
        combination = chosen.combination
        validationCurve = chosen.curve
        epochs = chosen.curve.isEmpty ? settings.maxEpochs : chosen.curve[chosen.index].epoch
        foldRMSEs = chosen.folds
        validationErrors = chosen.errors
        // 2. Final: fit the chosen base and partner on the whole training span for the chosen epochs.
        partners = Set([combination.partner].compactMap { $0 })
        if settings.validationOnly {
            trainSeconds = Date().timeIntervalSince(start)
            return
        }
        _ = try fit(end: trainingEnd, epochs: epochs, evaluateOn: nil)
        trainSeconds = Date().timeIntervalSince(start)
    }

    /// `(1 − weight)·network + weight·partner`, element by element (the network alone without a partner).
    static func combined(_ network: [Double], _ partner: [Double]?, _ weight: Double) -> [Double] {
        guard let partner else { return network }
        return zip(network, partner).map { (1 - weight) * $0 + weight * $1 }
    }

    // MARK: Transform and base

    /// `log v` or `v`.
    public func transformed(_ v: Double) -> Double { usesLog ? Foundation.log(v) : v }
    /// The inverse of ``transformed(_:)``.
    public func untransformed(_ v: Double) -> Double { usesLog ? Foundation.exp(v) : v }

    /// The partners of the combinations being fitted.
    private var partners: Set<ForecastBase> = []

    /// The statistical models' state along a (possibly simulated) history.
    struct BaseState {
        var history: [Double]          // transformed values
        var smoothing: HoltWinters.State?
        var errors: [Double]           // the airline model's one-step errors, aligned with `history`
    }

    /// The one-step forecast (transformed) of `kind` from `state`.
    func forecast(_ kind: ForecastBase, _ state: BaseState) -> Double {
        let h = state.history, n = h.count, m = settings.period
        switch kind {
        case .seasonalRandomWalk: return h[n - 1] + h[n - m] - h[n - m - 1]
        case .seasonalNaive: return h[n - m]
        case .holtWinters: return transformed(holtWinters!.forecast(state.smoothing!))
        case .airlineModel: return airlineModel!.forecast(at: n, values: h, errors: state.errors)
        }
    }

    /// The state after the values before `firstResidual`.
    func initialBaseState(_ v: [Double]) -> BaseState {
        var state = BaseState(history: Array(v[..<firstResidual]), smoothing: nil,
                              errors: [Double](repeating: 0, count: firstResidual))
        if let hw = holtWinters {
            var s = hw.initialState
            for t in 0..<firstResidual { hw.update(&s, with: values[t]) }
            state.smoothing = s
        }
        return state
    }

    /// `state` after the transformed value `v`.
    func observe(_ state: inout BaseState, _ v: Double) {
        if let arima = airlineModel {
            state.errors.append(v - arima.forecast(at: state.history.count, values: state.history, errors: state.errors))
        }
        state.history.append(v)
        if let hw = holtWinters, state.smoothing != nil { hw.update(&state.smoothing!, with: untransformed(v)) }
    }

    /// The one-step forecasts (transformed) of `kind`, as fitted, of every value of the
    /// transformed series `v` from the true values before it (0 before `firstResidual`).
    func oneStepForecasts(_ kind: ForecastBase, _ v: [Double]) -> [Double] {
        let m = settings.period
        var f = [Double](repeating: 0, count: v.count)
        switch kind {
        case .seasonalRandomWalk: for t in firstResidual..<v.count { f[t] = v[t - 1] + v[t - m] - v[t - m - 1] }
        case .seasonalNaive: for t in firstResidual..<v.count { f[t] = v[t - m] }
        case .holtWinters:
            let all = holtWinters!.oneStepForecasts(values)
            for t in firstResidual..<v.count { f[t] = transformed(all[t]) }
        case .airlineModel:
            let arima = airlineModel!, e = arima.errors(v)
            for t in firstResidual..<v.count { f[t] = arima.forecast(at: t, values: v, errors: e) }
        }
        return f
    }

    /// The base forecasts and residuals of the true series: `base[t]`, `r[t]` for
    /// `t ≥ firstResidual` (0 before), and each partner's one-step forecasts.
    func residuals() throws -> (base: [Double], residual: [Double], partners: [ForecastBase: [Double]]) {
        let v = values.map(transformed)
        let base = oneStepForecasts(self.base, v)
        var residual = [Double](repeating: 0, count: v.count)
        for t in firstResidual..<v.count {
            guard base[t].isFinite else {
                throw ExampleDataError.invalidData("the base forecast of value \(t + 1) is not finite (a Holt-Winters level below 0?)")
            }
            residual[t] = v[t] - base[t]
        }
        var forecasts: [ForecastBase: [Double]] = [:]
        for partner in partners { forecasts[partner] = oneStepForecasts(partner, v) }
        return (base, residual, forecasts)
    }

    /// The one-step forecasts of `targets` (untransformed), from the true values before each,
    /// by the forecasts that need no network, fitted on the values before `end`.
    private func baselineForecasts(end: Int, targets: [Int]) throws -> [(String, [Double])] {
        let positive = values.allSatisfy { $0 > 0 }
        let v = values.map(transformed), m = settings.period
        let srw = targets.map { v[$0 - 1] + v[$0 - m] - v[$0 - m - 1] }
        var result = [("srw", srw.map(untransformed))]
        if end >= 2 * m + 2 {
            let arima = try AirlineARIMA.fit(Array(v[..<end]), period: m), e = arima.errors(v)
            result.append(("sarima", targets.map { untransformed(arima.forecast(at: $0, values: v, errors: e)) }))
        }
        if positive, end >= 2 * m {
            let hw = try HoltWinters.fit(Array(values[..<end]), period: m)
            let all = hw.oneStepForecasts(values).map(transformed)
            result.append(("hw", targets.map { untransformed(all[$0]) }))
            result.append(("srw+hw", zip(targets, srw).map { untransformed(0.5 * (all[$0] + $1)) }))
        }
        return result
    }

    // MARK: Training

    private var standardized: [Double] = []

    private func windows(_ targets: [Int], _ z: [Double]) -> Tensor {
        let L = settings.window
        var x: [Float] = []
        x.reserveCapacity(targets.count * L)
        for t in targets { for s in (t - L)..<t { x.append(Float(z[s])) } }
        return Tensor(shape: [targets.count, L, 1], scalars: x)
    }

    /// Fits the base, the partners and the members on the values before `end` for `epochs`
    /// epochs and returns, for the `evaluation` targets, the network's one-step forecasts at
    /// each checkpoint and each partner's, all transformed.
    private func fit(end: Int, epochs: Int, evaluateOn evaluation: [Int]?) throws
        -> (checkpoints: [Int], network: [[Double]], partners: [ForecastBase: [Double]]) {
        let used = partners.union([base])
        holtWinters = used.contains(.holtWinters) ? try HoltWinters.fit(Array(values[..<end]), period: settings.period) : nil
        airlineModel = used.contains(.airlineModel) ? try AirlineARIMA.fit(values[..<end].map(transformed), period: settings.period) : nil
        let (base, residual, partnerForecasts) = try residuals()
        let fitted = residual[firstResidual..<end]
        mean = fitted.reduce(0, +) / Double(fitted.count)
        let variance = fitted.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(fitted.count)
        standardDeviation = max(variance.squareRoot(), 1e-12)
        standardized = residual.map { ($0 - mean) / standardDeviation }
        let targets = Array((firstResidual + settings.window)..<end)
        let x = windows(targets, standardized)
        let y = Tensor(shape: [targets.count, 1], scalars: targets.map { Float(standardized[$0]) })
        let evalX = evaluation.map { windows($0, standardized) }

        // The ensemble's validation predictions every `evaluateEvery` epochs and at the last.
        var checkpoints = Array(stride(from: settings.evaluateEvery, through: epochs, by: settings.evaluateEvery))
        if checkpoints.last != epochs { checkpoints.append(epochs) }
        var predictions = [[Double]](repeating: [Double](repeating: 0, count: evaluation?.count ?? 0), count: checkpoints.count)
        var losses = [Double](repeating: 0, count: epochs)
        members = []
        let progress = ProgressLine(totalEpochs: epochs * settings.ensemble, style: settings.progress,
                                    plainEvery: max(1, epochs * settings.ensemble / 10), unit: "epoch",
                                    label: evaluation == nil ? "final fit" : "validation fit (\(self.base.rawValue))")
        for k in 0..<settings.ensemble {
            let seed = settings.seed &* UInt64(settings.ensemble) &+ UInt64(k)
            RandomState.manualSeed(seed)
            let model = try AirlineModel(kind: settings.model, hiddenSize: settings.hidden, seed: seed)
            try TrainingMemory.check(model, optimizerBuffers: 2, activations: [[targets.count, settings.window, 8, settings.hidden]],
                                     what: "a forecasting \(settings.model.rawValue) of hidden size \(settings.hidden)")
            if let url = settings.initialWeights { try model.loadStateDict(from: url) }
            let optimizer = try Adam(model.parameters(), lr: settings.learningRate)
            for epoch in 1...epochs {
                optimizer.zeroGrad()
                let loss = try mseLoss(model(x), y)
                loss.backward()
                if settings.clipNorm > 0 { _ = clipGradNorm(model.parameters(), maxNorm: settings.clipNorm) }
                optimizer.step()
                losses[epoch - 1] += Double(loss.item) / Double(settings.ensemble)
                progress.update(epoch: k * epochs + epoch, loss: Double(loss.item))
                if let evalX, let index = checkpoints.firstIndex(of: epoch) {
                    let z = try withoutGradients { try model(evalX).scalars }
                    for i in z.indices { predictions[index][i] += Double(z[i]) / Double(settings.ensemble) }
                }
            }
            members.append(model)
        }
        progress.finish()
        trainingLosses = losses
        try TrainingDiverged.check(["the final training loss": losses.last ?? .nan])
        guard let evaluation else { return (checkpoints, [], [:]) }
        let network = predictions.map { z in zip(evaluation, z).map { base[$0] + mean + standardDeviation * $1 } }
        return (checkpoints, network, partnerForecasts.mapValues { f in evaluation.map { f[$0] } })
    }

    // MARK: Forecasts

    /// The ensemble's mean standardised prediction for each window `(N, L, 1)`.
    private func ensemblePrediction(_ x: Tensor) throws -> [Double] {
        var sum = [Double](repeating: 0, count: x.shape[0])
        try withoutGradients {
            for model in members {
                let z = try model(x).scalars
                for i in z.indices { sum[i] += Double(z[i]) }
            }
        }
        return sum.map { $0 / Double(members.count) }
    }

    /// The one-step forecasts (transformed) of `targets` from the true history.
    private func transformedOneStep(_ targets: [Int]) throws -> [Double] {
        let (base, _, partnerForecasts) = try residuals()
        let z = try ensemblePrediction(windows(targets, standardized))
        let network = zip(targets, z).map { base[$0] + mean + standardDeviation * $1 }
        return Self.combined(network, combination.partner.map { p in targets.map { partnerForecasts[p]![$0] } }, combination.weight)
    }

    /// The one-step-ahead forecasts of the values at `targets`, each from the true values
    /// before it.
    ///
    /// - Precondition: every target is at least `firstResidual + window` and inside the series.
    public func oneStepForecasts(_ targets: [Int]) throws -> [Double] {
        precondition(targets.allSatisfy { $0 >= firstResidual + settings.window && $0 < values.count },
                     "oneStepForecasts: a target outside \(firstResidual + settings.window)..<\(values.count)")
        return try transformedOneStep(targets).map(untransformed)
    }

    /// Forecasts of `steps` values from each origin (the values before an origin are known),
    /// fed back recursively, with prediction intervals from a residual bootstrap: `paths`
    /// futures each add to every step's forecast (in the transformed scale, fed back like an
    /// observation) an error drawn at random from ``validationErrors``; the interval is their
    /// `(1 − level)/2` and `(1 + level)/2` quantiles.
    ///
    /// - Returns: for each origin, the point forecasts, lower and upper bounds of each step.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the paths would not fit in memory.
    /// - Precondition: origins in `firstResidual + window ... values.count`, `steps ≥ 1`,
    ///   `paths ≥ 1`, `level` in (0, 1).
    public func forecast(origins: [Int], steps: Int, paths: Int, level: Double, seed: UInt64)
        throws -> [(point: [Double], lower: [Double], upper: [Double])] {
        precondition(origins.allSatisfy { $0 >= firstResidual + settings.window && $0 <= values.count } && steps >= 1 && paths >= 1
                     && level > 0 && level < 1, "forecast: bad origins, steps, paths or level")
        // Path 0 of each origin is the point forecast (no error added), paths 1... the bootstrap.
        let perOrigin = paths + 1
        // Every path's window (twice: as doubles and as the network's input), its history
        // and the airline model's errors (doubles), its steps, and the recurrent layer's
        // activations over the windows.
        let count = origins.count * perOrigin
        try MemoryLimit.check(floats: [[count, settings.window, 6], [count, values.count + steps, 4], [count, steps, 2],
                                       [count, settings.window, 8, settings.hidden]],
                              for: "forecasting \(steps) steps from \(origins.count) origins with \(paths) bootstrap paths each")
        let v = values.map(transformed)
        var generator = SeededGenerator(seed: seed)
        var states: [BaseState] = []
        var windows: [[Double]] = []
        for origin in origins {
            var state = initialBaseState(v)
            for t in firstResidual..<origin { observe(&state, v[t]) }
            let window = Array(standardized[(origin - settings.window)..<origin])
            for _ in 0..<perOrigin { states.append(state); windows.append(window) }
        }
        var simulated = [[Double]](repeating: [], count: states.count)
        for _ in 0..<steps {
            let x = Tensor(shape: [windows.count, settings.window, 1], scalars: windows.flatMap { $0.map(Float.init) })
            let z = try ensemblePrediction(x)
            for p in states.indices {
                let base = forecast(self.base, states[p])
                let error = p % perOrigin == 0 || validationErrors.isEmpty ? 0 : validationErrors.randomElement(using: &generator)!
                let network = base + mean + standardDeviation * z[p]
                let value = Self.combined([network], combination.partner.map { [forecast($0, states[p])] }, combination.weight)[0] + error
                simulated[p].append(untransformed(value))
                observe(&states[p], value)
                windows[p].removeFirst()
                windows[p].append((value - base - mean) / standardDeviation)
            }
        }
        return origins.indices.map { o in
            let first = o * perOrigin
            let point = simulated[first]
            var lower: [Double] = [], upper: [Double] = []
            for k in 0..<steps {
                let draws = (1..<perOrigin).map { simulated[first + $0][k] }.sorted()
                lower.append(Metrics.quantile(sorted: draws, (1 - level) / 2))
                upper.append(Metrics.quantile(sorted: draws, (1 + level) / 2))
            }
            return (point, lower, upper)
        }
    }
}
