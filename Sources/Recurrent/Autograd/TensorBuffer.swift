import Foundation
import Synchronization

/// The memory behind a tensor or a gradient: `count` `Float`s at a stable address,
/// zero-initialised, freed with the last reference.
///
/// A stable address lets BLAS and the vectorised kernels work on tensors without
/// `withUnsafe…` closures and without copy-on-write checks in hot loops.
@usableFromInline
final class TensorBuffer: @unchecked Sendable {
    @usableFromInline let pointer: UnsafeMutablePointer<Float>
    @usableFromInline let count: Int
    /// The floats allocated (at least `count`; more when a cached block was reused).
    private let capacity: Int

    #if DEBUG
    /// The number of buffers alive in the process, counted in debug builds only (one relaxed
    /// atomic add per allocation and release), so that tests can check that training steps
    /// leave no buffers behind. Release builds have no counter.
    static let liveCount = Atomic<Int>(0)
    #endif

    /// `count` zeros.
    @usableFromInline
    init(count: Int) {
        #if DEBUG
        TensorBuffer.liveCount.add(1, ordering: .relaxed)
        #endif
        self.count = count
        (pointer, capacity) = LargeBlockCache.shared.takeOrAllocate(count)
        pointer.initialize(repeating: 0, count: max(count, 1))
    }

    /// `count` floats that the caller overwrites completely before anyone reads them (the
    /// outputs of the fused recurrent layers): no zero-fill pass. Float has no invalid bit
    /// patterns, so a missed element is a wrong value, never undefined behaviour; callers
    /// that skip elements (variable lengths) use ``init(count:)``.
    init(uninitializedCount count: Int) {
        #if DEBUG
        TensorBuffer.liveCount.add(1, ordering: .relaxed)
        #endif
        self.count = count
        (pointer, capacity) = LargeBlockCache.shared.takeOrAllocate(count)
        #if DEBUG
        // Debug builds fill with NaN, so that a missed element shows in the tests.
        pointer.initialize(repeating: .nan, count: max(count, 1))
        #endif
    }

    /// New memory for `count` floats starting on a cache line (64 bytes), freed with
    /// ``deallocateLineAligned(_:count:)``. Workers that share a buffer by rows (a layer's
    /// batch items split between them) then never write the same line where their rows meet, whatever `malloc`'s 16-byte
    /// alignment gave: the layer-normalised LSTM's per-row scalars (16 rows a worker: one line)
    /// ran 2.0 or 2.6 ms a forward at two threads from process to process before.
    ///
    /// Blocks of ``mappedCount`` floats or more are mapped from the system directly and go
    /// back to it when freed (``deallocateLineAligned(_:count:)``), whichever thread frees
    /// them. Through `malloc`, glibc's threshold for mapping rises to the largest block freed,
    /// so later blocks of that size come from its heaps, one per thread that allocates, and
    /// their freed pages stay with the process: a bidirectional LSTM's training step at two
    /// threads (directions on two workers) peaked at 92 MB against 78 MB at one thread.
    @usableFromInline
    static func allocateLineAligned(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        if n >= mappedCount {
            let bytes = n * MemoryLayout<Float>.stride
            let raw = mmap(nil, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
            precondition(raw != MAP_FAILED && raw != nil, "TensorBuffer: could not map \(bytes) bytes (errno \(errno))")
            return raw!.bindMemory(to: Float.self, capacity: n)
        }
        return UnsafeMutableRawPointer.allocate(byteCount: n * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: n)
    }

    /// The smallest block, in floats (256 KB), that ``allocateLineAligned(_:)`` maps from the
    /// system.
    @usableFromInline
    static let mappedCount = 1 << 16

    /// Frees a block of `count` floats from ``allocateLineAligned(_:)``.
    @usableFromInline
    static func deallocateLineAligned(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let n = max(count, 1)
        if n >= mappedCount {
            let result = munmap(UnsafeMutableRawPointer(pointer), n * MemoryLayout<Float>.stride)
            precondition(result == 0, "TensorBuffer: could not unmap a block (errno \(errno))")
        } else {
            pointer.deallocate()
        }
    }

    /// `count` uninitialised-then-filled floats: `fill` must write all of them.
    @usableFromInline
    init(count: Int, filledBy fill: (UnsafeMutablePointer<Float>) throws -> Void) rethrows {
        #if DEBUG
        TensorBuffer.liveCount.add(1, ordering: .relaxed)
        #endif
        self.count = count
        (pointer, capacity) = LargeBlockCache.shared.takeOrAllocate(count)
        pointer.initialize(repeating: 0, count: max(count, 1))
        try fill(pointer)
    }

    /// A copy of `scalars`.
    @usableFromInline
    convenience init<C: Collection>(copying scalars: C) where C.Element == Float {
        self.init(count: scalars.count)
        _ = UnsafeMutableBufferPointer(start: pointer, count: count).initialize(from: scalars)
    }

    /// The floats as a buffer pointer.
    @inlinable var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    /// A copy of the floats as an array.
    @inlinable var array: [Float] { Array(UnsafeBufferPointer(start: pointer, count: count)) }

    /// Adds `count` floats from `source` into this buffer.
    @inlinable func accumulate(_ source: UnsafePointer<Float>) {
        for i in 0..<count { pointer[i] += source[i] }
    }

    deinit {
        #if DEBUG
        TensorBuffer.liveCount.subtract(1, ordering: .relaxed)
        #endif
        LargeBlockCache.shared.keepOrFree(pointer, capacity: capacity)
    }
}
