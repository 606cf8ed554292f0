import LinearAlgebra
import XCTest

/// The LAPACK-backed operations on `Matrix`: QR, orthogonal initialisation, SVD, eigenvalues,
/// linear solves and least squares. Each check is written once, generically, and run for
/// `Float` and `Double`; the expected numbers are worked out by hand in the comments.
final class LAPACKTests: XCTestCase {
    // MARK: QR

    func testQRIsOrthonormalTimesUpperTriangular() throws {
        for (rows, columns) in [(6, 4), (4, 6), (5, 5), (1, 3), (3, 1)] {
            try checkQR(Float.self, rows: rows, columns: columns)
            try checkQR(Double.self, rows: rows, columns: columns)
        }
    }

    func testQRHandComputed() throws {
        try checkQRHandComputed(Float.self)
        try checkQRHandComputed(Double.self)
    }

    func testQROfEmptyMatrix() throws {
        let (q, r) = try Matrix<Float>(rows: 0, columns: 3).qr()
        XCTAssertTrue(q.shape == (0, 0) && r.shape == (0, 3))
        let (q2, r2) = try Matrix<Double>(rows: 3, columns: 0).qr()
        XCTAssertTrue(q2.shape == (3, 0) && r2.shape == (0, 0))
    }

    // MARK: Orthogonal initialisation

    func testOrthogonalHasOrthonormalRowsOrColumnsTimesGain() throws {
        for (rows, columns, gain) in [(8, 5, 1.0), (3, 7, 1.0), (6, 6, 2.0), (7, 3, 0.5), (1, 4, 1.0)] {
            try checkOrthogonal(Float.self, rows: rows, columns: columns, gain: gain)
            try checkOrthogonal(Double.self, rows: rows, columns: columns, gain: gain)
        }
    }

    func testOrthogonalIsReproducibleForASeed() throws {
        try checkOrthogonalReproducible(Float.self)
        try checkOrthogonalReproducible(Double.self)
    }

    func testOrthogonalFollowsPyTorchsAlgorithm() throws {
        try checkOrthogonalAlgorithm(Float.self)
        try checkOrthogonalAlgorithm(Double.self)
    }

    // MARK: SVD

    func testSVDReconstructsWithOrthogonalFactors() throws {
        for (rows, columns) in [(5, 3), (3, 5), (4, 4), (1, 3)] {
            try checkSVD(Float.self, rows: rows, columns: columns)
            try checkSVD(Double.self, rows: rows, columns: columns)
        }
    }

    func testSingularValuesHandComputed() throws {
        try checkSingularValuesHandComputed(Float.self)
        try checkSingularValuesHandComputed(Double.self)
    }

    func testSVDOfEmptyMatrix() throws {
        let empty = Matrix<Double>(rows: 2, columns: 0)
        let (u, s, vt) = try empty.svd()
        XCTAssertEqual(u, .identity(2))
        XCTAssertEqual(s, [])
        XCTAssertTrue(vt.shape == (0, 0))
        let thin = try empty.svd(full: false)
        XCTAssertTrue(thin.u.shape == (2, 0) && thin.vt.shape == (0, 0))
        XCTAssertEqual(try empty.singularValues(), [])
    }

    // MARK: Eigenvalues

    func testEigenvaluesHandComputed() throws {
        try checkEigenvalues(Float.self)
        try checkEigenvalues(Double.self)
    }

    func testEigenvaluesOfNonSquareMatrixThrow() {
        assertThrowsLAPACKError(try Matrix<Float>(rows: 2, columns: 3).eigenvalues()) {
            if case .shapeMismatch = $0 { return true } else { return false }
        }
        assertThrowsLAPACKError(try Matrix<Double>(rows: 3, columns: 2).spectralRadius()) {
            if case .shapeMismatch = $0 { return true } else { return false }
        }
    }

    // MARK: Solve

