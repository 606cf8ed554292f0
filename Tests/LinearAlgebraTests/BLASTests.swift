// Every BLAS wrapper against a naive reference computed in Double, for Float and Double, with
// strided operands: matrices that are blocks of bigger buffers (leading dimension larger than
// the column count, base pointer inside the buffer) and vectors with increments above 1.
// Elements outside the operands hold a sentinel that must survive every call.
import LinearAlgebra
import XCTest

final class BLASTests: XCTestCase {
    /// The value in every buffer slot that no operand covers.
    static let sentinel = 777.0

    /// An `rows × columns` block at `offset` inside a buffer with leading dimension `ld`.
    struct Block<S: BLASScalar> {
        var buffer: [S]
        let rows: Int, columns: Int, ld: Int, offset: Int

        /// A block with random elements in [-1, 1) and the sentinel everywhere else.
        init(rows: Int, columns: Int, padding: Int, offset: Int, using g: inout SeededGenerator) {
            self.rows = rows
            self.columns = columns
            self.ld = max(1, columns + padding)
            self.offset = offset
            buffer = [S](repeating: S(BLASTests.sentinel), count: offset + rows * ld + 2)
            for i in 0..<rows {
                for j in 0..<columns { buffer[offset + i * ld + j] = g.uniform(-1, 1) }
            }
        }

        subscript(i: Int, j: Int) -> Double { Double(buffer[offset + i * ld + j]) }

        /// Whether every slot outside the block still holds the sentinel.
        var paddingIntact: Bool {
            buffer.indices.allSatisfy { index in
                let local = index - offset
                let inside = local >= 0 && local / ld < rows && local % ld < columns
                return inside || buffer[index] == S(BLASTests.sentinel)
            }
        }

        func withView<R>(_ body: (MatrixView<S>) -> R) -> R {
            buffer.withUnsafeBufferPointer { body(MatrixView($0.baseAddress! + offset, rows: rows, columns: columns, leadingDimension: ld)) }
        }

        mutating func withMutableView<R>(_ body: (MutableMatrixView<S>) -> R) -> R {
            let (r, c, l, o) = (rows, columns, ld, offset)
            return buffer.withUnsafeMutableBufferPointer {
                body(MutableMatrixView($0.baseAddress! + o, rows: r, columns: c, leadingDimension: l))
            }
        }
    }

    /// A vector of `count` random elements, `increment` apart, sentinels in between.
    func stridedVector<S: BLASScalar>(_ count: Int, increment: Int, using g: inout SeededGenerator) -> [S] {
        var v = [S](repeating: S(Self.sentinel), count: max(1, (count - 1) * increment + 1) + 1)
        for i in 0..<count { v[i * increment] = g.uniform(-1, 1) }
        return v
    }

    func assertSentinels<S: BLASScalar>(_ v: [S], count: Int, increment: Int, _ message: String,
                                        file: StaticString = #filePath, line: UInt = #line) {
        for index in v.indices where !(index % increment == 0 && index / increment < count) {
            XCTAssertEqual(v[index], S(Self.sentinel), "\(message): slot \(index) overwritten", file: file, line: line)
        }
    }

    /// The relative tolerance for sums of a few products.
    func tolerance<S: BLASScalar>(_: S.Type) -> S { S.significandBitCount <= 23 ? 2e-6 : 1e-14 }

    // MARK: - gemm

