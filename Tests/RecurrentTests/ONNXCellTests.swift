import XCTest
@testable import Recurrent

/// The cells beyond PyTorch's against onnxruntime: an LSTM with peepholes and GRUs with the
/// reset gate before (`linear_before_reset=0`) and after (`1`) the recurrent product, loaded
/// through ``RecurrentBase/loadONNXWeights(layer:W:R:B:P:linearBeforeReset:)`` from the
/// fixtures of `Scripts/onnx_cell_fixtures.py` (single ONNX nodes with random weights, biases
/// and initial states, bidirectional and `sequence_lens` cases), and their gradients against
/// central finite differences.
final class ONNXCellTests: XCTestCase {
    /// A module made and loaded from fixture `name`, with the fixture's tensors.
    private func loaded(_ name: String, batchFirst: Bool = false) throws -> (module: RecurrentBase, fixture: Fixture) {
        let fixture = try Fixture("onnx/" + name)
        let config = fixture.config
        let op = try XCTUnwrap(config["op"] as? String)
        let I = try XCTUnwrap(config["I"] as? Int), H = try XCTUnwrap(config["H"] as? Int)
        let bidirectional = (config["direction"] as? String) == "bidirectional"
        let inputs = fixture.tensors("inputs")
        let module: RecurrentBase
        if op == "LSTM" {
            let peepholes = try XCTUnwrap(config["peepholes"] as? Bool)
            module = try LSTM(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: bidirectional, peepholes: peepholes, seed: 1)
        } else {
            let linearBeforeReset = try XCTUnwrap(config["linear_before_reset"] as? Int) != 0
            module = try GRU(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: bidirectional,
                             resetAfter: linearBeforeReset, seed: 1)
            try module.loadONNXWeights(layer: 0, W: XCTUnwrap(inputs["W"]), R: XCTUnwrap(inputs["R"]), B: inputs["B"],
                                       linearBeforeReset: linearBeforeReset)
            return (module, fixture)
        }
        try module.loadONNXWeights(layer: 0, W: XCTUnwrap(inputs["W"]), R: XCTUnwrap(inputs["R"]), B: inputs["B"], P: inputs["P"])
        return (module, fixture)
    }

    /// `(T, B, F)` ↔ `(B, T, F)`.
    private func swapFirstTwo(_ t: Tensor) -> Tensor {
        let (a, b, f) = (t.shape[0], t.shape[1], t.shape[2])
        let s = t.scalars
        var out = [Float](repeating: 0, count: s.count)
        for i in 0..<a { for j in 0..<b { for k in 0..<f { out[(j * a + i) * f + k] = s[(i * b + j) * f + k] } } }
        return Tensor(shape: [b, a, f], scalars: out)
    }

    /// The time steps of `(T, B, F)` in reverse order.
    private func reversedSteps(_ t: Tensor) -> Tensor {
        let (T, row) = (t.shape[0], t.shape[1] * t.shape[2])
        let s = t.scalars
        var out = [Float](repeating: 0, count: s.count)
        for i in 0..<T { for k in 0..<row { out[i * row + k] = s[(T - 1 - i) * row + k] } }
        return Tensor(shape: t.shape, scalars: out)
    }

    /// ONNX's `Y` `(T, D, B, H)` as the module's output `(T, B, D·H)`.
    private func moduleLayout(_ y: Tensor) -> Tensor {
        let (T, D, B, H) = (y.shape[0], y.shape[1], y.shape[2], y.shape[3])
        let s = y.scalars
        var out = [Float](repeating: 0, count: s.count)
        for t in 0..<T { for d in 0..<D { for b in 0..<B { for j in 0..<H {
            out[(t * B + b) * D * H + d * H + j] = s[((t * D + d) * B + b) * H + j]
        } } } }
        return Tensor(shape: [T, B, D * H], scalars: out)
    }

