import XCTest
@testable import Recurrent

/// The losses added for training (BCE, BCE with logits, L1, smooth L1, Huber) and NLL /
/// cross-entropy with class weights, `ignoreIndex` and `(N, C, d₁, …)` inputs, against
/// PyTorch (`training_losses.json`: every reduction, values and gradients of the input and
/// the target), plus hand-computed cases and argument checks.
final class TrainingLossTests: XCTestCase {
    private func reduction(_ name: String) throws -> Reduction { try XCTUnwrap(Reduction(rawValue: name)) }

    /// Applies the loss an entry names, with PyTorch's option names.
    private func apply(_ entry: [String: Any], _ input: Tensor, _ target: Tensor?, _ targets: [Int],
                       _ inputs: [String: Tensor]) throws -> Tensor {
        let loss = try XCTUnwrap(entry["loss"] as? String)
        let options = entry["options"] as? [String: Any] ?? [:]
        let r = try reduction(try XCTUnwrap(entry["reduction"] as? String))
        func float(_ key: String) -> Float? { (options[key] as? NSNumber)?.floatValue }
        let weight = inputs["weight"]
        switch loss {
        case "BCELoss": return try BCELoss(weight: weight, reduction: r)(input, XCTUnwrap(target))
        case "BCEWithLogitsLoss":
            return try BCEWithLogitsLoss(weight: weight, reduction: r, posWeight: inputs["pos_weight"])(input, XCTUnwrap(target))
        case "L1Loss": return try L1Loss(reduction: r)(input, XCTUnwrap(target))
        case "SmoothL1Loss": return try SmoothL1Loss(reduction: r, beta: float("beta") ?? 1)(input, XCTUnwrap(target))
        case "HuberLoss": return try HuberLoss(reduction: r, delta: float("delta") ?? 1)(input, XCTUnwrap(target))
        case "CrossEntropyLoss":
            return try CrossEntropyLoss(weight: weight, ignoreIndex: (options["ignore_index"] as? Int) ?? -100, reduction: r)(input, targets)
        case "NLLLoss":
            return try NLLLoss(weight: weight, ignoreIndex: (options["ignore_index"] as? Int) ?? -100, reduction: r)(input, targets)
        default:
            throw TensorError.invalidArgument("the test does not know the loss \(loss)")
        }
    }

    func testEveryLossMatchesPyTorchValuesAndGradients() throws {
        let f = try Fixture("training_losses")
        let entries = try XCTUnwrap(f["entries"] as? [[String: Any]])
        XCTAssertEqual(entries.count, 54)
        var seen = Set<String>()
        for entry in entries {
            let inputs = (entry["inputs"] as? [String: Any] ?? [:]).compactMapValues { ($0 as? [String: Any]).flatMap(Fixture.tensor(from:)) }
            let input = try XCTUnwrap(inputs["input"])
            input.requiresGrad = true
            let target = inputs["target"]
            target?.requiresGrad = true
            let targets = entry["target"] as? [Int] ?? []
            let label = "\(entry["loss"] ?? "") \(entry["options"] ?? "") \(entry["reduction"] ?? "")"
            seen.insert(entry["loss"] as? String ?? "")
            let value = try apply(entry, input, target, targets, inputs)
            let expected = try XCTUnwrap(Fixture.tensor(from: try XCTUnwrap(entry["value"] as? [String: Any])))
            assertClose(value, expected, rtol: 1e-5, atol: 1e-5, "value of \(label)")
            if let seed = (entry["seed"] as? [String: Any]).flatMap(Fixture.tensor(from:)) {
                XCTAssertEqual(value.shape, seed.shape, label)
                (value * seed).sum().backward()
            } else {
                value.backward()
            }
            let gradInput = try XCTUnwrap(Fixture.tensor(from: try XCTUnwrap(entry["grad_input"] as? [String: Any])))
            assertClose(input.grad, gradInput, rtol: 1e-5, atol: 1e-5, "input gradient of \(label)")
            if let target, let g = (entry["grad_target"] as? [String: Any]).flatMap(Fixture.tensor(from:)) {
                // Infinities (saturated BCE probabilities) must match exactly, the rest closely.
                let actual = try XCTUnwrap(target.grad).scalars, want = g.scalars
                XCTAssertEqual(actual.map(\.isFinite), want.map(\.isFinite), "target gradient of \(label)")
                let both = actual.indices.filter { want[$0].isFinite }
                for i in actual.indices where !want[i].isFinite { XCTAssertEqual(actual[i], want[i], label) }
                assertClose(both.map { actual[$0] }, both.map { want[$0] }, rtol: 1e-5, atol: 1e-5, "target gradient of \(label)")
            }
        }
        XCTAssertEqual(seen, ["BCELoss", "BCEWithLogitsLoss", "L1Loss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss"])
    }