    func testSolveHandComputed() throws {
        try checkSolve(Float.self)
        try checkSolve(Double.self)
    }

    func testSolveRandomSystem() throws {
        try checkSolveRandom(Float.self)
        try checkSolveRandom(Double.self)
    }

    func testSolveSingularSystemThrows() throws {
        try checkSolveSingular(Float.self)
        try checkSolveSingular(Double.self)
    }

    func testSolveShapeMismatchThrows() {
        let nonSquare = Matrix<Float>(rows: 2, columns: 3, repeating: 1)
        assertThrowsLAPACKError(try nonSquare.solve(Matrix(rows: 2, columns: 1))) {
            $0 == .shapeMismatch(expected: "a square A for solve(_:)", actual: "A is 2×3")
        }
        let square = Matrix<Double>.identity(3)
        assertThrowsLAPACKError(try square.solve(Matrix(rows: 2, columns: 1))) {
            if case .shapeMismatch = $0 { return true } else { return false }
        }
    }

    func testSolveNonFiniteInputThrows() {
        let a = Matrix<Double>.identity(2)
        assertThrowsLAPACKError(try a.solve(Matrix([[1], [.nan]]))) { $0 == .nonFiniteInput(routine: "dgesv") }
        let b = Matrix<Float>([[.infinity, 0], [0, 1]])
        assertThrowsLAPACKError(try b.solve(Matrix([[1], [1]]))) { $0 == .nonFiniteInput(routine: "sgesv") }
    }

    func testNonFiniteInputThrowsEverywhere() {
        let bad = Matrix<Double>([[1, .nan], [0, 1]])
        let routineOf: (LAPACKError) -> String? = {
            if case let .nonFiniteInput(routine) = $0 { return routine } else { return nil }
        }
        assertThrowsLAPACKError(try bad.qr()) { routineOf($0) == "dgeqrf" }
        assertThrowsLAPACKError(try bad.svd()) { routineOf($0) == "dgesdd" }
        assertThrowsLAPACKError(try bad.singularValues()) { routineOf($0) == "dgesdd" }
        assertThrowsLAPACKError(try bad.eigenvalues()) { routineOf($0) == "dgeev" }
        assertThrowsLAPACKError(try Matrix<Float>.identity(2).leastSquares(Matrix([[1], [-.infinity]]))) {
            routineOf($0) == "sgels"
        }
    }

    func testSolveEmptySystems() throws {
        let x = try Matrix<Double>(rows: 0, columns: 0).solve(Matrix(rows: 0, columns: 2))
        XCTAssertTrue(x.shape == (0, 2))
        let noRightHandSide = try Matrix<Double>.identity(3).solve(Matrix(rows: 3, columns: 0))
        XCTAssertTrue(noRightHandSide.shape == (3, 0))
        // Even without right-hand sides, a singular A is reported.
        assertThrowsLAPACKError(try Matrix<Double>(rows: 2, columns: 2).solve(Matrix(rows: 2, columns: 0))) {
            if case .singular = $0 { return true } else { return false }
        }
    }

    // MARK: Least squares

    func testLeastSquaresLineFit() throws {
        try checkLineFit(Float.self)
        try checkLineFit(Double.self)
    }

    func testLeastSquaresMinimumNorm() throws {
        try checkMinimumNorm(Float.self)
        try checkMinimumNorm(Double.self)
    }

    func testLeastSquaresOfSquareSystemMatchesSolve() throws {
        try checkLeastSquaresMatchesSolve(Float.self)
        try checkLeastSquaresMatchesSolve(Double.self)
    }

    func testLeastSquaresRankDeficientThrows() throws {
        try checkRankDeficient(Float.self)
        try checkRankDeficient(Double.self)
    }

    func testLeastSquaresShapeMismatchThrows() {
        let a = Matrix<Float>(rows: 4, columns: 2, repeating: 1)
        assertThrowsLAPACKError(try a.leastSquares(Matrix(rows: 3, columns: 1))) {
            $0 == .shapeMismatch(expected: "B with 4 rows for leastSquares(_:) with A 4×2",
                                 actual: "B is 3×1")
        }
    }

