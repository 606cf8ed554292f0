// Progress counters for workers that hand work to one another (CKernels' rk_progress).
internal import CKernels

/// A fixed number of progress counters shared by the workers of one team
/// (``ComputeThreads/run(workers:_:)``), for producer/consumer hand-offs that need no team
/// barrier: a producer publishes how far it has got (``publish(_:at:)``, a release store) and
/// a consumer waits until it has got far enough (``wait(until:at:)``, an acquire load, spinning
/// briefly and then yielding the core). Everything the producer wrote before publishing is
/// visible to the consumer once its wait returns. Counters start at 0 and must only grow.
///
/// Each counter has a cache-line pair of its own, so that the workers polling one counter do
/// not slow the writes to another. Allocated once per use, never per step.
public final class ProgressCounters: @unchecked Sendable {
    /// Counters are this many `Int`s apart (128 bytes: a line and its prefetched neighbour).
    private static let spacing = 16
    private let storage: UnsafeMutablePointer<Int>
    /// The number of counters.
    public let count: Int

    /// `count` counters, all 0.
    public init(count: Int) {
        self.count = Swift.max(0, count)
        storage = .allocate(capacity: Swift.max(1, self.count * Self.spacing))
        storage.initialize(repeating: 0, count: Swift.max(1, self.count * Self.spacing))
    }

    deinit { storage.deallocate() }

    /// Publishes `value` as counter `index`'s progress (at least its last value).
    public func publish(_ value: Int, at index: Int) {
        precondition(index >= 0 && index < count, "ProgressCounters: counter \(index) of \(count)")
        rk_progress_publish(storage + index * Self.spacing, value)
    }

    /// Waits until counter `index` is at least `target` and returns the value seen.
    @discardableResult
    public func wait(until target: Int, at index: Int) -> Int {
        precondition(index >= 0 && index < count, "ProgressCounters: counter \(index) of \(count)")
        return rk_progress_wait(storage + index * Self.spacing, target)
    }
}