    // MARK: Hand-computed cases

    func testPointwiseLossesByHand() throws {
        let x = Tensor(shape: [4], scalars: [0, 0.5, -3, 2])
        let y = Tensor(shape: [4], scalars: [0, 0, 0, 0])
        XCTAssertEqual(try l1Loss(x, y, reduction: .none).scalars, [0, 0.5, 3, 2])
        // beta 1: 0.5 d² inside, |d| − 0.5 outside.
        XCTAssertEqual(try smoothL1Loss(x, y, reduction: .none).scalars, [0, 0.125, 2.5, 1.5])
        // delta 2: 0.5 d² inside, 2 (|d| − 1) outside (|d| = 2 is outside, as in PyTorch).
        XCTAssertEqual(try huberLoss(x, y, delta: 2, reduction: .none).scalars, [0, 0.125, 4, 2])
        XCTAssertEqual(try huberLoss(x, y, delta: 2, reduction: .sum).item, 6.125)
        XCTAssertEqual(try l1Loss(x, y).item, 5.5 / 4)
        // Smooth L1 with beta is Huber with delta = beta, divided by beta.
        let s = try smoothL1Loss(x, y, beta: 2.5, reduction: .none).scalars
        let h = try huberLoss(x, y, delta: 2.5, reduction: .none).scalars
        assertClose(s, h.map { $0 / 2.5 }, rtol: 1e-6, atol: 1e-7)
    }

    func testBCEWithLogitsIsBCEOfSigmoid() throws {
        let logits = Tensor(shape: [2, 3], scalars: [-2, -0.5, 0, 0.25, 1, 3])
        let target = Tensor(shape: [2, 3], scalars: [0, 1, 0.5, 1, 0, 1])
        for r in Reduction.allCases {
            let a = try binaryCrossEntropyWithLogits(logits, target, reduction: r)
            let b = try binaryCrossEntropy(logits.sigmoid(), target, reduction: r)
            assertClose(a.scalars, b.scalars, rtol: 1e-5, atol: 1e-6, "\(r)")
        }
        // A positive weight p multiplies the loss of the positive part only: y = 1 gives p · softplus(−x).
        let p = Tensor(shape: [3], scalars: [2, 2, 2])
        let one = Tensor(shape: [1, 3], scalars: [1, 1, 1]), x = Tensor(shape: [1, 3], scalars: [-1, 0, 1])
        let weighted = try binaryCrossEntropyWithLogits(x, one, posWeight: p, reduction: .none).scalars
        let plain = try binaryCrossEntropyWithLogits(x, one, reduction: .none).scalars
        assertClose(weighted, plain.map { 2 * $0 }, rtol: 1e-6, atol: 1e-7)
    }

