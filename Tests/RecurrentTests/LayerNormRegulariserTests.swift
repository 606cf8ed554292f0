import XCTest
import LinearAlgebra
@testable import Recurrent

/// The recurrent regularisers (``RecurrentRegularizers``) of ``LayerNormLSTM`` and
/// ``LayerNormGRU``: the fused layer-normalised recurrence with given masks against a
/// reference built step by step from the layer-normalised cells' equations in tensor ops
/// (outputs, final states and every gradient); then, through the modules: the plain layer
/// bit for bit at probability 0 and in evaluation mode without zoneout, zoneout's expectation
/// in evaluation mode, weight drop as the plain layer with the dropped `W_hh`, masks drawn
/// as the plain layers draw theirs and repeating from a seed, the same validation, and the
/// gradients by finite differences with lengths, two layers and both directions.
final class LayerNormRegulariserTests: XCTestCase {
    private let (T, B, I, H) = (5, 3, 4, 6)

    /// One layer, one direction, sequence first, as a loop of tensor ops: the state mask `md`
    /// multiplies `h` before `W_hh`, zoneout masks `zh`, `zc` (`(T, B, H)`, or `(B, H)` for
    /// every step) mix the previous state into the cell's new one.
    private func reference(kind: CellKind, x: Tensor, h0: Tensor, c0: Tensor?, weights w: LayerNormRecurrentWeights,
                           md: Tensor?, zh: Tensor?, zc: Tensor?) throws -> (y: Tensor, h: Tensor, c: Tensor?) {
        var h = h0, c = c0
        var outputs: [Tensor] = []
        let wihT = try w.weightIH.transposed(), whhT = try w.weightHH.transposed()
        func block(_ t: Tensor, _ k: Int) throws -> Tensor { try t.narrow(dim: 1, start: k * H, length: H) }
        func zone(_ mask: Tensor?, _ t: Int) throws -> Tensor? { try RegularisedLayerCase.zoneout(mask, step: t) }
        for t in 0..<T {
            let xt = try x.select(dim: 0, index: t)
            let hm = md.map { h * $0 } ?? h
            let xi = try w.normI(xt.matmul(wihT)), hh = try w.normH(hm.matmul(whhT))
            var hNew: Tensor
            if kind == .lstm {
                let g = xi + hh, cPrev = try XCTUnwrap(c), normC = try XCTUnwrap(w.normC)
                let cTilde = try normC(try block(g, 1).sigmoid() * cPrev + (try block(g, 0)).sigmoid() * (try block(g, 2)).tanh())
                hNew = (try block(g, 3)).sigmoid() * cTilde.tanh()
                c = try zone(zc, t).map { $0 * cPrev + (1 - $0) * cTilde } ?? cTilde
            } else {
                let r = (try block(xi, 0) + block(hh, 0)).sigmoid(), z = (try block(xi, 1) + block(hh, 1)).sigmoid()
                let n = (try block(xi, 2) + r * block(hh, 2)).tanh()
                hNew = (1 - z) * n + z * h
            }
            if let m = try zone(zh, t) { hNew = m * h + (1 - m) * hNew }
            h = hNew
            outputs.append(h)
        }
        return (try Tensor.stack(outputs, dim: 0), h, c)
    }

    /// A module whose layer norms have random weights and shifts (not the initial 1 and 0).
    private func randomized<M: LayerNormRecurrentBase>(_ module: M, seed: UInt64) -> M {
        var generator = SeededGenerator(seed: seed)
        for (name, p) in module.namedParameters() where name.hasPrefix("layernorm") {
            p.scalars = (0..<p.count).map { _ in generator.uniform(Float(0.5), Float(1.5)) - (name.hasSuffix("bias") ? 1 : 0) }
        }
        return module
    }