    // MARK: Errors

    func testErrorMessagesNameWhatWasExpectedAndWhatCame() {
        let shape = LAPACKError.shapeMismatch(expected: "a square A for solve(_:)", actual: "A is 2×3")
        XCTAssertEqual(shape.description, "shape mismatch: expected a square A for solve(_:), but A is 2×3")
        let singular = LAPACKError.singular(routine: "dgesv", pivot: 1)
        XCTAssertTrue(singular.description.hasPrefix("dgesv: the matrix is singular"))
        XCTAssertTrue(singular.description.contains("U[1, 1]"))
        let rank = LAPACKError.rankDeficient(routine: "sgels", rank: 1, required: 2)
        XCTAssertEqual(rank.description, "sgels: expected a matrix of full rank 2, but its numerical rank is 1")
        XCTAssertTrue(LAPACKError.illegalArgument(routine: "sgeqrf", index: 4).description.contains("argument 4"))
        XCTAssertTrue(LAPACKError.noConvergence(routine: "dgeev", info: 3).description.contains("info = 3"))
    }
}

// MARK: - Generic checks

private func checkQR<S: BLASScalar>(_: S.Type, rows: Int, columns: Int) throws {
    let a: Matrix<S> = seededNormalMatrix(rows, columns, seed: UInt64(rows * 10 + columns))
    let original = a
    let (q, r) = try a.qr()
    let k = min(rows, columns)
    let context = "\(S.self) \(rows)×\(columns)"
    XCTAssertEqual(a, original, "qr() must not modify the receiver")
    XCTAssertTrue(q.shape == (rows, k), "Q is \(q.shape), \(context)")
    XCTAssertTrue(r.shape == (k, columns), "R is \(r.shape), \(context)")
    assertMatrixNear(q.matmul(q, transposeSelf: true), .identity(k), tolerance: lapackTolerance(), "QᵀQ = I, \(context)")
    assertMatrixNear(q * r, a, tolerance: lapackTolerance(), "QR = A, \(context)")
    for i in 0..<k {
        XCTAssertGreaterThanOrEqual(r[i, i], 0, "diag(R) ≥ 0 at \(i), \(context)")
        for j in 0..<i { XCTAssertEqual(r[i, j], 0, "R[\(i), \(j)] below the diagonal, \(context)") }
    }
}

private func checkQRHandComputed<S: BLASScalar>(_: S.Type) throws {
    // A = [[3, 1], [4, 2]]: q₁ = (3, 4)/5, r₁₁ = 5, r₁₂ = q₁·(1, 2) = 11/5;
    // (1, 2) − 11/5·q₁ = (−8, 6)/25 = 2/5·(−4, 3)/5, so q₂ = (−0.8, 0.6), r₂₂ = 0.4.
    let (q, r) = try Matrix<S>([[3, 1], [4, 2]]).qr()
    assertMatrixNear(q, Matrix([[0.6, -0.8], [0.8, 0.6]]), tolerance: lapackTolerance(), "Q, \(S.self)")
    assertMatrixNear(r, Matrix([[5, 2.2], [0, 0.4]]), tolerance: lapackTolerance(), "R, \(S.self)")
    // Negating the first column flips the sign of r₁₁ and r₁₂ in LAPACK's R; normalisation
    // keeps r₁₁ = 5 > 0 by negating q₁ instead: q₁ = (−0.6, −0.8), r₁₂ = q₁·(1, 2) = −2.2.
    let (q2, r2) = try Matrix<S>([[-3, 1], [-4, 2]]).qr()
    assertMatrixNear(q2, Matrix([[-0.6, -0.8], [-0.8, 0.6]]), tolerance: lapackTolerance(), "Q, \(S.self)")
    assertMatrixNear(r2, Matrix([[5, -2.2], [0, 0.4]]), tolerance: lapackTolerance(), "R, \(S.self)")
}

