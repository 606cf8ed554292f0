import XCTest
@testable import Recurrent

/// The base of test cases that run at several thread counts and parallel policies: restores
/// the thread count and resets every policy override after each test, and compares results
/// bit for bit.
class ThreadSettingsTestCase: XCTestCase {
    private var savedThreads = 1

    override func setUp() {
        super.setUp()
        savedThreads = ComputeThreads.count
    }

    override func tearDown() {
        ComputeThreads.set(savedThreads)
        WavefrontRecurrence.override = nil
        WavefrontNode.override = nil
        BatchSplitRecurrence.override = nil
        super.tearDown()
    }

    /// Asserts that every result of `other` has the bits of `reference`'s (one thread's).
    func assertBitIdentical(_ other: [[Float]], _ reference: [[Float]], _ what: String,
                            file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(other.count, reference.count, what, file: file, line: line)
        for (i, (a, b)) in zip(other, reference).enumerated() {
            let same = a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
            XCTAssertTrue(same, "\(what): result \(i) differs from one thread's", file: file, line: line)
        }
    }
}
