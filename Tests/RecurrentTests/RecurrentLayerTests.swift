import XCTest
@testable import Recurrent

/// A user-defined cell, as the ``RecurrentCell`` documentation shows it:
/// `h' = tanh(W_x x + b_x + W_h h)`, two `Linear` layers and a `tanh`.
final class MinimalTanhCell: Module, RecurrentCell, @unchecked Sendable {
    let input: Linear
    let recurrent: Linear
    let inputSize: Int
    let hiddenSize: Int

    init(inputSize: Int, hiddenSize: Int, seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        input = try Linear(inFeatures: inputSize, outFeatures: hiddenSize, using: &generator)
        recurrent = try Linear(inFeatures: hiddenSize, outFeatures: hiddenSize, bias: false, using: &generator)
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        super.init()
    }

    func zeroState(batchSize: Int) -> Tensor { Tensor(zeros: [batchSize, hiddenSize]) }

    func step(_ x: Tensor, _ h: Tensor) throws -> (output: Tensor, state: Tensor) {
        let next = (try input(x) + recurrent(h)).tanh()
        return (next, next)
    }
}

/// A user-defined cell with a two-tensor state (a leaky integrator and its running sum),
/// to check that every tensor of a custom state is carried past a sequence's end.
struct LeakyState: RecurrentState {
    var h: Tensor
    var total: Tensor
    init(tensors: [Tensor]) { h = tensors[0]; total = tensors[1] }
    var tensors: [Tensor] { [h, total] }
}

final class LeakyCell: Module, RecurrentCell, @unchecked Sendable {
    let input: Linear
    let inputSize: Int
    let hiddenSize: Int

    init(inputSize: Int, hiddenSize: Int, seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed)
        input = try Linear(inFeatures: inputSize, outFeatures: hiddenSize, using: &generator)
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        super.init()
    }

    func zeroState(batchSize: Int) -> LeakyState {
        LeakyState(tensors: [Tensor(zeros: [batchSize, hiddenSize]), Tensor(zeros: [batchSize, hiddenSize])])
    }

    func step(_ x: Tensor, _ s: LeakyState) throws -> (output: Tensor, state: LeakyState) {
        let h = (0.5 * s.h + (try input(x)).tanh())
        return (h + s.total, LeakyState(tensors: [h, s.total + h]))
    }
}

/// The generic ``RecurrentLayer`` against the fused modules (same weights, same numbers,
/// same gradients), and user-defined cells in it.
final class RecurrentLayerTests: XCTestCase {
    typealias Kit = RecurrentTestKit

    /// `weight_ih_l1_reverse` → `reverseCells.1.weight_ih`.
    static func layerName(forFused name: String) -> String {
        var base = name
        let reverse = base.hasSuffix("_reverse")
        if reverse { base.removeLast("_reverse".count) }
        let marker = base.range(of: "_l", options: .backwards)!
        return "\(reverse ? "reverseCells" : "cells").\(base[marker.upperBound...]).\(base[..<marker.lowerBound])"
    }

