import Foundation
import XCTest
@testable import Recurrent

/// Outside input never crashes the process: every public entry point that takes tensors,
/// sizes or options from outside either returns or throws a ``TensorError``, and a throw
/// leaves the modules as they were. The checks named in RELIABILITY.md that no other test
/// file covers are here, plus a seeded fuzz of arbitrary shapes, lengths, states, targets
/// and options through the modules, the losses and the throwing tensor operations.
final class InputValidationTests: XCTestCase {
    // MARK: - Tensor(validating:)

    func testTensorValidatingChecksCountSignAndOverflow() throws {
        XCTAssertEqual(try Tensor(validating: [2, 3], scalars: Array(repeating: 1, count: 6)).shape, [2, 3])
        XCTAssertEqual(try Tensor(validating: [0, 5], scalars: []).count, 0)
        XCTAssertEqual(try Tensor(validating: [], scalars: [4]).item, 4)
        let bad: [([Int], Int, String)] = [
            ([2, 3], 5, "6"),                          // too few
            ([2, 3], 7, "6"),                          // too many
            ([], 0, "1"),                              // a scalar has one element
            ([-1, 3], 0, "non-negative"),              // negative dimension
            ([-2, -3], 6, "non-negative"),             // negative dimensions whose product fits
            ([Int.max, 2], 0, "overflow"),             // the element count overflows Int
            ([1 << 40, 1 << 40], 0, "overflow"),
        ]
        for (shape, count, fragment) in bad {
            XCTAssertThrowsError(try Tensor(validating: shape, scalars: Array(repeating: 0, count: count)), "\(shape)") { error in
                guard case .shapeMismatch(let message)? = error as? TensorError else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains(fragment), message)
                XCTAssertTrue(message.contains("\(shape)"), message)
            }
        }
    }

    // MARK: - Module options

    func testModuleOptionsThrow() throws {
        for p: Float in [-0.1, 1.01, .nan, .infinity] {
            XCTAssertThrowsError(try Dropout(p: p)) { XCTAssertTrue("\($0)".contains("[0, 1]"), "\($0)") }
        }
        XCTAssertEqual(try Dropout(p: 1).p, 1)
        let logSoftmax = LogSoftmax(dim: 2)
        XCTAssertThrowsError(try logSoftmax(Tensor(zeros: [2, 3]))) { XCTAssertTrue($0 is TensorError, "\($0)") }
        XCTAssertEqual(try logSoftmax(Tensor(zeros: [1, 2, 3])).shape, [1, 2, 3])
        XCTAssertThrowsError(try RecurrentLayer(cells: [RNNCell]())) { XCTAssertTrue($0 is TensorError) }
    }

    /// Sizes whose weight matrices would have more elements than `Int` holds throw (they
    /// used to trap on the overflowing multiplication).
    func testOverflowingModuleSizesThrow() {
        let cases: [(String, () throws -> Module)] = [
            ("RNN hidden", { try RNN(inputSize: 3, hiddenSize: Int.max / 2) }),
            ("LSTM input", { try LSTM(inputSize: Int.max, hiddenSize: 2) }),
            ("GRU bidirectional", { try GRU(inputSize: 2, hiddenSize: 1 << 31, bidirectional: true) }),
            ("LSTM projection", { try LSTM(inputSize: 2, hiddenSize: 1 << 40, projSize: 1 << 39) }),
            ("RNNCell", { try RNNCell(inputSize: 1 << 62, hiddenSize: 4) }),
            ("GRUCell", { try GRUCell(inputSize: 2, hiddenSize: 1 << 32) }),
            ("LSTMCell", { try LSTMCell(inputSize: 2, hiddenSize: Int.max) }),
        ]
        for (name, make) in cases {
            XCTAssertThrowsError(try make(), name) { error in
                guard case .invalidArgument(let message)? = error as? TensorError else { return XCTFail("\(name): \(error)") }
                XCTAssertTrue(message.contains("overflows Int"), message)
            }
        }
    }

    /// A rejected configuration draws nothing from the default random stream (a failed call
    /// leaves the global state as it was); an accepted one draws one seed, as before.
    func testRejectedConfigurationLeavesTheDefaultStreamAlone() throws {
        RandomState.manualSeed(77)
        let before = RandomState.state
        let rejected: [() throws -> Module] = [
            { try RNN(inputSize: 0, hiddenSize: 4) },
            { try GRU(inputSize: 3, hiddenSize: 4, dropout: 2) },
            { try LSTM(inputSize: 3, hiddenSize: 4, projSize: 9) },
            { try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 0) },
            { try RNN(inputSize: 3, hiddenSize: Int.max / 2) },
            { try LSTMCell(inputSize: 3, hiddenSize: 0) },
            { try Dropout(p: -1) },
        ]
        for make in rejected { XCTAssertThrowsError(try make()) }
        XCTAssertEqual(RandomState.state, before, "a rejected configuration advanced the default stream")
        _ = try GRU(inputSize: 3, hiddenSize: 4)
        XCTAssertNotEqual(RandomState.state, before)
    }

    /// `loadStateDict` with one wrong shape among good tensors changes no parameter, in a
    /// stacked bidirectional LSTM (many parameters, the bad one last in order).
    func testFailedLoadStateDictChangesNoParameter() throws {
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 1)
        let other = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 2)
        var dict = other.stateDict()
        let last = lstm.stateDictKeys.last!
        dict[last] = Tensor(zeros: [dict[last]!.count + 1])
        let before = lstm.parameters().map(\.scalars)
        for strict in [true, false] {
            XCTAssertThrowsError(try lstm.loadStateDict(dict, strict: strict)) { error in
                XCTAssertTrue("\(error)".contains(last), "\(error)")
            }
            XCTAssertEqual(lstm.parameters().map(\.scalars), before)
        }
    }

    /// Negative sizes are refused with a thrown error, before anything is drawn from the
    /// generator.
    func testLinearAndCombinedCellRefuseNegativeSizes() throws {
        var g = SeededGenerator(seed: 3)
        let before = g
        for (i, o) in [(-1, 2), (2, -1), (-3, -3)] {
            XCTAssertThrowsError(try Linear(inFeatures: i, outFeatures: o, using: &g)) { error in
                XCTAssertTrue("\(error)".contains("non-negative"), "\(error)")
            }
            XCTAssertThrowsError(try Linear(inFeatures: i, outFeatures: o))
        }
        // inputSize + hiddenSize is positive here, but inputSize alone is not.
        XCTAssertThrowsError(try CombinedCell(inputSize: -1, hiddenSize: 4, outputSize: 2, using: &g))
        XCTAssertThrowsError(try CombinedCell(inputSize: 3, hiddenSize: 4, outputSize: -2, using: &g))
        XCTAssertThrowsError(try CombinedCell(inputSize: 3, hiddenSize: -4, outputSize: 2))
        XCTAssertEqual(g, before, "a refused layer drew from the generator")
        // Zero sizes are allowed, as in PyTorch.
        XCTAssertEqual(try Linear(inFeatures: 0, outFeatures: 3, using: &g).weight.shape, [3, 0])
    }

    // MARK: - Fuzz

    /// 3,000 seeded random calls with arbitrary shapes (rank 0–4, sizes 0–4), states,
    /// lengths, class targets, weights and options, to the recurrent modules and cells, the
    /// generic layer, `Linear`, `Sequential`, `CombinedCell`, `finalState`, the three losses
    /// and the throwing tensor operations, with a backward pass after a third of the
    /// successful module calls. Each call returns or throws a `TensorError` (a trap would end
    /// the test run), and calls that throw leave the parameters as they were.
    ///
    /// `RECURRENT_FUZZ_ITERATIONS` and `RECURRENT_FUZZ_SEED` in the environment run it longer
    /// or from another seed.
    func testArbitraryShapesOnlyReturnOrThrow() throws {
        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["RECURRENT_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 3000
        let seed = environment["RECURRENT_FUZZ_SEED"].flatMap { UInt64($0) } ?? 0xF022
        var g = SeededGenerator(seed: seed)
        func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(g.next() % UInt64(range.count)) }
        func shape(maxRank: Int = 4) -> [Int] { (0..<int(0...maxRank)).map { _ in int(0...4) } }
        func tensor(_ s: [Int], grad: Bool = false) -> Tensor {
            let t = Tensor(normal: s, using: &g, requiresGrad: grad)
            if t.count > 0 && int(0...9) == 0 { t.withUnsafeMutableBufferPointer { $0[0] = [.nan, .infinity, -.infinity][int(0...2)] } }
            return t
        }
        func maybe<T>(_ make: () -> T) -> T? { int(0...2) == 0 ? nil : make() }
        /// A shape that is often right: `good` itself, or `good` with one size changed or a
        /// dimension added or dropped.
        func nearly(_ good: [Int]) -> [Int] {
            var s = good
            switch int(0...5) {
            case 0 where !s.isEmpty: s[int(0...(s.count - 1))] = int(0...5)
            case 1: s.insert(int(0...3), at: int(0...s.count))
            case 2 where !s.isEmpty: s.remove(at: int(0...(s.count - 1)))
            case 3: s = shape()
            default: break
            }
            return s
        }
        func lengths(batch: Int) -> [Int]? { maybe { (0..<(int(0...2) == 0 ? int(0...4) : batch)).map { _ in int(-1...6) } } }

        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 1)
        let proj = try LSTM(inputSize: 3, hiddenSize: 4, batchFirst: true, projSize: 2, seed: 2)
        let gru = try GRU(inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, seed: 3)
        let rnn = try RNN(inputSize: 3, hiddenSize: 4, nonlinearity: .relu, dropout: 0.5, seed: 4)
        let modules: [RecurrentBase] = [lstm, proj, gru, rnn]
        let lstmCell = try LSTMCell(inputSize: 3, hiddenSize: 4, seed: 5)
        let gruCell = try GRUCell(inputSize: 3, hiddenSize: 4, seed: 6)
        let layer = try RecurrentLayer(cells: [try GRUCell(inputSize: 3, hiddenSize: 4, seed: 7)],
                                       reverseCells: [try GRUCell(inputSize: 3, hiddenSize: 4, seed: 8)])
        var lg = SeededGenerator(seed: 9)
        let linear = try Linear(inFeatures: 3, outFeatures: 4, using: &lg)
        let sequential = Sequential(try Linear(inFeatures: 3, outFeatures: 4, using: &lg), Tanh(), LogSoftmax(dim: 1))
        let combined = try CombinedCell(inputSize: 3, hiddenSize: 4, outputSize: 2, using: &lg)
        let all: [Module] = modules + [lstmCell, gruCell, layer, linear, sequential, combined]
        let before = all.map { $0.parameters().map(\.scalars) }

        var returned = 0, threw = 0
        for iteration in 0..<iterations {
            let choice = int(0...15)
            let backward = int(0...2) == 0
            do {
                var result: Tensor
                switch choice {
                case 0...3:
                    let m = modules[choice]
                    let batch = int(0...3), steps = int(0...3)
                    let good = int(0...1) == 0 ? [steps, 3] : (m.batchFirst ? [batch, steps, 3] : [steps, batch, 3])
                    let x = tensor(nearly(good), grad: int(0...1) == 0)
                    let stateBatch = x.rank == 3 ? (m.batchFirst ? x.shape[0] : x.shape[1]) : nil
                    let L = m.numLayers * m.numDirections
                    let h0 = maybe { tensor(nearly(stateBatch.map { [L, $0, m.outputHiddenSize] } ?? [L, m.outputHiddenSize])) }
                    let c0 = maybe { tensor(nearly(stateBatch.map { [L, $0, m.hiddenSize] } ?? [L, m.hiddenSize])) }
                    let r = try m.forwardLayers(x, h0: h0, c0: m.kind == .lstm ? c0 : nil, lengths: lengths(batch: stateBatch ?? 1))
                    _ = try m.finalState(r.hN, layer: int(-3...2), direction: int(0...1) == 0 ? .forward : .reverse)
                    result = r.output.sum() + r.hN.sum()
                case 4:
                    let x = tensor(nearly([int(0...3), 3]))
                    let state = maybe { LSTMState(h: tensor(nearly([x.shape.first ?? 1, 4])), c: tensor(nearly([x.shape.first ?? 1, 4]))) }
                    let (h, c) = try { let s = try lstmCell(x, state); return (s.h, s.c) }()
                    result = h.sum() + c.sum()
                case 5:
                    result = try gruCell(tensor(nearly([int(0...3), 3])), maybe { tensor(nearly([int(0...3), 4])) })
                case 6:
                    let x = tensor(nearly([int(0...3), int(0...3), 3]))
                    let batch = x.rank == 3 ? x.shape[1] : 1
                    let states = maybe { (0..<int(1...3)).map { _ in tensor(nearly([batch, 4])) } }
                    result = try layer(x, initialStates: states, lengths: lengths(batch: batch)).output
                case 7:
                    result = try linear(tensor(nearly([int(0...3), 3])))
                case 8:
                    result = try sequential(tensor(nearly([int(0...3), 3])))
                case 9:
                    let x = tensor(nearly([int(0...3), 3]))
                    result = try combined(x, tensor(nearly([x.shape.first ?? 1, 4]))).output
                case 10, 11:
                    let logits = tensor(nearly([int(0...3), 3]), grad: true)
                    let n = logits.rank == 2 ? logits.shape[0] : 1
                    let target = (0..<(int(0...3) == 0 ? int(0...4) : n)).map { _ in int(-2...4) }
                    let weight = maybe { tensor(nearly([logits.shape.last ?? 3])) }
                    let reduction = Reduction.allCases[int(0...2)]
                    result = choice == 10
                        ? try crossEntropy(logits, target: target, weight: weight, ignoreIndex: int(-2...0), reduction: reduction)
                        : try nllLoss(logits, target: target, weight: weight, reduction: reduction)
                    result = result.sum()
                case 12:
                    let s = shape()
                    result = try mseLoss(tensor(s, grad: true), tensor(nearly(s)), reduction: Reduction.allCases[int(0...2)]).sum()
                case 13:
                    let a = tensor(shape(), grad: true), b = tensor(nearly(a.shape))
                    switch int(0...5) {
                    case 0: result = try a.adding(b)
                    case 1: result = try a.dividing(b)
                    case 2: result = try a.matmul(tensor(nearly([a.shape.last ?? 2, 2])))
                    case 3: result = try Tensor.cat([a, b], dim: int(-3...3))
                    case 4: result = try Tensor.stack([a, b], dim: int(-3...3))
                    default: result = try Tensor.linear(a, weight: tensor(nearly([2, a.shape.last ?? 2])), bias: maybe { tensor(nearly([2])) })
                    }
                default:
                    let a = tensor(shape(), grad: true)
                    switch int(0...7) {
                    case 0: result = try a.reshaped(nearly(a.shape).map { int(0...5) == 0 ? -1 : $0 })
                    case 1: result = try a.permuted((0..<int(0...4)).map { _ in int(-1...3) })
                    case 2: result = try a.transposed(int(-3...3), int(-3...3))
                    case 3: result = try a.select(dim: int(-3...3), index: int(-3...3))
                    case 4: result = try a.narrow(dim: int(-3...3), start: int(-2...3), length: int(-1...3))
                    case 5: result = try a.sum(dim: int(-3...3), keepDim: int(0...1) == 0)
                    case 6: result = try a.logSoftmax(dim: int(-3...3))
                    default: result = try a.dropout(p: [-0.5, 0, 0.5, 1, 1.5, .nan][int(0...5)], training: true, using: &g)
                    }
                }
                returned += 1
                if backward && result.requiresGrad { result.sum().backward() }
            } catch let error as TensorError {
                threw += 1
                XCTAssertFalse("\(error)".isEmpty)
            } catch {
                XCTFail("iteration \(iteration), choice \(choice): an error that is not a TensorError: \(error)")
            }
            if iteration % 500 == 499 {
                for m in all { m.zeroGrad() }
            }
        }
        XCTAssertGreaterThan(returned, iterations / 6, "too few valid calls to exercise the success paths")
        XCTAssertGreaterThan(threw, iterations / 6, "too few invalid calls to exercise the checks")
        // No optimizer ran: whatever was thrown or returned, no parameter changed.
        XCTAssertEqual(all.map { $0.parameters().map(\.scalars) }.map { $0.map(bits) }, before.map { $0.map(bits) })
        print("InputValidationTests: seed \(seed), \(returned) calls returned, \(threw) threw")
    }
}
