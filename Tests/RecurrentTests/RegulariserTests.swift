import XCTest
@testable import Recurrent

/// The recurrent regularisers (``RecurrentRegularizers``) and the cell variants in the fused
/// layer against a reference built step by step from the library's tensor ops, given the same
/// masks: outputs, final states and every gradient. Then, through the modules: equality with
/// the plain layer at probability 0, zoneout's expectation in evaluation mode, weight drop as
/// the plain layer with the dropped `W_hh`, and masks that repeat from a seed.
final class RegulariserTests: XCTestCase {
    private let (T, B, I, H) = (5, 3, 4, 6)

    /// One layer, one direction, sequence first, as a loop of tensor ops: the state mask `md`
    /// multiplies `h` before the recurrent product, zoneout masks `zh`, `zc` `(T, B, H)` (or
    /// `(B, H)` for every step) mix the previous state in.
    private func reference(kind: CellKind, resetBefore: Bool, x: Tensor, h0: Tensor, c0: Tensor?, weights w: RecurrentWeights,
                           peepholes: Tensor?, md: Tensor?, zh: Tensor?, zc: Tensor?) throws -> (y: Tensor, h: Tensor, c: Tensor?) {
        var h = h0, c = c0
        var outputs: [Tensor] = []
        let wihT = try w.weightIH.transposed(), whh = w.weightHH
        func block(_ t: Tensor, _ k: Int) throws -> Tensor { try t.narrow(dim: 1, start: k * H, length: H) }
        func zone(_ mask: Tensor?, _ t: Int) throws -> Tensor? { try RegularisedLayerCase.zoneout(mask, step: t) }
        for t in 0..<T {
            let xt = try x.select(dim: 0, index: t)
            let hm = md.map { h * $0 } ?? h
            let gi = try xt.matmul(wihT) + w.biasIH!
            var hNew: Tensor
            switch kind {
            case .lstm:
                let a = try gi + hm.matmul(whh.transposed()) + w.biasHH!
                let cPrev = c!
                var pi = try block(a, 0), pf = try block(a, 1), po = try block(a, 3)
                if let peepholes {
                    pi = try pi + peepholes.select(dim: 0, index: 0) * cPrev
                    pf = try pf + peepholes.select(dim: 0, index: 1) * cPrev
                }
                let cNew = pf.sigmoid() * cPrev + pi.sigmoid() * (try block(a, 2)).tanh()
                if let peepholes { po = try po + peepholes.select(dim: 0, index: 2) * cNew }
                hNew = po.sigmoid() * cNew.tanh()
                c = try zone(zc, t).map { $0 * cPrev + (1 - $0) * cNew } ?? cNew
            case .gru:
                let whhRZ = try whh.narrow(dim: 0, start: 0, length: 2 * H), whhN = try whh.narrow(dim: 0, start: 2 * H, length: H)
                let bhh = w.biasHH!
                let ghRZ = try hm.matmul(whhRZ.transposed()) + bhh.narrow(dim: 0, start: 0, length: 2 * H)
                let r = (try block(gi, 0) + block(ghRZ, 0)).sigmoid(), z = (try block(gi, 1) + block(ghRZ, 1)).sigmoid()
                let bhn = try bhh.narrow(dim: 0, start: 2 * H, length: H)
                let n: Tensor
                if resetBefore {
                    n = (try block(gi, 2) + (r * hm).matmul(whhN.transposed()) + bhn).tanh()
                } else {
                    n = (try block(gi, 2) + r * (hm.matmul(whhN.transposed()) + bhn)).tanh()
                }
                hNew = (1 - z) * n + z * h
            case .rnnTanh, .rnnReLU:
                let a = try gi + hm.matmul(whh.transposed()) + w.biasHH!
                hNew = kind == .rnnTanh ? a.tanh() : a.relu()
            }
            if let m = try zone(zh, t) { hNew = m * h + (1 - m) * hNew }
            h = hNew
            outputs.append(h)
        }
        return (try Tensor.stack(outputs, dim: 0), h, c)
    }