    /// Builds a `RecurrentLayer` of `Cell`s with the fused module's weights and checks outputs,
    /// final states and every gradient.
    func assertLayerMatchesFused<Cell: RecurrentCell>(
        _ kind: Kit.Kind, layers: Int, bidirectional: Bool, batchFirst: Bool, lengths: [Int]?, withState: Bool,
        makeCell: (_ inputSize: Int, _ hiddenSize: Int) throws -> Cell,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let what = "\(Cell.self) layers \(layers) bidirectional \(bidirectional) batchFirst \(batchFirst) lengths \(String(describing: lengths))"
        let fused = try Kit.make(kind, inputSize: 3, hiddenSize: 4, numLayers: layers, batchFirst: batchFirst,
                                 bidirectional: bidirectional, seed: 31)
        let D = fused.numDirections, H = fused.hiddenSize
        let cells = try (0..<layers).map { try makeCell($0 == 0 ? 3 : D * H, H) }
        let reverseCells = bidirectional ? try (0..<layers).map { try makeCell($0 == 0 ? 3 : D * H, H) } : []
        let layer = try RecurrentLayer(cells: cells, reverseCells: reverseCells, batchFirst: batchFirst)
        var dict: [String: Tensor] = [:]
        for (name, p) in fused.namedParameters() { dict[Self.layerName(forFused: name)] = p.detached() }
        try layer.loadStateDict(dict)   // strict: every name maps

        let B = 4, T = 5
        let x = Kit.random(Kit.inputShape(fused, batch: B, steps: T), seed: 1, requiresGrad: true)
        let h0 = Kit.random(Kit.stateShape(fused, batch: B), seed: 2, requiresGrad: true)
        let c0 = Kit.random(Kit.stateShape(fused, batch: B, cell: true), seed: 3, requiresGrad: true)
        let isLSTM = fused is LSTM
        let r = try Kit.run(fused, x, h0: withState ? h0 : nil, c0: withState && isLSTM ? c0 : nil, lengths: lengths)
        Kit.loss(r).backward()

        let x2 = Kit.leaf(x), h02 = Kit.leaf(h0), c02 = Kit.leaf(c0)
        let initial = try withState ? (0..<(layers * D)).map { i in
            try Cell.State(tensors: [h02.select(dim: 0, index: i)] + (isLSTM ? [c02.select(dim: 0, index: i)] : []))
        } : nil
        let (output, finals) = try layer(x2, initialStates: initial, lengths: lengths)
        XCTAssertEqual(finals.count, layers * D, file: file, line: line)
        let hN = try Tensor.stack(finals.map { $0.tensors[0] }, dim: 0)
        let cN = isLSTM ? try Tensor.stack(finals.map { $0.tensors[1] }, dim: 0) : nil
        Kit.loss((output, hN, cN)).backward()

        assertClose(output, r.output, rtol: 1e-5, atol: 1e-6, "\(what): output", file: file, line: line)
        assertClose(hN, r.hN, rtol: 1e-5, atol: 1e-6, "\(what): h_n", file: file, line: line)
        if let cN { assertClose(cN, r.cN, rtol: 1e-5, atol: 1e-6, "\(what): c_n", file: file, line: line) }
        assertClose(x2.grad, x.grad, rtol: 1e-4, atol: 1e-6, "\(what): input gradient", file: file, line: line)
        if withState {
            assertClose(h02.grad, h0.grad, rtol: 1e-4, atol: 1e-6, "\(what): h0 gradient", file: file, line: line)
            if isLSTM { assertClose(c02.grad, c0.grad, rtol: 1e-4, atol: 1e-6, "\(what): c0 gradient", file: file, line: line) }
        }
        let layerParams = Dictionary(uniqueKeysWithValues: layer.namedParameters().map { ($0.name, $0.parameter) })
        XCTAssertEqual(layerParams.count, fused.namedParameters().count, file: file, line: line)
        for (name, p) in fused.namedParameters() {
            assertClose(layerParams[Self.layerName(forFused: name)]?.grad, p.grad, rtol: 1e-4, atol: 1e-5,
                        "\(what): gradient of \(name)", file: file, line: line)
        }
    }

    func forEachConfiguration(_ body: (_ layers: Int, _ bidirectional: Bool, _ batchFirst: Bool, _ lengths: [Int]?, _ withState: Bool) throws -> Void) rethrows {
        try body(1, false, false, nil, true)
        try body(2, true, false, nil, true)
        try body(2, true, true, [3, 5, 1, 4], true)
        try body(2, false, true, [2, 5, 5, 1], false)
        try body(1, true, false, [4, 1, 2, 5], false)
        // Batch first, every item every step, with a state: a plain RNN reads h_{t−1} back
        // from the outputs of both directions, and h0 for each item's first step.
        try body(2, true, true, nil, true)
    }

