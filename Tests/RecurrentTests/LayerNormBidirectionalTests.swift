import XCTest
import LinearAlgebra
@testable import Recurrent

/// Bidirectional `LayerNormLSTM` and `LayerNormGRU` run their two directions side by side on
/// two workers where a direction alone would use few: the results (outputs, final states and
/// every gradient) are bit for bit those of the one-thread run, and gradient mode is honoured
/// on the workers.
final class LayerNormBidirectionalTests: XCTestCase {
    private var savedThreads = 1
    override func setUp() { savedThreads = ComputeThreads.count }
    override func tearDown() { ComputeThreads.set(savedThreads) }

    /// Two bidirectional layers over a batch of `B` with lengths: the loss, the outputs, the
    /// final states, the input's gradient and every parameter's gradient.
    private func results(lstm: Bool, batch B: Int, threads: Int) throws -> [[Float]] {
        ComputeThreads.set(threads)
        let (I, H, T) = (6, 20, 9)
        let lengths = (0..<B).map { 1 + ($0 * 4) % T }
        var generator = SeededGenerator(seed: 5)
        let x = Tensor(shape: [T, B, I], scalars: (0..<(T * B * I)).map { _ in Float.random(in: -1...1, using: &generator) })
        x.requiresGrad = true
        let module: LayerNormRecurrentBase
        var tensors: [Tensor]
        if lstm {
            let m = try LayerNormLSTM(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 3)
            let (o, s) = try m(x, lengths: lengths)
            tensors = [o, s.h, s.c]
            module = m
        } else {
            let m = try LayerNormGRU(inputSize: I, hiddenSize: H, numLayers: 2, bidirectional: true, seed: 3)
            let (o, h) = try m(x, lengths: lengths)
            tensors = [o, h]
            module = m
        }
        let loss = tensors.map { ($0 * $0).sum() }.dropFirst().reduce(tensors[0].sum(), +)
        loss.backward()
        var result = [loss.scalars, x.grad!.scalars] + tensors.map(\.scalars)
        for (_, p) in module.namedParameters() { result.append(try XCTUnwrap(p.grad).scalars) }
        return result
    }

    func testDirectionsSideBySideAreBitIdenticalForEveryThreadCount() throws {
        for lstm in [true, false] {
            for batch in [1, 5, 40] {
                let kind: CellKind = lstm ? .lstm : .gru
                let one = try results(lstm: lstm, batch: batch, threads: 1).map { $0.map(\.bitPattern) }
                for threads in [2, 4] {
                    // The small batches are the case this is for: check that they take the path.
                    if batch <= 16 && PackedGEMM.isAvailable {
                        ComputeThreads.set(threads)
                        let w = try LayerNormLSTM(inputSize: 1, hiddenSize: 20, bidirectional: true).weights[0]
                        XCTAssertTrue(LayerNormRecurrence.directionsRunTogether(kind: .lstm, batch: batch, weights: w))
                    }
                    XCTAssertEqual(try results(lstm: lstm, batch: batch, threads: threads).map { $0.map(\.bitPattern) }, one,
                                   "\(kind) batch \(batch) with \(threads) threads")
                }
            }
        }
    }

    /// Without gradients, the workers record nothing; with them, both directions' nodes are
    /// recorded and reach the input.
    func testGradientModeReachesTheWorkers() throws {
        ComputeThreads.set(2)
        let m = try LayerNormGRU(inputSize: 3, hiddenSize: 8, bidirectional: true, seed: 1)
        let x = Tensor(shape: [4, 2, 3], scalars: (0..<24).map { Float($0 % 7) / 7 - 0.4 })
        x.requiresGrad = true
        let (quiet, _) = try withoutGradients { try m(x) }
        XCTAssertFalse(quiet.requiresGrad)
        let (output, _) = try m(x)
        XCTAssertTrue(output.requiresGrad)
        // Only the reverse direction's half of the first step's output (which read every step,
        // last to first): its gradient reaches every step of the input.
        try output.narrow(dim: 0, start: 0, length: 1).narrow(dim: 2, start: 8, length: 8).sum().backward()
        let grad = try XCTUnwrap(x.grad).scalars
        XCTAssertTrue((0..<4).allSatisfy { t in grad[(t * 6)..<(t * 6 + 6)].contains { $0 != 0 } })
        XCTAssertEqual(quiet.scalars, output.scalars)
    }
}