    /// Runs the fixture's input through the module (sequence or batch first) and compares Y, Y_h, Y_c.
    private func checkForward(_ name: String, batchFirst: Bool, reverseOnly: Bool = false) throws {
        let (module, fixture) = try loaded(name, batchFirst: batchFirst)
        let inputs = fixture.tensors("inputs"), outputs = fixture.tensors("outputs")
        var x = try XCTUnwrap(inputs["X"])
        if reverseOnly { x = reversedSteps(x) }       // ONNX direction "reverse": our forward over the reversed steps
        if batchFirst { x = swapFirstTwo(x) }
        let lengths = (fixture.config["lengths"] as? [Int])
        let h0 = try XCTUnwrap(inputs["initial_h"])
        let (y, hN, cN) = try module.forward(x, h0: h0, c0: inputs["initial_c"], lengths: lengths)
        var expected = moduleLayout(try XCTUnwrap(outputs["Y"]))
        if reverseOnly { expected = reversedSteps(expected) }
        assertClose(batchFirst ? swapFirstTwo(y) : y, expected, rtol: 1e-5, atol: 2e-6, "\(name) Y")
        assertClose(hN, outputs["Y_h"], rtol: 1e-5, atol: 2e-6, "\(name) Y_h")
        if let yc = outputs["Y_c"] { assertClose(cN, yc, rtol: 1e-5, atol: 2e-6, "\(name) Y_c") }
    }

    func testLSTMWithPeepholesMatchesONNXRuntime() throws {
        for batchFirst in [false, true] {
            try checkForward("lstm_peephole", batchFirst: batchFirst)
            try checkForward("lstm_peephole_bidirectional_lengths", batchFirst: batchFirst)
        }
    }

    func testPlainLSTMLoadsFromONNXLayout() throws {
        try checkForward("lstm_plain_reverse", batchFirst: false, reverseOnly: true)
    }

    func testGRUWithResetBeforeProductMatchesONNXRuntime() throws {
        for batchFirst in [false, true] {
            try checkForward("gru_reset_before", batchFirst: batchFirst)
            try checkForward("gru_reset_before_bidirectional_lengths", batchFirst: batchFirst)
        }
    }

    func testGRUWithResetAfterProductMatchesONNXRuntime() throws {
        try checkForward("gru_reset_after", batchFirst: false)
        try checkForward("gru_reset_after_bidirectional_lengths", batchFirst: true)
    }

    /// The loader rejects what does not fit and then leaves the module as it was.
    func testLoaderChecksShapesAndOptions() throws {
        let (module, fixture) = try loaded("lstm_peephole")
        let inputs = fixture.tensors("inputs")
        let before = module.parameters().map(\.scalars)
        let W = try XCTUnwrap(inputs["W"]), R = try XCTUnwrap(inputs["R"]), B = try XCTUnwrap(inputs["B"])
        let P = try XCTUnwrap(inputs["P"])
        let bad = Tensor(zeros: [1, 24, 5])
        XCTAssertThrowsError(try module.loadONNXWeights(layer: 0, W: bad, R: R, B: B, P: P))
        XCTAssertThrowsError(try module.loadONNXWeights(layer: 0, W: W, R: W, B: B, P: P))
        XCTAssertThrowsError(try module.loadONNXWeights(layer: 0, W: W, R: R, B: Tensor(zeros: [1, 24]), P: P))
        XCTAssertThrowsError(try module.loadONNXWeights(layer: 0, W: W, R: R, B: B, P: Tensor(zeros: [1, 6])))
        XCTAssertThrowsError(try module.loadONNXWeights(layer: 1, W: W, R: R, B: B, P: P))
        XCTAssertThrowsError(try module.loadONNXWeights(layer: 0, W: W, R: R, B: B, P: P, linearBeforeReset: true))
        let plain = try LSTM(inputSize: 4, hiddenSize: 6)
        XCTAssertThrowsError(try plain.loadONNXWeights(layer: 0, W: W, R: R, B: B, P: P))
        let noBias = try LSTM(inputSize: 4, hiddenSize: 6, bias: false, peepholes: true)
        XCTAssertThrowsError(try noBias.loadONNXWeights(layer: 0, W: W, R: R, B: B, P: P))
        let gru = try GRU(inputSize: 4, hiddenSize: 8, resetAfter: false)
        XCTAssertThrowsError(try gru.loadONNXWeights(layer: 0, W: Tensor(zeros: [1, 24, 4]), R: Tensor(zeros: [1, 24, 8]),
                                                     linearBeforeReset: true))
        XCTAssertEqual(module.parameters().map(\.scalars), before)
    }