private func checkOrthogonal<S: BLASScalar>(_: S.Type, rows: Int, columns: Int, gain: Double) throws {
    var generator = SeededGenerator(seed: 42)
    let g = S(gain)
    let w = try Matrix<S>.orthogonal(rows: rows, columns: columns, gain: g, using: &generator)
    let context = "\(S.self) \(rows)×\(columns) gain \(gain)"
    XCTAssertTrue(w.shape == (rows, columns), context)
    var expected = Matrix<S>.identity(min(rows, columns))
    for i in 0..<expected.rows { expected[i, i] = g * g }
    let gram = rows >= columns ? w.matmul(w, transposeSelf: true) : w.matmul(w, transposeOther: true)
    assertMatrixNear(gram, expected, tolerance: lapackTolerance(), "WᵀW or WWᵀ = gain²·I, \(context)")
}

private func checkOrthogonalReproducible<S: BLASScalar>(_: S.Type) throws {
    var first = SeededGenerator(seed: 7), second = SeededGenerator(seed: 7), other = SeededGenerator(seed: 8)
    let a = try Matrix<S>.orthogonal(rows: 4, columns: 6, using: &first)
    let b = try Matrix<S>.orthogonal(rows: 4, columns: 6, using: &second)
    let c = try Matrix<S>.orthogonal(rows: 4, columns: 6, using: &other)
    XCTAssertEqual(a, b, "same seed, same matrix (\(S.self))")
    XCTAssertNotEqual(a, c, "different seed, different matrix (\(S.self))")
    XCTAssertEqual(first, second, "generators advanced alike (\(S.self))")
    // The stream moves on by exactly rows · columns normal samples.
    var manual = SeededGenerator(seed: 7)
    for _ in 0..<24 { let _: S = manual.normal() }
    XCTAssertEqual(first, manual, "orthogonal draws rows · columns normals (\(S.self))")
    // Empty shapes draw nothing.
    var untouched = SeededGenerator(seed: 7)
    let empty = try Matrix<S>.orthogonal(rows: 0, columns: 5, using: &untouched)
    XCTAssertTrue(empty.shape == (0, 5))
    XCTAssertEqual(untouched, SeededGenerator(seed: 7))
}

private func checkOrthogonalAlgorithm<S: BLASScalar>(_: S.Type) throws {
    // torch.nn.init.orthogonal_ on a 3×5 tensor: normal 3×5, transpose to 5×3, QR,
    // q *= sign(diag(r)), transpose back, times gain.
    var generator = SeededGenerator(seed: 3)
    let w = try Matrix<S>.orthogonal(rows: 3, columns: 5, gain: 1.5, using: &generator)
    var replay = SeededGenerator(seed: 3)
    var normal = Matrix<S>(rows: 3, columns: 5)
    for i in 0..<3 { for j in 0..<5 { normal[i, j] = replay.normal() } }
    let (q, r) = try normal.transposed.qr()
    var expected = q
    for i in 0..<q.rows { for j in 0..<q.columns { expected[i, j] *= (r[j, j] < 0 ? -1 : 1) * 1.5 } }
    assertMatrixNear(w, expected.transposed, tolerance: lapackTolerance(), "orthogonal = PyTorch's steps (\(S.self))")
    // Nᵀ = Q·R and W = gain·D·Qᵀ (D the signs), so N·WᵀW = Rᵀ·Qᵀ·gain²·Q·Qᵀ = gain²·N:
    // W's rows span the samples' rows.
    let projection = normal.matmul(w, transposeOther: true).matmul(w)
    var scaled = projection
    for i in 0..<scaled.rows { for j in 0..<scaled.columns { scaled[i, j] /= 2.25 } }
    assertMatrixNear(scaled, normal, tolerance: lapackTolerance() * 10, "W spans the samples' rows (\(S.self))")
}

