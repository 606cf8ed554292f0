import XCTest
@testable import Recurrent

/// Results do not depend on the thread count: a layer's team of workers splits only work
/// whose every element is computed the same way whichever worker computes it (ranges of
/// hidden units; no reduction is split), so outputs, final states and every gradient are
/// bit-identical for 1, 2 and 4 threads. The sizes are large enough for every layer to
/// take a team of several workers (``FusedRecurrence/teamSize(batch:hidden:gates:depth:hasProjection:)``),
/// and the hidden size (80) is not a multiple of the 16-column panels.
final class ThreadCountTests: XCTestCase {
    private var savedThreads = 1

    override func setUp() {
        super.setUp()
        savedThreads = ComputeThreads.count
    }

    override func tearDown() {
        ComputeThreads.set(savedThreads)
        super.tearDown()
    }

    /// Everything a forward and backward of `module` produce: output, hN, (cN), and the
    /// gradients of the input, the initial states and every parameter.
    private func everything(_ make: (Bool) throws -> RecurrentBase, batchFirst: Bool, lengths: [Int]?,
                            batch: Int = 24, steps: Int = 7) throws -> [[Float]] {
        let module = try make(batchFirst)
        let (T, B, I) = (steps, batch, 12)
        let D = module.bidirectional ? 2 : 1
        var generator = SeededGenerator(seed: 5)
        let x = Tensor(uniform: batchFirst ? [B, T, I] : [T, B, I], low: -1, high: 1, using: &generator)
        x.requiresGrad = true
        let h0 = Tensor(uniform: [D * module.numLayers, B, module.hiddenSize], low: -0.5, high: 0.5, using: &generator)
        h0.requiresGrad = true
        let c0 = Tensor(uniform: [D * module.numLayers, B, module.hiddenSize], low: -0.5, high: 0.5, using: &generator)
        c0.requiresGrad = true
        let weights = Tensor(uniform: batchFirst ? [B, T, D * module.hiddenSize] : [T, B, D * module.hiddenSize],
                             low: -1, high: 1, using: &generator)
        var results: [[Float]] = []
        let loss: Tensor
        if let lstm = module as? LSTM {
            let (y, state) = try lstm(x, LSTMState(h: h0, c: c0), lengths: lengths)
            results += [y.scalars, state.h.scalars, state.c.scalars]
            loss = (y * weights).sum() + state.h.sum() + state.c.sum()
        } else if let gru = module as? GRU {
            let (y, hN) = try gru(x, h0, lengths: lengths)
            results += [y.scalars, hN.scalars]
            loss = (y * weights).sum() + hN.sum()
        } else {
            let rnn = try XCTUnwrap(module as? RNN)
            let (y, hN) = try rnn(x, h0, lengths: lengths)
            results += [y.scalars, hN.scalars]
            loss = (y * weights).sum() + hN.sum()
        }
        loss.backward()
        results.append(try XCTUnwrap(x.grad).scalars)
        results.append(try XCTUnwrap(h0.grad).scalars)
        if module is LSTM { results.append(try XCTUnwrap(c0.grad).scalars) }
        for p in module.parameters() { results.append(try XCTUnwrap(p.grad).scalars) }
        return results
    }

    private func check(_ name: String, _ make: (Bool) throws -> RecurrentBase,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        for batchFirst in [true, false] {
            for lengths in [nil, [7, 3, 7, 1, 7, 5, 2, 6, 7, 6, 4, 7, 1, 7, 7, 3, 7, 6, 2, 5, 7, 7, 6, 4]] as [[Int]?] {
                ComputeThreads.set(1)
                let reference = try everything(make, batchFirst: batchFirst, lengths: lengths)
                XCTAssertTrue(reference.allSatisfy { $0.allSatisfy(\.isFinite) }, name, file: file, line: line)
                for threads in [2, 4] {
                    ComputeThreads.set(threads)
                    let other = try everything(make, batchFirst: batchFirst, lengths: lengths)
                    XCTAssertEqual(other.count, reference.count, file: file, line: line)
                    for (i, (a, b)) in zip(other, reference).enumerated() {
                        let same = a.count == b.count && zip(a, b).allSatisfy { $0.bitPattern == $1.bitPattern }
                        XCTAssertTrue(same, "\(name), batchFirst \(batchFirst), lengths \(lengths != nil), \(threads) threads: result \(i) differs from one thread's",
                                      file: file, line: line)
                    }
                }
            }
        }
    }

