// Every kernel set this machine has (portable, AVX2 + FMA, AVX-512) against the portable one,
// and the AVX2 and AVX-512 sets against each other: they run the same arithmetic per element,
// so they must give the same bits. Levels above the machine's are skipped.
@testable import LinearAlgebra
import XCTest

final class KernelLevelTests: XCTestCase {
    /// The C kernel levels this machine can run.
    private var vectorLevels: [CPUCapability] {
        CPUCapability.allCases.filter { $0.usesCKernels && $0 <= CPUCapability.machine }
    }

    private func product(_ a: [Float], m: Int, k: Int, _ w: [Float], n: Int, columns: [Range<Int>], beta: Float,
                         c: [Float]) -> [Float] {
        var packed = [Float](repeating: 0, count: PackedGEMM.packedCount(columns: n, depth: k))
        var out = c
        a.withUnsafeBufferPointer { ap in
            w.withUnsafeBufferPointer { wp in
                packed.withUnsafeMutableBufferPointer { pp in
                    PackedGEMM.pack(MatrixView(wp.baseAddress!, rows: n, columns: k), .transpose, into: pp.baseAddress!)
                    out.withUnsafeMutableBufferPointer { cp in
                        for range in columns {
                            PackedGEMM.multiply(MatrixView(ap.baseAddress!, rows: m, columns: k),
                                                packed: pp.baseAddress! + range.lowerBound * k, columns: range.count,
                                                into: MutableMatrixView(cp.baseAddress! + range.lowerBound, rows: m, columns: range.count,
                                                                        leadingDimension: n), beta: beta)
                        }
                    }
                }
            }
        }
        return out
    }

    /// The packed GEMM at every level: within rounding of a double-precision product, and the
    /// same bits at every level and for every split of the columns into whole panels.
    func testPackedGEMMLevelsAndColumnSplitsGiveTheSameBits() throws {
        let levels = vectorLevels
        guard !levels.isEmpty else { throw XCTSkip("no vector kernels on this machine") }
        var g = SeededGenerator(seed: 11)
        // The AVX-512 kernel takes four panels at a time where it has 5 rows or more (tiles of 4
        // to 6 rows; shorter tiles of the same block go through the two-panel ones) and the
        // rest in pairs; beta 0, 1 and other values store through three paths.
        for (m, n, k) in [(1, 5, 3), (3, 33, 17), (6, 64, 5), (7, 80, 64), (13, 130, 129), (32, 512, 128)] {
            for beta: Float in [0, 1, 0.3] {
                let a = (0..<(m * k)).map { _ in g.uniform(Float(-1), 1) }
                let w = (0..<(n * k)).map { _ in g.uniform(Float(-1), 1) }
                let c = (0..<(m * n)).map { _ in g.uniform(Float(-1), 1) }
                var exact = [Double](repeating: 0, count: m * n)
                for i in 0..<m { for j in 0..<n {
                    var s = 0.0
                    for p in 0..<k { s += Double(a[i * k + p]) * Double(w[j * k + p]) }
                    exact[i * n + j] = s + Double(beta) * Double(c[i * n + j])
                } }
                let splits: [[Range<Int>]] = [[0..<n], stride(from: 0, to: n, by: 16).map { $0..<Swift.min(n, $0 + 16) },
                                              [0..<Swift.min(n, 48), Swift.min(n, 48)..<n]]
                var reference: [Float]?
                for level in levels {
                    for split in splits {
                        let result = CPUCapability.withCapability(level) { product(a, m: m, k: k, w, n: n, columns: split, beta: beta, c: c) }
                        for (x, e) in zip(result, exact) {
                            XCTAssertEqual(Double(x), e, accuracy: 1e-5 * Double(k).squareRoot() * 4 + 1e-6, "\(level) \(m)×\(n)×\(k)")
                        }
                        if let reference {
                            XCTAssertEqual(result.map(\.bitPattern), reference.map(\.bitPattern), "\(level) \(m)×\(n)×\(k) split \(split)")
                        } else {
                            reference = result
                        }
                    }
                }
            }
        }
    }

