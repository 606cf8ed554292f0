// The one file that talks to the C libraries: every BLAS and LAPACK routine the package
// uses, mapped to its single- (`s`) or double-precision (`d`) variant. `Int32`,
// `CBLAS_ORDER` and friends never leave this file.
import CBLAS
import CLAPACKE

/// Whether a matrix operand of a BLAS call is read as it is or transposed.
public enum Transpose: Sendable, Equatable {
    /// The operand as it is stored.
    case noTranspose
    /// The operand's transpose.
    case transpose

    @usableFromInline var cblas: CBLAS_TRANSPOSE {
        self == .noTranspose ? CblasNoTrans : CblasTrans
    }
}

/// A floating-point type with BLAS and LAPACK routines: `Float` (the `s` routines) and
/// `Double` (the `d` routines).
///
/// Every requirement takes row-major operands through pointers and leading dimensions,
/// exactly like the C routine it wraps; the friendlier entry points are on ``BLAS`` and
/// ``Matrix``. LAPACK requirements return LAPACK's `info` code (0 on success).
public protocol BLASScalar: BinaryFloatingPoint, Sendable, CustomStringConvertible
where Self.RawSignificand: FixedWidthInteger {
    /// `C ← alpha·op(A)·op(B) + beta·C` with `op(A)` of shape `m×k`, `op(B)` `k×n`, `C` `m×n`.
    static func blasGemm(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Self, _ a: UnsafePointer<Self>, _ lda: Int,
        _ b: UnsafePointer<Self>, _ ldb: Int,
        _ beta: Self, _ c: UnsafeMutablePointer<Self>, _ ldc: Int)
    /// `y ← alpha·op(A)·x + beta·y` with `A` stored `m×n`.
    static func blasGemv(
        _ transA: Transpose, _ m: Int, _ n: Int, _ alpha: Self,
        _ a: UnsafePointer<Self>, _ lda: Int, _ x: UnsafePointer<Self>, _ incx: Int,
        _ beta: Self, _ y: UnsafeMutablePointer<Self>, _ incy: Int)
    /// `A ← alpha·x·yᵀ + A` with `A` stored `m×n`.
    static func blasGer(
        _ m: Int, _ n: Int, _ alpha: Self, _ x: UnsafePointer<Self>, _ incx: Int,
        _ y: UnsafePointer<Self>, _ incy: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int)
    /// `y ← alpha·x + y` over `n` elements.
    static func blasAxpy(
        _ n: Int, _ alpha: Self, _ x: UnsafePointer<Self>, _ incx: Int,
        _ y: UnsafeMutablePointer<Self>, _ incy: Int)
    /// `x ← alpha·x` over `n` elements.
    static func blasScal(_ n: Int, _ alpha: Self, _ x: UnsafeMutablePointer<Self>, _ incx: Int)
    /// `xᵀy` over `n` elements.
    static func blasDot(
        _ n: Int, _ x: UnsafePointer<Self>, _ incx: Int, _ y: UnsafePointer<Self>, _ incy: Int
    ) -> Self
    /// The Euclidean norm of `n` elements.
    static func blasNrm2(_ n: Int, _ x: UnsafePointer<Self>, _ incx: Int) -> Self

    /// LAPACK `geqrf`: QR factorisation of the row-major `m×n` matrix `a`, in place.
    static func lapackGeqrf(
        _ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
        _ tau: UnsafeMutablePointer<Self>) -> Int
    /// LAPACK `orgqr`: forms the `m×n` matrix Q with orthonormal columns from `geqrf`'s output.
    static func lapackOrgqr(
        _ m: Int, _ n: Int, _ k: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
        _ tau: UnsafePointer<Self>) -> Int
    /// LAPACK `gesdd`: singular value decomposition of the row-major `m×n` matrix `a`
    /// (`a` is destroyed). `jobz` is `"A"` (full U and Vᵀ), `"S"` (thin) or `"N"` (values only).
    static func lapackGesdd(
        _ jobz: Character, _ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
        _ s: UnsafeMutablePointer<Self>, _ u: UnsafeMutablePointer<Self>, _ ldu: Int,
        _ vt: UnsafeMutablePointer<Self>, _ ldvt: Int) -> Int
    /// LAPACK `gesv`: solves `A·X = B` for a square `n×n` `A` and `n×nrhs` `B`, in place.
    static func lapackGesv(
        _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
        _ ipiv: UnsafeMutablePointer<Int32>, _ b: UnsafeMutablePointer<Self>, _ ldb: Int) -> Int
    /// LAPACK `gels`: least squares (or minimum norm) solution of `A·X = B`, `A` `m×n` of full
    /// rank, `B` `max(m,n)×nrhs`, in place.
    static func lapackGels(
        _ m: Int, _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
        _ b: UnsafeMutablePointer<Self>, _ ldb: Int) -> Int
    /// LAPACK `geev`-free spectral radius helper: the eigenvalues (real and imaginary parts)
    /// of the square row-major `n×n` matrix `a` (destroyed), through `geev` without vectors.
    static func lapackEigenvalues(
        _ n: Int, _ a: UnsafeMutablePointer<Self>, _ lda: Int,
        _ wr: UnsafeMutablePointer<Self>, _ wi: UnsafeMutablePointer<Self>) -> Int
}

