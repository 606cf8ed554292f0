import XCTest
@testable import LinearAlgebra
@testable import Recurrent

/// A bidirectional layer that records is one autograd node (``BidirectionalNode``) whose
/// backward runs both directions (side by side with two threads, where the packed kernels
/// run). Its gradients are checked against a reference that cannot share a bug of the merge:
/// each direction run on its own (its own node, as a unidirectional layer), on copies of the
/// input and initial states, with the engine accumulating the two directions' input
/// gradients itself. The cases run with one thread and with two.
final class BidirectionalNodeTests: XCTestCase {
    /// The layers' sizes (one test sets larger ones).
    private var (T, B, I, H) = (5, 3, 4, 8)

    /// One bidirectional layer under test: its module's forward (`input`, `h0`, `c0` →
    /// output, `h_n`, `c_n`), its parameters, and direction `d` run on its own (input, `h0`,
    /// `c0`, with the module's weights; a node of its own).
    private struct Layer {
        let name: String
        let isLSTM: Bool
        let forward: (Tensor, Tensor?, Tensor?) throws -> (output: Tensor, hN: Tensor, cN: Tensor?)
        let parameters: [Tensor]
        let direction: (Int, Tensor, Tensor, Tensor?) -> (output: Tensor, hN: Tensor, cN: Tensor?)
        let nodeName: String
    }

    /// The layers of every path that records through `FusedRecurrence.runDirections`: plain
    /// LSTM, GRU and RNN, a cell variant (GRU with the reset before the product), and the
    /// layer-normalised LSTM and GRU.
    private func layers(batchFirst: Bool, lengths: [Int]?) throws -> [Layer] {
        let layout = SequenceLayout(steps: T, batch: B, batchFirst: batchFirst)
        var result: [Layer] = []
        func plain(_ name: String, _ module: RecurrentBase, nodeName: String) {
            result.append(Layer(
                name: name, isLSTM: module.kind == .lstm,
                forward: { try module.forwardLayers($0, h0: $1, c0: $2, lengths: lengths) },
                parameters: module.parameters(),
                direction: { d, x, h0, c0 in
                    if module.runsVariantPath {
                        var variant = module.baseVariant
                        variant.peepholes = module.weights[0][d].peepholes
                        return FusedVariantRecurrence.run(kind: module.kind, input: x, layout: layout, reverse: d == 1, h0: h0,
                                                          c0: c0, weights: module.weights[0][d], variant: variant, lengths: lengths)
                    }
                    return FusedRecurrence.run(kind: module.kind, input: x, layout: layout, reverse: d == 1, h0: h0, c0: c0,
                                               weights: module.weights[0][d], lengths: lengths)
                },
                nodeName: nodeName))
        }
        plain("LSTM", try LSTM(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: true, seed: 1),
              nodeName: "lstmBidirectionalBackward")
        plain("GRU", try GRU(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: true, seed: 2),
              nodeName: "gruBidirectionalBackward")
        plain("RNN", try RNN(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: true, seed: 3),
              nodeName: "rnnTanhBidirectionalBackward")
        plain("GRU reset before", try GRU(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: true,
                                          resetAfter: false, seed: 4),
              nodeName: "gruResetBeforeBidirectionalBackward")
        plain("LSTM peepholes", try LSTM(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: true,
                                         peepholes: true, seed: 5),
              nodeName: "lstmPeepholeBidirectionalBackward")
        for lstm in [true, false] {
            let module: LayerNormRecurrentBase = lstm
                ? try LayerNormLSTM(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: true, seed: 6)
                : try LayerNormGRU(inputSize: I, hiddenSize: H, batchFirst: batchFirst, bidirectional: true, seed: 7)
            result.append(Layer(
                name: lstm ? "LayerNormLSTM" : "LayerNormGRU", isLSTM: lstm,
                forward: { try module.forwardLayers($0, h0: $1, c0: $2, lengths: lengths) },
                parameters: module.parameters(),
                direction: { d, x, h0, c0 in
                    LayerNormRecurrence.run(kind: lstm ? .lstm : .gru, input: x, layout: layout, reverse: d == 1, h0: h0, c0: c0,
                                            weights: module.weights[0][d], lengths: lengths)
                },
                nodeName: lstm ? "layerNormLSTMBidirectionalBackward" : "layerNormGRUBidirectionalBackward"))
        }
        return result
    }

