import Foundation
import XCTest
@testable import LinearAlgebra

/// The math kernels of `Elementwise+Math.swift` and `LayerNormKernel` on raw buffers: special
/// values, the in-place case, and values against the C library.
final class ElementwiseMathTests: XCTestCase {
    private typealias Kernel = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void

    /// `kernel` over `x`, out of place and in place (which must agree).
    private func run(_ x: [Float], _ kernel: Kernel, file: StaticString = #filePath, line: UInt = #line) -> [Float] {
        var y = [Float](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { kernel(xs.baseAddress!, $0.baseAddress!, x.count) } }
        var z = x
        z.withUnsafeMutableBufferPointer { kernel($0.baseAddress!, $0.baseAddress!, x.count) }
        XCTAssertEqual(y.map(\.bitPattern), z.map(\.bitPattern), "in place differs", file: file, line: line)
        return y
    }

    func testSpecialValues() {
        let x: [Float] = [-2, -0.5, 0, 0.25, 3, .nan, .infinity, -.infinity]
        XCTAssertEqual(run(x) { Elementwise.abs($0, $1, count: $2) }.dropLast(3), [2, 0.5, 0, 0.25, 3])
        let s = run(x) { Elementwise.sign($0, $1, count: $2) }
        XCTAssertEqual(Array(s.prefix(5)), [-1, -1, 0, 1, 1])
        XCTAssertTrue(s[5].isNaN)
        XCTAssertEqual(Array(s.suffix(2)), [1, -1])
        let c = run(x) { Elementwise.clamp($0, low: -1, high: 1, $1, count: $2) }
        XCTAssertEqual(Array(c.prefix(5)), [-1, -0.5, 0, 0.25, 1])
        XCTAssertTrue(c[5].isNaN, "clamp keeps NaN")
        let r = run(x) { Elementwise.sqrt($0, $1, count: $2) }
        XCTAssertTrue(r[0].isNaN)
        XCTAssertEqual(r[4], Float(3).squareRoot())
        // pow: integer exponents keep the sign of negative bases, fractional ones give NaN.
        XCTAssertEqual(run([-2, 3]) { Elementwise.pow($0, exponent: 5, $1, count: $2) }, [-32, 243])
        XCTAssertEqual(run([-2, 3]) { Elementwise.pow($0, exponent: 4, $1, count: $2) }, [16, 81])
        XCTAssertTrue(run([-2]) { Elementwise.pow($0, exponent: 1.5, $1, count: $2) }[0].isNaN)
        XCTAssertEqual(run([.nan, 0]) { Elementwise.pow($0, exponent: 0, $1, count: $2) }, [1, 1])
        XCTAssertEqual(run([0, 0]) { Elementwise.pow($0, exponent: -2.5, $1, count: $2) }, [.infinity, .infinity])
        // pow against the C library over many bases and exponents.
        let bases = stride(from: Float(0.01), through: 20, by: 0.37).map { $0 }
        for p: Float in [-3, -1.5, 0.3, 1.7, 2.5, 7] {
            let y = run(bases) { Elementwise.pow($0, exponent: p, $1, count: $2) }
            for (b, v) in zip(bases, y) {
                let exact = Foundation.pow(Double(b), Double(p))
                XCTAssertEqual(Double(v), exact, accuracy: exact * 2e-7, "\(b)^\(p)")
            }
        }
    }

    func testMaximumAndMinimumPropagateNaN() {
        let a: [Float] = [1, .nan, 3, -1], b: [Float] = [2, 0, .nan, -1]
        var hi = [Float](repeating: 0, count: 4), lo = hi
        Elementwise.maximum(a, b, into: &hi, count: 4)
        Elementwise.minimum(a, b, into: &lo, count: 4)
        XCTAssertEqual(hi[0], 2); XCTAssertTrue(hi[1].isNaN); XCTAssertTrue(hi[2].isNaN); XCTAssertEqual(hi[3], -1)
        XCTAssertEqual(lo[0], 1); XCTAssertTrue(lo[1].isNaN); XCTAssertTrue(lo[2].isNaN); XCTAssertEqual(lo[3], -1)
    }

    func testLayerNormKernelByHand() {
        // Two rows of three: the statistics, the output, and the gradients of Σ g ⊙ y.
        let x: [Float] = [1, 2, 3, 10, 10, 16], w: [Float] = [1, 2, -1], b: [Float] = [0, 1, 0]
        var y = [Float](repeating: 0, count: 6), mean = [Float](repeating: 0, count: 2), rstd = mean
        LayerNormKernel.forward(x, rows: 2, columns: 3, weight: w, bias: b, eps: 0, into: &y, mean: &mean, rstd: &rstd)
        XCTAssertEqual(mean, [2, 12])
        XCTAssertEqual(rstd[0], 1 / (Float(2) / 3).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(rstd[1], 1 / Float(8).squareRoot(), accuracy: 1e-6)
        XCTAssertEqual(y[1], 1, accuracy: 1e-6)                    // the mean maps to the bias
        XCTAssertEqual(y[5], -Float(2).squareRoot(), accuracy: 1e-5)
        // With g = 1 everywhere: gBias = Σ rows g = 2; gWeight = Σ rows x̂; gx = 0 for w = 1.
        let g = [Float](repeating: 1, count: 6), ones: [Float] = [1, 1, 1]
        var gx = [Float](repeating: 0, count: 6), gw = [Float](repeating: 0, count: 3), gb = gw
        var scratch = [Float](repeating: 0, count: 6)
        LayerNormKernel.backward(g, x, rows: 2, columns: 3, weight: ones, mean: mean, rstd: rstd,
                                 gradInput: &gx, gradWeight: &gw, gradBias: &gb, scratch: &scratch)
        XCTAssertEqual(gb, [2, 2, 2])
        for v in gx { XCTAssertEqual(v, 0, accuracy: 1e-6) }
        XCTAssertEqual(gw[1], 0 - 1 / Float(2).squareRoot(), accuracy: 1e-6)
    }
}
