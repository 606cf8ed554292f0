/// A batch of variable-length sequences padded to the longest, with their lengths and
/// targets: what ``SequenceDataset`` makes for a ``DataLoader``.
public struct PaddedBatch<Target> {
    /// The sequences padded with zeros: `(B, L, F…)` when batch first, else `(L, B, F…)`.
    public let input: Tensor
    /// Each sequence's length, for the recurrent modules' `lengths:`.
    public let lengths: [Int]
    /// Each sequence's target, in the batch's order.
    public let targets: [Target]
}

/// Variable-length sequences with one target each (a class index, a label sequence, a
/// value), batched by padding (`pad_sequence` in a `collate_fn`): a batch is a
/// ``PaddedBatch`` with the padded sequences, their lengths and their targets.
///
/// ```swift
/// let data = try SequenceDataset(sequences: names, targets: languages)   // names[i]: (Lᵢ, 57)
/// let loader = try DataLoader(data, batchSize: 16, shuffle: true, generator: SeededGenerator(seed: 0))
/// for batch in loader {
///     let (output, _) = try lstm(batch.input, lengths: batch.lengths)
///     ...
/// }
/// ```
public struct SequenceDataset<Target>: Dataset, @unchecked Sendable {
    /// The sequences, each `(Lᵢ, F…)` with the same trailing dimensions (copies).
    public let sequences: [Tensor]
    /// One target per sequence.
    public let targets: [Target]
    /// Whether batches are batch first (`(B, L, F…)`) or time first (`(L, B, F…)`).
    public let batchFirst: Bool

    /// A dataset of `sequences` and their `targets`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the counts differ, there is no
    ///   sequence, a sequence has rank 0 or no step, or the trailing dimensions differ.
    public init(sequences: [Tensor], targets: [Target], batchFirst: Bool = true) throws {
        guard sequences.count == targets.count else {
            throw TensorError.shapeMismatch("SequenceDataset: expected one target per sequence (\(sequences.count)), got \(targets.count)")
        }
        guard let first = sequences.first, first.rank >= 1 else {
            throw TensorError.shapeMismatch("SequenceDataset: expected at least one sequence of rank ≥ 1, got \(sequences.first.map { "shape \($0.shape)" } ?? "none")")
        }
        let trailing = Array(first.shape.dropFirst())
        for (i, s) in sequences.enumerated() where s.rank < 1 || s.shape[0] < 1 || Array(s.shape.dropFirst()) != trailing {
            throw TensorError.shapeMismatch("SequenceDataset: expected every sequence of shape (L ≥ 1, \(trailing.map(String.init).joined(separator: ", "))), got \(s.shape) at position \(i)")
        }
        self.sequences = sequences.map { $0.detached() }
        self.targets = targets
        self.batchFirst = batchFirst
    }

    /// The number of sequences.
    public var count: Int { sequences.count }

    /// Sequence `index` and its target.
    public subscript(index: Int) -> (sequence: Tensor, target: Target) { (sequences[index], targets[index]) }

    /// The sequences at `indices`, padded, with their lengths and targets.
    public func batch(_ indices: [Int]) -> PaddedBatch<Target> {
        let chosen = indices.map { sequences[$0] }
        // The shapes were checked at creation, so padding cannot fail.
        let input = try! padSequence(chosen, batchFirst: batchFirst)
        return PaddedBatch(input: input, lengths: chosen.map { $0.shape[0] }, targets: indices.map { targets[$0] })
    }
}