private func checkSVD<S: BLASScalar>(_: S.Type, rows m: Int, columns n: Int) throws {
    let a: Matrix<S> = seededNormalMatrix(m, n, seed: UInt64(100 + m * 10 + n))
    let original = a
    let k = min(m, n)
    let context = "\(S.self) \(m)×\(n)"

    let (u, s, vt) = try a.svd()
    XCTAssertEqual(a, original, "svd() must not modify the receiver")
    XCTAssertTrue(u.shape == (m, m) && vt.shape == (n, n) && s.count == k, context)
    assertMatrixNear(u.matmul(u, transposeSelf: true), .identity(m), tolerance: lapackTolerance(), "UᵀU = I, \(context)")
    assertMatrixNear(vt.matmul(vt, transposeOther: true), .identity(n), tolerance: lapackTolerance(), "VᵀV = I, \(context)")
    XCTAssertTrue(s.allSatisfy { $0 >= 0 }, "s ≥ 0, \(context)")
    XCTAssertEqual(s, s.sorted(by: >), "s descending, \(context)")
    // A = U·Σ·Vᵀ with Σ the m×n matrix with s on its diagonal.
    var sigma = Matrix<S>(rows: m, columns: n)
    for i in 0..<k { sigma[i, i] = s[i] }
    assertMatrixNear(u * sigma * vt, a, tolerance: lapackTolerance(), "U·Σ·Vᵀ = A, \(context)")

    let thin = try a.svd(full: false)
    XCTAssertTrue(thin.u.shape == (m, k) && thin.vt.shape == (k, n), "thin shapes, \(context)")
    var diagonal = Matrix<S>(rows: k, columns: k)
    for i in 0..<k { diagonal[i, i] = thin.s[i] }
    assertMatrixNear(thin.u * diagonal * thin.vt, a, tolerance: lapackTolerance(), "thin U·diag(s)·Vᵀ = A, \(context)")
    assertMatrixNear(thin.u.matmul(thin.u, transposeSelf: true), .identity(k), tolerance: lapackTolerance(), "thin UᵀU, \(context)")

    let values = try a.singularValues()
    assertMatrixNear(Matrix(rows: 1, columns: k, scalars: values), Matrix(rows: 1, columns: k, scalars: s),
               tolerance: lapackTolerance(), "singularValues() = s, \(context)")
}

private func checkSingularValuesHandComputed<S: BLASScalar>(_: S.Type) throws {
    // AᵀA of [[3, 0], [4, 5]] is [[25, 20], [20, 25]], with eigenvalues 45 and 5.
    let s = try Matrix<S>([[3, 0], [4, 5]]).singularValues()
    assertMatrixNear(Matrix(rows: 1, columns: 2, scalars: s),
               Matrix(rows: 1, columns: 2, scalars: [S(45).squareRoot(), S(5).squareRoot()]),
               tolerance: lapackTolerance(), "singular values of [[3, 0], [4, 5]] (\(S.self))")
    // A wide diagonal-ish matrix: singular values are the absolute diagonal, sorted.
    let wide = try Matrix<S>([[0, -2, 0], [1, 0, 0]]).singularValues()
    assertMatrixNear(Matrix(rows: 1, columns: 2, scalars: wide), Matrix([[2, 1]]),
               tolerance: lapackTolerance(), "singular values of a signed permutation (\(S.self))")
}

