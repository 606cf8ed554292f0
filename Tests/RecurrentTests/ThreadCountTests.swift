import XCTest
@testable import Recurrent

/// Results do not depend on the thread count: a layer's team of workers splits only work
/// whose every element is computed the same way whichever worker computes it (ranges of
/// hidden units, or of batch items whose rows keep their kernel tiles; no reduction is
/// split), so outputs, final states and every gradient are
/// bit-identical for 1, 2 and 4 threads. The sizes are large enough for every layer to
/// take a team of several workers (``FusedRecurrence/teamSize(batch:hidden:gates:depth:hasProjection:)``),
/// and the hidden size (80) is not a multiple of the 16-column panels.
final class ThreadCountTests: ThreadSettingsTestCase {

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
                    assertBitIdentical(try everything(make, batchFirst: batchFirst, lengths: lengths), reference,
                                       "\(name), batchFirst \(batchFirst), lengths \(lengths != nil), \(threads) threads", file: file, line: line)
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

    /// Bidirectional cell variants in training (the GRU with the reset before the product, the
    /// LSTM with peepholes: ``FusedVariantRecurrence``), and a small LSTM whose directions run
    /// side by side at every thread count (one 16-column panel: a team of one): each layer's
    /// two directions are one node whose backward runs them side by side or one after the
    /// other (``BidirectionalNode``), with the same bits.
    func testBidirectionalVariantsAndSmallLayersAreBitIdenticalForEveryThreadCount() throws {
        try check("GRU reset before") {
            try GRU(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: true, resetAfter: false, seed: 3)
        }
        try check("LSTM peepholes") {
            try LSTM(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: true, peepholes: true, seed: 3)
        }
        try check("small LSTM") { try LSTM(inputSize: 12, hiddenSize: 16, numLayers: 2, batchFirst: $0, bidirectional: true, seed: 3) }
    }

    /// A layer-normalised module with every regulariser on, in training: outputs, final
    /// states and every gradient are bit-identical for 1, 2 and 4 threads (each run makes the
    /// module afresh, so that its seeded stream draws the same masks). The batch (64, four
    /// blocks of rows) and hidden size give a step's products to four workers
    /// (``LayerNormRecurrence/teamSize(batch:hidden:gates:)``); with two threads the two
    /// directions run side by side.
    func testRegularisedLayerNormLayersAreBitIdenticalForEveryThreadCount() throws {
        let r = RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.2, zoneoutCell: 0.25, weightDrop: 0.2, seed: 8)
        var gruR = r
        gruR.zoneoutCell = 0
        let (T, B, I, H) = (6, 64, 12, 64)
        let lengths = (0..<B).map { 1 + ($0 * 5) % T }
        for lstm in [true, false] {
            for (batchFirst, lengths) in [(true, lengths), (false, nil)] as [(Bool, [Int]?)] {
                func everything() throws -> [[Float]] {
                    let module: LayerNormRecurrentBase = lstm
                        ? try LayerNormLSTM(inputSize: I, hiddenSize: H, numLayers: 2, batchFirst: batchFirst, bidirectional: true,
                                            regularizers: r, seed: 3)
                        : try LayerNormGRU(inputSize: I, hiddenSize: H, numLayers: 2, batchFirst: batchFirst, bidirectional: true,
                                           regularizers: gruR, seed: 3)
                    var generator = SeededGenerator(seed: 5)
                    let x = Tensor(uniform: batchFirst ? [B, T, I] : [T, B, I], low: -1, high: 1, using: &generator)
                    x.requiresGrad = true
                    let h0 = Tensor(uniform: [4, B, H], low: -0.5, high: 0.5, using: &generator)
                    h0.requiresGrad = true
                    let c0: Tensor? = lstm ? Tensor(uniform: [4, B, H], low: -0.5, high: 0.5, using: &generator) : nil
                    c0?.requiresGrad = true
                    let (y, hN, cN) = try module.forwardLayers(x, h0: h0, c0: c0, lengths: lengths)
                    var loss = (y * y).sum() + hN.sum()
                    if let cN { loss = loss + (cN * cN).sum() }
                    loss.backward()
                    var results = [y.scalars, hN.scalars, cN?.scalars ?? [], try XCTUnwrap(x.grad).scalars, try XCTUnwrap(h0.grad).scalars]
                    if let c0 { results.append(try XCTUnwrap(c0.grad).scalars) }
                    for p in module.parameters() { results.append(try XCTUnwrap(p.grad).scalars) }
                    return results
                }
                let name = "\(lstm ? "LayerNormLSTM" : "LayerNormGRU"), batchFirst \(batchFirst), lengths \(lengths != nil)"
                ComputeThreads.set(1)
                let reference = try everything()
                XCTAssertTrue(reference.allSatisfy { $0.allSatisfy(\.isFinite) }, name)
                for threads in [2, 4] {
                    ComputeThreads.set(threads)
                    if PackedGEMM.isAvailable {
                        XCTAssertEqual(LayerNormRecurrence.teamSize(batch: B, hidden: H, gates: lstm ? 4 : 3), threads, name)
                    }
                    assertBitIdentical(try everything(), reference, "\(name), \(threads) threads", file: #filePath, line: #line)
                }
            }
        }
    }

