// The library's threads: OpenBLAS's and the worker pool of the recurrent layers (CKernels'
// rk_team), set together by one knob.
import CBLAS
internal import CKernels

/// The number of threads the library computes on: OpenBLAS's threads and the worker pool that
/// splits the steps of a recurrent layer between cores, set together (like
/// `torch.set_num_threads`).
///
/// At start-up the count is OpenBLAS's default (`OPENBLAS_NUM_THREADS`, or the number of
/// cores). Each recurrent layer then chooses by its size how many of these threads pay: small
/// layers run on one. Results never depend on the count: a layer splits its work only where
/// every element is computed the same way whichever thread computes it.
///
/// Inside the worker pool OpenBLAS runs on one thread, so the two never oversubscribe the
/// cores. Single-threaded regions (``enterSingleThreadedRegion()``) keep OpenBLAS on one
/// thread while the library runs small products or a team of workers.
public enum ComputeThreads {
    private struct State {
        /// The count set with ``set(_:)`` (or OpenBLAS's own at start-up).
        var requested: Int
        /// The number of open single-threaded regions.
        var openRegions = 0
        /// Whether the worker pool has been given ``requested`` (done on first use).
        var poolSized = false
    }

    /// Guarded by a pthread mutex (``PThreadMutex``), which ThreadSanitizer can follow.
    private static let state = PThreadMutex(State(requested: Swift.max(1, Int(openblas_get_num_threads()))))

    /// The number of threads set with ``set(_:)`` (at start-up, OpenBLAS's default). Inside a
    /// single-threaded region OpenBLAS momentarily runs on one thread; this still reports the
    /// requested count.
    public static var count: Int { state.withLock { $0.requested } }

    /// The number of threads a BLAS call made now would use: 1 while any single-threaded
    /// region is open, otherwise ``count``.
    public static var activeCount: Int { Int(openblas_get_num_threads()) }

    /// Sets the number of threads every later BLAS call and recurrent layer may use (at least
    /// 1, at most 256). Process-wide, like `torch.set_num_threads`. While a single-threaded
    /// region is open, OpenBLAS takes the new count when the last region closes.
    public static func set(_ count: Int) {
        state.withLock { state in
            state.requested = Swift.min(256, Swift.max(1, count))
            if state.openRegions == 0 { openblas_set_num_threads(i32(state.requested)) }
            _ = rk_team_set_threads(Int32(state.requested))
            state.poolSized = true
        }
    }

    /// Opens a single-threaded region if BLAS may use more than one thread: OpenBLAS then
    /// runs on one thread until every open region is closed with
    /// ``leaveSingleThreadedRegion()``. Returns whether a region was opened (call
    /// ``leaveSingleThreadedRegion()`` exactly once for each `true`).
    public static func enterSingleThreadedRegion() -> Bool {
        state.withLock { state in
            guard state.requested > 1 || state.openRegions > 0 else { return false }
            if state.openRegions == 0 { openblas_set_num_threads(1) }
            state.openRegions += 1
            return true
        }
    }

    /// Closes a region opened by ``enterSingleThreadedRegion()``; closing the last one gives
    /// OpenBLAS back the requested count.
    public static func leaveSingleThreadedRegion() {
        state.withLock { state in
            guard state.openRegions > 0 else { fatalError("ComputeThreads: a region was closed that was never opened") }
            state.openRegions -= 1
            if state.openRegions == 0 { openblas_set_num_threads(i32(state.requested)) }
        }
    }

    /// Runs `body` on a team of up to `workers` threads of the library's pool (at most
    /// ``count``), the calling thread being member 0, and returns when every member has
    /// returned. OpenBLAS runs on one thread meanwhile. When the pool is busy (another
    /// thread's team, or a call from inside a team) `body` runs once, on the calling thread,
    /// as a team of one: write `body` so that its results do not depend on the team's size.
    public static func run(workers: Int, _ body: (TeamMember) -> Void) {
        let allowed = Swift.min(workers, state.withLock { state -> Int in
            if !state.poolSized {
                _ = rk_team_set_threads(Int32(state.requested))
                state.poolSized = true
            }
            return state.requested
        })
        let opened = enterSingleThreadedRegion()
        defer { if opened { leaveSingleThreadedRegion() } }
        guard allowed > 1 else {
            body(TeamMember(index: 0, count: 1, team: nil))
            return
        }
        withoutActuallyEscaping(body) { body in
            var job = body
            withUnsafeMutablePointer(to: &job) { pointer in
                _ = rk_team_run(Int32(allowed), { context, team, index, count in
                    let body = context!.assumingMemoryBound(to: ((TeamMember) -> Void).self).pointee
                    body(TeamMember(index: Int(index), count: Int(count), team: team))
                }, pointer)
            }
        }
    }
}

/// One member of a team that ``ComputeThreads/run(workers:_:)`` runs: its index, the team's
/// size, and the team's barrier.
public struct TeamMember {
    /// This member's index, in `0..<count`.
    public let index: Int
    /// The number of members of the team.
    public let count: Int
    let team: UnsafeRawPointer?

    /// Waits until every member of the team has called `barrier()` as often as this one;
    /// every write made before it is then visible to every member. Free for a team of one.
    public func barrier() { rk_team_barrier(team) }

    /// This member's share of `0..<total` split in contiguous blocks: the blocks are
    /// `granularity` long (the last one may be shorter) and are dealt out as evenly as
    /// possible, members with lower indices taking the extra ones. Empty when there are
    /// fewer blocks than members.
    public func share(of total: Int, granularity: Int = 1) -> Range<Int> {
        let g = Swift.max(1, granularity)
        let blocks = (total + g - 1) / g
        let base = blocks / count, extra = blocks % count
        let first = index * base + Swift.min(index, extra)
        let mine = base + (index < extra ? 1 : 0)
        return Swift.min(total, first * g)..<Swift.min(total, (first + mine) * g)
    }
}

/// The former name of ``ComputeThreads``, which now also sizes the library's own worker pool.
@available(*, deprecated, renamed: "ComputeThreads")
public typealias BLASThreads = ComputeThreads
