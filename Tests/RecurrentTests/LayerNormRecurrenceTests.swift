import LinearAlgebra
import XCTest
@testable import Recurrent

/// The layer-normalised LSTM and GRU against the PyTorch reference modules of
/// `Scripts/layernorm_cells_reference.py` (PyTorch's `LayerNormLSTMCell` and its GRU
/// analogue, computed in Double): outputs, final states, and the gradients of a random
/// weighting of every output with respect to the input, the initial states and every
/// parameter; and the same bits for every thread count.
final class LayerNormRecurrenceTests: XCTestCase {
    private var savedThreads = 1

    override func setUp() { savedThreads = ComputeThreads.count }
    override func tearDown() { ComputeThreads.set(savedThreads) }

    /// The module a fixture describes, with the fixture's parameters loaded.
    static func makeModule(_ f: Fixture) throws -> Module {
        let c = f.config
        let input = c["input_size"] as! Int, hidden = c["hidden_size"] as! Int
        let layers = c["num_layers"] as? Int ?? 1
        let bias = c["bias"] as? Bool ?? true
        let batchFirst = c["batch_first"] as? Bool ?? false
        let bidirectional = c["bidirectional"] as? Bool ?? false
        let module: Module
        switch f["module"] as! String {
        case "LayerNormLSTM":
            module = try LayerNormLSTM(inputSize: input, hiddenSize: hidden, numLayers: layers, bias: bias, batchFirst: batchFirst,
                                       bidirectional: bidirectional, seed: 1)
        case "LayerNormGRU":
            module = try LayerNormGRU(inputSize: input, hiddenSize: hidden, numLayers: layers, bias: bias, batchFirst: batchFirst,
                                      bidirectional: bidirectional, seed: 1)
        case "LayerNormLSTMCell":
            module = try LayerNormLSTMCell(inputSize: input, hiddenSize: hidden, bias: bias, seed: 1)
        case "LayerNormGRUCell":
            module = try LayerNormGRUCell(inputSize: input, hiddenSize: hidden, bias: bias, seed: 1)
        default:
            fatalError("not a layer-norm fixture")
        }
        let parameters = f.tensors("parameters")
        // Every key of PyTorch's state dict names a parameter of the module, and no more.
        XCTAssertEqual(Set(module.namedParameters().map(\.name)), Set(parameters.keys))
        try module.loadStateDict(parameters)
        return module
    }

    /// Runs a fixture's module; its outputs by the fixture's names.
    static func run(_ module: Module, input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?) throws -> [String: Tensor] {
        switch module {
        case let m as LayerNormLSTM:
            let (o, s) = try m(input, h0.map { LSTMState(h: $0, c: c0!) }, lengths: lengths)
            return ["output": o, "h_n": s.h, "c_n": s.c]
        case let m as LayerNormGRU:
            let (o, h) = try m(input, h0, lengths: lengths)
            return ["output": o, "h_n": h]
        case let m as LayerNormLSTMCell:
            let s = try m(input, h0.map { LSTMState(h: $0, c: c0!) })
            return ["h_1": s.h, "c_1": s.c]
        case let m as LayerNormGRUCell:
            return ["h_1": try m(input, h0)]
        default:
            fatalError()
        }
    }

    func check(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try Fixture("layernorm/" + name)
        let module = try Self.makeModule(f)
        let inputs = f.tensors("inputs")
        let input = inputs["input"]!, h0 = inputs["h0"], c0 = inputs["c0"]
        let lengths = f.object("inputs")["lengths"] as? [Int]
        for t in [input, h0, c0].compactMap({ $0 }) { t.requiresGrad = true }
        let outputs = try Self.run(module, input: input, h0: h0, c0: c0, lengths: lengths)
        let expected = f.tensors("outputs"), weights = f.tensors("loss_weights")
        XCTAssertEqual(Set(outputs.keys), Set(expected.keys), name, file: file, line: line)
        var loss: Tensor?
        for (key, value) in expected {
            assertClose(outputs[key], value, rtol: 1e-4, atol: 1e-4, "\(name) \(key)", file: file, line: line)
            let term = (outputs[key]! * weights[key]!).sum()
            loss = loss.map { $0 + term } ?? term
        }
        loss!.backward()
        let params = Dictionary(uniqueKeysWithValues: module.namedParameters().map { ($0.name, $0.parameter as Tensor) })
        let grads = f.tensors("gradients")
        XCTAssertEqual(grads.count, params.count + [input, h0, c0].compactMap { $0 }.count, "\(name): every gradient is checked",
                       file: file, line: line)
        for (key, g) in grads {
            let source: Tensor? = key == "input" ? input : key == "h0" ? h0 : key == "c0" ? c0 : params[key]
            XCTAssertNotNil(source, "\(name): no tensor for gradient \(key)", file: file, line: line)
            assertClose(source?.grad, g, rtol: 1e-3, atol: 2e-4, "\(name) grad \(key)", file: file, line: line)
        }
    }

    static let stackFixtures = ["lstm_basic", "lstm_stack", "lstm_nobias_nostate", "lstm_wide",
                                "gru_basic", "gru_stack", "gru_nobias_nostate"]

