import Foundation

/// Reductions beyond `sum` and `mean`: `max`/`min` (over everything, or along a dimension with
/// the indices), `logsumexp`, `var` and `std`, and sums and means over several dimensions;
/// each one node with its backward.
///
/// A reduction along `dim` sees the tensor as `outer × size × inner` (the products of the
/// dimensions before, at and after `dim`) and reduces the middle one.
extension Tensor {
    /// The shape after reducing `dim`: the dimension kept as 1 or removed.
    func reducedShape(_ d: Int, keepDim: Bool) -> [Int] {
        var s = shape
        if keepDim { s[d] = 1 } else { s.remove(at: d) }
        return s
    }

    /// `dim` checked for a reduction that needs at least one element along it; a scalar is
    /// treated as a 1-element 1-D tensor (`dim` `0` or `-1`), as in PyTorch.
    func reductionLayout(_ dim: Int, _ op: String, keepDim: Bool, nonEmpty: Bool = true)
        throws -> (outer: Int, size: Int, inner: Int, shape: [Int]) {
        if rank == 0 {
            guard dim == 0 || dim == -1 else {
                throw TensorError.invalidArgument("\(op): dimension \(dim) is outside -1...0 for a scalar tensor")
            }
            return (1, 1, 1, [])
        }
        let d = try normalized(dim: dim, op)
        let (outer, size, inner) = split(at: d)
        if nonEmpty && size == 0 {
            throw TensorError.invalidArgument("\(op): dimension \(dim) of shape \(shape) is empty, so there is nothing to reduce")
        }
        return (outer, size, inner, reducedShape(d, keepDim: keepDim))
    }

    // MARK: - max and min

    /// The largest element along `dim` and its position (`torch.max(x, dim, keepdim)`).
    ///
    /// `values` has ``shape`` with `dim` removed (or kept as 1 with `keepDim`); `indices` has
    /// the same shape and holds each maximum's position along `dim` as an integral `Float`
    /// (the library has no integer tensors), ready for ``gather(dim:index:)``. Ties give the
    /// first position; NaN counts as the largest value, as in PyTorch. The gradient goes to the
    /// chosen position.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dim` is out of range or the
    ///   dimension is empty.
    public func max(dim: Int, keepDim: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        try extremum(dim: dim, keepDim: keepDim, largest: true)
    }

    /// The smallest element along `dim` and its position (`torch.min(x, dim, keepdim)`); see
    /// ``max(dim:keepDim:)``. NaN counts as the smallest value.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dim` is out of range or the
    ///   dimension is empty.
    public func min(dim: Int, keepDim: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        try extremum(dim: dim, keepDim: keepDim, largest: false)
    }

    private func extremum(dim: Int, keepDim: Bool, largest: Bool) throws -> (values: Tensor, indices: Tensor) {
        let op = largest ? "max" : "min"
        let (outer, size, inner, outShape) = try reductionLayout(dim, op, keepDim: keepDim)
        let x = storage.pointer
        var positions = [Int](repeating: 0, count: outer * inner)
        let values = TensorBuffer(count: outer * inner)
        let v = values.pointer
        for o in 0..<outer {
            let block = x + o * size * inner
            for j in 0..<inner {
                var best = block[j], position = 0
                if !best.isNaN {
                    for k in 1..<Swift.max(size, 1) {
                        let candidate = block[k * inner + j]
                        if candidate.isNaN { best = candidate; position = k; break }
                        if largest ? candidate > best : candidate < best { best = candidate; position = k }
                    }
                }
                v[o * inner + j] = best
                positions[o * inner + j] = position
            }
        }
        let indices = Tensor(shape: outShape, storage: TensorBuffer(copying: positions.map(Float.init)))
        let output = Tensor.result(largest ? "MaxBackward" : "MinBackward", shape: outShape, storage: values,
                                   inputs: [self], recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            for o in 0..<outer {
                for j in 0..<inner {
                    gx[(o * size + positions[o * inner + j]) * inner + j] += g[o * inner + j]
                }
            }
        }
        return (output, indices)
    }