    func checkGemm<S: BLASScalar>(_: S.Type) {
        var g = SeededGenerator(seed: 1)
        let transposes: [(Transpose, Transpose)] = [(.noTranspose, .noTranspose), (.transpose, .noTranspose),
                                                    (.noTranspose, .transpose), (.transpose, .transpose)]
        let scalings: [(S, S)] = [(1, 0), (0.5, 2), (-1.5, 1)]
        for (m, n, k) in [(5, 7, 3), (1, 4, 6), (6, 1, 2), (3, 3, 1)] {
            for (ta, tb) in transposes {
                for (alpha, beta) in scalings {
                    let a = Block<S>(rows: ta == .noTranspose ? m : k, columns: ta == .noTranspose ? k : m,
                                     padding: 3, offset: 2, using: &g)
                    let b = Block<S>(rows: tb == .noTranspose ? k : n, columns: tb == .noTranspose ? n : k,
                                     padding: 1, offset: 5, using: &g)
                    var c = Block<S>(rows: m, columns: n, padding: 2, offset: 1, using: &g)
                    let c0 = c
                    var expected = [Double](), actual = [Double]()
                    for i in 0..<m {
                        for j in 0..<n {
                            var sum = 0.0
                            for p in 0..<k {
                                sum += (ta == .noTranspose ? a[i, p] : a[p, i]) * (tb == .noTranspose ? b[p, j] : b[j, p])
                            }
                            expected.append(Double(alpha) * sum + Double(beta) * c0[i, j])
                        }
                    }
                    a.withView { av in b.withView { bv in c.withMutableView { BLAS.gemm(av, ta, bv, tb, into: $0, alpha: alpha, beta: beta) } } }
                    for i in 0..<m { for j in 0..<n { actual.append(c[i, j]) } }
                    let label = "gemm \(S.self) \(m)×\(n)×\(k) \(ta)/\(tb) alpha \(alpha) beta \(beta)"
                    assertClose(actual, expected, rtol: Double(tolerance(S.self)), atol: Double(tolerance(S.self)), label)
                    XCTAssertTrue(c.paddingIntact, "\(label): wrote outside C")
                    XCTAssertTrue(a.paddingIntact && b.paddingIntact, "\(label): wrote into A or B")
                }
            }
        }
    }

    func testGemmFloat() { checkGemm(Float.self) }
    func testGemmDouble() { checkGemm(Double.self) }

    func checkGemmDegenerateShapes<S: BLASScalar>(_: S.Type) {
        var g = SeededGenerator(seed: 2)
        // k = 0: C ← beta·C, as BLAS does.
        let a = Block<S>(rows: 3, columns: 0, padding: 1, offset: 0, using: &g)
        let b = Block<S>(rows: 0, columns: 2, padding: 1, offset: 0, using: &g)
        var c = Block<S>(rows: 3, columns: 2, padding: 1, offset: 0, using: &g)
        let c0 = c
        a.withView { av in b.withView { bv in c.withMutableView { BLAS.gemm(av, .noTranspose, bv, .noTranspose, into: $0, alpha: 1, beta: 3) } } }
        for i in 0..<3 { for j in 0..<2 { XCTAssertEqual(c[i, j], 3 * c0[i, j], accuracy: 1e-6) } }
        // beta = 0 ignores NaN in C.
        c.buffer[0] = .nan
        a.withView { av in b.withView { bv in c.withMutableView { BLAS.gemm(av, .noTranspose, bv, .noTranspose, into: $0, alpha: 1, beta: 0) } } }
        XCTAssertEqual(c[0, 0], 0)
        XCTAssertTrue(c.paddingIntact)
        // m = 0: nothing happens.
        let e = Block<S>(rows: 0, columns: 4, padding: 0, offset: 0, using: &g)
        let f = Block<S>(rows: 4, columns: 2, padding: 0, offset: 0, using: &g)
        var h = Block<S>(rows: 0, columns: 2, padding: 0, offset: 0, using: &g)
        e.withView { ev in f.withView { fv in h.withMutableView { BLAS.gemm(ev, .noTranspose, fv, .noTranspose, into: $0) } } }
        XCTAssertTrue(h.paddingIntact)
    }

    func testGemmDegenerateShapesFloat() { checkGemmDegenerateShapes(Float.self) }
    func testGemmDegenerateShapesDouble() { checkGemmDegenerateShapes(Double.self) }

    // MARK: - gemv

