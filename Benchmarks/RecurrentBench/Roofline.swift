// The physical limit: OpenBLAS `sgemm` at a case's own GEMM shapes, through the same
// LinearAlgebra entry point the library uses (`C = A · Bᵀ`, row-major).
import Recurrent

/// Measured `sgemm` speeds, one per shape, at the current BLAS thread count.
final class Roofline {
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
}
