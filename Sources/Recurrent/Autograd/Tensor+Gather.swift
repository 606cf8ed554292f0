/// `indexSelect` and `gather`: elements picked by integer positions, with scatter-add
/// backwards.
///
/// The library's tensors hold `Float` only, so an index tensor (PyTorch's `torch.long`) holds
/// integral `Float` values, exactly as ``max(dim:keepDim:)`` returns them; positions up to
/// 2²⁴ are exact.
extension Tensor {
    /// The slices at `indices` along `dim`, in that order (`torch.index_select(x, dim,
    /// index)`): the result has ``shape`` with `shape[dim]` replaced by `indices.count`. An
    /// index may repeat; its gradients add up.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a dimension out of range or an index
    ///   outside `0..<shape[dim]` (naming the first one and its position).
    public func indexSelect(dim: Int, indices: [Int]) throws -> Tensor {
        let d = try normalized(dim: dim, "indexSelect")
        let (outer, size, inner) = split(at: d)
        if let position = indices.firstIndex(where: { $0 < 0 || $0 >= size }) {
            throw TensorError.invalidArgument("indexSelect: index \(indices[position]) at position \(position) is outside 0..<\(size) (dimension \(dim) of shape \(shape))")
        }
        var outShape = shape
        outShape[d] = indices.count
        let m = indices.count, x = storage.pointer
        let storage = TensorBuffer(count: outer * m * inner) { y in
            for o in 0..<outer {
                for (k, index) in indices.enumerated() {
                    (y + (o * m + k) * inner).update(from: x + (o * size + index) * inner, count: inner)
                }
            }
        }
        return Tensor.result("IndexSelectBackward", shape: outShape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            for o in 0..<outer {
                for (k, index) in indices.enumerated() {
                    let src = g + (o * m + k) * inner, dst = gx + (o * size + index) * inner
                    for j in 0..<inner { dst[j] += src[j] }
                }
            }
        }
    }

    /// The slices at the positions held by the 1-D tensor `index` along `dim`
    /// (`torch.index_select(x, dim, index)`); see ``indexSelect(dim:indices:)``.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `index` is not 1-D (or a scalar);
    ///   ``TensorError/invalidArgument(_:)`` for a value that is not an integer in range.
    public func indexSelect(dim: Int, index: Tensor) throws -> Tensor {
        guard index.rank <= 1 else {
            throw TensorError.shapeMismatch("indexSelect: expected a 1-D index tensor, got shape \(index.shape)")
        }
        return try indexSelect(dim: dim, indices: index.integralIndices("indexSelect"))
    }

    /// The elements of `self` along `dim` at the positions in `index` (`torch.gather(x, dim,
    /// index)`): for a 3-D tensor and `dim` 1, `out[i][j][k] = self[i][index[i][j][k]][k]`.
    /// `index` has the rank of `self`, and no dimension other than `dim` larger than `self`'s;
    /// the result has `index`'s shape. The gradient is added back at the gathered positions.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the ranks differ or `index` is larger
    ///   than `self` in a dimension other than `dim`; ``TensorError/invalidArgument(_:)`` for a
    ///   dimension out of range or an index value that is not an integer in `0..<shape[dim]`.
    public func gather(dim: Int, index: Tensor) throws -> Tensor {
        guard index.rank == rank else {
            throw TensorError.shapeMismatch("gather: expected an index of rank \(rank) like \(shape), got shape \(index.shape)")
        }
        if rank == 0 {
            guard dim == 0 || dim == -1 else {
                throw TensorError.invalidArgument("gather: dimension \(dim) is outside -1...0 for a scalar tensor")
            }
            let positions = try index.integralIndices("gather")
            guard positions[0] == 0 else {
                throw TensorError.invalidArgument("gather: index \(positions[0]) is outside 0..<1 for a scalar tensor")
            }
            return clone()
        }
        let d = try normalized(dim: dim, "gather")
        for k in 0..<rank where k != d && index.shape[k] > shape[k] {
            throw TensorError.shapeMismatch("gather: index of shape \(index.shape) is larger than the tensor's shape \(shape) in dimension \(k)")
        }
        let positions = try index.integralIndices("gather")
        if let bad = positions.firstIndex(where: { $0 < 0 || $0 >= shape[d] }) {
            throw TensorError.invalidArgument("gather: index \(positions[bad]) at flat position \(bad) is outside 0..<\(shape[d]) (dimension \(dim) of shape \(shape))")
        }
        // Source offsets: the index's own position, read with `self`'s strides, with the
        // coordinate along `d` replaced by the index value.
        var strides = [Int](repeating: 1, count: rank)
        for k in Swift.stride(from: rank - 2, through: 0, by: -1) { strides[k] = strides[k + 1] * shape[k + 1] }
        var readStrides = strides
        readStrides[d] = 0
        let zeros = [Int](repeating: 0, count: rank)
        var offsets = [Int](repeating: 0, count: positions.count)
        let stepAlongDim = strides[d]
        offsets.withUnsafeMutableBufferPointer { out in
            Broadcast.forEach(index.shape, readStrides, zeros) { o, i, _ in out[o] = i + positions[o] * stepAlongDim }
        }
        let n = offsets.count, x = storage.pointer
        let storage = TensorBuffer(count: n) { y in
            for o in 0..<n { y[o] = x[offsets[o]] }
        }
        return Tensor.result("GatherBackward", shape: index.shape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            guard let gx = grads[0] else { return }
            for o in 0..<n { gx[offsets[o]] += g[o] }
        }
    }

    /// The elements as `Int` positions, checked to be integers.
    func integralIndices(_ op: String) throws -> [Int] {
        let x = storage.pointer
        var result = [Int](repeating: 0, count: count)
        for i in 0..<count {
            let v = x[i]
            guard v.isFinite, v.rounded(.towardZero) == v, Swift.abs(v) < 16_777_216 else {
                throw TensorError.invalidArgument("\(op): expected integer index values, got \(v) at flat position \(i)")
            }
            result[i] = Int(v)
        }
        return result
    }
}