private func checkEigenvalues<S: BLASScalar>(_: S.Type) throws {
    // [[2, 1], [1, 2]]: (2 − λ)² = 1, so λ = 3 and 1.
    let symmetric = try Matrix<S>([[2, 1], [1, 2]]).eigenvalues()
    assertMatrixNear(eigenvaluePairs(symmetric), Matrix([[3, 0], [1, 0]]), tolerance: lapackTolerance(), "[[2, 1], [1, 2]] (\(S.self))")
    XCTAssertEqual(try Matrix<S>([[2, 1], [1, 2]]).spectralRadius(), 3, accuracy: lapackTolerance())

    // A rotation by θ has eigenvalues cos θ ± i sin θ and spectral radius 1.
    let theta = S(0.3)
    let (c, s) = (S(lapackTestsCosine(0.3)), S(lapackTestsSine(0.3)))
    let rotation = Matrix<S>([[c, -s], [s, c]])
    assertMatrixNear(eigenvaluePairs(try rotation.eigenvalues()), Matrix([[c, s], [c, -s]]),
               tolerance: lapackTolerance(), "rotation by \(theta) (\(S.self))")
    XCTAssertEqual(try rotation.spectralRadius(), 1, accuracy: lapackTolerance())

    // A triangular matrix's eigenvalues are its diagonal; sorted by modulus: −4, 2, 1.
    let triangular = Matrix<S>([[1, 2, 3], [0, -4, 5], [0, 0, 2]])
    assertMatrixNear(eigenvaluePairs(try triangular.eigenvalues()), Matrix([[-4, 0], [2, 0], [1, 0]]),
               tolerance: lapackTolerance(), "triangular (\(S.self))")
    XCTAssertEqual(try triangular.spectralRadius(), 4, accuracy: lapackTolerance() * 4)

    XCTAssertTrue(try Matrix<S>(rows: 0, columns: 0).eigenvalues().isEmpty)
    XCTAssertEqual(try Matrix<S>(rows: 0, columns: 0).spectralRadius(), 0)
}

private func checkSolve<S: BLASScalar>(_: S.Type) throws {
    // 2x + y − z = 8, −3x − y + 2z = −11, −2x + y + 2z = −3 has the solution (2, 3, −1);
    // the second right-hand side is A·(1, 1, 1) = (2, −2, 1).
    let a = Matrix<S>([[2, 1, -1], [-3, -1, 2], [-2, 1, 2]])
    let original = a
    let x = try a.solve(Matrix([[8], [-11], [-3]]))
    assertMatrixNear(x, Matrix([[2], [3], [-1]]), tolerance: lapackTolerance(), "one right-hand side (\(S.self))")
    let both = try a.solve(Matrix([[8, 2], [-11, -2], [-3, 1]]))
    assertMatrixNear(both, Matrix([[2, 1], [3, 1], [-1, 1]]), tolerance: lapackTolerance(), "two right-hand sides (\(S.self))")
    XCTAssertEqual(a, original, "solve(_:) must not modify the receiver")
}

private func checkSolveRandom<S: BLASScalar>(_: S.Type) throws {
    var a: Matrix<S> = seededNormalMatrix(6, 6, seed: 11)
    for i in 0..<6 { a[i, i] += 4 }  // comfortably invertible
    let b: Matrix<S> = seededNormalMatrix(6, 3, seed: 12)
    let x = try a.solve(b)
    XCTAssertTrue(x.shape == (6, 3))
    assertMatrixNear(a * x, b, tolerance: lapackTolerance(), "A·X = B (\(S.self))")
}

private func checkSolveSingular<S: BLASScalar>(_: S.Type) throws {
    let routine = S.self == Float.self ? "sgesv" : "dgesv"
    // The second row is twice the first: elimination leaves U[1, 1] = 0.
    assertThrowsLAPACKError(try Matrix<S>([[1, 2], [2, 4]]).solve(Matrix([[1], [2]]))) {
        $0 == .singular(routine: routine, pivot: 1)
    }
    // A zero matrix fails at the first pivot.
    assertThrowsLAPACKError(try Matrix<S>(rows: 3, columns: 3).solve(Matrix(rows: 3, columns: 2, repeating: 1))) {
        $0 == .singular(routine: routine, pivot: 0)
    }
    // Invertible in exact arithmetic, but the solution overflows: reported at the tiny pivot.
    let tiny: S = S.self == Float.self ? 1e-37 : 1e-307
    assertThrowsLAPACKError(try Matrix<S>([[tiny, 0], [0, 1]]).solve(Matrix([[1e3], [1]]))) {
        $0 == .singular(routine: routine, pivot: 0)
    }
    // A 3×3 with a repeated row.
    assertThrowsLAPACKError(try Matrix<S>([[1, 2, 3], [0, 1, 4], [1, 2, 3]]).solve(Matrix([[1], [1], [1]]))) {
        if case .singular(routine, _) = $0 { return true } else { return false }
    }
}

