/// Subscripts for the common cases of PyTorch's indexing: integers select (and drop a
/// dimension), ranges narrow: `x[1]`, `x[-1]`, `x[0..<2, 1]`, `x[1..., 2...3]`, `x[..<4]`.
///
/// One argument per leading dimension; dimensions not mentioned are kept whole (`x[0...]`
/// keeps a dimension, like PyTorch's `x[:]`). The results are copies that stay in the graph
/// (gradients flow back to the indexed tensor); assignment through a subscript is not offered.
extension Tensor {
    /// The part of the tensor picked by `indices`, one per leading dimension.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for more indices than dimensions, an
    ///   integer outside `-size..<size` or a range outside `0...size`.
    public subscript(_ indices: any TensorSubscript...) -> Tensor {
        get throws {
            guard indices.count <= rank else {
                throw TensorError.invalidArgument("subscript: \(indices.count) indices for a tensor of shape \(shape)")
            }
            var result = self
            var dim = 0
            for (k, index) in indices.enumerated() {
                let size = result.shape[dim]
                guard let (start, length, drops) = index.selection(along: size) else {
                    throw TensorError.invalidArgument("subscript: index \(index) (position \(k)) is outside dimension \(k) of size \(size) in shape \(shape)")
                }
                if drops {
                    result = try result.select(dim: dim, index: start)
                } else {
                    if !(start == 0 && length == size) { result = try result.narrow(dim: dim, start: start, length: length) }
                    dim += 1
                }
            }
            return result
        }
    }
}

/// A subscript argument of a ``Tensor``: an `Int` (selects one position, negative values
/// counting from the end, and drops the dimension) or a range of `Int` (keeps the positions
/// in it and the dimension).
public protocol TensorSubscript: Sendable {
    /// The positions picked along a dimension of `size`: the first, how many, and whether the
    /// dimension is dropped; `nil` when they are outside the dimension.
    func selection(along size: Int) -> (start: Int, length: Int, drops: Bool)?
}

extension Int: TensorSubscript {
    /// This position (negative values count from the end), dropping the dimension.
    public func selection(along size: Int) -> (start: Int, length: Int, drops: Bool)? {
        let i = self < 0 ? self + size : self
        return i >= 0 && i < size ? (i, 1, true) : nil
    }
}

extension Range: TensorSubscript where Bound == Int {
    /// The positions `lowerBound..<upperBound`.
    public func selection(along size: Int) -> (start: Int, length: Int, drops: Bool)? {
        lowerBound >= 0 && upperBound <= size ? (lowerBound, count, false) : nil
    }
}

extension ClosedRange: TensorSubscript where Bound == Int {
    /// The positions `lowerBound...upperBound`.
    public func selection(along size: Int) -> (start: Int, length: Int, drops: Bool)? {
        lowerBound >= 0 && upperBound < size ? (lowerBound, count, false) : nil
    }
}

extension PartialRangeFrom: TensorSubscript where Bound == Int {
    /// The positions from `lowerBound` to the end (`x[2:]`).
    public func selection(along size: Int) -> (start: Int, length: Int, drops: Bool)? {
        lowerBound >= 0 && lowerBound <= size ? (lowerBound, size - lowerBound, false) : nil
    }
}

extension PartialRangeUpTo: TensorSubscript where Bound == Int {
    /// The positions before `upperBound` (`x[:3]`).
    public func selection(along size: Int) -> (start: Int, length: Int, drops: Bool)? {
        upperBound >= 0 && upperBound <= size ? (0, upperBound, false) : nil
    }
}

extension PartialRangeThrough: TensorSubscript where Bound == Int {
    /// The positions up to and including `upperBound`.
    public func selection(along size: Int) -> (start: Int, length: Int, drops: Bool)? {
        upperBound >= 0 && upperBound < size ? (0, upperBound + 1, false) : nil
    }
}
