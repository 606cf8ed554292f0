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
}
