import LinearAlgebra

/// Activations, softmax and dropout, each one node with its backward. The forward runs the
/// vectorised kernels of ``Elementwise`` over the whole buffer.
extension Tensor {
    /// Applies `kernel` to every element; `derivative(x, y)` gives dy/dx from the input and output.
    @usableFromInline
    func unary(_ name: String,
               _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
               derivative: @escaping (_ x: Float, _ y: Float) -> Float) -> Tensor {
        let n = count, x = storage.pointer
        let storage = TensorBuffer(count: n) { y in kernel(x, y, n) }
        let y = storage.pointer
        return Tensor.result(name, shape: shape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            if let gx = grads[0] { for i in 0..<n { gx[i] += g[i] * derivative(x[i], y[i]) } }
        }
    }

    /// The hyperbolic tangent of every element.
    public func tanh() -> Tensor {
        unary("TanhBackward", { Elementwise.tanh($0, $1, count: $2) }, derivative: { _, y in 1 - y * y })
    }

    /// The logistic sigmoid `1 / (1 + e^-x)` of every element.
    public func sigmoid() -> Tensor {
        unary("SigmoidBackward", { Elementwise.sigmoid($0, $1, count: $2) }, derivative: { _, y in y * (1 - y) })
    }

    /// `max(0, x)` for every element (the gradient at 0 is 0, as in PyTorch).
    public func relu() -> Tensor {
        unary("ReluBackward", { Elementwise.relu($0, $1, count: $2) }, derivative: { _, y in y > 0 ? 1 : 0 })
    }

    /// `e^x` for every element.
    public func exp() -> Tensor {
        unary("ExpBackward", { Elementwise.exp($0, $1, count: $2) }, derivative: { _, y in y })
    }

    /// The natural logarithm of every element.
    public func log() -> Tensor {
        unary("LogBackward", { Elementwise.log($0, $1, count: $2) }, derivative: { x, _ in 1 / x })
    }

