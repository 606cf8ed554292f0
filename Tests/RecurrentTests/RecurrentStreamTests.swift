import XCTest
@testable import Recurrent

/// `RecurrentStream`: step-by-step (and chunked) inference equals the module over the
/// whole sequence, for every kind, several layers, projections and batches.
final class RecurrentStreamTests: XCTestCase {
    typealias Kit = RecurrentTestKit

    /// Streams `x` (batch first, `(B, T, I)`) one step at a time and compares every output
    /// step and the final states with one module call.
    func checkStepwise(_ kind: Kit.Kind, layers: Int, batch: Int, steps: Int = 5,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Kit.make(kind, inputSize: 4, hiddenSize: 6, numLayers: layers, batchFirst: true, seed: 11)
        let x = Kit.random([batch, steps, 4], seed: 12)
        let expected = try withoutGradients { try Kit.run(m, x) }
        let stream = try RecurrentStream(m, batchSize: batch)
        let Hr = m.outputHiddenSize
        var outputs = [Float](repeating: 0, count: batch * steps * Hr)
        let xs = x.scalars
        for t in 0..<steps {
            var step = [Float]()
            for b in 0..<batch { step += xs[(b * steps + t) * 4 ..< (b * steps + t + 1) * 4] }
            let h = try step.withUnsafeBufferPointer { try stream.step($0) }
            XCTAssertEqual(h.count, batch * Hr)
            for b in 0..<batch {
                for j in 0..<Hr { outputs[(b * steps + t) * Hr + j] = h[b * Hr + j] }
            }
        }
        let name = "\(kind) layers \(layers) batch \(batch)"
        assertClose(outputs, expected.output.scalars, rtol: 1e-5, atol: 1e-6, "\(name) output", file: file, line: line)
        assertClose(stream.hiddenState.scalars, expected.hN.scalars, rtol: 1e-5, atol: 1e-6, "\(name) h", file: file, line: line)
        if let c = expected.cN {
            assertClose(stream.cellState?.scalars ?? [], c.scalars, rtol: 1e-5, atol: 1e-6, "\(name) c", file: file, line: line)
        }
    }

    func testStepByStepEqualsTheModule() throws {
        for kind in Kit.Kind.allCases {
            try checkStepwise(kind, layers: 1, batch: 1)
            try checkStepwise(kind, layers: 2, batch: 1)
            try checkStepwise(kind, layers: 3, batch: 4)
        }
    }

    func testChunksContinueTheState() throws {
        for kind in Kit.Kind.allCases {
            let m = try Kit.make(kind, inputSize: 3, hiddenSize: 5, numLayers: 2, seed: 21)   // sequence first
            let x = Kit.random([7, 2, 3], seed: 22)
            let expected = try withoutGradients { try Kit.run(m, x) }
            let stream = try RecurrentStream(m, batchSize: 2)
            let first = try stream.advance(try x.narrow(dim: 0, start: 0, length: 3))
            let second = try stream.advance(try x.narrow(dim: 0, start: 3, length: 4))
            let joined = try Tensor.cat([first, second], dim: 0)
            assertClose(joined.scalars, expected.output.scalars, rtol: 1e-5, atol: 1e-6, "\(kind) chunks")
            assertClose(stream.hiddenState.scalars, expected.hN.scalars, rtol: 1e-5, atol: 1e-6, "\(kind) h")
        }
    }

    /// Two tensor steps of `x` from zero state differ; after `reset()` (every state zero) the
    /// first step's output comes again, which the stream is left after.
    static func checkReset(_ stream: RecurrentStreamBase, input x: Tensor, outputSize: Int,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let first = try stream.step(x)
        XCTAssertEqual(first.shape, [outputSize], file: file, line: line)
        let second = try stream.step(x)
        XCTAssertNotEqual(first.scalars, second.scalars, file: file, line: line)
        stream.reset()
        let state = stream.hiddenState
        XCTAssertEqual(state.scalars, [Float](repeating: 0, count: state.shape.reduce(1, *)), file: file, line: line)
        if let cell = stream.cellState {
            XCTAssertEqual(cell.scalars, [Float](repeating: 0, count: cell.shape.reduce(1, *)), file: file, line: line)
        }
        XCTAssertEqual(try stream.step(x).scalars, first.scalars, file: file, line: line)
    }

