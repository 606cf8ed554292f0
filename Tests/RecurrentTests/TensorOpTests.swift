import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// Every tensor operation: forward values computed by hand (or by a naive loop written out in
/// the test), and the gradient checked against central finite differences.
///
/// The gradient checks differentiate `Σ op(inputs) ⊙ w` for a fixed random `w`, so that every
/// output element gets a different upstream gradient.
final class TensorOpTests: XCTestCase {
    // MARK: - Helpers

    private func tensor(_ shape: [Int], _ scalars: [Float], grad: Bool = false) -> Tensor {
        Tensor(shape: shape, scalars: scalars, requiresGrad: grad)
    }

    /// `start, start + step, …` in the given shape.
    private func ramp(_ shape: [Int], start: Float = 1, step: Float = 1) -> Tensor {
        let n = shape.reduce(1, *)
        return Tensor(shape: shape, scalars: (0..<n).map { start + Float($0) * step })
    }

    /// Uniform random values, reproducible from `seed`.
    private func random(_ shape: [Int], seed: UInt64, _ low: Float = -1, _ high: Float = 1) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(uniform: shape, low: low, high: high, using: &g)
    }

    /// `Σ y ⊙ w` with `w` fixed random weights of `y`'s shape.
    private func probe(_ y: Tensor, seed: UInt64 = 1234) -> Tensor {
        (y * random(y.shape, seed: seed &+ UInt64(y.count))).sum()
    }

    private func checkGradients(_ inputs: [Tensor], step: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
                                file: StaticString = #filePath, line: UInt = #line,
                                _ f: () throws -> Tensor) rethrows {
        try assertGradientsMatchFiniteDifferences(inputs, step: step, rtol: rtol, atol: atol, file: file, line: line) {
            probe(try f())
        }
    }

    /// Row-major strides of `shape`.
    private func strides(_ shape: [Int]) -> [Int] {
        var s = [Int](repeating: 1, count: shape.count)
        for d in Swift.stride(from: shape.count - 2, through: 0, by: -1) { s[d] = s[d + 1] * shape[d + 1] }
        return s
    }

    /// The multi-index of flat position `i` in `shape`.
    private func index(_ i: Int, _ shape: [Int]) -> [Int] {
        zip(strides(shape), shape).map { (i / $0) % $1 }
    }

    // MARK: - Elementwise arithmetic with broadcasting

    private let ops: [(String, (Tensor, Tensor) -> Tensor, (Float, Float) -> Float)] = [
        ("+", { $0 + $1 }, { $0 + $1 }), ("-", { $0 - $1 }, { $0 - $1 }),
        ("*", { $0 * $1 }, { $0 * $1 }), ("/", { $0 / $1 }, { $0 / $1 }),
    ]

    func testBinaryForwardByHand() {
        let a = tensor([2, 3], [1, 2, 3, 4, 5, 6]), b = tensor([3], [10, 20, 40])
        assertClose(a + b, tensor([2, 3], [11, 22, 43, 14, 25, 46]))
        assertClose(a - b, tensor([2, 3], [-9, -18, -37, -6, -15, -34]))
        assertClose(b - a, tensor([2, 3], [9, 18, 37, 6, 15, 34]))
        assertClose(a * b, tensor([2, 3], [10, 40, 120, 40, 100, 240]))
        assertClose(a / b, tensor([2, 3], [0.1, 0.1, 0.075, 0.4, 0.25, 0.15]))
        assertClose(b / a, tensor([2, 3], [10, 10, 40 / 3, 2.5, 4, 40 / 6]))

        // (2,1,3) * (4,1) → (2,4,3): out[i][j][k] = a[i][k] · c[j].
        let a3 = tensor([2, 1, 3], [1, 2, 3, 4, 5, 6]), c = tensor([4, 1], [1, 2, 3, 4])
        let expected: [Float] = [1, 2, 3, 2, 4, 6, 3, 6, 9, 4, 8, 12,
                                 4, 5, 6, 8, 10, 12, 12, 15, 18, 16, 20, 24]
        assertClose(a3 * c, tensor([2, 4, 3], expected))
        assertClose(c * a3, tensor([2, 4, 3], expected))
        assertClose(a3 + c, tensor([2, 4, 3], [2, 3, 4, 3, 4, 5, 4, 5, 6, 5, 6, 7,
                                               5, 6, 7, 6, 7, 8, 7, 8, 9, 8, 9, 10]))
        assertClose(c - a3, tensor([2, 4, 3], [0, -1, -2, 1, 0, -1, 2, 1, 0, 3, 2, 1,
                                               -3, -4, -5, -2, -3, -4, -1, -2, -3, 0, -1, -2]))

        // A 0-dimensional tensor with (2,3), both ways.
        let s = tensor([], [2])
        assertClose(a * s, tensor([2, 3], [2, 4, 6, 8, 10, 12]))
        assertClose(s - a, tensor([2, 3], [1, 0, -1, -2, -3, -4]))
        assertClose(a / s, tensor([2, 3], [0.5, 1, 1.5, 2, 2.5, 3]))
        assertClose(s / a, tensor([2, 3], [2, 1, 2.0 / 3, 0.5, 0.4, 1.0 / 3]))
        assertClose(s + s, tensor([], [4]))

        // (1) with (2,3).
        let one = tensor([1], [100])
        assertClose(one + a, tensor([2, 3], [101, 102, 103, 104, 105, 106]))
        assertClose(a - one, tensor([2, 3], [-99, -98, -97, -96, -95, -94]))

        // (2,1) with (1,3) → (2,3) (both broadcast).
        let col = tensor([2, 1], [1, 2]), row = tensor([1, 3], [10, 20, 30])
        assertClose(col * row, tensor([2, 3], [10, 20, 30, 20, 40, 60]))
        assertClose(row - col, tensor([2, 3], [9, 19, 29, 8, 18, 28]))
    }

    /// Against a naive loop over the broadcast shape, for every op and many shape pairs.
    func testBinaryForwardMatchesNaiveBroadcast() {
        let pairs: [([Int], [Int], [Int])] = [
            ([2, 3], [3], [2, 3]), ([3], [2, 3], [2, 3]), ([2, 1, 3], [4, 1], [2, 4, 3]),
            ([], [2, 3], [2, 3]), ([2, 3], [], [2, 3]), ([1], [2, 3], [2, 3]), ([2, 3], [2, 3], [2, 3]),
            ([3, 1, 2], [1, 4, 1], [3, 4, 2]), ([2, 1], [1, 3], [2, 3]),
        ]
        for (k, (sa, sb, so)) in pairs.enumerated() {
            let a = random(sa, seed: UInt64(10 + k), 0.5, 2), b = random(sb, seed: UInt64(50 + k), 0.5, 2)
            let ra = strides(sa), rb = strides(sb)
            for (name, op, scalarOp) in ops {
                let y = op(a, b)
                XCTAssertEqual(y.shape, so, "\(sa) \(name) \(sb)")
                var expected: [Float] = []
                for i in 0..<so.reduce(1, *) {
                    let idx = index(i, so)
                    func flat(_ s: [Int], _ r: [Int]) -> Int {
                        zip(s.indices, s).reduce(0) { acc, e in
                            acc + (e.1 == 1 ? 0 : idx[e.0 + so.count - s.count] * r[e.0])
                        }
                    }
                    expected.append(scalarOp(a.scalars[flat(sa, ra)], b.scalars[flat(sb, rb)]))
                }
                assertClose(y.scalars, expected, rtol: 1e-6, atol: 0, "\(sa) \(name) \(sb)")
            }
        }
    }

    func testBinaryGradients() throws {
        let pairs: [([Int], [Int])] = [
            ([2, 3], [3]), ([3], [2, 3]), ([2, 1, 3], [4, 1]), ([4, 1], [2, 1, 3]), ([], [2, 3]), ([2, 3], []),
            ([1], [2, 3]), ([2, 3], [1]), ([2, 3], [2, 3]), ([2, 1], [1, 3]), ([3, 1, 2], [1, 4, 1]),
        ]
        for (k, (sa, sb)) in pairs.enumerated() {
            for (name, op, _) in ops {
                // Operands in [0.5, 1.5] keep the divisor away from 0.
                let a = random(sa, seed: UInt64(100 + k), 0.5, 1.5), b = random(sb, seed: UInt64(200 + k), 0.5, 1.5)
                checkGradients([a, b]) { op(a, b) }
                if a.grad == nil || b.grad == nil { XCTFail("\(sa) \(name) \(sb): no gradient") }
                XCTAssertEqual(a.grad?.shape, sa, "\(sa) \(name) \(sb)")
                XCTAssertEqual(b.grad?.shape, sb, "\(sa) \(name) \(sb)")
            }
        }
    }

    /// The broadcast gradient is the sum over the stretched dimensions, checked by hand.
    func testBroadcastGradientByHand() {
        let a = tensor([2, 3], [1, 2, 3, 4, 5, 6], grad: true), b = tensor([3], [1, 2, 3], grad: true)
        (a * b).sum().backward()
        assertClose(a.grad!.scalars, [1, 2, 3, 1, 2, 3])
        assertClose(b.grad!.scalars, [5, 7, 9])
        let s = tensor([], [2], grad: true), c = tensor([2, 3], [1, 2, 3, 4, 5, 6], grad: true)
        (c / s).sum().backward()
        assertClose(c.grad!.scalars, [Float](repeating: 0.5, count: 6))
        assertClose(s.grad!.scalars, [-21.0 / 4])
        XCTAssertEqual(s.grad!.shape, [])
    }

    func testBinaryShapeErrors() {
        let a = Tensor(zeros: [2, 3]), b = Tensor(zeros: [2])
        for op in [a.adding, a.subtracting, a.multiplying, a.dividing] {
            XCTAssertThrowsError(try op(b)) { error in
                guard case .shapeMismatch(let m)? = error as? TensorError else { return XCTFail("\(error)") }
                XCTAssertTrue(m.contains("[2, 3]") && m.contains("[2]"), m)
            }
        }
        XCTAssertEqual(try a.adding(Tensor(zeros: [1, 3])).shape, [2, 3])
    }

    // MARK: - Scalar affine operations and negation

    func testScalarOperations() {
        let x = tensor([2, 2], [1, -2, 3, 0.5])
        assertClose(x + 1, tensor([2, 2], [2, -1, 4, 1.5]))
        assertClose(1 + x, tensor([2, 2], [2, -1, 4, 1.5]))
        assertClose(x - 1, tensor([2, 2], [0, -3, 2, -0.5]))
        assertClose(1 - x, tensor([2, 2], [0, 3, -2, 0.5]))
        assertClose(x * 3, tensor([2, 2], [3, -6, 9, 1.5]))
        assertClose(3 * x, tensor([2, 2], [3, -6, 9, 1.5]))
        assertClose(x / 4, tensor([2, 2], [0.25, -0.5, 0.75, 0.125]))
        assertClose(-x, tensor([2, 2], [-1, 2, -3, -0.5]))
        assertClose(x.affine(scale: 2, shift: -1), tensor([2, 2], [1, -5, 5, 0]))

        let forms: [(String, (Tensor) -> Tensor)] = [
            ("x+c", { $0 + 1.5 }), ("c+x", { 1.5 + $0 }), ("x-c", { $0 - 0.5 }), ("c-x", { 0.5 - $0 }),
            ("x*c", { $0 * -2 }), ("c*x", { 3 * $0 }), ("x/c", { $0 / 4 }), ("-x", { -$0 }),
            ("affine", { $0.affine(scale: -0.5, shift: 2) }),
        ]
        for (name, f) in forms {
            let v = random([2, 3], seed: 7)
            checkGradients([v]) { f(v) }
            XCTAssertNotNil(v.grad, name)
        }
        // By hand: d(c - x)/dx = -1, d(x / 4)/dx = 1/4.
        let h = tensor([2], [1, 2], grad: true)
        (0.5 - h).sum().backward()
        XCTAssertEqual(h.grad?.scalars, [-1, -1])
        h.grad = nil
        (h / 4).sum().backward()
        XCTAssertEqual(h.grad?.scalars, [0.25, 0.25])
    }

    // MARK: - Matrix products

    func testMatmulForward() throws {
        let a = ramp([3, 4]), b = ramp([4, 2])
        assertClose(try a.matmul(b), tensor([3, 2], [50, 60, 114, 140, 178, 220]))
        // 1-D · 2-D.
        assertClose(try ramp([4]).matmul(b), tensor([2], [50, 60]))
        // Batched (2,3,4) · (4,5) against the naive triple loop.
        let x = random([2, 3, 4], seed: 1), w = random([4, 5], seed: 2)
        let y = try x.matmul(w)
        XCTAssertEqual(y.shape, [2, 3, 5])
        var expected: [Float] = []
        for r in 0..<6 {
            for j in 0..<5 {
                var s: Float = 0
                for k in 0..<4 { s += x.scalars[r * 4 + k] * w.scalars[k * 5 + j] }
                expected.append(s)
            }
        }
        assertClose(y.scalars, expected, rtol: 1e-5, atol: 1e-6)
        XCTAssertThrowsError(try a.matmul(ramp([3, 2])))
        XCTAssertThrowsError(try a.matmul(ramp([4])))
    }

    func testMatmulGradients() throws {
        for (sa, sb) in [([3, 4], [4, 2]), ([2, 3, 4], [4, 5]), ([4], [4, 2]), ([1, 4], [4, 3])] {
            let a = random(sa, seed: 3), b = random(sb, seed: 4)
            try checkGradients([a, b]) { try a.matmul(b) }
            XCTAssertEqual(a.grad?.shape, sa)
            XCTAssertEqual(b.grad?.shape, sb)
        }
        // By hand: d Σ(A·B) / dA = 1·Bᵀ (row sums of B), / dB = Aᵀ·1 (column sums of A).
        let a = tensor([2, 2], [1, 2, 3, 4], grad: true), b = tensor([2, 2], [5, 6, 7, 8], grad: true)
        try a.matmul(b).sum().backward()
        XCTAssertEqual(a.grad?.scalars, [11, 15, 11, 15])
        XCTAssertEqual(b.grad?.scalars, [4, 4, 6, 6])
    }

    func testLinearForward() throws {
        let x = tensor([2, 3], [1, 2, 3, 4, 5, 6])
        let w = tensor([2, 3], [1, 0, -1, 2, 1, 0]), b = tensor([2], [0.5, -1])
        assertClose(try Tensor.linear(x, weight: w, bias: b), tensor([2, 2], [-1.5, 3, -1.5, 12]))
        assertClose(try Tensor.linear(x, weight: w, bias: nil), tensor([2, 2], [-2, 4, -2, 13]))
        // Batch 1 (the gemv path), 2-D and 1-D.
        assertClose(try Tensor.linear(tensor([1, 3], [1, 2, 3]), weight: w, bias: b), tensor([1, 2], [-1.5, 3]))
        assertClose(try Tensor.linear(tensor([3], [4, 5, 6]), weight: w, bias: b), tensor([2], [-1.5, 12]))
        assertClose(try Tensor.linear(tensor([3], [4, 5, 6]), weight: w, bias: nil), tensor([2], [-2, 13]))
        // 3-D input: the same as row by row.
        let x3 = random([2, 2, 3], seed: 5)
        let y3 = try Tensor.linear(x3, weight: w, bias: b)
        XCTAssertEqual(y3.shape, [2, 2, 2])
        var expected: [Float] = []
        for r in 0..<4 {
            for o in 0..<2 {
                var s = b.scalars[o]
                for i in 0..<3 { s += x3.scalars[r * 3 + i] * w.scalars[o * 3 + i] }
                expected.append(s)
            }
        }
        assertClose(y3.scalars, expected, rtol: 1e-5, atol: 1e-6)
        XCTAssertThrowsError(try Tensor.linear(tensor([2], [1, 2]), weight: w, bias: b))
        XCTAssertThrowsError(try Tensor.linear(x, weight: w, bias: tensor([3], [1, 2, 3])))
        XCTAssertThrowsError(try Tensor.linear(x, weight: tensor([3], [1, 2, 3]), bias: nil))
    }

    func testLinearGradients() throws {
        for (k, inputShape) in [[5, 3], [1, 3], [3], [2, 4, 3]].enumerated() {
            for withBias in [true, false] {
                let x = random(inputShape, seed: UInt64(20 + k))
                let w = random([4, 3], seed: 30), b = random([4], seed: 31)
                let inputs = withBias ? [x, w, b] : [x, w]
                try checkGradients(inputs) { try Tensor.linear(x, weight: w, bias: withBias ? b : nil) }
                XCTAssertEqual(w.grad?.shape, [4, 3], "\(inputShape)")
                XCTAssertEqual(x.grad?.shape, inputShape)
            }
        }
        // Accumulation into an existing gradient on the gemv/ger path (beta = 1).
        let x = tensor([1, 2], [1, 2], grad: true), w = tensor([1, 2], [3, 4], grad: true)
        try Tensor.linear(x, weight: w, bias: nil).sum().backward()
        try Tensor.linear(x, weight: w, bias: nil).sum().backward()
        XCTAssertEqual(x.grad?.scalars, [6, 8])
        XCTAssertEqual(w.grad?.scalars, [2, 4])
    }

    // MARK: - Joining

    func testCatForward() throws {
        let a = ramp([2, 2]), b = tensor([1, 2], [5, 6]), c = tensor([2, 1], [7, 8])
        assertClose(try Tensor.cat([a, b], dim: 0), tensor([3, 2], [1, 2, 3, 4, 5, 6]))
        assertClose(try Tensor.cat([a, c], dim: 1), tensor([2, 3], [1, 2, 7, 3, 4, 8]))
        assertClose(try Tensor.cat([c, a], dim: -1), tensor([2, 3], [7, 1, 2, 8, 3, 4]))
        assertClose(try Tensor.cat([a], dim: 0), a)

        let a3 = ramp([2, 2, 2])
        assertClose(try Tensor.cat([a3, ramp([1, 2, 2], start: 9)], dim: 0), ramp([3, 2, 2]))
        assertClose(try Tensor.cat([a3, ramp([2, 1, 2], start: 9)], dim: 1),
                    tensor([2, 3, 2], [1, 2, 3, 4, 9, 10, 5, 6, 7, 8, 11, 12]))
        assertClose(try Tensor.cat([a3, ramp([2, 2, 1], start: 9)], dim: -1),
                    tensor([2, 2, 3], [1, 2, 9, 3, 4, 10, 5, 6, 11, 7, 8, 12]))
        assertClose(try Tensor.cat([a3, ramp([2, 2, 1], start: 9), ramp([2, 2, 2], start: 13)], dim: 2),
                    tensor([2, 2, 5], [1, 2, 9, 13, 14, 3, 4, 10, 15, 16, 5, 6, 11, 17, 18, 7, 8, 12, 19, 20]))

        XCTAssertThrowsError(try Tensor.cat([], dim: 0))
        XCTAssertThrowsError(try Tensor.cat([a, c], dim: 0))
        XCTAssertThrowsError(try Tensor.cat([a, a3], dim: 0))
        XCTAssertThrowsError(try Tensor.cat([a, a], dim: 2))
    }

    func testCatGradients() throws {
        let cases: [([[Int]], Int)] = [
            ([[2, 3], [1, 3], [3, 3]], 0), ([[2, 3], [2, 1]], 1), ([[2, 3], [2, 2]], -1),
            ([[2, 2, 3], [1, 2, 3]], 0), ([[2, 2, 3], [2, 3, 3]], 1), ([[2, 2, 3], [2, 2, 1], [2, 2, 2]], -1),
            ([[2, 2, 3], [2, 2, 2]], 2),
        ]
        for (k, (shapes, dim)) in cases.enumerated() {
            let ts = shapes.enumerated().map { random($0.element, seed: UInt64(40 + 10 * k + $0.offset)) }
            try checkGradients(ts) { try Tensor.cat(ts, dim: dim) }
            for (t, s) in zip(ts, shapes) { XCTAssertEqual(t.grad?.shape, s) }
        }
        // The same tensor twice: both gradients add up.
        let x = random([2, 2], seed: 60)
        try checkGradients([x]) { try Tensor.cat([x, x], dim: 1) }
        let h = tensor([2], [1, 2], grad: true)
        try (Tensor.cat([h, h, h], dim: 0) * tensor([6], [1, 2, 3, 4, 5, 6])).sum().backward()
        XCTAssertEqual(h.grad?.scalars, [9, 12])
    }

    func testStack() throws {
        let a = ramp([2, 3]), b = ramp([2, 3], start: 7)
        assertClose(try Tensor.stack([a, b]), tensor([2, 2, 3], Array(1...12).map(Float.init)))
        assertClose(try Tensor.stack([a, b], dim: 1), tensor([2, 2, 3], [1, 2, 3, 7, 8, 9, 4, 5, 6, 10, 11, 12]))
        assertClose(try Tensor.stack([a, b], dim: -1), tensor([2, 3, 2], [1, 7, 2, 8, 3, 9, 4, 10, 5, 11, 6, 12]))
        assertClose(try Tensor.stack([tensor([], [1]), tensor([], [2])]), tensor([2], [1, 2]))
        XCTAssertThrowsError(try Tensor.stack([a, ramp([3, 2])]))
        XCTAssertThrowsError(try Tensor.stack([a, b], dim: 3))
        XCTAssertThrowsError(try Tensor.stack([]))
        for dim in [0, 1, 2, -1] {
            let x = random([2, 3], seed: 70), y = random([2, 3], seed: 71), z = random([2, 3], seed: 72)
            try checkGradients([x, y, z]) { try Tensor.stack([x, y, z], dim: dim) }
        }
    }

    // MARK: - Shapes

    func testReshaped() throws {
        let x = ramp([2, 3])
        for (target, result) in [([3, 2], [3, 2]), ([-1], [6]), ([3, -1], [3, 2]), ([1, -1, 1], [1, 6, 1]), ([6], [6])] {
            let y = try x.reshaped(target)
            XCTAssertEqual(y.shape, result)
            XCTAssertEqual(y.scalars, x.scalars)
        }
        XCTAssertEqual(try tensor([1], [5]).reshaped([]).shape, [])
        XCTAssertThrowsError(try x.reshaped([4, 2]))
        XCTAssertThrowsError(try x.reshaped([-1, -1]))
        XCTAssertThrowsError(try x.reshaped([4, -1]))
        XCTAssertThrowsError(try x.reshaped([-2, 3]))
        for target in [[3, 2], [-1], [1, -1, 2]] {
            let v = random([2, 3], seed: 80)
            try checkGradients([v]) { try v.reshaped(target).tanh() }
        }
    }

    func testPermutedAndTransposed() throws {
        let x = ramp([2, 3])
        assertClose(try x.permuted([1, 0]), tensor([3, 2], [1, 4, 2, 5, 3, 6]))
        assertClose(try x.transposed(), tensor([3, 2], [1, 4, 2, 5, 3, 6]))
        assertClose(try x.transposed(1, 0), tensor([3, 2], [1, 4, 2, 5, 3, 6]))
        assertClose(try x.permuted([0, 1]), x)

        // 3-D: out[i][j][k] = x[j][k][i] for dims [2, 0, 1], against the index arithmetic.
        let x3 = ramp([2, 3, 4])
        let p = try x3.permuted([2, 0, 1])
        XCTAssertEqual(p.shape, [4, 2, 3])
        for i in 0..<4 { for j in 0..<2 { for k in 0..<3 {
            XCTAssertEqual(p.scalars[(i * 2 + j) * 3 + k], x3.scalars[(j * 3 + k) * 4 + i])
        } } }
        let t = try x3.transposed(0, 2)
        XCTAssertEqual(t.shape, [4, 3, 2])
        for i in 0..<4 { for j in 0..<3 { for k in 0..<2 {
            XCTAssertEqual(t.scalars[(i * 3 + j) * 2 + k], x3.scalars[(k * 3 + j) * 4 + i])
        } } }
        assertClose(try x3.permuted([-1, 0, 1]), p)
        assertClose(try x3.transposed(), try x3.permuted([0, 2, 1]))

        XCTAssertThrowsError(try x3.permuted([0, 1]))
        XCTAssertThrowsError(try x3.permuted([0, 1, 1]))
        XCTAssertThrowsError(try x3.permuted([0, 1, 3]))
        XCTAssertThrowsError(try x3.transposed(0, 3))

        for dims in [[2, 0, 1], [1, 0, 2], [0, 2, 1], [2, 1, 0]] {
            let v = random([2, 3, 4], seed: 90)
            try checkGradients([v]) { try v.permuted(dims) }
        }
        let v = random([3, 2], seed: 91)
        try checkGradients([v]) { try v.transposed() }
        let w = random([2, 3, 2], seed: 92)
        try checkGradients([w]) { try w.transposed(0, -1) }
    }

    func testSelectAndNarrow() throws {
        let x = ramp([2, 3, 2])
        // x[:, -1, :], as in `out[:, -1, :]` for the last time step.
        assertClose(try x.select(dim: 1, index: -1), tensor([2, 2], [5, 6, 11, 12]))
        assertClose(try x.select(dim: 1, index: 2), tensor([2, 2], [5, 6, 11, 12]))
        assertClose(try x.select(dim: 0, index: 1), tensor([3, 2], [7, 8, 9, 10, 11, 12]))
        assertClose(try x.select(dim: -1, index: 0), tensor([2, 3], [1, 3, 5, 7, 9, 11]))
        assertClose(try x.select(dim: 1, index: -3), tensor([2, 2], [1, 2, 7, 8]))
        assertClose(try ramp([3]).select(dim: 0, index: 1), tensor([], [2]))
        XCTAssertThrowsError(try x.select(dim: 1, index: 3))
        XCTAssertThrowsError(try x.select(dim: 1, index: -4))
        XCTAssertThrowsError(try x.select(dim: 3, index: 0))

        assertClose(try x.narrow(dim: 1, start: 1, length: 2), tensor([2, 2, 2], [3, 4, 5, 6, 9, 10, 11, 12]))
        assertClose(try x.narrow(dim: 0, start: 1, length: 1), tensor([1, 3, 2], [7, 8, 9, 10, 11, 12]))
        assertClose(try x.narrow(dim: -1, start: 1, length: 1), tensor([2, 3, 1], [2, 4, 6, 8, 10, 12]))
        assertClose(try x.narrow(dim: 1, start: -1, length: 1), tensor([2, 1, 2], [5, 6, 11, 12]))
        XCTAssertEqual(try x.narrow(dim: 1, start: 3, length: 0).shape, [2, 0, 2])
        XCTAssertThrowsError(try x.narrow(dim: 1, start: 2, length: 2))
        XCTAssertThrowsError(try x.narrow(dim: 1, start: 0, length: -1))

        for (dim, index) in [(1, -1), (0, 1), (-1, 0), (2, 1)] {
            let v = random([2, 3, 2], seed: 100)
            try checkGradients([v]) { try v.select(dim: dim, index: index) }
            // The gradient is zero outside the selected slice.
            XCTAssertEqual(v.grad!.scalars.filter { $0 != 0 }.count, 12 / v.shape[dim < 0 ? dim + 3 : dim])
        }
        for (dim, start, length) in [(1, 1, 2), (0, 0, 1), (-1, 1, 1), (1, 0, 3)] {
            let v = random([2, 3, 2], seed: 101)
            try checkGradients([v]) { try v.narrow(dim: dim, start: start, length: length) }
        }
    }

    // MARK: - Reductions

    func testReductionsForward() throws {
        let x = ramp([2, 3])
        assertClose(x.sum(), tensor([], [21]))
        assertClose(x.mean(), tensor([], [3.5]))
        assertClose(try x.sum(dim: 0), tensor([3], [5, 7, 9]))
        assertClose(try x.sum(dim: 1), tensor([2], [6, 15]))
        assertClose(try x.sum(dim: -1, keepDim: true), tensor([2, 1], [6, 15]))
        assertClose(try x.sum(dim: 0, keepDim: true), tensor([1, 3], [5, 7, 9]))
        assertClose(try x.mean(dim: 0), tensor([3], [2.5, 3.5, 4.5]))
        assertClose(try x.mean(dim: 1), tensor([2], [2, 5]))
        assertClose(try x.mean(dim: -1, keepDim: true), tensor([2, 1], [2, 5]))

        let x3 = ramp([2, 3, 2])
        assertClose(try x3.sum(dim: 1), tensor([2, 2], [9, 12, 27, 30]))
        assertClose(try x3.sum(dim: 0), tensor([3, 2], [8, 10, 12, 14, 16, 18]))
        assertClose(try x3.sum(dim: 2, keepDim: true), tensor([2, 3, 1], [3, 7, 11, 15, 19, 23]))
        assertClose(try x3.mean(dim: 1, keepDim: true), tensor([2, 1, 2], [3, 4, 9, 10]))
        assertClose(tensor([], [4]).sum(), tensor([], [4]))
        XCTAssertThrowsError(try x3.sum(dim: 3))
        XCTAssertThrowsError(try x3.mean(dim: -4))
    }

    func testReductionGradients() throws {
        let v = random([2, 3, 2], seed: 110)
        assertGradientsMatchFiniteDifferences([v]) { v.sum() }
        XCTAssertEqual(v.grad?.scalars, [Float](repeating: 1, count: 12))
        assertGradientsMatchFiniteDifferences([v]) { v.mean() }
        assertClose(v.grad!.scalars, [Float](repeating: 1.0 / 12, count: 12))
        checkGradients([v]) { v.tanh().sum() }
        for dim in [0, 1, 2, -1] {
            for keepDim in [false, true] {
                try checkGradients([v]) { try v.sum(dim: dim, keepDim: keepDim) }
                try checkGradients([v]) { try v.mean(dim: dim, keepDim: keepDim) }
            }
        }
    }

    // MARK: - Activations

    func testActivationsForward() {
        let x = tensor([5], [-1, 0, 0.5, 2, -3])
        assertClose(x.tanh(), tensor([5], [-0.76159416, 0, 0.46211716, 0.96402758, -0.99505475]), rtol: 1e-6, atol: 1e-7)
        assertClose(x.sigmoid(), tensor([5], [0.26894142, 0.5, 0.62245933, 0.88079708, 0.04742587]), rtol: 1e-6, atol: 1e-7)
        assertClose(x.relu(), tensor([5], [0, 0, 0.5, 2, 0]), rtol: 0, atol: 0)
        assertClose(x.exp(), tensor([5], [0.36787944, 1, 1.64872127, 7.3890561, 0.04978707]), rtol: 1e-6, atol: 0)
        assertClose(tensor([4], [1, 2.7182817, 0.5, 10]).log(), tensor([4], [0, 1, -0.69314718, 2.30258509]),
                    rtol: 1e-6, atol: 1e-7)
        // Against Foundation over a range, including the vectorised kernels' tails.
        let r = random([37], seed: 5, -6, 6)
        assertClose(r.tanh().scalars, r.scalars.map { Foundation.tanh($0) }, rtol: 1e-6, atol: 3e-7)
        assertClose(r.sigmoid().scalars, r.scalars.map { 1 / (1 + Foundation.exp(-$0)) }, rtol: 1e-6, atol: 1e-7)
        assertClose(r.exp().scalars, r.scalars.map { Foundation.exp($0) }, rtol: 1e-6, atol: 0)
        let p = random([37], seed: 6, 0.01, 50)
        assertClose(p.log().scalars, p.scalars.map { Foundation.log($0) }, rtol: 1e-6, atol: 1e-7)
    }

    func testActivationGradients() {
        let activations: [(String, (Tensor) -> Tensor, Float, Float)] = [
            ("tanh", { $0.tanh() }, -2, 2), ("sigmoid", { $0.sigmoid() }, -3, 3), ("exp", { $0.exp() }, -2, 1.5),
            ("log", { $0.log() }, 0.5, 3),
        ]
        for (name, f, low, high) in activations {
            let v = random([2, 3, 2], seed: 120, low, high)
            checkGradients([v]) { f(v) }
            XCTAssertNotNil(v.grad, name)
        }
        // relu away from 0.
        let v = tensor([6], [-1.5, -0.3, 0.2, 0.7, 1.1, -2])
        checkGradients([v]) { v.relu() }
        v.grad = nil
        v.relu().sum().backward()
        XCTAssertEqual(v.grad?.scalars, [0, 0, 1, 1, 1, 0])
        // By hand: tanh' = 1 - y², sigmoid' = y(1 - y), exp' = y, log' = 1/x.
        let h = tensor([2], [0.5, 2], grad: true)
        h.tanh().sum().backward()
        assertClose(h.grad!.scalars, [0.78644773, 0.07065082], rtol: 1e-5)
        h.grad = nil
        h.sigmoid().sum().backward()
        assertClose(h.grad!.scalars, [0.23500371, 0.10499359], rtol: 1e-5)
        h.grad = nil
        h.log().sum().backward()
        assertClose(h.grad!.scalars, [2, 0.5])
    }

    // MARK: - Softmax

    func testSoftmaxForwardByHand() throws {
        let x = tensor([1, 3], [1, 2, 3])
        assertClose(try x.softmax(dim: 1), tensor([1, 3], [0.09003057, 0.24472847, 0.66524096]), rtol: 1e-6)
        assertClose(try x.logSoftmax(dim: -1), tensor([1, 3], [-2.40760596, -1.40760596, -0.40760596]), rtol: 1e-6)
        // Along dim 0 of (3, 1) the same numbers.
        assertClose(try tensor([3, 1], [1, 2, 3]).softmax(dim: 0).scalars, [0.09003057, 0.24472847, 0.66524096], rtol: 1e-6)
        // Stable for large values, and -inf gives 0.
        assertClose(try tensor([3], [1000, 1001, -.infinity]).softmax().scalars, [0.26894142, 0.73105858, 0], rtol: 1e-6)
        assertClose(try tensor([2], [-1000, -1001]).logSoftmax().scalars, [-0.31326169, -1.31326169], rtol: 1e-6)
        // A dimension of size 1.
        XCTAssertEqual(try tensor([2, 1], [5, -7]).softmax(dim: 1).scalars, [1, 1])
        XCTAssertEqual(try tensor([2, 1], [5, -7]).logSoftmax(dim: 1).scalars, [0, 0])
        XCTAssertThrowsError(try x.softmax(dim: 2))
    }

    /// Every dimension of a 3-D tensor, against a Double-precision reference loop.
    func testSoftmaxAlongEachDimension() throws {
        let shape = [3, 4, 5]
        let x = random(shape, seed: 130, -3, 3)
        for dim in [0, 1, 2, -1, -2, -3] {
            let d = dim < 0 ? dim + 3 : dim
            var expectedSoftmax = [Float](repeating: 0, count: 60), expectedLog = expectedSoftmax
            let st = strides(shape)
            for i in 0..<60 where index(i, shape)[d] == 0 {
                let positions = (0..<shape[d]).map { i + $0 * st[d] }
                let values = positions.map { Double(x.scalars[$0]) }
                let m = values.max()!
                let total = values.map { Foundation.exp($0 - m) }.reduce(0, +)
                for (p, v) in zip(positions, values) {
                    expectedSoftmax[p] = Float(Foundation.exp(v - m) / total)
                    expectedLog[p] = Float(v - m - Foundation.log(total))
                }
            }
            let s = try x.softmax(dim: dim), l = try x.logSoftmax(dim: dim)
            XCTAssertEqual(s.shape, shape)
            assertClose(s.scalars, expectedSoftmax, rtol: 1e-6, atol: 1e-7, "softmax dim \(dim)")
            assertClose(l.scalars, expectedLog, rtol: 1e-6, atol: 1e-6, "logSoftmax dim \(dim)")
            assertClose(try s.sum(dim: dim).scalars, [Float](repeating: 1, count: 60 / shape[d]), rtol: 0, atol: 1e-6)
        }
        // Long rows (the vectorised path's main loop and tail).
        let long = random([3, 37], seed: 131, -10, 10)
        let row = Array(long.scalars[37..<74]).map(Double.init)
        let m = row.max()!, total = row.map { Foundation.exp($0 - m) }.reduce(0, +)
        assertClose(Array(try long.softmax().scalars[37..<74]), row.map { Float(Foundation.exp($0 - m) / total) },
                    rtol: 1e-6, atol: 1e-7)
        assertClose(Array(try long.logSoftmax().scalars[37..<74]), row.map { Float($0 - m - Foundation.log(total)) },
                    rtol: 1e-6, atol: 1e-6)
    }

    func testSoftmaxGradients() throws {
        for dim in [0, 1, 2, -1] {
            let v = random([2, 3, 4], seed: 140, -2, 2)
            try checkGradients([v]) { try v.softmax(dim: dim) }
            try checkGradients([v]) { try v.logSoftmax(dim: dim) }
        }
        // By hand: Σ softmax is constant, so its gradient is 0; d Σ logSoftmax = 1 - n·softmax.
        let h = tensor([3], [1, 2, 3], grad: true)
        try h.softmax().sum().backward()
        assertClose(h.grad!.scalars, [0, 0, 0], atol: 1e-6)
        h.grad = nil
        try h.logSoftmax().sum().backward()
        assertClose(h.grad!.scalars, [1 - 3 * 0.09003057, 1 - 3 * 0.24472847, 1 - 3 * 0.66524096], rtol: 1e-5)
    }

    // MARK: - Dropout

    func testDropoutIdentityCases() throws {
        var g = SeededGenerator(seed: 1)
        let x = random([4, 5], seed: 150)
        let before = g
        XCTAssertTrue(try x.dropout(p: 0, training: true, using: &g) === x)
        XCTAssertTrue(try x.dropout(p: 0.5, training: false, using: &g) === x)
        XCTAssertEqual(g, before, "the identity cases draw nothing")
        // p = 0 still passes the gradient through.
        try assertGradientsMatchFiniteDifferences([x]) {
            var gen = SeededGenerator(seed: 2)
            return probe(try x.dropout(p: 0, training: true, using: &gen))
        }
        XCTAssertThrowsError(try x.dropout(p: 1.5, training: true, using: &g))
        XCTAssertThrowsError(try x.dropout(p: -0.1, training: true, using: &g))
        // p = 1 zeroes everything (like PyTorch).
        let all = try x.dropout(p: 1, training: true, using: &g)
        XCTAssertTrue(all.scalars.allSatisfy { $0 == 0 })
    }

    func testDropoutTraining() throws {
        let p: Float = 0.3
        let n = 100_000
        let x = Tensor(shape: [n], scalars: (0..<n).map { 1 + Float($0 % 7) }, requiresGrad: true)
        var g = SeededGenerator(seed: 3)
        let y = try x.dropout(p: p, training: true, using: &g)
        let scale = 1 / (1 - p)
        var dropped = 0
        for (xi, yi) in zip(x.scalars, y.scalars) {
            if yi == 0 { dropped += 1 } else { XCTAssertEqual(yi, xi * scale, accuracy: 1e-5 * yi) }
        }
        XCTAssertEqual(Float(dropped) / Float(n), p, accuracy: 0.01)
        // The backward uses the forward's mask: d y_i / d x_i is 0 where dropped, 1/(1-p) elsewhere.
        y.backward(Tensor(zeros: [n], value: 1))
        for (i, (yi, gi)) in zip(y.scalars, x.grad!.scalars).enumerated() {
            if yi == 0 { XCTAssertEqual(gi, 0, "element \(i)") } else { XCTAssertEqual(gi, scale, accuracy: 1e-6) }
        }
        // Deterministic from the generator; different draws differ.
        var g1 = SeededGenerator(seed: 4), g2 = SeededGenerator(seed: 4)
        let a = try x.dropout(p: 0.5, training: true, using: &g1).scalars
        XCTAssertEqual(a, try x.dropout(p: 0.5, training: true, using: &g2).scalars)
        XCTAssertNotEqual(a, try x.dropout(p: 0.5, training: true, using: &g1).scalars)
        // Finite differences with a fixed mask (the same seed on every evaluation).
        let v = random([3, 4], seed: 160)
        try assertGradientsMatchFiniteDifferences([v]) {
            var gen = SeededGenerator(seed: 5)
            return probe(try v.dropout(p: 0.4, training: true, using: &gen))
        }
    }

    // MARK: - Composite

    /// A small network of many ops at once, through finite differences.
    func testCompositeGradients() throws {
        let x = random([2, 3, 4], seed: 170), w = random([5, 4], seed: 171), b = random([5], seed: 172)
        let h0 = random([2, 5], seed: 173)
        try checkGradients([x, w, b, h0]) {
            let y = try Tensor.linear(x, weight: w, bias: b).tanh()            // (2, 3, 5)
            let last = try y.select(dim: 1, index: -1)                          // (2, 5)
            let z = try Tensor.cat([last * h0, try y.mean(dim: 1)], dim: -1)    // (2, 10)
            return try z.logSoftmax(dim: 1) + (try z.transposed().sum(dim: 0, keepDim: true).transposed()).sigmoid()
        }
    }
}
