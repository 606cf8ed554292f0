import XCTest
@testable import Recurrent

/// The losses against PyTorch (`losses.json`) and hand-computed cases.
///
/// The fixture was produced by:
/// ```python
/// logits = torch.randn(6, 4) * 3; target = torch.tensor([2, 1, 0, 0, 0, 2])
/// F.log_softmax(logits, 1); F.nll_loss(F.log_softmax(logits, 1), target)  # and its grad
/// F.cross_entropy(logits, target); F.mse_loss(pred, tgt)                   # and their grads
/// ```
final class LossTests: XCTestCase {
    private func fixture() throws -> Fixture { try Fixture("losses", shared: true) }
    private func target(_ f: Fixture) -> [Int] { (f["target"] as? [Int]) ?? [] }

    // MARK: PyTorch fixture

    func testLogSoftmaxMatchesPyTorch() throws {
        let f = try fixture()
        let logits = try XCTUnwrap(f.tensor("logits"))
        assertClose(try logits.logSoftmax(dim: 1), f.tensor("log_softmax"))
    }

    func testNLLMeanAndGradientMatchPyTorch() throws {
        let f = try fixture()
        let logits = try XCTUnwrap(f.tensor("logits"))
        logits.requiresGrad = true
        // The log-softmax output is a temporary: its node must keep what its backward reads.
        let loss = try nllLoss(try logits.logSoftmax(dim: 1), target: target(f))
        XCTAssertEqual(loss.shape, [])
        XCTAssertEqual(loss.gradFnName, "NllLossBackward")
        assertClose([loss.item], [Float(try XCTUnwrap(f.number("nll_mean")))])
        loss.backward()
        assertClose(logits.grad, f.tensor("nll_grad_logits"))
    }

    func testCrossEntropyMeanAndGradientMatchPyTorch() throws {
        let f = try fixture()
        let logits = try XCTUnwrap(f.tensor("logits"))
        logits.requiresGrad = true
        let loss = try crossEntropy(logits, target: target(f))
        XCTAssertEqual(loss.gradFnName, "CrossEntropyLossBackward")
        assertClose([loss.item], [Float(try XCTUnwrap(f.number("cross_entropy_mean")))])
        loss.backward()
        assertClose(logits.grad, f.tensor("cross_entropy_grad_logits"))
    }

    func testMSEMeanAndGradientMatchPyTorch() throws {
        let f = try fixture()
        let pred = try XCTUnwrap(f.tensor("mse_pred")), goal = try XCTUnwrap(f.tensor("mse_target"))
        pred.requiresGrad = true
        let loss = try MSELoss()(pred, goal)
        assertClose([loss.item], [Float(try XCTUnwrap(f.number("mse_mean")))])
        loss.backward()
        assertClose(pred.grad, f.tensor("mse_grad_pred"))
    }

    func testLossModulesMatchFunctions() throws {
        let f = try fixture()
        let logits = try XCTUnwrap(f.tensor("logits"))
        let t = target(f)
        XCTAssertEqual(try CrossEntropyLoss()(logits, t).item, try crossEntropy(logits, target: t).item)
        let logp = try logits.logSoftmax(dim: 1)
        XCTAssertEqual(try NLLLoss(reduction: .sum)(logp, t).item, try nllLoss(logp, target: t, reduction: .sum).item)
    }

    // MARK: Hand-computed cases

    /// log-probabilities of 3 items over 3 classes, easy to read.
    private let logp = Tensor(shape: [3, 3], scalars: [-1, -2, -3,
                                                       -4, -5, -6,
                                                       -7, -8, -9])

    func testNLLReductions() throws {
        let t = [0, 2, 1]   // picks -1, -6, -8
        XCTAssertEqual(try nllLoss(logp, target: t, reduction: .sum).item, 15)
        XCTAssertEqual(try nllLoss(logp, target: t).item, 5)
        let none = try nllLoss(logp, target: t, reduction: .none)
        XCTAssertEqual(none.shape, [3])
        XCTAssertEqual(none.scalars, [1, 6, 8])
    }

