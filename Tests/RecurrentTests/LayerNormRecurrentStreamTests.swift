import XCTest
@testable import Recurrent

/// `LayerNormRecurrentStream`: step-by-step (and chunked) inference equals `LayerNormLSTM` and
/// `LayerNormGRU` over the whole sequence, for several layers and batches, with random layer
/// norm parameters; resets, state setting and bad inputs behave as `RecurrentStream`'s.
final class LayerNormRecurrentStreamTests: XCTestCase {
    static func random(_ shape: [Int], seed: UInt64) -> Tensor { RecurrentTestKit.random(shape, seed: seed) }

    /// A module whose parameters are all random (the layer norms' weights around 1, shifts
    /// around 0), so that every parameter moves the outputs.
    static func make(lstm: Bool, inputSize: Int, hiddenSize: Int, numLayers: Int, batchFirst: Bool = false,
                     regularizers: RecurrentRegularizers = .none, seed: UInt64) throws -> LayerNormRecurrentBase {
        let module: LayerNormRecurrentBase = lstm
            ? try LayerNormLSTM(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, batchFirst: batchFirst,
                                regularizers: regularizers, seed: seed)
            : try LayerNormGRU(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, batchFirst: batchFirst,
                               regularizers: regularizers, seed: seed)
        var g = SeededGenerator(seed: seed &+ 1)
        for (name, parameter) in module.namedParameters() where name.hasPrefix("layernorm") {
            let offset: Float = name.hasSuffix(".weight") ? 1 : 0
            parameter.withUnsafeMutableBufferPointer { p in
                for i in p.indices { p[i] = offset + Float.random(in: -0.5...0.5, using: &g) }
            }
        }
        return module
    }

