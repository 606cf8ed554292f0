import XCTest
@testable import Recurrent

/// The cell variants (peepholes, a GRU's reset before the product) and the regularisers
/// through every path: the single-step cells (against onnxruntime's first step and finite
/// differences), streaming (against the module in evaluation mode), results bit-identical for
/// every thread count, and every kernel level within rounding of the portable one.
final class ONNXVariantPathTests: XCTestCase {
    private func parameter(_ module: Module, _ name: String) throws -> Parameter {
        try XCTUnwrap(module.namedParameters().first { $0.name == name }?.parameter, name)
    }

    /// Copies layer 0's parameters of `module` into `cell` (same names without `_l0`).
    private func copyLayerZero(of module: Module, into cell: Module) throws {
        for (name, p) in cell.namedParameters() {
            let source = try parameter(module, name + "_l0")
            p.withUnsafeMutableBufferPointer { dst in for i in dst.indices { dst[i] = source.scalars[i] } }
        }
    }

    /// The first step of the onnxruntime fixtures, through the cells.
    func testCellsMatchONNXRuntimeFirstStep() throws {
        for name in ["lstm_peephole", "gru_reset_before"] {
            let fixture = try Fixture("onnx/" + name)
            let inputs = fixture.tensors("inputs"), outputs = fixture.tensors("outputs")
            let I = try XCTUnwrap(fixture.config["I"] as? Int), H = try XCTUnwrap(fixture.config["H"] as? Int)
            let x0 = try XCTUnwrap(inputs["X"]).select(dim: 0, index: 0)
            let h0 = try XCTUnwrap(inputs["initial_h"]).select(dim: 0, index: 0)
            let y0 = try XCTUnwrap(outputs["Y"]).select(dim: 0, index: 0).select(dim: 0, index: 0)
            if name.hasPrefix("lstm") {
                let module = try LSTM(inputSize: I, hiddenSize: H, peepholes: true)
                try module.loadONNXWeights(layer: 0, W: XCTUnwrap(inputs["W"]), R: XCTUnwrap(inputs["R"]), B: inputs["B"], P: inputs["P"])
                let cell = try LSTMCell(inputSize: I, hiddenSize: H, peepholes: true)
                try copyLayerZero(of: module, into: cell)
                let c0 = try XCTUnwrap(inputs["initial_c"]).select(dim: 0, index: 0)
                let state = try cell(x0, LSTMState(h: h0, c: c0))
                assertClose(state.h, y0, rtol: 1e-5, atol: 2e-6, name)
                // Unbatched, the same row.
                let single = try cell(x0.select(dim: 0, index: 1), LSTMState(h: h0.select(dim: 0, index: 1), c: c0.select(dim: 0, index: 1)))
                assertClose(single.h, try y0.select(dim: 0, index: 1), rtol: 1e-5, atol: 2e-6, name)
            } else {
                let module = try GRU(inputSize: I, hiddenSize: H, resetAfter: false)
                try module.loadONNXWeights(layer: 0, W: XCTUnwrap(inputs["W"]), R: XCTUnwrap(inputs["R"]), B: inputs["B"])
                let cell = try GRUCell(inputSize: I, hiddenSize: H, resetAfter: false)
                try copyLayerZero(of: module, into: cell)
                assertClose(try cell(x0, h0), y0, rtol: 1e-5, atol: 2e-6, name)
            }
        }
    }

    func testCellGradientsMatchFiniteDifferences() throws {
        var generator = SeededGenerator(seed: 31)
        let x = Tensor(uniform: [3, 4], low: -1, high: 1, using: &generator)
        let h = Tensor(uniform: [3, 5], low: -0.5, high: 0.5, using: &generator)
        let c = Tensor(uniform: [3, 5], low: -0.5, high: 0.5, using: &generator)
        let w = Tensor(uniform: [3, 5], low: -1, high: 1, using: &generator)
        let lstm = try LSTMCell(inputSize: 4, hiddenSize: 5, peepholes: true, seed: 32)
        XCTAssertEqual(lstm.namedParameters().map(\.name), ["weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_p"])
        try assertGradientsMatchFiniteDifferences([x, h, c] + lstm.parameters(), atol: 1e-3) {
            let s = try lstm(x, LSTMState(h: h, c: c))
            return (s.h * w).sum() + (s.c * w).sum()
        }
        let gru = try GRUCell(inputSize: 4, hiddenSize: 5, resetAfter: false, seed: 33)
        try assertGradientsMatchFiniteDifferences([x, h] + gru.parameters(), atol: 1e-3) {
            (try gru(x, h) * w).sum()
        }
    }

