import ExampleSupport

/// Holt-Winters exponential smoothing with an additive trend and multiplicative seasonality
/// (ETS(A,A,M) point forecasts, statsmodels' `ExponentialSmoothing(trend="add",
/// seasonal="mul")`), for positive series:
///
/// ```
/// ŷ[t]  = (ℓ[t−1] + b[t−1]) · s[t−m]
/// ℓ[t]  = α · y[t] / s[t−m] + (1 − α) · (ℓ[t−1] + b[t−1])
/// b[t]  = β · (ℓ[t] − ℓ[t−1]) + (1 − β) · b[t−1]
/// s[t]  = γ · y[t] / (ℓ[t−1] + b[t−1]) + (1 − γ) · s[t−m]
/// ```
///
/// **Fit.** The initial states come from the first two seasons (Hyndman & Athanasopoulos,
/// *Forecasting: principles and practice*, §7.6; statsmodels' `_initialization_simple`):
/// ℓ₀ = the mean of the first season, b₀ = the mean of `(y[m+i] − y[i]) / m` over the first
/// season, s₀[i] = y[i] / ℓ₀. The smoothing parameters minimise the in-sample sum of squared
/// one-step errors under statsmodels' bounds 0 ≤ α ≤ 1, 0 ≤ β ≤ α, 0 ≤ γ ≤ 1 − α, written
/// α = u₀, β = α·u₁, γ = (1 − α)·u₂ with u ∈ [0, 1]³: a grid of 6³ values of u, then
/// ``NelderMead`` from the three best grid points (u clamped to [0, 1]), the best result kept.
public struct HoltWinters: Sendable, Equatable {
    /// The season length `m`.
    public let period: Int
    /// The level's smoothing parameter α.
    public var alpha: Double
    /// The trend's smoothing parameter β.
    public var beta: Double
    /// The seasonal smoothing parameter γ.
    public var gamma: Double
    /// ℓ₀, the level before the first value.
    public var initialLevel: Double
    /// b₀, the trend before the first value.
    public var initialTrend: Double
    /// The seasonal factors of the first `m` values.
    public var initialSeasonal: [Double]

    /// A model with the given parameters and initial states.
    ///
    /// - Precondition: `initialSeasonal` has `period` factors.
    public init(period: Int, alpha: Double, beta: Double, gamma: Double,
                initialLevel: Double, initialTrend: Double, initialSeasonal: [Double]) {
        precondition(period >= 1 && initialSeasonal.count == period, "HoltWinters: \(initialSeasonal.count) seasonal factors for period \(period)")
        self.period = period
        self.alpha = alpha
        self.beta = beta
        self.gamma = gamma
        self.initialLevel = initialLevel
        self.initialTrend = initialTrend
        self.initialSeasonal = initialSeasonal
    }

    /// The state after some values: the level, the trend and the next `m` seasonal factors
    /// (`seasonal[0]` is the one of the next value).
    public struct State: Sendable, Equatable {
        /// ℓ.
        public var level: Double
        /// b.
        public var trend: Double
        /// The factors of the next `m` values, in order.
        public var seasonal: [Double]
    }

    /// The state before the first value.
    public var initialState: State { State(level: initialLevel, trend: initialTrend, seasonal: initialSeasonal) }

    /// The one-step forecast from `state`.
    public func forecast(_ state: State) -> Double { (state.level + state.trend) * state.seasonal[0] }

    /// The `k`-step forecast from `state` (k ≥ 1): `(ℓ + k·b) · s[k−1 mod m]`.
    public func forecast(_ state: State, steps k: Int) -> Double {
        (state.level + Double(k) * state.trend) * state.seasonal[(k - 1) % period]
    }

    /// `state` after observing `value`.
    public func update(_ state: inout State, with value: Double) {
        let previous = state.level + state.trend
        let s = state.seasonal[0]
        let level = alpha * value / s + (1 - alpha) * previous
        state.trend = beta * (level - state.level) + (1 - beta) * state.trend
        state.level = level
        state.seasonal.removeFirst()
        state.seasonal.append(gamma * value / previous + (1 - gamma) * s)
    }

    /// The one-step forecasts of every value: element `t` is `ŷ[t]` from `values[..<t]`.
    public func oneStepForecasts(_ values: [Double]) -> [Double] {
        var state = initialState
        var result: [Double] = []
        result.reserveCapacity(values.count)
        for value in values {
            result.append(forecast(state))
            update(&state, with: value)
        }
        return result
    }

    /// The sum of squared one-step errors over `values`.
    public func sumOfSquaredErrors(_ values: [Double]) -> Double {
        zip(oneStepForecasts(values), values).reduce(0) { $0 + ($1.1 - $1.0) * ($1.1 - $1.0) }
    }

    /// The initial states of ``HoltWinters`` from the first two seasons of `values`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `values` has fewer than two
    ///   seasons or a value that is not positive and finite.
    public static func simpleInitialization(_ values: [Double], period: Int) throws -> (level: Double, trend: Double, seasonal: [Double]) {
        guard period >= 1, values.count >= 2 * period else {
            throw ExampleDataError.invalidData("Holt-Winters needs two full seasons (\(2 * period) values) to start, got \(values.count)")
        }
        if let bad = values.firstIndex(where: { !($0 > 0 && $0.isFinite) }) {
            throw ExampleDataError.invalidData("Holt-Winters with multiplicative seasonality needs positive values; value \(bad + 1) is \(values[bad])")
        }
        let m = Double(period)
        let level = values[0..<period].reduce(0, +) / m
        let trend = (0..<period).reduce(0.0) { $0 + (values[period + $1] - values[$1]) / m } / m
        return (level, trend, values[0..<period].map { $0 / level })
    }

    /// The model fitted to `values` (see the type's documentation).
    ///
    /// - Throws: what ``simpleInitialization(_:period:)`` throws.
    public static func fit(_ values: [Double], period: Int) throws -> HoltWinters {
        let start = try simpleInitialization(values, period: period)
        func model(_ u: [Double]) -> HoltWinters {
            let c = u.map { min(max($0, 0), 1) }
            let alpha = c[0]
            return HoltWinters(period: period, alpha: alpha, beta: alpha * c[1], gamma: (1 - alpha) * c[2],
                               initialLevel: start.level, initialTrend: start.trend, initialSeasonal: start.seasonal)
        }
        func sse(_ u: [Double]) -> Double { model(u).sumOfSquaredErrors(values) }
        let grid = (0..<6).map { (Double($0) + 0.5) / 6 }
        var candidates: [(u: [Double], value: Double)] = []
        for a in grid { for b in grid { for g in grid { candidates.append(([a, b, g], sse([a, b, g]))) } } }
        candidates.sort { $0.value < $1.value }
        var best = candidates[0]
        for candidate in candidates.prefix(3) {
            let result = NelderMead.minimize(sse, start: candidate.u, step: 0.05, tolerance: 1e-12, maxEvaluations: 3_000)
            if result.value < best.value { best = (result.point, result.value) }
        }
        return model(best.u)
    }
}