    func testRNNCellLayerMatchesFusedRNN() throws {
        try forEachConfiguration { layers, bidirectional, batchFirst, lengths, withState in
            try assertLayerMatchesFused(.rnnTanh, layers: layers, bidirectional: bidirectional, batchFirst: batchFirst,
                                        lengths: lengths, withState: withState) { try RNNCell(inputSize: $0, hiddenSize: $1) }
        }
        try assertLayerMatchesFused(.rnnReLU, layers: 2, bidirectional: true, batchFirst: false, lengths: [3, 5, 1, 4],
                                    withState: true) { try RNNCell(inputSize: $0, hiddenSize: $1, nonlinearity: .relu) }
        for batchFirst in [false, true] {
            try assertLayerMatchesFused(.rnnReLU, layers: 2, bidirectional: true, batchFirst: batchFirst, lengths: nil,
                                        withState: true) { try RNNCell(inputSize: $0, hiddenSize: $1, nonlinearity: .relu) }
        }
    }

    func testLSTMCellLayerMatchesFusedLSTM() throws {
        try forEachConfiguration { layers, bidirectional, batchFirst, lengths, withState in
            try assertLayerMatchesFused(.lstm, layers: layers, bidirectional: bidirectional, batchFirst: batchFirst,
                                        lengths: lengths, withState: withState) { try LSTMCell(inputSize: $0, hiddenSize: $1) }
        }
    }

    func testGRUCellLayerMatchesFusedGRU() throws {
        try forEachConfiguration { layers, bidirectional, batchFirst, lengths, withState in
            try assertLayerMatchesFused(.gru, layers: layers, bidirectional: bidirectional, batchFirst: batchFirst,
                                        lengths: lengths, withState: withState) { try GRUCell(inputSize: $0, hiddenSize: $1) }
        }
    }

    func testLayerParameterNames() throws {
        let layer = try RecurrentLayer(cells: [try GRUCell(inputSize: 3, hiddenSize: 4), try GRUCell(inputSize: 8, hiddenSize: 4)],
                                       reverseCells: [try GRUCell(inputSize: 3, hiddenSize: 4), try GRUCell(inputSize: 8, hiddenSize: 4)])
        XCTAssertEqual(layer.stateDictKeys, [
            "cells.0.weight_ih", "cells.0.weight_hh", "cells.0.bias_ih", "cells.0.bias_hh",
            "cells.1.weight_ih", "cells.1.weight_hh", "cells.1.bias_ih", "cells.1.bias_hh",
            "reverseCells.0.weight_ih", "reverseCells.0.weight_hh", "reverseCells.0.bias_ih", "reverseCells.0.bias_hh",
            "reverseCells.1.weight_ih", "reverseCells.1.weight_hh", "reverseCells.1.bias_ih", "reverseCells.1.bias_hh",
        ])
        XCTAssertEqual(Self.layerName(forFused: "weight_hr_l12_reverse"), "reverseCells.12.weight_hr")
        XCTAssertEqual(Self.layerName(forFused: "bias_hh_l0"), "cells.0.bias_hh")
    }

    // MARK: - User-defined cells

    func userLayer(layers: Int, bidirectional: Bool, batchFirst: Bool = false) throws -> RecurrentLayer<MinimalTanhCell> {
        let D = bidirectional ? 2 : 1
        var seed: UInt64 = 40
        func cell(_ l: Int) throws -> MinimalTanhCell {
            seed += 1
            return try MinimalTanhCell(inputSize: l == 0 ? 2 : D * 3, hiddenSize: 3, seed: seed)
        }
        return try RecurrentLayer(cells: (0..<layers).map(cell), reverseCells: bidirectional ? (0..<layers).map(cell) : [],
                                  batchFirst: batchFirst)
    }