    /// A stream gives the module's outputs in evaluation mode, chunk by chunk.
    func testStreamsFollowTheModuleInEvaluationMode() throws {
        let zoneout = RecurrentRegularizers(recurrentDropout: 0.4, zoneoutHidden: 0.3, zoneoutCell: 0.2, weightDrop: 0.3)
        let modules: [RecurrentBase] = [
            try LSTM(inputSize: 4, hiddenSize: 6, numLayers: 2, peepholes: true, seed: 34),
            try GRU(inputSize: 4, hiddenSize: 6, numLayers: 2, batchFirst: true, resetAfter: false, seed: 35),
            try LSTM(inputSize: 4, hiddenSize: 6, numLayers: 2, peepholes: true, regularizers: zoneout, seed: 36),
            try GRU(inputSize: 4, hiddenSize: 6, resetAfter: false, regularizers: { var r = zoneout; r.zoneoutCell = 0; return r }(), seed: 37),
        ]
        for module in modules {
            module.eval()
            var generator = SeededGenerator(seed: 38)
            let (T, B) = (7, 3)
            let x = Tensor(uniform: module.batchFirst ? [B, T, 4] : [T, B, 4], low: -1, high: 1, using: &generator)
            let expected = try module.forward(x)
            let stream = try RecurrentStream(module, batchSize: B)
            let first = try stream.advance(try x.narrow(dim: module.batchFirst ? 1 : 0, start: 0, length: 3))
            let rest = try stream.advance(try x.narrow(dim: module.batchFirst ? 1 : 0, start: 3, length: 4))
            let y = try Tensor.cat([first, rest], dim: module.batchFirst ? 1 : 0)
            assertClose(y, expected.output, rtol: 1e-5, atol: 1e-6, "\(module)")
            assertClose(stream.hiddenState, expected.hN, rtol: 1e-5, atol: 1e-6, "\(module)")
            if let c = expected.cN { assertClose(stream.cellState, c, rtol: 1e-5, atol: 1e-6, "\(module)") }
        }
    }

    /// Outputs, final states and every gradient of a forward and backward.
    private func everything(_ module: RecurrentBase, lengths: [Int]?, steps T: Int = 6, batch B: Int = 24) throws -> [[Float]] {
        let I = module.inputSize
        var generator = SeededGenerator(seed: 39)
        let D = module.numDirections, L = module.numLayers, H = module.hiddenSize
        let x = Tensor(uniform: module.batchFirst ? [B, T, I] : [T, B, I], low: -1, high: 1, using: &generator)
        let h0 = Tensor(uniform: [D * L, B, H], low: -0.5, high: 0.5, using: &generator)
        let c0 = Tensor(uniform: [D * L, B, H], low: -0.5, high: 0.5, using: &generator)
        let w = Tensor(uniform: module.batchFirst ? [B, T, D * H] : [T, B, D * H], low: -1, high: 1, using: &generator)
        let isLSTM = module.kind == .lstm
        for t in [x, h0, c0] { t.requiresGrad = true }
        module.zeroGrad()
        if let stream = module.regularizerGenerator { stream.withLock { $0 = SeededGenerator(seed: 40) } }
        let (y, hN, cN) = try module.forward(x, h0: h0, c0: isLSTM ? c0 : nil, lengths: lengths)
        ((y * w).sum() + hN.sum() + (cN?.sum() ?? Tensor(0))).backward()
        return [y.scalars, hN.scalars, cN?.scalars ?? [], try XCTUnwrap(x.grad).scalars, try XCTUnwrap(h0.grad).scalars]
            + module.parameters().map { $0.grad?.scalars ?? [] }
    }

    /// Modules whose layers take a team of several workers (``FusedRecurrence/teamSize(batch:hidden:gates:depth:hasProjection:)``
    /// of 24 × 72 at 4 threads), the last one owning a partial 16-column panel.
    private func variantModules() throws -> [RecurrentBase] {
        let r = RecurrentRegularizers(recurrentDropout: 0.2, zoneoutHidden: 0.2, zoneoutCell: 0.1, weightDrop: 0.2, seed: 1)
        var gruR = r
        gruR.zoneoutCell = 0
        return [
            try LSTM(inputSize: 5, hiddenSize: 72, numLayers: 2, bidirectional: true, peepholes: true, seed: 41),
            try GRU(inputSize: 5, hiddenSize: 72, numLayers: 2, batchFirst: true, bidirectional: true, resetAfter: false, seed: 42),
            try LSTM(inputSize: 5, hiddenSize: 72, numLayers: 2, bidirectional: true, regularizers: r, seed: 43),
            try GRU(inputSize: 5, hiddenSize: 72, bidirectional: true, regularizers: gruR, seed: 44),
            try RNN(inputSize: 5, hiddenSize: 72, batchFirst: true, regularizers: gruR, seed: 45),
        ]
    }

    func testVariantsAreBitIdenticalForEveryThreadCount() throws {
        let savedThreads = ComputeThreads.count
        defer { ComputeThreads.set(savedThreads) }
        ComputeThreads.set(4)
        if PackedGEMM.isAvailable {   // the premise: several workers split every gated layer's units
            XCTAssertGreaterThan(FusedRecurrence.teamSize(batch: 24, hidden: 72, gates: 3, depth: 72, hasProjection: false), 2)
        }
        let lengths = [6, 3, 6, 1, 6, 5, 2, 6, 4, 6, 6, 3, 6, 6, 2, 5, 6, 6, 1, 4, 6, 2, 6, 5]
        for module in try variantModules() {
            for l in [nil, lengths] as [[Int]?] {
                ComputeThreads.set(1)
                let reference = try everything(module, lengths: l)
                XCTAssertTrue(reference.allSatisfy { $0.allSatisfy(\.isFinite) })
                for threads in [2, 4] {
                    ComputeThreads.set(threads)
                    let other = try everything(module, lengths: l)
                    for (i, (a, b)) in zip(other, reference).enumerated() {
                        let same = a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
                        XCTAssertTrue(same, "\(module), lengths \(l != nil), \(threads) threads: result \(i) differs from one thread's")
                    }
                }
            }
        }
    }

