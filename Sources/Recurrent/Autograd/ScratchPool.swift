import LinearAlgebra

/// Scratch memory that the fused layers reuse from call to call: blocks from
/// ``LargeBlockCache``, the cache that tensor buffers use too.
///
/// A layer's scratch is large (the input projection of every step: 13 MB for 100 steps of
/// 64 × 512). Freshly allocated at every call, its pages are mapped anew and the kernel
/// zeroes each on first touch: that cost a tenth of a large RNN's forward. Sharing one cache
/// with the tensor buffers lets a block that served as scratch serve next as a tensor's
/// storage and back: with a pool of its own, the scratch blocks of a layer's forward sat
/// idle through the backward (7 MB of a bidirectional LSTM's 78 MB peak at one thread, 14 MB
/// at two, where both directions' scratch is live at once), while the backward mapped new
/// memory for its tensors. Blocks below the cache's sizes are allocated and freed each time.
@usableFromInline
final class ScratchPool: @unchecked Sendable {
    /// A block of `capacity` floats, uninitialised.
    @usableFromInline
    struct Block: @unchecked Sendable {
        @usableFromInline let pointer: UnsafeMutablePointer<Float>
        @usableFromInline let capacity: Int
    }

    @usableFromInline static let shared = ScratchPool(cache: .shared)

    /// The cache the blocks come from and go back to.
    private let cache: LargeBlockCache

    /// A pool over `cache`.
    init(cache: LargeBlockCache) {
        self.cache = cache
    }

    /// A block of at least `count` floats (uninitialised).
    @usableFromInline
    func take(_ count: Int) -> Block {
        let block = cache.takeOrAllocate(count)
        return Block(pointer: block.pointer, capacity: block.capacity)
    }

    /// Gives a block back: kept by the cache when it has room, freed otherwise.
    @usableFromInline
    func give(_ block: Block) {
        cache.keepOrFree(block.pointer, capacity: block.capacity)
    }
}