    func testGradientsMatchFiniteDifferences() throws {
        let x = Tensor(shape: [2, 3], scalars: [0.2, 0.7, 0.45, 0.9, 0.15, 0.6])
        let y = Tensor(shape: [2, 3], scalars: [0, 1, 0.3, 1, 0.2, 0.5])
        try assertGradientsMatchFiniteDifferences([x, y], step: 1e-3, rtol: 3e-2, atol: 3e-3) {
            try binaryCrossEntropy(x, y, weight: Tensor(shape: [3], scalars: [1, 0.5, 2]), reduction: .sum)
        }
        let logits = Tensor(shape: [2, 3], scalars: [-2, -0.5, 0.1, 0.25, 1, 3])
        try assertGradientsMatchFiniteDifferences([logits, y]) {
            try binaryCrossEntropyWithLogits(logits, y, posWeight: Tensor(shape: [3], scalars: [3, 0.5, 1]))
        }
        let logits3 = Tensor(shape: [2, 3, 2], scalars: [0.5, -1, 2, 0.1, -0.3, 1.2, 0.7, 0.2, -1.5, 0.9, 0.4, 0])
        try assertGradientsMatchFiniteDifferences([logits3]) {
            try crossEntropy(logits3, target: [2, 0, -100, 1], weight: Tensor(shape: [3], scalars: [1, 2, 0.5]))
        }
    }

    func testSequenceInputEqualsFlattenedRows() throws {
        // (N, C, L) cross-entropy is the (N·L, C) cross-entropy of the transposed rows.
        let x = Tensor(shape: [2, 3, 2], scalars: [0.5, -1, 2, 0.1, -0.3, 1.2, 0.7, 0.2, -1.5, 0.9, 0.4, 0])
        let t = [2, 0, 1, 1]
        let rows = Tensor(shape: [4, 3], scalars: [0.5, 2, -0.3, -1, 0.1, 1.2, 0.7, -1.5, 0.4, 0.2, 0.9, 0])
        for r in Reduction.allCases {
            let a = try crossEntropy(x, target: t, reduction: r), b = try crossEntropy(rows, target: t, reduction: r)
            XCTAssertEqual(a.shape, r == .none ? [2, 2] : [])
            assertClose(a.scalars, b.scalars, rtol: 1e-6, atol: 1e-6, "\(r)")
        }
    }

    // MARK: Argument checks

    func testArgumentsAreChecked() throws {
        let x = Tensor(shape: [2, 2], scalars: [0.1, 0.2, 0.3, 0.4])
        XCTAssertThrowsError(try binaryCrossEntropy(x, Tensor(zeros: [4]))) { error in
            guard case TensorError.shapeMismatch = error else { return XCTFail("\(error)") }
        }
        XCTAssertThrowsError(try binaryCrossEntropy(Tensor(shape: [2], scalars: [0.5, 1.5]), Tensor(zeros: [2]))) { error in
            guard case TensorError.invalidArgument(let m) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(m.contains("1.5"), m)
        }
        XCTAssertThrowsError(try binaryCrossEntropy(x, x, weight: Tensor(zeros: [3])))
        XCTAssertThrowsError(try binaryCrossEntropyWithLogits(x, x, posWeight: Tensor(zeros: [3])))
        XCTAssertNoThrow(try binaryCrossEntropyWithLogits(x, x, posWeight: Tensor(zeros: [2])))
        XCTAssertThrowsError(try smoothL1Loss(x, x, beta: -1))
        XCTAssertThrowsError(try huberLoss(x, x, delta: 0))
        XCTAssertThrowsError(try HuberLoss(delta: .nan))
        XCTAssertThrowsError(try SmoothL1Loss(beta: -0.5))
        XCTAssertThrowsError(try l1Loss(x, Tensor(zeros: [2, 3])))
        let seq = Tensor(zeros: [2, 3, 4])
        XCTAssertThrowsError(try crossEntropy(seq, target: [0, 1])) { error in
            guard case TensorError.shapeMismatch(let m) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(m.contains("expected 8 targets"), m)
        }
        XCTAssertThrowsError(try nllLoss(seq, target: [Int](repeating: 3, count: 8)))
        XCTAssertThrowsError(try nllLoss(Tensor(zeros: []), target: [0]))
        XCTAssertEqual(try crossEntropy(Tensor(zeros: [2, 3, 0]), target: [], reduction: .none).shape, [2, 0])
    }
}
