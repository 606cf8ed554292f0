import ExampleSupport
import Foundation
import Recurrent

/// The forecast the recurrent network corrects: it models the residual of this base
/// forecast, in the transformed (usually log) scale.
public enum ForecastBase: String, CaseIterable, Codable, Sendable {
    /// The seasonal random walk with drift, `v̂[t] = v[t−1] + v[t−m] − v[t−m−1]` in the
    /// transformed scale (`ŷ[t] = y[t−1]·y[t−m]/y[t−m−1]` on logs): the residual is the
    /// doubly differenced series `∇∇ₘ v`, the one Box & Jenkins' airline model describes.
    case seasonalRandomWalk = "srw"
    /// ``HoltWinters`` fitted on the training span (the ES-RNN idea of Smyl, M4 2018:
    /// exponential smoothing normalises, the network learns the rest).
    case holtWinters = "hw"
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
    /// The forecast whose residual the network models.
    public var base: ForecastBase = .seasonalRandomWalk
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
    /// Whether the forecast is the mean (in the transformed scale) of the network's forecast
    /// and Holt-Winters' (fitted on the same values): a forecast combination.
    public var combineWithHoltWinters = false
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent
    /// Stop after the validation fit (to choose settings on the validation span without
    /// fitting, or looking at, anything else): ``ResidualForecaster/epochs`` and
    /// ``ResidualForecaster/validationCurve`` are then set, the members are the validation
    /// fit's.
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
    /// then the ensemble size (5, 10, 20). README.md ("A time series") gives the scores. The
    /// test span was not used to choose.
    public init() {}
}

/// A forecaster of one series: a base forecast (``ForecastBase``) and an ensemble of
/// recurrent networks that predict the base's next residual from the last `window` ones.
///
/// **Protocol.** Only the values before `trainingEnd` are used to fit anything:
/// 1. *validation*, rolling origin: the last `validation` training values are split into
///    `folds` consecutive folds (``validationFolds(end:validation:folds:)``); for each fold the
///    base and the networks are fitted on the values before it, and every `evaluateEvery`
///    epochs the ensemble's one-step RMSE over the fold is measured; the epoch count whose
///    mean RMSE over the folds (``multiFoldScore(forecasts:actuals:)``) is lowest wins;
/// 2. *final*: the base and the networks (same seeds) are fitted on all values before
///    `trainingEnd` for that many epochs.
/// The forecasts then run with these fixed parameters over the rest of the series.
///
/// Residuals `r[t] = v[t] − base[t]` (v the transformed series) start at `t = m + 1`; they are
/// standardised with the mean and the population standard deviation of the fitting span's
/// residuals; a window `z[t−L ..< t]` predicts `z[t]`; the forecast is
/// `v̂[t] = base[t] + μ + σ · mean over members of ẑ[t]`, transformed back.
public final class ResidualForecaster {
    /// The settings.
    public let settings: ForecasterSettings
    /// The series (untransformed).
    public let values: [Double]
    /// Whether the series is modelled in logs.
    public let usesLog: Bool
    /// The end of the training span (exclusive).
    public let trainingEnd: Int
    /// The fitted Holt-Winters model when it is the base (``ForecastBase/holtWinters``) or
    /// combined with the network (``ForecasterSettings/combineWithHoltWinters``), else `nil`.
    public private(set) var holtWinters: HoltWinters?
    /// The mean and standard deviation of the training residuals.
    public private(set) var mean = 0.0, standardDeviation = 1.0
    /// The networks of the final fit.
    public private(set) var members: [AirlineModel] = []
    /// The epochs the final fit trained (chosen on the validation span).
    public private(set) var epochs = 0
    /// The validation score (the mean over the folds of the ensemble's one-step RMSE) after
    /// every `evaluateEvery` epochs.
    public private(set) var validationCurve: [(epoch: Int, rmse: Double)] = []
    /// Each fold's one-step RMSE at the epochs chosen.
    public private(set) var foldRMSEs: [Double] = []
    /// The validation score, on the same folds, of the forecasts that need no network, each
    /// fitted on the values before its fold: `"srw"` (the seasonal random walk with drift),
    /// `"hw"` (Holt-Winters; for positive series) and `"srw+hw"` (their mean in the
    /// transformed scale).
    public private(set) var baselineValidation: [String: Double] = [:]
    /// The mean training loss over the members after each epoch of the final fit.
    public private(set) var trainingLosses: [Double] = []
    /// The seconds spent training (both fits).
    public private(set) var trainSeconds = 0.0
    /// The out-of-sample one-step errors of the validation fits, at the epochs chosen, over
    /// every fold, in the transformed scale: what the residual bootstrap draws from
    /// (the training errors of a network that fits its span closely would make intervals
    /// far too narrow).
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
    ///   window, the validation span and a few training windows, or has values the
    ///   transform or the base cannot take; ``TensorError`` on a bad setting; the library's
    ///   errors when `initialWeights` cannot be loaded.
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
        guard values.allSatisfy(\.isFinite) else { throw ExampleDataError.invalidData("the series has a value that is not finite") }
        let positive = values.allSatisfy { $0 > 0 }
        switch settings.transform {
        case .auto: usesLog = positive
        case .log:
            guard positive else { throw ExampleDataError.invalidData("the log transform needs positive values") }
            usesLog = true
        case .none: usesLog = false
        }
        if (settings.base == .holtWinters || settings.combineWithHoltWinters) && !positive {
            throw ExampleDataError.invalidData("Holt-Winters (the base or the combination) has multiplicative seasonality and needs positive values")
        }
        let minimumWindows = 8
        let fitStart = settings.period + 1 + settings.window
        let validationStart = trainingEnd - settings.validation
        guard trainingEnd <= values.count, validationStart - fitStart >= minimumWindows else {
            throw ExampleDataError.invalidData(
                "\(trainingEnd) training values are too few: a season of \(settings.period), windows of \(settings.window) and \(settings.validation) validation values leave \(max(0, validationStart - fitStart)) training windows, at least \(minimumWindows) are needed")
        }
        self.settings = settings
        self.values = values
        self.trainingEnd = trainingEnd

