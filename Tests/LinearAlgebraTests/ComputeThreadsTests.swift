import Dispatch
@testable import LinearAlgebra
import XCTest

/// Single-threaded regions: nested and concurrent regions keep OpenBLAS on one thread until
/// the last one closes, then the requested count comes back, and a count set meanwhile is
/// not lost.
final class ComputeThreadsTests: XCTestCase {
    private var saved = 1

    override func setUp() { saved = ComputeThreads.count }
    override func tearDown() { ComputeThreads.set(saved) }

    func testNestedRegionsRestoreTheRequestedCount() {
        ComputeThreads.set(2)
        XCTAssertEqual(ComputeThreads.activeCount, 2)
        XCTAssertTrue(ComputeThreads.enterSingleThreadedRegion())
        XCTAssertEqual(ComputeThreads.activeCount, 1)
        XCTAssertEqual(ComputeThreads.count, 2, "count reports the requested threads")
        XCTAssertTrue(ComputeThreads.enterSingleThreadedRegion())
        ComputeThreads.leaveSingleThreadedRegion()
        XCTAssertEqual(ComputeThreads.activeCount, 1, "an inner region's end keeps the outer one")
        ComputeThreads.set(3)
        XCTAssertEqual(ComputeThreads.activeCount, 1, "a count set inside a region waits for its end")
        XCTAssertEqual(ComputeThreads.count, 3)
        ComputeThreads.leaveSingleThreadedRegion()
        XCTAssertEqual(ComputeThreads.activeCount, 3, "the count set meanwhile is not lost")
    }

    func testNoRegionWithOneThread() {
        ComputeThreads.set(1)
        XCTAssertFalse(ComputeThreads.enterSingleThreadedRegion())
        XCTAssertEqual(ComputeThreads.activeCount, 1)
        ComputeThreads.set(0)
        XCTAssertEqual(ComputeThreads.count, 1, "at least one thread")
    }

    func testConcurrentRegionsNeverUndoEachOther() {
        ComputeThreads.set(2)
        let iterations = 2_000
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<iterations {
                let opened = ComputeThreads.enterSingleThreadedRegion()
                // While this region is open, OpenBLAS must stay on one thread whatever the
                // other workers do.
                if ComputeThreads.activeCount != 1 { XCTFail("a region saw \(ComputeThreads.activeCount) threads") }
                if opened { ComputeThreads.leaveSingleThreadedRegion() }
            }
        }
        XCTAssertEqual(ComputeThreads.activeCount, 2)
        XCTAssertEqual(ComputeThreads.count, 2)
    }

    // MARK: - The worker pool

    /// Every member of a team runs once with its own index; barriers separate phases: what
    /// every member wrote before a barrier is seen by all after it.
    func testTeamMembersRunOnceAndBarriersSeparatePhases() {
        for threads in [1, 2, 4] {
            ComputeThreads.set(threads)
            let phases = 50
            let slots = UnsafeMutablePointer<Int>.allocate(capacity: 8 * (phases + 1))
            slots.initialize(repeating: -1, count: 8 * (phases + 1))
            defer { slots.deallocate() }
            let seen = UnsafeMutablePointer<Int>.allocate(capacity: 8)
            seen.initialize(repeating: 0, count: 8)
            defer { seen.deallocate() }
            var size = 0
            ComputeThreads.run(workers: 4) { member in
                if member.index == 0 { size = member.count }
                for phase in 0..<phases {
                    slots[phase * 8 + member.index] = phase
                    member.barrier()
                    // Every member's write of this phase is visible now.
                    var complete = true
                    for other in 0..<member.count where slots[phase * 8 + other] != phase { complete = false }
                    if complete { seen[member.index] += 1 }
                    member.barrier()
                }
            }
            XCTAssertEqual(size, Swift.min(4, threads), "team size with \(threads) threads")
            for index in 0..<size { XCTAssertEqual(seen[index], phases, "member \(index), \(threads) threads") }
        }
    }

    /// A team started from inside a team (the pool is busy) runs as a team of one on the
    /// calling thread; OpenBLAS runs on one thread inside a team.
    func testNestedTeamRunsAsATeamOfOne() {
        ComputeThreads.set(2)
        var inner = [Int](repeating: 0, count: 2)
        var blasThreads = [Int](repeating: 0, count: 2)
        inner.withUnsafeMutableBufferPointer { inner in
            blasThreads.withUnsafeMutableBufferPointer { blasThreads in
                ComputeThreads.run(workers: 2) { member in
                    blasThreads[member.index] = ComputeThreads.activeCount
                    ComputeThreads.run(workers: 2) { nested in inner[member.index] = nested.count }
                }
            }
        }
        XCTAssertEqual(inner, [1, 1])
        XCTAssertEqual(blasThreads, [1, 1])
        XCTAssertEqual(ComputeThreads.activeCount, 2, "the team's single-threaded region is closed")
    }

    /// Shares of a range: contiguous, in order, covering it exactly, in whole blocks.
    func testSharesCoverTheRangeInBlocks() {
        for count in 1...5 {
            for total in [0, 1, 15, 16, 17, 80, 100, 129] {
                var next = 0
                for index in 0..<count {
                    let share = TeamMember(index: index, count: count, team: nil).share(of: total, granularity: 16)
                    XCTAssertEqual(share.lowerBound, next, "\(total) in \(count)")
                    XCTAssertTrue(share.isEmpty || share.lowerBound % 16 == 0)
                    next = share.upperBound
                }
                XCTAssertEqual(next, total, "\(total) in \(count)")
            }
        }
    }
}
