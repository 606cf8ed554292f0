// Factorisations and solvers on `Matrix`, through the raw LAPACK requirements of
// `BLASScalar`. None of this is on a hot path: every operation works on copies (the receiver
// and the operands are never modified), checks shapes up front and turns LAPACK's `info`
// into a thrown `LAPACKError`.

extension Matrix {
    /// The reduced QR factorisation `A = Q·R`, with the signs chosen so that `diag(R) ≥ 0`.
    ///
    /// For `A` of shape `m×n` and `k = min(m, n)`, `Q` is `m×k` with orthonormal columns
    /// (`QᵀQ = I`) and `R` is `k×n` upper triangular (upper trapezoidal when `n > m`). LAPACK's
    /// `geqrf` leaves the signs of `diag(R)` arbitrary; they are normalised here the way
    /// PyTorch's orthogonal initialisation does (`q *= sign(diag(r))`, with the matching rows
    /// of `R` flipped so the product is unchanged), except that a zero diagonal element counts
    /// as positive, so `Q` always keeps orthonormal columns. With `diag(R) > 0` the
    /// factorisation of an `A` of full rank is unique.
    ///
    /// An empty `A` (`k = 0`) gives an `m×0` `Q` and a `0×n` `R`.
    ///
    /// - Returns: `q`, `m×k`, and `r`, `k×n`.
    /// - Throws: ``LAPACKError/nonFiniteInput(routine:)`` when `A` contains NaN or an
    ///   infinity; any other ``LAPACKError`` that `geqrf` or `orgqr` reports.
    public func qr() throws -> (q: Matrix, r: Matrix) {
        let m = rows, n = columns, k = Swift.min(m, n)
        if k == 0 { return (Matrix(rows: m, columns: 0), Matrix(rows: 0, columns: n)) }
        let geqrf = Self.lapackName("geqrf"), orgqr = Self.lapackName("orgqr")
        try Self.throwIfNonFinite(storage, routine: geqrf)

        // Householder reflectors below the diagonal, R on and above it.
        var factored = storage
        var tau = [Scalar](repeating: 0, count: k)
        let geqrfInfo = factored.withUnsafeMutableBufferPointer { a in
            tau.withUnsafeMutableBufferPointer { t in
                Scalar.lapackGeqrf(m, n, a.baseAddress!, n, t.baseAddress!)
            }
        }
        try Self.checkLAPACKInfo(geqrfInfo, routine: geqrf) { .noConvergence(routine: geqrf, info: $0) }

        var r = Matrix(rows: k, columns: n)
        for i in 0..<k {
            for j in i..<n { r.storage[i * n + j] = factored[i * n + j] }
        }

        // orgqr forms the m×k Q from the first k columns (row-major, so lda = k).
        var q = Matrix(rows: m, columns: k)
        for i in 0..<m {
            for j in 0..<k { q.storage[i * k + j] = factored[i * n + j] }
        }
        let orgqrInfo = q.storage.withUnsafeMutableBufferPointer { a in
            tau.withUnsafeBufferPointer { t in
                Scalar.lapackOrgqr(m, k, k, a.baseAddress!, k, t.baseAddress!)
            }
        }
        try Self.checkLAPACKInfo(orgqrInfo, routine: orgqr) { .noConvergence(routine: orgqr, info: $0) }

        // diag(R) ≥ 0: flip column i of Q and row i of R together, so Q·R is unchanged.
        for i in 0..<k where r.storage[i * n + i] < 0 {
            for j in i..<n { r.storage[i * n + j] = -r.storage[i * n + j] }
            for row in 0..<m { q.storage[row * k + i] = -q.storage[row * k + i] }
        }
        return (q, r)
    }