private func checkLineFit<S: BLASScalar>(_: S.Type) throws {
    // Fit y = a + b·x to (0, 1), (1, 2), (2, 2), (3, 4). With Σx = 6, Σx² = 14, Σy = 9,
    // Σxy = 18: b = (4·18 − 6·9)/(4·14 − 6²) = 18/20 = 0.9 and a = (9 − 0.9·6)/4 = 0.9.
    // The second right-hand side lies exactly on y = 2 + 3x.
    let design = Matrix<S>([[1, 0], [1, 1], [1, 2], [1, 3]])
    let original = design
    let y = Matrix<S>([[1, 2], [2, 5], [2, 8], [4, 11]])
    let coefficients = try design.leastSquares(y)
    XCTAssertTrue(coefficients.shape == (2, 2))
    assertMatrixNear(coefficients, Matrix([[0.9, 2], [0.9, 3]]), tolerance: lapackTolerance(), "line fit (\(S.self))")
    XCTAssertEqual(design, original, "leastSquares(_:) must not modify the receiver")
    // The residual is orthogonal to the columns of the design matrix.
    let residual = design * coefficients
    var difference = residual
    for i in 0..<4 { for j in 0..<2 { difference[i, j] = y[i, j] - residual[i, j] } }
    assertMatrixNear(design.matmul(difference, transposeSelf: true), Matrix(rows: 2, columns: 2),
               tolerance: lapackTolerance() * 10, "Aᵀ(B − AX) = 0 (\(S.self))")
}

private func checkMinimumNorm<S: BLASScalar>(_: S.Type) throws {
    // x + z = 2, y = 3: the minimum-norm solution is Aᵀ(AAᵀ)⁻¹b with AAᵀ = diag(2, 1),
    // i.e. Aᵀ·(1, 3) = (1, 3, 1).
    let a = Matrix<S>([[1, 0, 1], [0, 1, 0]])
    let x = try a.leastSquares(Matrix([[2], [3]]))
    XCTAssertTrue(x.shape == (3, 1))
    assertMatrixNear(x, Matrix([[1], [3], [1]]), tolerance: lapackTolerance(), "minimum norm (\(S.self))")
    // One equation x + 2y + 2z = 9: x = (1, 2, 2)·9/9.
    let single = try Matrix<S>([[1, 2, 2]]).leastSquares(Matrix([[9]]))
    assertMatrixNear(single, Matrix([[1], [2], [2]]), tolerance: lapackTolerance(), "one equation (\(S.self))")
}

private func checkLeastSquaresMatchesSolve<S: BLASScalar>(_: S.Type) throws {
    let a = Matrix<S>([[2, 1, -1], [-3, -1, 2], [-2, 1, 2]])
    let b = Matrix<S>([[8, 2], [-11, -2], [-3, 1]])
    assertMatrixNear(try a.leastSquares(b), try a.solve(b), tolerance: lapackTolerance(), "square system (\(S.self))")
}

