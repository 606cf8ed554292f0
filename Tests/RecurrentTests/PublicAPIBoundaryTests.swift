import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// Public entry points that trapped, hung or differed from PyTorch on arguments from
/// outside: each now throws a message naming what was expected and what came (or, for the
/// documented preconditions, traps with a message instead of returning nonsense).
final class PublicAPIBoundaryTests: XCTestCase {
    typealias Kit = RecurrentTestKit

    // MARK: narrow

    func testNarrowRejectsARangeWhoseEndOverflows() throws {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
        for (start, length) in [(1, Int.max), (Int.max, 1), (2, Int.max - 1), (-1, Int.max), (Int.min, 1), (4, 0)] {
            XCTAssertThrowsError(try x.narrow(dim: 1, start: start, length: length), "start \(start), length \(length)") { error in
                XCTAssertTrue("\(error)".contains("\(length)"), "\(error)")
            }
        }
        XCTAssertEqual(try x.narrow(dim: 1, start: 3, length: 0).shape, [2, 0])
        XCTAssertEqual(try x.narrow(dim: 1, start: -2, length: 2).scalars, [2, 3, 5, 6])
    }

    // MARK: Random initialisation

    func testParameterUniformRejectsNegativeAndHugeShapes() {
        var generator = SeededGenerator(seed: 3)
        let before = generator
        for shape in [[-3], [-3, -1], [2, -1], [1 << 40, 1 << 40], [Int.max, 2]] {
            XCTAssertThrowsError(try Parameter(uniform: shape, bound: 1, using: &generator), "\(shape)") { error in
                XCTAssertTrue("\(error)".contains("\(shape)"), "\(error)")
            }
        }
        XCTAssertEqual(generator, before, "a rejected shape drew from the generator")
        XCTAssertEqual(try Parameter(uniform: [2, 0], bound: 1, using: &generator).shape, [2, 0])
    }

    func testValidatedCountNamesTheShapeAndTheMemory() throws {
        XCTAssertEqual(try Tensor.validatedCount(of: [2, 3, 4]), 24)
        XCTAssertEqual(try Tensor.validatedCount(of: []), 1)
        XCTAssertEqual(try Tensor.validatedCount(of: [0, -1 + 1]), 0)
        XCTAssertThrowsError(try Tensor.validatedCount(of: [3, -1])) { error in
            XCTAssertTrue("\(error)".contains("[3, -1]"), "\(error)")
        }
        XCTAssertThrowsError(try Tensor.validatedCount(of: [1 << 20, 1 << 20, 1 << 10])) { error in
            XCTAssertTrue("\(error)".contains("physical memory"), "\(error)")
        }
    }

    func testTensorUniformTrapsOnANegativeShapeInsteadOfReturningOne() {
        assertTraps(self) {
            var generator = SeededGenerator(seed: 1)
            _ = Tensor(uniform: [-3, -1], low: 0, high: 1, using: &generator)
        }
    }

    func testTensorNormalTrapsOnANegativeShapeInsteadOfReturningOne() {
        assertTraps(self) {
            var generator = SeededGenerator(seed: 1)
            _ = Tensor(normal: [-2, -2], using: &generator)
        }
    }

    // MARK: States and module sizes

    func testZeroStatesRejectNegativeBatchSizes() throws {
        let rnn = try RNNCell(inputSize: 2, hiddenSize: 3, seed: 1)
        let gru = try GRUCell(inputSize: 2, hiddenSize: 3, seed: 1)
        let lstm = try LSTMCell(inputSize: 2, hiddenSize: 3, seed: 1)
        let combined = try CombinedCell(inputSize: 2, hiddenSize: 3, outputSize: 2)
        for batch in [-1, Int.min] {
            Kit.assertThrows(["RNNCell", "\(batch)"]) { _ = try rnn.zeroState(batchSize: batch) }
            Kit.assertThrows(["GRUCell", "\(batch)"]) { _ = try gru.zeroState(batchSize: batch) }
            Kit.assertThrows(["LSTMCell", "\(batch)"]) { _ = try lstm.zeroState(batchSize: batch) }
            Kit.assertThrows(["initHidden", "\(batch)"]) { _ = try combined.initHidden(batchSize: batch) }
        }
        Kit.assertThrows(["physical memory"]) { _ = try lstm.zeroState(batchSize: Int.max / 4) }
        XCTAssertEqual(try lstm.zeroState(batchSize: 0).h.shape, [0, 3])
        XCTAssertEqual(try combined.initHidden(batchSize: 2).shape, [2, 3])
    }

    func testStatesFromTheWrongNumberOfTensorsThrow() throws {
        let x = Tensor(zeros: [1, 2])
        Kit.assertThrows(["one tensor", "0"]) { _ = try Tensor(tensors: []) }
        Kit.assertThrows(["one tensor", "2"]) { _ = try Tensor(tensors: [x, x]) }
        Kit.assertThrows(["two tensors", "1"]) { _ = try LSTMState(tensors: [x]) }
        Kit.assertThrows(["two tensors", "3"]) { _ = try LSTMState(tensors: [x, x, x]) }
        Kit.assertThrows(["one tensor", "0"]) { _ = try Parameter(tensors: []) }
        XCTAssertTrue(try Tensor(tensors: [x]).storage === x.storage)
        XCTAssertEqual(try LSTMState(tensors: [x, x]).tensors.count, 2)
    }