    /// A random `rows × columns` matrix with orthonormal rows or columns, scaled by `gain`:
    /// PyTorch's `nn.init.orthogonal_`.
    ///
    /// The algorithm is PyTorch's, step by step: draw a `rows × columns` matrix of standard
    /// normal samples (row after row from `generator`), transpose it if `rows < columns`,
    /// take its reduced QR factorisation, multiply each column of `Q` by the sign of the
    /// matching diagonal element of `R` (see ``qr()``), transpose back, and multiply by
    /// `gain`. The result `W` satisfies `WᵀW = gain²·I` when `rows ≥ columns` and
    /// `WWᵀ = gain²·I` when `rows < columns`. The numbers differ from PyTorch's because the
    /// random stream does, but the distribution (Haar-uniform) is the same.
    ///
    /// With `rows` or `columns` zero, the result is an empty matrix of that shape and
    /// `generator` is not advanced (PyTorch also leaves empty tensors alone).
    ///
    /// - Parameters:
    ///   - rows: The number of rows, `≥ 0`.
    ///   - columns: The number of columns, `≥ 0`.
    ///   - gain: The scale factor (PyTorch's `gain`), 1 by default.
    ///   - generator: The random stream; advanced by `rows · columns` normal samples.
    /// - Returns: A `rows × columns` matrix.
    /// - Throws: Any ``LAPACKError`` that the QR factorisation reports (in practice none).
    public static func orthogonal(
        rows: Int, columns: Int, gain: Scalar = 1, using generator: inout SeededGenerator
    ) throws -> Matrix {
        require(rows >= 0 && columns >= 0, "Matrix.orthogonal: negative shape \(rows)×\(columns)")
        if rows == 0 || columns == 0 { return Matrix(rows: rows, columns: columns) }
        var flattened = Matrix(rows: rows, columns: columns)
        for index in flattened.storage.indices {
            flattened.storage[index] = generator.normal(mean: 0, standardDeviation: 1)
        }
        let wide = rows < columns
        if wide { flattened = flattened.transposed }
        var (q, _) = try flattened.qr()  // signs already normalised: q *= sign(diag(r))
        if wide { q = q.transposed }
        if gain != 1 {
            for index in q.storage.indices { q.storage[index] *= gain }
        }
        return q
    }

    /// The singular value decomposition `A = U·Σ·Vᵀ`, through LAPACK's divide-and-conquer
    /// `gesdd`.
    ///
    /// For `A` of shape `m×n` and `k = min(m, n)`: with `full` (the default) `U` is the
    /// orthogonal `m×m` matrix and `Vᵀ` the orthogonal `n×n` one; otherwise (the thin SVD)
    /// `U` is `m×k` and `Vᵀ` is `k×n`, both with orthonormal columns and rows respectively.
    /// In both cases `s` holds the `k` singular values in descending order and
    /// `A = U[:, :k]·diag(s)·Vᵀ[:k, :]`. Singular vectors are unique only up to sign (and
    /// rotation within repeated singular values).
    ///
    /// An empty `A` gives `s = []`, with identity (full) or empty (thin) factors.
    ///
    /// - Parameter full: Whether to return the full square factors (`true`) or the thin ones.
    /// - Returns: `u` (`m×m` or `m×k`), `s` (`k` values, descending) and `vt` (`n×n` or `k×n`).
    /// - Throws: ``LAPACKError/nonFiniteInput(routine:)`` when `A` contains NaN or an
    ///   infinity; ``LAPACKError/noConvergence(routine:info:)`` when `gesdd` does not converge.
    public func svd(full: Bool = true) throws -> (u: Matrix, s: [Scalar], vt: Matrix) {
        let m = rows, n = columns, k = Swift.min(m, n)
        let uColumns = full ? m : k, vtRows = full ? n : k
        if k == 0 {
            return (full ? .identity(m) : Matrix(rows: m, columns: 0), [],
                    full ? .identity(n) : Matrix(rows: 0, columns: n))
        }
        let gesdd = Self.lapackName("gesdd")
        try Self.throwIfNonFinite(storage, routine: gesdd)
        var a = storage
        var s = [Scalar](repeating: 0, count: k)
        var u = Matrix(rows: m, columns: uColumns)
        var vt = Matrix(rows: vtRows, columns: n)
        let info = a.withUnsafeMutableBufferPointer { a in
            s.withUnsafeMutableBufferPointer { s in
                u.storage.withUnsafeMutableBufferPointer { u in
                    vt.storage.withUnsafeMutableBufferPointer { vt in
                        Scalar.lapackGesdd(full ? "A" : "S", m, n, a.baseAddress!, n, s.baseAddress!,
                                           u.baseAddress!, uColumns, vt.baseAddress!, n)
                    }
                }
            }
        }
        try Self.checkLAPACKInfo(info, routine: gesdd) { .noConvergence(routine: gesdd, info: $0) }
        return (u, s, vt)
    }

