@testable import Recurrent
import XCTest

/// The cache of large tensor-buffer blocks: which sizes it keeps, best fit within twice the
/// request, its limits, and that a buffer built on a reused block starts at zero.
final class LargeBlockCacheTests: XCTestCase {
    func testKeepsOnlyLargeBlocksAndTakesTheBestFit() {
        let cache = LargeBlockCache()
        let small = UnsafeMutablePointer<Float>.allocate(capacity: 100)
        defer { small.deallocate() }
        XCTAssertFalse(cache.give(small, capacity: 100), "below the kept sizes")
        XCTAssertNil(cache.take(100))

        let n = LargeBlockCache.minimumCount
        let a = UnsafeMutablePointer<Float>.allocate(capacity: 3 * n)
        let b = UnsafeMutablePointer<Float>.allocate(capacity: 2 * n)
        XCTAssertTrue(cache.give(a, capacity: 3 * n))
        XCTAssertTrue(cache.give(b, capacity: 2 * n))
        XCTAssertNil(cache.take(n - 1), "below the kept sizes")
        // 2n fits a request of n (at most twice), 3n does not; the smallest fit wins.
        let first = cache.take(n)
        XCTAssertEqual(first?.pointer, b)
        XCTAssertEqual(first?.capacity, 2 * n)
        XCTAssertNil(cache.take(n), "3n is more than twice n")
        let second = cache.take(2 * n)
        XCTAssertEqual(second?.pointer, a)
        XCTAssertNil(cache.take(2 * n), "empty")
        a.deallocate()
        b.deallocate()
    }

    func testRefusesBlocksBeyondItsLimits() {
        XCTAssertGreaterThanOrEqual(LargeBlockCache.shared.maximumCachedFloats, LargeBlockCache.maximumCount)
        XCTAssertLessThanOrEqual(LargeBlockCache.shared.maximumCachedFloats, 1 << 28)
        // A cache holding three blocks of 4 Mi floats (the pointers are never touched).
        let size = 1 << 22
        let cache = LargeBlockCache(maximumCachedFloats: 3 * size)
        let huge = LargeBlockCache.maximumCount + 1
        let p = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { p.deallocate() }
        XCTAssertFalse(cache.give(p, capacity: huge), "above the kept sizes")
        // The total: blocks until the cache's floats are reached.
        var kept: [UnsafeMutablePointer<Float>] = []
        for _ in 0..<(cache.maximumCachedFloats / size) {
            let block = UnsafeMutablePointer<Float>.allocate(capacity: size)
            XCTAssertTrue(cache.give(block, capacity: size))
            kept.append(block)
        }
        let extra = UnsafeMutablePointer<Float>.allocate(capacity: size)
        XCTAssertFalse(cache.give(extra, capacity: size), "the total is reached")
        extra.deallocate()
        while let block = cache.take(size) { block.pointer.deallocate() }
        XCTAssertEqual(kept.count, 3)
    }

    func testReusedBlocksStartAtZero() throws {
        let count = 2 * LargeBlockCache.minimumCount
        do {
            let t = Tensor(shape: [count], scalars: [Float](repeating: 7, count: count))
            XCTAssertEqual(t.scalars[count - 1], 7)
        }
        // The block just given back is likely reused here; either way it reads zeros.
        let zeros = Tensor(zeros: [count])
        XCTAssertTrue(zeros.scalars.allSatisfy { $0 == 0 })
    }
}