    /// The fused layer with the given masks against the reference: outputs, states, gradients.
    private func checkAgainstReference(_ module: RecurrentBase, dropout: Bool, zoneoutH: Bool, zoneoutC: Bool,
                                       zoneoutExpectation: Float? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let kind = module.kind, isLSTM = kind == .lstm
        let weights = module.weights[0][0]
        let c = RegularisedLayerCase(steps: T, batch: B, inputSize: I, hiddenSize: H, lstm: isLSTM, dropout: dropout,
                                     zoneoutH: zoneoutH, zoneoutC: zoneoutC, zoneoutExpectation: zoneoutExpectation)
        try c.assertAgreement(parameters: module.parameters(), "\(module)", file: file, line: line) {
            var variant = try c.variant(module.baseVariant)
            variant.peepholes = weights.peepholes
            let r = FusedVariantRecurrence.run(kind: kind, input: c.x, layout: SequenceLayout(steps: T, batch: B, batchFirst: false),
                                               reverse: false, h0: c.h0, c0: isLSTM ? c.c0 : nil, weights: weights, variant: variant,
                                               lengths: nil)
            return (r.output, r.hN, r.cN)
        } reference: {
            try reference(kind: kind, resetBefore: !module.resetAfter, x: c.x, h0: c.h0, c0: isLSTM ? c.c0 : nil, weights: weights,
                          peepholes: weights.peepholes, md: c.stateMask, zh: c.zoneoutH, zc: c.zoneoutC)
        }
    }

    func testFusedLayerAgreesWithStepwiseReferenceGivenTheSameMasks() throws {
        let modules: [RecurrentBase] = [
            try LSTM(inputSize: I, hiddenSize: H, seed: 1),
            try LSTM(inputSize: I, hiddenSize: H, peepholes: true, seed: 2),
            try GRU(inputSize: I, hiddenSize: H, seed: 3),
            try GRU(inputSize: I, hiddenSize: H, resetAfter: false, seed: 4),
            try RNN(inputSize: I, hiddenSize: H, seed: 5),
            try RNN(inputSize: I, hiddenSize: H, nonlinearity: .relu, seed: 6),
        ]
        for module in modules {
            for (dropout, zh, zc) in [(true, false, false), (false, true, true), (true, true, true), (false, false, false)] {
                try checkAgainstReference(module, dropout: dropout, zoneoutH: zh, zoneoutC: zc)
            }
            try checkAgainstReference(module, dropout: false, zoneoutH: true, zoneoutC: true, zoneoutExpectation: 0.25)
        }
    }