    func checkGemv<S: BLASScalar>(_: S.Type) {
        var g = SeededGenerator(seed: 3)
        for trans in [Transpose.noTranspose, .transpose] {
            for (incx, incy) in [(1, 1), (2, 3)] {
                for (alpha, beta) in [(S(1), S(0)), (S(-0.5), S(2))] {
                    let (m, n) = (4, 6)
                    let a = Block<S>(rows: m, columns: n, padding: 2, offset: 3, using: &g)
                    let xCount = trans == .noTranspose ? n : m
                    let yCount = trans == .noTranspose ? m : n
                    let x: [S] = stridedVector(xCount, increment: incx, using: &g)
                    var y: [S] = stridedVector(yCount, increment: incy, using: &g)
                    let y0 = y
                    var expected = [Double]()
                    for i in 0..<yCount {
                        var sum = 0.0
                        for p in 0..<xCount {
                            sum += (trans == .noTranspose ? a[i, p] : a[p, i]) * Double(x[p * incx])
                        }
                        expected.append(Double(alpha) * sum + Double(beta) * Double(y0[i * incy]))
                    }
                    a.withView { av in
                        x.withUnsafeBufferPointer { xs in
                            y.withUnsafeMutableBufferPointer {
                                BLAS.gemv(av, trans, xs.baseAddress!, incx: incx, into: $0.baseAddress!, incy: incy,
                                          alpha: alpha, beta: beta)
                            }
                        }
                    }
                    let actual = (0..<yCount).map { Double(y[$0 * incy]) }
                    let label = "gemv \(S.self) \(trans) incx \(incx) incy \(incy) alpha \(alpha) beta \(beta)"
                    assertClose(actual, expected, rtol: Double(tolerance(S.self)), atol: Double(tolerance(S.self)), label)
                    assertSentinels(y, count: yCount, increment: incy, label)
                    XCTAssertTrue(a.paddingIntact, label)
                }
            }
        }
        // An empty A leaves y = beta·y.
        let empty = Block<S>(rows: 3, columns: 0, padding: 1, offset: 0, using: &g)
        var y: [S] = [1, 2, 3]
        let x: [S] = [0]
        empty.withView { av in
            x.withUnsafeBufferPointer { xs in y.withUnsafeMutableBufferPointer { BLAS.gemv(av, .noTranspose, xs.baseAddress!, into: $0.baseAddress!, beta: 2) } }
        }
        XCTAssertEqual(y, [2, 4, 6])
    }

    func testGemvFloat() { checkGemv(Float.self) }
    func testGemvDouble() { checkGemv(Double.self) }

    // MARK: - ger

    func checkGer<S: BLASScalar>(_: S.Type) {
        var g = SeededGenerator(seed: 4)
        for (incx, incy) in [(1, 1), (3, 2)] {
            let (m, n) = (5, 3)
            var a = Block<S>(rows: m, columns: n, padding: 4, offset: 1, using: &g)
            let a0 = a
            let x: [S] = stridedVector(m, increment: incx, using: &g)
            let y: [S] = stridedVector(n, increment: incy, using: &g)
            let alpha: S = -2
            x.withUnsafeBufferPointer { xs in
                y.withUnsafeBufferPointer { ys in
                    a.withMutableView { BLAS.ger(xs.baseAddress!, incx: incx, ys.baseAddress!, incy: incy, into: $0, alpha: alpha) }
                }
            }
            var expected = [Double](), actual = [Double]()
            for i in 0..<m {
                for j in 0..<n {
                    expected.append(a0[i, j] + Double(alpha) * Double(x[i * incx]) * Double(y[j * incy]))
                    actual.append(a[i, j])
                }
            }
            assertClose(actual, expected, rtol: Double(tolerance(S.self)), atol: Double(tolerance(S.self)), "ger \(S.self) \(incx)/\(incy)")
            XCTAssertTrue(a.paddingIntact, "ger wrote outside A")
        }
    }

    func testGerFloat() { checkGer(Float.self) }
    func testGerDouble() { checkGer(Double.self) }

    // MARK: - Level 1