    func testRNNTanhIsBitIdenticalForEveryThreadCount() throws {
        try check("RNN tanh") { try RNN(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: true, seed: 3) }
    }

    func testRNNReLUIsBitIdenticalForEveryThreadCount() throws {
        try check("RNN relu") { try RNN(inputSize: 12, hiddenSize: 80, numLayers: 2, nonlinearity: .relu, batchFirst: $0, bidirectional: true, seed: 3) }
    }

    func testLSTMIsBitIdenticalForEveryThreadCount() throws {
        try check("LSTM") { try LSTM(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: true, seed: 3) }
    }

    func testGRUIsBitIdenticalForEveryThreadCount() throws {
        try check("GRU") { try GRU(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: true, seed: 3) }
    }

    /// The team size a layer takes: one worker for small steps and for projections, more for
    /// larger ones, never more than the threads or the 16-column panels of hidden units.
    func testTeamSizeFollowsTheStepSize() {
        ComputeThreads.set(4)
        XCTAssertEqual(FusedRecurrence.teamSize(batch: 16, hidden: 64, gates: 1, depth: 64, hasProjection: false), 1)
        XCTAssertEqual(FusedRecurrence.teamSize(batch: 32, hidden: 128, gates: 4, depth: 128, hasProjection: false), 4)
        XCTAssertEqual(FusedRecurrence.teamSize(batch: 32, hidden: 128, gates: 4, depth: 128, hasProjection: true), 1)
        XCTAssertEqual(FusedRecurrence.teamSize(batch: 64, hidden: 20, gates: 4, depth: 20, hasProjection: false), 1)
        XCTAssertEqual(FusedRecurrence.teamSize(batch: 256, hidden: 32, gates: 4, depth: 32, hasProjection: false), 2)
        ComputeThreads.set(1)
        XCTAssertEqual(FusedRecurrence.teamSize(batch: 32, hidden: 128, gates: 4, depth: 128, hasProjection: false), 1)
    }

    /// The backward's packed paths (dX on the packed kernel; dW_ih and dW_hh on the AVX-512
    /// transposed-A kernel, for products of 4M multiply-adds and more) agree with OpenBLAS's
    /// (the portable level) to rounding, for every gradient of a layer large enough to take them.
    func testPackedBackwardAgreesWithBLAS() throws {
        ComputeThreads.set(1)
        let levels = CPUCapability.allCases.filter { $0 <= CPUCapability.current }
        guard levels.count > 1 else { throw XCTSkip("only the portable kernels run here") }
        var results: [[[Float]]] = []
        for level in levels {
            results.append(try CPUCapability.withCapability(level) {
                try everything({ try LSTM(inputSize: 12, hiddenSize: 128, numLayers: 2, batchFirst: $0, bidirectional: true, seed: 4) },
                               batchFirst: true, lengths: nil, batch: 48, steps: 9)
            })
        }
        for (level, result) in zip(levels.dropFirst(), results.dropFirst()) {
            for (i, (a, b)) in zip(result, results[0]).enumerated() {
                let scale = b.map { abs($0) }.max() ?? 1
                for (x, y) in zip(a, b) where abs(x - y) > 1e-4 * Swift.max(scale, 1) {
                    XCTFail("\(level): result \(i): \(x) against the portable \(y)")
                    break
                }
            }
        }
    }
}
