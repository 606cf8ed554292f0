import XCTest
@testable import Recurrent

/// `Tensor.oneHot` (`torch.nn.functional.one_hot`): hand-computed cases and argument checks.
final class OneHotTests: XCTestCase {
    func testOneHotRowsAndShapes() throws {
        let flat = try Tensor.oneHot([2, 0, 1])
        XCTAssertEqual(flat.shape, [3, 3])   // numClasses inferred: largest index + 1
        XCTAssertEqual(flat.scalars, [0, 0, 1, 1, 0, 0, 0, 1, 0])
        let line = try Tensor.oneHot([3, 0], shape: [2, 1], numClasses: 5)
        XCTAssertEqual(line.shape, [2, 1, 5])
        XCTAssertEqual(line.scalars, [0, 0, 0, 1, 0, 1, 0, 0, 0, 0])
        XCTAssertEqual(try Tensor.oneHot([], numClasses: 4).shape, [0, 4])
        XCTAssertFalse(line.requiresGrad)
    }

    func testOneHotRejectsBadArguments() {
        XCTAssertThrowsError(try Tensor.oneHot([0, 5], numClasses: 5))      // index ≥ numClasses
        XCTAssertThrowsError(try Tensor.oneHot([-1, 0]))                    // negative index
        XCTAssertThrowsError(try Tensor.oneHot([], numClasses: -1))         // nothing to infer from
        XCTAssertThrowsError(try Tensor.oneHot([0], numClasses: -2))
        XCTAssertThrowsError(try Tensor.oneHot([0, 1], shape: [3], numClasses: 2))
        XCTAssertThrowsError(try Tensor.oneHot([0], shape: [-1], numClasses: 2))
        XCTAssertThrowsError(try Tensor.oneHot([0], numClasses: Int.max))   // does not fit in memory
    }
}
