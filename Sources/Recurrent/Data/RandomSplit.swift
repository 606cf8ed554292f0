import LinearAlgebra

/// The examples of a dataset at chosen indices (`torch.utils.data.Subset`), what
/// ``randomSplit(_:_:generator:)`` returns: example `i` is `dataset[indices[i]]`, and a batch
/// is the dataset's batch of the chosen indices.
public struct Subset<D: Dataset>: Dataset {
    /// The whole dataset.
    public let dataset: D
    /// The positions in ``dataset`` of this subset's examples, in order.
    public let indices: [Int]

    /// The examples of `dataset` at `indices`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when an index is outside `0..<dataset.count`.
    public init(_ dataset: D, indices: [Int]) throws {
        if let bad = indices.first(where: { !(0..<dataset.count).contains($0) }) {
            throw TensorError.invalidArgument("Subset: expected indices in 0..<\(dataset.count), got \(bad)")
        }
        self.dataset = dataset
        self.indices = indices
    }

    /// The number of chosen examples.
    public var count: Int { indices.count }

    /// The example at `dataset[indices[index]]`.
    public subscript(index: Int) -> D.Element { dataset[indices[index]] }

    /// The dataset's batch of the examples at `indices` of this subset.
    public func batch(_ indices: [Int]) -> D.Batch { dataset.batch(indices.map { self.indices[$0] }) }
}

extension Subset: @unchecked Sendable where D: Sendable {}

/// Splits `dataset` at random into non-overlapping subsets of the given sizes
/// (`torch.utils.data.random_split`), drawing PyTorch's permutation from `generator`: with
/// the same seed, the subsets hold the examples PyTorch's do.
///
/// ```swift
/// // PyTorch: random_split(data, [.85, .15], generator=torch.Generator().manual_seed(2024))
/// var generator = TorchGenerator(seed: 2024)
/// let split = try randomSplit(data, [0.85, 0.15], generator: &generator)   // [train, test]
/// ```
///
/// - Parameters:
///   - dataset: the dataset to split.
///   - lengths: the sizes of the subsets, summing to `dataset.count`; or fractions in
///     `[0, 1]` summing to 1, each taking `⌊count · fraction⌋` examples and the remainder
///     given one by one to the first subsets, as PyTorch does.
///   - generator: the stream the permutation is drawn from (`randperm(count)`).
/// - Returns: one ``Subset`` per length, in order.
/// - Throws: ``TensorError/invalidArgument(_:)`` when a length is negative (a fraction
///   outside `[0, 1]`) or the lengths do not sum to the dataset's count (fractions to 1);
///   the generator is not advanced then.
public func randomSplit<D: Dataset>(_ dataset: D, _ lengths: [Double], generator: inout TorchGenerator) throws -> [Subset<D>] {
    let sizes = try splitSizes(lengths, count: dataset.count)
    let order = try generator.randperm(dataset.count)
    var result: [Subset<D>] = [], start = 0
    for size in sizes {
        result.append(try Subset(dataset, indices: Array(order[start..<start + size])))
        start += size
    }
    return result
}

/// The subset sizes PyTorch's `random_split` makes of `lengths` (sizes, or fractions that
/// sum to 1) for a dataset of `count` examples.
func splitSizes(_ lengths: [Double], count: Int) throws -> [Int] {
    let total = lengths.reduce(0, +)
    guard !lengths.isEmpty, lengths.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
        throw TensorError.invalidArgument("randomSplit: expected at least one length, each ≥ 0, got \(lengths)")
    }
    if Swift.abs(total - 1) <= 1e-9 && total <= 1 {
        // Fractions (PyTorch's test: math.isclose(sum, 1) and sum <= 1).
        guard lengths.allSatisfy({ $0 <= 1 }) else {
            throw TensorError.invalidArgument("randomSplit: expected fractions in [0, 1], got \(lengths)")
        }
        var sizes = lengths.map { Int((Double(count) * $0).rounded(.down)) }
        let remainder = count - sizes.reduce(0, +)
        for i in 0..<Swift.max(remainder, 0) { sizes[i % sizes.count] += 1 }
        return sizes
    }
    guard lengths.allSatisfy({ $0 == $0.rounded() && $0 <= Double(Int.max) }), total == Double(count) else {
        throw TensorError.invalidArgument("randomSplit: expected whole lengths that sum to the dataset's \(count) examples (or fractions that sum to 1), got \(lengths)")
    }
    return lengths.map { Int($0) }
}