    func testUserDefinedCellGradients() throws {
        for (layers, bidirectional, batchFirst, lengths) in [(1, false, false, nil), (2, true, false, nil),
                                                             (2, true, true, [3, 1] as [Int]?), (3, false, true, [2, 3])] {
            let layer = try userLayer(layers: layers, bidirectional: bidirectional, batchFirst: batchFirst)
            let D = bidirectional ? 2 : 1
            let x = Kit.random(batchFirst ? [2, 3, 2] : [3, 2, 2], seed: 5)
            let h0 = Kit.random([layers * D, 2, 3], seed: 6)
            XCTAssertEqual(layer.parameters().count, 3 * layers * D)
            XCTAssertEqual(layer.stateDictKeys.first, "cells.0.input.weight")
            try assertGradientsMatchFiniteDifferences([x, h0] + layer.parameters()) {
                let states = try (0..<(layers * D)).map { try h0.select(dim: 0, index: $0) }
                let (output, finals) = try layer(x, initialStates: states, lengths: lengths)
                XCTAssertEqual(output.shape, batchFirst ? [2, 3, D * 3] : [3, 2, D * 3])
                return Kit.weighted(output, seed: 7) + Kit.weighted(try Tensor.stack(finals, dim: 0), seed: 8)
            }
        }
    }

    /// The minimal cell is an Elman RNN with `b_hh = 0`: with those weights the fused RNN
    /// gives the same numbers, multi-layer, bidirectional and with lengths.
    func testUserDefinedCellMatchesFusedRNN() throws {
        let layer = try userLayer(layers: 2, bidirectional: true)
        let rnn = try RNN(inputSize: 2, hiddenSize: 3, numLayers: 2, bidirectional: true, seed: 1)
        let params = Dictionary(uniqueKeysWithValues: layer.namedParameters().map { ($0.name, $0.parameter) })
        var dict: [String: Tensor] = [:]
        for name in rnn.stateDictKeys {
            let cellName = Self.layerName(forFused: name)
            let prefix = cellName.components(separatedBy: ".").prefix(2).joined(separator: ".")
            switch name.prefix(7) {
            case "weight_" where name.hasPrefix("weight_ih"): dict[name] = params[prefix + ".input.weight"]!.detached()
            case "weight_": dict[name] = params[prefix + ".recurrent.weight"]!.detached()
            case "bias_ih": dict[name] = params[prefix + ".input.bias"]!.detached()
            default: dict[name] = Tensor(zeros: [3])
            }
        }
        try rnn.loadStateDict(dict)
        let x = Kit.random([4, 3, 2], seed: 9)
        let lengths = [2, 4, 1]
        let (output, finals) = try layer(x, lengths: lengths)
        let (expected, hN) = try rnn(x, lengths: lengths)
        assertClose(output, expected, rtol: 1e-5, atol: 1e-6)
        assertClose(try Tensor.stack(finals, dim: 0), hN, rtol: 1e-5, atol: 1e-6)
    }

    /// Every tensor of a multi-tensor custom state is carried unchanged past a sequence's end.
    func testCustomStateWithLengthsEqualsRunningAlone() throws {
        let layer = try RecurrentLayer(cells: [LeakyCell(inputSize: 2, hiddenSize: 3, seed: 1)],
                                       reverseCells: [LeakyCell(inputSize: 2, hiddenSize: 3, seed: 2)])
        let x = Kit.random([4, 3, 2], seed: 3)
        let lengths = [2, 4, 1]
        let (output, finals) = try layer(x, lengths: lengths)
        for (b, len) in lengths.enumerated() {
            let xb = try x.narrow(dim: 1, start: b, length: 1).narrow(dim: 0, start: 0, length: len)
            let (ob, fb) = try layer(xb)
            assertClose(try output.narrow(dim: 1, start: b, length: 1).narrow(dim: 0, start: 0, length: len), ob, rtol: 1e-5, atol: 1e-6)
            for (s, sb) in zip(finals, fb) {
                for (t, tb) in zip(s.tensors, sb.tensors) {
                    assertClose(try t.narrow(dim: 0, start: b, length: 1), tb, rtol: 1e-5, atol: 1e-6)
                }
            }
        }
        let x2 = Kit.random([3, 2, 2], seed: 4)
        try assertGradientsMatchFiniteDifferences([x2] + layer.parameters()) {
            let (o, f) = try layer(x2, lengths: [3, 2])
            return Kit.weighted(o, seed: 1) + Kit.weighted(f[1].total, seed: 2) + Kit.weighted(f[0].h, seed: 3)
        }
    }

