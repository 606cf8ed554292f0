// Reference speeds of the products a case is made of (the case's limit is the FMA peak,
// PeakFLOPs; these say how fast its GEMMs run on their own): OpenBLAS `sgemm` at a case's
// own GEMM shapes, through the same LinearAlgebra entry point the library uses
// (`C = A · Bᵀ`, row-major); and the library's packed kernel (`PackedGEMM`) at a case's
// per-step shape (B packed once) and at its largest shape (B packed on every call, as for an
// input projection).
import Recurrent

/// Measured `sgemm` speeds, one per shape, at the current BLAS thread count.
final class GemmReference {
    private var cache: [GemmShape: Double] = [:]
    let policy: TimingPolicy
    /// When set (profiling runs), no sgemm is timed and every speed reads 0.
    var disabled = false

    init(policy: TimingPolicy) { self.policy = policy }

    /// GFLOP/s of `sgemm` for `C (m×n) = A (m×k) · Bᵀ (B stored n×k)`.
    func gflops(_ shape: GemmShape) -> Double {
        if disabled { return 0 }
        if let g = cache[shape] { return g }
        var generator = SeededGenerator(seed: 3)
        let a = (0..<(shape.m * shape.k)).map { _ in generator.uniform(Float(-1), Float(1)) }
        let b = (0..<(shape.n * shape.k)).map { _ in generator.uniform(Float(-1), Float(1)) }
        var c = [Float](repeating: 0, count: shape.m * shape.n)
        let t = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    measure(policy) {
                        BLAS.gemm(MatrixView(pa.baseAddress!, rows: shape.m, columns: shape.k), .noTranspose,
                                  MatrixView(pb.baseAddress!, rows: shape.n, columns: shape.k), .transpose,
                                  into: MutableMatrixView(pc.baseAddress!, rows: shape.m, columns: shape.n))
                    }
                }
            }
        }
        let g = shape.flops / t.median / 1e9
        cache[shape] = g
        return g
    }

    private var packedCache: [PackedKey: Double] = [:]
    private struct PackedKey: Hashable { let shape: GemmShape; let packsEachCall: Bool }

    /// GFLOP/s of ``PackedGEMM`` for the same product with `B` packed once (as the recurrent
    /// layers do per call), or `nil` where the packed kernels do not run (no AVX2 + FMA).
    /// With `packsEachCall`, every timed product packs `B` first, as a layer's input
    /// projection does (its `W_ih` changes between calls).
    func packedGFLOPs(_ shape: GemmShape, packsEachCall: Bool = false) -> Double? {
        guard PackedGEMM.isAvailable else { return nil }
        if disabled { return 0 }
        let key = PackedKey(shape: shape, packsEachCall: packsEachCall)
        if let g = packedCache[key] { return g }
        var generator = SeededGenerator(seed: 3)
        let a = (0..<(shape.m * shape.k)).map { _ in generator.uniform(Float(-1), Float(1)) }
        let b = (0..<(shape.n * shape.k)).map { _ in generator.uniform(Float(-1), Float(1)) }
        var packed = [Float](repeating: 0, count: PackedGEMM.packedCount(columns: shape.n, depth: shape.k))
        var c = [Float](repeating: 0, count: shape.m * shape.n)
        let t = a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                packed.withUnsafeMutableBufferPointer { pp in
                    PackedGEMM.pack(MatrixView(pb.baseAddress!, rows: shape.n, columns: shape.k), .transpose, into: pp.baseAddress!)
                    return c.withUnsafeMutableBufferPointer { pc in
                        measure(policy) {
                            if packsEachCall {
                                PackedGEMM.pack(MatrixView(pb.baseAddress!, rows: shape.n, columns: shape.k), .transpose,
                                                into: pp.baseAddress!)
                            }
                            PackedGEMM.multiply(MatrixView(pa.baseAddress!, rows: shape.m, columns: shape.k),
                                                packed: pp.baseAddress!, columns: shape.n,
                                                into: MutableMatrixView(pc.baseAddress!, rows: shape.m, columns: shape.n))
                        }
                    }
                }
            }
        }
        let g = shape.flops / t.median / 1e9
        packedCache[key] = g
        return g
    }
}