    func checkLevel1<S: BLASScalar>(_: S.Type) {
        var g = SeededGenerator(seed: 5)
        let tol = Double(tolerance(S.self))
        for (incx, incy) in [(1, 1), (2, 3)] {
            let n = 7
            let x: [S] = stridedVector(n, increment: incx, using: &g)
            var y: [S] = stridedVector(n, increment: incy, using: &g)
            let y0 = y
            let xs = (0..<n).map { Double(x[$0 * incx]) }
            let ys = (0..<n).map { Double(y0[$0 * incy]) }

            // axpy
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { BLAS.axpy(count: n, alpha: 1.5, xp.baseAddress!, incx: incx, $0.baseAddress!, incy: incy) }
            }
            assertClose((0..<n).map { Double(y[$0 * incy]) }, zip(xs, ys).map { 1.5 * $0 + $1 }, rtol: tol, atol: tol, "axpy")
            assertSentinels(y, count: n, increment: incy, "axpy")

            // scal
            var z = x
            z.withUnsafeMutableBufferPointer { BLAS.scal(count: n, alpha: -3, $0.baseAddress!, incx: incx) }
            assertClose((0..<n).map { Double(z[$0 * incx]) }, xs.map { -3 * $0 }, rtol: tol, "scal")
            assertSentinels(z, count: n, increment: incx, "scal")

            // dot
            let d = x.withUnsafeBufferPointer { xp in
                y0.withUnsafeBufferPointer { BLAS.dot(count: n, xp.baseAddress!, incx: incx, $0.baseAddress!, incy: incy) }
            }
            assertClose(Double(d), zip(xs, ys).map(*).reduce(0, +), rtol: tol, atol: tol, "dot")

            // nrm2
            let norm = x.withUnsafeBufferPointer { BLAS.nrm2(count: n, $0.baseAddress!, incx: incx) }
            assertClose(Double(norm), xs.map { $0 * $0 }.reduce(0, +).squareRoot(), rtol: tol, "nrm2")
        }
        // Zero counts: dot and nrm2 are 0, axpy and scal touch nothing.
        var v: [S] = [1, 2]
        let w: [S] = [3, 4]
        XCTAssertEqual(v.withUnsafeBufferPointer { a in w.withUnsafeBufferPointer { BLAS.dot(count: 0, a.baseAddress!, $0.baseAddress!) } }, 0)
        XCTAssertEqual(v.withUnsafeBufferPointer { BLAS.nrm2(count: 0, $0.baseAddress!) }, 0)
        w.withUnsafeBufferPointer { a in v.withUnsafeMutableBufferPointer { BLAS.axpy(count: 0, alpha: 2, a.baseAddress!, $0.baseAddress!) } }
        v.withUnsafeMutableBufferPointer { BLAS.scal(count: 0, alpha: 2, $0.baseAddress!) }
        XCTAssertEqual(v, [1, 2])
        // nrm2 does not overflow where the naive sum of squares would.
        let huge = S.greatestFiniteMagnitude / 4
        let big: [S] = [huge, huge, huge, huge]
        let bigNorm = big.withUnsafeBufferPointer { BLAS.nrm2(count: 4, $0.baseAddress!) }
        assertClose(bigNorm, huge * 2, rtol: S(tol), "nrm2 without overflow")
    }

    func testLevel1Float() { checkLevel1(Float.self) }
    func testLevel1Double() { checkLevel1(Double.self) }

    // MARK: - scale

    func checkScale<S: BLASScalar>(_: S.Type) {
        var g = SeededGenerator(seed: 6)
        var c = Block<S>(rows: 3, columns: 4, padding: 2, offset: 1, using: &g)
        let c0 = c
        c.withMutableView { BLAS.scale($0, by: -2) }
        for i in 0..<3 { for j in 0..<4 { XCTAssertEqual(c[i, j], -2 * c0[i, j], accuracy: 1e-12) } }
        c.withMutableView { BLAS.scale($0, by: 1) }
        for i in 0..<3 { for j in 0..<4 { XCTAssertEqual(c[i, j], -2 * c0[i, j], accuracy: 1e-12) } }
        c.buffer[c.offset] = .nan
        c.withMutableView { BLAS.scale($0, by: 0) }
        for i in 0..<3 { for j in 0..<4 { XCTAssertEqual(c[i, j], 0, "scale by 0 writes exact zeros, NaN included") } }
        XCTAssertTrue(c.paddingIntact, "scale wrote outside the view")
    }

    func testScaleFloat() { checkScale(Float.self) }
    func testScaleDouble() { checkScale(Double.self) }

    // MARK: - Matrix.matmul goes through gemm

    func testMatmulHandComputed() {
        let a = Matrix<Float>([[1, 2, 3], [4, 5, 6]])
        let b = Matrix<Float>([[7, 8], [9, 10], [11, 12]])
        XCTAssertEqual(a * b, Matrix([[58, 64], [139, 154]]))
        XCTAssertEqual(a.matmul(a, transposeOther: true), Matrix([[14, 32], [32, 77]]))
        XCTAssertEqual(a.matmul(a, transposeSelf: true), Matrix([[17, 22, 27], [22, 29, 36], [27, 36, 45]]))
        let d = Matrix<Double>([[1, 2], [3, 4]])
        XCTAssertEqual(d.matmul(d, transposeSelf: true, transposeOther: true), Matrix([[7, 15], [10, 22]]))
    }
}
