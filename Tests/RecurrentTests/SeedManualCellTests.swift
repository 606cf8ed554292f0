import Foundation
import XCTest
@testable import Recurrent

/// The seed tutorial's first program — the hand-written `CombinedCell` trained on one
/// 3-step sequence with NLLLoss and plain SGD — against PyTorch's run of the same loop
/// (`seed_manual_cell.json`): every epoch's loss and the final parameters.
///
/// ```python
/// for epoch in range(100):
///     hidden = rnn.initHidden(); optimizer.zero_grad()
///     for x in sequence: output, hidden = rnn(x, hidden)
///     loss = criterion(output, torch.tensor([target])); loss.backward(); optimizer.step()
/// ```
final class SeedManualCellTests: XCTestCase {
    private struct Setup {
        let cell: CombinedCell
        let sequence: [Tensor]
        let target: Int
        let lr: Float
        let epochs: Int
        let fixture: Fixture
    }

    private func setup() throws -> Setup {
        let f = try Fixture("seed_manual_cell", shared: true)
        let config = f.config
        let inputSize = try XCTUnwrap(config["input_size"] as? Int)
        let hiddenSize = try XCTUnwrap(config["hidden_size"] as? Int)
        let outputSize = try XCTUnwrap(config["output_size"] as? Int)
        let cell = try CombinedCell(inputSize: inputSize, hiddenSize: hiddenSize, outputSize: outputSize)
        XCTAssertEqual(cell.stateDictKeys, ["i2h.weight", "i2h.bias", "i2o.weight", "i2o.bias"])
        try cell.loadStateDict(f.tensors("parameters"))
        let sequence = try XCTUnwrap(f["sequence"] as? [[String: Any]]).compactMap(Fixture.tensor(from:))
        XCTAssertEqual(sequence.count, 3)
        return Setup(cell: cell, sequence: sequence, target: try XCTUnwrap(config["target"] as? Int),
                     lr: try XCTUnwrap(config["lr"] as? NSNumber).floatValue,
                     epochs: try XCTUnwrap(config["epochs"] as? Int), fixture: f)
    }

    func testTrainingLoopMatchesPyTorchForEveryEpoch() throws {
        let s = try setup()
        let criterion = NLLLoss()
        let optimizer = try SGD(s.cell.parameters(), lr: s.lr)
        var losses: [Float] = []
        for _ in 0..<s.epochs {
            var hidden = try s.cell.initHidden()
            optimizer.zeroGrad()
            var output: Tensor?
            for x in s.sequence { (output, hidden) = try s.cell(x, hidden) }
            let loss = try criterion(try XCTUnwrap(output), [s.target])
            loss.backward()
            optimizer.step()
            losses.append(loss.item)
        }
        let expected = try XCTUnwrap(s.fixture["losses"] as? [NSNumber]).map(\.floatValue)
        XCTAssertEqual(expected.count, s.epochs)
        assertClose(losses, expected, rtol: 1e-4, atol: 1e-4, "losses")
        let final = s.fixture.tensors("final_parameters")
        for (name, parameter) in s.cell.namedParameters() {
            assertClose(parameter, final[name], rtol: 1e-4, atol: 1e-4, name)
        }
    }

