import LinearAlgebra

/// Batches a dataset for training (`torch.utils.data.DataLoader`): each pass over it (each
/// `for batch in loader`) is one epoch of ``Dataset/batch(_:)`` results of `batchSize`
/// examples, in order or shuffled anew every epoch, the last smaller batch kept or dropped.
///
/// Shuffling draws from `generator` when one is given — each epoch advances it, so a run
/// is reproducible from its seed, and its position (``state``) can be saved with a
/// checkpoint — and from the library's default stream (``RandomState``) otherwise, like
/// PyTorch's global generator. With a `SeededGenerator` the order is a uniform
/// permutation (Fisher–Yates); with a ``TorchGenerator`` it is PyTorch's, batch for batch:
/// each epoch draws what PyTorch's loader draws from its generator (a 64-bit base seed when
/// the epoch starts, `randperm(count)` for the order, and one more `randperm` that PyTorch's
/// sampler makes when an epoch is read to its end).
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
    /// The library's stream the shuffling draws from, or `nil` (then ``torchGenerator``, or
    /// the default stream when both are `nil`).
    public var generator: SeededGenerator?
    /// PyTorch's stream the shuffling draws from (PyTorch's order), or `nil`.
    public var torchGenerator: TorchGenerator?

    /// A loader of `dataset` that shuffles with the library's `generator` (or the default stream).
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

    /// A loader of `dataset` that draws from PyTorch's `generator`, in PyTorch's order
    /// (`DataLoader(dataset, batch_size, shuffle, drop_last=..., generator=g)`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `batchSize` is not positive.
    public convenience init(_ dataset: D, batchSize: Int = 1, shuffle: Bool = false, dropLast: Bool = false,
                            generator: TorchGenerator) throws {
        try self.init(dataset, batchSize: batchSize, shuffle: shuffle, dropLast: dropLast, generator: nil)
        torchGenerator = generator
    }

    /// The number of batches per epoch (PyTorch's `len(loader)`).
    public var count: Int { dropLast ? dataset.count / batchSize : (dataset.count + batchSize - 1) / batchSize }

    /// The example order of a new epoch (shuffled when `shuffle`, advancing the stream;
    /// with a ``torchGenerator``, also its draw of the epoch's base seed, as PyTorch's loader).
    public func epochOrder() -> [Int] {
        if torchGenerator != nil {
            _ = torchGenerator!.random64()
            // A dataset's count is never negative: randperm cannot throw.
            if shuffle { return try! torchGenerator!.randperm(dataset.count) }
        }
        var order = Array(0..<dataset.count)
        guard shuffle else { return order }
        if generator != nil {
            order.shuffle(using: &generator!)
        } else if torchGenerator == nil {
            RandomState.withGenerator { order.shuffle(using: &$0) }
        }
        return order
    }

    /// What the loader does when an epoch has been read to its end: with a shuffling
    /// ``torchGenerator``, the permutation PyTorch's `RandomSampler` draws for the
    /// remainder of its samples (an empty slice of a full `randperm`).
    func finishEpoch() {
        if shuffle && torchGenerator != nil { _ = try! torchGenerator!.randperm(dataset.count) }
    }

    /// The position of the shuffling stream, to save in a checkpoint (``Checkpoint/dataLoader``)
    /// between epochs.
    public var state: DataLoaderState { DataLoaderState(generator: generator, torchGenerator: torchGenerator) }

    /// Puts the shuffling stream back where ``state`` was taken, so that the next epochs
    /// draw the orders an uninterrupted run would have drawn.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the state's kind of stream (a
    ///   `SeededGenerator`, a ``TorchGenerator`` or the default stream) is not this
    ///   loader's; nothing changes then.
    public func loadState(_ state: DataLoaderState) throws {
        func kind(_ g: SeededGenerator?, _ t: TorchGenerator?) -> String {
            g != nil ? "a SeededGenerator" : t != nil ? "a TorchGenerator" : "the default stream"
        }
        let saved = kind(state.generator, state.torchGenerator), own = kind(generator, torchGenerator)
        guard saved == own else {
            throw TensorError.invalidArgument("DataLoader.loadState: the state holds \(saved), but this loader draws from \(own)")
        }
        generator = state.generator
        torchGenerator = state.torchGenerator
    }

    /// The batches of one epoch, made one at a time as they are read.
    public struct Iterator: IteratorProtocol {
        let dataset: D
        let order: [Int]
        let batchSize: Int
        let dropLast: Bool
        let loader: DataLoader
        var position = 0
        var finished = false

        /// The next batch, or `nil` at the end of the epoch.
        public mutating func next() -> D.Batch? {
            let remaining = order.count - position
            guard remaining > 0, remaining >= batchSize || !dropLast else {
                if !finished { loader.finishEpoch() }
                finished = true
                return nil
            }
            let end = position + Swift.min(batchSize, remaining)
            defer { position = end }
            return dataset.batch(Array(order[position..<end]))
        }
    }

    /// Starts an epoch: draws its order now.
    public func makeIterator() -> Iterator {
        Iterator(dataset: dataset, order: epochOrder(), batchSize: batchSize, dropLast: dropLast, loader: self)
    }

    /// The number of batches of an epoch, for `Sequence`.
    public var underestimatedCount: Int { count }
}

/// The position of a ``DataLoader``'s shuffling stream, Codable for checkpoints: the
/// `SeededGenerator` or ``TorchGenerator`` it draws from, or neither (the default stream,
/// which ``Checkpoint`` saves as its random state).
public struct DataLoaderState: Codable, Equatable, Sendable {
    /// The library's stream, or `nil`.
    public var generator: SeededGenerator?
    /// PyTorch's stream, or `nil`.
    public var torchGenerator: TorchGenerator?

    /// A state with the given streams.
    public init(generator: SeededGenerator? = nil, torchGenerator: TorchGenerator? = nil) {
        self.generator = generator
        self.torchGenerator = torchGenerator
    }

    private enum CodingKeys: String, CodingKey { case generator, torchGenerator = "torch_generator" }

    /// Reads a state written by ``encode(to:)``.
    /// - Throws: `DecodingError` when a stream is malformed (the library's as anything but
    ///   four hexadecimal words, PyTorch's as ``TorchGenerator/init(from:)`` rejects) or both are given.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let text = try c.decodeIfPresent(String.self, forKey: .generator) {
            let words = text.split(separator: ",", omittingEmptySubsequences: false).compactMap { UInt64($0, radix: 16) }
            guard words.count == 4, text.split(separator: ",", omittingEmptySubsequences: false).count == 4 else {
                throw DecodingError.dataCorruptedError(forKey: .generator, in: c, debugDescription: "expected four hexadecimal words separated by commas, got \"\(text.prefix(100))\"")
            }
            var generator = SeededGenerator(seed: 0)
            generator.state = (words[0], words[1], words[2], words[3])
            self.generator = generator
        }
        torchGenerator = try c.decodeIfPresent(TorchGenerator.self, forKey: .torchGenerator)
        if generator != nil && torchGenerator != nil {
            throw DecodingError.dataCorruptedError(forKey: .torchGenerator, in: c, debugDescription: "expected one stream, got both a generator and a torch_generator")
        }
    }

    /// Writes the streams: the library's as four hexadecimal words, PyTorch's as its state.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let s = generator?.state {
            try c.encode([s.0, s.1, s.2, s.3].map { String($0, radix: 16) }.joined(separator: ","), forKey: .generator)
        }
        try c.encodeIfPresent(torchGenerator, forKey: .torchGenerator)
    }
}