    /// Probability 0 is the plain layer, bit for bit, in training mode.
    func testZeroProbabilitiesGiveThePlainLayer() throws {
        var generator = SeededGenerator(seed: 8)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let zero = RecurrentRegularizers(recurrentDropout: 0, zoneoutHidden: 0, zoneoutCell: 0, weightDrop: 0, seed: 3)
        let plain = try LSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 9)
        let regularized = try LSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, regularizers: zero, seed: 9)
        let a = try plain(x), b = try regularized(x)
        XCTAssertEqual(a.output.scalars, b.output.scalars)
        XCTAssertEqual(a.state.c.scalars, b.state.c.scalars)
        let gru = try GRU(inputSize: I, hiddenSize: H, seed: 10), gruZero = try GRU(inputSize: I, hiddenSize: H, regularizers: zero, seed: 10)
        XCTAssertEqual(try gru(x).output.scalars, try gruZero(x).output.scalars)
    }

    /// In evaluation mode dropout and weight drop are off (the plain layer, bit for bit) and
    /// zoneout is its expectation `p·h_{t−1} + (1 − p)·h̃_t`.
    func testEvaluationModeUsesTheExpectation() throws {
        var generator = SeededGenerator(seed: 12)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let dropping = RecurrentRegularizers(recurrentDropout: 0.5, weightDrop: 0.5)
        let plain = try GRU(inputSize: I, hiddenSize: H, seed: 13)
        let regularized = try GRU(inputSize: I, hiddenSize: H, regularizers: dropping, seed: 13).eval()
        XCTAssertEqual(try plain(x).output.scalars, try regularized(x).output.scalars)

        let zoned = try LSTM(inputSize: I, hiddenSize: H, regularizers: RecurrentRegularizers(zoneoutHidden: 0.3, zoneoutCell: 0.2), seed: 14).eval()
        let (y, state) = try zoned(x)
        let (B, H) = (self.B, self.H)
        let p = { (v: Float) in Tensor(shape: [B, H], scalars: [Float](repeating: v, count: B * H)) }
        let expected = try reference(kind: .lstm, resetBefore: false, x: x, h0: Tensor(zeros: [B, H]), c0: Tensor(zeros: [B, H]),
                                     weights: zoned.weights[0][0], peepholes: nil, md: nil, zh: p(0.3), zc: p(0.2))
        assertClose(y.scalars, expected.y.scalars, rtol: 1e-5, atol: 1e-6)
        assertClose(state.c.scalars, expected.c!.scalars, rtol: 1e-5, atol: 1e-6)
    }

    /// Weight drop is the plain layer run with `W_hh ⊙ mask / (1 − p)`, one mask per forward
    /// call from the module's stream; the raw weight's gradient is the dropped one's times the mask.
    func testWeightDropIsThePlainLayerWithTheDroppedWeight() throws {
        var generator = SeededGenerator(seed: 15)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let p: Float = 0.4
        let dropped = try LSTM(inputSize: I, hiddenSize: H, regularizers: RecurrentRegularizers(weightDrop: p, seed: 77), seed: 16)
        let plain = try LSTM(inputSize: I, hiddenSize: H, seed: 16)
        var masks = SeededGenerator(seed: 77)
        let whh = try XCTUnwrap(plain.namedParameters().first { $0.name == "weight_hh_l0" }?.parameter)
        let mask = try Tensor(shape: whh.shape, scalars: [Float](repeating: 1, count: whh.count)).dropout(p: p, training: true, using: &masks)
        whh.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= mask.scalars[i] } }
        let a = try dropped(x), b = try plain(x)
        XCTAssertEqual(a.output.scalars, b.output.scalars)
        a.output.sum().backward()
        b.output.sum().backward()
        let rawGrad = try XCTUnwrap(dropped.namedParameters().first { $0.name == "weight_hh_l0" }?.parameter.grad).scalars
        let droppedGrad = try XCTUnwrap(whh.grad).scalars
        XCTAssertEqual(rawGrad, zip(droppedGrad, mask.scalars).map { $0 * $1 })
        // The next call draws a new mask.
        XCTAssertNotEqual(try dropped(x).output.scalars, a.output.scalars)
    }

    /// Masks drawn from a seed repeat from run to run and change from call to call; without a
    /// seed they follow the default stream (``RandomState/manualSeed(_:)``).
    func testMasksRepeatFromASeed() throws {
        var generator = SeededGenerator(seed: 17)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let r = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.2, zoneoutCell: 0.1, weightDrop: 0.2, seed: 5)
        try assertMasksRepeatFromASeed(x) {
            let lstm = try LSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, regularizers: r, seed: 18)
            return { try lstm($0).output }
        }

        var unseeded = r
        unseeded.seed = nil
        let gru = try GRU(inputSize: I, hiddenSize: H, resetAfter: false, regularizers: RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.2), seed: 19)
        RandomState.manualSeed(4)
        let g1 = try gru(x).output.scalars
        RandomState.manualSeed(4)
        XCTAssertEqual(g1, try gru(x).output.scalars)
        XCTAssertThrowsError(try GRU(inputSize: I, hiddenSize: H, regularizers: RecurrentRegularizers(zoneoutCell: 0.1)))
        XCTAssertThrowsError(try LSTM(inputSize: I, hiddenSize: H, regularizers: RecurrentRegularizers(recurrentDropout: 1)))
        XCTAssertThrowsError(try LSTM(inputSize: I, hiddenSize: H, projSize: 2, peepholes: true))
        _ = unseeded
    }

    /// Every gradient of a regularised, bidirectional, two-layer, batch-first layer with
    /// lengths against central differences, with the masks of one seeded draw (each forward
    /// of the difference quotient draws the same masks from a fresh module stream).
    func testRegularisedGradientsMatchFiniteDifferences() throws {
        let r = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.3, zoneoutCell: 0.3, weightDrop: 0.2, seed: 6)
        for module in [try LSTM(inputSize: 2, hiddenSize: 3, numLayers: 2, batchFirst: true, bidirectional: true,
                                peepholes: true, regularizers: r, seed: 20) as RecurrentBase,
                       try GRU(inputSize: 2, hiddenSize: 3, numLayers: 2, batchFirst: true, bidirectional: true,
                               resetAfter: false, regularizers: { var g = r; g.zoneoutCell = 0; return g }(), seed: 21)] {
            var generator = SeededGenerator(seed: 22)
            let x = Tensor(uniform: [3, 4, 2], low: -1, high: 1, using: &generator)
            let w = Tensor(uniform: [3, 4, 6], low: -1, high: 1, using: &generator)
            let stream = try XCTUnwrap(module.regularizerGenerator)
            let start = stream.withLock { $0 }
            try assertGradientsMatchFiniteDifferences([x] + module.parameters(), step: 1e-2, rtol: 2e-2, atol: 1e-3) {
                stream.withLock { $0 = start }
                let (y, hN, _) = try module.forward(x, lengths: [4, 2, 3])
                return (y * w).sum() + hN.sum()
            }
        }
    }
}
