import Foundation

/// The total norm of the gradients of `parameters`, without changing them
/// (`torch.nn.utils.get_total_norm` over the parameters' gradients): what
/// ``clipGradNorm(_:maxNorm:normType:)`` measures before it clips, for monitoring.
///
/// The total norm is the `normType`-norm of the per-parameter gradient norms (which equals
/// the norm of all gradient elements together): `(Σ |gᵢ|ᵖ)^(1/p)`, the largest `|gᵢ|` for
/// `normType == .infinity`, the smallest for `-.infinity`, and the count of non-zero
/// elements for 0 (as `torch.linalg.vector_norm`), accumulated in `Double`. Parameters
/// without a gradient are skipped; with none at all the result is 0. A gradient with an
/// infinite or NaN element gives an infinite or NaN norm.
public func totalGradNorm(_ parameters: [Parameter], normType: Float = 2) -> Float {
    let grads = parameters.compactMap(\.grad)
    if grads.isEmpty { return 0 }
    let p = Double(normType)

    /// The vector norm of `count` values produced by `value(i)`, accumulated in `Double`.
    func norm(_ count: Int, _ value: (Int) -> Double) -> Double {
        if p == .infinity {
            var m = 0.0
            for i in 0..<count { let a = Swift.abs(value(i)); if a > m || a.isNaN { m = a } }
            return m
        }
        if p == -.infinity {
            var m = Double.infinity
            for i in 0..<count { let a = Swift.abs(value(i)); if a < m || a.isNaN { m = a } }
            return m
        }
        if p == 0 {
            var nonZero = 0.0
            for i in 0..<count where value(i) != 0 { nonZero += 1 }
            return nonZero
        }
        var total = 0.0
        if p == 2 {
            for i in 0..<count { let a = value(i); total += a * a }
            return total.squareRoot()
        }
        if p == 1 {
            for i in 0..<count { total += Swift.abs(value(i)) }
            return total
        }
        for i in 0..<count { total += Foundation.pow(Swift.abs(value(i)), p) }
        return Foundation.pow(total, 1 / p)
    }

    let norms: [Float] = grads.map { g in
        let x = g.storage.pointer
        return Float(norm(g.count) { Double(x[$0]) })
    }
    return Float(norm(norms.count) { Double(norms[$0]) })
}

/// Rescales the gradients of `parameters` so that their total norm is at most `maxNorm`
/// (`torch.nn.utils.clip_grad_norm_`), in place, and returns the total norm before clipping.
///
/// The total norm is ``totalGradNorm(_:normType:)``. When the clip coefficient
/// `maxNorm / (total + 1e-6)` is below 1, every gradient is multiplied by it. Parameters
/// without a gradient are skipped; with none at all the result is 0.
///
/// - Parameters:
///   - parameters: the parameters whose `grad` is clipped.
///   - maxNorm: the largest total norm allowed.
///   - normType: the `p` of the norm (2 by default).
/// - Returns: the total norm of the gradients before clipping. When it is infinite the
///   coefficient is 0, and when it is NaN the gradients become NaN, as in PyTorch.
@discardableResult
public func clipGradNorm(_ parameters: [Parameter], maxNorm: Float, normType: Float = 2) -> Float {
    let total = totalGradNorm(parameters, normType: normType)
    let coefficient = maxNorm / (total + 1e-6)
    if coefficient < 1 || coefficient.isNaN {
        for g in parameters.compactMap(\.grad) {
            let x = g.storage.pointer
            for i in 0..<g.count { x[i] *= coefficient }
        }
    }
    return total
}
