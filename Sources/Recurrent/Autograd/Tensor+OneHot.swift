import LinearAlgebra

extension Tensor {
    /// One-hot vectors of class indices (`torch.nn.functional.one_hot`, as `Float`): a tensor
    /// of shape `shape + [numClasses]` whose row `i` is 1 at `indices[i]` and 0 elsewhere —
    /// the input encoding of a character-level model.
    ///
    /// ```swift
    /// let line = try Tensor.oneHot([7, 0, 4], shape: [3, 1], numClasses: 58)   // (3, 1, 58)
    /// ```
    ///
    /// - Parameters:
    ///   - indices: the class indices, row-major over `shape`.
    ///   - shape: the shape of the indices (by default `[indices.count]`).
    ///   - numClasses: the number of classes, or −1 (PyTorch's default) for the largest
    ///     index plus one.
    /// - Returns: a tensor of `shape + [numClasses]`, not requiring gradients.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when an index is negative or not below
    ///   `numClasses`, `numClasses` is below −1 (or −1 with no index to infer it from), or
    ///   the result would not fit in memory; ``TensorError/shapeMismatch(_:)`` when `shape`
    ///   does not hold `indices.count` elements.
    public static func oneHot(_ indices: [Int], shape: [Int]? = nil, numClasses: Int = -1) throws -> Tensor {
        let shape = shape ?? [indices.count]
        guard try checkedCount(shape, "oneHot") == indices.count else {
            throw TensorError.shapeMismatch("oneHot: expected a shape of \(indices.count) elements (one per index), got \(shape)")
        }
        if let negative = indices.first(where: { $0 < 0 }) {
            throw TensorError.invalidArgument("oneHot: expected class indices ≥ 0, got \(negative)")
        }
        guard numClasses >= -1, numClasses != -1 || !indices.isEmpty else {
            throw TensorError.invalidArgument("oneHot: expected numClasses ≥ 0, or −1 with at least one index to infer it from, got \(numClasses) with \(indices.count) indices")
        }
        let classes = numClasses == -1 ? indices.max()! + 1 : numClasses
        if let large = indices.first(where: { $0 >= classes }) {
            throw TensorError.invalidArgument("oneHot: expected class indices below numClasses \(classes), got \(large)")
        }
        let result = try zeros(shape + [classes])
        let p = result.storage.pointer
        for (i, index) in indices.enumerated() { p[i * classes + index] = 1 }
        return result
    }
}
