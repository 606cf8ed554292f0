import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// `Embedding` and the embedding lookup behind it (hand-computed forward and backward,
/// padding, errors, state dict, finite differences, the PyTorch fixture), and `argmax`.
final class EmbeddingTests: XCTestCase {
    // MARK: - Helpers

    /// A 4 × 2 embedding whose row `i` is `[10i + 1, 10i + 2]`.
    private func smallEmbedding(paddingIdx: Int? = nil) throws -> Embedding {
        var g = SeededGenerator(seed: 7)
        let e = try Embedding(numEmbeddings: 4, embeddingDim: 2, paddingIdx: paddingIdx, using: &g)
        e.weight.scalars = [1, 2, 11, 12, 21, 22, 31, 32]
        return e
    }

    /// Asserts that `body` throws a `TensorError` of the given kind whose message contains
    /// every string of `fragments`.
    private func assertThrows(_ kind: String, _ fragments: [String], file: StaticString = #filePath, line: UInt = #line,
                              _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard let error = error as? TensorError else { return XCTFail("not a TensorError: \(error)", file: file, line: line) }
            switch (kind, error) {
            case ("shape", .shapeMismatch), ("argument", .invalidArgument): break
            default: XCTFail("expected a \(kind) error, got \(error)", file: file, line: line)
            }
            for fragment in fragments {
                XCTAssertTrue(error.description.contains(fragment), "\"\(fragment)\" not in: \(error)", file: file, line: line)
            }
        }
    }

    // MARK: - Forward and backward by hand

    func testForwardPicksRowsInIndexOrder() throws {
        let e = try smallEmbedding()
        let y = try e([1, 3, 1, 0], shape: [2, 2])
        XCTAssertEqual(y.shape, [2, 2, 2])
        XCTAssertEqual(y.scalars, [11, 12, 31, 32, 11, 12, 1, 2])
        XCTAssertEqual(y.gradFnName, "EmbeddingBackward")

        // A sequence, a batch of sequences, a single index (shape []), an empty batch.
        XCTAssertEqual(try e([2, 0]).shape, [2, 2])
        XCTAssertEqual(try e([2, 0]).scalars, [21, 22, 1, 2])
        let batch = try e([[3, 2, 1], [0, 0, 2]])
        XCTAssertEqual(batch.shape, [2, 3, 2])
        XCTAssertEqual(batch.scalars, [31, 32, 21, 22, 11, 12, 1, 2, 1, 2, 21, 22])
        let single = try e([3], shape: [])
        XCTAssertEqual(single.shape, [2])
        XCTAssertEqual(single.scalars, [31, 32])
        XCTAssertEqual(try e([], shape: [0, 5]).shape, [0, 5, 2])

        // The output is a copy: changing the table later does not change it.
        e.weight.scalars = [Float](repeating: 0, count: 8)
        XCTAssertEqual(y.scalars, [11, 12, 31, 32, 11, 12, 1, 2])
    }

    func testBackwardAccumulatesRepeatedIndices() throws {
        let e = try smallEmbedding()
        // Index 1 three times, 3 once, 0 and 2 never.
        let y = try e([1, 3, 1, 1], shape: [4])
        let seed = Tensor(shape: [4, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
        (y * seed).sum().backward()
        XCTAssertEqual(e.weight.grad?.shape, [4, 2])
        XCTAssertEqual(e.weight.grad?.scalars, [0, 0, 1 + 5 + 7, 2 + 6 + 8, 0, 0, 3, 4])

        // Gradients accumulate across backward passes, like every leaf's.
        (try e([2], shape: [1]) * Tensor(shape: [1, 2], scalars: [10, 20])).sum().backward()
        XCTAssertEqual(e.weight.grad?.scalars, [0, 0, 13, 16, 10, 20, 3, 4])
    }

    func testPaddingRowStartsAtZeroAndGetsNoGradient() throws {
        var g = SeededGenerator(seed: 3)
        let e = try Embedding(numEmbeddings: 5, embeddingDim: 3, paddingIdx: -1, using: &g)
        XCTAssertEqual(e.paddingIdx, 4, "a negative paddingIdx counts from the end and is stored non-negative")
        let w = e.weight.scalars
        XCTAssertEqual(Array(w[12..<15]), [0, 0, 0])
        XCTAssertTrue(w[0..<12].allSatisfy { $0 != 0 })

        // The padding row is looked up like any row; its gradient stays zero.
        e.weight.scalars = (0..<15).map(Float.init)
        let y = try e([[4, 1], [1, 4]])
        XCTAssertEqual(y.scalars, [12, 13, 14, 3, 4, 5, 3, 4, 5, 12, 13, 14])
        (y * Tensor(zeros: [2, 2, 3], value: 1)).sum().backward()
        XCTAssertEqual(e.weight.grad?.scalars, [0, 0, 0, 2, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0])

        // Row 0 as padding (the usual choice).
        let zero = try Embedding(numEmbeddings: 3, embeddingDim: 2, paddingIdx: 0, using: &g)
        XCTAssertEqual(Array(zero.weight.scalars[0..<2]), [0, 0])
        (try zero([0, 0, 2], shape: [3])).sum().backward()
        XCTAssertEqual(zero.weight.grad?.scalars, [0, 0, 0, 0, 1, 1])
    }

    func testNormalInitialisationAndSeeding() throws {
        var g1 = SeededGenerator(seed: 11), g2 = SeededGenerator(seed: 11)
        let a = try Embedding(numEmbeddings: 100, embeddingDim: 50, using: &g1)
        let b = try Embedding(numEmbeddings: 100, embeddingDim: 50, using: &g2)
        XCTAssertEqual(a.weight.scalars, b.weight.scalars)
        XCTAssertEqual(g1, g2)
        let w = a.weight.scalars.map(Double.init)
        let mean = w.reduce(0, +) / Double(w.count)
        let variance = w.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(w.count)
        XCTAssertEqual(mean, 0, accuracy: 0.05)
        XCTAssertEqual(variance, 1, accuracy: 0.08)
        XCTAssertTrue(a.weight.requiresGrad)

        // The default stream: reproducible after manualSeed.
        let saved = RandomState.state
        defer { RandomState.state = saved }
        RandomState.manualSeed(5)
        let c = try Embedding(numEmbeddings: 4, embeddingDim: 3)
        RandomState.manualSeed(5)
        let d = try Embedding(numEmbeddings: 4, embeddingDim: 3)
        XCTAssertEqual(c.weight.scalars, d.weight.scalars)
    }

    func testFromPretrained() throws {
        let table = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
        let frozen = try Embedding.fromPretrained(table, paddingIdx: 1)
        XCTAssertEqual(frozen.numEmbeddings, 3)
        XCTAssertEqual(frozen.embeddingDim, 2)
        XCTAssertEqual(frozen.paddingIdx, 1)
        XCTAssertEqual(frozen.weight.scalars, [1, 2, 3, 4, 5, 6], "as in PyTorch, the padding row is not zeroed")
        XCTAssertFalse(frozen.weight.requiresGrad)
        let y = try frozen([2, 1], shape: [2])
        XCTAssertEqual(y.scalars, [5, 6, 3, 4])
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.gradFnName)
        table.scalars = [0, 0, 0, 0, 0, 0]
        XCTAssertEqual(frozen.weight.scalars, [1, 2, 3, 4, 5, 6], "the table is copied")

        let trainable = try Embedding.fromPretrained(Tensor(shape: [2, 1], scalars: [1, 2]), freeze: false)
        XCTAssertTrue(trainable.weight.requiresGrad)
        try trainable([1, 1], shape: [2]).sum().backward()
        XCTAssertEqual(trainable.weight.grad?.scalars, [0, 2])

        assertThrows("shape", ["2-D", "[6]"]) { _ = try Embedding.fromPretrained(Tensor(shape: [6], scalars: [1, 2, 3, 4, 5, 6])) }
        assertThrows("argument", [">= 1"]) { _ = try Embedding.fromPretrained(Tensor(zeros: [0, 3])) }
        assertThrows("argument", ["paddingIdx 3", "-3..<3"]) { _ = try Embedding.fromPretrained(table, paddingIdx: 3) }
    }

    func testNoRecordingWithoutGradients() throws {
        let e = try smallEmbedding()
        let y = try withoutGradients { try e([1, 2], shape: [2]) }
        XCTAssertFalse(y.requiresGrad)
        XCTAssertNil(y.gradFnName)
        XCTAssertEqual(y.scalars, [11, 12, 21, 22])
        // The functional form on a plain tensor records nothing either.
        let plain = try Tensor.embedding(Tensor(shape: [2, 2], scalars: [1, 2, 3, 4]), indices: [1], shape: [1])
        XCTAssertNil(plain.gradFnName)
        XCTAssertEqual(plain.scalars, [3, 4])
    }

    func testAnomalyModeReportsNonFiniteRows() throws {
        let e = try smallEmbedding()
        e.weight.withUnsafeMutableBufferPointer { $0[5] = .nan }   // row 2
        _ = try AnomalyMode.detect { try e([0, 1], shape: [2]) }   // row 2 not read: fine
        XCTAssertThrowsError(try AnomalyMode.detect { _ = try e([0, 2], shape: [2]) }) { error in
            guard let anomaly = error as? AnomalyMode.Anomaly else { return XCTFail("\(error)") }
            XCTAssertEqual(anomaly.operation, "EmbeddingBackward")
            XCTAssertEqual(anomaly.phase, "forward")
            XCTAssertEqual(anomaly.shape, [2, 2])
            XCTAssertEqual(anomaly.index, 3)
        }
    }

    // MARK: - Errors

    func testOutOfRangeAndBadShapeLeaveTheModuleUnchanged() throws {
        let e = try smallEmbedding(paddingIdx: 0)
        let before = e.weight.scalars
        assertThrows("argument", ["index 4", "position 2", "0..<4"]) { _ = try e([1, 2, 4], shape: [3]) }
        assertThrows("argument", ["index -1", "position 0", "0..<4"]) { _ = try e([-1, 2], shape: [2]) }
        assertThrows("argument", ["index 9", "position 4", "0..<4"]) { _ = try e([[0, 1, 2], [3, 9, 1]]) }
        assertThrows("shape", ["expected 6 indices", "[2, 3]", "got 5"]) { _ = try e([0, 1, 2, 3, 0], shape: [2, 3]) }
        assertThrows("shape", ["[-1, 2]"]) { _ = try e([0, 1], shape: [-1, 2]) }
        assertThrows("shape", ["[\(Int.max), 3]"]) {
            _ = try e([0], shape: [Int.max, 3])
        }
        assertThrows("shape", ["length 2", "got 3 in row 1"]) { _ = try e([[0, 1], [1, 2, 3]]) }
        assertThrows("shape", ["at least one sequence"]) { _ = try e([[Int]]()) }
        assertThrows("shape", ["2-D", "[8]"]) {
            _ = try Tensor.embedding(Tensor(zeros: [8]), indices: [0], shape: [1])
        }
        assertThrows("argument", ["paddingIdx -5", "-4..<4"]) {
            _ = try Tensor.embedding(e.weight, indices: [0], shape: [1], paddingIdx: -5)
        }
        XCTAssertEqual(e.weight.scalars, before)
        XCTAssertNil(e.weight.grad)
        XCTAssertEqual(e.paddingIdx, 0)
        // Still usable.
        XCTAssertEqual(try e([3], shape: [1]).scalars, [31, 32])
    }

    func testBadSizesThrowWithoutDrawing() {
        var g = SeededGenerator(seed: 1)
        let start = g
        assertThrows("argument", [">= 1", "0 and 3"]) { _ = try Embedding(numEmbeddings: 0, embeddingDim: 3, using: &g) }
        assertThrows("argument", [">= 1", "3 and -1"]) { _ = try Embedding(numEmbeddings: 3, embeddingDim: -1, using: &g) }
        assertThrows("argument", ["paddingIdx 3", "-3..<3"]) { _ = try Embedding(numEmbeddings: 3, embeddingDim: 2, paddingIdx: 3, using: &g) }
        assertThrows("argument", ["paddingIdx -4", "-3..<3"]) { _ = try Embedding(numEmbeddings: 3, embeddingDim: 2, paddingIdx: -4, using: &g) }
        assertThrows("argument", ["overflows"]) { _ = try Embedding(numEmbeddings: Int.max, embeddingDim: 2, using: &g) }
        XCTAssertEqual(g, start, "a rejected configuration draws nothing")
        assertThrows("argument", [">= 1"]) { _ = try Embedding(numEmbeddings: 0, embeddingDim: 3) }
    }

    // MARK: - Modules around it

    func testStateDictKeyIsWeight() throws {
        let e = try smallEmbedding(paddingIdx: 1)
        XCTAssertEqual(e.stateDictKeys, ["weight"])
        let state = e.stateDict()
        XCTAssertEqual(state["weight"]?.shape, [4, 2])
        XCTAssertEqual(state["weight"]?.scalars, e.weight.scalars)

        var g = SeededGenerator(seed: 99)
        let other = try Embedding(numEmbeddings: 4, embeddingDim: 2, paddingIdx: 1, using: &g)
        try other.loadStateDict(state)
        XCTAssertEqual(other.weight.scalars, e.weight.scalars)
        XCTAssertThrowsError(try other.loadStateDict(["weight": Tensor(zeros: [2, 4])]))

        // Inside a model: `embedding.weight`, as PyTorch names it.
        final class Tagger: Module, @unchecked Sendable {
            let embedding: Embedding
            let head: Linear
            init(_ g: inout SeededGenerator) throws {
                embedding = try Embedding(numEmbeddings: 6, embeddingDim: 3, paddingIdx: 0, using: &g)
                head = try Linear(inFeatures: 3, outFeatures: 2, using: &g)
            }
        }
        XCTAssertEqual(try Tagger(&g).stateDictKeys, ["embedding.weight", "head.weight", "head.bias"])
    }

    func testGradientOfEmbeddingLinearLossMatchesFiniteDifferences() throws {
        var g = SeededGenerator(seed: 21)
        let e = try Embedding(numEmbeddings: 5, embeddingDim: 3, using: &g)
        let linear = try Linear(inFeatures: 3, outFeatures: 2, using: &g)
        let target = Tensor(uniform: [2, 3, 2], low: -1, high: 1, using: &g)
        // Index 4 is used three times, 2 never.
        let indices = [4, 0, 4, 1, 3, 4]
        try assertGradientsMatchFiniteDifferences([e.weight, linear.weight, linear.bias!]) {
            try mseLoss(try linear(try e(indices, shape: [2, 3])).tanh(), target)
        }
        XCTAssertEqual(Array(e.weight.grad!.scalars[6..<9]), [0, 0, 0])
    }

    func testFeedsABatchFirstLSTM() throws {
        var g = SeededGenerator(seed: 5)
        let e = try Embedding(numEmbeddings: 10, embeddingDim: 4, paddingIdx: 0, using: &g)
        let lstm = try LSTM(inputSize: 4, hiddenSize: 3, batchFirst: true, seed: 6)
        let batch = [[5, 9, 2, 7], [3, 1, 0, 0]]
        let (output, state) = try lstm(try e(batch), lengths: [4, 2])
        XCTAssertEqual(output.shape, [2, 4, 3])
        XCTAssertEqual(state.h.shape, [1, 2, 3])
        output.sum().backward()
        let grad = e.weight.grad!.scalars
        XCTAssertEqual(Array(grad[0..<4]), [0, 0, 0, 0], "padding row")
        XCTAssertEqual(Array(grad[16..<20]), [0, 0, 0, 0], "index 4 is not in the batch")
        XCTAssertTrue(grad[20..<24].contains { $0 != 0 }, "index 5 is")
    }

    // MARK: - PyTorch

    func testMatchesPyTorchFixture() throws {
        let f = try Fixture("embedding")
        let config = f.config
        let n = try XCTUnwrap(config["num_embeddings"] as? Int)
        let d = try XCTUnwrap(config["embedding_dim"] as? Int)
        let padding = try XCTUnwrap(config["padding_idx"] as? Int)
        var g = SeededGenerator(seed: 0)
        let e = try Embedding(numEmbeddings: n, embeddingDim: d, paddingIdx: padding, using: &g)
        XCTAssertEqual(e.paddingIdx, config["padding_idx_normalized"] as? Int)
        let weight = try XCTUnwrap(f.tensor("parameters", "weight"))
        // PyTorch's initial table has a zero padding row, as ours does.
        XCTAssertEqual(Array(weight.scalars[e.paddingIdx! * d ..< (e.paddingIdx! + 1) * d]), [Float](repeating: 0, count: d))
        try e.loadStateDict(["weight": weight])

        let inputs = f.object("inputs")
        let indices = try XCTUnwrap(inputs["indices"] as? [Int])
        let shape = try XCTUnwrap(inputs["shape"] as? [Int])
        let output = try e(indices, shape: shape)
        let expected = try XCTUnwrap(f.tensor("outputs", "output"))
        let seed = try XCTUnwrap(f.tensor("grad_seeds", "output"))
        let loss = (output * seed).sum()
        loss.backward()
        let expectedGrad = try XCTUnwrap(f.tensor("grads", "weight"))
        XCTAssertEqual(loss.item, Float(try XCTUnwrap(f.number("loss"))), accuracy: 1e-5)
        // A lookup copies exactly, and the sums of at most a handful of products are exact
        // to float rounding.
        let outputDiff = zip(output.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
        let gradDiff = zip(e.weight.grad!.scalars, expectedGrad.scalars).map { abs($0 - $1) }.max() ?? 0
        print("embedding fixture: max |diff| output \(outputDiff), weight.grad \(gradDiff)")
        XCTAssertEqual(output.shape, expected.shape)
        XCTAssertEqual(output.scalars, expected.scalars)
        assertClose(e.weight.grad, expectedGrad, rtol: 1e-6, atol: 1e-6)
    }

    // MARK: - argmax

    func testArgmaxAlongDimensions() throws {
        let x = Tensor(shape: [2, 3], scalars: [1, 5, 3,
                                               7, -1, 2])
        XCTAssertEqual(try x.argmax(dim: 1), [1, 0])
        XCTAssertEqual(try x.argmax(dim: -1), [1, 0])
        XCTAssertEqual(try x.argmax(dim: 0), [1, 0, 0])
        XCTAssertEqual(try x.argmax(dim: -2), [1, 0, 0])
        XCTAssertEqual(try x.argmax(), 3)

        // (2, 3, 2): the result is (2, 2) for dim 1, row-major.
        let y = Tensor(shape: [2, 3, 2], scalars: [0, 9,   4, 1,   2, 3,
                                                  -5, -6, -7, -2, -1, -8])
        XCTAssertEqual(try y.argmax(dim: 1), [1, 0, 2, 1])
        XCTAssertEqual(try y.argmax(dim: 0), [0, 0, 0, 0, 0, 0])
        XCTAssertEqual(try y.argmax(dim: 2), [1, 0, 1, 0, 1, 0])
        XCTAssertEqual(try y.argmax(), 1)

        // One element along the dimension, a 1-D tensor, a scalar.
        XCTAssertEqual(try Tensor(shape: [3, 1], scalars: [4, 5, 6]).argmax(dim: 1), [0, 0, 0])
        XCTAssertEqual(try Tensor(shape: [4], scalars: [-3, -1, -2, -1]).argmax(dim: 0), [1])
        XCTAssertEqual(try Tensor(2).argmax(dim: 0), [0])
        XCTAssertEqual(try Tensor(2).argmax(dim: -1), [0])
        XCTAssertEqual(try Tensor(2).argmax(), 0)
        // An empty non-reduced dimension gives an empty result.
        XCTAssertEqual(try Tensor(zeros: [0, 3]).argmax(dim: 1), [])
    }

    func testArgmaxTiesAndNaNFollowPyTorch() throws {
        // Ties: the first index.
        XCTAssertEqual(try Tensor(shape: [5], scalars: [2, 7, 7, 1, 7]).argmax(dim: 0), [1])
        XCTAssertEqual(try Tensor(shape: [2, 3], scalars: [3, 3, 3, 0, 4, 4]).argmax(dim: 1), [0, 1])
        XCTAssertEqual(try Tensor(shape: [3, 2], scalars: [1, 8, 1, 8, 0, 8]).argmax(dim: 0), [0, 0])
        XCTAssertEqual(try Tensor(zeros: [2, 2]).argmax(), 0)
        XCTAssertEqual(try Tensor(shape: [3], scalars: [-.infinity, -.infinity, -.infinity]).argmax(dim: 0), [0])
        // NaN is the largest value; the first NaN wins.
        XCTAssertEqual(try Tensor(shape: [4], scalars: [1, .nan, .infinity, .nan]).argmax(dim: 0), [1])
        XCTAssertEqual(try Tensor(shape: [3], scalars: [.nan, 5, .nan]).argmax(dim: 0), [0])
    }

    func testArgmaxErrorsAndNoRecording() throws {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        assertThrows("argument", ["dimension 2", "-2..<2"]) { _ = try x.argmax(dim: 2) }
        assertThrows("argument", ["dimension -3"]) { _ = try x.argmax(dim: -3) }
        assertThrows("argument", ["dimension 1", "scalar"]) { _ = try Tensor(1).argmax(dim: 1) }
        assertThrows("argument", ["empty"]) { _ = try Tensor(zeros: [3, 0]).argmax(dim: 1) }
        assertThrows("argument", ["no elements"]) { _ = try Tensor(zeros: [2, 0]).argmax() }
        XCTAssertEqual(try x.argmax(dim: 1), [2, 2])
        XCTAssertNil(x.grad)
        XCTAssertTrue(x.isLeaf)
    }
}
