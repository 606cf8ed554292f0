/// Sums and means, over everything or along one dimension, with their backward.
extension Tensor {
    /// The sum of all elements, as a scalar tensor.
    public func sum() -> Tensor {
        let n = count, x = storage.pointer
        let total = Elementwise.sum(x, count: n)
        let storage = TensorBuffer(count: 1)
        storage.pointer[0] = total
        return Tensor.result("SumBackward", shape: [], storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            if let gx = grads[0] { let v = g[0]; for i in 0..<n { gx[i] += v } }
        }
    }

    /// The mean of all elements, as a scalar tensor; NaN for an empty tensor, as in PyTorch.
    public func mean() -> Tensor {
        sum().affine(scale: 1 / Float(count))
    }

    /// The sums along `dim` (`torch.sum(x, dim, keepdim)`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func sum(dim: Int, keepDim: Bool = false) throws -> Tensor {
        let d = try normalized(dim: dim, "sum")
        let (outer, size, inner) = split(at: d)
        var outShape = shape
        if keepDim { outShape[d] = 1 } else { outShape.remove(at: d) }
        let x = storage.pointer
        let storage = TensorBuffer(count: outer * inner) { y in
            for o in 0..<outer {
                for k in 0..<size {
                    let src = x + (o * size + k) * inner, dst = y + o * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
        }
        return Tensor.result("SumBackward", shape: outShape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            for o in 0..<outer {
                for k in 0..<size {
                    let dst = gx + (o * size + k) * inner, src = g + o * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
        }
    }

    /// The means along `dim` (`torch.mean(x, dim, keepdim)`); NaN where `dim` has size 0,
    /// as in PyTorch.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range.
    public func mean(dim: Int, keepDim: Bool = false) throws -> Tensor {
        let d = try normalized(dim: dim, "mean")
        return try sum(dim: d, keepDim: keepDim).affine(scale: 1 / Float(shape[d]))
    }
}