    /// A two-layer stack loads layer by layer: the second layer reads `D · H` features.
    func testSecondLayerTakesTheFirstLayersOutput() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, peepholes: true, seed: 2)
        XCTAssertThrowsError(try lstm.loadONNXWeights(layer: 1, W: Tensor(zeros: [2, 16, 3]), R: Tensor(zeros: [2, 16, 4])))
        try lstm.loadONNXWeights(layer: 1, W: Tensor(zeros: [2, 16, 8]), R: Tensor(zeros: [2, 16, 4]))
        let state = Dictionary(uniqueKeysWithValues: lstm.namedParameters().map { ($0.name, $0.parameter) })
        XCTAssertEqual(state["weight_ih_l1_reverse"]?.scalars, [Float](repeating: 0, count: 128))
        XCTAssertEqual(state["weight_p_l1"]?.scalars, [Float](repeating: 0, count: 12))
        XCTAssertEqual(state["weight_p_l0_reverse"]?.shape, [3, 4])
    }

    // MARK: - Gradients

    /// Every gradient of a small bidirectional two-layer module with lengths, against central
    /// differences in Float (the library's tensors are Float; step and tolerances for that).
    private func checkGradients(_ module: RecurrentBase, batchFirst: Bool) throws {
        let (T, B) = (4, 3)
        var generator = SeededGenerator(seed: 11)
        let D = module.numDirections, L = module.numLayers, H = module.hiddenSize
        let x = Tensor(uniform: batchFirst ? [B, T, module.inputSize] : [T, B, module.inputSize], low: -1, high: 1, using: &generator)
        let h0 = Tensor(uniform: [D * L, B, H], low: -0.5, high: 0.5, using: &generator)
        let c0 = Tensor(uniform: [D * L, B, H], low: -0.5, high: 0.5, using: &generator)
        let w = Tensor(uniform: batchFirst ? [B, T, D * H] : [T, B, D * H], low: -1, high: 1, using: &generator)
        let wh = Tensor(uniform: [D * L, B, H], low: -1, high: 1, using: &generator)
        let isLSTM = module.kind == .lstm
        let lengths = [4, 2, 3]
        try assertGradientsMatchFiniteDifferences([x, h0] + (isLSTM ? [c0] : []) + module.parameters(), step: 1e-2, rtol: 2e-2, atol: 1e-3) {
            let (y, hN, cN) = try module.forward(x, h0: h0, c0: isLSTM ? c0 : nil, lengths: lengths)
            var loss = (y * w).sum() + (hN * wh).sum()
            if let cN { loss = loss + (cN * wh).sum() }
            return loss
        }
    }

    func testLSTMWithPeepholesGradientsMatchFiniteDifferences() throws {
        try checkGradients(LSTM(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, peepholes: true, seed: 3), batchFirst: false)
        try checkGradients(LSTM(inputSize: 2, hiddenSize: 3, batchFirst: true, peepholes: true, seed: 4), batchFirst: true)
    }

    func testGRUWithResetBeforeProductGradientsMatchFiniteDifferences() throws {
        try checkGradients(GRU(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, resetAfter: false, seed: 5), batchFirst: false)
        try checkGradients(GRU(inputSize: 2, hiddenSize: 3, bias: false, batchFirst: true, resetAfter: false, seed: 6), batchFirst: true)
    }
}