private func checkRankDeficient<S: BLASScalar>(_: S.Type) throws {
    let routine = S.self == Float.self ? "sgels" : "dgels"
    // The second column is twice the first: rank 1 of 2.
    assertThrowsLAPACKError(try Matrix<S>([[1, 2], [2, 4], [3, 6]]).leastSquares(Matrix([[1], [2], [3]]))) {
        $0 == .rankDeficient(routine: routine, rank: 1, required: 2)
    }
    // Underdetermined with dependent rows: rank 1 of 2.
    assertThrowsLAPACKError(try Matrix<S>([[1, 2, 3], [2, 4, 6]]).leastSquares(Matrix([[1], [1]]))) {
        $0 == .rankDeficient(routine: routine, rank: 1, required: 2)
    }
    // Nearly dependent columns (within rounding) count as dependent too.
    let eps = S.ulpOfOne
    assertThrowsLAPACKError(try Matrix<S>([[1, 1], [1, 1 + eps], [1, 1]]).leastSquares(Matrix([[1], [1], [1]]))) {
        if case .rankDeficient = $0 { return true } else { return false }
    }
    // The zero matrix has rank 0.
    assertThrowsLAPACKError(try Matrix<S>(rows: 2, columns: 2).leastSquares(Matrix([[1], [1]]))) {
        $0 == .rankDeficient(routine: routine, rank: 0, required: 2)
    }
}

// MARK: - Helpers (private, so they cannot clash with the shared assertClose)

/// A tolerance for the small, well-conditioned problems above: about 1e-4 for `Float`,
/// 2e-13 for `Double`.
private func lapackTolerance<S: BLASScalar>() -> S { S.ulpOfOne * 1000 }

/// A matrix of standard normal samples from a seeded stream.
private func seededNormalMatrix<S: BLASScalar>(_ rows: Int, _ columns: Int, seed: UInt64) -> Matrix<S> {
    var generator = SeededGenerator(seed: seed)
    var m = Matrix<S>(rows: rows, columns: columns)
    for i in 0..<rows { for j in 0..<columns { m[i, j] = generator.normal() } }
    return m
}

/// Eigenvalues as an `n×2` matrix of (real, imaginary) rows, for comparison.
private func eigenvaluePairs<S: BLASScalar>(_ values: [(real: S, imaginary: S)]) -> Matrix<S> {
    Matrix(values.map { [$0.real, $0.imaginary] })
}

/// Fails unless `actual` and `expected` have the same shape and every element differs by at
/// most `tolerance · max(1, |expected|)`; reports the worst element.
private func assertMatrixNear<S: BLASScalar>(
    _ actual: Matrix<S>, _ expected: Matrix<S>, tolerance: S, _ message: String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.shape == expected.shape else {
        XCTFail("\(message): shape \(actual.rows)×\(actual.columns), expected \(expected.rows)×\(expected.columns)",
                file: file, line: line)
        return
    }
    var worst: (index: Int, excess: S)? = nil
    for (index, (a, e)) in zip(actual.scalars, expected.scalars).enumerated() {
        let excess = abs(a - e) / max(1, abs(e))
        if !(excess <= tolerance), worst == nil || !(excess <= worst!.excess) { worst = (index, excess) }
    }
    if let worst {
        let (i, j) = (worst.index / expected.columns, worst.index % expected.columns)
        XCTFail("\(message): worst element [\(i), \(j)] is \(actual[i, j]), expected \(expected[i, j]) "
                + "(tolerance \(tolerance))", file: file, line: line)
    }
}

/// Fails unless `expression` throws a ``LAPACKError`` that `matches` accepts.
private func assertThrowsLAPACKError<T>(
    _ expression: @autoclosure () throws -> T, file: StaticString = #filePath, line: UInt = #line,
    _ matches: (LAPACKError) -> Bool
) {
    do {
        let value = try expression()
        XCTFail("expected a LAPACKError, got \(value)", file: file, line: line)
    } catch let error as LAPACKError {
        XCTAssertTrue(matches(error), "unexpected error: \(error)", file: file, line: line)
    } catch {
        XCTFail("expected a LAPACKError, got \(error)", file: file, line: line)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
private func lapackTestsCosine(_ x: Double) -> Double { cos(x) }
private func lapackTestsSine(_ x: Double) -> Double { sin(x) }
