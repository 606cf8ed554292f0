import Dispatch
@testable import LinearAlgebra
import XCTest

/// Single-threaded regions: nested and concurrent regions keep OpenBLAS on one thread until
/// the last one closes, then the requested count comes back, and a count set meanwhile is
/// not lost.
final class BLASThreadsTests: XCTestCase {
    private var saved = 1

    override func setUp() { saved = BLASThreads.count }
    override func tearDown() { BLASThreads.set(saved) }

    func testNestedRegionsRestoreTheRequestedCount() {
        BLASThreads.set(2)
        XCTAssertEqual(BLASThreads.activeCount, 2)
        XCTAssertTrue(BLASThreads.enterSingleThreadedRegion())
        XCTAssertEqual(BLASThreads.activeCount, 1)
        XCTAssertEqual(BLASThreads.count, 2, "count reports the requested threads")
        XCTAssertTrue(BLASThreads.enterSingleThreadedRegion())
        BLASThreads.leaveSingleThreadedRegion()
        XCTAssertEqual(BLASThreads.activeCount, 1, "an inner region's end keeps the outer one")
        BLASThreads.set(3)
        XCTAssertEqual(BLASThreads.activeCount, 1, "a count set inside a region waits for its end")
        XCTAssertEqual(BLASThreads.count, 3)
        BLASThreads.leaveSingleThreadedRegion()
        XCTAssertEqual(BLASThreads.activeCount, 3, "the count set meanwhile is not lost")
    }

    func testNoRegionWithOneThread() {
        BLASThreads.set(1)
        XCTAssertFalse(BLASThreads.enterSingleThreadedRegion())
        XCTAssertEqual(BLASThreads.activeCount, 1)
        BLASThreads.set(0)
        XCTAssertEqual(BLASThreads.count, 1, "at least one thread")
    }

    func testConcurrentRegionsNeverUndoEachOther() {
        BLASThreads.set(2)
        let iterations = 2_000
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<iterations {
                let opened = BLASThreads.enterSingleThreadedRegion()
                // While this region is open, OpenBLAS must stay on one thread whatever the
                // other workers do.
                if BLASThreads.activeCount != 1 { XCTFail("a region saw \(BLASThreads.activeCount) threads") }
                if opened { BLASThreads.leaveSingleThreadedRegion() }
            }
        }
        XCTAssertEqual(BLASThreads.activeCount, 2)
        XCTAssertEqual(BLASThreads.count, 2)
    }
}
