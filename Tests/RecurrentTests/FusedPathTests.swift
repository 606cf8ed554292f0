import XCTest
@testable import Recurrent

/// The fused layer runs different code paths by layout, batch and hidden size (strided or
/// contiguous step rows, `gemv` for a batch of one, the packed kernels or OpenBLAS, which
/// the portable CI run takes). Every path must give the same numbers: batch first against
/// sequence first (fixture-checked), forward and gradients, for each kind.
final class FusedPathTests: XCTestCase {
    typealias Kit = RecurrentTestKit

    func compareLayouts(_ kind: Kit.Kind, hidden: Int, batch: Int, steps: Int = 4, layers: Int = 2) throws {
        let name = "\(kind) hidden \(hidden) batch \(batch)"
        let bf = try Kit.make(kind, inputSize: 5, hiddenSize: hidden, numLayers: layers, batchFirst: true, seed: 3)
        let sf = try Kit.make(kind, inputSize: 5, hiddenSize: hidden, numLayers: layers, batchFirst: false, seed: 3)
        let xBF = Kit.leaf(Kit.random([batch, steps, 5], seed: 4))
        let xSF = Kit.leaf(try xBF.detach().permuted([1, 0, 2]))
        let rBF = try Kit.run(bf, xBF), rSF = try Kit.run(sf, xSF)
        assertClose(try rBF.output.permuted([1, 0, 2]), rSF.output, rtol: 1e-5, atol: 1e-6, "\(name) output")
        assertClose(rBF.hN, rSF.hN, rtol: 1e-5, atol: 1e-6, "\(name) hN")
        // Gradients, through a loss that weighs output steps alike in both layouts.
        let lossBF = Kit.weighted(try rBF.output.permuted([1, 0, 2]), seed: 8) + Kit.weighted(rBF.hN, seed: 9)
        let lossSF = Kit.weighted(rSF.output, seed: 8) + Kit.weighted(rSF.hN, seed: 9)
        lossBF.backward()
        lossSF.backward()
        assertClose(try xBF.grad!.permuted([1, 0, 2]), xSF.grad, rtol: 1e-4, atol: 1e-5, "\(name) dx")
        for ((n, p), (_, q)) in zip(bf.namedParameters(), sf.namedParameters()) {
            assertClose(p.grad, q.grad, rtol: 1e-4, atol: 1e-5, "\(name) d\(n)")
        }
        // Inference (nothing recorded) equals the recorded forward.
        let inference = try withoutGradients { try Kit.run(bf, xBF.detach()) }
        assertClose(inference.output, rBF.output, rtol: 0, atol: 0, "\(name) inference output")
        assertClose(inference.hN, rBF.hN, rtol: 0, atol: 0, "\(name) inference hN")
    }

    func testBatchFirstPathsMatchSequenceFirst() throws {
        for kind in Kit.Kind.allCases {
            for (hidden, batch) in [(6, 3), (6, 1), (130, 3), (128, 1)] {
                try compareLayouts(kind, hidden: hidden, batch: batch)
            }
        }
    }
}
