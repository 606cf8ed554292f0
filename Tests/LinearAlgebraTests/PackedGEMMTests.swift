// PackedGEMM against BLAS.gemm (OpenBLAS) and against hand-computed products: every tile
// height, partial panels, strided views, both packings, beta 0 over NaN and beta 1.
import LinearAlgebra
import XCTest

final class PackedGEMMTests: XCTestCase {
    /// `c = a·op(w) + beta·c` through PackedGEMM, with the operands inside padded buffers;
    /// returns the `m × n` result and whether anything outside `c`'s view changed.
    func packedProduct(
        a: [Float], m: Int, k: Int, lda: Int, w: [Float], op: Transpose, n: Int, ldw: Int,
        c: [Float], ldc: Int, beta: Float, descending: Bool = false
    ) -> (result: [Float], paddingIntact: Bool) {
        let wRows = op == .noTranspose ? k : n, wColumns = op == .noTranspose ? n : k
        var packed = [Float](repeating: .nan, count: PackedGEMM.packedCount(columns: n, depth: k) + 8)
        var out = c
        a.withUnsafeBufferPointer { ap in
            w.withUnsafeBufferPointer { wp in
                packed.withUnsafeMutableBufferPointer { pp in
                    PackedGEMM.pack(MatrixView(wp.baseAddress!, rows: wRows, columns: wColumns, leadingDimension: ldw), op,
                                    into: pp.baseAddress!)
                    out.withUnsafeMutableBufferPointer { cp in
                        PackedGEMM.multiply(MatrixView(ap.baseAddress!, rows: m, columns: k, leadingDimension: lda),
                                            packed: pp.baseAddress!, columns: n,
                                            into: MutableMatrixView(cp.baseAddress!, rows: m, columns: n, leadingDimension: ldc),
                                            beta: beta, descending: descending)
                    }
                }
            }
        }
        var intact = packed.suffix(8).allSatisfy(\.isNaN)  // nothing past the packed count
        var result: [Float] = []
        for i in 0..<m {
            result += out[(i * ldc)..<(i * ldc + n)]
            for j in n..<ldc where i * ldc + j < out.count {
                intact = intact && (out[i * ldc + j] == c[i * ldc + j] || (out[i * ldc + j].isNaN && c[i * ldc + j].isNaN))
            }
        }
        return (result, intact)
    }