    /// What the loss reaches.
    private struct Uses {
        /// The loss reads `h_n` (and `c_n`), not only the output.
        var finalStates = true
        /// `h0` (and `c0`) are given and require gradients.
        var initialStates = true
        /// The input also feeds another operation, and its gradient already holds a value
        /// from an earlier backward pass.
        var inputElsewhere = false
    }

    /// The input, `h0`, `c0` and parameter gradients of `layer` as one node and as two
    /// (the reference); asserts they agree and returns the one node's.
    @discardableResult
    private func compare(_ layer: Layer, batchFirst: Bool, uses: Uses, _ what: String,
                         file: StaticString = #filePath, line: UInt = #line) throws -> [[Float]] {
        var generator = SeededGenerator(seed: 11)
        let xShape = batchFirst ? [B, T, I] : [T, B, I], yHalf = batchFirst ? [B, T, H] : [T, B, H]
        let xValues = Tensor(uniform: xShape, low: -1, high: 1, using: &generator).scalars
        let h0Values = Tensor(uniform: [2, B, H], low: -0.5, high: 0.5, using: &generator).scalars
        let c0Values = Tensor(uniform: [2, B, H], low: -0.5, high: 0.5, using: &generator).scalars
        let wy = (0..<2).map { _ in Tensor(uniform: yHalf, low: -1, high: 1, using: &generator).scalars }
        let vh = Tensor(uniform: [2, B, H], low: -1, high: 1, using: &generator).scalars
        let vc = Tensor(uniform: [2, B, H], low: -1, high: 1, using: &generator).scalars
        let earlierGrad = Tensor(uniform: xShape, low: -1, high: 1, using: &generator)
        let half = B * H
        func halfOf(_ values: [Float], _ d: Int) -> [Float] { Array(values[d * half..<(d + 1) * half]) }
        // The output's weights: each row's first H features weigh the first direction's.
        var wyFull: [Float] = []
        for row in 0..<(wy[0].count / H) {
            let columns = row * H..<(row + 1) * H
            wyFull.append(contentsOf: wy[0][columns])
            wyFull.append(contentsOf: wy[1][columns])
        }

        func leaf(_ shape: [Int], _ values: [Float], grad: Bool = true) -> Tensor {
            Tensor(shape: shape, scalars: values, requiresGrad: grad)
        }
        func prepareInput(_ x: Tensor) -> Tensor {
            if uses.inputElsewhere { x.grad = Tensor(shape: xShape, scalars: earlierGrad.scalars) }
            return x
        }
        func otherUse(_ x: Tensor) -> Tensor? { uses.inputElsewhere ? (x * x).sum() : nil }
        for p in layer.parameters { p.grad = nil }

        // One node.
        let x = prepareInput(leaf(xShape, xValues))
        let h0 = uses.initialStates ? leaf([2, B, H], h0Values) : nil
        let c0 = uses.initialStates && layer.isLSTM ? leaf([2, B, H], c0Values) : nil
        let (y, hN, cN) = try layer.forward(x, h0, c0)
        var loss = (y * leaf(y.shape, wyFull, grad: false)).sum()
        if uses.finalStates {
            loss = loss + (hN * leaf([2, B, H], vh, grad: false)).sum()
            if let cN { loss = loss + (cN * leaf([2, B, H], vc, grad: false)).sum() }
        }
        if let other = otherUse(x) { loss = loss + other }
        loss.backward()
        var merged = [try XCTUnwrap(x.grad, file: file, line: line).scalars]
        if let h0 { merged.append(try XCTUnwrap(h0.grad, file: file, line: line).scalars) }
        if let c0 { merged.append(try XCTUnwrap(c0.grad, file: file, line: line).scalars) }
        for p in layer.parameters { merged.append(p.grad?.scalars ?? []); p.grad = nil }

        // Each direction its own node.
        let xr = prepareInput(leaf(xShape, xValues))
        let h0r = (0..<2).map { leaf([B, H], halfOf(h0Values, $0), grad: uses.initialStates) }
        let c0r: [Tensor?] = (0..<2).map { layer.isLSTM ? leaf([B, H], halfOf(c0Values, $0), grad: uses.initialStates) : nil }
        if !uses.initialStates {
            for t in h0r { t.storage.pointer.update(repeating: 0, count: t.count) }
            for t in c0r.compactMap({ $0 }) { t.storage.pointer.update(repeating: 0, count: t.count) }
        }
        var referenceLoss: Tensor?
        for d in 0..<2 {
            let (yd, hd, cd) = layer.direction(d, xr, h0r[d], c0r[d])
            var term = (yd * leaf(yHalf, wy[d], grad: false)).sum()
            if uses.finalStates {
                term = term + (hd * leaf([B, H], halfOf(vh, d), grad: false)).sum()
                if let cd { term = term + (cd * leaf([B, H], halfOf(vc, d), grad: false)).sum() }
            }
            referenceLoss = referenceLoss.map { $0 + term } ?? term
        }
        if let other = otherUse(xr) { referenceLoss = referenceLoss! + other }
        referenceLoss!.backward()
        var reference = [try XCTUnwrap(xr.grad, file: file, line: line).scalars]
        if uses.initialStates {
            reference.append(try h0r.flatMap { try XCTUnwrap($0.grad, file: file, line: line).scalars })
            if layer.isLSTM { reference.append(try c0r.flatMap { try XCTUnwrap($0?.grad, file: file, line: line).scalars }) }
        }
        for p in layer.parameters { reference.append(p.grad?.scalars ?? []); p.grad = nil }

        XCTAssertEqual(merged.count, reference.count, what, file: file, line: line)
        for (k, (a, b)) in zip(merged, reference).enumerated() {
            XCTAssertEqual(a.count, b.count, "\(what): gradient \(k)", file: file, line: line)
            XCTAssertTrue(a.allSatisfy(\.isFinite) && !a.allSatisfy { $0 == 0 }, "\(what): gradient \(k) is zero or not finite",
                          file: file, line: line)
            let worst = zip(a, b).map { abs($0 - $1) / (1e-4 + abs($1)) }.max() ?? 0
            XCTAssertLessThan(worst, 1e-3, "\(what): gradient \(k) differs from the two-node reference", file: file, line: line)
        }
        return merged
    }

