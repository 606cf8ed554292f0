// The fused layer-normalisation kernels: one pass over each row for the statistics and the
// normalised, scaled and shifted output, and one for all three gradients. Every inner loop
// is a plain loop over a contiguous row that LLVM vectorises in a release build.

/// Layer normalisation over the rows of a row-major `rows × columns` buffer
/// (`torch.nn.functional.layer_norm` with the normalised shape flattened to `columns`).
public enum LayerNormKernel {
    /// `y = (x − mean) · rstd · weight + bias` for every row, where `mean` and
    /// `rstd = 1/√(var + eps)` (the biased variance) are the row's statistics, which are also
    /// written to `mean` and `rstd` (`rows` each) for the backward.
    ///
    /// `weight` and `bias` have `columns` elements, or are `nil` (1 and 0). The statistics are
    /// taken in two passes (the mean, then the squared deviations from it), so a row with a
    /// large mean loses no precision. `y` may equal `x`.
    public static func forward(
        _ x: UnsafePointer<Float>, rows: Int, columns: Int,
        weight: UnsafePointer<Float>?, bias: UnsafePointer<Float>?, eps: Float,
        into y: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>
    ) {
        if rows < 0 || columns < 0 { fatalError("LayerNormKernel.forward: negative size \(rows) × \(columns)") }
        let n = Float(columns)
        for r in 0..<rows {
            let row = x + r * columns, out = y + r * columns
            var total: Float = 0
            for j in 0..<columns { total += row[j] }
            let mu = columns > 0 ? total / n : 0
            var squares: Float = 0
            for j in 0..<columns {
                let d = row[j] - mu
                squares += d * d
            }
            let inverse = 1 / (squares / Swift.max(n, 1) + eps).squareRoot()
            mean[r] = mu
            rstd[r] = inverse
            switch (weight, bias) {
            case let (w?, b?): for j in 0..<columns { out[j] = (row[j] - mu) * inverse * w[j] + b[j] }
            case let (w?, nil): for j in 0..<columns { out[j] = (row[j] - mu) * inverse * w[j] }
            case let (nil, b?): for j in 0..<columns { out[j] = (row[j] - mu) * inverse + b[j] }
            case (nil, nil): for j in 0..<columns { out[j] = (row[j] - mu) * inverse }
            }
        }
    }

    /// Accumulates the gradients of ``forward(_:rows:columns:weight:bias:eps:into:mean:rstd:)``
    /// for the upstream gradient `g`: `gx += rstd · (ĝ − mean(ĝ) − x̂ · mean(ĝ · x̂))` with
    /// `ĝ = g · weight` and `x̂ = (x − mean) · rstd`; `gWeight += Σ_rows g · x̂`;
    /// `gBias += Σ_rows g`. Any of the three outputs may be `nil` (not wanted); `scratch` holds
    /// at least `2 · columns` floats.
    public static func backward(
        _ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, columns: Int,
        weight: UnsafePointer<Float>?, mean: UnsafePointer<Float>, rstd: UnsafePointer<Float>,
        gradInput: UnsafeMutablePointer<Float>?, gradWeight: UnsafeMutablePointer<Float>?,
        gradBias: UnsafeMutablePointer<Float>?, scratch: UnsafeMutablePointer<Float>
    ) {
        if rows < 0 || columns < 0 { fatalError("LayerNormKernel.backward: negative size \(rows) × \(columns)") }
        let n = Float(Swift.max(columns, 1))
        let xhat = scratch, ghat = scratch + columns
        for r in 0..<rows {
            let row = x + r * columns, up = g + r * columns
            let mu = mean[r], inverse = rstd[r]
            for j in 0..<columns { xhat[j] = (row[j] - mu) * inverse }
            if let gradWeight { for j in 0..<columns { gradWeight[j] += up[j] * xhat[j] } }
            if let gradBias { for j in 0..<columns { gradBias[j] += up[j] } }
            guard let gradInput else { continue }
            if let weight {
                for j in 0..<columns { ghat[j] = up[j] * weight[j] }
            } else {
                ghat.update(from: up, count: columns)
            }
            var sumG: Float = 0, sumGX: Float = 0
            for j in 0..<columns {
                sumG += ghat[j]
                sumGX += ghat[j] * xhat[j]
            }
            let meanG = sumG / n, meanGX = sumGX / n
            let out = gradInput + r * columns
            for j in 0..<columns { out[j] += inverse * (ghat[j] - meanG - xhat[j] * meanGX) }
        }
    }
}
