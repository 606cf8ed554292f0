/// Indexing operations: the embedding lookup (rows of a table picked by integer indices, with
/// its scatter-add backward) and `argmax`.
extension Tensor {
    /// The rows of `weight` picked by `indices` (`torch.nn.functional.embedding`): the result
    /// has shape `shape + [D]`, and its element `[i₀, …, iₖ, :]` is row
    /// `indices[flat(i₀, …, iₖ)]` of `weight` (`indices` in row-major order of `shape`).
    ///
    /// The backward adds each position's gradient into the row of `weight.grad` that it was
    /// read from, so an index used several times accumulates all of its gradients; the row
    /// `paddingIdx` receives none (PyTorch's `padding_idx`). The forward does not read or
    /// change the padding row's values: it is returned like any other row.
    ///
    /// - Parameters:
    ///   - weight: the table, `(N, D)`.
    ///   - indices: row numbers in `0..<N`, `shape.reduce(1, *)` of them, row-major.
    ///   - shape: the shape of the index array (any rank, `[]` for a single index).
    ///   - paddingIdx: the row that gets no gradient, in `-N..<N` (negative values count from
    ///     the end), or `nil`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `weight` is not 2-D or `shape`
    ///   (negative dimension, overflowing product) does not hold `indices.count` indices;
    ///   ``TensorError/invalidArgument(_:)`` naming the first index outside `0..<N` and its
    ///   position, or a `paddingIdx` outside `-N..<N`. Nothing is recorded when it throws.
    public static func embedding(_ weight: Tensor, indices: [Int], shape: [Int], paddingIdx: Int? = nil) throws -> Tensor {
        guard weight.rank == 2 else {
            throw TensorError.shapeMismatch("embedding: expected a 2-D weight (numEmbeddings, embeddingDim), got \(weight.shape)")
        }
        let rows = weight.shape[0], dim = weight.shape[1]
        var expected = 1
        for d in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: d)
            guard d >= 0, !overflow else {
                throw TensorError.shapeMismatch("embedding: expected non-negative dimensions with an Int element count in index shape \(shape), got \(indices.count) indices")
            }
            expected = product
        }
        guard expected == indices.count else {
            throw TensorError.shapeMismatch("embedding: expected \(expected) indices for index shape \(shape), got \(indices.count)")
        }
        let padding = try normalizedPaddingIndex(paddingIdx, rows: rows, "embedding")
        if let position = indices.firstIndex(where: { $0 < 0 || $0 >= rows }) {
            throw TensorError.invalidArgument(
                "embedding: index \(indices[position]) at position \(position) is outside the valid range 0..<\(rows) (numEmbeddings)")
        }
        let n = indices.count
        let table = weight.storage
        let storage = TensorBuffer(count: n * dim) { y in
            // One bulk copy (memmove) per looked-up row.
            for (i, row) in indices.enumerated() {
                (y + i * dim).update(from: table.pointer + row * dim, count: dim)
            }
        }
        return Tensor.result("EmbeddingBackward", shape: shape + [dim], storage: storage, inputs: [weight],
                             recording: Tensor.needsRecording(weight)) { g, grads in
            guard let gw = grads[0] else { return }
            for (i, row) in indices.enumerated() where row != padding {
                let src = g + i * dim, dst = gw + row * dim
                for j in 0..<dim { dst[j] += src[j] }
            }
        }
    }

    /// `paddingIdx` made non-negative: `nil` stays `nil`, `-N..<0` counts from the end.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when it is outside `-N..<N`.
    static func normalizedPaddingIndex(_ paddingIdx: Int?, rows: Int, _ op: String) throws -> Int? {
        guard let paddingIdx else { return nil }
        guard paddingIdx >= -rows && paddingIdx < rows else {
            throw TensorError.invalidArgument("\(op): paddingIdx \(paddingIdx) is outside -\(rows)..<\(rows) (numEmbeddings \(rows))")
        }
        return paddingIdx < 0 ? paddingIdx + rows : paddingIdx
    }

    /// The position of the largest element along `dim` (`torch.argmax(x, dim)`), for each
    /// of the other positions. Not differentiable; records nothing.
    ///
    /// The result holds one index in `0..<shape[dim]` per element of the reduced shape
    /// (``shape`` with `dim` removed), in row-major order of that shape: for a `(B, L, C)`
    /// tensor, `argmax(dim: -1)` gives `B·L` class indices, the one for `[b, l]` at
    /// `b·L + l`. Ties give the first index, as in PyTorch; a NaN counts as the largest value
    /// (the first NaN wins), as in PyTorch. A scalar accepts `dim` `0` or `-1` and gives `[0]`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dim` is outside `-rank..<rank` or
    ///   the dimension `dim` is empty (no maximum).
    public func argmax(dim: Int) throws -> [Int] {
        if rank == 0 {
            guard dim == 0 || dim == -1 else {
                throw TensorError.invalidArgument("argmax: dimension \(dim) is outside -1...0 for a scalar tensor")
            }
            return [0]
        }
        let d = try normalized(dim: dim, "argmax")
        let (outer, size, inner) = split(at: d)
        guard size > 0 else {
            throw TensorError.invalidArgument("argmax: dimension \(dim) of shape \(shape) is empty, so it has no maximum")
        }
        let x = storage.pointer
        var result = [Int](repeating: 0, count: outer * inner)
        result.withUnsafeMutableBufferPointer { out in
            for o in 0..<outer {
                let block = x + o * size * inner
                for j in 0..<inner {
                    var best = block[j], position = 0
                    if !best.isNaN {
                        for k in 1..<size {
                            let v = block[k * inner + j]
                            if v > best || v.isNaN {
                                best = v
                                position = k
                                if v.isNaN { break }
                            }
                        }
                    }
                    out[o * inner + j] = position
                }
            }
        }
        return result
    }

    /// The flat (row-major) position of the largest element (`torch.argmax(x)` without a
    /// dimension). Ties give the first position; a NaN counts as the largest value.
    /// Not differentiable; records nothing.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the tensor has no elements.
    public func argmax() throws -> Int {
        guard count > 0 else {
            throw TensorError.invalidArgument("argmax: a tensor of shape \(shape) has no elements, so it has no maximum")
        }
        return try reshaped([count]).argmax(dim: 0)[0]
    }

    /// One index drawn per row from the categorical distribution whose weights are the row
    /// (`torch.multinomial(x, 1)` for a `(C)` or `(B, C)` tensor): index `k` with probability
    /// `x[b, k] / Σₖ x[b, k]`. The weights need not sum to 1 (probabilities from `softmax`,
    /// counts). Not differentiable; records nothing.
    ///
    /// Each row takes one `Double` in `[0, 1)` from `generator`, in row order, so the same
    /// generator state gives the same draws; an index whose weight is 0 is never drawn.
    ///
    /// - Returns: `B` indices in `0..<C` (one for a `(C)` tensor).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a tensor that is not of rank 1 or 2,
    ///   a weight that is negative, infinite or NaN, or a row whose weights are all 0 (then
    ///   nothing is drawn and the generator is left as it was).
    public func multinomial(using generator: inout SeededGenerator) throws -> [Int] {
        guard rank == 1 || rank == 2 else {
            throw TensorError.invalidArgument("multinomial: expected a (C) or (B, C) tensor of weights, got shape \(shape)")
        }
        let rows = rank == 1 ? 1 : shape[0], columns = shape[rank - 1]
        let x = storage.pointer
        var totals = [Double](repeating: 0, count: rows)
        for b in 0..<rows {
            var total = 0.0
            for k in 0..<columns {
                let w = x[b * columns + k]
                guard w >= 0 && w.isFinite else {
                    throw TensorError.invalidArgument("multinomial: expected finite, non-negative weights, got \(w) at row \(b), column \(k)")
                }
                total += Double(w)
            }
            guard total > 0 else {
                throw TensorError.invalidArgument("multinomial: row \(b) of shape \(shape) has no positive weight to draw from")
            }
            totals[b] = total
        }
        return (0..<rows).map { b in
            let target = Double.random(in: 0..<1, using: &generator) * totals[b]
            var cumulative = 0.0, last = 0
            for k in 0..<columns where x[b * columns + k] > 0 {
                cumulative += Double(x[b * columns + k])
                last = k
                if target < cumulative { return k }
            }
            return last   // rounding left the target at the very end: the last positive weight
        }
    }
}
