import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// The tensor operations of issue 16: gradients against central finite differences, values
/// computed by hand, and the thrown errors (which leave every tensor and the random stream as
/// they were). PyTorch's values are checked in ``TensorFixtureTests``.
final class TensorMathTests: XCTestCase {
    /// Uniform random values, reproducible from `seed`.
    private func random(_ shape: [Int], seed: UInt64, _ low: Float = -1, _ high: Float = 1) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(uniform: shape, low: low, high: high, using: &g)
    }

    /// `Σ op(inputs) ⊙ w` for fixed random weights `w`, differentiated numerically and
    /// analytically.
    private func checkGradients(_ inputs: [Tensor], step: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
                                file: StaticString = #filePath, line: UInt = #line,
                                _ f: () throws -> Tensor) rethrows {
        try assertGradientsMatchFiniteDifferences(inputs, step: step, rtol: rtol, atol: atol, file: file, line: line) {
            let y = try f()
            return (y * self.random(y.shape, seed: 77 &+ UInt64(y.count))).sum()
        }
    }

    // MARK: - Finite differences

    func testElementwiseGradients() throws {
        // Inputs away from the kinks (0 for abs and sign, the clamp bounds).
        let x = random([3, 4], seed: 1, 0.2, 1.5)
        let signed = Tensor(shape: [2, 3], scalars: [-1.3, 0.4, -0.7, 1.1, 0.9, -0.35])
        checkGradients([signed]) { signed.abs() }
        checkGradients([x]) { x.sqrt() }
        for p: Float in [0, 1, 2, 3, 2.5, -1.5, 0.5, -1] { checkGradients([x]) { x.pow(p) } }
        checkGradients([signed]) { signed.pow(3) }
        checkGradients([signed]) { (signed * 3).sin() }
        checkGradients([signed]) { (signed * 3).cos() }
        checkGradients([signed]) { signed.sign() }
        try checkGradients([signed]) { try signed.clamp(min: -0.5, max: 0.7) }
        try checkGradients([signed]) { try signed.clamp(min: 0) }
        let b = Tensor(shape: [3], scalars: [0.1, -0.2, 0.5])
        try checkGradients([signed, b]) { try signed.maximum(b) }
        try checkGradients([signed, b]) { try signed.minimum(b) }
    }

    func testMaskAndSelectionGradients() throws {
        let a = random([2, 3], seed: 2), b = random([3], seed: 3)
        let mask = a .> 0
        try checkGradients([a, b]) { try Tensor.where(mask, a, b) }
        let rowMask = Tensor(shape: [1, 3], scalars: [1, 0, 1])
        try checkGradients([a]) { try a.maskedFill(rowMask, value: 4) }
    }

    func testReductionGradients() throws {
        let x = random([2, 3, 4], seed: 4)
        for dim in [0, 1, 2, -1] {
            for keepDim in [false, true] {
                try checkGradients([x]) { try x.max(dim: dim, keepDim: keepDim).values }
                try checkGradients([x]) { try x.min(dim: dim, keepDim: keepDim).values }
                try checkGradients([x]) { try x.logsumexp(dim: dim, keepDim: keepDim) }
                try checkGradients([x]) { try x.var(dim: dim, keepDim: keepDim) }
                try checkGradients([x]) { try x.std(dim: dim, correction: 0, keepDim: keepDim) }
            }
        }
        // Distinct values at least 0.1 apart, so that the finite differences do not swap the
        // extremes.
        let spread = Tensor(shape: [2, 3], scalars: [0.3, -0.9, 1.4, 0.1, -0.5, 0.8])
        try checkGradients([spread]) { try spread.max() }
        try checkGradients([spread]) { try spread.min() }
        try checkGradients([x]) { try x.var() }
        try checkGradients([x]) { try x.std() }
        try checkGradients([x]) { try x.sum(dims: [0, 2], keepDim: true) }
        try checkGradients([x]) { try x.mean(dims: [-1, 0]) }
    }

    func testShapeAndIndexingGradients() throws {
        let x = random([2, 1, 3], seed: 5)
        checkGradients([x]) { x.squeeze() }
        try checkGradients([x]) { try x.unsqueeze(dim: -1) }
        try checkGradients([x]) { try x.flatten() }
        try checkGradients([x]) { try x.view(3, 2) }
        try checkGradients([x]) { try x.permute(2, 0, 1) }
        try checkGradients([x]) { try x.transpose(0, 2) }
        try checkGradients([x]) { try x.expand(4, 2, 5, 3) }
        checkGradients([x]) { x.clone() * x }
        let y = random([3, 4], seed: 6)
        try checkGradients([y]) { try y.indexSelect(dim: 1, indices: [3, 0, 3]) }
        try checkGradients([y]) { try y.gather(dim: 0, index: Tensor([[2, 0, 1, 2], [0, 0, 1, 1]])) }
        try checkGradients([y]) { try y[1] }
        try checkGradients([y]) { try y[0..<2, 1] }
        try checkGradients([y]) { try y[1..., 1...2] }
    }

    // MARK: - Values by hand

    func testValuesByHand() throws {
        let x = try Tensor([[1, -2, 3], [-4, 5, -6]])
        XCTAssertEqual(x.abs().scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(x.sign().scalars, [1, -1, 1, -1, 1, -1])
        XCTAssertEqual(try x.clamp(min: -3, max: 2).scalars, [1, -2, 2, -3, 2, -3])
        XCTAssertEqual(try x.clamp(min: 2, max: 1).scalars, [1, 1, 1, 1, 1, 1], "min > max gives max, as in PyTorch")
        XCTAssertEqual(x.pow(2).scalars, [1, 4, 9, 16, 25, 36])
        XCTAssertEqual(x.pow(0).scalars, [1, 1, 1, 1, 1, 1])
        XCTAssertTrue(x.pow(0.5).scalars[1].isNaN, "a negative base with a fractional exponent is NaN")
        XCTAssertEqual(x.pow(3).scalars, [1, -8, 27, -64, 125, -216])
        XCTAssertEqual((x .> 0).scalars, [1, 0, 1, 0, 1, 0])
        XCTAssertEqual((x .<= -4).scalars, [0, 0, 0, 1, 0, 1])
        let row = Tensor([1, 5, -6])
        XCTAssertEqual(try (x .== row).scalars, [1, 0, 0, 0, 1, 1])
        XCTAssertEqual(try (x .!= row).scalars, [0, 1, 1, 1, 0, 0])
        XCTAssertEqual(try (x .< row).scalars, [0, 1, 0, 1, 0, 0])
        XCTAssertEqual(try (x .>= row).scalars, [1, 0, 1, 0, 1, 1])
        XCTAssertThrowsError(try x .> Tensor([1, 2]))
        let (values, indices) = try x.max(dim: 1)
        XCTAssertEqual(values.scalars, [3, 5])
        XCTAssertEqual(indices.scalars, [2, 1])
        XCTAssertEqual(try x.min().item, -6)
        XCTAssertEqual(try x.gather(dim: 1, index: indices.unsqueeze(dim: 1)).scalars, [3, 5])
        XCTAssertEqual(try Tensor.where(x .> 0, x, Tensor(0)).scalars, [1, 0, 3, 0, 5, 0])
        XCTAssertEqual(try x.maskedFill(x .< 0, value: 0).scalars, [1, 0, 3, 0, 5, 0])
        XCTAssertEqual(try x.var(dim: 1, correction: 0).scalars.map { ($0 * 9).rounded() }, [38, 206])
        XCTAssertEqual(try x[1, 2].item, -6)
        XCTAssertEqual(try x[-1].scalars, [-4, 5, -6])
        XCTAssertEqual(try x[0..., 1].scalars, [-2, 5])
        XCTAssertEqual(try x[..<1, 1...].shape, [1, 2])
        XCTAssertEqual(try Tensor.eye(2).scalars, [1, 0, 0, 1])
        XCTAssertEqual(try Tensor.ones([2]).scalars, [1, 1])
        XCTAssertEqual(try Tensor.full([1, 2], 7).scalars, [7, 7])
        XCTAssertEqual(try Tensor.arange(4).scalars, [0, 1, 2, 3])
        XCTAssertEqual(Tensor([1, 2]).shape, [2])
        XCTAssertEqual(try Tensor([[[1], [2]]]).shape, [1, 2, 1])
        // Views share storage; expand and clone copy.
        let v = try x.view(3, 2)
        v.withUnsafeMutableBufferPointer { $0[0] = 10 }
        XCTAssertEqual(x.scalars[0], 10)
        XCTAssertEqual(x.squeeze().shape, [2, 3])
        XCTAssertEqual(try x.unsqueeze(dim: 0).shape, [1, 2, 3])
        XCTAssertEqual(try x.unsqueeze(dim: -1).shape, [2, 3, 1])
        XCTAssertEqual(try x.flatten().shape, [6])
        XCTAssertEqual(try Tensor(3).flatten().shape, [1])
    }

    func testSineAndCosineAcrossTheRange() {
        // Against the C library (double precision), over the vectorised range and beyond it.
        var xs: [Float] = stride(from: -8192, through: 8192, by: 0.73).map { Float($0) }
        xs += [0, -0, 1e-8, 3.1415927, 1.5707964, 1e5, -3e6, 1e30, .infinity, -.infinity, .nan]
        let x = Tensor(xs)
        let s = x.sin().scalars, c = x.cos().scalars
        for (i, v) in xs.enumerated() {
            if !v.isFinite {
                XCTAssertTrue(s[i].isNaN && c[i].isNaN, "sin/cos(\(v))")
                continue
            }
            XCTAssertEqual(s[i], Float(Foundation.sin(Double(v))), accuracy: 3e-7, "sin(\(v))")
            XCTAssertEqual(c[i], Float(Foundation.cos(Double(v))), accuracy: 3e-7, "cos(\(v))")
        }
    }

    // MARK: - Errors

    /// Asserts that `body` throws a ``TensorError`` whose message contains `fragment`, and that
    /// `tensors` keep their shape, values and gradients.
    private func assertRejects(_ fragment: String, leaving tensors: [Tensor], file: StaticString = #filePath,
                               line: UInt = #line, _ body: () throws -> Any) {
        let before = tensors.map { ($0.shape, $0.scalars, $0.grad?.scalars, $0.requiresGrad) }
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            XCTAssertTrue(error is TensorError, "\(error)", file: file, line: line)
            XCTAssertTrue("\(error)".contains(fragment), "\"\(fragment)\" not in: \(error)", file: file, line: line)
        }
        for (t, (shape, scalars, grad, requiresGrad)) in zip(tensors, before) {
            XCTAssertEqual(t.shape, shape, file: file, line: line)
            XCTAssertEqual(t.scalars, scalars, file: file, line: line)
            XCTAssertEqual(t.grad?.scalars, grad, file: file, line: line)
            XCTAssertEqual(t.requiresGrad, requiresGrad, file: file, line: line)
        }
    }

    func testErrorsLeaveEverythingUnchanged() throws {
        let x = random([2, 3], seed: 9), y = random([4], seed: 10)
        x.requiresGrad = true
        assertRejects("do not broadcast", leaving: [x, y]) { try x.maximum(y) }
        assertRejects("do not broadcast", leaving: [x, y]) { try x.minimum(y) }
        assertRejects("do not broadcast", leaving: [x, y]) { try x.gt(y) }
        assertRejects("do not broadcast", leaving: [x, y]) { try Tensor.where(x .> 0, x, y) }
        assertRejects("does not broadcast", leaving: [x]) { try x.maskedFill(Tensor(shape: [2, 3, 1], scalars: [1, 0, 1, 0, 1, 0]), value: 0) }
        assertRejects("at least one of min and max", leaving: [x]) { try x.clamp() }
        assertRejects("NaN", leaving: [x]) { try x.clamp(min: .nan) }
        assertRejects("outside", leaving: [x]) { try x.max(dim: 2) }
        assertRejects("empty", leaving: [x]) { try Tensor(shape: [2, 0], scalars: []).max(dim: 1) }
        assertRejects("no elements", leaving: []) { try Tensor(shape: [0], scalars: []).min() }
        assertRejects("outside", leaving: [x]) { try x.logsumexp(dim: -3) }
        assertRejects("correction", leaving: [x]) { try x.var(dim: 0, correction: -1) }
        assertRejects("repeated", leaving: [x]) { try x.sum(dims: [1, -1]) }
        assertRejects("outside", leaving: [x]) { try x.squeeze(dim: 2) }
        assertRejects("outside", leaving: [x]) { try x.unsqueeze(dim: 4) }
        assertRejects("comes after", leaving: [x]) { try x.flatten(startDim: 1, endDim: 0) }
        assertRejects("elements", leaving: [x]) { try x.view(4, 2) }
        assertRejects("cannot expand", leaving: [x]) { try x.expand(2, 4) }
        assertRejects("at least 2 sizes", leaving: [x]) { try x.expand(3) }
        assertRejects("-1 is not allowed", leaving: [x]) { try x.expand(-1, 2, 3) }
        assertRejects("outside 0..<3", leaving: [x]) { try x.indexSelect(dim: 1, indices: [0, 3]) }
        assertRejects("integer", leaving: [x]) { try x.indexSelect(dim: 0, index: Tensor([0.5])) }
        assertRejects("1-D index", leaving: [x]) { try x.indexSelect(dim: 0, index: Tensor(shape: [1, 1], scalars: [0])) }
        assertRejects("rank 2", leaving: [x]) { try x.gather(dim: 0, index: Tensor([0])) }
        assertRejects("larger than", leaving: [x]) { try x.gather(dim: 0, index: Tensor(shape: [1, 4], scalars: [0, 0, 0, 0])) }
        assertRejects("outside 0..<2", leaving: [x]) { try x.gather(dim: 0, index: Tensor([[2]])) }
        assertRejects("outside", leaving: [x]) { try x[2] }
        assertRejects("outside", leaving: [x]) { try x[0..<4] }
        assertRejects("indices", leaving: [x]) { try x[0, 0, 0] }
        assertRejects("rows of 2 elements", leaving: []) { try Tensor([[1, 2], [3]]) }
        assertRejects("rows", leaving: []) { try Tensor([[[1]], [[1], [2]]]) }
        assertRejects("non-negative sizes", leaving: []) { try Tensor.ones([2, -1]) }
        assertRejects("overflows", leaving: []) { try Tensor.zeros([Int.max, 2]) }
        assertRejects("memory", leaving: []) { try Tensor.ones([1 << 62]) }
        assertRejects("memory", leaving: []) { try LayerNorm(normalizedShape: [1 << 31, 1 << 31]) }
        assertRejects("does not lead", leaving: []) { try Tensor.arange(0, 1, step: -1) }
        assertRejects("non-zero step", leaving: []) { try Tensor.arange(0, 1, step: 0) }
        assertRejects("steps", leaving: []) { try Tensor.linspace(0, 1, steps: -1) }
        // A failed random constructor draws nothing.
        let state = RandomState.state
        assertRejects("non-negative sizes", leaving: []) { try Tensor.randn([-2]) }
        assertRejects("non-negative sizes", leaving: []) { try Tensor.rand([3, -2]) }
        XCTAssertEqual(RandomState.state, state)
    }

    func testRandomConstructorsDrawFromTheDefaultStream() throws {
        RandomState.manualSeed(42)
        let a = try Tensor.rand([1000]), n = try Tensor.randn([1000])
        RandomState.manualSeed(42)
        XCTAssertEqual(try Tensor.rand([1000]).scalars, a.scalars)
        XCTAssertTrue(a.scalars.allSatisfy { $0 >= 0 && $0 < 1 })
        XCTAssertEqual(a.mean().item, 0.5, accuracy: 0.05)
        XCTAssertEqual(try n.std().item, 1, accuracy: 0.1)
    }
}