    /// The singular values of `A` (`m×n`), `min(m, n)` of them in descending order, through
    /// `gesdd` without singular vectors. An empty `A` gives `[]`.
    ///
    /// - Throws: ``LAPACKError/nonFiniteInput(routine:)`` when `A` contains NaN or an
    ///   infinity; ``LAPACKError/noConvergence(routine:info:)`` when `gesdd` does not converge.
    public func singularValues() throws -> [Scalar] {
        let m = rows, n = columns, k = Swift.min(m, n)
        if k == 0 { return [] }
        let gesdd = Self.lapackName("gesdd")
        try Self.throwIfNonFinite(storage, routine: gesdd)
        var a = storage
        var s = [Scalar](repeating: 0, count: k)
        // With jobz = "N" LAPACK never touches U or Vᵀ; one-element placeholders suffice.
        var u: [Scalar] = [0], vt: [Scalar] = [0]
        let info = a.withUnsafeMutableBufferPointer { a in
            s.withUnsafeMutableBufferPointer { s in
                u.withUnsafeMutableBufferPointer { u in
                    vt.withUnsafeMutableBufferPointer { vt in
                        Scalar.lapackGesdd("N", m, n, a.baseAddress!, n, s.baseAddress!,
                                           u.baseAddress!, 1, vt.baseAddress!, n)
                    }
                }
            }
        }
        try Self.checkLAPACKInfo(info, routine: gesdd) { .noConvergence(routine: gesdd, info: $0) }
        return s
    }

    /// The eigenvalues of the square matrix `A` (`n×n`), through LAPACK's `geev` without
    /// eigenvectors.
    ///
    /// A real matrix's complex eigenvalues come in conjugate pairs. The `n` eigenvalues are
    /// sorted by descending modulus `|λ| = √(real² + imaginary²)`, ties broken by descending
    /// real part and then descending imaginary part (so of a conjugate pair, the one with
    /// positive imaginary part comes first). The first element's modulus is therefore the
    /// ``spectralRadius()``. An empty (`0×0`) `A` gives `[]`.
    ///
    /// - Returns: `n` eigenvalues as (real part, imaginary part).
    /// - Throws: ``LAPACKError/shapeMismatch(expected:actual:)`` when `A` is not square;
    ///   ``LAPACKError/nonFiniteInput(routine:)`` when it contains NaN or an infinity;
    ///   ``LAPACKError/noConvergence(routine:info:)`` when the QR algorithm does not converge.
    public func eigenvalues() throws -> [(real: Scalar, imaginary: Scalar)] {
        guard rows == columns else {
            throw LAPACKError.shapeMismatch(expected: "a square matrix for eigenvalues()",
                                            actual: "the matrix is \(rows)×\(columns)")
        }
        let n = rows
        if n == 0 { return [] }
        let geev = Self.lapackName("geev")
        try Self.throwIfNonFinite(storage, routine: geev)
        var a = storage
        var real = [Scalar](repeating: 0, count: n), imaginary = [Scalar](repeating: 0, count: n)
        let info = a.withUnsafeMutableBufferPointer { a in
            real.withUnsafeMutableBufferPointer { wr in
                imaginary.withUnsafeMutableBufferPointer { wi in
                    Scalar.lapackEigenvalues(n, a.baseAddress!, n, wr.baseAddress!, wi.baseAddress!)
                }
            }
        }
        try Self.checkLAPACKInfo(info, routine: geev) { .noConvergence(routine: geev, info: $0) }
        let values = zip(real, imaginary).map { (real: $0, imaginary: $1, modulus: Self.complexModulus($0, $1)) }
        return values
            .sorted { lhs, rhs in
                if lhs.modulus != rhs.modulus { return lhs.modulus > rhs.modulus }
                if lhs.real != rhs.real { return lhs.real > rhs.real }
                return lhs.imaginary > rhs.imaginary
            }
            .map { (real: $0.real, imaginary: $0.imaginary) }
    }

    /// The spectral radius of the square matrix `A`: the largest modulus of its eigenvalues,
    /// `max |λᵢ|` (0 for an empty matrix).
    ///
    /// For a recurrent weight matrix `W_hh`, a spectral radius above 1 means some direction of
    /// the hidden state grows from step to step under the linearised dynamics.
    ///
    /// - Throws: The errors of ``eigenvalues()``: a shape mismatch when `A` is not square,
    ///   non-finite input, or no convergence.
    public func spectralRadius() throws -> Scalar {
        try eigenvalues().first.map { Self.complexModulus($0.real, $0.imaginary) } ?? 0
    }

