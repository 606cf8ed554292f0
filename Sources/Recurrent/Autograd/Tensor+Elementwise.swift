import LinearAlgebra

/// Elementwise math — `abs`, `sqrt`, `pow`, `sin`, `cos`, `clamp`, `sign`, `maximum`,
/// `minimum` — each one node whose forward runs a vectorised ``Elementwise`` kernel over the
/// whole buffer and whose backward is one loop over the buffer (no call per element).
extension Tensor {
    /// One unary node: `kernel(x, y, n)` fills the output; `backward(g, x, y, gx, n)` adds the
    /// input's gradient into `gx` (called once per backward pass, with whole buffers).
    @usableFromInline
    func mapped(_ name: String,
                _ kernel: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
                backward: @escaping (_ g: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                     _ gx: UnsafeMutablePointer<Float>, _ n: Int) -> Void) -> Tensor {
        let n = count, x = storage.pointer
        let storage = TensorBuffer(count: n) { y in kernel(x, y, n) }
        let y = storage.pointer
        // The node holds `self` (its input) and the output buffer, so `x` and `y` stay valid.
        return Tensor.result(name, shape: shape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            if let gx = grads[0] { backward(g, x, y, gx, n) }
        }
    }

    /// The absolute value of every element (`torch.abs`); the gradient is `sign(x)` (0 at 0,
    /// as in PyTorch).
    public func abs() -> Tensor {
        mapped("AbsBackward", { Elementwise.abs($0, $1, count: $2) }) { g, x, _, gx, n in
            for i in 0..<n {
                let v = x[i]
                gx[i] += v > 0 ? g[i] : (v < 0 ? -g[i] : 0)
            }
        }
    }

    /// The square root of every element (`torch.sqrt`; NaN for negative elements); the
    /// gradient is `1 / (2√x)`.
    public func sqrt() -> Tensor {
        mapped("SqrtBackward", { Elementwise.sqrt($0, $1, count: $2) }) { g, _, y, gx, n in
            for i in 0..<n { gx[i] += g[i] / (2 * y[i]) }
        }
    }

    /// Every element raised to `exponent` (`torch.pow(x, exponent)`, also `x ** exponent`): a
    /// negative element gives a real result only for an integer exponent (NaN otherwise), and
    /// `x^0 = 1`. The gradient is `exponent · x^(exponent−1)` (0 for the exponent 0).
    public func pow(_ exponent: Float) -> Tensor {
        mapped("PowBackward", { Elementwise.pow($0, exponent: exponent, $1, count: $2) }) { g, x, _, gx, n in
            if exponent == 0 { return }
            if exponent == 1 { for i in 0..<n { gx[i] += g[i] }; return }
            if exponent == 2 { for i in 0..<n { gx[i] += 2 * g[i] * x[i] }; return }
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { scratch in
                let d = scratch.baseAddress!
                Elementwise.pow(x, exponent: exponent - 1, d, count: n)
                for i in 0..<n { gx[i] += exponent * g[i] * d[i] }
            }
        }
    }

    /// The sine of every element (`torch.sin`); the gradient is `cos(x)`.
    public func sin() -> Tensor {
        mapped("SinBackward", { Elementwise.sin($0, $1, count: $2) }) { g, x, _, gx, n in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { scratch in
                let d = scratch.baseAddress!
                Elementwise.cos(x, d, count: n)
                for i in 0..<n { gx[i] += g[i] * d[i] }
            }
        }
    }

    /// The cosine of every element (`torch.cos`); the gradient is `−sin(x)`.
    public func cos() -> Tensor {
        mapped("CosBackward", { Elementwise.cos($0, $1, count: $2) }) { g, x, _, gx, n in
            withUnsafeTemporaryAllocation(of: Float.self, capacity: n) { scratch in
                let d = scratch.baseAddress!
                Elementwise.sin(x, d, count: n)
                for i in 0..<n { gx[i] -= g[i] * d[i] }
            }
        }
    }