    /// The softmax along `dim` (`torch.softmax`), computed stably.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func softmax(dim: Int = -1) throws -> Tensor {
        try softmaxFamily(dim: dim, logarithm: false)
    }

    /// The logarithm of the softmax along `dim` (`torch.log_softmax`), computed stably.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func logSoftmax(dim: Int = -1) throws -> Tensor {
        try softmaxFamily(dim: dim, logarithm: true)
    }

    private func softmaxFamily(dim: Int, logarithm: Bool) throws -> Tensor {
        let d = try normalized(dim: dim, logarithm ? "logSoftmax" : "softmax")
        let (outer, size, inner) = split(at: d)
        let x = storage.pointer
        let storage = TensorBuffer(count: count) { y in
            Tensor.softmaxForward(x, y, outer: outer, size: size, inner: inner, logarithm: logarithm)
        }
        let y = storage.pointer
        return Tensor.result(logarithm ? "LogSoftmaxBackward" : "SoftmaxBackward", shape: shape,
                             storage: storage, inputs: [self], recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            for o in 0..<outer {
                for j in 0..<inner {
                    let base = o * size * inner + j
                    if logarithm {   // dx = g - softmax · Σg
                        var total: Float = 0
                        for k in 0..<size { total += g[base + k * inner] }
                        for k in 0..<size {
                            let i = base + k * inner
                            gx[i] += g[i] - Foundation.exp(y[i]) * total
                        }
                    } else {         // dx = y · (g - Σ g·y)
                        var dot: Float = 0
                        for k in 0..<size { dot += g[base + k * inner] * y[base + k * inner] }
                        for k in 0..<size {
                            let i = base + k * inner
                            gx[i] += y[i] * (g[i] - dot)
                        }
                    }
                }
            }
        }
    }

    /// (Log-)softmax of `x` into `y` along the middle of an `outer × size × inner` layout.
    ///
    /// The exponentials go through the vectorised ``Elementwise/exp(_:_:count:)`` over whole
    /// contiguous rows (`inner == 1`, the usual last-dimension case) or blocks. Log-softmax
    /// is `(x - max) - log Σ e^(x - max)`, in that order, as PyTorch computes it: forming
    /// `max + log Σ` first loses the low bits of `log Σ` when the inputs are large
    /// (pytorch/pytorch#11752).
    @usableFromInline
    static func softmaxForward(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                               outer: Int, size: Int, inner: Int, logarithm: Bool) {
        if size == 0 || inner == 0 { return }
        if inner == 1 {
            for o in 0..<outer {
                let xs = x + o * size, ys = y + o * size
                var maximum = -Float.infinity
                for k in 0..<size { maximum = Swift.max(maximum, xs[k]) }
                if !maximum.isFinite { maximum = 0 }
                for k in 0..<size { ys[k] = xs[k] - maximum }
                Elementwise.exp(ys, ys, count: size)
                var total: Float = 0
                for k in 0..<size { total += ys[k] }
                if logarithm {
                    let logTotal = Foundation.log(total)
                    for k in 0..<size { ys[k] = (xs[k] - maximum) - logTotal }
                } else {
                    let inverse = 1 / total
                    for k in 0..<size { ys[k] *= inverse }
                }
            }
            return
        }
        // `size` rows of `inner` contiguous elements per outer index, reduced column-wise.
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * inner)
        defer { scratch.deallocate() }
        let maxima = scratch, totals = scratch + inner
        for o in 0..<outer {
            let xs = x + o * size * inner, ys = y + o * size * inner
            maxima.update(repeating: -.infinity, count: inner)
            for k in 0..<size {
                let row = xs + k * inner
                for j in 0..<inner { maxima[j] = Swift.max(maxima[j], row[j]) }
            }
            for j in 0..<inner where !maxima[j].isFinite { maxima[j] = 0 }
            for k in 0..<size {
                let src = xs + k * inner, dst = ys + k * inner
                for j in 0..<inner { dst[j] = src[j] - maxima[j] }
            }
            Elementwise.exp(ys, ys, count: size * inner)
            totals.update(repeating: 0, count: inner)
            for k in 0..<size {
                let row = ys + k * inner
                for j in 0..<inner { totals[j] += row[j] }
            }
            if logarithm {
                for j in 0..<inner { totals[j] = Foundation.log(totals[j]) }
                for k in 0..<size {
                    let src = xs + k * inner, dst = ys + k * inner
                    for j in 0..<inner { dst[j] = (src[j] - maxima[j]) - totals[j] }
                }
            } else {
                for j in 0..<inner { totals[j] = 1 / totals[j] }
                for k in 0..<size {
                    let row = ys + k * inner
                    for j in 0..<inner { row[j] *= totals[j] }
                }
            }
        }
    }

    /// Dropout (`torch.nn.functional.dropout`): in training, each element is zeroed with
    /// probability `p` and the others scaled by `1 / (1 - p)`; otherwise the input itself.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `p` is outside `[0, 1]`.
    public func dropout(p: Float, training: Bool, using generator: inout SeededGenerator) throws -> Tensor {
        guard p >= 0 && p <= 1 else {
            throw TensorError.invalidArgument("dropout: expected a probability in [0, 1], got \(p)")
        }
        if !training || p == 0 { return self }
        let n = count, x = storage.pointer
        let keep = 1 - p, scale: Float = keep > 0 ? 1 / keep : 0
        let mask = TensorBuffer(count: n)
        for i in 0..<n { mask.pointer[i] = generator.uniform(Float(0), Float(1)) < keep ? scale : 0 }
        let storage = TensorBuffer(count: n) { y in for i in 0..<n { y[i] = x[i] * mask.pointer[i] } }
        return Tensor.result("DropoutBackward", shape: shape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            if let gx = grads[0] { for i in 0..<n { gx[i] += g[i] * mask.pointer[i] } }
        }
    }
}

import Foundation