    /// The largest element, as a scalar tensor (`torch.max(x)`); NaN if any element is NaN.
    /// The gradient is shared evenly among the elements equal to the maximum, as in PyTorch.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a tensor without elements.
    public func max() throws -> Tensor { try extremum(largest: true) }

    /// The smallest element, as a scalar tensor (`torch.min(x)`); see ``max()``.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a tensor without elements.
    public func min() throws -> Tensor { try extremum(largest: false) }

    private func extremum(largest: Bool) throws -> Tensor {
        guard count > 0 else {
            throw TensorError.invalidArgument("\(largest ? "max" : "min"): a tensor of shape \(shape) has no elements")
        }
        let n = count, x = storage.pointer
        var best = x[0]
        for i in 0..<n {
            let candidate = x[i]
            if candidate.isNaN { best = candidate; break }
            if largest ? candidate > best : candidate < best { best = candidate }
        }
        let storage = TensorBuffer(count: 1)
        storage.pointer[0] = best
        let chosen = best
        return Tensor.result(largest ? "MaxBackward" : "MinBackward", shape: [], storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            var ties = 0
            for i in 0..<n where x[i] == chosen || (chosen.isNaN && x[i].isNaN) { ties += 1 }
            let share = g[0] / Float(ties)
            for i in 0..<n where x[i] == chosen || (chosen.isNaN && x[i].isNaN) { gx[i] += share }
        }
    }

    // MARK: - logsumexp

