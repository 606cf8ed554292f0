// Matrix construction, seeded random initialisers, slicing, concatenation, sums, printing
// and arithmetic, against hand-computed values.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import LinearAlgebra
import XCTest

final class MatrixTests: XCTestCase {
    let a = Matrix<Float>([[1, 2, 3], [4, 5, 6]])

    // MARK: - Construction

    func testInitialisers() {
        XCTAssertEqual(a.rows, 2)
        XCTAssertEqual(a.columns, 3)
        XCTAssertEqual(a.count, 6)
        XCTAssertEqual(a.scalars, [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(a[1, 2], 6)
        XCTAssertEqual(Matrix<Double>(rows: 2, columns: 2, repeating: 7).scalars, [7, 7, 7, 7])
        XCTAssertEqual(Matrix<Float>(rows: 2, columns: 3, scalars: [1, 2, 3, 4, 5, 6]), a)
        XCTAssertEqual(Matrix<Double>.identity(3).scalars, [1, 0, 0, 0, 1, 0, 0, 0, 1])
        let empty = Matrix<Float>([])
        XCTAssertEqual(empty.rows, 0)
        XCTAssertEqual(empty.columns, 0)
    }

    // MARK: - Seeded random initialisers

    func testUniformIsReproducibleAndInRange() {
        var g1 = SeededGenerator(seed: 42), g2 = SeededGenerator(seed: 42), g3 = SeededGenerator(seed: 43)
        let m1 = Matrix<Float>.uniform(rows: 30, columns: 40, in: -0.25...0.25, using: &g1)
        let m2 = Matrix<Float>.uniform(rows: 30, columns: 40, in: -0.25...0.25, using: &g2)
        let m3 = Matrix<Float>.uniform(rows: 30, columns: 40, in: -0.25...0.25, using: &g3)
        XCTAssertEqual(m1, m2, "same seed, same matrix")
        XCTAssertNotEqual(m1, m3, "different seed, different matrix")
        XCTAssertEqual(g1, g2, "both generators advanced alike")
        XCTAssertTrue(m1.scalars.allSatisfy { $0 >= -0.25 && $0 < 0.25 })
        // One draw per element, row-major: the first element is the generator's first sample.
        var g4 = SeededGenerator(seed: 42)
        let first: Float = g4.uniform(-0.25, 0.25)
        XCTAssertEqual(m2[0, 0], first)
        var g5 = SeededGenerator(seed: 42)
        for _ in 0..<(30 * 40) { _ = g5.next() }
        XCTAssertEqual(g5, g1, "uniform consumes one draw per element")
    }

    func testUniformMoments() {
        var g = SeededGenerator(seed: 7)
        let m = Matrix<Double>.uniform(rows: 100, columns: 200, in: 2...5, using: &g)
        let mean = m.sum() / Double(m.count)
        let variance = m.map { ($0 - mean) * ($0 - mean) }.sum() / Double(m.count)
        XCTAssertEqual(mean, 3.5, accuracy: 0.03)  // standard error 0.006
        XCTAssertEqual(variance, 0.75, accuracy: 0.03)  // (5 - 2)² / 12
    }

    func testNormalMomentsAndReproducibility() {
        var g = SeededGenerator(seed: 11)
        let m = Matrix<Float>.normal(rows: 100, columns: 200, mean: 3, standardDeviation: 0.5, using: &g)
        let n = Float(m.count)
        let mean = m.sum() / n
        let std = (m.map { ($0 - mean) * ($0 - mean) }.sum() / n).squareRoot()
        XCTAssertEqual(mean, 3, accuracy: 0.02)  // standard error 0.0035
        XCTAssertEqual(std, 0.5, accuracy: 0.01)  // standard error 0.0025
        // Symmetric: about half the samples on each side of the mean.
        let above = m.scalars.filter { $0 > 3 }.count
        XCTAssertEqual(Double(above) / Double(m.count), 0.5, accuracy: 0.02)

        var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
        XCTAssertEqual(Matrix<Double>.normal(rows: 3, columns: 4, using: &g1),
                       Matrix<Double>.normal(rows: 3, columns: 4, using: &g2))
        let standard = Matrix<Double>.normal(rows: 0, columns: 4, using: &g1)
        XCTAssertEqual(standard.count, 0)
        XCTAssertEqual(g1, g2, "an empty matrix draws nothing")
    }

    // MARK: - Rows, columns, slices, reshaping

    func testRowsAndColumns() {
        XCTAssertEqual(a.row(0), [1, 2, 3])
        XCTAssertEqual(a.row(1), [4, 5, 6])
        XCTAssertEqual(a.column(0), [1, 4])
        XCTAssertEqual(a.column(2), [3, 6])
    }

    func testSlices() {
        let m = Matrix<Double>([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]])
        XCTAssertEqual(m.rows(1..<3), Matrix([[5, 6, 7, 8], [9, 10, 11, 12]]))
        XCTAssertEqual(m.rows(2...), Matrix([[9, 10, 11, 12]]))
        XCTAssertEqual(m.rows(..<1), Matrix([[1, 2, 3, 4]]))
        XCTAssertEqual(m.columns(1...2), Matrix([[2, 3], [6, 7], [10, 11]]))
        XCTAssertEqual(m.columns(3..<4), Matrix([[4], [8], [12]]))
        let none = m.rows(1..<1)
        XCTAssertEqual(none.rows, 0)
        XCTAssertEqual(none.columns, 4)
        XCTAssertEqual(m.columns(0..<0).shape.columns, 0)
    }

    func testReshapeAndTranspose() {
        let r = a.reshaped(rows: 3, columns: 2)
        XCTAssertEqual(r, Matrix([[1, 2], [3, 4], [5, 6]]))
        XCTAssertEqual(a.reshaped(rows: 1, columns: 6).scalars, a.scalars)
        XCTAssertEqual(a.transposed, Matrix([[1, 4], [2, 5], [3, 6]]))
        XCTAssertEqual(a.transposed.transposed, a)
        XCTAssertEqual(Matrix<Float>(rows: 0, columns: 3).transposed.shape.rows, 3)
    }

    // MARK: - Concatenation

    func testConcatenation() {
        let b = Matrix<Float>([[7, 8, 9]])
        XCTAssertEqual(Matrix(concatenatingRowsOf: [a, b]), Matrix([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
        let c = Matrix<Float>([[10], [11]])
        XCTAssertEqual(Matrix(concatenatingColumnsOf: [a, c, c]), Matrix([[1, 2, 3, 10, 10], [4, 5, 6, 11, 11]]))
        XCTAssertEqual(Matrix(concatenatingRowsOf: [a]), a)
        let none = Matrix<Float>(concatenatingRowsOf: [])
        XCTAssertEqual(none.shape.rows, 0)
        XCTAssertEqual(none.shape.columns, 0)
        // Concatenating slices gives the matrix back.
        XCTAssertEqual(Matrix(concatenatingColumnsOf: [a.columns(0..<1), a.columns(1...)]), a)
        XCTAssertEqual(Matrix(concatenatingRowsOf: [a.rows(0..<1), a.rows(1...)]), a)
    }

    // MARK: - Sums

    func testSums() {
        XCTAssertEqual(a.sum(), 21)
        XCTAssertEqual(a.columnSums(), Matrix([[5, 7, 9]]))
        XCTAssertEqual(a.rowSums(), Matrix([[6], [15]]))
        XCTAssertEqual(Matrix<Double>(rows: 0, columns: 3).columnSums(), Matrix([[0, 0, 0]]))
        XCTAssertEqual(Matrix<Double>(rows: 2, columns: 0).rowSums(), Matrix([[0], [0]]))
        XCTAssertEqual(Matrix<Double>(rows: 0, columns: 0).sum(), 0)
        // Float sums accumulate in Double: in Float, 2²⁴ + 1 rounds back to 2²⁴ four times.
        XCTAssertEqual(Matrix<Float>([[16_777_216, 1, 1, 1, 1]]).sum(), 16_777_220)
    }

    // MARK: - Printing

    func testDescription() {
        XCTAssertEqual(Matrix<Float>([[1, -2.5], [3, 4]]).description, "[[   1, -2.5],\n [   3,    4]]")
        XCTAssertEqual(Matrix<Double>([[0.1, 1e-7, .infinity]]).description, "[[  0.1, 1e-07,   inf]]")
        XCTAssertEqual(Matrix<Double>(rows: 0, columns: 3).description, "[] (0×3)")
        let big = Matrix<Double>(rows: 12, columns: 12, scalars: (0..<144).map(Double.init))
        XCTAssertEqual(big.description.split(separator: "\n").count, 7, "3 rows, ..., 3 rows")
        XCTAssertTrue(big.description.hasPrefix("[[  0,   1,   2, ...,   9,  10,  11],\n"))
        XCTAssertTrue(big.description.hasSuffix(" [132, 133, 134, ..., 141, 142, 143]]"))
        XCTAssertTrue(big.description.contains("\n ...,\n"))
        XCTAssertEqual("\(Matrix<Float>([[1.0 / 3]]))", "[[0.333333]]")
    }

    // MARK: - Arithmetic

    func testMatrixArithmetic() {
        let b = Matrix<Float>([[6, 5, 4], [3, 2, 1]])
        XCTAssertEqual(a + b, Matrix(rows: 2, columns: 3, repeating: 7))
        XCTAssertEqual(a - b, Matrix([[-5, -3, -1], [1, 3, 5]]))
        XCTAssertEqual(a .* b, Matrix([[6, 10, 12], [12, 10, 6]]))
        XCTAssertEqual(a.multipliedElementwise(by: b), a .* b)
        XCTAssertEqual(b ./ a, Matrix([[6, 2.5, 4.0 / 3], [0.75, 0.4, 1.0 / 6]]))
        XCTAssertEqual(b.dividedElementwise(by: a), b ./ a)
        var c = a
        c += b
        c -= a
        XCTAssertEqual(c, b)
        c .*= a
        XCTAssertEqual(c, a .* b)
        c ./= b
        XCTAssertEqual(c, a)
        c.add(b, scaledBy: 2)
        XCTAssertEqual(c, Matrix([[13, 12, 11], [10, 9, 8]]))
        // `*` stays the matrix product.
        XCTAssertEqual(a * b.transposed, Matrix([[28, 10], [73, 28]]))
        var d = Matrix<Double>([[1, 2]])
        d.multiplyElementwise(by: Matrix([[3, 4]]))
        d.divideElementwise(by: Matrix([[2, 0]]))
        XCTAssertEqual(d, Matrix([[1.5, .infinity]]))
    }

    func testScalarArithmetic() {
        XCTAssertEqual(a + 1, Matrix([[2, 3, 4], [5, 6, 7]]))
        XCTAssertEqual(1 + a, a + 1)
        XCTAssertEqual(a - 1, Matrix([[0, 1, 2], [3, 4, 5]]))
        XCTAssertEqual(10 - a, Matrix([[9, 8, 7], [6, 5, 4]]))
        XCTAssertEqual(a * 2, Matrix([[2, 4, 6], [8, 10, 12]]))
        XCTAssertEqual(0.5 * a, Matrix([[0.5, 1, 1.5], [2, 2.5, 3]]))
        XCTAssertEqual(a / 2, a * 0.5)
        XCTAssertEqual(-a, Matrix([[-1, -2, -3], [-4, -5, -6]]))
        var c = a
        c += 1
        c *= 3
        c -= 3
        c /= 3
        XCTAssertEqual(c, a)
        let empty = Matrix<Double>(rows: 0, columns: 2)
        XCTAssertEqual((empty * 2 + 1 - empty).count, 0)
    }

    func testRowVectorBroadcast() {
        XCTAssertEqual(a.adding(rowVector: [10, 20, 30]), Matrix([[11, 22, 33], [14, 25, 36]]))
        XCTAssertEqual(a.adding(rowVector: Matrix([[1, 1, 1]])), a + 1)
        var b = a
        b.add(rowVector: [-1, -2, -3])
        XCTAssertEqual(b, Matrix([[0, 0, 0], [3, 3, 3]]))
        XCTAssertEqual(Matrix<Float>(rows: 0, columns: 3).adding(rowVector: [1, 2, 3]).count, 0)
    }

    func testElementwiseFunctions() {
        let x = Matrix<Double>([[-1, 0], [0.5, 2]])
        assertClose(x.tanh(), Matrix([[tanh(-1), 0], [tanh(0.5), tanh(2)]]), rtol: 1e-15)
        assertClose(x.sigmoid(), x.map { 1 / (1 + exp(-$0)) }, rtol: 1e-15)
        XCTAssertEqual(x.relu(), Matrix([[0, 0], [0.5, 2]]))
        assertClose(x.exp(), x.map { exp($0) }, rtol: 1e-15)
        assertClose(x.exp().log(), x, rtol: 1e-15, atol: 1e-15)
        XCTAssertEqual(x.map { $0 * 10 }, Matrix([[-10, 0], [5, 20]]))
        let f = Matrix<Float>([[1, 2]]).tanh()
        assertClose(f.scalars, [Float(tanh(1.0)), Float(tanh(2.0))], rtol: 3e-7)
        struct Stop: Error {}
        XCTAssertThrowsError(try x.map { v -> Double in if v > 1 { throw Stop() }; return v })
    }

    func testDotNormMatvecAndOuterProduct() {
        let b = Matrix<Float>([[1, 0, -1], [2, 2, 2]])
        XCTAssertEqual(a.dot(b), 1 - 3 + 8 + 10 + 12)
        XCTAssertEqual(Matrix<Double>([[3, 4]]).norm, 5)
        XCTAssertEqual(Matrix<Double>(rows: 0, columns: 0).norm, 0)
        XCTAssertEqual(Matrix<Double>(rows: 0, columns: 2).dot(Matrix(rows: 0, columns: 2)), 0)
        XCTAssertEqual(a.matvec([1, 0, -1]), [-2, -2])
        XCTAssertEqual(a.matvec([1, 1], transposeSelf: true), [5, 7, 9])
        XCTAssertEqual(Matrix<Float>(rows: 2, columns: 0).matvec([]), [0, 0])
        var m = Matrix<Double>(rows: 2, columns: 3)
        m.addOuterProduct([1, 2], [3, 4, 5])
        m.addOuterProduct([1, 0], [1, 1, 1], scaledBy: -1)
        XCTAssertEqual(m, Matrix([[2, 3, 4], [6, 8, 10]]))
    }
}