    func testLayerErrors() throws {
        Kit.assertThrows(["at least one cell"]) { _ = try RecurrentLayer<GRUCell>(cells: []) }
        Kit.assertThrows(["layer 1 expects input size 4", "has 3"]) {
            _ = try RecurrentLayer(cells: [try GRUCell(inputSize: 2, hiddenSize: 4), try GRUCell(inputSize: 3, hiddenSize: 4)])
        }
        Kit.assertThrows(["expected 2 reverse cells", "got 1"]) {
            _ = try RecurrentLayer(cells: [try GRUCell(inputSize: 2, hiddenSize: 4), try GRUCell(inputSize: 4, hiddenSize: 4)],
                                   reverseCells: [try GRUCell(inputSize: 2, hiddenSize: 4)])
        }
        Kit.assertThrows(["reverse cell of layer 0", "input size 2 and hidden size 4", "got 3 and 4"]) {
            _ = try RecurrentLayer(cells: [try GRUCell(inputSize: 2, hiddenSize: 4)], reverseCells: [try GRUCell(inputSize: 3, hiddenSize: 4)])
        }
        Kit.assertThrows(["reverse cell of layer 1", "input size 8 and hidden size 4", "got 8 and 5"]) {
            _ = try RecurrentLayer(cells: [try GRUCell(inputSize: 2, hiddenSize: 4), try GRUCell(inputSize: 8, hiddenSize: 4)],
                                   reverseCells: [try GRUCell(inputSize: 2, hiddenSize: 4), try GRUCell(inputSize: 8, hiddenSize: 5)])
        }
        Kit.assertThrows(["dropout in [0, 1]", "got 2"]) {
            _ = try RecurrentLayer(cells: [try GRUCell(inputSize: 2, hiddenSize: 4)], dropout: 2)
        }
        let layer = try userLayer(layers: 2, bidirectional: true)
        let x = Kit.random([3, 2, 2], seed: 1)
        Kit.assertThrows(["rank 3 with 2 features", "[3, 2, 3]"]) { _ = try layer(Tensor(zeros: [3, 2, 3])) }
        Kit.assertThrows(["rank 3 with 2 features", "[3, 2]"]) { _ = try layer(Tensor(zeros: [3, 2])) }
        Kit.assertThrows(["expected 4 initial states", "got 2"]) { _ = try layer(x, initialStates: [Tensor(zeros: [2, 3]), Tensor(zeros: [2, 3])]) }
        Kit.assertThrows(["expected 2 lengths", "got 3"]) { _ = try layer(x, lengths: [1, 2, 3]) }
        Kit.assertThrows(["1...3", "got 0"]) { _ = try layer(x, lengths: [0, 2]) }
        Kit.assertThrows(["1...3", "got 4"]) { _ = try layer(x, lengths: [4, 2]) }
        Kit.assertThrows(["sequence length to be larger than 0", "[0, 2, 2]"]) { _ = try layer(Tensor(zeros: [0, 2, 2])) }
        // An empty batch is fine.
        XCTAssertEqual(try layer(Tensor(zeros: [3, 0, 2])).output.shape, [3, 0, 6])
        XCTAssertEqual(try layer(x).output.shape, [3, 2, 6])
    }

    func testLayerDropout() throws {
        let saved = RandomState.state
        defer { RandomState.state = saved }
        RandomState.manualSeed(3)
        let cells = try [MinimalTanhCell(inputSize: 2, hiddenSize: 5, seed: 1), MinimalTanhCell(inputSize: 5, hiddenSize: 5, seed: 2)]
        let dropped = try RecurrentLayer(cells: cells, dropout: 0.5)
        let plain = try RecurrentLayer(cells: cells)
        let x = Kit.random([4, 3, 2], seed: 1)
        let train = try dropped(x).output
        XCTAssertNotEqual(train.scalars, try plain(x).output.scalars)
        XCTAssertFalse(train.scalars.contains(0))
        dropped.eval()
        XCTAssertEqual(try dropped(x).output.scalars, try plain(x).output.scalars)
    }
}