    /// `log Σ exp(x)` along `dim`, computed stably (`torch.logsumexp(x, dim, keepdim)`): the
    /// maximum is taken out first, and a dimension whose maximum is infinite gives that
    /// infinity. The gradient is the softmax along `dim`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func logsumexp(dim: Int, keepDim: Bool = false) throws -> Tensor {
        let (outer, size, inner, outShape) = try reductionLayout(dim, "logsumexp", keepDim: keepDim, nonEmpty: false)
        let x = storage.pointer
        let storage = TensorBuffer(count: outer * inner) { y in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(size * inner, 1)) { scratch in
                let e = scratch.baseAddress!
                for o in 0..<outer {
                    let block = x + o * size * inner, out = y + o * inner
                    for j in 0..<inner { out[j] = -.infinity }
                    for k in 0..<size {
                        for j in 0..<inner { out[j] = Swift.max(out[j], block[k * inner + j]) }
                    }
                    for k in 0..<size {
                        for j in 0..<inner {
                            let m = out[j]
                            e[k * inner + j] = block[k * inner + j] - (m.isInfinite ? 0 : m)
                        }
                    }
                    Elementwise.exp(e, e, count: size * inner)
                    for j in 0..<inner {
                        var total: Float = 0
                        for k in 0..<size { total += e[k * inner + j] }
                        let m = out[j]
                        out[j] = Foundation.log(total) + (m.isInfinite ? 0 : m)
                    }
                }
            }
        }
        let y = storage.pointer
        return Tensor.result("LogsumexpBackward", shape: outShape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            let n = outer * size * inner
            withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(n, 1)) { scratch in
                let e = scratch.baseAddress!
                for o in 0..<outer {
                    for k in 0..<size {
                        for j in 0..<inner {
                            let i = (o * size + k) * inner + j
                            e[i] = x[i] - y[o * inner + j]
                        }
                    }
                }
                Elementwise.exp(e, e, count: n)
                for o in 0..<outer {
                    for k in 0..<size {
                        for j in 0..<inner {
                            let i = (o * size + k) * inner + j
                            gx[i] += g[o * inner + j] * e[i]
                        }
                    }
                }
            }
        }
    }

    // MARK: - var and std

    /// The variance along `dim` (`torch.var(x, dim, correction=…, keepdim)`): the mean squared
    /// deviation from the mean, divided by `N − correction` (`1`, the default, is the unbiased
    /// estimate; `0` the population variance). `N ≤ correction` gives NaN or infinity, as in
    /// PyTorch.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range or a
    ///   negative `correction`.
    public func `var`(dim: Int, correction: Int = 1, keepDim: Bool = false) throws -> Tensor {
        try spread(dim: dim, correction: correction, keepDim: keepDim, root: false)
    }

    /// The standard deviation along `dim` (`torch.std(x, dim, correction=…, keepdim)`), the
    /// square root of ``var(dim:correction:keepDim:)``. Where it is 0, the gradient is 0
    /// (as in PyTorch), not infinite.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range or a
    ///   negative `correction`.
    public func std(dim: Int, correction: Int = 1, keepDim: Bool = false) throws -> Tensor {
        try spread(dim: dim, correction: correction, keepDim: keepDim, root: true)
    }

    /// The variance of all elements, as a scalar (`torch.var(x, correction=…)`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `correction`.
    public func `var`(correction: Int = 1) throws -> Tensor {
        try reshaped([count]).spread(dim: 0, correction: correction, keepDim: false, root: false)
    }

    /// The standard deviation of all elements, as a scalar (`torch.std(x, correction=…)`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `correction`.
    public func std(correction: Int = 1) throws -> Tensor {
        try reshaped([count]).spread(dim: 0, correction: correction, keepDim: false, root: true)
    }

    private func spread(dim: Int, correction: Int, keepDim: Bool, root: Bool) throws -> Tensor {
        let op = root ? "std" : "var"
        guard correction >= 0 else {
            throw TensorError.invalidArgument("\(op): expected a non-negative correction, got \(correction)")
        }
        let (outer, size, inner, outShape) = try reductionLayout(dim, op, keepDim: keepDim, nonEmpty: false)
        let x = storage.pointer
        let divisor = Float(Swift.max(size - correction, 0))
        // The means are kept for the backward.
        let means = TensorBuffer(count: outer * inner)
        let mu = means.pointer
        let storage = TensorBuffer(count: outer * inner) { y in
            for o in 0..<outer {
                let block = x + o * size * inner, m = mu + o * inner, out = y + o * inner
                for k in 0..<size { for j in 0..<inner { m[j] += block[k * inner + j] } }
                for j in 0..<inner { m[j] /= Float(size) }
                for k in 0..<size {
                    for j in 0..<inner {
                        let d = block[k * inner + j] - m[j]
                        out[j] += d * d
                    }
                }
                for j in 0..<inner { out[j] /= divisor }
                if root { for j in 0..<inner { out[j] = out[j].squareRoot() } }
            }
        }
        let y = storage.pointer
        return Tensor.result(root ? "StdBackward" : "VarBackward", shape: outShape, storage: storage,
                             inputs: [self], recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            withExtendedLifetime(means) {
                for o in 0..<outer {
                    for k in 0..<size {
                        for j in 0..<inner {
                            let r = o * inner + j, i = (o * size + k) * inner + j
                            // d var / dx = 2 (x − mean) / divisor; d std = d var / (2 std).
                            var scale = 2 * g[r] / divisor
                            if root { scale = y[r] == 0 ? 0 : scale / (2 * y[r]) }
                            gx[i] += scale * (x[i] - mu[r])
                        }
                    }
                }
            }
        }
    }

    // MARK: - Several dimensions

    /// The sums over every dimension in `dims` (`torch.sum(x, dims, keepdim)`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range or repeated.
    public func sum(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        var result = self
        for d in try distinctDims(dims, "sum").sorted(by: >) { result = try result.sum(dim: d, keepDim: keepDim) }
        return result
    }

    /// The means over every dimension in `dims` (`torch.mean(x, dims, keepdim)`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range or repeated.
    public func mean(dims: [Int], keepDim: Bool = false) throws -> Tensor {
        let ds = try distinctDims(dims, "mean")
        let n = ds.reduce(1) { $0 * shape[$1] }
        return try sum(dims: ds, keepDim: keepDim).affine(scale: 1 / Float(Swift.max(n, 1)))
    }

    private func distinctDims(_ dims: [Int], _ op: String) throws -> [Int] {
        let ds = try dims.map { try normalized(dim: $0, op) }
        guard Set(ds).count == ds.count else {
            throw TensorError.invalidArgument("\(op): dimension repeated in \(dims) for shape \(shape)")
        }
        return ds
    }
}
