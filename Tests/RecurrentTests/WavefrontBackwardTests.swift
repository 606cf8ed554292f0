import XCTest
import LinearAlgebra
@testable import Recurrent

/// The backward of stacked layers that ran as a forward wavefront (``WavefrontNode``): one
/// autograd node per group, whose backward runs the layers' BPTT as a wavefront in reverse
/// time (or one after the other), with every gradient bit-identical to the layers' own nodes
/// run one after the other on one thread.
final class WavefrontBackwardTests: ThreadSettingsTestCase {

    /// The input width of every test module.
    private let inputSize = 12

    /// Steps for `batch` items so that the layers above the first hand their `dX` down packed
    /// (``WavefrontNode/handOffPlan(layout:gates:inputs:)``: at least 2²² multiply-adds).
    private func steps(batch: Int, hidden: Int, gates: Int) -> Int {
        let rows = (FusedRecurrence.packedBackwardMultiplyAdds + gates * hidden * hidden - 1) / (gates * hidden * hidden)
        return Swift.max(2, (rows + 8 + batch - 1) / batch)
    }

    /// A forward and backward of `module`: the output, final states, and the gradients of the
    /// input, of `h0`/`c0` (when `statesRequireGradients`) and of every parameter. The loss
    /// weighs the output and sums the final states of every layer, so that each intermediate
    /// layer's `h_n` gets a gradient from outside the group (with `onlyStateOf`, the `h_n` of
    /// that layer only, and no `c_n`).
    private func everything(_ module: RecurrentBase, batch B: Int, steps T: Int, lengths: [Int]?,
                            statesRequireGradients: Bool, onlyStateOf: Int? = nil) throws -> [[Float]] {
        let batchFirst = module.batchFirst
        var generator = SeededGenerator(seed: 21)
        let x = Tensor(uniform: batchFirst ? [B, T, inputSize] : [T, B, inputSize], low: -1, high: 1, using: &generator)
        x.requiresGrad = true
        let h0 = Tensor(uniform: [module.numLayers, B, module.hiddenSize], low: -0.5, high: 0.5, using: &generator)
        let c0 = Tensor(uniform: [module.numLayers, B, module.hiddenSize], low: -0.5, high: 0.5, using: &generator)
        h0.requiresGrad = statesRequireGradients
        c0.requiresGrad = statesRequireGradients
        let weights = Tensor(uniform: batchFirst ? [B, T, module.hiddenSize] : [T, B, module.hiddenSize], low: -1, high: 1,
                             using: &generator)
        var results: [[Float]] = []
        let loss: Tensor
        func states(_ h: Tensor, _ c: Tensor?) throws -> Tensor {
            guard let l = onlyStateOf else { return c.map { h.sum() + $0.sum() } ?? h.sum() }
            return try h.select(dim: 0, index: l).sum()
        }
        if let lstm = module as? LSTM {
            let (y, state) = try lstm(x, LSTMState(h: h0, c: c0), lengths: lengths)
            results += [y.scalars, state.h.scalars, state.c.scalars]
            loss = (y * weights).sum() + (try states(state.h, state.c))
        } else if let gru = module as? GRU {
            let (y, hN) = try gru(x, h0, lengths: lengths)
            results += [y.scalars, hN.scalars]
            loss = (y * weights).sum() + (try states(hN, nil))
        } else {
            let rnn = try XCTUnwrap(module as? RNN)
            let (y, hN) = try rnn(x, h0, lengths: lengths)
            results += [y.scalars, hN.scalars]
            loss = (y * weights).sum() + (try states(hN, nil))
        }
        loss.backward()
        results.append(try XCTUnwrap(x.grad).scalars)
        if statesRequireGradients {
            results.append(try XCTUnwrap(h0.grad).scalars)
            if module is LSTM { results.append(try XCTUnwrap(c0.grad).scalars) }
        }
        for p in module.parameters() { results.append(try XCTUnwrap(p.grad).scalars) }
        return results
    }