    /// `1`, `-1` or `0` for every positive, negative or zero element (`torch.sign`; NaN stays
    /// NaN). Its gradient is 0 everywhere, as in PyTorch.
    public func sign() -> Tensor {
        mapped("SignBackward", { Elementwise.sign($0, $1, count: $2) }) { _, _, _, _, _ in }
    }

    /// Every element limited to `min...max` (`torch.clamp`); either bound may be `nil` (no
    /// limit on that side). NaN stays NaN; when `min > max` every element becomes `max`, as in
    /// PyTorch. The gradient passes where `min ≤ x ≤ max` and is 0 elsewhere.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when both bounds are `nil` (PyTorch
    ///   raises too) or a bound is NaN.
    public func clamp(min: Float? = nil, max: Float? = nil) throws -> Tensor {
        guard min != nil || max != nil else {
            throw TensorError.invalidArgument("clamp: expected at least one of min and max, got neither")
        }
        guard !(min?.isNaN ?? false), !(max?.isNaN ?? false) else {
            throw TensorError.invalidArgument("clamp: expected bounds that are not NaN, got min \(String(describing: min)) and max \(String(describing: max))")
        }
        let low = min ?? -.infinity, high = max ?? .infinity
        return mapped("ClampBackward", { Elementwise.clamp($0, low: low, high: high, $1, count: $2) }) { g, x, _, gx, n in
            for i in 0..<n {
                let v = x[i]
                gx[i] += (v >= low && v <= high) ? g[i] : 0
            }
        }
    }

    /// The elementwise maximum of `self` and `other`, with broadcasting (`torch.maximum`); NaN
    /// if either element is NaN. Where the two are equal, each gets half the gradient, as in
    /// PyTorch.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func maximum(_ other: Tensor) throws -> Tensor {
        try extremum(other, larger: true)
    }

    /// The elementwise minimum of `self` and `other`, with broadcasting (`torch.minimum`); NaN
    /// if either element is NaN. Where the two are equal, each gets half the gradient, as in
    /// PyTorch.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func minimum(_ other: Tensor) throws -> Tensor {
        try extremum(other, larger: false)
    }

    private func extremum(_ other: Tensor, larger: Bool) throws -> Tensor {
        let name = larger ? "maximum" : "minimum"
        let (a, b) = try Tensor.broadcastPair(self, other, name)
        let n = a.count, x = a.storage.pointer, y = b.storage.pointer
        let storage = TensorBuffer(count: n) { z in
            if larger { Elementwise.maximum(x, y, into: z, count: n) } else { Elementwise.minimum(x, y, into: z, count: n) }
        }
        return Tensor.result(larger ? "MaximumBackward" : "MinimumBackward", shape: a.shape, storage: storage,
                             inputs: [a, b], recording: Tensor.needsRecording(a, b)) { g, grads in
            // The gradient goes to the operand that was chosen, split evenly on ties.
            let sign: Float = larger ? 1 : -1
            if let ga = grads[0] {
                for i in 0..<n {
                    let d = sign * (x[i] - y[i])
                    ga[i] += d > 0 ? g[i] : (d == 0 ? 0.5 * g[i] : 0)
                }
            }
            if let gb = grads[1] {
                for i in 0..<n {
                    let d = sign * (y[i] - x[i])
                    gb[i] += d > 0 ? g[i] : (d == 0 ? 0.5 * g[i] : 0)
                }
            }
        }
    }

    /// `a` and `b` expanded to their broadcast shape (each unchanged when it already has it),
    /// so that a binary operation can run one flat loop; the expansions record their own
    /// backward (a sum over the broadcast dimensions).
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` naming `op` when the shapes do not broadcast.
    static func broadcastPair(_ a: Tensor, _ b: Tensor, _ op: String) throws -> (Tensor, Tensor) {
        if a.shape == b.shape { return (a, b) }
        guard let shape = Broadcast.shape(a.shape, b.shape) else {
            throw TensorError.shapeMismatch("\(op): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        return (try a.expand(shape), try b.expand(shape))
    }
}