    func testVariantsAgreeAcrossKernelLevels() throws {
        let levels = CPUCapability.allCases.filter { $0 <= CPUCapability.current }
        guard levels.count > 1 else { throw XCTSkip("only the portable kernels run here") }
        // The small modules, with lengths; then layers whose backward's sequence-wide products
        // are large enough for the packed kernels (``FusedRecurrence/packedBackwardMultiplyAdds``).
        let large: [RecurrentBase] = [
            try LSTM(inputSize: 16, hiddenSize: 96, batchFirst: true, peepholes: true, seed: 46),
            try GRU(inputSize: 16, hiddenSize: 96, resetAfter: false, seed: 47),
        ]
        let lengths = [6, 2, 5, 6, 1, 3, 6, 6, 4, 6, 6, 2, 6, 5, 6, 3, 6, 6, 6, 1, 2, 6, 6, 4]
        for module in try variantModules() + large {
            let isLarge = large.contains { $0 === module }
            let results = try levels.map { level in
                try CPUCapability.withCapability(level) {
                    try isLarge ? everything(module, lengths: nil, steps: 12, batch: 32) : everything(module, lengths: lengths)
                }
            }
            for (level, result) in zip(levels.dropFirst(), results.dropFirst()) {
                for (i, (a, b)) in zip(result, results[0]).enumerated() {
                    let scale = Swift.max(1, b.map { abs($0) }.max() ?? 1)
                    let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
                    XCTAssertLessThanOrEqual(worst, 1e-4 * scale, "\(module) \(level): result \(i) differs by \(worst)")
                }
            }
        }
    }
    /// Without recording (inference), a layer keeps no sequence buffers for the backward and
    /// runs its steps on scratch rows: the same outputs and states, bit for bit, in training
    /// (the same masks) and evaluation mode, on one worker and on a team.
    func testInferenceGivesTheRecordedResults() throws {
        let savedThreads = ComputeThreads.count
        defer { ComputeThreads.set(savedThreads) }
        let lengths = [6, 3, 6, 1, 6, 5, 2, 6, 4, 6, 6, 3, 6, 6, 2, 5, 6, 6, 1, 4, 6, 2, 6, 5]
        for threads in [1, 2, 4] {   // 2: the directions of a bidirectional layer run together
            ComputeThreads.set(threads)
            for module in try variantModules() {
                for training in [true, false] {
                    module.train(training)
                    var generator = SeededGenerator(seed: 53)
                    let B = 24, T = 6
                    let x = Tensor(uniform: module.batchFirst ? [B, T, 5] : [T, B, 5], low: -1, high: 1, using: &generator)
                    func run() throws -> [[Float]] {
                        if let stream = module.regularizerGenerator { stream.withLock { $0 = SeededGenerator(seed: 54) } }
                        let (y, hN, cN) = try module.forward(x, lengths: lengths)
                        return [y.scalars, hN.scalars, cN?.scalars ?? []]
                    }
                    let recorded = try run()
                    let inferred = try withoutGradients { try run() }
                    for (i, (a, b)) in zip(inferred, recorded).enumerated() {
                        XCTAssertTrue(a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern },
                                      "\(module), training \(training), \(threads) threads: result \(i)")
                    }
                }
            }
        }
    }

    /// Edge shapes: an empty batch, one step, unbatched input, one hidden unit.
    func testEdgeShapes() throws {
        let r = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.3, zoneoutCell: 0.3, weightDrop: 0.3, seed: 2)
        for module in [try LSTM(inputSize: 3, hiddenSize: 1, bidirectional: true, peepholes: true, regularizers: r, seed: 50) as RecurrentBase,
                       try GRU(inputSize: 3, hiddenSize: 5, resetAfter: false, seed: 51)] {
            let D = module.numDirections, H = module.hiddenSize
            let empty = try module.forward(Tensor(zeros: [4, 0, 3]))
            XCTAssertEqual(empty.output.shape, [4, 0, D * H])
            XCTAssertEqual(empty.hN.shape, [D, 0, H])
            let x = Tensor(uniform: [1, 3], low: -1, high: 1, using: &generatorForEdges)
            x.requiresGrad = true
            let one = try module.forward(x)
            XCTAssertEqual(one.output.shape, [1, D * H])
            XCTAssertEqual(one.hN.shape, [D, H])
            one.output.sum().backward()
            XCTAssertTrue(try XCTUnwrap(x.grad).scalars.allSatisfy(\.isFinite))
        }
    }

    private var generatorForEdges = SeededGenerator(seed: 52)
}