    /// The activations at every level within 4 ULP of the portable kernels, and the AVX2 and
    /// AVX-512 kernels bit for bit, over every tail length.
    func testActivationLevelsAgree() throws {
        let levels = vectorLevels
        guard !levels.isEmpty else { throw XCTSkip("no vector kernels on this machine") }
        var g = SeededGenerator(seed: 3)
        let x = (0..<1000).map { _ in g.uniform(Float(-12), 12) } + [0, -0.0, 9.1, -9.1, 88.7, -103, .nan, .infinity, -.infinity]
        typealias Kernel = (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
        let kernels: [(String, Kernel, Kernel)] = [
            ("tanh", { Elementwise.tanh($0, $1, count: $2) }, { Elementwise.portableTanh($0, $1, count: $2) }),
            ("sigmoid", { Elementwise.sigmoid($0, $1, count: $2) }, { Elementwise.portableSigmoid($0, $1, count: $2) }),
            ("exp", { Elementwise.exp($0, $1, count: $2) }, { Elementwise.portableExp($0, $1, count: $2) }),
        ]
        func apply(_ kernel: Kernel, _ x: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: x.count)
            x.withUnsafeBufferPointer { xp in y.withUnsafeMutableBufferPointer { kernel(xp.baseAddress!, $0.baseAddress!, x.count) } }
            return y
        }
        for (name, kernel, portable) in kernels {
            let expected = apply(portable, x)
            var previous: [Float]?
            for level in levels {
                for length in [x.count, 1, 7, 15, 17, 31, 33] {
                    let part = Array(x.prefix(length))
                    let got = CPUCapability.withCapability(level) { apply(kernel, part) }
                    for (i, (a, b)) in zip(got, expected.prefix(length)).enumerated() where a != b && !(a.isNaN && b.isNaN) {
                        let ulp = Swift.max(a.ulp, b.ulp, Float.leastNonzeroMagnitude)
                        XCTAssertLessThanOrEqual(abs(a - b) / ulp, 4, "\(name) \(level) at \(part[i])")
                    }
                }
                let all = CPUCapability.withCapability(level) { apply(kernel, x) }
                if let previous { XCTAssertEqual(all.map(\.bitPattern), previous.map(\.bitPattern), "\(name): \(level)") }
                previous = all
            }
        }
    }