    /// Runs `body` with one thread and with two (where the packed kernels run, the directions
    /// of these small layers then run side by side, forward and backward).
    private func forOneAndTwoThreads(_ body: (Int) throws -> Void) throws {
        let saved = ComputeThreads.count
        defer { ComputeThreads.set(saved) }
        for threads in [1, 2] {
            ComputeThreads.set(threads)
            let layout = SequenceLayout(steps: T, batch: B, batchFirst: false)
            let lstm = try LSTM(inputSize: I, hiddenSize: H, bidirectional: true, seed: 1)
            let layerNorm = try LayerNormGRU(inputSize: I, hiddenSize: H, bidirectional: true, seed: 1)
            XCTAssertEqual(FusedRecurrence.directionsRunTogether(kind: .lstm, layout: layout, weights: lstm.weights[0]),
                           threads == 2 && PackedGEMM.isAvailable)
            XCTAssertEqual(LayerNormRecurrence.directionsRunTogether(kind: .gru, batch: B, weights: layerNorm.weights[0]),
                           threads == 2 && PackedGEMM.isAvailable)
            try body(threads)
        }
    }

    /// The layer's input also feeds `x * x`, and its gradient already holds an earlier
    /// backward's: the node adds both directions' gradients to what the slot holds.
    func testInputThatFeedsAnotherOperationGetsBothDirectionsGradients() throws {
        try forOneAndTwoThreads { threads in
            for batchFirst in [false, true] {
                for layer in try layers(batchFirst: batchFirst, lengths: nil) {
                    try compare(layer, batchFirst: batchFirst, uses: Uses(inputElsewhere: true),
                                "\(layer.name), batchFirst \(batchFirst), \(threads) threads")
                }
            }
        }
    }

