import Recurrent

/// Shards the indices `0..<count` of a data set across the ranks, as PyTorch's
/// `torch.utils.data.distributed.DistributedSampler`: every epoch, every rank draws the same
/// permutation (from the shared `seed` and the ``epoch``) and takes every `worldSize`-th
/// index of it, starting at its rank, so the ranks' shares are disjoint and together make
/// the epoch.
///
/// Cutting each rank's share into batches of `b` (``batches(size:)``) gives, at every step,
/// `worldSize` local batches that together hold the `worldSize · b` consecutive indices of
/// the permutation that one process would take as its batch — so data-parallel training
/// on `worldSize` ranks with local batch `b` sees the batches of one process with batch
/// `worldSize · b`.
///
/// When `count` is not a multiple of `worldSize`, ``remainder`` decides:
/// ``Remainder/pad`` (PyTorch's default) repeats indices from the start of the permutation so
/// that every rank gets `⌈count / worldSize⌉`; ``Remainder/dropLast`` (PyTorch's
/// `drop_last=True`) drops the last `count % worldSize` so that every rank gets
/// `⌊count / worldSize⌋`; ``Remainder/uneven`` keeps every index exactly once, so the first
/// `count % worldSize` ranks get one more (use
/// ``DistributedDataParallel/synchronizeGradients(localCount:)`` with the local batch sizes
/// for exact averages, and let a rank with an empty last batch pass `localCount: 0`).
public struct DistributedSampler: Sendable {
    /// What to do with the indices left over when `count` is not a multiple of `worldSize`.
    public enum Remainder: Sendable {
        /// Repeat indices from the start so every rank gets `⌈count / worldSize⌉`.
        case pad
        /// Drop the last `count % worldSize` indices so every rank gets `⌊count / worldSize⌋`.
        case dropLast
        /// Keep every index once; ranks below `count % worldSize` get one more.
        case uneven
    }

    /// The number of indices in the data set.
    public let count: Int
    /// This rank.
    public let rank: Int
    /// The number of ranks.
    public let worldSize: Int
    /// Whether each epoch draws a new permutation (otherwise the indices go in order).
    public let shuffle: Bool
    /// The seed shared by every rank.
    public let seed: UInt64
    /// The handling of a `count` that is not a multiple of `worldSize`.
    public let remainder: Remainder
    /// The epoch; set it at the start of each epoch (PyTorch's `set_epoch`) so that each
    /// epoch has its own permutation, the same on every rank.
    public var epoch: Int = 0

    /// A sampler of `count` indices for `rank` of `worldSize`.
    ///
    /// - Throws: ``DistributedError/invalidArgument(_:)`` when `count` is negative (or above
    ///   2^40), `worldSize` is below 1, or `rank` is not in `0..<worldSize`.
    public init(count: Int, rank: Int, worldSize: Int, shuffle: Bool = true, seed: UInt64 = 0,
                remainder: Remainder = .pad) throws {
        guard count >= 0, count <= 1 << 40 else {
            throw DistributedError.invalidArgument("DistributedSampler: expected a count in 0...2^40, got \(count)")
        }
        guard worldSize >= 1 else {
            throw DistributedError.invalidArgument("DistributedSampler: expected a world size of at least 1, got \(worldSize)")
        }
        guard (0..<worldSize).contains(rank) else {
            throw DistributedError.invalidArgument("DistributedSampler: expected a rank in 0..<\(worldSize), got \(rank)")
        }
        self.count = count
        self.rank = rank
        self.worldSize = worldSize
        self.shuffle = shuffle
        self.seed = seed
        self.remainder = remainder
    }

    /// A sampler of `count` indices for this process's rank in `processGroup`.
    ///
    /// - Throws: as ``init(count:rank:worldSize:shuffle:seed:remainder:)``.
    public init(count: Int, processGroup: ProcessGroup, shuffle: Bool = true, seed: UInt64 = 0,
                remainder: Remainder = .pad) throws {
        try self.init(count: count, rank: processGroup.rank, worldSize: processGroup.size, shuffle: shuffle,
                      seed: seed, remainder: remainder)
    }

    /// The number of indices each rank takes per epoch under ``remainder``, before striding.
    private var total: Int {
        switch remainder {
        case .pad: return (count + worldSize - 1) / worldSize * worldSize
        case .dropLast: return count / worldSize * worldSize
        case .uneven: return count
        }
    }

    /// The number of indices of `rank` in an epoch (``localCount`` of that rank); 0 for a
    /// rank outside `0..<worldSize`.
    public func localCount(ofRank rank: Int) -> Int {
        guard (0..<worldSize).contains(rank) else { return 0 }
        let total = self.total
        return total / worldSize + (rank < total % worldSize ? 1 : 0)
    }

    /// The number of indices this rank takes in an epoch.
    public var localCount: Int { localCount(ofRank: rank) }

    /// The epoch's permutation of `0..<count`, the same on every rank (the identity without
    /// ``shuffle``). A Fisher–Yates shuffle driven by ``SeededGenerator`` seeded from
    /// `seed` and `epoch`, written out here so that every rank draws the same permutation
    /// whatever its Swift standard library.
    public func permutation() -> [Int] {
        var order = Array(0..<count)
        guard shuffle, count > 1 else { return order }
        var generator = SeededGenerator(seed: seed &+ UInt64(truncatingIfNeeded: epoch) &* 0x9E37_79B9_7F4A_7C15)
        for i in stride(from: count - 1, to: 0, by: -1) {
            let j = Int(Self.bounded(UInt64(i + 1), &generator))
            order.swapAt(i, j)
        }
        return order
    }

    /// A uniform draw in `0..<bound` (Lemire's multiply-and-reject, unbiased).
    private static func bounded(_ bound: UInt64, _ generator: inout SeededGenerator) -> UInt64 {
        var product = generator.next().multipliedFullWidth(by: bound)
        if product.low < bound {
            let threshold = (0 &- bound) % bound
            while product.low < threshold { product = generator.next().multipliedFullWidth(by: bound) }
        }
        return product.high
    }

    /// This rank's indices for the epoch, in order.
    public func indices() -> [Int] {
        var order = permutation()
        let total = self.total
        if total > order.count, !order.isEmpty {
            // Padding: repeat from the start (several times when count < worldSize).
            let base = order
            while order.count < total { order += base.prefix(total - order.count) }
        }
        return Array(stride(from: rank, to: total, by: worldSize).map { order[$0] })
    }

    /// This rank's indices cut into batches of `size` (the last one shorter), for local
    /// batch `size` and global batch `worldSize · size`.
    ///
    /// With ``Remainder/uneven``, every rank gets the same number of batches — the number
    /// of global batches — and a rank may get an empty last batch; it must still take part
    /// in the gradient synchronisation (`synchronizeGradients(localCount: 0)`).
    ///
    /// - Throws: ``DistributedError/invalidArgument(_:)`` when `size` is below 1.
    public func batches(size: Int) throws -> [[Int]] {
        guard size >= 1 else {
            throw DistributedError.invalidArgument("DistributedSampler.batches: expected a batch size of at least 1, got \(size)")
        }
        let mine = indices()
        let steps = (localCount(ofRank: 0) + size - 1) / size
        return (0..<steps).map { k in Array(mine[Swift.min(k * size, mine.count)..<Swift.min((k + 1) * size, mine.count)]) }
    }
}
