/// The accuracy measures of the forecasts, as the M4 competition defines them
/// (Makridakis, Spiliotis & Assimakopoulos, 2020).
public enum Metrics {
    /// The root mean squared error of `forecast` against `actual`.
    ///
    /// - Precondition: the same, non-zero, count.
    public static func rmse(_ forecast: [Double], _ actual: [Double]) -> Double {
        precondition(forecast.count == actual.count && !actual.isEmpty, "rmse: \(forecast.count) forecasts for \(actual.count) values")
        return (zip(forecast, actual).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) } / Double(actual.count)).squareRoot()
    }

    /// The mean absolute error.
    ///
    /// - Precondition: the same, non-zero, count.
    public static func mae(_ forecast: [Double], _ actual: [Double]) -> Double {
        precondition(forecast.count == actual.count && !actual.isEmpty, "mae: \(forecast.count) forecasts for \(actual.count) values")
        return zip(forecast, actual).reduce(0) { $0 + abs($1.0 - $1.1) } / Double(actual.count)
    }

    /// The symmetric mean absolute percentage error of M4, in percent:
    /// `200/h · Σ |y − ŷ| / (|y| + |ŷ|)` (a term whose denominator is 0 counts 0).
    ///
    /// - Precondition: the same, non-zero, count.
    public static func smape(_ forecast: [Double], _ actual: [Double]) -> Double {
        precondition(forecast.count == actual.count && !actual.isEmpty, "smape: \(forecast.count) forecasts for \(actual.count) values")
        let total = zip(forecast, actual).reduce(0.0) { sum, pair in
            let denominator = abs(pair.0) + abs(pair.1)
            return denominator == 0 ? sum : sum + abs(pair.1 - pair.0) / denominator
        }
        return 200 * total / Double(actual.count)
    }

    /// The scale of M4's MASE: the mean absolute error of the in-sample seasonal naive
    /// forecast, `1/(n−m) · Σ_{t=m}^{n−1} |y[t] − y[t−m]|`, over the training values
    /// `inSample`.
    ///
    /// - Precondition: `inSample.count > period ≥ 1`.
    public static func maseScale(inSample: [Double], period: Int) -> Double {
        precondition(period >= 1 && inSample.count > period, "maseScale: \(inSample.count) values for a season of \(period)")
        return (period..<inSample.count).reduce(0.0) { $0 + abs(inSample[$1] - inSample[$1 - period]) } / Double(inSample.count - period)
    }

    /// The mean absolute scaled error: ``mae(_:_:)`` divided by `scale` (from
    /// ``maseScale(inSample:period:)``).
    public static func mase(_ forecast: [Double], _ actual: [Double], scale: Double) -> Double {
        mae(forecast, actual) / scale
    }

    /// The fraction of `actual` values inside `[lower, upper]`.
    ///
    /// - Precondition: the same, non-zero, count.
    public static func coverage(lower: [Double], upper: [Double], _ actual: [Double]) -> Double {
        precondition(lower.count == actual.count && upper.count == actual.count && !actual.isEmpty,
                     "coverage: \(lower.count) and \(upper.count) bounds for \(actual.count) values")
        let inside = actual.indices.filter { lower[$0] <= actual[$0] && actual[$0] <= upper[$0] }.count
        return Double(inside) / Double(actual.count)
    }

    /// The `p`-quantile of sorted values, linearly interpolated (NumPy's default): position
    /// `p · (n − 1)`.
    ///
    /// - Precondition: `sorted` is not empty, `p` in 0...1.
    public static func quantile(sorted: [Double], _ p: Double) -> Double {
        precondition(!sorted.isEmpty && p >= 0 && p <= 1, "quantile: no values or p outside 0...1")
        let position = p * Double(sorted.count - 1)
        let i = Int(position.rounded(.down)), fraction = position - Double(i)
        return i + 1 < sorted.count ? sorted[i] + fraction * (sorted[i + 1] - sorted[i]) : sorted[i]
    }
}

/// The forecasts that need no training, for any season length `m`, from an origin (the
/// values before it are known), `steps` ahead; one-step forecasts are `steps = 1`.
public enum SeasonalBaselines {
    /// The seasonal naive forecast: `ŷ[o+k] = y[o+k−m]`, the last season repeated
    /// (`y[o − m + (k mod m)]`).
    ///
    /// - Precondition: `origin ≥ period`.
    public static func seasonalNaive(_ values: [Double], origin: Int, steps: Int, period: Int) -> [Double] {
        precondition(origin >= period && origin <= values.count, "seasonalNaive: origin \(origin) before a season of \(period)")
        return (0..<steps).map { values[origin - period + $0 % period] }
    }

    /// The seasonal random walk with drift, `ŷ[t] = y[t−1] · y[t−m] / y[t−m−1]` (on positive
    /// values; `y[t−1] + y[t−m] − y[t−m−1]` when `multiplicative` is false), applied
    /// recursively to its own forecasts beyond the origin.
    ///
    /// - Precondition: `origin ≥ period + 1`.
    public static func seasonalRandomWalkWithDrift(_ values: [Double], origin: Int, steps: Int, period: Int,
                                                   multiplicative: Bool = true) -> [Double] {
        precondition(origin >= period + 1 && origin <= values.count, "seasonalRandomWalkWithDrift: origin \(origin) before \(period + 1)")
        var history = Array(values[(origin - period - 1)..<origin])
        var result: [Double] = []
        for _ in 0..<steps {
            let n = history.count
            let next = multiplicative ? history[n - 1] * history[n - period] / history[n - period - 1]
                                      : history[n - 1] + history[n - period] - history[n - period - 1]
            result.append(next)
            history.append(next)
        }
        return result
    }

    /// Holt-Winters' forecasts `k = 1 … steps` ahead of `origin` with fixed parameters: the
    /// state after the values before `origin`, then `(ℓ + k·b) · s`.
    public static func holtWinters(_ model: HoltWinters, _ values: [Double], origin: Int, steps: Int) -> [Double] {
        var state = model.initialState
        for t in 0..<origin { model.update(&state, with: values[t]) }
        return (1...steps).map { model.forecast(state, steps: $0) }
    }
}