@inline(__always) @usableFromInline func i32(_ value: Int) -> Int32 { Int32(truncatingIfNeeded: value) }
@inline(__always) @usableFromInline func char(_ c: Character) -> CChar { CChar(c.asciiValue!) }

extension Float: BLASScalar {
    @inlinable public static func blasGemm(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Float, _ a: UnsafePointer<Float>, _ lda: Int,
        _ b: UnsafePointer<Float>, _ ldb: Int,
        _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) {
        cblas_sgemm(CblasRowMajor, transA.cblas, transB.cblas, i32(m), i32(n), i32(k),
                    alpha, a, i32(lda), b, i32(ldb), beta, c, i32(ldc))
    }
    @inlinable public static func blasGemv(
        _ transA: Transpose, _ m: Int, _ n: Int, _ alpha: Float,
        _ a: UnsafePointer<Float>, _ lda: Int, _ x: UnsafePointer<Float>, _ incx: Int,
        _ beta: Float, _ y: UnsafeMutablePointer<Float>, _ incy: Int
    ) {
        cblas_sgemv(CblasRowMajor, transA.cblas, i32(m), i32(n), alpha, a, i32(lda),
                    x, i32(incx), beta, y, i32(incy))
    }
    @inlinable public static func blasGer(
        _ m: Int, _ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ incx: Int,
        _ y: UnsafePointer<Float>, _ incy: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int
    ) {
        cblas_sger(CblasRowMajor, i32(m), i32(n), alpha, x, i32(incx), y, i32(incy), a, i32(lda))
    }
    @inlinable public static func blasAxpy(
        _ n: Int, _ alpha: Float, _ x: UnsafePointer<Float>, _ incx: Int,
        _ y: UnsafeMutablePointer<Float>, _ incy: Int
    ) {
        cblas_saxpy(i32(n), alpha, x, i32(incx), y, i32(incy))
    }
    @inlinable public static func blasScal(_ n: Int, _ alpha: Float, _ x: UnsafeMutablePointer<Float>, _ incx: Int) {
        cblas_sscal(i32(n), alpha, x, i32(incx))
    }
    @inlinable public static func blasDot(
        _ n: Int, _ x: UnsafePointer<Float>, _ incx: Int, _ y: UnsafePointer<Float>, _ incy: Int
    ) -> Float {
        cblas_sdot(i32(n), x, i32(incx), y, i32(incy))
    }
    @inlinable public static func blasNrm2(_ n: Int, _ x: UnsafePointer<Float>, _ incx: Int) -> Float {
        cblas_snrm2(i32(n), x, i32(incx))
    }
    public static func lapackGeqrf(
        _ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
        _ tau: UnsafeMutablePointer<Float>
    ) -> Int {
        Int(LAPACKE_sgeqrf(LAPACK_ROW_MAJOR, i32(m), i32(n), a, i32(lda), tau))
    }
    public static func lapackOrgqr(
        _ m: Int, _ n: Int, _ k: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
        _ tau: UnsafePointer<Float>
    ) -> Int {
        Int(LAPACKE_sorgqr(LAPACK_ROW_MAJOR, i32(m), i32(n), i32(k), a, i32(lda), tau))
    }
    public static func lapackGesdd(
        _ jobz: Character, _ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
        _ s: UnsafeMutablePointer<Float>, _ u: UnsafeMutablePointer<Float>, _ ldu: Int,
        _ vt: UnsafeMutablePointer<Float>, _ ldvt: Int
    ) -> Int {
        Int(LAPACKE_sgesdd(LAPACK_ROW_MAJOR, char(jobz), i32(m), i32(n), a, i32(lda), s,
                           u, i32(ldu), vt, i32(ldvt)))
    }
    public static func lapackGesv(
        _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
        _ ipiv: UnsafeMutablePointer<Int32>, _ b: UnsafeMutablePointer<Float>, _ ldb: Int
    ) -> Int {
        Int(LAPACKE_sgesv(LAPACK_ROW_MAJOR, i32(n), i32(nrhs), a, i32(lda), ipiv, b, i32(ldb)))
    }
    public static func lapackGels(
        _ m: Int, _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
        _ b: UnsafeMutablePointer<Float>, _ ldb: Int
    ) -> Int {
        Int(LAPACKE_sgels(LAPACK_ROW_MAJOR, char("N"), i32(m), i32(n), i32(nrhs), a, i32(lda), b, i32(ldb)))
    }
    public static func lapackEigenvalues(
        _ n: Int, _ a: UnsafeMutablePointer<Float>, _ lda: Int,
        _ wr: UnsafeMutablePointer<Float>, _ wi: UnsafeMutablePointer<Float>
    ) -> Int {
        var vl: Float = 0, vr: Float = 0
        return Int(LAPACKE_sgeev(LAPACK_ROW_MAJOR, char("N"), char("N"), i32(n), a, i32(lda),
                                 wr, wi, &vl, 1, &vr, 1))
    }
}