        let start = Date()
        // 1. Validation, rolling origin: for each fold, fit on the values before it and
        //    measure the ensemble's one-step RMSE on it along the epochs; score each epoch
        //    count by the mean over the folds.
        let folds = Self.validationFolds(end: trainingEnd, validation: settings.validation, folds: settings.folds)
        var runs: [(checkpoints: [Int], forecasts: [[Double]], errors: [[Double]])] = []
        var baselines: [String: [[Double]]] = [:]
        for fold in folds {
            runs.append(try fit(end: fold.lowerBound, epochs: settings.maxEpochs, evaluateOn: Array(fold)))
            for (name, forecast) in try baselineForecasts(end: fold.lowerBound, targets: Array(fold)) {
                baselines[name, default: []].append(forecast)
            }
        }
        let actuals = folds.map { $0.map { values[$0] } }
        let checkpoints = runs[0].checkpoints
        validationCurve = checkpoints.indices.map { c in
            (checkpoints[c], Self.multiFoldScore(forecasts: runs.map { $0.forecasts[c] }, actuals: actuals))
        }
        baselineValidation = baselines.mapValues { Self.multiFoldScore(forecasts: $0, actuals: actuals) }
        let bestIndex = validationCurve.indices.min { validationCurve[$0].rmse < validationCurve[$1].rmse } ?? 0
        epochs = validationCurve.isEmpty ? settings.maxEpochs : validationCurve[bestIndex].epoch
        foldRMSEs = zip(runs, actuals).map { Metrics.rmse($0.forecasts[bestIndex], $1) }
        validationErrors = runs.flatMap { $0.errors[bestIndex] }
        // 2. Final: fit on the whole training span for the chosen epochs.
        if settings.validationOnly {
            trainSeconds = Date().timeIntervalSince(start)
            return
        }
        _ = try fit(end: trainingEnd, epochs: epochs, evaluateOn: nil)
        trainSeconds = Date().timeIntervalSince(start)
    }

    // MARK: Transform and base

    /// `log v` or `v`.
    public func transformed(_ v: Double) -> Double { usesLog ? Foundation.log(v) : v }
    /// The inverse of ``transformed(_:)``.
    public func untransformed(_ v: Double) -> Double { usesLog ? Foundation.exp(v) : v }

    /// The base's state along a (possibly simulated) history.
    struct BaseState {
        var history: [Double]          // transformed values
        var smoothing: HoltWinters.State?
    }

    /// The base's one-step forecast (transformed) from `state`.
    func baseForecast(_ state: BaseState) -> Double {
        if settings.base == .holtWinters, let hw = holtWinters, let s = state.smoothing { return transformed(hw.forecast(s)) }
        let h = state.history, n = h.count, m = settings.period
        return h[n - 1] + h[n - m] - h[n - m - 1]
    }

    /// The forecast (transformed) from the network's forecast `network` at `state`: itself,
    /// or its mean with Holt-Winters' (``ForecasterSettings/combineWithHoltWinters``).
    func combined(_ network: Double, _ state: BaseState) -> Double {
        guard settings.combineWithHoltWinters, let hw = holtWinters, let s = state.smoothing else { return network }
        return 0.5 * (network + transformed(hw.forecast(s)))
    }

    /// The state after the values before `firstResidual`.
    func initialBaseState(_ v: [Double]) -> BaseState {
        var state = BaseState(history: Array(v[..<firstResidual]), smoothing: nil)
        if let hw = holtWinters {
            var s = hw.initialState
            for t in 0..<firstResidual { hw.update(&s, with: values[t]) }
            state.smoothing = s
        }
        return state
    }

    /// `state` after the transformed value `v`.
    func observe(_ state: inout BaseState, _ v: Double) {
        state.history.append(v)
        if let hw = holtWinters, state.smoothing != nil { hw.update(&state.smoothing!, with: untransformed(v)) }
    }

    /// The base forecasts and residuals of the true series: `base[t]`, `r[t]` for
    /// `t ≥ firstResidual` (0 before); `states[t]` is the base's state before value `t`.
    func residuals() throws -> (base: [Double], residual: [Double], states: [BaseState?]) {
        let v = values.map(transformed)
        var base = [Double](repeating: 0, count: v.count), residual = base
        var states = [BaseState?](repeating: nil, count: v.count)
        var state = initialBaseState(v)
        for t in firstResidual..<v.count {
            if settings.combineWithHoltWinters { states[t] = state }
            base[t] = baseForecast(state)
            guard base[t].isFinite else {
                throw ExampleDataError.invalidData("the base forecast of value \(t + 1) is not finite (a Holt-Winters level below 0?)")
            }
            residual[t] = v[t] - base[t]
            observe(&state, v[t])
        }
        return (base, residual, states)
    }

    /// The one-step forecast (transformed) of value `t` from the ensemble's standardised
    /// prediction `z`.
    private func oneStep(_ t: Int, _ z: Double, _ base: [Double], _ states: [BaseState?]) -> Double {
        let network = base[t] + mean + standardDeviation * z
        return states[t].map { combined(network, $0) } ?? network
    }

    /// The one-step forecasts of `targets` (untransformed), from the true values before each,
    /// by the forecasts that need no network, fitted on the values before `end`.
    private func baselineForecasts(end: Int, targets: [Int]) throws -> [(String, [Double])] {
        let positive = values.allSatisfy { $0 > 0 }
        let v = values.map(transformed), m = settings.period
        let srw = targets.map { v[$0 - 1] + v[$0 - m] - v[$0 - m - 1] }
        var result = [("srw", srw.map(untransformed))]
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

    /// Fits the base and the members on the values before `end` for `epochs` epochs and
    /// returns, for the `evaluation` targets, the ensemble's one-step forecasts
    /// (untransformed) and errors (transformed) at each checkpoint.
    private func fit(end: Int, epochs: Int, evaluateOn evaluation: [Int]?) throws
        -> (checkpoints: [Int], forecasts: [[Double]], errors: [[Double]]) {
        let needsHoltWinters = settings.base == .holtWinters || settings.combineWithHoltWinters
        holtWinters = needsHoltWinters ? try HoltWinters.fit(Array(values[..<end]), period: settings.period) : nil
        let (base, residual, states) = try residuals()
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
                                    label: evaluation == nil ? "final fit" : "validation fit")
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
        guard let evaluation else { return (checkpoints, [], []) }
        let forecasts = predictions.map { z in zip(evaluation, z).map { oneStep($0, $1, base, states) } }
        return (checkpoints, forecasts.map { $0.map(untransformed) },
                forecasts.map { zip(evaluation, $0).map { transformed(values[$0]) - $1 } })
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
        let (base, _, states) = try residuals()
        let z = try ensemblePrediction(windows(targets, standardized))
        return zip(targets, z).map { oneStep($0, $1, base, states) }
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
        // (doubles), its steps, and the recurrent layer's activations over the windows.
        let count = origins.count * perOrigin
        try MemoryLimit.check(floats: [[count, settings.window, 6], [count, values.count + steps, 2], [count, steps, 2],
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
                let base = baseForecast(states[p])
                let error = p % perOrigin == 0 || validationErrors.isEmpty ? 0 : validationErrors.randomElement(using: &generator)!
                let value = combined(base + mean + standardDeviation * z[p], states[p]) + error
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
