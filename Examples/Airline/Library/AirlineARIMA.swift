import ExampleSupport

/// Box & Jenkins' airline model, SARIMA(0,1,1)(0,1,1)ₘ, on a series `v` (usually logs):
/// the doubly differenced series `w[t] = v[t] − v[t−1] − v[t−m] + v[t−m−1]` is the moving
/// average
///
/// ```
/// w[t] = e[t] + θ·e[t−1] + Θ·e[t−m] + θΘ·e[t−m−1]
/// ```
///
/// (statsmodels' sign convention: `ma.L1` = θ, `ma.S.L12` = Θ), so the one-step forecast is
/// the seasonal random walk with drift plus the moving-average terms of the past one-step
/// errors `e`:
/// `v̂[t] = v[t−1] + v[t−m] − v[t−m−1] + θ·e[t−1] + Θ·e[t−m] + θΘ·e[t−m−1]`.
///
/// **Fit.** Conditional sum of squares (Box & Jenkins §7.1): the errors before value `m + 1`
/// are taken as 0, and θ, Θ minimise `Σ e[t]²` over `t ≥ m + 1` inside the invertible region
/// `|θ| < 1, |Θ| < 1`, by ``NelderMead`` from (−0.4, −0.4). statsmodels maximises the exact
/// likelihood instead; the two agree closely on long series.
public struct AirlineARIMA: Sendable, Equatable {
    /// The season length `m`.
    public let period: Int
    /// The non-seasonal moving-average coefficient θ.
    public var theta: Double
    /// The seasonal moving-average coefficient Θ.
    public var seasonalTheta: Double

    /// A model with the given coefficients.
    ///
    /// - Precondition: `period ≥ 1`.
    public init(period: Int, theta: Double, seasonalTheta: Double) {
        precondition(period >= 1, "AirlineARIMA: period \(period)")
        self.period = period
        self.theta = theta
        self.seasonalTheta = seasonalTheta
    }

    /// The first index with a forecast (`m + 1`): the errors before it are 0.
    public var firstForecast: Int { period + 1 }

    /// The one-step forecast of `values[t]` from `values[..<t]` and the errors `errors[..<t]`.
    ///
    /// - Precondition: `firstForecast ≤ t ≤ values.count`, `t ≤ errors.count`.
    public func forecast(at t: Int, values v: [Double], errors e: [Double]) -> Double {
        precondition(t >= firstForecast && t <= v.count && t <= e.count, "AirlineARIMA.forecast: index \(t) outside \(firstForecast)...\(min(v.count, e.count))")
        let m = period
        return v[t - 1] + v[t - m] - v[t - m - 1] + theta * e[t - 1] + seasonalTheta * e[t - m] + theta * seasonalTheta * e[t - m - 1]
    }

    /// The one-step errors `e[t] = v[t] − v̂[t]` of `values` (0 before ``firstForecast``).
    public func errors(_ values: [Double]) -> [Double] {
        var e = [Double](repeating: 0, count: values.count)
        guard values.count > firstForecast else { return e }
        for t in firstForecast..<values.count { e[t] = values[t] - forecast(at: t, values: values, errors: e) }
        return e
    }

    /// The forecasts `1 … steps` ahead of `origin` from `values[..<origin]`, the parameters
    /// fixed: the errors of the known values, 0 for the forecast ones.
    ///
    /// - Precondition: `firstForecast ≤ origin ≤ values.count`.
    public func forecasts(_ values: [Double], origin: Int, steps: Int) -> [Double] {
        precondition(origin >= firstForecast && origin <= values.count, "AirlineARIMA.forecasts: origin \(origin) outside \(firstForecast)...\(values.count)")
        var v = Array(values[..<origin]), e = errors(v)
        for _ in 0..<steps {
            v.append(forecast(at: v.count, values: v, errors: e))
            e.append(0)
        }
        return Array(v[origin...])
    }

    /// The conditional sum of squared one-step errors of `values`.
    public func sumOfSquaredErrors(_ values: [Double]) -> Double {
        errors(values).reduce(0) { $0 + $1 * $1 }
    }

    /// The model fitted to `values` by conditional sum of squares (see the type's documentation).
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `values` has fewer than
    ///   `2·period + 2` values or one that is not finite.
    public static func fit(_ values: [Double], period: Int) throws -> AirlineARIMA {
        guard period >= 1, values.count >= 2 * period + 2 else {
            throw ExampleDataError.invalidData("the airline model needs \(2 * period + 2) values (two seasons and two more) to fit, got \(values.count)")
        }
        guard values.allSatisfy(\.isFinite) else { throw ExampleDataError.invalidData("the airline model needs finite values") }
        func sse(_ p: [Double]) -> Double {
            guard abs(p[0]) < 0.999, abs(p[1]) < 0.999 else { return .nan }
            return AirlineARIMA(period: period, theta: p[0], seasonalTheta: p[1]).sumOfSquaredErrors(values)
        }
        let result = NelderMead.minimize(sse, start: [-0.4, -0.4], step: 0.2, tolerance: 1e-12, maxEvaluations: 2_000)
        return AirlineARIMA(period: period, theta: result.point[0], seasonalTheta: result.point[1])
    }
}