    /// Layers large enough for the backward's packed sequence-wide products (RNN, the smallest:
    /// `T·B·H·I` multiply-adds for `dW_ih` reach ``FusedRecurrence/packedBackwardMultiplyAdds``):
    /// the two directions share one packed copy of the input
    /// (``InputGradientOrder/Turn/packedInput(count:)``), packed by the direction that asks
    /// first, side by side or one after the other.
    func testLayersLargeEnoughToShareThePackedInput() throws {
        (T, B, I, H) = (32, 16, 128, 64)
        XCTAssertGreaterThanOrEqual(T * B * H * I, FusedRecurrence.packedBackwardMultiplyAdds)
        try forOneAndTwoThreads { threads in
            for layer in try layers(batchFirst: true, lengths: nil) where !layer.name.hasPrefix("LayerNorm") {
                try compare(layer, batchFirst: true, uses: Uses(inputElsewhere: true), "\(layer.name), \(threads) threads")
            }
        }
    }

    /// Only the output reaches the loss: the node's `h_n` (and `c_n`) gradients are `nil`.
    /// Without initial states.
    func testOnlyTheOutputUsed() throws {
        try forOneAndTwoThreads { threads in
            for layer in try layers(batchFirst: false, lengths: [5, 2, 4]) {
                try compare(layer, batchFirst: false, uses: Uses(finalStates: false, initialStates: false),
                            "\(layer.name), \(threads) threads")
            }
        }
    }

    /// `h0` (and `c0`) are given and require gradients; with and without lengths.
    func testInitialStatesWithGradients() throws {
        try forOneAndTwoThreads { threads in
            for (batchFirst, lengths) in [(true, [3, 5, 1]), (false, nil)] as [(Bool, [Int]?)] {
                for layer in try layers(batchFirst: batchFirst, lengths: lengths) {
                    try compare(layer, batchFirst: batchFirst, uses: Uses(),
                                "\(layer.name), batchFirst \(batchFirst), lengths \(lengths != nil), \(threads) threads")
                }
            }
        }
    }