    func testNLLClassWeightsUseWeightedMean() throws {
        let w = Tensor(shape: [3], scalars: [1, 2, 0.5])
        let t = [0, 2, 1]   // weights 1, 0.5, 2
        XCTAssertEqual(try nllLoss(logp, target: t, weight: w, reduction: .none).scalars, [1, 3, 16])
        XCTAssertEqual(try nllLoss(logp, target: t, weight: w, reduction: .sum).item, 20)
        // PyTorch: Σ w[y]·(−x) / Σ w[y] = 20 / 3.5
        XCTAssertEqual(try nllLoss(logp, target: t, weight: w).item, 20 / 3.5, accuracy: 1e-6)
        let x = logp.detached()
        x.requiresGrad = true
        try nllLoss(x, target: t, weight: w).backward()
        assertClose(x.grad?.scalars ?? [], [-1 / 3.5, 0, 0,
                                            0, 0, -0.5 / 3.5,
                                            0, -2 / 3.5, 0])
    }

    func testNLLIgnoreIndex() throws {
        let t = [0, -100, 1]
        XCTAssertEqual(try nllLoss(logp, target: t).item, 4.5)   // (1 + 8) / 2
        XCTAssertEqual(try nllLoss(logp, target: t, reduction: .none).scalars, [1, 0, 8])
        XCTAssertEqual(try nllLoss(logp, target: [0, 7, 1], ignoreIndex: 7, reduction: .sum).item, 9)
        // Class weights of ignored items do not enter the divisor.
        let w = Tensor(shape: [3], scalars: [2, 3, 4])
        XCTAssertEqual(try nllLoss(logp, target: t, weight: w).item, (2 + 24) / Float(5), accuracy: 1e-6)
        // All ignored: 0/0 = NaN, as in PyTorch; gradients stay zero.
        let x = logp.detached()
        x.requiresGrad = true
        let loss = try nllLoss(x, target: [-100, -100, -100])
        XCTAssertTrue(loss.item.isNaN)
        loss.backward()
        XCTAssertEqual(x.grad?.scalars, [Float](repeating: 0, count: 9))
    }

    func testUnbatchedInputs() throws {
        let row = Tensor(shape: [3], scalars: [-1, -2, -3])
        XCTAssertEqual(try nllLoss(row, target: [1]).item, 2)
        let none = try nllLoss(row, target: [1], reduction: .none)
        XCTAssertEqual(none.shape, [])
        XCTAssertEqual(none.item, 2)
        let logits = Tensor(shape: [3], scalars: [0.5, -1, 2])
        let batched = try crossEntropy(try logits.reshaped([1, 3]), target: [2])
        XCTAssertEqual(try crossEntropy(logits, target: [2]).item, batched.item, accuracy: 1e-7)
    }

    func testCrossEntropyEqualsNLLOfLogSoftmaxForEveryOption() throws {
        let logits = Tensor(shape: [4, 3], scalars: [0.1, 2, -1, 3, 0, 0.5, -2, -2, 1, 0.3, 0.2, 0.1])
        let w = Tensor(shape: [3], scalars: [0.5, 2, 1])
        let t = [1, 0, -100, 2]
        for reduction in Reduction.allCases {
            for weight in [nil, w] {
                let a = try crossEntropy(logits, target: t, weight: weight, reduction: reduction)
                let b = try nllLoss(try logits.logSoftmax(dim: 1), target: t, weight: weight, reduction: reduction)
                XCTAssertEqual(a.shape, b.shape)
                assertClose(a.scalars, b.scalars, rtol: 1e-6, atol: 1e-6, "\(reduction) weight \(weight != nil)")
            }
        }
    }

    func testCrossEntropyIsStableForLargeLogits() throws {
        let logits = Tensor(shape: [1, 3], scalars: [1000, 0, -1000])
        XCTAssertEqual(try crossEntropy(logits, target: [0]).item, 0)
        XCTAssertEqual(try crossEntropy(logits, target: [1]).item, 1000)
    }