    func testLSTMAgainstPyTorch() throws {
        for name in Self.stackFixtures where name.hasPrefix("lstm") { try check(name) }
    }

    func testGRUAgainstPyTorch() throws {
        for name in Self.stackFixtures where name.hasPrefix("gru") { try check(name) }
    }

    func testCellsAgainstPyTorch() throws {
        try check("lstmcell")
        try check("grucell")
    }

    /// The portable kernels (and AVX2 on an AVX-512 machine) agree with PyTorch too.
    func testEveryKernelLevelAgreesWithPyTorch() throws {
        ComputeThreads.set(1)
        for level in CPUCapability.allCases where level <= CPUCapability.current {
            try CPUCapability.withCapability(level) {
                try check("lstm_stack")
                try check("gru_stack")
            }
        }
    }

    /// The loss, the input's gradient and every parameter's gradient for one configuration:
    /// two bidirectional layers with lengths, large enough that a step's product is split
    /// between four workers (``LayerNormRecurrence/teamSize(batch:hidden:gates:)``) and that the
    /// sequence-wide products of the second layer run on the packed kernels.
    private func results(_ kind: CellKind, threads: Int) throws -> [[Float]] {
        ComputeThreads.set(threads)
        let (I, H, T, B) = (16, 64, 12, 64)
        XCTAssertEqual(LayerNormRecurrence.teamSize(batch: B, hidden: H, gates: kind.gateCount),
                       PackedGEMM.isAvailable ? min(threads, 4) : 1)
        XCTAssertGreaterThanOrEqual(T * B * kind.gateCount * H * 2 * H, FusedRecurrence.packedBackwardMultiplyAdds)
        let lengths = (0..<B).map { 1 + ($0 * 5) % T }
        var generator = SeededGenerator(seed: 42)
        let x = Tensor(shape: [B, T, I], scalars: (0..<(B * T * I)).map { _ in Float.random(in: -1...1, using: &generator) })
        x.requiresGrad = true
        let module: Module
        let loss: Tensor
        if kind == .lstm {
            let m = try LayerNormLSTM(inputSize: I, hiddenSize: H, numLayers: 2, batchFirst: true, bidirectional: true, seed: 7)
            let (o, s) = try m(x, lengths: lengths)
            loss = (o * o).sum() + s.h.sum() + (s.c * s.c).sum()
            module = m
        } else {
            let m = try LayerNormGRU(inputSize: I, hiddenSize: H, numLayers: 2, batchFirst: true, bidirectional: true, seed: 7)
            let (o, h) = try m(x, lengths: lengths)
            loss = (o * o).sum() + (h * h).sum()
            module = m
        }
        loss.backward()
        var result = [loss.scalars, x.grad!.scalars]
        for (_, p) in module.namedParameters() { result.append(p.grad!.scalars) }
        return result
    }

    func testResultsDoNotDependOnTheThreadCount() throws {
        for kind in [CellKind.lstm, .gru] {
            let one = try results(kind, threads: 1).map { $0.map(\.bitPattern) }
            for threads in [2, 4] {
                XCTAssertEqual(try results(kind, threads: threads).map { $0.map(\.bitPattern) }, one, "\(kind) with \(threads) threads")
            }
        }
    }

    /// The packed products and vector kernels agree with the portable path (BLAS and plain
    /// loops) at sizes the fixtures do not reach.
    func testKernelLevelsAgreeAtLargerSizes() throws {
        for kind in [CellKind.lstm, .gru] {
            let levels = CPUCapability.allCases.filter { $0 <= CPUCapability.current }
            let all = try levels.map { level in try CPUCapability.withCapability(level) { try results(kind, threads: 2) } }
            for (level, result) in zip(levels.dropFirst(), all.dropFirst()) {
                for (a, b) in zip(result, all[0]) {
                    let scale = b.map(abs).max() ?? 1
                    assertClose(a, b, rtol: 1e-3, atol: 1e-4 * scale, "\(kind) at \(level)")
                }
            }
        }
    }

    /// A whole-sequence module and its cell stepped by hand give the same numbers.
    func testCellStepsMatchTheLayer() throws {
        let (I, H, T, B) = (3, 5, 4, 2)
        let layer = try LayerNormLSTM(inputSize: I, hiddenSize: H, seed: 3)
        let cell = try LayerNormLSTMCell(inputSize: I, hiddenSize: H, seed: 4)
        try cell.loadStateDict(Dictionary(uniqueKeysWithValues: layer.namedParameters().map {
            ($0.name.replacingOccurrences(of: "_l0", with: ""), $0.parameter as Tensor)
        }))
        var generator = SeededGenerator(seed: 5)
        let x = Tensor(shape: [T, B, I], scalars: (0..<(T * B * I)).map { _ in Float.random(in: -1...1, using: &generator) })
        let (output, final) = try layer(x)
        var state = try cell.zeroState(batchSize: B)
        var steps: [Tensor] = []
        for t in 0..<T {
            state = try cell(try x.select(dim: 0, index: t), state)
            steps.append(state.h)
        }
        assertClose(try Tensor.stack(steps, dim: 0), output, rtol: 1e-6, atol: 1e-6)
        assertClose(state.c, try final.c.select(dim: 0, index: 0), rtol: 1e-6, atol: 1e-6)
        // Unbatched input runs as a batch of one.
        let single = try layer(try x.select(dim: 1, index: 0))
        assertClose(single.output, try output.select(dim: 1, index: 0), rtol: 1e-6, atol: 1e-6)
    }

