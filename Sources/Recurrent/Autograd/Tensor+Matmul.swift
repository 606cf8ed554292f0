import LinearAlgebra

/// Matrix products through BLAS, with their backward.
extension Tensor {
    /// The matrix product (`torch.matmul` for the common cases): `(…, n, k) · (k, m)` gives
    /// `(…, n, m)` (leading dimensions of `self` are batch dimensions), and a 1-D `self` of
    /// length `k` gives `(m)`.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the inner dimensions differ or
    ///   `other` is not 2-D.
    public func matmul(_ other: Tensor) throws -> Tensor {
        guard other.rank == 2, rank >= 1, shape[rank - 1] == other.shape[0] else {
            throw TensorError.shapeMismatch("matmul: expected (…, k) · (k, m), got \(shape) · \(other.shape)")
        }
        let k = other.shape[0], m = other.shape[1]
        let n = shape.dropLast().reduce(1, *)
        var outShape = Array(shape.dropLast())
        outShape.append(m)
        let a = storage, b = other.storage
        let storage = TensorBuffer(count: n * m)
        BLAS.gemm(MatrixView(a.pointer, rows: n, columns: k, leadingDimension: Swift.max(k, 1)), .noTranspose,
                  MatrixView(b.pointer, rows: k, columns: m, leadingDimension: Swift.max(m, 1)), .noTranspose,
                  into: MutableMatrixView(storage.pointer, rows: n, columns: m, leadingDimension: Swift.max(m, 1)))
        return Tensor.result("MmBackward", shape: outShape, storage: storage, inputs: [self, other],
                             recording: Tensor.needsRecording(self, other)) { g, grads in
            let gv = MatrixView(g, rows: n, columns: m, leadingDimension: Swift.max(m, 1))
            if let ga = grads[0] {   // dA += dC · Bᵀ
                BLAS.gemm(gv, .noTranspose, MatrixView(b.pointer, rows: k, columns: m, leadingDimension: Swift.max(m, 1)), .transpose,
                          into: MutableMatrixView(ga, rows: n, columns: k, leadingDimension: Swift.max(k, 1)), beta: 1)
            }
            if let gb = grads[1] {   // dB += Aᵀ · dC
                BLAS.gemm(MatrixView(a.pointer, rows: n, columns: k, leadingDimension: Swift.max(k, 1)), .transpose, gv, .noTranspose,
                          into: MutableMatrixView(gb, rows: k, columns: m, leadingDimension: Swift.max(m, 1)), beta: 1)
            }
        }
    }

    /// `x · Wᵀ + b` as one fused operation (`torch.nn.functional.linear`, PyTorch's `addmm`):
    /// `input` is `(…, inFeatures)`, `weight` `(outFeatures, inFeatures)`, `bias`
    /// `(outFeatures)` or `nil`; the result is `(…, outFeatures)`.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not fit.
    public static func linear(_ input: Tensor, weight: Tensor, bias: Tensor?) throws -> Tensor {
        guard weight.rank == 2 else {
            throw TensorError.shapeMismatch("linear: expected a 2-D weight (out, in), got \(weight.shape)")
        }
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        guard input.rank >= 1, input.shape[input.rank - 1] == inFeatures else {
            throw TensorError.shapeMismatch("linear: expected input (…, \(inFeatures)), got \(input.shape)")
        }
        if let bias, bias.shape != [outFeatures] {
            throw TensorError.shapeMismatch("linear: expected bias of shape [\(outFeatures)], got \(bias.shape)")
        }
        let n = input.shape.dropLast().reduce(1, *)
        var outShape = Array(input.shape.dropLast())
        outShape.append(outFeatures)
        let x = input.storage, w = weight.storage, b = bias?.storage
        let ldIn = Swift.max(inFeatures, 1), ldOut = Swift.max(outFeatures, 1)
        let storage = TensorBuffer(count: n * outFeatures)
        let y = MutableMatrixView(storage.pointer, rows: n, columns: outFeatures, leadingDimension: ldOut)
        if let b {
            for r in 0..<n { (storage.pointer + r * outFeatures).update(from: b.pointer, count: outFeatures) }
        }
        let wv = MatrixView(w.pointer, rows: outFeatures, columns: inFeatures, leadingDimension: ldIn)
        if n == 1 {
            // One row: small enough that a second OpenBLAS thread only adds its wake-up cost.
            let threads = FusedRecurrence.singleThreadedSteps(multiplyAdds: outFeatures * inFeatures)
            BLAS.gemv(wv, .noTranspose, x.pointer, into: storage.pointer, beta: b == nil ? 0 : 1)
            FusedRecurrence.restoreThreads(threads)
        } else {
            BLAS.gemm(MatrixView(x.pointer, rows: n, columns: inFeatures, leadingDimension: ldIn), .noTranspose,
                      wv, .transpose, into: y, beta: b == nil ? 0 : 1)
        }
        var inputs = [input, weight]
        if let bias { inputs.append(bias) }
        return result("AddmmBackward", shape: outShape, storage: storage, inputs: inputs,
                      recording: needsRecording(inputs)) { g, grads in
            let gv = MatrixView(g, rows: n, columns: outFeatures, leadingDimension: ldOut)
            let threads = n == 1 && FusedRecurrence.singleThreadedSteps(multiplyAdds: outFeatures * inFeatures)
            defer { FusedRecurrence.restoreThreads(threads) }
            if let gx = grads[0] {   // dX += dY · W
                if n == 1 {
                    BLAS.gemv(wv, .transpose, g, into: gx, beta: 1)
                } else {
                    BLAS.gemm(gv, .noTranspose, wv, .noTranspose,
                              into: MutableMatrixView(gx, rows: n, columns: inFeatures, leadingDimension: ldIn), beta: 1)
                }
            }
            if let gw = grads[1] {   // dW += dYᵀ · X
                let gwv = MutableMatrixView(gw, rows: outFeatures, columns: inFeatures, leadingDimension: ldIn)
                if n == 1 {
                    BLAS.ger(g, x.pointer, into: gwv)
                } else {
                    BLAS.gemm(gv, .transpose, MatrixView(x.pointer, rows: n, columns: inFeatures, leadingDimension: ldIn), .noTranspose,
                              into: gwv, beta: 1)
                }
            }
            if grads.count > 2, let gb = grads[2] {   // db += column sums of dY
                for r in 0..<n {
                    let row = g + r * outFeatures
                    for j in 0..<outFeatures { gb[j] += row[j] }
                }
            }
        }
    }
}