    func testMSEReductionsAndTargetGradient() throws {
        let x = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4], requiresGrad: true)
        let y = Tensor(shape: [2, 2], scalars: [0, 0, 1, 5], requiresGrad: true)
        XCTAssertEqual(try mseLoss(x, y, reduction: .sum).item, 1 + 4 + 4 + 1)
        XCTAssertEqual(try mseLoss(x, y).item, 2.5)
        let none = try mseLoss(x, y, reduction: .none)
        XCTAssertEqual(none.shape, [2, 2])
        XCTAssertEqual(none.scalars, [1, 4, 4, 1])
        try mseLoss(x, y).backward()
        XCTAssertEqual(x.grad?.scalars, [0.5, 1, 1, -0.5])
        XCTAssertEqual(y.grad?.scalars, [-0.5, -1, -1, 0.5])
    }

    // MARK: Finite differences

    func testGradientsMatchFiniteDifferences() throws {
        var generator = SeededGenerator(seed: 7)
        let logits = Tensor(normal: [4, 5], using: &generator)
        let w = Tensor(shape: [5], scalars: [1, 0.5, 2, 1.5, 0.25])
        let t = [3, 0, -100, 4]
        let seed = Tensor(shape: [4], scalars: [0.3, -1, 2, 0.7])
        for reduction in Reduction.allCases {
            try assertGradientsMatchFiniteDifferences([logits]) {
                let l = try crossEntropy(logits, target: t, weight: w, reduction: reduction)
                return reduction == .none ? (l * seed).sum() : l
            }
            try assertGradientsMatchFiniteDifferences([logits]) {
                let l = try nllLoss(try logits.logSoftmax(dim: 1), target: t, weight: w, reduction: reduction)
                return reduction == .none ? (l * seed).sum() : l
            }
        }
        let a = Tensor(normal: [3, 4], using: &generator), b = Tensor(normal: [3, 4], using: &generator)
        let seed2 = Tensor(normal: [3, 4], using: &generator)
        for reduction in Reduction.allCases {
            try assertGradientsMatchFiniteDifferences([a, b]) {
                let l = try mseLoss(a, b, reduction: reduction)
                return reduction == .none ? (l * seed2).sum() : l
            }
        }
    }

    // MARK: Bad inputs

    private func assertThrows(_ expected: (TensorError) -> Bool, _ body: () throws -> Tensor,
                              file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let e = error as? TensorError else { return XCTFail("not a TensorError: \(error)", file: file, line: line) }
            XCTAssertTrue(expected(e), "unexpected \(e)", file: file, line: line)
        }
    }

    private func isShape(_ e: TensorError) -> Bool { if case .shapeMismatch = e { return true }; return false }
    private func isArgument(_ e: TensorError) -> Bool { if case .invalidArgument = e { return true }; return false }

    func testBadInputsThrow() {
        assertThrows(isArgument) { try nllLoss(self.logp, target: [0, 3, 1]) }
        assertThrows(isArgument) { try nllLoss(self.logp, target: [0, -1, 1]) }
        assertThrows(isArgument) { try crossEntropy(self.logp, target: [0, 1, 5]) }
        assertThrows(isShape) { try nllLoss(self.logp, target: [0, 1]) }
        assertThrows(isShape) { try crossEntropy(self.logp, target: [0, 1, 2, 0]) }
        assertThrows(isShape) { try nllLoss(Tensor(shape: [3], scalars: [1, 2, 3]), target: [0, 1]) }
        assertThrows(isShape) { try nllLoss(self.logp, target: [0, 1, 2], weight: Tensor(shape: [2], scalars: [1, 1])) }
        assertThrows(isShape) { try crossEntropy(Tensor(zeros: [2, 3, 4]), target: [0, 1]) }
        assertThrows(isShape) { try crossEntropy(Tensor(0.5), target: [0]) }
        assertThrows(isShape) { try mseLoss(Tensor(zeros: [2, 3]), Tensor(zeros: [3, 2])) }
        assertThrows(isShape) { try MSELoss()(Tensor(zeros: [2, 3]), Tensor(zeros: [3])) }
        // The messages name expected and actual.
        XCTAssertThrowsError(try nllLoss(logp, target: [0, 1])) { error in
            XCTAssertEqual("\(error)", "shape mismatch: nllLoss: expected 3 targets (one per row of the input of shape [3, 3]), got 2")
        }
        XCTAssertThrowsError(try nllLoss(logp, target: [0, 9, 1])) { error in
            XCTAssertEqual("\(error)", "invalid argument: nllLoss: expected a class index in 0..<3 (or ignoreIndex -100), got 9 at position 1")
        }
    }
}
