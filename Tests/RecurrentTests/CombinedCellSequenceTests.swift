import Foundation
import XCTest
@testable import Recurrent

/// ``CombinedCell/callAsFunction(oneHot:_:)`` — the cell over a whole one-hot sequence as
/// one node — against the per-step path (one fused node per step on explicit one-hot
/// rows): the last output, the final state and every gradient.
final class CombinedCellSequenceTests: XCTestCase {
    private func oneHotRow(_ index: Int, _ size: Int) -> Tensor {
        var row = [Float](repeating: 0, count: size)
        row[index] = 1
        return Tensor(shape: [1, size], scalars: row)
    }

    /// Runs both paths on `indices` from `h0` with `loss(output, hidden)` and returns
    /// (values, gradients) of each: the per-step path first.
    private func compare(_ cell: CombinedCell, _ indices: [Int], h0: Tensor,
                         loss: (Tensor, Tensor) throws -> Tensor,
                         file: StaticString = #filePath, line: UInt = #line) throws {
        var values: [[Float]] = []
        var gradients: [[[Float]]] = []
        for sequence in [false, true] {
            cell.zeroGrad()
            h0.grad = nil
            var output: Tensor?
            var hidden = h0
            if sequence {
                (output, hidden) = try cell(oneHot: indices, h0)
                XCTAssertEqual(output!.gradFnName, "CombinedCellSequenceBackward", file: file, line: line)
            } else {
                for index in indices { (output, hidden) = try cell(oneHotRow(index, cell.inputSize), hidden) }
            }
            try loss(output!, hidden).backward()
            values.append(output!.scalars + hidden.scalars)
            var g = cell.parameters().map { $0.grad?.scalars ?? [] }
            if h0.requiresGrad { g.append(h0.grad?.scalars ?? []) }
            gradients.append(g)
        }
        assertClose(values[1], values[0], rtol: 1e-5, atol: 1e-6, "values", file: file, line: line)
        for (k, (a, b)) in zip(gradients[1], gradients[0]).enumerated() {
            XCTAssertFalse(b.isEmpty, "gradient \(k) missing", file: file, line: line)
            assertClose(a, b, rtol: 1e-4, atol: 1e-6, "gradient \(k)", file: file, line: line)
        }
    }

    func testGradientsMatchPerStepPathFromZeroState() throws {
        var generator = SeededGenerator(seed: 11)
        let cell = try CombinedCell(inputSize: 7, hiddenSize: 12, outputSize: 4, using: &generator)
        // Repeated indices: a column of i2h.weight gets gradients from several steps.
        for indices in [[3], [0, 6], [2, 5, 2, 1, 2, 6, 0]] {
            try compare(cell, indices, h0: cell.initHidden()) { output, _ in try nllLoss(output, target: [1]) }
        }
    }

    func testGradientsMatchWithNonzeroStateAndBothOutputsInTheLoss() throws {
        var generator = SeededGenerator(seed: 12)
        let cell = try CombinedCell(inputSize: 5, hiddenSize: 9, outputSize: 3, using: &generator)
        let seedOutput = Tensor(normal: [1, 3], using: &generator)
        let seedHidden = Tensor(normal: [1, 9], using: &generator)
        for indices in [[4], [1, 0, 3, 3]] {
            let h0 = Tensor(normal: [1, 9], using: &generator, requiresGrad: true)
            try compare(cell, indices, h0: h0) { output, hidden in
                (output * seedOutput).sum() + (hidden * seedHidden).sum()
            }
        }
    }

    func testTrainingMatchesPerStepPathOverManyUpdates() throws {
        // The names loop in miniature: SGD after each sequence, 50 updates, both paths.
        var finals: [[Float]] = []
        for sequence in [false, true] {
            var generator = SeededGenerator(seed: 13)
            let cell = try CombinedCell(inputSize: 6, hiddenSize: 16, outputSize: 3, using: &generator)
            let optimizer = try SGD(cell.parameters(), lr: 0.05)
            var rng = SeededGenerator(seed: 14)
            for _ in 0..<50 {
                let length = Int.random(in: 1...8, using: &rng)
                let indices = (0..<length).map { _ in Int.random(in: 0..<6, using: &rng) }
                let target = Int.random(in: 0..<3, using: &rng)
                var output: Tensor?
                var hidden = try cell.initHidden()
                if sequence {
                    (output, hidden) = try cell(oneHot: indices, hidden)
                } else {
                    for index in indices { (output, hidden) = try cell(oneHotRow(index, 6), hidden) }
                }
                optimizer.zeroGrad(setToNil: false)
                try nllLoss(output!, target: [target]).backward()
                optimizer.step()
            }
            finals.append(cell.parameters().flatMap(\.scalars))
        }
        assertClose(finals[1], finals[0], rtol: 1e-4, atol: 1e-5, "parameters after training")
    }

    func testWithoutRecordingMakesNoGraph() throws {
        let cell = try CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2)
        let (output, hidden) = try withoutGradients { try cell(oneHot: [1, 2], cell.initHidden()) }
        XCTAssertTrue(output.isLeaf)
        XCTAssertFalse(hidden.requiresGrad)
        XCTAssertEqual(output.shape, [1, 2])
        XCTAssertEqual(hidden.shape, [1, 10])
    }

    func testBadInputsThrow() throws {
        let cell = try CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2)
        XCTAssertThrowsError(try cell(oneHot: [], cell.initHidden()))
        XCTAssertThrowsError(try cell(oneHot: [5], cell.initHidden()))
        XCTAssertThrowsError(try cell(oneHot: [-1], cell.initHidden()))
        XCTAssertThrowsError(try cell(oneHot: [0], cell.initHidden(batchSize: 2)))
        XCTAssertThrowsError(try cell(oneHot: [0], Tensor(zeros: [1, 9])))
    }

    func testOneThreadAndTwoThreadsAgree() throws {
        // The sequence path pins BLAS to one thread for its small products and restores
        // the setting afterwards.
        let before = ComputeThreads.count
        defer { ComputeThreads.set(before) }
        ComputeThreads.set(2)
        let cell = try CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2)
        let (output, _) = try cell(oneHot: [1, 2, 3], cell.initHidden())
        try nllLoss(output, target: [0]).backward()
        XCTAssertEqual(ComputeThreads.count, 2)
    }
}
