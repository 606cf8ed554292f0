import LinearAlgebra

/// Batches a dataset for training (`torch.utils.data.DataLoader`): each pass over it (each
/// `for batch in loader`) is one epoch of ``Dataset/batch(_:)`` results of `batchSize`
/// examples, in order or shuffled anew every epoch, the last smaller batch kept or dropped.
///
/// Shuffling draws from `generator` when one is given — each epoch advances it, so a run
/// is reproducible from its seed, and ``generator`` can be saved with a checkpoint — and
/// from the library's default stream (``RandomState``) otherwise, like PyTorch's global
/// generator. The order is a uniform permutation (Fisher–Yates), not PyTorch's
/// `randperm` sequence.
///
/// ```swift
/// let loader = try DataLoader(data, batchSize: 32, shuffle: true, dropLast: true,
///                             generator: SeededGenerator(seed: 42))
/// for epoch in 0..<epochs {
///     for batch in loader { ... }
/// }
/// ```
public final class DataLoader<D: Dataset>: Sequence {
    /// The dataset.
    public let dataset: D
    /// The number of examples per batch.
    public let batchSize: Int
    /// Whether each epoch visits the examples in a new random order.
    public let shuffle: Bool
    /// Whether the last batch is dropped when it has fewer than `batchSize` examples.
    public let dropLast: Bool
    /// The stream the shuffling draws from, or `nil` for the default stream.
    public var generator: SeededGenerator?

    /// A loader of `dataset`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `batchSize` is not positive.
    public init(_ dataset: D, batchSize: Int = 1, shuffle: Bool = false, dropLast: Bool = false,
                generator: SeededGenerator? = nil) throws {
        guard batchSize > 0 else {
            throw TensorError.invalidArgument("DataLoader: expected batchSize > 0, got \(batchSize)")
        }
        self.dataset = dataset
        self.batchSize = batchSize
        self.shuffle = shuffle
        self.dropLast = dropLast
        self.generator = generator
    }

    /// The number of batches per epoch (PyTorch's `len(loader)`).
    public var count: Int { dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize }

    /// The example order of a new epoch (shuffled when `shuffle`, advancing the stream).
    public func epochOrder() -> [Int] {
        var order = Array(0..<dataset.count)
        guard shuffle else { return order }
        if generator != nil {
            order.shuffle(using: &generator!)
        } else {
            RandomState.withGenerator { order.shuffle(using: &$0) }
        }
        return order
    }

    /// The batches of one epoch, made one at a time as they are read.
    public struct Iterator: IteratorProtocol {
        let dataset: D
        let order: [Int]
        let batchSize: Int
        let dropLast: Bool
        var position = 0

        /// The next batch, or `nil` at the end of the epoch.
        public mutating func next() -> D.Batch? {
            let remaining = order.count - position
            guard remaining > 0, remaining >= batchSize || !dropLast else { return nil }
            let end = position + Swift.min(batchSize, remaining)
            defer { position = end }
            return dataset.batch(Array(order[position..<end]))
        }
    }

    /// Starts an epoch: draws its order now.
    public func makeIterator() -> Iterator {
        Iterator(dataset: dataset, order: epochOrder(), batchSize: batchSize, dropLast: dropLast)
    }

    /// The number of batches of an epoch, for `Sequence`.
    public var underestimatedCount: Int { count }
}