    /// The fused layer with the given masks against the reference: outputs, states, gradients.
    private func checkAgainstReference(_ module: LayerNormRecurrentBase, dropout: Bool, zoneoutH: Bool, zoneoutC: Bool,
                                       zoneoutExpectation: Float? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let kind = module.kind, isLSTM = kind == .lstm
        let weights = module.weights[0][0]
        let c = RegularisedLayerCase(steps: T, batch: B, inputSize: I, hiddenSize: H, lstm: isLSTM, dropout: dropout,
                                     zoneoutH: zoneoutH, zoneoutC: zoneoutC, zoneoutExpectation: zoneoutExpectation)
        try c.assertAgreement(parameters: module.parameters(), "\(module)", file: file, line: line) {
            let r = LayerNormRecurrence.run(kind: kind, input: c.x, layout: SequenceLayout(steps: T, batch: B, batchFirst: false),
                                            reverse: false, h0: c.h0, c0: isLSTM ? c.c0 : nil, weights: weights,
                                            variant: try c.variant(CellVariant()), lengths: nil)
            return (r.output, r.hN, r.cN)
        } reference: {
            try reference(kind: kind, x: c.x, h0: c.h0, c0: isLSTM ? c.c0 : nil, weights: weights, md: c.stateMask,
                          zh: c.zoneoutH, zc: c.zoneoutC)
        }
    }

    /// At every kernel level this machine runs (the portable loops and the vector kernels).
    func testFusedLayerAgreesWithStepwiseReferenceGivenTheSameMasks() throws {
        let modules: [LayerNormRecurrentBase] = [
            randomized(try LayerNormLSTM(inputSize: I, hiddenSize: H, seed: 1), seed: 31),
            randomized(try LayerNormGRU(inputSize: I, hiddenSize: H, seed: 2), seed: 32),
        ]
        for level in CPUCapability.allCases where level <= CPUCapability.current {
            try CPUCapability.withCapability(level) {
                for module in modules {
                    for (dropout, zh, zc) in [(true, false, false), (false, true, false), (false, false, true), (true, true, true),
                                              (false, false, false)] {
                        try checkAgainstReference(module, dropout: dropout, zoneoutH: zh, zoneoutC: zc)
                    }
                    try checkAgainstReference(module, dropout: false, zoneoutH: true, zoneoutC: true, zoneoutExpectation: 0.25)
                }
            }
        }
    }

    /// Everything a forward and backward of a module in training mode produce.
    private func everything(_ module: LayerNormRecurrentBase, _ x: Tensor, lengths: [Int]? = nil) throws -> [[Float]] {
        x.requiresGrad = true
        x.grad = nil
        for p in module.parameters() { p.grad = nil }
        let (y, hN, cN) = try module.forwardLayers(x, h0: nil, c0: nil, lengths: lengths)
        var loss = (y * y).sum() + hN.sum()
        if let cN { loss = loss + (cN * cN).sum() }
        loss.backward()
        return [y.scalars, hN.scalars, cN?.scalars ?? [], try XCTUnwrap(x.grad).scalars]
            + (try module.parameters().map { try XCTUnwrap($0.grad).scalars })
    }