    /// Runs `make`'s module (`(batchFirst) → module`) over batches of 1 to 4 items, both
    /// layouts, with and without lengths (the states requiring gradients or not): first with
    /// one node per layer on one thread (no wavefront at all), then with the forward wavefront
    /// forced and the backward's wavefront forced on and by policy (off), on 1, 2 and 4
    /// threads. Every result must have the reference's bits; the shapes must take the backward's
    /// hand-off.
    private func check(_ name: String, gates: Int, hidden: Int, _ make: (Bool) throws -> RecurrentBase,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        for batch in 1...4 {
            let T = steps(batch: batch, hidden: hidden, gates: gates)
            for batchFirst in [false, true] {
                let layout = SequenceLayout(steps: T, batch: batch, batchFirst: batchFirst)
                XCTAssertNotNil(WavefrontNode.handOffPlan(layout: layout, gates: gates * hidden, inputs: hidden),
                                "\(name): \(batch) × \(T) hands no dX down", file: file, line: line)
                for lengths in [nil, (0..<batch).map { $0 == 0 ? T : 1 + ($0 * 7) % T }] as [[Int]?] {
                    let statesRequireGradients = lengths == nil || batch % 2 == 0
                    func run() throws -> [[Float]] {
                        try everything(try make(batchFirst), batch: batch, steps: T, lengths: lengths,
                                       statesRequireGradients: statesRequireGradients)
                    }
                    WavefrontRecurrence.override = false
                    WavefrontNode.override = false
                    ComputeThreads.set(1)
                    let reference = try run()
                    XCTAssertTrue(reference.allSatisfy { $0.allSatisfy(\.isFinite) }, name, file: file, line: line)
                    WavefrontRecurrence.override = true
                    for threads in [1, 2, 4] {
                        ComputeThreads.set(threads)
                        for backward in threads == 1 ? [true] : [true, nil] as [Bool?] {   // nil: the policy, layer after layer
                            WavefrontNode.override = backward
                            assertBitIdentical(try run(), reference,
                                               "\(name), \(batch) × \(T), batchFirst \(batchFirst), lengths \(lengths != nil), "
                                                   + "states \(statesRequireGradients), \(threads) threads, backward wavefront \(String(describing: backward))",
                                               file: file, line: line)
                        }
                    }
                }
            }
        }
    }

    func testLSTMBackwardAsAWavefrontIsBitIdentical() throws {
        try check("LSTM, 2 layers", gates: 4, hidden: 64) {
            try LSTM(inputSize: self.inputSize, hiddenSize: 64, numLayers: 2, batchFirst: $0, seed: 4)
        }
        try check("LSTM, 3 layers", gates: 4, hidden: 64) {
            try LSTM(inputSize: self.inputSize, hiddenSize: 64, numLayers: 3, batchFirst: $0, seed: 4)
        }
    }

    func testGRUBackwardAsAWavefrontIsBitIdentical() throws {
        try check("GRU, 2 layers", gates: 3, hidden: 64) {
            try GRU(inputSize: self.inputSize, hiddenSize: 64, numLayers: 2, batchFirst: $0, seed: 4)
        }
        try check("GRU, 3 layers", gates: 3, hidden: 64) {
            try GRU(inputSize: self.inputSize, hiddenSize: 64, numLayers: 3, batchFirst: $0, seed: 4)
        }
    }

    func testRNNBackwardAsAWavefrontIsBitIdentical() throws {
        try check("RNN tanh, 2 layers", gates: 1, hidden: 128) {
            try RNN(inputSize: self.inputSize, hiddenSize: 128, numLayers: 2, batchFirst: $0, seed: 4)
        }
        try check("RNN relu, 3 layers", gates: 1, hidden: 128) {
            try RNN(inputSize: self.inputSize, hiddenSize: 128, numLayers: 3, nonlinearity: .relu, batchFirst: $0, seed: 4)
        }
    }