    func testTensorStepResetAndSetState() throws {
        let rnn = try RNN(inputSize: 3, hiddenSize: 4, seed: 5)
        let stream = try RecurrentStream(rnn)
        let x = Kit.random([3], seed: 6)
        try Self.checkReset(stream, input: x, outputSize: 4)
        // Restarting from a module's final state continues that sequence.
        let seq = Kit.random([4, 1, 3], seed: 7)
        let (_, hN) = try withoutGradients { try rnn(seq) }
        try stream.setState(hidden: hN)
        let next = try stream.step(x)
        let (full, _) = try withoutGradients { try rnn(Tensor.cat([seq, try x.reshaped([1, 1, 3])], dim: 0)) }
        assertClose(next.scalars, Array(full.scalars.suffix(4)), rtol: 1e-5, atol: 1e-6, "continued")
    }

    func testRejectsBidirectionalAndBadInput() throws {
        let bi = try RNN(inputSize: 3, hiddenSize: 4, bidirectional: true)
        XCTAssertThrowsError(try RecurrentStream(bi))
        let stream = try RecurrentStream(try RNN(inputSize: 3, hiddenSize: 4), batchSize: 2)
        XCTAssertThrowsError(try [Float](repeating: 0, count: 5).withUnsafeBufferPointer { try stream.step($0) }) { error in
            XCTAssertTrue("\(error)".contains("6"), "\(error)")
        }
        XCTAssertThrowsError(try stream.step(Tensor(zeros: [3, 3])))
        XCTAssertThrowsError(try stream.setState(hidden: Tensor(zeros: [1, 1, 4])))
        // An RNN has no cell state: a cell tensor is refused, and the state stays as it was.
        let before = stream.hiddenState.scalars
        XCTAssertThrowsError(try stream.setState(hidden: Tensor(zeros: [1, 2, 4]).affine(scale: 1, shift: 1),
                                                 cell: Tensor(zeros: [1, 2, 4]))) { error in
            XCTAssertTrue("\(error)".contains("no cell state"), "\(error)")
        }
        XCTAssertEqual(stream.hiddenState.scalars, before)
    }

    /// An LSTM stream given only a hidden state keeps its cell state.
    func testLSTMHiddenOnlyKeepsTheCellState() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, seed: 8)
        let stream = try RecurrentStream(lstm)
        _ = try stream.step(Kit.random([3], seed: 9))
        let cell = try XCTUnwrap(stream.cellState).scalars
        XCTAssertTrue(cell.contains { $0 != 0 })
        try stream.setState(hidden: Tensor(zeros: [1, 1, 4]))
        XCTAssertEqual(stream.hiddenState.scalars, [0, 0, 0, 0])
        XCTAssertEqual(try XCTUnwrap(stream.cellState).scalars, cell)
        stream.reset()
        XCTAssertEqual(try XCTUnwrap(stream.cellState).scalars, [0, 0, 0, 0])
    }

    /// The stream follows its module's weights in place (training, loading).
    func testFollowsWeightUpdates() throws {
        let rnn = try RNN(inputSize: 2, hiddenSize: 3, seed: 9)
        let stream = try RecurrentStream(rnn)
        let x = Kit.random([2], seed: 10)
        let before = try stream.step(x).scalars
        stream.reset()
        rnn.parameters()[0].withUnsafeMutableBufferPointer { p in for i in p.indices { p[i] *= 2 } }
        XCTAssertNotEqual(try stream.step(x).scalars, before)
    }
}
