/// A collection of training examples that a ``DataLoader`` batches
/// (`torch.utils.data.Dataset`, map-style): a count, an element by index, and how a list
/// of indices becomes one batch (PyTorch's `collate_fn`).
///
/// Conforming types check their data when they are created, so that building a batch
/// cannot fail: ``TensorDataset`` (tensors sharing their first dimension) and
/// ``SequenceDataset`` (variable-length sequences with targets, batched padded with their
/// lengths). A type of yours needs ``count``, the subscript and ``batch(_:)``; when its
/// `Batch` is `[Element]` the default ``batch(_:)`` lists the elements.
public protocol Dataset {
    /// One example.
    associatedtype Element
    /// What ``batch(_:)`` makes of several examples.
    associatedtype Batch
    /// The number of examples.
    var count: Int { get }
    /// The example at `index` (in `0..<count`).
    subscript(index: Int) -> Element { get }
    /// The batch of the examples at `indices` (each in `0..<count`), in that order.
    func batch(_ indices: [Int]) -> Batch
}

extension Dataset where Batch == [Element] {
    /// The examples at `indices`, as a list.
    public func batch(_ indices: [Int]) -> [Element] { indices.map { self[$0] } }
}

/// Tensors that share their first dimension, as examples by row
/// (`torch.utils.data.TensorDataset`): example `i` is row `i` of every tensor, and a batch
/// stacks the rows (each copied as one block).
///
/// ```swift
/// let data = try TensorDataset(inputs, targets)      // inputs (N, L, F), targets (N, 1)
/// let loader = try DataLoader(data, batchSize: 32, shuffle: true, generator: SeededGenerator(seed: 1))
/// for batch in loader { let x = batch[0], y = batch[1] ... }
/// ```
public struct TensorDataset: Dataset, @unchecked Sendable {
    /// The tensors (copies taken at creation), all with ``count`` rows.
    public let tensors: [Tensor]
    /// The number of rows.
    public let count: Int

    /// A dataset of the rows of `tensors`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when there is no tensor, one has rank 0,
    ///   or their first dimensions differ.
    public init(_ tensors: [Tensor]) throws {
        guard let first = tensors.first else {
            throw TensorError.shapeMismatch("TensorDataset: expected at least one tensor, got none")
        }
        for (i, t) in tensors.enumerated() where t.rank == 0 || t.shape[0] != first.shape[0] {
            throw TensorError.shapeMismatch("TensorDataset: expected every tensor to have \(first.rank == 0 ? "rank ≥ 1" : "\(first.shape[0]) rows"), got shape \(t.shape) at position \(i)")
        }
        self.tensors = tensors.map { $0.detached() }
        count = first.shape[0]
    }

    /// A dataset of the rows of `tensors`.
    /// - Throws: what the initialiser over an array of tensors throws.
    public init(_ tensors: Tensor...) throws { try self.init(tensors) }

    /// Row `index` of every tensor.
    public subscript(index: Int) -> [Tensor] {
        batch([index]).map { Tensor(shape: Array($0.shape.dropFirst()), storage: $0.storage) }
    }

    /// Row `indices[k]` of every tensor at row `k`: tensors of shape `(indices.count, …)`.
    public func batch(_ indices: [Int]) -> [Tensor] {
        tensors.map { t in
            let row = t.count / Swift.max(count, 1)
            let storage = TensorBuffer(count: indices.count * row)
            for (k, i) in indices.enumerated() {
                precondition((0..<count).contains(i), "TensorDataset.batch: index \(i) outside 0..<\(count)")
                (storage.pointer + k * row).update(from: t.storage.pointer + i * row, count: row)
            }
            return Tensor(shape: [indices.count] + t.shape.dropFirst(), storage: storage)
        }
    }
}
