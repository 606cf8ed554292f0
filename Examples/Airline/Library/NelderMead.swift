/// The Nelder–Mead simplex method: a derivative-free minimiser of a function of a few
/// variables (Nelder & Mead 1965, with the standard coefficients: reflection 1, expansion 2,
/// contraction ½, shrink ½), as used to fit the smoothing parameters of ``HoltWinters``.
public enum NelderMead {
    /// The point found, its value and the number of function evaluations.
    public struct Result: Sendable {
        /// The best point.
        public var point: [Double]
        /// `f(point)`.
        public var value: Double
        /// How many times `f` was called.
        public var evaluations: Int
    }

    /// Minimises `f` from `start`, with an initial simplex of `start` and `start + step·eᵢ`.
    ///
    /// Stops when the values at the simplex's vertices differ by less than `tolerance`
    /// (relative to the best value, plus `tolerance` absolutely) or after `maxEvaluations`.
    /// A non-finite value counts as +∞, so `f` may return `.nan` outside its domain.
    ///
    /// - Precondition: `start` is not empty, `step` is not 0.
    public static func minimize(_ f: ([Double]) -> Double, start: [Double], step: Double = 0.1,
                                tolerance: Double = 1e-10, maxEvaluations: Int = 2_000) -> Result {
        precondition(!start.isEmpty && step != 0, "NelderMead.minimize: an empty start or a zero step")
        let n = start.count
        var evaluations = 0
        func value(_ x: [Double]) -> Double {
            evaluations += 1
            let v = f(x)
            return v.isFinite ? v : .infinity
        }
        var simplex = [start] + (0..<n).map { i -> [Double] in
            var x = start
            x[i] += step
            return x
        }
        var values = simplex.map(value)
        func combine(_ a: [Double], _ b: [Double], _ t: Double) -> [Double] {
            // a + t·(b − a)
            zip(a, b).map { $0 + t * ($1 - $0) }
        }
        while evaluations < maxEvaluations {
            let order = values.indices.sorted { values[$0] < values[$1] }
            simplex = order.map { simplex[$0] }
            values = order.map { values[$0] }
            let best = values[0], worst = values[n]
            if worst - best <= tolerance * (abs(best) + tolerance) { break }
            var centroid = [Double](repeating: 0, count: n)
            for vertex in simplex[0..<n] {
                for i in 0..<n { centroid[i] += vertex[i] / Double(n) }
            }
            let reflected = combine(centroid, simplex[n], -1)
            let reflectedValue = value(reflected)
            if reflectedValue < best {
                let expanded = combine(centroid, simplex[n], -2)
                let expandedValue = value(expanded)
                if expandedValue < reflectedValue {
                    simplex[n] = expanded; values[n] = expandedValue
                } else {
                    simplex[n] = reflected; values[n] = reflectedValue
                }
            } else if reflectedValue < values[n - 1] {
                simplex[n] = reflected; values[n] = reflectedValue
            } else {
                // Contract towards the better of the worst vertex and its reflection.
                let outside = reflectedValue < worst
                let contracted = combine(centroid, outside ? reflected : simplex[n], 0.5)
                let contractedValue = value(contracted)
                if contractedValue < (outside ? reflectedValue : worst) {
                    simplex[n] = contracted; values[n] = contractedValue
                } else {
                    for i in 1...n {
                        simplex[i] = combine(simplex[0], simplex[i], 0.5)
                        values[i] = value(simplex[i])
                    }
                }
            }
        }
        let bestIndex = values.indices.min { values[$0] < values[$1] } ?? 0
        return Result(point: simplex[bestIndex], value: values[bestIndex], evaluations: evaluations)
    }
}