    func testCellShapesAndGradients() throws {
        let s = try setup()
        let (output, hidden) = try s.cell(s.sequence[0], s.cell.initHidden())
        XCTAssertEqual(output.shape, [1, 2])
        XCTAssertEqual(hidden.shape, [1, 10])
        // Log-probabilities: each row's exponentials sum to 1.
        XCTAssertEqual(output.scalars.map { Foundation.exp($0) }.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertEqual(try s.cell.initHidden(batchSize: 4).shape, [4, 10])

        // Batched: rows are independent.
        let batch = try Tensor.cat([s.sequence[0], s.sequence[1]], dim: 0)
        let (batchOutput, _) = try s.cell(batch, s.cell.initHidden(batchSize: 2))
        let (second, _) = try s.cell(s.sequence[1], s.cell.initHidden())
        assertClose(Array(batchOutput.scalars[2...]), second.scalars, rtol: 1e-6, atol: 1e-6)

        // Gradients through three steps, with respect to the inputs, against finite differences.
        let xs = s.sequence.map { $0.detached() }
        try assertGradientsMatchFiniteDifferences(xs) {
            var h = try s.cell.initHidden()
            var out: Tensor?
            for x in xs { (out, h) = try s.cell(x, h) }
            return try nllLoss(out!, target: [s.target])
        }
    }

    /// The fused one-node step against the same step composed of `cat`, `Linear` and
    /// `logSoftmax`: values and every gradient, batched and not, over several steps.
    func testFusedStepMatchesComposedOperations() throws {
        var generator = SeededGenerator(seed: 3)
        let cell = try CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2, using: &generator)
        for batch in [1, 3] {
            let xs = (0..<3).map { _ in Tensor(normal: [batch, 5], using: &generator, requiresGrad: true) }
            let h0 = Tensor(normal: [batch, 10], using: &generator, requiresGrad: true)
            let seedOut = Tensor(normal: [batch, 2], using: &generator)
            let seedHidden = Tensor(normal: [batch, 10], using: &generator)
            var results: [[Float]] = []
            var gradients: [[[Float]]] = []
            for fused in [true, false] {
                cell.zeroGrad()
                for t in xs + [h0] { t.grad = nil }
                var h = h0
                var outputs: [Tensor] = []
                var loss = Tensor(0)
                // xs[0] is fed twice and every hidden state also enters the loss directly, so
                // gradients must accumulate into buffers that already hold a contribution.
                for x in [xs[0], xs[1], xs[2], xs[0]] {
                    let step = fused ? try cell(x, h) : try cell.composedStep(x, h)
                    outputs.append(step.output)
                    h = step.hidden
                    loss = loss + (h * seedHidden).sum()
                }
                if fused { XCTAssertEqual(outputs[0].gradFnName, "CombinedCellBackward") }
                for o in outputs { loss = loss + (o * seedOut).sum() }
                loss.backward()
                withExtendedLifetime(outputs) {}
                results.append(outputs.flatMap(\.scalars) + h.scalars)
                gradients.append((xs + [h0]).map { $0.grad?.scalars ?? [] } + cell.parameters().map { $0.grad?.scalars ?? [] })
            }
            assertClose(results[0], results[1], rtol: 1e-5, atol: 1e-6, "values, batch \(batch)")
            for (k, (a, b)) in zip(gradients[0], gradients[1]).enumerated() {
                XCTAssertFalse(a.isEmpty, "gradient \(k) missing")
                assertClose(a, b, rtol: 1e-5, atol: 1e-6, "gradient \(k), batch \(batch)")
            }
        }
    }

    func testStepWithoutRecordingMakesNoGraph() throws {
        let cell = try CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2)
        let (output, hidden) = try withoutGradients { try cell(Tensor(zeros: [1, 5]), cell.initHidden()) }
        XCTAssertTrue(output.isLeaf)
        XCTAssertFalse(hidden.requiresGrad)
    }

    func testBadShapesThrow() throws {
        let cell = try CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2)
        let h = try cell.initHidden()
        XCTAssertThrowsError(try cell(Tensor(zeros: [1, 4]), h)) { error in
            XCTAssertEqual("\(error)", "shape mismatch: CombinedCell: expected an input of shape (batch, 5), got [1, 4]")
        }
        XCTAssertThrowsError(try cell(Tensor(zeros: [5]), h))
        XCTAssertThrowsError(try cell(Tensor(zeros: [1, 5]), Tensor(zeros: [1, 9])))
        XCTAssertThrowsError(try cell(Tensor(zeros: [2, 5]), h)) { error in
            XCTAssertEqual("\(error)", "shape mismatch: CombinedCell: expected a hidden state of shape [2, 10] for an input of shape [2, 5], got [1, 10]")
        }
    }
}
