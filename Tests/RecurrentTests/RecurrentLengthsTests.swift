import XCTest
@testable import Recurrent

/// Variable-length batches: every sequence of a padded batch, in any order of lengths,
/// gives exactly what it gives when run alone — outputs (zero past its length), final
/// states, and gradients with respect to its input and initial state; the parameter
/// gradients of the batch are the sums of the sequences' own.
final class RecurrentLengthsTests: XCTestCase {
    typealias Kit = RecurrentTestKit

    func checkAgainstAlone(_ kind: Kit.Kind, bidirectional: Bool, batchFirst: Bool, lengths: [Int] = [3, 5, 1, 4],
                           steps: Int = 5, layers: Int = 2, withState: Bool = true,
                           file: StaticString = #filePath, line: UInt = #line) throws {
        let what = "\(kind) bidirectional \(bidirectional) batchFirst \(batchFirst) lengths \(lengths)"
        let m = try Kit.make(kind, inputSize: 3, hiddenSize: 4, numLayers: layers, batchFirst: batchFirst,
                             bidirectional: bidirectional, seed: 21)
        let B = lengths.count, T = steps, batchDim = batchFirst ? 0 : 1
        let x = Kit.random(Kit.inputShape(m, batch: B, steps: T), seed: 1, requiresGrad: true)
        let h0 = withState ? Kit.random(Kit.stateShape(m, batch: B), seed: 2, requiresGrad: true) : nil
        let c0 = withState && m is LSTM ? Kit.random(Kit.stateShape(m, batch: B, cell: true), seed: 3, requiresGrad: true) : nil

        // The batch, with one loss over every output and final state.
        let seedOut = Kit.random([T, B, m.numDirections * m.outputHiddenSize].permutedIf(batchFirst), seed: 4)
        let seedH = Kit.random(Kit.stateShape(m, batch: B), seed: 5)
        let seedC = Kit.random(Kit.stateShape(m, batch: B, cell: true), seed: 6)
        let batch = try Kit.run(m, x, h0: h0, c0: c0, lengths: lengths)
        var loss = (batch.output * seedOut).sum() + (batch.hN * seedH).sum()
        if let cN = batch.cN { loss = loss + (cN * seedC).sum() }
        m.zeroGrad()
        loss.backward()
        let batchParamGrads = m.parameters().map { $0.grad!.scalars }
        m.zeroGrad()

        for (b, len) in lengths.enumerated() {
            // The sequence alone: its first `len` steps, a batch of one.
            let alone = { (t: Tensor, requiresGrad: Bool) throws -> Tensor in
                let one = try t.select(dim: batchDim, index: b).narrow(dim: 0, start: 0, length: len)
                let shape = batchFirst ? [1, len, t.shape[2]] : [len, 1, t.shape[2]]
                return Tensor(shape: shape, scalars: one.scalars, requiresGrad: requiresGrad)
            }
            let stateAlone = { (t: Tensor?) -> Tensor? in
                guard let t else { return nil }
                let one = try t.select(dim: 1, index: b)
                return Tensor(shape: [t.shape[0], 1, t.shape[2]], scalars: one.scalars, requiresGrad: true)
            }
            let xb = try alone(x, true), h0b = try stateAlone(h0), c0b = try stateAlone(c0)
            let r = try Kit.run(m, xb, h0: h0b, c0: c0b)
            var lossB = try (r.output * alone(seedOut, false)).sum()
                + (r.hN * Kit.leaf(try seedH.select(dim: 1, index: b).reshaped(r.hN.shape), requiresGrad: false)).sum()
            if let cN = r.cN {
                lossB = lossB + (cN * Kit.leaf(try seedC.select(dim: 1, index: b).reshaped(cN.shape), requiresGrad: false)).sum()
            }
            lossB.backward()

            // Outputs: equal up to the length, exactly zero past it.
            let outB = try batch.output.select(dim: batchDim, index: b)          // (T, D·H)
            assertClose(try outB.narrow(dim: 0, start: 0, length: len).scalars, r.output.scalars, rtol: 1e-5, atol: 1e-6,
                        "\(what): output of sequence \(b)", file: file, line: line)
            if len < T {
                XCTAssertTrue(try outB.narrow(dim: 0, start: len, length: T - len).scalars.allSatisfy { $0 == 0 },
                              "\(what): output of sequence \(b) past its length", file: file, line: line)
            }
            // Final states.
            assertClose(try batch.hN.select(dim: 1, index: b).scalars, r.hN.scalars, rtol: 1e-5, atol: 1e-6,
                        "\(what): h_n of sequence \(b)", file: file, line: line)
            if let cN = batch.cN {
                assertClose(try cN.select(dim: 1, index: b).scalars, r.cN!.scalars, rtol: 1e-5, atol: 1e-6,
                            "\(what): c_n of sequence \(b)", file: file, line: line)
            }
            // Input gradients: equal up to the length, exactly zero past it.
            let gradB = try x.grad!.select(dim: batchDim, index: b)
            assertClose(try gradB.narrow(dim: 0, start: 0, length: len).scalars, xb.grad!.scalars, rtol: 1e-4, atol: 1e-6,
                        "\(what): input gradient of sequence \(b)", file: file, line: line)
            if len < T {
                XCTAssertTrue(try gradB.narrow(dim: 0, start: len, length: T - len).scalars.allSatisfy { $0 == 0 },
                              "\(what): input gradient of sequence \(b) past its length", file: file, line: line)
            }
            if let h0, let h0b {
                assertClose(try h0.grad!.select(dim: 1, index: b).scalars, h0b.grad!.scalars, rtol: 1e-4, atol: 1e-6,
                            "\(what): h0 gradient of sequence \(b)", file: file, line: line)
            }
            if let c0, let c0b {
                assertClose(try c0.grad!.select(dim: 1, index: b).scalars, c0b.grad!.scalars, rtol: 1e-4, atol: 1e-6,
                            "\(what): c0 gradient of sequence \(b)", file: file, line: line)
            }
        }
        // The sequences' parameter gradients (accumulated over the runs alone) sum to the batch's.
        for ((name, p), expected) in zip(m.namedParameters(), batchParamGrads) {
            assertClose(p.grad!.scalars, expected, rtol: 1e-4, atol: 1e-5, "\(what): gradient of \(name)", file: file, line: line)
        }
    }

