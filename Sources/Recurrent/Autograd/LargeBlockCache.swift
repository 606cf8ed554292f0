import Foundation
import LinearAlgebra

/// Keeps large float blocks given back by tensor buffers and by ``ScratchPool`` for the next
/// buffers or scratch of a similar size, up to a fixed total.
///
/// Why: a fused layer allocates its sequence-long buffers (outputs, saved states) and its
/// scratch at every call and frees them with the tensors. A freed block of 256 KB or more
/// goes back to the system (``TensorBuffer/allocateLineAligned(_:)`` maps it), and so would
/// one of 128 KB or more at the top of glibc's heap; the next call's buffer then takes a
/// page fault per 4 KB on first touch: a one-thread `small` forward (32 steps of 16 × 64)
/// spent a third of its time there (18,648 page faults against 1,113 when the heap
/// happened not to shrink). Reusing the block keeps its pages mapped.
///
/// Blocks of 16 Ki to 64 Mi floats (64 KB to 256 MB) are kept, at most 128 blocks and
/// 256 Mi floats (1 GiB) or a sixteenth of the machine's memory in all, whichever is less; a
/// request takes the smallest kept block that fits and is at most twice its size. The large
/// end matters for large layers: an LSTM of 512 units over 100 steps of 64 keeps 52 MB of
/// gates per layer, and a training step spent 7 % of its time faulting such blocks in anew
/// when only blocks up to 16 MB were kept. The count matters for deep and bidirectional
/// stacks: a training step of a two-layer bidirectional LSTM gives back more than 32 large
/// blocks, and with room for 32 it mapped 8 blocks anew at every step. The cache is shared
/// by all threads behind a mutex taken once per large allocation and release; it never frees
/// what it keeps (the memory stays with the process).
final class LargeBlockCache: @unchecked Sendable {
    /// The process-wide cache.
    static let shared = LargeBlockCache()
    /// The smallest and largest block sizes kept, in floats.
    static let minimumCount = 1 << 14, maximumCount = 1 << 26
    /// The most floats kept at once by the shared cache: 1 GiB, or a sixteenth of the
    /// machine's memory when that is less (but never below the largest block).
    static let defaultMaximumCachedFloats: Int = {
        let sixteenth = Int(clamping: ProcessInfo.processInfo.physicalMemory / 16) / MemoryLayout<Float>.stride
        return max(maximumCount, min(1 << 28, sixteenth))
    }()
    /// The most blocks kept at once.
    static let maximumBlocks = 128

    /// The most floats this cache keeps at once.
    let maximumCachedFloats: Int

    /// A cache that keeps at most `maximumCachedFloats` floats.
    init(maximumCachedFloats: Int = LargeBlockCache.defaultMaximumCachedFloats) {
        self.maximumCachedFloats = maximumCachedFloats
    }

    private struct Block {
        let pointer: UnsafeMutablePointer<Float>
        let capacity: Int
    }

    private struct State {
        var blocks: [Block] = []
        var cachedFloats = 0
    }

    private let state = PThreadMutex(State())

    /// A kept block of at least `count` and at most `2 × count` floats, uninitialised, or
    /// `nil` when none fits (or `count` is outside the kept sizes).
    func take(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int)? {
        guard count >= Self.minimumCount && count <= Self.maximumCount else { return nil }
        return state.withLock { state in
            var best: Int?
            for (i, block) in state.blocks.enumerated() where block.capacity >= count && block.capacity <= 2 * count {
                if best == nil || block.capacity < state.blocks[best!].capacity { best = i }
                if block.capacity == count { break }
            }
            guard let best else { return nil }
            let block = state.blocks.remove(at: best)
            state.cachedFloats -= block.capacity
            return (block.pointer, block.capacity)
        }
    }

    /// Keeps the block of `capacity` floats at `pointer` and returns `true`, or returns
    /// `false` (and the caller frees it) when its size is not kept or the cache is full.
    func give(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) -> Bool {
        guard capacity >= Self.minimumCount && capacity <= Self.maximumCount else { return false }
        return state.withLock { state in
            guard state.blocks.count < Self.maximumBlocks,
                  state.cachedFloats + capacity <= maximumCachedFloats else { return false }
            state.blocks.append(Block(pointer: pointer, capacity: capacity))
            state.cachedFloats += capacity
            return true
        }
    }

    /// At least `count` floats (at least one), uninitialised, starting on a cache line: a
    /// kept block when one fits (``take(_:)``), otherwise new memory
    /// (``TensorBuffer/allocateLineAligned(_:)``). Give it back with ``keepOrFree(_:capacity:)``.
    func takeOrAllocate(_ count: Int) -> (pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        let n = max(count, 1)
        return take(n) ?? (TensorBuffer.allocateLineAligned(n), n)
    }

    /// Keeps a block from ``takeOrAllocate(_:)`` (``give(_:capacity:)``), or frees it when the
    /// cache does not keep it.
    func keepOrFree(_ pointer: UnsafeMutablePointer<Float>, capacity: Int) {
        if !give(pointer, capacity: capacity) { TensorBuffer.deallocateLineAligned(pointer, count: capacity) }
    }
}
