import XCTest
@testable import Recurrent

/// Every kernel level gives a recurrent layer's outputs, states and gradients within rounding
/// of the portable kernels, for shapes the fixtures do not cover: one input feature, a hidden
/// size that is not a multiple of the 16-column panels, variable lengths, two directions.
final class LevelAgreementTests: XCTestCase {
    func testOneFeatureBidirectionalLSTMWithLengthsAgreesAcrossLevels() throws {
        for (kind, hidden) in [("lstm", 24), ("gru", 24), ("lstm", 40)] {
            var results: [[[Float]]] = []
            let levels = CPUCapability.allCases.filter { $0 <= CPUCapability.current }
            for level in levels {
                results.append(try CPUCapability.withCapability(level) { () throws -> [[Float]] in
                    let module: RecurrentBase = kind == "lstm"
                        ? try LSTM(inputSize: 1, hiddenSize: hidden, numLayers: 2, bidirectional: true, seed: 9)
                        : try GRU(inputSize: 1, hiddenSize: hidden, numLayers: 2, bidirectional: true, seed: 9)
                    var generator = SeededGenerator(seed: 2)
                    let (T, B) = (30, 8)
                    let x = Tensor(uniform: [T, B, 1], low: -1, high: 1, using: &generator)
                    x.requiresGrad = true
                    let lengths = [30, 12, 25, 7, 30, 19, 3, 28]
                    let y = try module.forward(x, lengths: lengths).output
                    let w = Tensor(uniform: y.shape, low: -1, high: 1, using: &generator)
                    let loss = (y * w).sum()
                    loss.backward()
                    return [y.scalars, try XCTUnwrap(x.grad).scalars] + module.parameters().map { $0.grad?.scalars ?? [] }
                })
            }
            for (level, result) in zip(levels.dropFirst(), results.dropFirst()) {
                for (i, (a, b)) in zip(result, results[0]).enumerated() {
                    let scale = Swift.max(1, b.map { abs($0) }.max() ?? 1)
                    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(kind) \(hidden) \(level): result \(i) differs by \(worst)")
                }
            }
        }
    }
}