    /// The team size a layer takes: one worker for small steps and for projections, more for
    /// larger ones, never more than the threads or the 16-column panels of hidden units.
    /// Inference split by batch items (``BatchSplitRecurrence``, forced on wherever it keeps
    /// the bits) gives one thread's outputs and final states bit for bit: every cell kind, one
    /// and two directions, both layouts, with and without lengths, batch sizes whose parts
    /// have row tiles of every height.
    func testInferenceSplitByBatchItemsIsBitIdentical() throws {
        BatchSplitRecurrence.override = true
        var split = 0
        for kind in [CellKind.rnnTanh, .lstm, .gru] {
            for bidirectional in [false, true] {
                for batchFirst in [true, false] {
                    for B in [2, 5, 7, 10, 13, 24] {
                        for withLengths in [false, true] {
                            let module = try RecurrentBase(kind: kind, inputSize: 12, hiddenSize: 40, numLayers: 2, bias: true,
                                                           batchFirst: batchFirst, dropout: 0, bidirectional: bidirectional,
                                                           projSize: 0, seed: 3, regularizers: .none)
                            let D = bidirectional ? 2 : 1, T = 20
                            var generator = SeededGenerator(seed: UInt64(B))
                            let x = Tensor(uniform: batchFirst ? [B, T, 12] : [T, B, 12], low: -1, high: 1, using: &generator)
                            let h0 = Tensor(uniform: [2 * D, B, 40], low: -0.5, high: 0.5, using: &generator)
                            let c0 = kind == .lstm ? Tensor(uniform: [2 * D, B, 40], low: -0.5, high: 0.5, using: &generator) : nil
                            let lengths = withLengths ? (0..<B).map { 1 + ($0 * 5) % T } : nil
                            func run(_ threads: Int) throws -> [[Float]] {
                                ComputeThreads.set(threads)
                                let r = try withoutGradients { try module.forward(x, h0: h0, c0: c0, lengths: lengths) }
                                return [r.output.scalars, r.hN.scalars] + (r.cN.map { [$0.scalars] } ?? [])
                            }
                            let reference = try run(1)
                            let layout = SequenceLayout(steps: T, batch: B, batchFirst: batchFirst)
                            for threads in [2, 4] {
                                ComputeThreads.set(threads)
                                if BatchSplitRecurrence.parts(layout: layout, stepMultiplyAdds: 1) != nil { split += 1 }
                                assertBitIdentical(try run(threads), reference,
                                                   "\(kind) D \(D) batchFirst \(batchFirst) B \(B) lengths \(withLengths) threads \(threads)",
                                                   file: #filePath, line: #line)
                            }
                        }
                    }
                }
            }
        }
        // Many of these batches do split (the others' parts would change a row's tile);
        // without the packed kernels (the portable level) none does.
        if PackedGEMM.isAvailable {
            XCTAssertGreaterThanOrEqual(split, 3 * 2 * 2 * 6 * 2 * 2 / 3)
        } else {
            XCTAssertEqual(split, 0)
        }
    }

    /// A 2-layer variant cell of input 12 in evaluation mode (zoneout's expectation on `h`, and
    /// on `c` for an LSTM), for the inference split's tests.
    private func evaluatedVariant(_ kind: CellKind, resetAfter: Bool, peepholes: Bool, zoneout: Float, hidden: Int,
                                  batchFirst: Bool, bidirectional: Bool) throws -> RecurrentBase {
        let module = try RecurrentBase(kind: kind, inputSize: 12, hiddenSize: hidden, numLayers: 2, bias: true,
                                       batchFirst: batchFirst, dropout: 0, bidirectional: bidirectional, projSize: 0, seed: 4,
                                       resetAfter: resetAfter, peepholes: peepholes,
                                       regularizers: RecurrentRegularizers(zoneoutHidden: zoneout, zoneoutCell: kind == .lstm ? zoneout : 0))
        module.eval()
        return module
    }

    /// The split declines a part whose rows would change their number of accumulator chains:
    /// 7 items in parts of 4 and 3 keep the tiles (4, 3) of the whole step product, but the
    /// projection of 3 items × 1 step has a 3-row tile where the whole (7 rows) has 4 and 3.
    /// The same for the cell variants (peepholes, the reset gate before the product) and
    /// zoneout's expectation in evaluation mode, which draw nothing.
    func testInferenceSplitOfTheCellVariantsIsBitIdentical() throws {
        BatchSplitRecurrence.override = true
        for (kind, resetAfter, peepholes, zoneout) in [(CellKind.lstm, true, true, Float(0)), (.gru, false, false, 0), (.lstm, true, false, 0.25)] {
            for bidirectional in [false, true] {
                for batchFirst in [true, false] {
                    let module = try evaluatedVariant(kind, resetAfter: resetAfter, peepholes: peepholes, zoneout: zoneout,
                                                      hidden: 40, batchFirst: batchFirst, bidirectional: bidirectional)
                    let D = bidirectional ? 2 : 1, B = 24, T = 20
                    var generator = SeededGenerator(seed: 9)
                    let x = Tensor(uniform: batchFirst ? [B, T, 12] : [T, B, 12], low: -1, high: 1, using: &generator)
                    let h0 = Tensor(uniform: [2 * D, B, 40], low: -0.5, high: 0.5, using: &generator)
                    let lengths = (0..<B).map { 1 + ($0 * 7) % T }
                    func run(_ threads: Int) throws -> [[Float]] {
                        ComputeThreads.set(threads)
                        let r = try withoutGradients { try module.forward(x, h0: h0, lengths: lengths) }
                        return [r.output.scalars, r.hN.scalars] + (r.cN.map { [$0.scalars] } ?? [])
                    }
                    let reference = try run(1)
                    for threads in [2, 4] {
                        assertBitIdentical(try run(threads), reference,
                                           "\(kind) resetAfter \(resetAfter) peepholes \(peepholes) zoneout \(zoneout) D \(D) batchFirst \(batchFirst) threads \(threads)",
                                           file: #filePath, line: #line)
                    }
                }
            }
        }
    }

    /// Training of the cell variants (``FusedVariantRecurrence``: peepholes, the reset gate
    /// before the product, zoneout's expectation in evaluation mode, and in training recurrent
    /// dropout and zoneout's drawn masks) with the steps split by batch items: outputs, final
    /// states and every gradient have one thread's bits at 2 and 4 threads, with the split
    /// forced (`RECURRENT_BATCH_SPLIT=1`) and off (`=0`; the policy takes one of the two); one and two
    /// directions, both layouts, with and without lengths. A member that read or wrote another
    /// item's rows (a wrong item offset in the forward's products and cells or in the
    /// backward's) would change the results of the split runs only, and fail here. The batch
    /// sizes give every worker at least 5 items, and the split is checked to be taken.
    func testTrainingSplitOfTheCellVariantsIsBitIdentical() throws {
        typealias Make = (Bool, Bool) throws -> RecurrentBase
        let variants: [(String, CellKind, Make)] = [
            ("LSTM peepholes", .lstm, { try LSTM(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: $1, peepholes: true, seed: 3) }),
            ("GRU reset before", .gru, { try GRU(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: $1, resetAfter: false, seed: 3) }),
            ("LSTM zoneout in evaluation", .lstm, {
                let lstm = try LSTM(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: $1,
                                    regularizers: RecurrentRegularizers(zoneoutHidden: 0.25, zoneoutCell: 0.2), seed: 3)
                lstm.eval()
                return lstm
            }),
            ("GRU reset before, recurrent dropout and zoneout in training", .gru, {
                try GRU(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, bidirectional: $1, resetAfter: false,
                        regularizers: RecurrentRegularizers(recurrentDropout: 0.3, zoneoutHidden: 0.2, seed: 8), seed: 3)
            }),
        ]
        var splits = 0
        for (name, kind, make) in variants {
            for bidirectional in [false, true] {
                for batchFirst in [true, false] {
                    for B in [10, 24] {
                        for withLengths in [false, true] {
                            let lengths = withLengths ? (0..<B).map { 1 + ($0 * 5) % 7 } : nil
                            let what = "\(name), bidirectional \(bidirectional), batchFirst \(batchFirst), B \(B), lengths \(withLengths)"
                            BatchSplitRecurrence.override = nil
                            ComputeThreads.set(1)
                            let reference = try everything({ try make($0, bidirectional) }, batchFirst: batchFirst, lengths: lengths, batch: B)
                            XCTAssertTrue(reference.allSatisfy { $0.allSatisfy(\.isFinite) }, what)
                            for mode in [true, false] as [Bool?] {   // (the policy takes one of the two)
                                BatchSplitRecurrence.override = mode
                                for threads in [2, 4] {
                                    ComputeThreads.set(threads)
                                    let (_, workers, split) = FusedVariantRecurrence.stepTeam(batch: B, hidden: 80, gates: kind.gateCount)
                                    if mode == true && split { splits += 1 }
                                    if mode == true && workers >= 2 && B / workers >= BatchSplitRecurrence.minimumRowsPerWorker {
                                        XCTAssertTrue(split, "\(what): \(workers) workers of \(threads) threads")
                                    }
                                    assertBitIdentical(try everything({ try make($0, bidirectional) }, batchFirst: batchFirst, lengths: lengths, batch: B),
                                                       reference, "\(what), split \(mode.map(String.init) ?? "policy"), \(threads) threads",
                                                       file: #filePath, line: #line)
                                }
                            }
                        }
                    }
                }
            }
        }
        // With the packed kernels, every team whose workers get 5 items or more splits (each
        // part keeps its rows' tiles; an LSTM's 10 items on 3 workers do not); without them
        // (the portable level) none does.
        if PackedGEMM.isAvailable {
            XCTAssertGreaterThanOrEqual(splits, 4 * 2 * 2 * 2 * 2 * 2 * 3 / 4)
        } else {
            XCTAssertEqual(splits, 0)
        }
    }

    /// Inference of the cell variants with the module's split off (as where its parts would
    /// not keep the projection's tiles): the layers' steps split by items without recording
    /// (their per-step scratch rows are the items' own) and give one thread's outputs and
    /// final states, bit for bit.
    func testInferenceSplitWithinAVariantLayerIsBitIdentical() throws {
        BatchSplitRecurrence.override = true
        for (kind, resetAfter, peepholes, zoneout) in [(CellKind.lstm, true, true, Float(0)), (.gru, false, false, 0.2), (.lstm, true, false, 0.25)] {
            for batchFirst in [true, false] {
                let module = try evaluatedVariant(kind, resetAfter: resetAfter, peepholes: peepholes, zoneout: zoneout,
                                                  hidden: 80, batchFirst: batchFirst, bidirectional: false)
                let B = 24, T = 9
                var generator = SeededGenerator(seed: 9)
                let x = Tensor(uniform: batchFirst ? [B, T, 12] : [T, B, 12], low: -1, high: 1, using: &generator)
                let h0 = Tensor(uniform: [2, B, 80], low: -0.5, high: 0.5, using: &generator)
                for lengths in [nil, (0..<B).map { 1 + ($0 * 7) % T }] {
                    func run(_ threads: Int) throws -> [[Float]] {
                        ComputeThreads.set(threads)
                        let r = try withoutGradients { try module.forwardLayers(x, h0: h0, c0: nil, lengths: lengths, splitting: false) }
                        return [r.output.scalars, r.hN.scalars] + (r.cN.map { [$0.scalars] } ?? [])
                    }
                    let reference = try run(1)
                    for threads in [2, 4] {
                        let what = "\(kind) resetAfter \(resetAfter) peepholes \(peepholes) zoneout \(zoneout) batchFirst \(batchFirst) lengths \(lengths != nil) threads \(threads)"
                        let result = try run(threads)
                        XCTAssertEqual(FusedVariantRecurrence.stepTeam(batch: B, hidden: 80, gates: kind.gateCount).itemSplit,
                                       PackedGEMM.isAvailable, what)
                        assertBitIdentical(result, reference, what, file: #filePath, line: #line)
                    }
                }
            }
        }
    }

    func testBatchSplitKeepsEveryRowsChains() {
        XCTAssertTrue(BatchSplitRecurrence.keepsBits(layout: SequenceLayout(steps: 50, batch: 32, batchFirst: true), part: 0..<16))
        XCTAssertTrue(BatchSplitRecurrence.keepsBits(layout: SequenceLayout(steps: 50, batch: 32, batchFirst: false), part: 16..<32))
        // 8 items, one step: the whole product's tiles are 4, 4 (one chain each); a part of 3
        // items is one 3-row tile (two chains).
        XCTAssertFalse(BatchSplitRecurrence.keepsBits(layout: SequenceLayout(steps: 1, batch: 8, batchFirst: true), part: 5..<8))
        XCTAssertTrue(BatchSplitRecurrence.keepsBits(layout: SequenceLayout(steps: 1, batch: 8, batchFirst: true), part: 4..<8))
    }

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

// MARK: - Stacked layers as a wavefront

extension ThreadCountTests {
    /// Runs `make`'s stacked unidirectional module on one thread layer by layer, then as a
    /// wavefront (forced) on 2, 3 and 4 threads, for shapes whose chunked input projections
    /// take every kind of run (contiguous, per step, per item; a sequence-wide product whose
    /// last rows take the two-chain arithmetic: 5 × 11 = 55 rows), both layouts, with and
    /// without lengths: every output and gradient must be bit-identical.
    private func checkWavefront(_ name: String, _ make: (Bool) throws -> RecurrentBase,
                                file: StaticString = #filePath, line: UInt = #line) throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        for (batch, steps) in [(24, 7), (5, 11), (3, 9), (1, 40)] {
            for batchFirst in [true, false] {
                for lengths in [nil, (0..<batch).map { $0 == 0 ? steps : 1 + ($0 * 5) % steps }] as [[Int]?] {
                    WavefrontRecurrence.override = false
                    ComputeThreads.set(1)
                    let reference = try everything(make, batchFirst: batchFirst, lengths: lengths, batch: batch, steps: steps)
                    XCTAssertTrue(reference.allSatisfy { $0.allSatisfy(\.isFinite) }, name, file: file, line: line)
                    WavefrontRecurrence.override = true
                    for threads in [2, 3, 4] {
                        ComputeThreads.set(threads)
                        let module = try make(batchFirst)
                        let layout = SequenceLayout(steps: steps, batch: batch, batchFirst: batchFirst)
                        XCTAssertNotNil(WavefrontRecurrence.groupSize(kind: module.kind, layout: layout, weights: module.weights[...],
                                                                      dropoutBetweenLayers: false),
                                        "\(name): \(batch) × \(steps) takes no wavefront", file: file, line: line)
                        assertBitIdentical(try everything(make, batchFirst: batchFirst, lengths: lengths, batch: batch, steps: steps), reference,
                                           "\(name), \(batch) × \(steps), batchFirst \(batchFirst), lengths \(lengths != nil), \(threads) threads",
                                           file: file, line: line)
                    }
                }
            }
        }
    }

    func testStackedRNNTanhAsAWavefrontIsBitIdentical() throws {
        try checkWavefront("RNN tanh, 2 layers") { try RNN(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, seed: 3) }
        try checkWavefront("RNN tanh, 3 layers") { try RNN(inputSize: 12, hiddenSize: 40, numLayers: 3, batchFirst: $0, seed: 3) }
    }

    func testStackedRNNReLUAsAWavefrontIsBitIdentical() throws {
        try checkWavefront("RNN relu, 2 layers") { try RNN(inputSize: 12, hiddenSize: 80, numLayers: 2, nonlinearity: .relu, batchFirst: $0, seed: 3) }
    }

    func testStackedLSTMAsAWavefrontIsBitIdentical() throws {
        try checkWavefront("LSTM, 2 layers") { try LSTM(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, seed: 3) }
        try checkWavefront("LSTM, 3 layers") { try LSTM(inputSize: 12, hiddenSize: 40, numLayers: 3, batchFirst: $0, seed: 3) }
    }

    func testStackedGRUAsAWavefrontIsBitIdentical() throws {
        try checkWavefront("GRU, 2 layers") { try GRU(inputSize: 12, hiddenSize: 80, numLayers: 2, batchFirst: $0, seed: 3) }
        try checkWavefront("GRU, 3 layers") { try GRU(inputSize: 12, hiddenSize: 40, numLayers: 3, batchFirst: $0, seed: 3) }
    }

    /// A stack of a few items per step: the forward runs as a wavefront (forced: the policy
    /// splits these by columns), the backward layer after layer by policy or forced to a
    /// wavefront (the backward's `dX` handed down packed), and every output and gradient keeps
    /// one thread's bits.
    func testStackedBackwardAsAWavefrontByPolicyIsBitIdentical() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        for (make, gates) in [({ try LSTM(inputSize: 12, hiddenSize: 128, numLayers: 3, batchFirst: $0, seed: 7) }, 4),
                              ({ try GRU(inputSize: 12, hiddenSize: 128, numLayers: 2, batchFirst: $0, seed: 7) }, 3)]
            as [((Bool) throws -> RecurrentBase, Int)] {
            for (batch, steps) in [(4, 24), (2, 48)] {
                for batchFirst in [true, false] {
                    let layout = SequenceLayout(steps: steps, batch: batch, batchFirst: batchFirst)
                    XCTAssertNotNil(WavefrontNode.handOffPlan(layout: layout, gates: gates * 128, inputs: 128))
                    for lengths in [nil, (0..<batch).map { steps - 3 * $0 }] as [[Int]?] {
                        ComputeThreads.set(1)
                        let reference = try everything(make, batchFirst: batchFirst, lengths: lengths, batch: batch, steps: steps)
                        for threads in [2, 4] {
                            ComputeThreads.set(threads)
                            let module = try make(batchFirst)
                            WavefrontRecurrence.override = true
                            defer { WavefrontRecurrence.override = nil }
                            XCTAssertNotNil(WavefrontRecurrence.groupSize(kind: module.kind, layout: layout, weights: module.weights[...],
                                                                          dropoutBetweenLayers: false), "\(module.kind): no wavefront")
                            for backward in [nil, true] as [Bool?] {   // nil: the policy, layer after layer
                                WavefrontNode.override = backward
                                assertBitIdentical(try everything(make, batchFirst: batchFirst, lengths: lengths, batch: batch, steps: steps),
                                                   reference, "\(module.kind), \(batch) × \(steps), batchFirst \(batchFirst), "
                                                       + "lengths \(lengths != nil), \(threads) threads, backward wavefront \(String(describing: backward))",
                                                   file: #filePath, line: #line)
                            }
                        }
                    }
                }
            }
        }
    }

    /// The wavefront's forward where the layers record no node (inference) or record one for
    /// the weights only (an input that needs no gradient): bit-identical to one thread's.
    func testStackedForwardAsAWavefrontWithoutInputGradientsIsBitIdentical() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        let lstm = try LSTM(inputSize: 16, hiddenSize: 48, numLayers: 2, batchFirst: true, seed: 8)
        var generator = SeededGenerator(seed: 9)
        let x = Tensor(uniform: [32, 12, 16], low: -1, high: 1, using: &generator)
        func run() throws -> [[Float]] {
            lstm.zeroGrad()
            let inference = try withoutGradients { try lstm(x) }
            let (y, state) = try lstm(x)
            (y.sum() + state.c.sum()).backward()
            return [inference.0.scalars, inference.1.h.scalars, inference.1.c.scalars, y.scalars]
                + (try lstm.parameters().map { try XCTUnwrap($0.grad).scalars })
        }
        WavefrontRecurrence.override = false
        ComputeThreads.set(1)
        let reference = try run()
        WavefrontRecurrence.override = true
        ComputeThreads.set(2)
        assertBitIdentical(try run(), reference, "LSTM, 2 layers, no input gradient", file: #filePath, line: #line)
    }

    /// A wavefront's input projection, chunk by chunk, gives the sequence-wide product's bits
    /// for every layout it accepts (row counts around the packed kernel's tile heights, whose
    /// last rows sometimes take the two-chain arithmetic), and it accepts the benchmark's
    /// shapes.
    func testChunkedProjectionKeepsTheSequenceWideBits() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        let (I, N) = (9, 40)
        var generator = SeededGenerator(seed: 11)
        let w = Tensor(uniform: [N, I], low: -1, high: 1, using: &generator)
        let packed = UnsafeMutablePointer<Float>.allocate(capacity: PackedGEMM.packedCount(columns: N, depth: I))
        defer { packed.deallocate() }
        PackedGEMM.pack(MatrixView(w.storage.pointer, rows: N, columns: I, leadingDimension: I), .transpose, into: packed)
        var accepted = 0
        // The sequence-wide product as one product (the forward's projection) or as separate
        // row chunks (the backward's dX, handed down by a wavefront backward).
        for products in [1, 3] {
            for steps in 2...14 {
                for batch in 1...9 {
                    for batchFirst in [false, true] {
                        let layout = SequenceLayout(steps: steps, batch: batch, batchFirst: batchFirst)
                        guard let plan = ProjectionPlan(layout: layout, products: products) else { continue }
                        accepted += 1
                        let R = layout.rows
                        let x = Tensor(uniform: [R, I], low: -1, high: 1, using: &generator)
                        var whole = [Float](repeating: 0, count: R * N), chunked = [Float](repeating: .nan, count: R * N)
                        whole.withUnsafeMutableBufferPointer { c in
                            for p in 0..<products {
                                let rows = FusedRecurrence.chunk(p, of: products, total: R)
                                PackedGEMM.multiply(MatrixView(x.storage.pointer + rows.lowerBound * I, rows: rows.count, columns: I, leadingDimension: I),
                                                    packed: packed, columns: N,
                                                    into: MutableMatrixView(c.baseAddress! + rows.lowerBound * N, rows: rows.count, columns: N,
                                                                            leadingDimension: N))
                            }
                        }
                        chunked.withUnsafeMutableBufferPointer { c in
                            for chunk in 0..<plan.chunkCount {
                                XCTAssertTrue(plan.forEachProduct(inChunk: chunk) { rows in
                                    PackedGEMM.multiply(MatrixView(x.storage.pointer + rows.first * I, rows: rows.count, columns: I,
                                                                   leadingDimension: rows.stride * I),
                                                        packed: packed, columns: N,
                                                        into: MutableMatrixView(c.baseAddress! + rows.first * N, rows: rows.count, columns: N,
                                                                                leadingDimension: rows.stride * N))
                                })
                            }
                        }
                        XCTAssertTrue(zip(whole, chunked).allSatisfy { $0.bitPattern == $1.bitPattern },
                                      "\(batch) × \(steps), batchFirst \(batchFirst), \(products) products: the chunked projection differs")
                    }
                }
            }
        }
        XCTAssertGreaterThan(accepted, 300)
        for (steps, batch) in [(50, 32), (100, 64), (100, 1)] {
            for batchFirst in [false, true] {
                XCTAssertNotNil(ProjectionPlan(layout: SequenceLayout(steps: steps, batch: batch, batchFirst: batchFirst)), "\(batch) × \(steps)")
            }
        }
    }

    /// The policy: a wavefront for stacks of gated cells whose steps are large enough for two
    /// workers but not for the column split to take them all, or for a GRU's of many items,
    /// two threads or more, and nothing it does not support; the override turns it off or
    /// forces it.
    func testWavefrontPolicy() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("the wavefront needs the packed kernels") }
        let layout = SequenceLayout(steps: 50, batch: 32, batchFirst: true)
        let medium = try LSTM(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true, seed: 1)
        let small = try RNN(inputSize: 64, hiddenSize: 16, numLayers: 2, batchFirst: true, seed: 1)
        let bidirectional = try GRU(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true, bidirectional: true, seed: 1)
        let projected = try LSTM(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true, projSize: 32, seed: 1)
        let fewItems = SequenceLayout(steps: 50, batch: 4, batchFirst: true)
        func group(_ module: RecurrentBase, dropout: Bool = false, layout: SequenceLayout = layout) -> Int? {
            WavefrontRecurrence.groupSize(kind: module.kind, layout: layout, weights: module.weights[...], dropoutBetweenLayers: dropout)
        }
        WavefrontRecurrence.override = nil
        ComputeThreads.set(2)
        XCTAssertNil(group(medium), "32 items: each layer's steps split by items")
        let wide = try LSTM(inputSize: 64, hiddenSize: 256, numLayers: 2, batchFirst: true, seed: 1)
        XCTAssertNil(group(wide, layout: fewItems), "4 items (lstm-batch4): the column split takes both workers")
        let oneItem = SequenceLayout(steps: 50, batch: 1, batchFirst: true)
        XCTAssertNil(group(wide, layout: oneItem), "1 item, hidden 256 (lstm-latency): the column split takes both workers")
        XCTAssertEqual(group(medium, layout: oneItem), 2, "1 item, hidden 128: too small a step for the column split")
        XCTAssertNil(group(medium, dropout: true, layout: oneItem))
        let gru = try GRU(inputSize: 64, hiddenSize: 256, numLayers: 2, batchFirst: true, seed: 1)
        let manyItems = SequenceLayout(steps: 50, batch: 64, batchFirst: true)
        XCTAssertEqual(group(gru, layout: manyItems), 2, "a GRU's 64 items, steps too large for the item split")
        XCTAssertNil(group(try LSTM(inputSize: 64, hiddenSize: 256, numLayers: 2, batchFirst: true, seed: 1), layout: manyItems),
                     "an LSTM's 64 items split by columns")
        XCTAssertNil(group(gru, layout: SequenceLayout(steps: 50, batch: 4, batchFirst: true)), "a GRU's 4 items split by columns")
        // Hidden 512, 3 · 512 · 512 multiply-adds an item: 2 items stay below the GRU's
        // threshold, 3 reach it (too few for the item split either way).
        let wideGRU = try GRU(inputSize: 64, hiddenSize: 512, numLayers: 2, batchFirst: true, seed: 1)
        XCTAssertLessThan(2 * 3 * 512 * 512, WavefrontRecurrence.minimumGRUStepMultiplyAdds)
        XCTAssertGreaterThanOrEqual(3 * 3 * 512 * 512, WavefrontRecurrence.minimumGRUStepMultiplyAdds)
        XCTAssertNil(group(wideGRU, layout: SequenceLayout(steps: 50, batch: 2, batchFirst: true)))
        XCTAssertEqual(group(wideGRU, layout: SequenceLayout(steps: 50, batch: 3, batchFirst: true)), 2)
        XCTAssertNil(group(small))
        XCTAssertNil(group(bidirectional))
        XCTAssertNil(group(projected))
        XCTAssertNil(group(try RNN(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true, seed: 1)), "a plain RNN splits by columns")
        XCTAssertNil(WavefrontRecurrence.groupSize(kind: .lstm, layout: layout, weights: medium.weights[1...], dropoutBetweenLayers: false), "a single layer")
        ComputeThreads.set(1)
        XCTAssertNil(group(medium))
        ComputeThreads.set(4)
        XCTAssertNil(group(medium), "the column split takes 4 threads")
        WavefrontRecurrence.override = true
        XCTAssertEqual(group(medium), 2)
        XCTAssertEqual(group(small), 2)
        XCTAssertNil(group(bidirectional))
        ComputeThreads.set(2)
        WavefrontRecurrence.override = false
        XCTAssertNil(group(medium))
        // Balance: lstm-medium's first layer projects 64 deep, the second 128; the first worker
        // takes 32 of the second layer's 128 units. Per step, in B·4H multiply-adds: 128 + 64
        // + 32 = 224 on the first worker, 128 + 96 = 224 on the second.
        XCTAssertEqual(WavefrontRecurrence.sharedUnits(inputWidths: [64, 128], stateWidth: 128, hidden: 128), [0, 32])
        XCTAssertEqual(WavefrontRecurrence.sharedUnits(inputWidths: [256, 128], stateWidth: 128, hidden: 128), [0, 0])
        XCTAssertEqual(WavefrontRecurrence.sharedUnits(inputWidths: [128, 128, 128], stateWidth: 128, hidden: 128), [0, 0, 0])
        XCTAssertEqual(WavefrontRecurrence.sharedUnits(inputWidths: [0, 64], stateWidth: 64, hidden: 64), [0, 32])
    }
}