    /// One direction's outputs get no gradient at all (only the first direction's `h_n` is
    /// used): the input's gradient is the first direction's alone, bit for bit, as with the
    /// first direction run on its own.
    func testADirectionWithoutGradientsLeavesTheOthersBits() throws {
        let module = try LSTM(inputSize: I, hiddenSize: H, bidirectional: true, seed: 1)
        let layout = SequenceLayout(steps: T, batch: B, batchFirst: false)
        var generator = SeededGenerator(seed: 3)
        let values = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator).scalars
        try forOneAndTwoThreads { threads in
            let x = Tensor(shape: [T, B, I], scalars: values, requiresGrad: true)
            let zeros = Tensor(zeros: [B, H])
            let results = FusedRecurrence.runDirections(kind: .lstm, input: x, layout: layout, h0: [zeros, zeros],
                                                        c0: [zeros, zeros], weights: module.weights[0], lengths: nil)
            XCTAssertTrue(results[0].hN.gradFn === results[1].output.gradFn)
            results[0].hN.sum().backward()
            let xr = Tensor(shape: [T, B, I], scalars: values, requiresGrad: true)
            let reference = FusedRecurrence.run(kind: .lstm, input: xr, layout: layout, reverse: false, h0: zeros, c0: zeros,
                                                weights: module.weights[0][0], lengths: nil)
            reference.hN.sum().backward()
            let a = try XCTUnwrap(x.grad).scalars, b = try XCTUnwrap(xr.grad).scalars
            XCTAssertFalse(a.allSatisfy { $0 == 0 })
            XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "\(threads) threads")
            for p in module.parameters() { p.grad = nil }
        }
    }

    /// A recorded bidirectional layer is one node, named after its cell, whose inputs list
    /// the layer's input once and each direction's states and weights; both directions'
    /// outputs are its outputs. Two layers: two such nodes, and no per-direction node.
    func testOneNodePerBidirectionalLayer() throws {
        try forOneAndTwoThreads { threads in
            for layer in try layers(batchFirst: false, lengths: nil) {
                let x = Tensor(zeros: [T, B, I], value: 0.25, requiresGrad: true)
                let (y, _, _) = try layer.forward(x, nil, nil)
                let nodes = Node.postorder(from: try XCTUnwrap(y.gradFn))
                let layerNodes = nodes.filter { $0.name.hasSuffix("BidirectionalBackward") }
                XCTAssertEqual(layerNodes.map(\.name), [layer.nodeName], "\(layer.name), \(threads) threads")
                XCTAssertFalse(nodes.contains { $0.name.hasSuffix("ReverseBackward") }, layer.name)
                let node = try XCTUnwrap(layerNodes.first)
                XCTAssertEqual(node.inputs.filter { $0 === x }.count, 1, layer.name)
                XCTAssertTrue(node.inputs[0] === x, layer.name)
                // Per direction: h0, (c0), then the weights and norms' parameters; no tensor twice.
                let perDirection = 1 + (layer.isLSTM ? 1 : 0) + layer.parameters.count / 2
                XCTAssertEqual(node.inputs.count, 1 + 2 * perDirection, layer.name)
                XCTAssertEqual(Set(node.inputs.map(ObjectIdentifier.init)).count, node.inputs.count, layer.name)
                for p in layer.parameters { XCTAssertTrue(node.inputs.contains { $0 === p }, layer.name) }
                XCTAssertEqual(node.otherCounts.count + 1, layer.isLSTM ? 6 : 4, layer.name)
            }
        }
        let stacked = try GRU(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 9)
        let x = Tensor(zeros: [T, B, I], value: 0.5, requiresGrad: true)
        let (y, _) = try stacked(x)
        let names = Node.postorder(from: try XCTUnwrap(y.gradFn)).map(\.name)
        XCTAssertEqual(names.filter { $0 == "gruBidirectionalBackward" }.count, 2, "\(names)")
        XCTAssertFalse(names.contains("gruBackward") || names.contains("gruReverseBackward"), "\(names)")
    }

    /// The merged backward hands the second direction the real slot of the layer's input,
    /// after the first direction has added its part (the directions' order), a zeroed scratch
    /// buffer for any other input both read (a tied weight), the real slot for its own inputs,
    /// `nil` where no gradient is needed, and its own outputs' gradients; the scratch ends up
    /// added into its slot, on top of what it held and the first direction's part. With
    /// directions that stand in for the layer's (so that the pointers can be checked), side by
    /// side and not.
    func testTheSecondDirectionAddsIntoTheInputsGradientAfterTheFirst() throws {
        let saved = ComputeThreads.count
        defer { ComputeThreads.set(saved) }
        for (threads, together) in [(2, true), (1, true), (2, false)] {
            ComputeThreads.set(threads)
            let turn = InputGradientOrder.Turn()
            let firstOrder = InputGradientOrder(turn: turn, isFirst: true), secondOrder = InputGradientOrder(turn: turn, isFirst: false)
            let slot = UnsafeMutablePointer<Float>.allocate(capacity: 3), tied = UnsafeMutablePointer<Float>.allocate(capacity: 2)
            slot.initialize(repeating: 1, count: 3)
            tied.initialize(repeating: 1, count: 2)
            let own0 = UnsafeMutablePointer<Float>.allocate(capacity: 1), own1 = UnsafeMutablePointer<Float>.allocate(capacity: 1)
            own0.initialize(to: 0)
            own1.initialize(to: 0)
            let gradA = UnsafeMutablePointer<Float>.allocate(capacity: 1), gradB = UnsafeMutablePointer<Float>.allocate(capacity: 1)
            gradA.initialize(to: 2)
            gradB.initialize(to: 3)
            defer { for p in [slot, tied, own0, own1, gradA, gradB] { p.deallocate() } }
            var secondSaw: [UnsafeMutablePointer<Float>?] = []
            var secondStart: [Float] = [], tiedStart: [Float] = []
            var secondOutputs: [UnsafePointer<Float>?] = []
            // First: input, own, tied; second: input, own (no gradient), tied, own.
            BidirectionalNode.backward(
                gradOutputs: [UnsafePointer(gradA), nil, nil, UnsafePointer(gradB)], gradInputs: [slot, own0, tied, nil, own1],
                firstInputs: 3, firstOutputs: 2, secondSlots: [0, 3, 2, 4], sharedCounts: [nil, nil, 2, nil], together: together,
                turn: turn,
                first: { gradOutputs, gradInputs in
                    usleep(2000)        // the second, side by side, must wait for this
                    for i in 0..<3 { gradInputs[0]![i] += 10 * gradOutputs[0]![0] }
                    firstOrder.finishTurn()
                    gradInputs[1]![0] += 1
                    for i in 0..<2 { gradInputs[2]![i] += 5 }
                },
                second: { gradOutputs, gradInputs in
                    secondSaw = gradInputs
                    secondOutputs = gradOutputs
                    tiedStart = (0..<2).map { gradInputs[2]![$0] }
                    for i in 0..<2 { gradInputs[2]![i] += 7 }
                    gradInputs[3]![0] += 1
                    secondOrder.waitForTurn()
                    secondStart = (0..<3).map { gradInputs[0]![$0] }
                    for i in 0..<3 { gradInputs[0]![i] += 100 * gradOutputs[1]![0] }
                })
            let what = "\(threads) threads, together \(together)"
            XCTAssertEqual(secondSaw.count, 4, what)
            XCTAssertEqual(secondSaw.first ?? nil, slot, what)
            XCTAssertNil(secondSaw.count > 1 ? secondSaw[1] : slot, what)
            XCTAssertNotNil(secondSaw.count > 2 ? secondSaw[2] : nil, what)
            XCTAssertNotEqual(secondSaw.count > 2 ? secondSaw[2] : tied, tied, what)
            XCTAssertEqual(secondSaw.last ?? nil, own1, what)
            XCTAssertEqual(secondStart, [21, 21, 21], what)
            XCTAssertEqual(tiedStart, [0, 0], what)
            XCTAssertEqual(secondOutputs.count, 2, what)
            XCTAssertNil(secondOutputs.first ?? gradA, what)
            XCTAssertEqual((0..<3).map { slot[$0] }, [321, 321, 321], what)
            XCTAssertEqual((0..<2).map { tied[$0] }, [13, 13], what)
            XCTAssertEqual(own0.pointee, 1, what)
            XCTAssertEqual(own1.pointee, 1, what)
        }
    }

    /// A direction that does not run (none of its outputs got a gradient) does not hold the
    /// other up: the second direction's wait returns at once when the first does not run, in
    /// every call of the node.
    func testTheSecondDirectionRunsAloneWhenTheFirstHasNoGradient() throws {
        let turn = InputGradientOrder.Turn()
        let secondOrder = InputGradientOrder(turn: turn, isFirst: false)
        let slot = UnsafeMutablePointer<Float>.allocate(capacity: 1), gradB = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        slot.initialize(to: 1)
        gradB.initialize(to: 3)
        defer { slot.deallocate(); gradB.deallocate() }
        var firstRan = false
        for _ in 0..<2 {
            BidirectionalNode.backward(
                gradOutputs: [nil, UnsafePointer(gradB)], gradInputs: [slot], firstInputs: 1, firstOutputs: 1,
                secondSlots: [0], sharedCounts: [nil], together: true, turn: turn,
                first: { _, _ in firstRan = true },
                second: { gradOutputs, gradInputs in
                    secondOrder.waitForTurn()
                    gradInputs[0]![0] += gradOutputs[0]![0]
                })
        }
        XCTAssertFalse(firstRan)
        XCTAssertEqual(slot.pointee, 7)
    }

    /// The gradients have the same bits under anomaly detection (directions one after the
    /// other) as without it (side by side with two threads).
    func testAnomalyModeKeepsTheBits() throws {
        let saved = ComputeThreads.count
        defer { ComputeThreads.set(saved) }
        ComputeThreads.set(2)
        for layer in try layers(batchFirst: true, lengths: [5, 1, 3]) {
            let plain = try compare(layer, batchFirst: true, uses: Uses(inputElsewhere: true), layer.name)
            let detected = try AnomalyMode.detect {
                try compare(layer, batchFirst: true, uses: Uses(inputElsewhere: true), "\(layer.name), anomaly mode")
            }
            XCTAssertEqual(plain.count, detected.count)
            for (a, b) in zip(plain, detected) {
                XCTAssertTrue(a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }, layer.name)
            }
        }
    }
}