    /// The fused LSTM and GRU rows at every level against the portable loops (the gates, c,
    /// tanh(c), h; r, z, n, the recurrent n block, h), with a gate stride wider than the
    /// units, every tail length (the AVX-512 LSTM cell's 32-unit loop included); the AVX2
    /// and AVX-512 kernels bit for bit. Every fifth gate is 30 times wider, past the
    /// activations' clamps (tanh's 9.1, exp's 89 and -104).
    func testFusedCellLevelsAgree() throws {
        let levels = vectorLevels
        guard !levels.isEmpty else { throw XCTSkip("no vector kernels on this machine") }
        var g = SeededGenerator(seed: 9)
        for count in [1, 5, 8, 15, 16, 17, 40, 64, 130] {
            let stride = count + 3
            let gates = (0..<(4 * stride)).map { k in g.uniform(Float(-4), 4) * (k % 5 == 0 ? 30 : 1) }
            let c = (0..<count).map { _ in g.uniform(Float(-2), 2) }
            let h = (0..<count).map { _ in g.uniform(Float(-1), 1) }
            let rec = (0..<(3 * stride)).map { _ in g.uniform(Float(-3), 3) }
            let bhn = (0..<count).map { _ in g.uniform(Float(-1), 1) }
            let gateBias = (0..<(4 * stride)).map { _ in g.uniform(Float(-1), 1) }
            func lstm() -> [Float] {
                var result: [Float] = []
                for withBias in [false, true] {
                    var gg = gates, cc = c, tc = [Float](repeating: 0, count: count), hh = [Float](repeating: 0, count: count)
                    gateBias.withUnsafeBufferPointer { b in
                        Elementwise.lstmCell(gates: &gg, bias: withBias ? b.baseAddress : nil, gateStride: stride, c: &cc, tanhC: &tc,
                                             h: &hh, count: count)
                    }
                    result += gg + cc + tc + hh
                }
                return result
            }
            func gru(bias: Bool) -> [Float] {
                var gg = gates, rr = rec, hh = h
                bhn.withUnsafeBufferPointer { b in
                    gateBias.withUnsafeBufferPointer { gb in
                        Elementwise.gruCell(gates: &gg, bias: bias ? gb.baseAddress : nil, recurrent: &rr, gateStride: stride,
                                            biasN: bias ? b.baseAddress : nil, h: &hh, count: count)
                    }
                }
                return gg + rr + hh
            }
            let expectedLSTM = CPUCapability.withCapability(.portable) { lstm() }
            let expectedGRU = CPUCapability.withCapability(.portable) { [gru(bias: true), gru(bias: false)] }
            var previous: [[Float]]?
            for level in levels {
                let got = CPUCapability.withCapability(level) { [lstm(), gru(bias: true), gru(bias: false)] }
                for (name, a, b) in [("lstm", got[0], expectedLSTM), ("gru", got[1], expectedGRU[0]), ("gru without b_hn", got[2], expectedGRU[1])] {
                    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 2e-6 * Swift.max(1, abs(y)), "\(name) \(level) count \(count)") }
                }
                if let previous {
                    XCTAssertEqual(got.map { $0.map(\.bitPattern) }, previous.map { $0.map(\.bitPattern) }, "\(level) count \(count)")
                }
                previous = got
            }
        }
    }

    /// The LSTM and GRU backward rows give the portable loop's bits at every level (nothing is
    /// fused), with a gate stride wider than the units and every tail length.
    func testCellBackwardLevelsGiveThePortableBits() throws {
        let levels = vectorLevels
        guard !levels.isEmpty else { throw XCTSkip("no vector kernels on this machine") }
        var g = SeededGenerator(seed: 21)
        for count in [1, 7, 8, 9, 16, 17, 33, 130] {
            let stride = count + 5
            let gates = (0..<(4 * stride)).map { _ in g.uniform(Float(0), 1) }
            let tc = (0..<count).map { _ in g.uniform(Float(-1), 1) }
            let cp = (0..<count).map { _ in g.uniform(Float(-2), 2) }
            let dh = (0..<count).map { _ in g.uniform(Float(-1), 1) }
            let dc = (0..<count).map { _ in g.uniform(Float(-1), 1) }
            func lstm() -> [Float] {
                var dcc = dc, dg = [Float](repeating: 0, count: 4 * stride)
                Elementwise.lstmCellBackward(gates: gates, gateStride: stride, tanhC: tc, cPrev: cp, dh: dh, dc: &dcc, dG: &dg, count: count)
                return dcc + dg
            }
            func gru() -> [Float] {
                var dhh = dh, dgx = [Float](repeating: 0, count: 3 * stride), dgh = dgx
                Elementwise.gruCellBackward(gates: gates, gateStride: stride, recurrentN: tc, hPrev: cp, dh: &dhh, dGx: &dgx, dGh: &dgh, count: count)
                return dhh + dgx + dgh
            }
            let expected = CPUCapability.withCapability(.portable) { [lstm(), gru()] }
            for level in levels {
                let got = CPUCapability.withCapability(level) { [lstm(), gru()] }
                XCTAssertEqual(got.map { $0.map(\.bitPattern) }, expected.map { $0.map(\.bitPattern) }, "\(level) count \(count)")
            }
        }
    }

    /// `aᵀ·B` with `a` read transposed in place (AVX-512 only): within rounding of a
    /// double-precision product, over depths below and above its block size, row tails, rows
    /// over more than one copied strip (96 columns of `a`) and columns over more than one
    /// block of panels (those whose slices fit in L2).
    func testTransposedProductAgreesWithDoublePrecision() throws {
        guard CPUCapability.current == .avx512 else { throw XCTSkip("the AVX-512 kernels do not run here") }
        var g = SeededGenerator(seed: 17)
        for (m, n, k) in [(1, 3, 1), (5, 17, 9), (13, 40, 383), (32, 64, 385), (50, 33, 1000), (151, 700, 769)] {
            let a = (0..<(k * m)).map { _ in g.uniform(Float(-1), 1) }
            let b = (0..<(k * n)).map { _ in g.uniform(Float(-1), 1) }
            let c = (0..<(m * n)).map { _ in g.uniform(Float(-1), 1) }
            var packed = [Float](repeating: 0, count: PackedGEMM.packedCount(columns: n, depth: k))
            var out = c
            let ran = b.withUnsafeBufferPointer { bp in
                packed.withUnsafeMutableBufferPointer { pp in
                    PackedGEMM.pack(MatrixView(bp.baseAddress!, rows: k, columns: n), .noTranspose, into: pp.baseAddress!)
                    return a.withUnsafeBufferPointer { ap in
                        out.withUnsafeMutableBufferPointer { cp in
                            PackedGEMM.multiplyTransposed(MatrixView(ap.baseAddress!, rows: k, columns: m), packed: pp.baseAddress!, columns: n,
                                                          into: MutableMatrixView(cp.baseAddress!, rows: m, columns: n), beta: 1)
                        }
                    }
                }
            }
            XCTAssertTrue(ran)
            for i in 0..<m { for j in 0..<n {
                var e = Double(c[i * n + j])
                for p in 0..<k { e += Double(a[p * m + i]) * Double(b[p * n + j]) }
                XCTAssertEqual(Double(out[i * n + j]), e, accuracy: 1e-5 * Double(k).squareRoot() * 4 + 1e-6, "\(m)×\(n)×\(k) at \(i), \(j)")
            } }
        }
        XCTAssertFalse(CPUCapability.withCapability(.avx2) { PackedGEMM.isTransposedAvailable })
    }

    /// The layer-normalised LSTM's backward row (its three layer norms, the gate gradients and
    /// the parameter sums) at every level, portable included, against the same formulas in
    /// Double: every tail length, with and without an output gradient and the shifts' sums,
    /// sums that already hold values, and a prefetch distance (which changes nothing).
    func testLayerNormLSTMBackwardRowLevelsAgreeWithDoublePrecision() throws {
        var g = SeededGenerator(seed: 23)
        for H in [1, 7, 8, 9, 16, 17, 33, 130] {
            let G = 4 * H
            func values(_ n: Int, _ lo: Float, _ hi: Float) -> [Float] { (0..<n).map { _ in g.uniform(lo, hi) } }
            let gates = values(G, 0.05, 0.95), hHat = values(G, -2, 2), xHat = values(G, -2, 2)
            let wh = values(G, 0.5, 1.5), wi = values(G, 0.5, 1.5), wc = values(H, 0.5, 1.5)
            let cHat = values(H, -2, 2), tanhC = values(H, -0.9, 0.9), cPrev = values(H, -2, 2)
            let carry = values(H, -1, 1), dy = values(H, -1, 1), dc0 = values(H, -1, 1)
            let sums0 = values(3 * G + 2 * H, -1, 1)
            let (rstdH, rstdI, rstdC): (Float, Float, Float) = (0.7, 1.3, 0.9)

            /// dc, dx, dhh and the five sums, in that order.
            func run(outputGradient: Bool, shifts: Bool) -> [Float] {
                var dc = dc0, dx = [Float](repeating: 0, count: G), dhh = dx, sums = sums0
                sums.withUnsafeMutableBufferPointer { sp in
                    let s = sp.baseAddress!
                    let grads = LayerNormCellKernels.LSTMParameterGradients(
                        weightI: s, weightH: s + G, bias: shifts ? s + 2 * G : nil, weightC: s + 3 * G, biasC: shifts ? s + 3 * G + H : nil)
                    dy.withUnsafeBufferPointer { dyp in
                        LayerNormCellKernels.lstmBackwardRow(
                            hidden: H, gates: gates, hHat: hHat, rstdH: rstdH, weightH: wh, inputSide: xHat, rstdI: rstdI, weightI: wi,
                            cHat: cHat, rstdC: rstdC, weightC: wc, tanhC: tanhC, cPrev: cPrev, carry: carry,
                            dy: outputGradient ? dyp.baseAddress : nil, dc: &dc, dInput: &dx, dRecurrent: &dhh, sums: grads,
                            next: outputGradient ? 1 : 0)
                    }
                }
                return dc + dx + dhh + sums
            }
            /// The same in Double.
            func reference(outputGradient: Bool, shifts: Bool) -> [Double] {
                func d(_ a: [Float]) -> [Double] { a.map(Double.init) }
                let (gt, hh, xh, cc, tc, cp) = (d(gates), d(hHat), d(xHat), d(cHat), d(tanhC), d(cPrev))
                var sums = d(sums0)
                let dh: [Double] = (0..<H).map { j -> Double in Double(carry[j]) + (outputGradient ? Double(dy[j]) : 0) }
                let dcPost: [Double] = (0..<H).map { j -> Double in
                    let o: Double = gt[3 * H + j], t: Double = tc[j]
                    return Double(dc0[j]) + dh[j] * o * (1 - t * t)
                }
                /// A layer norm's input gradient from its output's, `rstd·(ĝ − mean ĝ − x̂·mean(ĝ·x̂))`.
                func normBackward(_ dyv: [Double], _ xhat: [Double], _ w: [Float], _ rstd: Float) -> [Double] {
                    let gh = zip(dyv, w).map { $0 * Double($1) }
                    let n = Double(gh.count)
                    let m = gh.reduce(0, +) / n, mx = zip(gh, xhat).map { $0 * $1 }.reduce(0, +) / n
                    return (0..<gh.count).map { Double(rstd) * (gh[$0] - m - xhat[$0] * mx) }
                }
                let dcPre = normBackward(dcPost, cc, wc, rstdC)
                var dg = [Double](repeating: 0, count: G)
                var dc = [Double](repeating: 0, count: H)
                for j in 0..<H {
                    let (i, f, c, o) = (gt[j], gt[H + j], gt[2 * H + j], gt[3 * H + j])
                    dg[j] = dcPre[j] * c * i * (1 - i)
                    dg[H + j] = dcPre[j] * cp[j] * f * (1 - f)
                    dg[2 * H + j] = dcPre[j] * i * (1 - c * c)
                    dg[3 * H + j] = dh[j] * tc[j] * o * (1 - o)
                    dc[j] = dcPre[j] * f
                }
                for j in 0..<G {
                    sums[j] += dg[j] * xh[j]
                    sums[G + j] += dg[j] * hh[j]
                    if shifts { sums[2 * G + j] += dg[j] }
                }
                for j in 0..<H {
                    sums[3 * G + j] += dcPost[j] * cc[j]
                    if shifts { sums[3 * G + H + j] += dcPost[j] }
                }
                return dc + normBackward(dg, xh, wi, rstdI) + normBackward(dg, hh, wh, rstdH) + sums
            }
            for level in CPUCapability.allCases where level <= CPUCapability.machine {
                for (outputGradient, shifts) in [(false, false), (true, true), (true, false)] {
                    let got = CPUCapability.withCapability(level) { run(outputGradient: outputGradient, shifts: shifts) }
                    let expected = reference(outputGradient: outputGradient, shifts: shifts)
                    XCTAssertEqual(got.count, expected.count)
                    for (k, (a, e)) in zip(got, expected).enumerated() {
                        XCTAssertEqual(Double(a), e, accuracy: 1e-5 * Swift.max(1, abs(e)),
                                       "\(level) H \(H) output gradient \(outputGradient) shifts \(shifts) at \(k)")
                    }
                }
            }
        }
    }
}