    /// An empty batch runs (as `nn.LSTM`'s), and a second backward through a retained graph
    /// gives the same gradients again (the node does not consume what it saved).
    func testEmptyBatchAndRepeatedBackward() throws {
        let lstm = try LayerNormLSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 2)
        let (empty, emptyState) = try lstm(Tensor(zeros: [5, 0, 3]))
        XCTAssertEqual(empty.shape, [5, 0, 8])
        XCTAssertEqual(emptyState.h.shape, [4, 0, 4])
        let gru = try LayerNormGRU(inputSize: 3, hiddenSize: 4, seed: 3)
        var generator = SeededGenerator(seed: 9)
        let x = Tensor(shape: [4, 2, 3], scalars: (0..<24).map { _ in Float.random(in: -1...1, using: &generator) })
        x.requiresGrad = true
        let (output, _) = try gru(x, lengths: [4, 2])
        let loss = (output * output).sum()
        loss.backward(retainGraph: true)
        let first = x.grad!.scalars
        x.grad = nil
        loss.backward()
        XCTAssertEqual(x.grad!.scalars, first)
        XCTAssertTrue(first.contains { $0 != 0 })
    }

    /// The example of the LayerNormCells article, as written there.
    func testArticleExample() throws {
        var generator = SeededGenerator(seed: 11)
        let x = Tensor(shape: [3, 50, 64], scalars: (0..<(3 * 50 * 64)).map { _ in Float.random(in: -1...1, using: &generator) })
        let lstm = try LayerNormLSTM(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true,
                                     dropout: 0.1, bidirectional: true)
        let (output, state) = try lstm(x, lengths: [50, 31, 12])   // x: (3, 50, 64)
        XCTAssertEqual(output.shape, [3, 50, 256])
        XCTAssertEqual(state.h.shape, [4, 3, 128])
        XCTAssertEqual(state.c.shape, [4, 3, 128])
        let loss = output.sum()
        loss.backward()
        XCTAssertEqual(lstm.namedParameters().first { $0.name == "layernorm_c_l1_reverse.weight" }?.parameter.grad?.shape, [128])
        // Past each length the outputs are zero.
        XCTAssertEqual(try output.select(dim: 0, index: 2).select(dim: 0, index: 12).scalars, [Float](repeating: 0, count: 256))
    }

    func testBadShapesAndSettingsThrow() throws {
        XCTAssertThrowsError(try LayerNormLSTM(inputSize: 0, hiddenSize: 4))
        XCTAssertThrowsError(try LayerNormGRU(inputSize: 2, hiddenSize: 4, dropout: 1.5))
        XCTAssertThrowsError(try LayerNormLSTMCell(inputSize: 2, hiddenSize: 4, eps: -1))
        let lstm = try LayerNormLSTM(inputSize: 3, hiddenSize: 4, numLayers: 2)
        XCTAssertThrowsError(try lstm(Tensor(zeros: [5, 2, 4])))                         // features
        XCTAssertThrowsError(try lstm(Tensor(zeros: [0, 2, 3])))                         // empty sequence
        XCTAssertThrowsError(try lstm(Tensor(zeros: [5, 2, 3]), LSTMState(h: Tensor(zeros: [1, 2, 4]), c: Tensor(zeros: [2, 2, 4]))))
        XCTAssertThrowsError(try lstm(Tensor(zeros: [5, 2, 3]), lengths: [5]))
        XCTAssertThrowsError(try lstm(Tensor(zeros: [5, 2, 3]), lengths: [5, 6]))
        let cell = try LayerNormGRUCell(inputSize: 3, hiddenSize: 4)
        XCTAssertThrowsError(try cell(Tensor(zeros: [2, 3]), Tensor(zeros: [3, 4])))
    }

    func testStateDictNamesAreDocumented() throws {
        let gru = try LayerNormGRU(inputSize: 3, hiddenSize: 4, bidirectional: true)
        XCTAssertEqual(gru.namedParameters().map(\.name), [
            "weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse",
            "layernorm_i_l0.weight", "layernorm_i_l0.bias", "layernorm_h_l0.weight", "layernorm_h_l0.bias",
            "layernorm_i_l0_reverse.weight", "layernorm_i_l0_reverse.bias", "layernorm_h_l0_reverse.weight",
            "layernorm_h_l0_reverse.bias",
        ])
        let cell = try LayerNormLSTMCell(inputSize: 3, hiddenSize: 4, bias: false)
        XCTAssertEqual(cell.namedParameters().map(\.name),
                       ["weight_ih", "weight_hh", "layernorm_i.weight", "layernorm_h.weight", "layernorm_c.weight"])
    }
}
