import Foundation
import XCTest
@testable import Recurrent

/// `ctcLoss` against `torch.nn.CTCLoss` (`ctc_loss.json`: values and gradients for every
/// reduction, another blank, empty targets, impossible alignments with and without
/// `zeroInfinity`, an unbatched input), against a brute-force sum over alignments, and the
/// greedy and beam-search decoders.
final class CTCLossTests: XCTestCase {
    /// Equal within tolerance, NaN matching NaN and infinities matching exactly.
    private func assertMatches(_ actual: [Float], _ expected: [Float], _ label: String, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, label, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            let ok = e.isNaN ? a.isNaN : (e.isInfinite ? a == e : abs(a - e) <= 2e-5 + 1e-4 * abs(e))
            if !ok { XCTFail("\(label): index \(i): \(a) vs expected \(e)", file: file, line: line); return }
        }
    }

    func testEveryCaseMatchesPyTorch() throws {
        let f = try Fixture("ctc_loss")
        let entries = try XCTUnwrap(f["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 18)
        for (index, e) in entries.enumerated() {
            let logProbs = try XCTUnwrap((e["log_probs"] as? [String: Any]).flatMap(Fixture.tensor(from:)))
            logProbs.requiresGrad = true
            let targets = try XCTUnwrap(e["targets"] as? [[Int]]), lengths = try XCTUnwrap(e["input_lengths"] as? [Int])
            let reduction = try XCTUnwrap(Reduction(rawValue: try XCTUnwrap(e["reduction"] as? String)))
            let criterion = CTCLoss(blank: try XCTUnwrap(e["blank"] as? Int), reduction: reduction,
                                    zeroInfinity: try XCTUnwrap(e["zero_infinity"] as? Bool))
            let loss = try criterion(logProbs, targets: targets, inputLengths: lengths)
            let label = "entry \(index) \(reduction) targets \(targets)"
            let value = try XCTUnwrap((e["value"] as? [String: Any]).flatMap(Fixture.tensor(from:)))
            XCTAssertEqual(loss.shape, value.shape, label)
            assertMatches(loss.scalars, value.scalars, "value of \(label)")
            if let seed = (e["seed"] as? [String: Any]).flatMap(Fixture.tensor(from:)) {
                (loss * seed).sum().backward()
            } else {
                loss.backward()
            }
            let grad = try XCTUnwrap((e["grad"] as? [String: Any]).flatMap(Fixture.tensor(from:)))
            assertMatches(try XCTUnwrap(logProbs.grad).scalars, grad.scalars, "gradient of \(label)")
        }
    }

    /// Every path of `length` steps over `classes`, collapsed: the probability of each labelling.
    private func bruteForce(_ logProbs: [[Double]]) -> [[Int]: Double] {
        let steps = logProbs.count, classes = logProbs[0].count
        var result: [[Int]: Double] = [:]
        var path = [Int](repeating: 0, count: steps)
        for code in 0..<Int(pow(Double(classes), Double(steps))) {
            var rest = code
            for s in 0..<steps { path[s] = rest % classes; rest /= classes }
            var labels: [Int] = [], previous = 0, logP = 0.0
            for s in 0..<steps {
                logP += logProbs[s][path[s]]
                if path[s] != 0 && path[s] != previous { labels.append(path[s]) }
                previous = path[s]
            }
            result[labels, default: 0] += exp(logP)
        }
        return result
    }

    func testLossIsMinusTheLogOfTheSumOverAlignmentsAndBeamSearchFindsTheBest() throws {
        var generator = SeededGenerator(seed: 11)
        let steps = 5, classes = 3
        let logits = Tensor(shape: [steps, classes], scalars: (0..<steps * classes).map { _ in generator.normal() * 1.5 })
        let logProbs = try logits.logSoftmax(dim: 1)
        let rows = (0..<steps).map { s in (0..<classes).map { Double(logProbs.scalars[s * classes + $0]) } }
        let probabilities = bruteForce(rows)
        XCTAssertEqual(probabilities.values.reduce(0, +), 1, accuracy: 1e-5)
        for (labels, p) in probabilities where labels.count <= 3 {
            let loss = try ctcLoss(logProbs, targets: [labels], inputLengths: [steps], reduction: .sum)
            XCTAssertEqual(Double(loss.item), -log(p), accuracy: 1e-4 * max(1, -log(p)), "\(labels)")
        }
        let (best, bestP) = probabilities.max { $0.value < $1.value }!
        let decoded = try ctcBeamSearchDecode(logProbs, beamWidth: 64)
        XCTAssertEqual(decoded.count, 1)
        XCTAssertEqual(decoded[0].labels, best)
        XCTAssertEqual(decoded[0].logProbability, log(bestP), accuracy: 1e-5)
        // A beam of 1 still returns a labelling with its probability under that beam.
        XCTAssertEqual(try ctcBeamSearchDecode(logProbs, beamWidth: 1).count, 1)
    }

    func testGreedyDecodingMergesRepeatsAndDropsBlanks() throws {
        // Steps' best classes: 1 1 0 1 2 2 0 0 | 3 (past the length of element 0).
        let best = [[1, 2], [1, 2], [0, 0], [1, 3], [2, 3], [2, 0], [0, 1], [0, 1], [3, 1]]
        var scalars: [Float] = []
        for step in best { for b in step { scalars += (0..<4).map { $0 == b ? 0 : -5 } } }
        let logProbs = Tensor(shape: [9, 2, 4], scalars: scalars)
        XCTAssertEqual(try ctcGreedyDecode(logProbs, inputLengths: [8, 9]), [[1, 1, 2], [2, 3, 1]])
        XCTAssertEqual(try ctcGreedyDecode(logProbs), [[1, 1, 2, 3], [2, 3, 1]])
        XCTAssertEqual(try ctcGreedyDecode(logProbs, inputLengths: [8, 9], blank: 3), [[1, 0, 1, 2, 0], [2, 0, 0, 1]])   // 2 2 0 | 0 1 1 1 around the blank 3
    }

    func testArgumentsAreChecked() throws {
        let lp = Tensor(zeros: [4, 2, 3])
        XCTAssertThrowsError(try ctcLoss(lp, targets: [[1]], inputLengths: [4, 4]))
        XCTAssertThrowsError(try ctcLoss(lp, targets: [[1], [0]], inputLengths: [4, 4])) { error in
            XCTAssertTrue("\(error)".contains("blank"), "\(error)")
        }
        XCTAssertThrowsError(try ctcLoss(lp, targets: [[1], [3]], inputLengths: [4, 4]))
        XCTAssertThrowsError(try ctcLoss(lp, targets: [[1], [2]], inputLengths: [4, 5]))
        XCTAssertThrowsError(try ctcLoss(lp, targets: [[1], [2]], inputLengths: [4]))
        XCTAssertThrowsError(try ctcLoss(lp, targets: [[1], [2]], inputLengths: [4, 4], blank: 3))
        XCTAssertThrowsError(try ctcLoss(Tensor(zeros: [4]), targets: [[1]], inputLengths: [4]))
        XCTAssertThrowsError(try ctcLoss(lp, targets: [1, 2], inputLengths: [4, 4], targetLengths: [1, 2]))
        XCTAssertEqual(try ctcLoss(lp, targets: [1, 2, 1], inputLengths: [4, 4], targetLengths: [1, 2]).item,
                       try ctcLoss(lp, targets: [[1], [2, 1]], inputLengths: [4, 4]).item)
        XCTAssertThrowsError(try ctcBeamSearchDecode(lp, beamWidth: 0))
        XCTAssertThrowsError(try ctcGreedyDecode(lp, inputLengths: [5, 1]))
    }
}