extension Double: BLASScalar {
    @inlinable public static func blasGemm(
        _ transA: Transpose, _ transB: Transpose, _ m: Int, _ n: Int, _ k: Int,
        _ alpha: Double, _ a: UnsafePointer<Double>, _ lda: Int,
        _ b: UnsafePointer<Double>, _ ldb: Int,
        _ beta: Double, _ c: UnsafeMutablePointer<Double>, _ ldc: Int
    ) {
        cblas_dgemm(CblasRowMajor, transA.cblas, transB.cblas, i32(m), i32(n), i32(k),
                    alpha, a, i32(lda), b, i32(ldb), beta, c, i32(ldc))
    }
    @inlinable public static func blasGemv(
        _ transA: Transpose, _ m: Int, _ n: Int, _ alpha: Double,
        _ a: UnsafePointer<Double>, _ lda: Int, _ x: UnsafePointer<Double>, _ incx: Int,
        _ beta: Double, _ y: UnsafeMutablePointer<Double>, _ incy: Int
    ) {
        cblas_dgemv(CblasRowMajor, transA.cblas, i32(m), i32(n), alpha, a, i32(lda),
                    x, i32(incx), beta, y, i32(incy))
    }
    @inlinable public static func blasGer(
        _ m: Int, _ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ incx: Int,
        _ y: UnsafePointer<Double>, _ incy: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int
    ) {
        cblas_dger(CblasRowMajor, i32(m), i32(n), alpha, x, i32(incx), y, i32(incy), a, i32(lda))
    }
    @inlinable public static func blasAxpy(
        _ n: Int, _ alpha: Double, _ x: UnsafePointer<Double>, _ incx: Int,
        _ y: UnsafeMutablePointer<Double>, _ incy: Int
    ) {
        cblas_daxpy(i32(n), alpha, x, i32(incx), y, i32(incy))
    }
    @inlinable public static func blasScal(_ n: Int, _ alpha: Double, _ x: UnsafeMutablePointer<Double>, _ incx: Int) {
        cblas_dscal(i32(n), alpha, x, i32(incx))
    }
    @inlinable public static func blasDot(
        _ n: Int, _ x: UnsafePointer<Double>, _ incx: Int, _ y: UnsafePointer<Double>, _ incy: Int
    ) -> Double {
        cblas_ddot(i32(n), x, i32(incx), y, i32(incy))
    }
    @inlinable public static func blasNrm2(_ n: Int, _ x: UnsafePointer<Double>, _ incx: Int) -> Double {
        cblas_dnrm2(i32(n), x, i32(incx))
    }
    public static func lapackGeqrf(
        _ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
        _ tau: UnsafeMutablePointer<Double>
    ) -> Int {
        Int(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, i32(m), i32(n), a, i32(lda), tau))
    }
    public static func lapackOrgqr(
        _ m: Int, _ n: Int, _ k: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
        _ tau: UnsafePointer<Double>
    ) -> Int {
        Int(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, i32(m), i32(n), i32(k), a, i32(lda), tau))
    }
    public static func lapackGesdd(
        _ jobz: Character, _ m: Int, _ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
        _ s: UnsafeMutablePointer<Double>, _ u: UnsafeMutablePointer<Double>, _ ldu: Int,
        _ vt: UnsafeMutablePointer<Double>, _ ldvt: Int
    ) -> Int {
        Int(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, char(jobz), i32(m), i32(n), a, i32(lda), s,
                           u, i32(ldu), vt, i32(ldvt)))
    }
    public static func lapackGesv(
        _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
        _ ipiv: UnsafeMutablePointer<Int32>, _ b: UnsafeMutablePointer<Double>, _ ldb: Int
    ) -> Int {
        Int(LAPACKE_dgesv(LAPACK_ROW_MAJOR, i32(n), i32(nrhs), a, i32(lda), ipiv, b, i32(ldb)))
    }
    public static func lapackGels(
        _ m: Int, _ n: Int, _ nrhs: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
        _ b: UnsafeMutablePointer<Double>, _ ldb: Int
    ) -> Int {
        Int(LAPACKE_dgels(LAPACK_ROW_MAJOR, char("N"), i32(m), i32(n), i32(nrhs), a, i32(lda), b, i32(ldb)))
    }
    public static func lapackEigenvalues(
        _ n: Int, _ a: UnsafeMutablePointer<Double>, _ lda: Int,
        _ wr: UnsafeMutablePointer<Double>, _ wi: UnsafeMutablePointer<Double>
    ) -> Int {
        var vl: Double = 0, vr: Double = 0
        return Int(LAPACKE_dgeev(LAPACK_ROW_MAJOR, char("N"), char("N"), i32(n), a, i32(lda),
                                 wr, wi, &vl, 1, &vr, 1))
    }
}