    /// The solution `X` of `A·X = B` for a square `A`, through LAPACK's `gesv` (LU with partial
    /// pivoting).
    ///
    /// `A` is `n×n` and `B` is `n×nrhs` (one right-hand side per column); `X` is `n×nrhs`.
    /// As in LAPACK, NumPy and PyTorch, an ill-conditioned but invertible `A` is solved
    /// anyway (the answer may be inaccurate; compare the extreme ``singularValues()`` to
    /// judge); only an exactly zero pivot, or a solution that overflows to infinity or NaN,
    /// counts as singular. An empty system (`n = 0`) gives a `0×nrhs` `X`.
    ///
    /// - Parameter b: The right-hand sides `B`, `n×nrhs`.
    /// - Returns: `X`, `n×nrhs`.
    /// - Throws: ``LAPACKError/shapeMismatch(expected:actual:)`` when `A` is not square or `B`
    ///   does not have `n` rows; ``LAPACKError/nonFiniteInput(routine:)`` when `A` or `B`
    ///   contains NaN or an infinity; ``LAPACKError/singular(routine:pivot:)`` when `A` is
    ///   singular.
    public func solve(_ b: Matrix) throws -> Matrix {
        guard rows == columns else {
            throw LAPACKError.shapeMismatch(expected: "a square A for solve(_:)",
                                            actual: "A is \(rows)×\(columns)")
        }
        guard b.rows == rows else {
            throw LAPACKError.shapeMismatch(
                expected: "B with \(rows) rows for solve(_:) with A \(rows)×\(columns)",
                actual: "B is \(b.rows)×\(b.columns)")
        }
        let n = rows, nrhs = b.columns
        if n == 0 { return Matrix(rows: 0, columns: nrhs) }
        let gesv = Self.lapackName("gesv")
        try Self.throwIfNonFinite(storage, routine: gesv)
        try Self.throwIfNonFinite(b.storage, routine: gesv)

        var lu = storage
        // With no right-hand side, solve for a zero column instead, so A is still factored
        // and a singular A still reported (OpenBLAS's gesv returns at once when nrhs = 0).
        let columnsSolved = Swift.max(1, nrhs)
        var x = nrhs == 0 ? [Scalar](repeating: 0, count: n) : b.storage
        var pivots = [Int32](repeating: 0, count: n)
        let info = lu.withUnsafeMutableBufferPointer { a in
            pivots.withUnsafeMutableBufferPointer { ipiv in
                x.withUnsafeMutableBufferPointer { x in
                    Scalar.lapackGesv(n, columnsSolved, a.baseAddress!, n, ipiv.baseAddress!,
                                      x.baseAddress!, columnsSolved)
                }
            }
        }
        try Self.checkLAPACKInfo(info, routine: gesv) { .singular(routine: gesv, pivot: $0 - 1) }
        if nrhs == 0 { return Matrix(rows: n, columns: 0) }
        guard x.allSatisfy(\.isFinite) else {
            // Overflow: some pivot of U is tiny. Report the smallest one.
            let smallest = (0..<n).min { abs(lu[$0 * n + $0]) < abs(lu[$1 * n + $1]) }!
            throw LAPACKError.singular(routine: gesv, pivot: smallest)
        }
        return Matrix(rows: n, columns: nrhs, scalars: x)
    }

