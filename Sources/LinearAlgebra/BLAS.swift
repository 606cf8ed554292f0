/// The BLAS routines the library uses, on strided views (``MatrixView``) and raw pointers.
///
/// These are the forms hot loops need: the output is written in place, `alpha` and `beta`
/// are explicit, and operands may be blocks of larger buffers. Shapes are checked with
/// preconditions, since callers are the library's own code; ``Matrix`` offers value-typed
/// versions.
public enum BLAS {
    /// `C ← alpha · op(A) · op(B) + beta · C` (general matrix multiply).
    ///
    /// - Parameters:
    ///   - a: `A`, stored `m×k` (or `k×m` when `transA` is `.transpose`).
    ///   - transA: whether `A` is read as stored or transposed.
    ///   - b: `B`, stored `k×n` (or `n×k` when `transB` is `.transpose`).
    ///   - transB: whether `B` is read as stored or transposed.
    ///   - c: `C`, `m×n`, overwritten (with `beta = 0` its old contents are ignored).
    ///   - alpha: the factor of the product.
    ///   - beta: the factor of `C`'s old contents.
    @inlinable
    public static func gemm<S: BLASScalar>(
        _ a: MatrixView<S>, _ transA: Transpose = .noTranspose,
        _ b: MatrixView<S>, _ transB: Transpose = .noTranspose,
        into c: MutableMatrixView<S>, alpha: S = 1, beta: S = 0
    ) {
        let m = transA == .noTranspose ? a.rows : a.columns
        let k = transA == .noTranspose ? a.columns : a.rows
        let kb = transB == .noTranspose ? b.rows : b.columns
        let n = transB == .noTranspose ? b.columns : b.rows
        require(k == kb && c.rows == m && c.columns == n,
                     "gemm: op(A) \(m)×\(k), op(B) \(kb)×\(n), C \(c.rows)×\(c.columns)")
        if m == 0 || n == 0 { return }
        if k == 0 {
            // BLAS leaves C scaled by beta; do the same explicitly.
            scale(c, by: beta)
            return
        }
        S.blasGemm(transA, transB, m, n, k, alpha, a.base, a.leadingDimension,
                   b.base, b.leadingDimension, beta, c.base, c.leadingDimension)
    }

    /// `y ← alpha · op(A) · x + beta · y` (matrix–vector multiply), `x` and `y` with strides.
    ///
    /// - Parameters:
    ///   - a: `A`, `m×n`; `op(A)` is `A` or `Aᵀ`.
    ///   - transA: whether `A` is read as stored or transposed.
    ///   - x: `n` elements (or `m` when transposed), `incx` apart.
    ///   - incx: the distance between consecutive elements of `x`.
    ///   - y: `m` elements (or `n` when transposed), `incy` apart.
    ///   - incy: the distance between consecutive elements of `y`.
    ///   - alpha: the factor of the product.
    ///   - beta: the factor of `y`'s old contents.
    @inlinable
    public static func gemv<S: BLASScalar>(
        _ a: MatrixView<S>, _ transA: Transpose = .noTranspose,
        _ x: UnsafePointer<S>, incx: Int = 1,
        into y: UnsafeMutablePointer<S>, incy: Int = 1, alpha: S = 1, beta: S = 0
    ) {
        if a.rows == 0 || a.columns == 0 {
            let count = transA == .noTranspose ? a.rows : a.columns
            for i in 0..<count { y[i * incy] = beta == 0 ? 0 : beta * y[i * incy] }
            return
        }
        S.blasGemv(transA, a.rows, a.columns, alpha, a.base, a.leadingDimension, x, incx, beta, y, incy)
    }

    /// `A ← alpha · x · yᵀ + A` (rank-one update); `x` has `A.rows` elements, `y` `A.columns`.
    @inlinable
    public static func ger<S: BLASScalar>(
        _ x: UnsafePointer<S>, incx: Int = 1, _ y: UnsafePointer<S>, incy: Int = 1,
        into a: MutableMatrixView<S>, alpha: S = 1
    ) {
        if a.rows == 0 || a.columns == 0 { return }
        S.blasGer(a.rows, a.columns, alpha, x, incx, y, incy, a.base, a.leadingDimension)
    }

    /// `y ← alpha · x + y` over `count` elements.
    @inlinable
    public static func axpy<S: BLASScalar>(
        count: Int, alpha: S, _ x: UnsafePointer<S>, incx: Int = 1,
        _ y: UnsafeMutablePointer<S>, incy: Int = 1
    ) {
        if count > 0 { S.blasAxpy(count, alpha, x, incx, y, incy) }
    }

    /// `x ← alpha · x` over `count` elements.
    @inlinable
    public static func scal<S: BLASScalar>(count: Int, alpha: S, _ x: UnsafeMutablePointer<S>, incx: Int = 1) {
        if count > 0 { S.blasScal(count, alpha, x, incx) }
    }

    /// The dot product `xᵀy` of `count` elements.
    @inlinable
    public static func dot<S: BLASScalar>(
        count: Int, _ x: UnsafePointer<S>, incx: Int = 1, _ y: UnsafePointer<S>, incy: Int = 1
    ) -> S {
        count > 0 ? S.blasDot(count, x, incx, y, incy) : 0
    }

    /// The Euclidean norm `‖x‖₂` of `count` elements (computed without overflow).
    @inlinable
    public static func nrm2<S: BLASScalar>(count: Int, _ x: UnsafePointer<S>, incx: Int = 1) -> S {
        count > 0 ? S.blasNrm2(count, x, incx) : 0
    }

    /// Multiplies every element of a strided view by `factor` (zero writes exact zeros).
    @inlinable
    public static func scale<S: BLASScalar>(_ c: MutableMatrixView<S>, by factor: S) {
        for i in 0..<c.rows {
            let row = c.base + i * c.leadingDimension
            if factor == 0 {
                row.update(repeating: 0, count: c.columns)
            } else if factor != 1 {
                S.blasScal(c.columns, factor, row, 1)
            }
        }
    }
}