    func testHandComputedProducts() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("no AVX2 + FMA on this machine") }
        // [1 2; 3 4] · [5 6; 7 8]ᵀ = [17 23; 39 53]
        let t = packedProduct(a: [1, 2, 3, 4], m: 2, k: 2, lda: 2, w: [5, 6, 7, 8], op: .transpose, n: 2, ldw: 2,
                              c: [.nan, .nan, .nan, .nan], ldc: 2, beta: 0)
        XCTAssertEqual(t.result, [17, 23, 39, 53])
        // [1 2; 3 4] · [5 6; 7 8] + 1·[1 1; 1 1] = [20 23; 44 51]
        let n = packedProduct(a: [1, 2, 3, 4], m: 2, k: 2, lda: 2, w: [5, 6, 7, 8], op: .noTranspose, n: 2, ldw: 2,
                              c: [1, 1, 1, 1], ldc: 2, beta: 1)
        XCTAssertEqual(n.result, [20, 23, 44, 51])
        // k = 0: c = beta·c.
        let empty = packedProduct(a: [], m: 2, k: 0, lda: 1, w: [], op: .transpose, n: 3, ldw: 1,
                                  c: [1, 2, 3, 4, 5, 6], ldc: 3, beta: 0.5)
        XCTAssertEqual(empty.result, [0.5, 1, 1.5, 2, 2.5, 3])
    }

    func testAgreesWithBLASOnEveryTileAndPanelEdge() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("no AVX2 + FMA on this machine") }
        var g = SeededGenerator(seed: 7)
        var cases = 0
        for m in [1, 2, 3, 4, 5, 6, 7, 11, 13, 16, 32] {
            for n in [1, 7, 8, 15, 16, 17, 33, 64, 100] {
                for k in [1, 3, 16, 64, 129] {
                    for op in [Transpose.transpose, .noTranspose] {
                        for beta: Float in [0, 1] {
                            let lda = k + 3, ldc = n + 2
                            let ldw = (op == .noTranspose ? n : k) + 1
                            let wRows = op == .noTranspose ? k : n
                            let a = (0..<(m * lda)).map { _ in g.uniform(Float(-1), 1) }
                            let w = (0..<(wRows * ldw)).map { _ in g.uniform(Float(-1), 1) }
                            let c0: [Float] = (0..<(m * ldc)).map { _ in beta == 0 ? .nan : g.uniform(Float(-1), 1) }
                            let packed = packedProduct(a: a, m: m, k: k, lda: lda, w: w, op: op, n: n, ldw: ldw,
                                                       c: c0, ldc: ldc, beta: beta)
                            var reference = c0.map { $0.isNaN ? 0 : $0 }
                            a.withUnsafeBufferPointer { ap in
                                w.withUnsafeBufferPointer { wp in
                                    reference.withUnsafeMutableBufferPointer { rp in
                                        BLAS.gemm(MatrixView(ap.baseAddress!, rows: m, columns: k, leadingDimension: lda), .noTranspose,
                                                  MatrixView(wp.baseAddress!, rows: wRows, columns: op == .noTranspose ? n : k,
                                                             leadingDimension: ldw), op,
                                                  into: MutableMatrixView(rp.baseAddress!, rows: m, columns: n, leadingDimension: ldc),
                                                  beta: beta)
                                    }
                                }
                            }
                            let expected = (0..<m).flatMap { i in reference[(i * ldc)..<(i * ldc + n)] }
                            let label = "m \(m) n \(n) k \(k) \(op) beta \(beta)"
                            XCTAssertTrue(packed.paddingIntact, "\(label): wrote outside its output")
                            for (x, y) in zip(packed.result, expected) where !(abs(x - y) <= 1e-5 * Float(k).squareRoot() * 4) {
                                XCTFail("\(label): \(x) against BLAS's \(y)")
                                return
                            }
                            cases += 1
                        }
                    }
                }
            }
        }
        XCTAssertEqual(cases, 11 * 9 * 5 * 4)
    }

    /// Visiting the panels backwards (what a recurrence does on every other step) changes no
    /// bit of any element, writes nothing outside `c`, and leaves beta's rule as it is.
    func testDescendingPanelOrderGivesTheSameBits() throws {
        guard PackedGEMM.isAvailable else { throw XCTSkip("no AVX2 + FMA on this machine") }
        var g = SeededGenerator(seed: 11)
        for m in [1, 2, 3, 5, 6, 7, 32] {
            for n in [1, 16, 17, 31, 32, 33, 48, 100, 256] {
                for k in [1, 2, 17, 128] {
                    for beta: Float in [0, 1] {
                        let lda = k + 1, ldc = n + 3, ldw = k
                        let a = (0..<(m * lda)).map { _ in g.uniform(Float(-1), 1) }
                        let w = (0..<(n * ldw)).map { _ in g.uniform(Float(-1), 1) }
                        let c0: [Float] = (0..<(m * ldc)).map { _ in beta == 0 ? .nan : g.uniform(Float(-1), 1) }
                        let forwards = packedProduct(a: a, m: m, k: k, lda: lda, w: w, op: .transpose, n: n, ldw: ldw,
                                                     c: c0, ldc: ldc, beta: beta)
                        let backwards = packedProduct(a: a, m: m, k: k, lda: lda, w: w, op: .transpose, n: n, ldw: ldw,
                                                      c: c0, ldc: ldc, beta: beta, descending: true)
                        let label = "m \(m) n \(n) k \(k) beta \(beta)"
                        XCTAssertTrue(backwards.paddingIntact, "\(label): wrote outside its output")
                        XCTAssertEqual(backwards.result.map(\.bitPattern), forwards.result.map(\.bitPattern), label)
                    }
                }
            }
        }
    }

    func testPackedCountRoundsColumnsUpToPanels() {
        XCTAssertEqual(PackedGEMM.packedCount(columns: 1, depth: 3), 16 * 3)
        XCTAssertEqual(PackedGEMM.packedCount(columns: 16, depth: 3), 16 * 3)
        XCTAssertEqual(PackedGEMM.packedCount(columns: 17, depth: 2), 32 * 2)
        XCTAssertEqual(PackedGEMM.packedCount(columns: 0, depth: 5), 0)
    }
}