    /// The least-squares solution `X` of `A·X ≈ B`, through LAPACK's `gels` (QR or LQ).
    ///
    /// `A` is `m×n` and `B` is `m×nrhs`; `X` is `n×nrhs`, one column per right-hand side.
    /// When `m ≥ n`, `X` minimises `‖A·X − B‖` (Frobenius norm, i.e. each column's residual);
    /// when `m < n` the system is underdetermined and `X` is its minimum-norm solution
    /// (smallest `‖X‖` with `A·X = B`). Either way `A` must have full rank `min(m, n)`, and
    /// this is checked with the same numerical rank NumPy's `matrix_rank` uses: the number
    /// of singular values above `max(m, n) · ε · σ_max`. An empty `A` gives a zero `X`.
    ///
    /// - Parameter b: The right-hand sides `B`, `m×nrhs`.
    /// - Returns: `X`, `n×nrhs`.
    /// - Throws: ``LAPACKError/shapeMismatch(expected:actual:)`` when `B` does not have `m`
    ///   rows; ``LAPACKError/nonFiniteInput(routine:)`` when `A` or `B` contains NaN or an
    ///   infinity; ``LAPACKError/rankDeficient(routine:rank:required:)`` when `A` does not
    ///   have full rank; ``LAPACKError/noConvergence(routine:info:)`` if the rank check's SVD
    ///   does not converge.
    public func leastSquares(_ b: Matrix) throws -> Matrix {
        guard b.rows == rows else {
            throw LAPACKError.shapeMismatch(
                expected: "B with \(rows) rows for leastSquares(_:) with A \(rows)×\(columns)",
                actual: "B is \(b.rows)×\(b.columns)")
        }
        let m = rows, n = columns, nrhs = b.columns, k = Swift.min(m, n)
        if k == 0 { return Matrix(rows: n, columns: nrhs) }
        let gels = Self.lapackName("gels")
        try Self.throwIfNonFinite(storage, routine: gels)
        try Self.throwIfNonFinite(b.storage, routine: gels)

        // gels only notices an exactly zero diagonal in its triangular factor; check the
        // numerical rank instead, so nearly dependent columns are caught too.
        let s = try singularValues()
        let tolerance = s[0] * Scalar(Swift.max(m, n)) * Scalar.ulpOfOne
        let rank = s[0] == 0 ? 0 : s.count { $0 > tolerance }
        if rank < k { throw LAPACKError.rankDeficient(routine: gels, rank: rank, required: k) }

        // B's buffer has max(m, n) rows: gels reads B from the first m and writes X into the
        // first n. Row-major, so ldb = nrhs.
        var a = storage
        var x = [Scalar](repeating: 0, count: Swift.max(1, Swift.max(m, n) * nrhs))
        for index in b.storage.indices { x[index] = b.storage[index] }
        let info = a.withUnsafeMutableBufferPointer { a in
            x.withUnsafeMutableBufferPointer { x in
                Scalar.lapackGels(m, n, nrhs, a.baseAddress!, n, x.baseAddress!, Swift.max(1, nrhs))
            }
        }
        // info = i > 0: the i-th diagonal element of the triangular factor is zero, so only
        // the i − 1 before it are known to be independent.
        try Self.checkLAPACKInfo(info, routine: gels) { .rankDeficient(routine: gels, rank: $0 - 1, required: k) }
        return Matrix(rows: n, columns: nrhs, scalars: Array(x[0..<(n * nrhs)]))
    }
}

// MARK: - Helpers

extension Matrix {
    /// The LAPACK name of `routine` for this precision: `"sgesv"` for `Float`, `"dgesv"` for
    /// `Double`.
    private static func lapackName(_ name: String) -> String {
        (Scalar.self == Float.self ? "s" : "d") + name
    }

    /// Throws ``LAPACKError/nonFiniteInput(routine:)`` unless every element is finite.
    private static func throwIfNonFinite(_ scalars: [Scalar], routine: String) throws {
        guard scalars.allSatisfy(\.isFinite) else { throw LAPACKError.nonFiniteInput(routine: routine) }
    }

    /// Turns LAPACK's `info` into a thrown error: negative codes are illegal arguments (or
    /// LAPACKE's allocation failures), positive ones go through `positive`.
    private static func checkLAPACKInfo(_ info: Int, routine: String, positive: (Int) -> LAPACKError) throws {
        switch info {
        case 0: return
        case -1011, -1010:  // LAPACK_TRANSPOSE_MEMORY_ERROR, LAPACK_WORK_MEMORY_ERROR
            throw LAPACKError.outOfMemory(routine: routine)
        case ..<0: throw LAPACKError.illegalArgument(routine: routine, index: -info)
        default: throw positive(info)
        }
    }

    /// `√(x² + y²)` without intermediate overflow or underflow.
    private static func complexModulus(_ x: Scalar, _ y: Scalar) -> Scalar {
        let a = abs(x), b = abs(y)
        let larger = Swift.max(a, b), smaller = Swift.min(a, b)
        if larger == 0 { return 0 }
        let ratio = smaller / larger
        return larger * (1 + ratio * ratio).squareRoot()
    }
}