    func testRNNLengthsEqualRunningEachSequenceAlone() throws {
        for bidirectional in [false, true] {
            for batchFirst in [false, true] {
                try checkAgainstAlone(.rnnTanh, bidirectional: bidirectional, batchFirst: batchFirst)
            }
        }
        try checkAgainstAlone(.rnnReLU, bidirectional: true, batchFirst: false)
    }

    func testLSTMLengthsEqualRunningEachSequenceAlone() throws {
        for bidirectional in [false, true] {
            for batchFirst in [false, true] {
                try checkAgainstAlone(.lstm, bidirectional: bidirectional, batchFirst: batchFirst)
            }
        }
        try checkAgainstAlone(.lstmProj, bidirectional: true, batchFirst: true)
        try checkAgainstAlone(.lstmProj, bidirectional: false, batchFirst: false, withState: false)
    }

    func testGRULengthsEqualRunningEachSequenceAlone() throws {
        for bidirectional in [false, true] {
            for batchFirst in [false, true] {
                try checkAgainstAlone(.gru, bidirectional: bidirectional, batchFirst: batchFirst)
            }
        }
        try checkAgainstAlone(.gru, bidirectional: true, batchFirst: true, withState: false)
    }

    /// Other orders and extremes: all full, all of length one, descending, a batch of one
    /// (the `gemv` path), three layers.
    func testLengthEdgeCases() throws {
        for kind in [Kit.Kind.rnnTanh, .lstm, .gru] {
            try checkAgainstAlone(kind, bidirectional: true, batchFirst: false, lengths: [5, 5, 5])
            try checkAgainstAlone(kind, bidirectional: true, batchFirst: true, lengths: [1, 1])
            try checkAgainstAlone(kind, bidirectional: true, batchFirst: false, lengths: [5, 4, 2, 1])
            try checkAgainstAlone(kind, bidirectional: true, batchFirst: true, lengths: [3])
            try checkAgainstAlone(kind, bidirectional: true, batchFirst: false, lengths: [2, 4, 3], layers: 3)
        }
    }

    /// Lengths that are all the full length give exactly the result without lengths.
    func testFullLengthsEqualNoLengths() throws {
        for kind in Kit.Kind.allCases {
            let m = try Kit.make(kind, inputSize: 3, hiddenSize: 4, numLayers: 2, bidirectional: true, seed: 5)
            let x = Kit.random([4, 3, 3], seed: 1)
            let a = try Kit.run(m, x), b = try Kit.run(m, x, lengths: [4, 4, 4])
            XCTAssertEqual(a.output.scalars, b.output.scalars, "\(kind)")
            XCTAssertEqual(a.hN.scalars, b.hN.scalars, "\(kind)")
            XCTAssertEqual(a.cN?.scalars, b.cN?.scalars, "\(kind)")
            // Unbatched input takes one length.
            let xu = Kit.random([4, 3], seed: 2)
            let u = try Kit.run(m, xu, lengths: [2])
            let alone = try Kit.run(m, try xu.narrow(dim: 0, start: 0, length: 2))
            assertClose(try u.output.narrow(dim: 0, start: 0, length: 2).scalars, alone.output.scalars, "\(kind) unbatched")
            XCTAssertTrue(try u.output.narrow(dim: 0, start: 2, length: 2).scalars.allSatisfy { $0 == 0 })
            assertClose(u.hN.scalars, alone.hN.scalars, "\(kind) unbatched h_n")
        }
    }
}

private extension Array where Element == Int {
    /// `[T, B, F]` as `[B, T, F]` when `batchFirst`.
    func permutedIf(_ batchFirst: Bool) -> [Int] { batchFirst ? [self[1], self[0], self[2]] : self }
}