    func testModuleSizesBeyondMemoryThrowNamingBoth() throws {
        let memory = MemoryLimit.describe(MemoryLimit.physicalMemory)
        Kit.assertThrows(["LSTM", "numLayers: \(Int.max)", "physical memory"]) {
            _ = try LSTM(inputSize: 4, hiddenSize: 8, numLayers: Int.max)
        }
        Kit.assertThrows(["GRU", "physical memory", memory]) {
            _ = try GRU(inputSize: 4, hiddenSize: 1_000_000, numLayers: 1)
        }
        Kit.assertThrows(["LSTM", "hiddenSize: 200000", "would need about", memory]) {
            _ = try LSTM(inputSize: 57, hiddenSize: 200_000, bidirectional: true)
        }
        Kit.assertThrows(["RNN", "physical memory"]) { _ = try RNN(inputSize: 3_037_000_500, hiddenSize: 3_037_000_500) }
        Kit.assertThrows(["LSTMCell", "physical memory"]) { _ = try LSTMCell(inputSize: 4, hiddenSize: 1 << 31) }
        Kit.assertThrows(["Linear", "\(1 << 40)", "physical memory"]) {
            _ = try Linear(inFeatures: 1 << 40, outFeatures: 1 << 40)
        }
        var generator = SeededGenerator(seed: 1)
        let before = generator
        Kit.assertThrows(["Linear", "physical memory"]) {
            _ = try Linear(inFeatures: 1 << 20, outFeatures: 1 << 30, using: &generator)
        }
        XCTAssertEqual(generator, before)
        // The default stream is drawn from only after the checks.
        let stream = RandomState.state
        Kit.assertThrows(["physical memory"]) { _ = try LSTM(inputSize: 8, hiddenSize: 8, numLayers: 1 << 40) }
        XCTAssertEqual(RandomState.state, stream)
    }

    // MARK: RecurrentLayer checks everything before layer 0

    func testAFailedLayerCallRunsNoLayerAndDrawsNoDropoutMask() throws {
        let cells = try [LSTMCell(inputSize: 3, hiddenSize: 4, seed: 1), LSTMCell(inputSize: 4, hiddenSize: 4, seed: 2),
                         LSTMCell(inputSize: 4, hiddenSize: 4, seed: 3)]
        let layer = try RecurrentLayer(cells: cells, dropout: 0.5)
        layer.train()
        let x = Tensor(zeros: [5, 2, 3], value: 0.5, requiresGrad: true)
        let good = LSTMState(h: Tensor(zeros: [2, 4]), c: Tensor(zeros: [2, 4]))
        let wrongBatch = LSTMState(h: Tensor(zeros: [3, 4]), c: Tensor(zeros: [3, 4]))
        let wrongCell = LSTMState(h: Tensor(zeros: [2, 4]), c: Tensor(zeros: [2, 5]))
        RandomState.manualSeed(11)
        let stream = RandomState.state
        for states in [[good, wrongBatch, good], [good, good, wrongCell]] {
            XCTAssertThrowsError(try layer(x, initialStates: states)) { error in
                XCTAssertTrue("\(error)".contains("initial state"), "\(error)")
            }
            XCTAssertEqual(RandomState.state, stream, "the failed call drew a dropout mask")
        }
        XCTAssertNil(x.grad)
        let (output, finals) = try layer(x, initialStates: [good, good, good])
        XCTAssertEqual(output.shape, [5, 2, 4])
        XCTAssertEqual(finals.count, 3)
        XCTAssertNotEqual(RandomState.state, stream, "a successful call in training mode draws its masks")
    }

    // MARK: PyTorch's behaviour

    func testMeanOfNothingIsNaNAsInPyTorch() throws {
        XCTAssertTrue(Tensor(zeros: [0]).mean().item.isNaN)
        XCTAssertTrue(Tensor(zeros: [3, 0]).mean().item.isNaN)
        XCTAssertEqual(try Tensor(zeros: [3, 0]).mean(dim: 0).shape, [0])
        let alongEmpty = try Tensor(zeros: [2, 0]).mean(dim: 1)
        XCTAssertEqual(alongEmpty.shape, [2])
        XCTAssertTrue(alongEmpty.scalars.allSatisfy(\.isNaN))
        XCTAssertEqual(Tensor(shape: [2], scalars: [1, 2]).mean().item, 1.5)
    }

    func testBackwardRejectsASeedOfAnotherShapeWithTheSameCount() {
        assertTraps(self) {
            let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
            (x * 2).backward(Tensor(zeros: [3, 2], value: 1))
        }
    }

    func testBackwardTakesASeedOfTheSameShape() {
        let x = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
        (x * 2).backward(Tensor(zeros: [2, 3], value: 1))
        XCTAssertEqual(x.grad?.scalars, [2, 2, 2, 2, 2, 2])
    }
}