    /// Probability 0 is the plain layer, bit for bit, in training mode: outputs, states and gradients.
    func testZeroProbabilitiesGiveThePlainLayer() throws {
        var generator = SeededGenerator(seed: 8)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let zero = RecurrentRegularizers(recurrentDropout: 0, zoneoutHidden: 0, zoneoutCell: 0, weightDrop: 0, seed: 3)
        let plain = try LayerNormLSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 9)
        let regularized = try LayerNormLSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, regularizers: zero, seed: 9)
        XCTAssertEqual(try everything(plain, x, lengths: [5, 2, 4]), try everything(regularized, x, lengths: [5, 2, 4]))
        let gru = try LayerNormGRU(inputSize: I, hiddenSize: H, seed: 10)
        let gruZero = try LayerNormGRU(inputSize: I, hiddenSize: H, regularizers: zero, seed: 10)
        XCTAssertEqual(try everything(gru, x), try everything(gruZero, x))
    }

    /// In evaluation mode recurrent dropout and weight drop are off (the plain layer, bit for
    /// bit, and no mask is drawn) and zoneout is its expectation `p·h_{t−1} + (1 − p)·h̃_t`.
    func testEvaluationModeUsesTheExpectation() throws {
        var generator = SeededGenerator(seed: 12)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let dropping = RecurrentRegularizers(recurrentDropout: 0.5, weightDrop: 0.5)
        for kind in [CellKind.lstm, .gru] {
            let plain = try kind == .lstm ? LayerNormLSTM(inputSize: I, hiddenSize: H, seed: 13) as LayerNormRecurrentBase
                : LayerNormGRU(inputSize: I, hiddenSize: H, seed: 13)
            let regularized = try kind == .lstm
                ? LayerNormLSTM(inputSize: I, hiddenSize: H, regularizers: dropping, seed: 13) as LayerNormRecurrentBase
                : LayerNormGRU(inputSize: I, hiddenSize: H, regularizers: dropping, seed: 13)
            regularized.eval()
            RandomState.manualSeed(3)
            let before = RandomState.withGenerator { $0.next() }
            RandomState.manualSeed(3)
            XCTAssertEqual(try plain.forwardLayers(x, h0: nil, c0: nil, lengths: nil).output.scalars, try regularized.forwardLayers(x, h0: nil, c0: nil, lengths: nil).output.scalars)
            XCTAssertEqual(RandomState.withGenerator { $0.next() }, before, "evaluation draws no mask")
        }

        let zoned = randomized(try LayerNormLSTM(inputSize: I, hiddenSize: H,
                                                 regularizers: RecurrentRegularizers(zoneoutHidden: 0.3, zoneoutCell: 0.2), seed: 14), seed: 33)
        zoned.eval()
        let (y, state) = try zoned(x)
        let (B, H) = (self.B, self.H)
        let p = { (v: Float) in Tensor(shape: [B, H], scalars: [Float](repeating: v, count: B * H)) }
        let expected = try reference(kind: .lstm, x: x, h0: Tensor(zeros: [B, H]), c0: Tensor(zeros: [B, H]),
                                     weights: zoned.weights[0][0], md: nil, zh: p(0.3), zc: p(0.2))
        assertClose(y.scalars, expected.y.scalars, rtol: 1e-5, atol: 1e-6)
        assertClose(state.c.scalars, expected.c!.scalars, rtol: 1e-5, atol: 1e-6)
        let zonedGRU = try LayerNormGRU(inputSize: I, hiddenSize: H, regularizers: RecurrentRegularizers(zoneoutHidden: 0.4), seed: 15)
        zonedGRU.eval()
        let expectedGRU = try reference(kind: .gru, x: x, h0: Tensor(zeros: [B, H]), c0: nil, weights: zonedGRU.weights[0][0],
                                        md: nil, zh: p(0.4), zc: nil)
        assertClose(try zonedGRU(x).output.scalars, expectedGRU.y.scalars, rtol: 1e-5, atol: 1e-6)
    }

    /// Weight drop is the plain layer run with `W_hh ⊙ mask / (1 − p)`, one mask per forward
    /// call from the module's stream; the raw weight's gradient is the dropped one's times the mask.
    func testWeightDropIsThePlainLayerWithTheDroppedWeight() throws {
        var generator = SeededGenerator(seed: 15)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let p: Float = 0.4
        for kind in [CellKind.lstm, .gru] {
            let r = RecurrentRegularizers(weightDrop: p, seed: 77)
            let dropped = try kind == .lstm ? LayerNormLSTM(inputSize: I, hiddenSize: H, regularizers: r, seed: 16) as LayerNormRecurrentBase
                : LayerNormGRU(inputSize: I, hiddenSize: H, regularizers: r, seed: 16)
            let plain = try kind == .lstm ? LayerNormLSTM(inputSize: I, hiddenSize: H, seed: 16) as LayerNormRecurrentBase
                : LayerNormGRU(inputSize: I, hiddenSize: H, seed: 16)
            var masks = SeededGenerator(seed: 77)
            let whh = try XCTUnwrap(plain.namedParameters().first { $0.name == "weight_hh_l0" }?.parameter)
            let mask = try Tensor(shape: whh.shape, scalars: [Float](repeating: 1, count: whh.count)).dropout(p: p, training: true, using: &masks)
            XCTAssertTrue(mask.scalars.contains(0))
            whh.withUnsafeMutableBufferPointer { w in for i in w.indices { w[i] *= mask.scalars[i] } }
            let a = try dropped.forwardLayers(x, h0: nil, c0: nil, lengths: nil), b = try plain.forwardLayers(x, h0: nil, c0: nil, lengths: nil)
            XCTAssertEqual(a.output.scalars, b.output.scalars)
            a.output.sum().backward()
            b.output.sum().backward()
            let rawGrad = try XCTUnwrap(dropped.namedParameters().first { $0.name == "weight_hh_l0" }?.parameter.grad).scalars
            let droppedGrad = try XCTUnwrap(whh.grad).scalars
            XCTAssertEqual(rawGrad, zip(droppedGrad, mask.scalars).map { $0 * $1 })
            // The next call draws a new mask.
            XCTAssertNotEqual(try dropped.forwardLayers(x, h0: nil, c0: nil, lengths: nil).output.scalars, a.output.scalars)
        }
    }

    /// Masks drawn from a seed repeat from run to run and change from call to call; without a
    /// seed they follow the default stream (``RandomState/manualSeed(_:)``). A layer-normalised
    /// layer draws what the plain layer of the same configuration draws (the same masks, in the
    /// same order), and rejects the settings the plain layer rejects.
    func testMasksRepeatFromASeedAndFollowThePlainLayers() throws {
        var generator = SeededGenerator(seed: 17)
        let x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        let r = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.2, zoneoutCell: 0.1, weightDrop: 0.2, seed: 5)
        try assertMasksRepeatFromASeed(x) {
            let lstm = try LayerNormLSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, regularizers: r, seed: 18)
            return { try lstm($0).output }
        }
        let described = try LayerNormLSTM(inputSize: I, hiddenSize: H, regularizers: r).description
        XCTAssertTrue(described.contains("recurrent_dropout=0.3, zoneout_hidden=0.2"), described)

        // The same draws as the plain LSTM: after one call both streams are at the same place.
        let plain = try LSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, regularizers: r, seed: 18)
        _ = try plain(x)
        let third = try LayerNormLSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, regularizers: r, seed: 18)
        _ = try third(x)
        let next = { (stream: PThreadMutex<SeededGenerator>?) in try XCTUnwrap(stream).withLock { $0.next() } }
        XCTAssertEqual(try next(third.regularizerGenerator), try next(plain.regularizerGenerator))

        let unseeded = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.2, weightDrop: 0.1)
        let gru = try LayerNormGRU(inputSize: I, hiddenSize: H, regularizers: unseeded, seed: 19)
        RandomState.manualSeed(4)
        let g1 = try gru(x).output.scalars
        let g2 = try gru(x).output.scalars
        RandomState.manualSeed(4)
        XCTAssertEqual(g1, try gru(x).output.scalars)
        XCTAssertNotEqual(g1, g2)
        let plainGRU = try GRU(inputSize: I, hiddenSize: H, regularizers: unseeded, seed: 19)
        RandomState.manualSeed(4)
        _ = try plainGRU(x)
        let afterPlain = RandomState.withGenerator { $0.next() }
        RandomState.manualSeed(4)
        _ = try gru(x)
        XCTAssertEqual(RandomState.withGenerator { $0.next() }, afterPlain)

        for (bad, expected) in [(RecurrentRegularizers(zoneoutCell: 0.1), "zoneoutCell"), (RecurrentRegularizers(recurrentDropout: 1), "recurrentDropout"),
                                (RecurrentRegularizers(weightDrop: -0.1), "weightDrop"), (RecurrentRegularizers(zoneoutHidden: .nan), "zoneoutHidden")] {
            XCTAssertThrowsError(try LayerNormGRU(inputSize: I, hiddenSize: H, regularizers: bad)) { error in
                XCTAssertTrue("\(error)".contains(expected) && "\(error)".contains("LayerNormGRU"), "\(error)")
            }
        }
        XCTAssertThrowsError(try LayerNormLSTM(inputSize: I, hiddenSize: H, regularizers: RecurrentRegularizers(zoneoutCell: 1)))
        XCTAssertNoThrow(try LayerNormLSTM(inputSize: I, hiddenSize: H, regularizers: RecurrentRegularizers(zoneoutCell: 0.5)))
    }

    /// The regularisers' example of the LayerNormCells article, as written there, trains.
    func testArticleExample() throws {
        let lstm = try LayerNormLSTM(inputSize: 64, hiddenSize: 128, numLayers: 2,
                                     regularizers: RecurrentRegularizers(recurrentDropout: 0.25, zoneoutHidden: 0.1,
                                                                         zoneoutCell: 0.05, weightDrop: 0.3, seed: 7))
        var generator = SeededGenerator(seed: 23)
        let x = Tensor(uniform: [6, 2, 64], low: -1, high: 1, using: &generator)
        let (output, state) = try lstm(x)
        XCTAssertEqual(output.shape, [6, 2, 128])
        XCTAssertEqual(state.c.shape, [2, 2, 128])
        (output.sum() + state.c.sum()).backward()
        XCTAssertTrue(lstm.parameters().allSatisfy { $0.grad?.scalars.allSatisfy(\.isFinite) == true })
        lstm.eval()
        XCTAssertEqual(try lstm(x).output.scalars, try lstm(x).output.scalars, "no mask in evaluation mode")
    }

    /// Every gradient of a regularised, bidirectional, two-layer, batch-first layer with
    /// lengths against central differences, with the masks of one seeded draw (each forward
    /// of the difference quotient draws the same masks from a fresh module stream). Five
    /// hidden units: over three, the layer norms' curvature defeats Float differences even
    /// without regularisers.
    func testRegularisedGradientsMatchFiniteDifferences() throws {
        let r = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.3, zoneoutCell: 0.3, weightDrop: 0.2, seed: 6)
        var gruR = r
        gruR.zoneoutCell = 0
        for module in [randomized(try LayerNormLSTM(inputSize: 2, hiddenSize: 5, numLayers: 2, batchFirst: true, bidirectional: true,
                                                    regularizers: r, seed: 20), seed: 34) as LayerNormRecurrentBase,
                       randomized(try LayerNormGRU(inputSize: 2, hiddenSize: 5, numLayers: 2, batchFirst: true, bidirectional: true,
                                                   regularizers: gruR, seed: 21), seed: 35)] {
            var generator = SeededGenerator(seed: 22)
            let x = Tensor(uniform: [3, 4, 2], low: -1, high: 1, using: &generator)
            let w = Tensor(uniform: [3, 4, 10], low: -1, high: 1, using: &generator)
            let stream = try XCTUnwrap(module.regularizerGenerator)
            let start = stream.withLock { $0 }
            try assertGradientsMatchFiniteDifferences([x] + module.parameters(), step: 1e-2, rtol: 3e-2, atol: 5e-3) {
                stream.withLock { $0 = start }
                let (y, hN, cN) = try module.forwardLayers(x, h0: nil, c0: nil, lengths: [4, 2, 3])
                let loss = (y * w).sum() + hN.sum()
                return cN.map { loss + $0.sum() } ?? loss
            }
        }
    }
}