    /// The module over `x` from `(h0, c0)`: output, final `h` and (LSTM) `c`.
    static func run(_ module: LayerNormRecurrentBase, _ x: Tensor, h0: Tensor? = nil, c0: Tensor? = nil) throws
        -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        try withoutGradients {
            if let lstm = module as? LayerNormLSTM {
                let state = h0.map { LSTMState(h: $0, c: c0 ?? Tensor(zeros: $0.shape)) }
                let (output, final) = try lstm(x, state)
                return (output, final.h, final.c)
            }
            let gru = try XCTUnwrap(module as? LayerNormGRU)
            let (output, hN) = try gru(x, h0)
            return (output, hN, nil)
        }
    }

    /// Streams `x` (batch first, `(B, T, I)`) one step at a time through raw buffers and
    /// compares every output step and the final states with one module call.
    func checkStepwise(lstm: Bool, layers: Int, batch: Int, steps: Int = 6, regularizers: RecurrentRegularizers = .none,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let I = 5, H = 7
        let m = try Self.make(lstm: lstm, inputSize: I, hiddenSize: H, numLayers: layers, batchFirst: true,
                              regularizers: regularizers, seed: 31)
        m.eval()
        let x = Self.random([batch, steps, I], seed: 32)
        let expected = try Self.run(m, x)
        let stream = try LayerNormRecurrentStream(m, batchSize: batch)
        XCTAssertTrue(stream.module === m)
        var outputs = [Float](repeating: 0, count: batch * steps * H)
        let xs = x.scalars
        for t in 0..<steps {
            var step = [Float]()
            for b in 0..<batch { step += xs[(b * steps + t) * I ..< (b * steps + t + 1) * I] }
            let h = try step.withUnsafeBufferPointer { try stream.step($0) }
            XCTAssertEqual(h.count, batch * H, file: file, line: line)
            for b in 0..<batch {
                for j in 0..<H { outputs[(b * steps + t) * H + j] = h[b * H + j] }
            }
        }
        let name = "\(lstm ? "LSTM" : "GRU") layers \(layers) batch \(batch)"
        assertClose(outputs, expected.output.scalars, rtol: 1e-5, atol: 1e-6, "\(name) output", file: file, line: line)
        assertClose(stream.hiddenState.scalars, expected.hN.scalars, rtol: 1e-5, atol: 1e-6, "\(name) h", file: file, line: line)
        XCTAssertEqual(stream.hiddenState.shape, [layers, batch, H], file: file, line: line)
        if let c = expected.cN {
            XCTAssertEqual(stream.cellState?.shape, [layers, batch, H], file: file, line: line)
            assertClose(stream.cellState?.scalars ?? [], c.scalars, rtol: 1e-5, atol: 1e-6, "\(name) c", file: file, line: line)
        } else {
            XCTAssertNil(stream.cellState, file: file, line: line)
        }
    }

    /// A regularised module streams what it computes in evaluation mode: recurrent dropout
    /// and weight drop off, zoneout its expectation.
    func testRegularisedModuleStreamsItsEvaluation() throws {
        for lstm in [true, false] {
            let r = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.3, zoneoutCell: lstm ? 0.2 : 0, weightDrop: 0.2)
            try checkStepwise(lstm: lstm, layers: 2, batch: 3, regularizers: r)
            try checkStepwise(lstm: lstm, layers: 1, batch: 1, regularizers: RecurrentRegularizers(zoneoutCell: lstm ? 0.5 : 0))
        }
    }

    func testStepByStepEqualsTheModule() throws {
        for lstm in [true, false] {
            try checkStepwise(lstm: lstm, layers: 1, batch: 1)
            try checkStepwise(lstm: lstm, layers: 3, batch: 1)
            try checkStepwise(lstm: lstm, layers: 2, batch: 4)
            try checkStepwise(lstm: lstm, layers: 2, batch: 19)    // more rows than the module's blocks of 16
        }
    }

    /// Chunks of a sequence-first input, one after the other, continue the state; so does a
    /// tensor step after them.
    func testChunksAndTensorStepsContinueTheState() throws {
        for lstm in [true, false] {
            let m = try Self.make(lstm: lstm, inputSize: 3, hiddenSize: 5, numLayers: 2, seed: 41)
            let x = Self.random([8, 3, 3], seed: 42)
            let expected = try Self.run(m, x)
            let stream = try LayerNormRecurrentStream(m, batchSize: 3)
            let first = try stream.advance(try x.narrow(dim: 0, start: 0, length: 3))
            let second = try stream.advance(try x.narrow(dim: 0, start: 3, length: 4))
            let last = try stream.step(try x.narrow(dim: 0, start: 7, length: 1).reshaped([3, 3]))
            XCTAssertEqual(last.shape, [3, 5])
            let joined = try Tensor.cat([first, second, try last.reshaped([1, 3, 5])], dim: 0)
            assertClose(joined.scalars, expected.output.scalars, rtol: 1e-5, atol: 1e-6, "\(lstm) chunks")
            assertClose(stream.hiddenState.scalars, expected.hN.scalars, rtol: 1e-5, atol: 1e-6, "\(lstm) h")
        }
    }

    /// `reset()` starts over from zeros; `setState` from a module call's final state continues
    /// that sequence.
    func testResetAndSetStateContinueTheModule() throws {
        for lstm in [true, false] {
            let m = try Self.make(lstm: lstm, inputSize: 3, hiddenSize: 4, numLayers: 2, seed: 51)
            let stream = try LayerNormRecurrentStream(m)
            let x = Self.random([3], seed: 52)
            try RecurrentStreamTests.checkReset(stream, input: x, outputSize: 4)
            XCTAssertEqual(stream.cellState == nil, !lstm)

            let seq = Self.random([4, 1, 3], seed: 53)
            let head = try Self.run(m, seq)
            try stream.setState(hidden: head.hN, cell: head.cN)
            let next = try stream.step(x)
            let full = try Self.run(m, Tensor.cat([seq, try x.reshaped([1, 1, 3])], dim: 0))
            assertClose(next.scalars, Array(full.output.scalars.suffix(4)), rtol: 1e-5, atol: 1e-6, "\(lstm) continued")
            assertClose(stream.hiddenState.scalars, full.hN.scalars, rtol: 1e-5, atol: 1e-6, "\(lstm) continued h")
        }
    }

    func testRejectsBidirectionalAndBadInput() throws {
        let bi = try LayerNormLSTM(inputSize: 3, hiddenSize: 4, bidirectional: true)
        XCTAssertThrowsError(try LayerNormRecurrentStream(bi)) { error in
            XCTAssertTrue("\(error)".contains("bidirectional"), "\(error)")
        }
        XCTAssertThrowsError(try LayerNormRecurrentStream(try LayerNormGRU(inputSize: 3, hiddenSize: 4, bidirectional: true)))
        let gru = try LayerNormGRU(inputSize: 3, hiddenSize: 4)
        XCTAssertThrowsError(try LayerNormRecurrentStream(gru, batchSize: 0))
        XCTAssertThrowsError(try LayerNormRecurrentStream(gru, batchSize: Int.max / 2)) { error in
            XCTAssertTrue("\(error)".contains("LayerNormRecurrentStream"), "\(error)")
        }
        let stream = try LayerNormRecurrentStream(gru, batchSize: 2)
        _ = try stream.step(Self.random([2, 3], seed: 61))
        let before = stream.hiddenState.scalars
        XCTAssertThrowsError(try [Float](repeating: 0, count: 5).withUnsafeBufferPointer { try stream.step($0) }) { error in
            XCTAssertTrue("\(error)".contains("6"), "\(error)")
        }
        XCTAssertThrowsError(try stream.step(Tensor(zeros: [3, 3])))
        XCTAssertThrowsError(try stream.step(Tensor(zeros: [3])))          // a batch of two needs (2, 3)
        XCTAssertThrowsError(try stream.advance(Tensor(zeros: [4, 3, 3])))
        XCTAssertThrowsError(try stream.setState(hidden: Tensor(zeros: [1, 1, 4])))
        // A GRU has no cell state: a cell tensor is refused.
        XCTAssertThrowsError(try stream.setState(hidden: Tensor(zeros: [1, 2, 4]), cell: Tensor(zeros: [1, 2, 4]))) { error in
            XCTAssertTrue("\(error)".contains("LayerNormGRU stream has no cell state"), "\(error)")
        }
        // Nothing changed on the failed calls.
        XCTAssertEqual(stream.hiddenState.scalars, before)
        let lstmStream = try LayerNormRecurrentStream(try LayerNormLSTM(inputSize: 3, hiddenSize: 4, numLayers: 2))
        XCTAssertThrowsError(try lstmStream.setState(hidden: Tensor(zeros: [2, 1, 4]), cell: Tensor(zeros: [1, 1, 4])))
    }

    /// The stream follows its module's weights in place (training, loading).
    func testFollowsWeightUpdates() throws {
        let m = try Self.make(lstm: true, inputSize: 2, hiddenSize: 3, numLayers: 1, seed: 71)
        let stream = try LayerNormRecurrentStream(m)
        let x = Self.random([2], seed: 72)
        let before = try stream.step(x).scalars
        stream.reset()
        let normC = try XCTUnwrap(m.namedParameters().first { $0.0 == "layernorm_c_l0.weight" }?.1)
        normC.withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= 2 } }
        XCTAssertNotEqual(try stream.step(x).scalars, before)
    }

    /// The streaming example of the LayerNormCells article, as written there (and the
    /// CellsBeyondPyTorch one's constructors), with the results it states.
    func testArticleExamples() throws {
        let lstm = try LayerNormLSTM(inputSize: 64, hiddenSize: 128, numLayers: 2)
        let stream = try LayerNormRecurrentStream(lstm, batchSize: 4)
        let frame = Self.random([4, 64], seed: 81)
        let h = try stream.step(frame)                 // frame: (4, 64) -> h: (4, 128)
        XCTAssertEqual(h.shape, [4, 128])
        let (_, state) = try withoutGradients { try lstm(Self.random([3, 4, 64], seed: 82)) }
        try stream.setState(hidden: state.h, cell: state.c)   // continue a module call's sequence
        XCTAssertEqual(stream.hiddenState.scalars, state.h.scalars)
        XCTAssertEqual(stream.cellState?.scalars, state.c.scalars)

        let small = try LayerNormLSTM(inputSize: 16, hiddenSize: 32, numLayers: 2, batchFirst: true)
        let gru = try LayerNormGRU(inputSize: 16, hiddenSize: 32, bidirectional: true)
        XCTAssertEqual(try LayerNormRecurrentStream(small, batchSize: 4).hiddenState.shape, [2, 4, 32])
        XCTAssertThrowsError(try LayerNormRecurrentStream(gru))
    }
}
