import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// `LayerNorm` and `Tensor.layerNorm`: PyTorch's values and gradients are in
/// ``TensorFixtureTests`` (`layer_norm*`); here the finite differences, the module's
/// parameters and state-dict keys, values by hand, and the errors.
final class LayerNormTests: XCTestCase {
    private func random(_ shape: [Int], seed: UInt64) -> Tensor {
        var g = SeededGenerator(seed: seed)
        return Tensor(uniform: shape, low: -1, high: 1, using: &g)
    }

    func testGradientsMatchFiniteDifferences() throws {
        let x = random([3, 2, 4], seed: 1), w = random([2, 4], seed: 2), b = random([2, 4], seed: 3)
        let probe = random([3, 2, 4], seed: 4)
        try assertGradientsMatchFiniteDifferences([x, w, b], step: 1e-2) {
            (try Tensor.layerNorm(x, normalizedShape: [2, 4], weight: w, bias: b) * probe).sum()
        }
        try assertGradientsMatchFiniteDifferences([x]) {
            (try Tensor.layerNorm(x, normalizedShape: [4], eps: 1e-3) * probe).sum()
        }
        try assertGradientsMatchFiniteDifferences([x, b]) {
            (try Tensor.layerNorm(x, normalizedShape: [2, 4], bias: b) * probe).sum()
        }
    }

    func testModuleMatchesPyTorchDefaults() throws {
        let norm = try LayerNorm(4)
        XCTAssertEqual(norm.stateDictKeys, ["weight", "bias"])
        XCTAssertEqual(norm.weight?.scalars, [1, 1, 1, 1])
        XCTAssertEqual(norm.bias?.scalars, [0, 0, 0, 0])
        XCTAssertEqual(norm.eps, 1e-5)
        // By hand: [1, 2, 3, 4] has mean 2.5 and biased variance 1.25.
        let y = try norm(Tensor([[1, 2, 3, 4]]))
        let s = 1 / Float(1.25 + 1e-5).squareRoot()
        XCTAssertEqual(y.scalars, [-1.5 * s, -0.5 * s, 0.5 * s, 1.5 * s])
        XCTAssertEqual(try LayerNorm(normalizedShape: [2, 3], elementwiseAffine: false).stateDictKeys, [])
        XCTAssertEqual(try LayerNorm(normalizedShape: [3], bias: false).stateDictKeys, ["weight"])
        // The fused node is the only one recorded.
        let x = random([2, 4], seed: 5)
        x.requiresGrad = true
        XCTAssertEqual(try norm(x).gradFnName, "LayerNormBackward")
    }

    func testErrors() throws {
        XCTAssertThrowsError(try LayerNorm(normalizedShape: []))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [0]))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [3], eps: -1))
        XCTAssertThrowsError(try LayerNorm(normalizedShape: [3], eps: .nan))
        let norm = try LayerNorm(normalizedShape: [2, 3])
        let x = random([4, 3, 2], seed: 6)
        XCTAssertThrowsError(try norm(x)) { error in
            XCTAssertTrue("\(error)".contains("(*, 2, 3)"), "\(error)")
        }
        XCTAssertThrowsError(try norm(Tensor([1, 2, 3])))
        XCTAssertThrowsError(try Tensor.layerNorm(x, normalizedShape: [2], weight: Tensor([1, 2, 3])))
        XCTAssertNil(norm.weight?.grad)
    }
}