    /// Only one layer's `h_n` (an intermediate one's, or the top's) gets a gradient from
    /// outside besides the output: the same bits as the per-layer backward.
    func testGradientOfOneLayersFinalStateOnly() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        let batch = 2, T = steps(batch: 2, hidden: 64, gates: 4)
        for layer in 0..<3 {
            func run() throws -> [[Float]] {
                try everything(try LSTM(inputSize: inputSize, hiddenSize: 64, numLayers: 3, seed: 6), batch: batch, steps: T,
                               lengths: nil, statesRequireGradients: true, onlyStateOf: layer)
            }
            WavefrontRecurrence.override = false
            WavefrontNode.override = false
            ComputeThreads.set(1)
            let reference = try run()
            WavefrontRecurrence.override = true
            WavefrontNode.override = true
            ComputeThreads.set(4)
            assertBitIdentical(try run(), reference, "only layer \(layer)'s h_n")
        }
    }

    /// A gradient reaching an intermediate layer's output from outside (only possible below
    /// the module: ``WavefrontRecurrence/run(kind:input:layout:h0:c0:weights:lengths:)``'s
    /// results) is added to what the layer above sends down, with the bits of the layers' own
    /// nodes; and a top layer whose outputs get no gradient leaves the layers below their own.
    func testExternalGradientOfAnIntermediateOutput() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        let lstm = try LSTM(inputSize: inputSize, hiddenSize: 64, numLayers: 3, seed: 9)
        let weights = lstm.weights.map { $0[0] }
        let (B, T) = (3, steps(batch: 3, hidden: 64, gates: 4))
        let layout = SequenceLayout(steps: T, batch: B, batchFirst: false)
        var generator = SeededGenerator(seed: 10)
        let xValues = Tensor(uniform: [T, B, inputSize], low: -1, high: 1, using: &generator)
        let probes = (0..<3).map { _ in Tensor(uniform: [T, B, 64], low: -1, high: 1, using: &generator) }
        for usesTop in [true, false] {
            /// The gradients of the input and every weight for a loss on every layer's output
            /// (the top one's only when `usesTop`), by the wavefront or layer by layer.
            func gradients(wavefront: Bool) throws -> [[Float]] {
                lstm.zeroGrad()
                let x = Tensor(shape: xValues.shape, scalars: xValues.scalars)
                x.requiresGrad = true
                let h0 = (0..<3).map { _ in Tensor(zeros: [B, 64]) }, c0 = (0..<3).map { _ in Tensor(zeros: [B, 64]) as Tensor? }
                var outputs: [Tensor] = []
                if wavefront {
                    outputs = WavefrontRecurrence.run(kind: .lstm, input: x, layout: layout, h0: h0, c0: c0, weights: weights,
                                                      lengths: nil).map(\.output)
                } else {
                    var input = x
                    for l in 0..<3 {
                        input = FusedRecurrence.run(kind: .lstm, input: input, layout: layout, reverse: false, h0: h0[l], c0: c0[l],
                                                    weights: weights[l], lengths: nil).output
                        outputs.append(input)
                    }
                }
                var loss = (outputs[0] * probes[0]).sum() + (outputs[1] * probes[1]).sum()
                if usesTop { loss = loss + (outputs[2] * probes[2]).sum() }
                loss.backward()
                // Without the top layer in the loss, its weights get no gradient from its own
                // node, and zeros from the group's (whose backward runs for the layers below):
                // the same values, as a bidirectional layer's node gives an unused direction.
                return [try XCTUnwrap(x.grad).scalars] + lstm.parameters().map { $0.grad?.scalars ?? [Float](repeating: 0, count: $0.count) }
            }
            WavefrontNode.override = false
            ComputeThreads.set(1)
            let reference = try gradients(wavefront: false)
            WavefrontNode.override = true
            ComputeThreads.set(3)
            assertBitIdentical(try gradients(wavefront: true), reference, "outside gradients, top used \(usesTop)")
        }
    }

    /// One node per wavefront group: its inputs (the group's input, each layer's states and
    /// weights) and outputs (each layer's output, `h_n`, `c_n`, in order); a layer that does
    /// not record is left out, and a layer outside the group keeps its own node.
    func testOneNodePerGroup() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        WavefrontRecurrence.override = true
        let lstm = try LSTM(inputSize: inputSize, hiddenSize: 32, numLayers: 3, seed: 2)
        var generator = SeededGenerator(seed: 3)
        let x = Tensor(uniform: [9, 2, inputSize], low: -1, high: 1, using: &generator)
        x.requiresGrad = true
        ComputeThreads.set(4)
        let (y, state) = try lstm(x)
        let node = try XCTUnwrap(y.gradFn)
        XCTAssertEqual(node.name, "lstmWavefrontBackward")
        XCTAssertEqual(node.inputs.count, 1 + 3 * 6)
        XCTAssertTrue(node.inputs[0] === x)
        for l in 0..<3 {
            for (k, w) in lstm.weights[l][0].tensors.enumerated() { XCTAssertTrue(node.inputs[1 + 6 * l + 2 + k] === w, "layer \(l) weight \(k)") }
        }
        XCTAssertEqual(y.outputIndex, 6)
        XCTAssertEqual(node.otherCounts.count, 8)
        XCTAssertEqual(state.h.shape, [3, 2, 32])
        // Each layer's output, h_n and c_n, in order: outputs 3l, 3l + 1 and 3l + 2 of the node.
        let results = WavefrontRecurrence.run(kind: .lstm, input: x, layout: SequenceLayout(steps: 9, batch: 2, batchFirst: false),
                                              h0: (0..<3).map { _ in Tensor(zeros: [2, 32]) },
                                              c0: (0..<3).map { _ in Tensor(zeros: [2, 32]) as Tensor? },
                                              weights: lstm.weights.map { $0[0] }, lengths: nil)
        let group3 = try XCTUnwrap(results[0].output.gradFn)
        for (l, result) in results.enumerated() {
            for (k, tensor) in [result.output, result.hN, try XCTUnwrap(result.cN)].enumerated() {
                XCTAssertTrue(tensor.gradFn === group3, "layer \(l), output \(k)")
                XCTAssertEqual(tensor.outputIndex, 3 * l + k)
            }
        }
        XCTAssertEqual(group3.inputs.count, 1 + 3 * 6)
        // Two threads: a group of two layers (one node) and the third layer's own node, whose
        // input is the group's top output.
        ComputeThreads.set(2)
        let (y2, _) = try lstm(x)
        let top = try XCTUnwrap(y2.gradFn)
        XCTAssertEqual(top.name, "lstmBackward")
        let group = try XCTUnwrap(top.inputs[0].gradFn)
        XCTAssertEqual(group.name, "lstmWavefrontBackward")
        XCTAssertEqual(top.inputs[0].outputIndex, 3)
        XCTAssertEqual(group.inputs.count, 1 + 2 * 6)
        // A first layer that does not record (frozen, an input without gradients): the node is
        // the layers above, whose input is the first layer's output.
        let frozen = try LSTM(inputSize: inputSize, hiddenSize: 32, numLayers: 3, seed: 2)
        for w in frozen.weights[0][0].tensors { w.requiresGrad = false }
        ComputeThreads.set(4)
        let (y3, _) = try frozen(Tensor(uniform: [9, 2, inputSize], low: -1, high: 1, using: &generator))
        let upper = try XCTUnwrap(y3.gradFn)
        XCTAssertEqual(upper.name, "lstmWavefrontBackward")
        XCTAssertEqual(upper.inputs.count, 1 + 2 * 6)
        XCTAssertNil(upper.inputs[0].gradFn)
        XCTAssertFalse(upper.inputs[0].requiresGrad)
    }

    /// The hand-off is planned where the `dX` product is packed, not where it runs on OpenBLAS.
    /// (The policy itself leaves the backward layer after layer unless forced: see
    /// ``WavefrontNode/wavefrontPlans(layers:gradOutputs:gradInputs:)``; `check` runs both.)
    func testHandOffPlans() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        let few = SequenceLayout(steps: 100, batch: 4, batchFirst: true)
        XCTAssertNotNil(WavefrontNode.handOffPlan(layout: few, gates: 4 * 256, inputs: 256), "lstm-batch4's second layer")
        XCTAssertNil(WavefrontNode.handOffPlan(layout: SequenceLayout(steps: 7, batch: 2, batchFirst: true), gates: 4 * 32, inputs: 32),
                     "a sequence-wide dX product on OpenBLAS")
    }
}
