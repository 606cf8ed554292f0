// A GEMM whose right-hand operand is packed once and reused by many products: the
// recurrent weight of every time step. OpenBLAS repacks both operands on each `sgemm`
// call, which at a step's shapes (a batch of rows times a square weight) costs as much as
// the arithmetic; these kernels (C, AVX2 + FMA, a 6×16 register tile) read the packed
// weight as it is.
internal import CKernels

/// `C = A·B + β·C` with `B` packed once into panels, for many products with the same `B`.
///
/// Use it when ``isAvailable``: the kernels need AVX2 and FMA (``CPUCapability/avx2``) and
/// run on the calling thread only, so they are the faster choice where a product would run
/// on one BLAS thread anyway. Elsewhere call ``BLAS/gemm(_:_:_:_:into:alpha:beta:)``.
///
/// ```swift
/// let count = PackedGEMM.packedCount(columns: n, depth: k)
/// PackedGEMM.pack(w, .transpose, into: buffer)        // B = Wᵀ, W is n×k
/// for step in steps { PackedGEMM.multiply(a[step], packed: buffer, columns: n, into: c[step]) }
/// ```
public enum PackedGEMM {
    /// Whether the packed kernels run on this machine (``CPUCapability/current`` is `.avx2`).
    public static var isAvailable: Bool { CPUCapability.current.usesCKernels }

    /// The width of a packed panel (16 columns): a range of columns starting at a multiple of
    /// it is a run of whole panels, packed and multiplied on its own.
    public static let panelWidth = 16

    /// The number of floats ``pack(_:_:into:)`` writes for a `depth × columns` operand `B`
    /// (`columns` rounded up to the panel width of 16).
    public static func packedCount(columns: Int, depth: Int) -> Int {
        require(columns >= 0 && depth >= 0, "PackedGEMM.packedCount: negative size \(columns)×\(depth)")
        return rk_packed_b_count(Int32(columns), Int32(depth))
    }

    /// Packs `B = op(w)` into `packed`, which must hold
    /// `packedCount(columns: B.columns, depth: B.rows)` floats: `op(w) = w` (`k × n`) for
    /// `.noTranspose`, `wᵀ` (`w` is `n × k`) for `.transpose`.
    public static func pack(_ w: MatrixView<Float>, _ op: Transpose, into packed: UnsafeMutablePointer<Float>) {
        let (depth, columns) = op == .noTranspose ? (w.rows, w.columns) : (w.columns, w.rows)
        guard depth > 0 && columns > 0 else { return }
        rk_pack_b(Int32(columns), Int32(depth), w.base, Int32(w.leadingDimension), op == .noTranspose ? 0 : 1, packed)
    }

    /// `c ← a·B + beta·c`, with `B` (`a.columns × columns`) packed by ``pack(_:_:into:)``.
    /// `c` must be `a.rows × columns` and must not overlap `a` or `packed`; with `beta == 0`
    /// its old contents are never read.
    ///
    /// `descending` visits the panels of `B` from the last to the first: the same bits in
    /// every element, only another order of reading `B`. A recurrence whose packed weight is
    /// about the size of the L2 cache alternates it from step to step, so that each step
    /// starts on the panels the previous one read last, which are still cached.
    public static func multiply(
        _ a: MatrixView<Float>, packed: UnsafePointer<Float>, columns: Int,
        into c: MutableMatrixView<Float>, beta: Float = 0, descending: Bool = false
    ) {
        require(c.rows == a.rows && c.columns == columns,
                     "PackedGEMM.multiply: \(a.rows)×\(a.columns) times \(a.columns)×\(columns) into \(c.rows)×\(c.columns)")
        guard a.rows > 0 && columns > 0 else { return }
        rk_gemm_packed_ordered(Int32(a.rows), Int32(columns), Int32(a.columns), a.base, Int32(a.leadingDimension),
                               packed, beta, c.base, Int32(c.leadingDimension), descending ? 1 : 0)
    }

    /// Whether ``multiplyTransposed(_:packed:columns:into:beta:)`` runs here (AVX-512).
    public static var isTransposedAvailable: Bool { CPUCapability.current == .avx512 }

    /// `c ← aᵀ·B + beta·c` where `a` is stored `k × m` (its transpose is read in place, no
    /// copy) and `B` (`k × columns`) was packed by ``pack(_:_:into:)``: the weight gradients
    /// of a recurrent layer, `Σ_t dG_tᵀ·x_t`, whose depth `k` (steps × batch) is long. The
    /// depth is blocked in a fixed block size, so the bits depend on the shapes alone. Runs
    /// only where ``isTransposedAvailable``; returns `false` and writes nothing elsewhere.
    @discardableResult
    public static func multiplyTransposed(
        _ a: MatrixView<Float>, packed: UnsafePointer<Float>, columns: Int,
        into c: MutableMatrixView<Float>, beta: Float = 0
    ) -> Bool {
        require(c.rows == a.columns && c.columns == columns,
                "PackedGEMM.multiplyTransposed: (\(a.rows)×\(a.columns))ᵀ times \(a.rows)×\(columns) into \(c.rows)×\(c.columns)")
        return rk_gemm_at_packed(Int32(a.columns), Int32(columns), Int32(a.rows), a.base, Int32(a.leadingDimension),
                                 packed, beta, c.base, Int32(c.leadingDimension)) != 0
    }

    /// The number of accumulator chains (1 or 2) in which ``multiply(_:packed:columns:into:beta:)``
    /// computes row `row` of an `rows`-row product; it follows from the row's tile height
    /// alone. A product computed in several calls over subsets of its rows (any columns) gives
    /// the bits of one call exactly when every row takes the same number in its call as in
    /// the whole.
    public static func rowChains(rows: Int, row: Int) -> Int {
        precondition(row >= 0 && row < rows, "PackedGEMM.rowChains: row \(row) of \(rows)")
        return Int(rk_gemm_packed_row_chains(Int32(rows), Int32(row)))
    }
}
