// Tensor.multinomial: hand cases, the frequencies of many draws, reproducibility, and the
// errors (which leave the generator as it was).
import Recurrent
import XCTest

final class MultinomialTests: XCTestCase {
    func testCertainRowsAndZeroWeights() throws {
        var g = SeededGenerator(seed: 1)
        // A single positive weight is always drawn; zero weights never are.
        let x = Tensor(shape: [3, 4], scalars: [0, 0, 5, 0,
                                                1, 0, 0, 0,
                                                0, 0, 0, 0.25])
        for _ in 0..<100 { XCTAssertEqual(try x.multinomial(using: &g), [2, 0, 3]) }
        let half = Tensor(shape: [4], scalars: [0, 1, 0, 1])
        for _ in 0..<200 { XCTAssertTrue([1, 3].contains(try half.multinomial(using: &g)[0])) }
    }

    func testFrequenciesFollowTheWeights() throws {
        // Unnormalised weights 1 : 2 : 7; 20,000 draws, each frequency within 4 standard errors.
        var g = SeededGenerator(seed: 2)
        let x = Tensor(shape: [1, 3], scalars: [1, 2, 7])
        var counts = [0, 0, 0]
        let n = 20_000
        for _ in 0..<n { counts[try x.multinomial(using: &g)[0]] += 1 }
        for (k, p) in [0.1, 0.2, 0.7].enumerated() {
            let standardError = (p * (1 - p) / Double(n)).squareRoot()
            XCTAssertEqual(Double(counts[k]) / Double(n), p, accuracy: 4 * standardError, "index \(k): \(counts)")
        }
    }

    func testSameGeneratorStateGivesSameDraws() throws {
        let x = try Tensor(shape: [5, 6], scalars: (0..<30).map { Float($0 % 7) + 0.5 }).softmax(dim: 1)
        var a = SeededGenerator(seed: 9), b = SeededGenerator(seed: 9)
        XCTAssertEqual(try x.multinomial(using: &a), try x.multinomial(using: &b))
        XCTAssertEqual(a, b)
    }

    func testRefusesBadWeightsAndLeavesTheGenerator() {
        var g = SeededGenerator(seed: 3)
        let before = g
        let bad: [Tensor] = [
            Tensor(shape: [2, 2], scalars: [1, 1, 0, 0]),            // a row with nothing to draw
            Tensor(shape: [2], scalars: [1, -1]),                     // negative
            Tensor(shape: [2], scalars: [1, .nan]),                   // NaN
            Tensor(shape: [2], scalars: [1, .infinity]),              // infinite
            Tensor(shape: [1, 1, 2], scalars: [1, 1]),                // rank 3
            Tensor(shape: [], scalars: [1]),                          // rank 0
        ]
        for x in bad {
            XCTAssertThrowsError(try x.multinomial(using: &g), "\(x.shape) \(x.scalars)") { error in
                XCTAssertTrue("\(error)".contains("multinomial"), "\(error)")
            }
        }
        XCTAssertEqual(g, before, "a refused call drew from the generator")
    }
}
