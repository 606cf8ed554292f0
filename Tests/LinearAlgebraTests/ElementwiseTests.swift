// Accuracy, special values, tails and aliasing of the Elementwise kernels, and the fused
// helpers. References are glibc's double-precision functions (within 1 ULP of the exact
// value), so Float kernels are measured against (nearly) exact values.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import LinearAlgebra
import XCTest

final class ElementwiseTests: XCTestCase {
    // MARK: - Helpers

    /// A buffer kernel, as the tests call them.
    typealias Kernel<T> = (UnsafePointer<T>, UnsafeMutablePointer<T>, Int) -> Void

    /// Runs `kernel` over `x` out of place.
    func run<T: BinaryFloatingPoint>(_ kernel: Kernel<T>, _ x: [T]) -> [T] {
        var y = [T](repeating: 0, count: x.count)
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeMutableBufferPointer { ys in
                if let xp = xs.baseAddress, let yp = ys.baseAddress { kernel(xp, yp, x.count) }
            }
        }
        return y
    }

    /// Runs `kernel` over `x` in place.
    func runInPlace<T: BinaryFloatingPoint>(_ kernel: Kernel<T>, _ x: [T]) -> [T] {
        var y = x
        y.withUnsafeMutableBufferPointer { ys in
            if let p = ys.baseAddress { kernel(p, p, ys.count) }
        }
        return y
    }

    /// The worst errors of `actual` against the exact `reference` values, over the elements
    /// where `include` holds.
    struct ErrorStats: CustomStringConvertible {
        var maxAbs = 0.0, maxRel = 0.0, maxULP = 0.0
        var worstULPInput = 0.0
        var description: String {
            "max abs \(maxAbs), max rel \(maxRel), max \(maxULP) ULP (at x = \(worstULPInput))"
        }
    }

    func errors<T: BinaryFloatingPoint>(
        inputs: [T], actual: [T], reference: (Double) -> Double,
        include: (Double) -> Bool = { _ in true }
    ) -> ErrorStats {
        var stats = ErrorStats()
        for (i, x) in inputs.enumerated() {
            let exact = reference(Double(x))
            guard exact.isFinite, include(exact) else { continue }
            let rounded = T(exact)  // the correctly rounded result (up to double rounding)
            guard rounded.isFinite else { continue }
            let error = abs(Double(actual[i]) - exact)
            stats.maxAbs = max(stats.maxAbs, error)
            if exact != 0 { stats.maxRel = max(stats.maxRel, error / abs(exact)) }
            let ulps = error / Double(rounded.ulp)
            if ulps > stats.maxULP { (stats.maxULP, stats.worstULPInput) = (ulps, Double(x)) }
        }
        return stats
    }

    /// [-20, 20] in steps of 1e-3: 40 001 points.
    func denseSweep<T: BinaryFloatingPoint>(_: T.Type) -> [T] {
        (-20_000...20_000).map { T(Double($0) * 1e-3) }
    }

    /// Every binade of `T` (subnormals included), `perBinade` significands each, positive only.
    func binadeSweep<T: BinaryFloatingPoint>(_: T.Type, perBinade: Int = 32) -> [T] {
        let lowest = Int(T.leastNonzeroMagnitude.exponent)
        let highest = Int(T.greatestFiniteMagnitude.exponent)
        var values: [T] = []
        for e in lowest...highest {
            for j in 0..<perBinade {
                let v = T(sign: .plus, exponent: T.Exponent(e), significand: 1 + T(j) / T(perBinade))
                if v.isFinite && v > 0 { values.append(v) }
            }
        }
        return values
    }

    /// `[low, high]` in `n` equal steps.
    func range<T: BinaryFloatingPoint>(_ low: Double, _ high: Double, _ n: Int) -> [T] {
        (0...n).map { T(low + (high - low) * Double($0) / Double(n)) }
    }

    /// Asserts bitwise equality (NaN payloads aside).
    func assertIdentical<T: BinaryFloatingPoint>(
        _ a: [T], _ b: [T], _ message: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        for i in 0..<min(a.count, b.count) where !(a[i] == b[i] || (a[i].isNaN && b[i].isNaN)) {
            XCTFail("\(message): [\(i)] \(a[i]) ≠ \(b[i])", file: file, line: line)
            return
        }
    }

    // MARK: - Float accuracy

    func testFloatTanhAccuracy() {
        let k: Kernel<Float> = { Elementwise.tanh($0, $1, count: $2) }
        let dense = denseSweep(Float.self)
        let d = errors(inputs: dense, actual: run(k, dense), reference: tanh)
        let wide = binadeSweep(Float.self).flatMap { [$0, -$0] }
        let w = errors(inputs: wide, actual: run(k, wide), reference: tanh)
        print("Float tanh: dense \(d); all binades \(w)")
        XCTAssertLessThanOrEqual(max(d.maxAbs, w.maxAbs), 1e-7)
        XCTAssertLessThanOrEqual(max(d.maxULP, w.maxULP), 2.5)
    }

    func testFloatSigmoidAccuracy() {
        let k: Kernel<Float> = { Elementwise.sigmoid($0, $1, count: $2) }
        let sigmoid: (Double) -> Double = { 1 / (1 + exp(-$0)) }
        let dense = denseSweep(Float.self)
        let d = errors(inputs: dense, actual: run(k, dense), reference: sigmoid)
        let wide: [Float] = range(-87, 30, 20_000)  // results stay normal floats
        let w = errors(inputs: wide, actual: run(k, wide), reference: sigmoid)
        print("Float sigmoid: dense \(d); [-87, 30] \(w)")
        XCTAssertLessThanOrEqual(max(d.maxAbs, w.maxAbs), 2e-7)
        XCTAssertLessThanOrEqual(max(d.maxRel, w.maxRel), 1e-6)
    }

    func testFloatExpAccuracy() {
        let k: Kernel<Float> = { Elementwise.exp($0, $1, count: $2) }
        let dense = denseSweep(Float.self)
        let d = errors(inputs: dense, actual: run(k, dense), reference: exp)
        let wide: [Float] = range(-110, 90, 40_000)
        let actual = run(k, wide)
        let normal = errors(inputs: wide, actual: actual, reference: exp,
                            include: { $0 >= Double(Float.leastNormalMagnitude) })
        let subnormal = errors(inputs: wide, actual: actual, reference: exp,
                               include: { $0 < Double(Float.leastNormalMagnitude) })
        print("Float exp: dense \(d); [-110, 90] normal results \(normal); subnormal results \(subnormal)")
        XCTAssertLessThanOrEqual(max(d.maxRel, normal.maxRel), 1e-6)
        XCTAssertLessThanOrEqual(max(d.maxULP, normal.maxULP), 3)
        // Subnormal results: within one subnormal step.
        XCTAssertLessThanOrEqual(subnormal.maxAbs, Double(Float.leastNonzeroMagnitude))
    }

    func testFloatLogAccuracy() {
        let k: Kernel<Float> = { Elementwise.log($0, $1, count: $2) }
        let dense: [Float] = (1...40_000).map { Float(Double($0) * 1e-3) }
        let d = errors(inputs: dense, actual: run(k, dense), reference: log)
        let wide = binadeSweep(Float.self)
        let w = errors(inputs: wide, actual: run(k, wide), reference: log)
        let nearOne: [Float] = range(0.9, 1.1, 20_000)
        let n = errors(inputs: nearOne, actual: run(k, nearOne), reference: log)
        print("Float log: (0, 40] \(d); all binades \(w); [0.9, 1.1] \(n)")
        XCTAssertLessThanOrEqual(max(d.maxRel, w.maxRel, n.maxRel), 1e-6)
        XCTAssertLessThanOrEqual(max(d.maxULP, w.maxULP, n.maxULP), 3)
    }

    // MARK: - Double accuracy

    func testDoubleAccuracy() {
        let dense = denseSweep(Double.self)
        let positive = binadeSweep(Double.self, perBinade: 8)
        let wide: [Double] = range(-740, 705, 20_000)
        let sigmoid: (Double) -> Double = { 1 / (1 + exp(-$0)) }

        let tanhK: Kernel<Double> = { Elementwise.tanh($0, $1, count: $2) }
        let signed = positive.flatMap { [$0, -$0] }
        let t = errors(inputs: dense + signed, actual: run(tanhK, dense + signed), reference: tanh)

        let sigmoidK: Kernel<Double> = { Elementwise.sigmoid($0, $1, count: $2) }
        let s = errors(inputs: dense + wide, actual: run(sigmoidK, dense + wide), reference: sigmoid,
                       include: { $0 >= Double.leastNormalMagnitude })

        let expK: Kernel<Double> = { Elementwise.exp($0, $1, count: $2) }
        let e = errors(inputs: dense + wide, actual: run(expK, dense + wide), reference: exp,
                       include: { $0 >= Double.leastNormalMagnitude })

        let logK: Kernel<Double> = { Elementwise.log($0, $1, count: $2) }
        let nearOne: [Double] = range(0.9, 1.1, 5_000)
        let l = errors(inputs: positive + nearOne, actual: run(logK, positive + nearOne), reference: log)

        print("Double tanh: \(t)\nDouble sigmoid: \(s)\nDouble exp: \(e)\nDouble log: \(l)")
        XCTAssertLessThanOrEqual(t.maxULP, 4, "tanh")
        XCTAssertLessThanOrEqual(s.maxULP, 4, "sigmoid")
        XCTAssertLessThanOrEqual(e.maxULP, 3, "exp")
        XCTAssertLessThanOrEqual(l.maxULP, 3, "log")
    }

    // MARK: - Special values

    func checkSpecialValues<T: BinaryFloatingPoint>(
        _ kernel: Kernel<T>, _ cases: [(T, T)], _ name: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        let actual = run(kernel, cases.map(\.0))
        for (i, (x, expected)) in cases.enumerated() {
            let a = actual[i]
            let ok = expected.isNaN ? a.isNaN : (a == expected && a.sign == expected.sign)
            XCTAssertTrue(ok, "\(name)(\(x)) = \(a), expected \(expected)", file: file, line: line)
        }
    }

    func specialValues<T: BLASScalar>(_: T.Type) {
        let inf = T.infinity, nan = T.nan, big = T.greatestFiniteMagnitude
        let tiny = T.leastNonzeroMagnitude, minNormal = T.leastNormalMagnitude
        let tanhCases: [(T, T)] = [
            (nan, nan), (-nan, nan), (inf, 1), (-inf, -1), (0, 0), (-0.0, -0.0),
            (big, 1), (-big, -1), (30, 1), (-30, -1), (tiny, tiny), (-tiny, -tiny),
            (minNormal, minNormal), (1e-9, 1e-9),
        ]
        let sigmoidCases: [(T, T)] = [
            (nan, nan), (inf, 1), (-inf, 0), (0, 0.5), (big, 1), (-big, 0), (1000, 1), (-1000, 0),
        ]
        let reluCases: [(T, T)] = [
            (nan, nan), (inf, inf), (-inf, 0), (0, 0), (-1, 0), (2.5, 2.5), (-big, 0), (big, big), (tiny, tiny),
        ]
        let expCases: [(T, T)] = [
            (nan, nan), (-nan, nan), (inf, inf), (-inf, 0), (0, 1), (-0.0, 1),
            (big, inf), (-big, 0), (1000, inf), (-1000, 0),
        ]
        let logCases: [(T, T)] = [
            (nan, nan), (-nan, nan), (inf, inf), (-inf, nan), (0, -inf), (-0.0, -inf),
            (-1, nan), (-tiny, nan), (1, 0),
        ]
        let tanhK: Kernel<T> = { Elementwise.tanh($0, $1, count: $2) }
        let sigmoidK: Kernel<T> = { Elementwise.sigmoid($0, $1, count: $2) }
        let reluK: Kernel<T> = { Elementwise.relu($0, $1, count: $2) }
        let expK: Kernel<T> = { Elementwise.exp($0, $1, count: $2) }
        let logK: Kernel<T> = { Elementwise.log($0, $1, count: $2) }
        checkSpecialValues(tanhK, tanhCases, "tanh")
        checkSpecialValues(sigmoidK, sigmoidCases, "sigmoid")
        checkSpecialValues(reluK, reluCases, "relu")
        checkSpecialValues(expK, expCases, "exp")
        checkSpecialValues(logK, logCases, "log")
        // e and ln 2 to within one ULP.
        XCTAssertLessThanOrEqual(run(expK, [1])[0].ulps(from: T(M_E)), 1)
        XCTAssertLessThanOrEqual(run(logK, [2])[0].ulps(from: T(M_LN2)), 1)
    }

    func testSpecialValuesFloat() { specialValues(Float.self) }
    func testSpecialValuesDouble() { specialValues(Double.self) }

    func testExpOverflowAndUnderflowBoundaries() {
        let k: Kernel<Float> = { Elementwise.exp($0, $1, count: $2) }
        let y = run(k, [88.72, 88.73, -103.0, -104.0, -87.0])
        XCTAssertTrue(y[0].isFinite && y[0] > 3.3e38, "exp(88.72) = \(y[0])")
        XCTAssertEqual(y[1], .infinity)
        XCTAssertTrue(y[2] > 0 && y[2] < Float.leastNormalMagnitude, "exp(-103) = \(y[2]) is subnormal")
        XCTAssertEqual(y[3], 0)
        XCTAssertTrue(y[4].isNormal)
        let logK: Kernel<Float> = { Elementwise.log($0, $1, count: $2) }
        let l = run(logK, [Float.leastNonzeroMagnitude, Float.greatestFiniteMagnitude])
        assertClose(l, [Float(log(Double(Float.leastNonzeroMagnitude))), Float(log(Double(Float.greatestFiniteMagnitude)))],
                    rtol: 1e-6)
    }

    func testSaturatingFunctionsStayInRange() {
        let x = denseSweep(Float.self) + range(-1e4, 1e4, 1000)
        let t = run({ Elementwise.tanh($0, $1, count: $2) }, x)
        let s = run({ Elementwise.sigmoid($0, $1, count: $2) }, x)
        XCTAssertTrue(t.allSatisfy { $0 >= -1 && $0 <= 1 }, "tanh outside [-1, 1]")
        XCTAssertTrue(s.allSatisfy { $0 >= 0 && $0 <= 1 }, "sigmoid outside [0, 1]")
        // Monotone on the dense sweep up to rounding: no step down by more than 2 ULP.
        let steps = zip(t, t.dropFirst()).prefix(40_000).map { ($1 - $0) / $0.ulp }
        XCTAssertGreaterThanOrEqual(steps.min() ?? 0, -2, "tanh not monotone")
        let sigmoidSteps = zip(s, s.dropFirst()).prefix(40_000).map { ($1 - $0) / $0.ulp }
        XCTAssertGreaterThanOrEqual(sigmoidSteps.min() ?? 0, -2, "sigmoid not monotone")
        XCTAssertEqual(t[0], -1)
        XCTAssertEqual(t[40_000], 1)
    }

    // MARK: - Tails, offsets and aliasing

    /// Every count 0…17 at offsets 0…3, out of place and in place, must agree exactly with
    /// the scalar kernel, and must not write outside `count`.
    func checkTails<T: BinaryFloatingPoint>(
        _ kernel: Kernel<T>, _ scalar: (T) -> T, _ name: String, domain: ClosedRange<Double>
    ) {
        let source: [T] = (0..<24).map { T(domain.lowerBound + (domain.upperBound - domain.lowerBound) * Double($0) / 23) }
        for offset in 0...3 {
            for count in 0...17 {
                let x = Array(source[offset..<(offset + count)])
                let expected = x.map(scalar)
                var y = [T](repeating: 42, count: count + 2)
                x.withUnsafeBufferPointer { xs in
                    y.withUnsafeMutableBufferPointer { ys in
                        kernel(xs.baseAddress ?? UnsafePointer(ys.baseAddress!), ys.baseAddress! + 1, count)
                    }
                }
                assertIdentical(Array(y[1..<(count + 1)]), expected, "\(name) count \(count) offset \(offset)")
                XCTAssertEqual(y.first, 42, "\(name) wrote before its output")
                XCTAssertEqual(y.last, 42, "\(name) wrote past its output")
                // In place, inside a larger buffer.
                var buffer = source
                buffer.withUnsafeMutableBufferPointer { b in
                    kernel(UnsafePointer(b.baseAddress! + offset), b.baseAddress! + offset, count)
                }
                assertIdentical(Array(buffer[offset..<(offset + count)]), expected, "\(name) in place count \(count)")
                assertIdentical(Array(buffer[(offset + count)...]), Array(source[(offset + count)...]),
                                "\(name) in place wrote past count \(count)")
            }
        }
    }

    /// The buffer kernel on a single element: the value every position of a longer buffer
    /// must reproduce, whichever kernel set (``CPUCapability``) runs.
    func single(_ kernel: @escaping Kernel<Float>) -> (Float) -> Float {
        { x in self.run(kernel, [x])[0] }
    }

    func testTailsAndInPlaceFloat() {
        typealias F = Float
        let tanhK: Kernel<F> = { Elementwise.tanh($0, $1, count: $2) }
        let sigmoidK: Kernel<F> = { Elementwise.sigmoid($0, $1, count: $2) }
        let expK: Kernel<F> = { Elementwise.exp($0, $1, count: $2) }
        checkTails(tanhK, single(tanhK), "tanh", domain: -9...9)
        checkTails(sigmoidK, single(sigmoidK), "sigmoid", domain: -20...20)
        checkTails(expK, single(expK), "exp", domain: -90...90)
        // The portable loops reproduce the scalar kernels exactly.
        checkTails({ (x: UnsafePointer<F>, y, n) in Elementwise.portableTanh(x, y, count: n) },
                   { (x: F) in Elementwise.tanh(x) }, "portable tanh", domain: -9...9)
        checkTails({ (x: UnsafePointer<F>, y, n) in Elementwise.portableSigmoid(x, y, count: n) },
                   { (x: F) in Elementwise.sigmoid(x) }, "portable sigmoid", domain: -20...20)
        checkTails({ (x: UnsafePointer<F>, y, n) in Elementwise.portableExp(x, y, count: n) },
                   { (x: F) in Elementwise.exp(x) }, "portable exp", domain: -90...90)
        checkTails({ (x: UnsafePointer<F>, y, n) in Elementwise.relu(x, y, count: n) },
                   { (x: F) in Elementwise.relu(x) }, "relu", domain: -3...3)
        checkTails({ (x: UnsafePointer<F>, y, n) in Elementwise.log(x, y, count: n) },
                   { (x: F) in Elementwise.log(x) }, "log", domain: 1e-3...1e3)
    }

    func testTailsAndInPlaceDouble() {
        typealias D = Double
        checkTails({ (x: UnsafePointer<D>, y, n) in Elementwise.tanh(x, y, count: n) },
                   { (x: D) in Elementwise.tanh(x) }, "tanh", domain: -25...25)
        checkTails({ (x: UnsafePointer<D>, y, n) in Elementwise.sigmoid(x, y, count: n) },
                   { (x: D) in Elementwise.sigmoid(x) }, "sigmoid", domain: -40...40)
        checkTails({ (x: UnsafePointer<D>, y, n) in Elementwise.relu(x, y, count: n) },
                   { (x: D) in Elementwise.relu(x) }, "relu", domain: -3...3)
        checkTails({ (x: UnsafePointer<D>, y, n) in Elementwise.exp(x, y, count: n) },
                   { (x: D) in Elementwise.exp(x) }, "exp", domain: -700...700)
        checkTails({ (x: UnsafePointer<D>, y, n) in Elementwise.log(x, y, count: n) },
                   { (x: D) in Elementwise.log(x) }, "log", domain: 1e-300...1e300)
    }

    /// Whichever kernel set runs, it agrees with the portable one within 4 ULP (each is within
    /// 2.3 ULP of the exact value, see the accuracy tests), special values included.
    func testKernelSetsAgree() {
        let x = denseSweep(Float.self) + binadeSweep(Float.self).flatMap { [$0, -$0] }
            + [.nan, .infinity, -.infinity, 0, -0.0, 88.72, 88.73, -103, -104, -87, 9.1, -9.1]
        let pairs: [(String, Kernel<Float>, Kernel<Float>)] = [
            ("tanh", { Elementwise.tanh($0, $1, count: $2) }, { Elementwise.portableTanh($0, $1, count: $2) }),
            ("sigmoid", { Elementwise.sigmoid($0, $1, count: $2) }, { Elementwise.portableSigmoid($0, $1, count: $2) }),
            ("exp", { Elementwise.exp($0, $1, count: $2) }, { Elementwise.portableExp($0, $1, count: $2) }),
        ]
        print("CPUCapability.current = \(CPUCapability.current)")
        for (name, kernel, portable) in pairs {
            let a = run(kernel, x), b = run(portable, x)
            for i in x.indices {
                if a[i].isNaN || b[i].isNaN {
                    XCTAssertTrue(a[i].isNaN && b[i].isNaN, "\(name)(\(x[i])): \(a[i]) against \(b[i])")
                    continue
                }
                guard a[i] != b[i] else { continue }
                let ulp = Swift.max(a[i].ulp, b[i].ulp, Float.leastNonzeroMagnitude)
                XCTAssertLessThanOrEqual(abs(a[i] - b[i]) / ulp, 4, "\(name)(\(x[i])): \(a[i]) against \(b[i])")
            }
        }
    }

    /// The two-path backward kernels give, over strided rows in one call, the bits of one call
    /// per row, and leave the gaps between rows alone.
    func testActivationBackwardOverStridedRows() {
        var g = SeededGenerator(seed: 5)
        let rows = 4, columns = 21, ldY = 30, ldD = 21, ldG = 25, ldX = 27
        let y = (0..<(rows * ldY)).map { _ in g.uniform(Float(-1), 1) }
        let dy = (0..<(rows * ldD)).map { _ in g.uniform(Float(-2), 2) }
        let gr = (0..<(rows * ldG)).map { _ in g.uniform(Float(-2), 2) }
        for name in ["tanh", "relu"] {
            for withG in [false, true] {
                var out = [Float](repeating: 3, count: rows * ldX), expected = out
                y.withUnsafeBufferPointer { yp in dy.withUnsafeBufferPointer { dp in gr.withUnsafeBufferPointer { gp in
                    out.withUnsafeMutableBufferPointer { o in
                        let yv = MatrixView(yp.baseAddress!, rows: rows, columns: columns, leadingDimension: ldY)
                        let dv = MatrixView(dp.baseAddress!, rows: rows, columns: columns, leadingDimension: ldD)
                        let gv = withG ? MatrixView(gp.baseAddress!, rows: rows, columns: columns, leadingDimension: ldG) : nil
                        let xv = MutableMatrixView(o.baseAddress!, rows: rows, columns: columns, leadingDimension: ldX)
                        if name == "tanh" { Elementwise.tanhBackward(output: yv, gradient: dv, adding: gv, into: xv) }
                        else { Elementwise.reluBackward(output: yv, gradient: dv, adding: gv, into: xv) }
                    }
                    expected.withUnsafeMutableBufferPointer { e in
                        for r in 0..<rows {
                            let yRow = row(yp.baseAddress! + r * ldY, columns), dRow = row(dp.baseAddress! + r * ldD, columns)
                            let gRow = withG ? row(gp.baseAddress! + r * ldG, columns) : nil
                            let xRow = mutableRow(e.baseAddress! + r * ldX, columns)
                            if name == "tanh" {
                                Elementwise.tanhBackward(output: yRow, gradient: dRow, adding: gRow, into: xRow)
                            } else {
                                Elementwise.reluBackward(output: yRow, gradient: dRow, adding: gRow, into: xRow)
                            }
                        }
                    }
                } } }
                XCTAssertEqual(out.map(\.bitPattern), expected.map(\.bitPattern), "\(name) g \(withG)")
                XCTAssertTrue((0..<rows).allSatisfy { r in out[(r * ldX + columns)..<(r * ldX + ldX)].allSatisfy { $0 == 3 } },
                              "\(name) g \(withG): wrote between rows")
            }
        }
    }

    /// The strided-rows activations with a bias give exactly the buffer kernels' bits on the
    /// sums `x + bias`, for widths around the 8- and 16-lane edges, with and without a bias,
    /// in place too, and write nothing between the rows.
    func testRowActivationsWithBias() {
        var g = SeededGenerator(seed: 21)
        typealias Rows = (MatrixView<Float>, UnsafePointer<Float>?, MutableMatrixView<Float>) -> Void
        let kernels: [(String, Rows, Kernel<Float>)] = [
            ("tanh", { Elementwise.tanh($0, adding: $1, into: $2) }, { Elementwise.tanh($0, $1, count: $2) }),
            ("relu", { Elementwise.relu($0, adding: $1, into: $2) }, { Elementwise.relu($0, $1, count: $2) }),
        ]
        for (name, rowsKernel, buffer) in kernels {
            for columns in [0, 1, 7, 8, 9, 16, 17, 23, 64] {
                for withBias in [false, true] {
                    let rows = 3, ld = columns + 5
                    var x = (0..<(rows * ld)).map { _ in g.uniform(Float(-4), 4) }
                    if columns > 2 { x[2] = .nan }
                    let bias = (0..<columns).map { _ in g.uniform(Float(-1), 1) }
                    var expected: [Float] = []
                    for r in 0..<rows {
                        let sums = (0..<columns).map { withBias ? x[r * ld + $0] + bias[$0] : x[r * ld + $0] }
                        expected += run(buffer, sums)
                    }
                    var out = [Float](repeating: 9, count: rows * ld), inPlace = x
                    x.withUnsafeBufferPointer { xp in bias.withUnsafeBufferPointer { bp in
                        let b = withBias ? bp.baseAddress : nil
                        out.withUnsafeMutableBufferPointer { o in
                            rowsKernel(MatrixView(xp.baseAddress!, rows: rows, columns: columns, leadingDimension: ld), b,
                                       MutableMatrixView(o.baseAddress!, rows: rows, columns: columns, leadingDimension: ld))
                        }
                        inPlace.withUnsafeMutableBufferPointer { o in
                            rowsKernel(MatrixView(o.baseAddress!, rows: rows, columns: columns, leadingDimension: ld), b,
                                       MutableMatrixView(o.baseAddress!, rows: rows, columns: columns, leadingDimension: ld))
                        }
                    } }
                    for r in 0..<rows {
                        let what = "\(name) columns \(columns) bias \(withBias) row \(r)"
                        let row = (r * ld)..<(r * ld + columns), want = expected[(r * columns)..<(r * columns + columns)]
                        XCTAssertEqual(out[row].map(\.bitPattern), want.map(\.bitPattern), what)
                        XCTAssertEqual(inPlace[row].map(\.bitPattern), want.map(\.bitPattern), "\(what) in place")
                        XCTAssertTrue(out[(r * ld + columns)..<(r * ld + ld)].allSatisfy { $0 == 9 }, "\(what): wrote past the row")
                    }
                }
            }
        }
    }

    func row(_ p: UnsafePointer<Float>, _ n: Int) -> MatrixView<Float> { MatrixView(p, rows: 1, columns: n, leadingDimension: max(n, 1)) }
    func mutableRow(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> MutableMatrixView<Float> {
        MutableMatrixView(p, rows: 1, columns: n, leadingDimension: max(n, 1))
    }

    /// The two-path activation backward kernels give exactly the scalar formula's bits at
    /// every length and offset (the AVX2 tail included), with and without the second
    /// gradient, in place over `dy` too; ReLU's gradient is 0 where `y` is 0 or NaN.
    func testActivationBackwardWithSecondGradient() {
        let n = 44
        func value(_ i: Int) -> Float {
            if i % 11 == 3 { return 0 }
            if i % 13 == 5 { return .nan }
            return Float(i % 9) * 0.23 - 0.9
        }
        let y: [Float] = (0..<n).map(value)
        let dy: [Float] = (0..<n).map { (i: Int) -> Float in Float((i * 5) % 17) * 0.37 - 3 }
        let g: [Float] = (0..<n).map { (i: Int) -> Float in Float((i * 3) % 7) * 0.61 - 1.7 }
        typealias Backward = (UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>?, UnsafeMutablePointer<Float>, Int) -> Void
        let kernels: [(String, Backward, (Float, Float) -> Float)] = [
            ("tanh", { y, dy, g, dx, n in
                Elementwise.tanhBackward(output: self.row(y, n), gradient: self.row(dy, n), adding: g.map { self.row($0, n) },
                                         into: self.mutableRow(dx, n)) }, { y, d in d * (1 - y * y) }),
            ("relu", { y, dy, g, dx, n in
                Elementwise.reluBackward(output: self.row(y, n), gradient: self.row(dy, n), adding: g.map { self.row($0, n) },
                                         into: self.mutableRow(dx, n)) }, { y, d in y > 0 ? d : 0 }),
        ]
        for (name, kernel, formula) in kernels {
            for withG in [false, true] {
                for offset in 0...3 {
                    for count in 0...(n - offset - 1) {
                        let expected = (offset..<(offset + count)).map { formula(y[$0], withG ? dy[$0] + g[$0] : dy[$0]) }
                        var out = [Float](repeating: 42, count: n)
                        var inPlace = dy
                        y.withUnsafeBufferPointer { yp in dy.withUnsafeBufferPointer { dp in g.withUnsafeBufferPointer { gp in
                            out.withUnsafeMutableBufferPointer { o in
                                kernel(yp.baseAddress! + offset, dp.baseAddress! + offset, withG ? gp.baseAddress! + offset : nil,
                                       o.baseAddress! + offset, count)
                            }
                            inPlace.withUnsafeMutableBufferPointer { o in
                                kernel(yp.baseAddress! + offset, o.baseAddress! + offset, withG ? gp.baseAddress! + offset : nil,
                                       o.baseAddress! + offset, count)
                            }
                        } } }
                        let what = "\(name) g \(withG) offset \(offset) count \(count)"
                        XCTAssertEqual(out[offset..<(offset + count)].map(\.bitPattern), expected.map(\.bitPattern), what)
                        XCTAssertEqual(inPlace[offset..<(offset + count)].map(\.bitPattern), expected.map(\.bitPattern), "\(what) in place")
                        XCTAssertTrue(out[..<offset].allSatisfy { $0 == 42 } && out[(offset + count)...].allSatisfy { $0 == 42 },
                                      "\(what): wrote outside its range")
                    }
                }
            }
        }
    }

    func testSumOfEveryLengthAndOffset() {
        // Small integers add exactly in any order: every count 0…100 at offsets 0…3.
        let values: [Float] = (0..<104).map { Float(($0 * 7) % 13) - 6 }
        values.withUnsafeBufferPointer { v in
            for offset in 0...3 {
                for count in 0...100 {
                    let expected = values[offset..<(offset + count)].reduce(0, +)
                    XCTAssertEqual(Elementwise.sum(v.baseAddress! + offset, count: count), expected, "count \(count) offset \(offset)")
                    XCTAssertEqual(Elementwise.portableSum(v.baseAddress! + offset, count: count), expected, "portable count \(count)")
                }
            }
        }
        // A million values of 0.1: one running float sum drifts by about 1%; the 32 lanes
        // stay within 5e-4, at least ten times closer.
        let tenths = [Float](repeating: 0.1, count: 1_000_000)
        let exact = Double(Float(0.1)) * 1e6
        let running = abs(Double(tenths.reduce(0, +)) - exact)
        for (name, sum) in [("sum", Elementwise.sum(tenths, count: tenths.count)),
                            ("portable", Elementwise.portableSum(tenths, count: tenths.count))] {
            XCTAssertEqual(Double(sum), exact, accuracy: exact * 5e-4, name)
            XCTAssertLessThan(abs(Double(sum) - exact) * 10, running, name)
        }
        XCTAssertTrue(Elementwise.sum([1, .nan, 2], count: 3).isNaN)
        XCTAssertEqual(Elementwise.sum([1, .infinity], count: 2), .infinity)
    }

    func testInPlaceMatchesOutOfPlaceOnLongBuffers() {
        let x = denseSweep(Float.self)
        let kernels: [(String, Kernel<Float>)] = [
            ("tanh", { Elementwise.tanh($0, $1, count: $2) }), ("sigmoid", { Elementwise.sigmoid($0, $1, count: $2) }),
            ("relu", { Elementwise.relu($0, $1, count: $2) }), ("exp", { Elementwise.exp($0, $1, count: $2) }),
            ("log", { Elementwise.log($0, $1, count: $2) }),
        ]
        for (name, k) in kernels { assertIdentical(runInPlace(k, x), run(k, x), name) }
    }

    // MARK: - Generic entry points and arrays

    func genericTanh<S: BLASScalar>(_ x: [S]) -> [S] { run({ Elementwise.tanh($0, $1, count: $2) }, x) }
    func genericLog<S: BLASScalar>(_ x: [S]) -> [S] { run({ Elementwise.log($0, $1, count: $2) }, x) }

    func testGenericEntryPointsDispatchToTheConcreteKernels() {
        let f: [Float] = [-3, -0.5, 0, 0.25, 4]
        let d: [Double] = [-3, -0.5, 0, 0.25, 4]
        assertIdentical(genericTanh(f), run({ Elementwise.tanh($0, $1, count: $2) }, f), "generic tanh Float")
        assertIdentical(genericTanh(d), run({ Elementwise.tanh($0, $1, count: $2) }, d), "generic tanh Double")
        assertIdentical(genericLog(d.map(abs)), run({ Elementwise.log($0, $1, count: $2) }, d.map(abs)), "generic log")
    }

    func testArrayConveniences() {
        let x: [Float] = [-2, -1, 0, 1, 2]
        assertClose(Elementwise.tanh(x), x.map { Float(tanh(Double($0))) }, atol: 2e-7)
        assertClose(Elementwise.sigmoid(x), x.map { Float(1 / (1 + exp(-Double($0)))) }, rtol: 1e-6)
        XCTAssertEqual(Elementwise.relu(x), [0, 0, 0, 1, 2])
        assertClose(Elementwise.exp(x), x.map { Float(exp(Double($0))) }, rtol: 1e-6)
        assertClose(Elementwise.log([Float(1), 2, 10]), [0, Float(M_LN2), Float(M_LN10)], rtol: 1e-6)
        let xd: [Double] = [-2, 0.5]
        assertClose(Elementwise.tanh(xd), xd.map(tanh), rtol: 1e-15)
        assertClose(Elementwise.sigmoid(xd), xd.map { 1 / (1 + exp(-$0)) }, rtol: 1e-15)
        XCTAssertEqual(Elementwise.relu(xd), [0, 0.5])
        assertClose(Elementwise.exp(xd), xd.map(exp), rtol: 1e-15)
        assertClose(Elementwise.log([1.0, 3]), [0, log(3.0)], rtol: 1e-15)
        XCTAssertEqual(Elementwise.tanh([Float]()), [])
    }

    // MARK: - Fused helpers

    func testBinaryHelpers() {
        let a: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let b: [Float] = [9, 8, 7, 6, 5, 4, 3, 2, 1]
        func apply(_ f: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
                   into initial: [Float]) -> [Float] {
            var y = initial
            a.withUnsafeBufferPointer { ap in
                b.withUnsafeBufferPointer { bp in
                    y.withUnsafeMutableBufferPointer { f(ap.baseAddress!, bp.baseAddress!, $0.baseAddress!, a.count) }
                }
            }
            return y
        }
        let zeros = [Float](repeating: 0, count: 9)
        XCTAssertEqual(apply({ Elementwise.add($0, $1, into: $2, count: $3) }, into: zeros), [Float](repeating: 10, count: 9))
        XCTAssertEqual(apply({ Elementwise.subtract($0, $1, into: $2, count: $3) }, into: zeros), [-8, -6, -4, -2, 0, 2, 4, 6, 8])
        XCTAssertEqual(apply({ Elementwise.multiply($0, $1, into: $2, count: $3) }, into: zeros), [9, 16, 21, 24, 25, 24, 21, 16, 9])
        XCTAssertEqual(apply({ Elementwise.multiplyAdd($0, $1, into: $2, count: $3) }, into: [Float](repeating: 1, count: 9)),
                       [10, 17, 22, 25, 26, 25, 22, 17, 10])
        // In place: y = a + y.
        var y: [Double] = [1, 2, 3]
        let c: [Double] = [10, 20, 30]
        y.withUnsafeMutableBufferPointer { yp in
            c.withUnsafeBufferPointer { Elementwise.add(UnsafePointer(yp.baseAddress!), $0.baseAddress!, into: yp.baseAddress!, count: 3) }
        }
        XCTAssertEqual(y, [11, 22, 33])
    }

    func testAddBiasToStridedView() {
        // A 2×3 block with leading dimension 4 inside a 3×4 buffer; the padding column and
        // the last row must stay untouched.
        var buffer: [Float] = [1, 2, 3, -1,
                               4, 5, 6, -1,
                               7, 8, 9, -1]
        let bias: [Float] = [10, 20, 30]
        buffer.withUnsafeMutableBufferPointer { b in
            bias.withUnsafeBufferPointer {
                Elementwise.addBias($0.baseAddress!, to: MutableMatrixView(b.baseAddress!, rows: 2, columns: 3, leadingDimension: 4))
            }
        }
        XCTAssertEqual(buffer, [11, 22, 33, -1, 14, 25, 36, -1, 7, 8, 9, -1])
    }

    func testAccumulateColumnSumsOfStridedView() {
        let buffer: [Double] = [1, 2, 3, 100,
                                4, 5, 6, 100,
                                7, 8, 9, 100]
        var sums: [Double] = [1, 1, 1]
        buffer.withUnsafeBufferPointer { b in
            sums.withUnsafeMutableBufferPointer {
                Elementwise.accumulateColumnSums(of: MatrixView(b.baseAddress!, rows: 3, columns: 3, leadingDimension: 4),
                                                 into: $0.baseAddress!)
            }
        }
        XCTAssertEqual(sums, [13, 16, 19])  // accumulated onto the ones
        // An empty view adds nothing.
        buffer.withUnsafeBufferPointer { b in
            sums.withUnsafeMutableBufferPointer {
                Elementwise.accumulateColumnSums(of: MatrixView(b.baseAddress!, rows: 0, columns: 3), into: $0.baseAddress!)
            }
        }
        XCTAssertEqual(sums, [13, 16, 19])
    }

    func testActivationBackwardHelpers() {
        let y: [Float] = [-0.5, 0, 0.5, 0.9]
        let dy: [Float] = [1, 2, 3, 4]
        func apply(_ f: (UnsafePointer<Float>, UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void) -> [Float] {
            var dx = [Float](repeating: .nan, count: 4)
            y.withUnsafeBufferPointer { yp in
                dy.withUnsafeBufferPointer { dp in dx.withUnsafeMutableBufferPointer { f(yp.baseAddress!, dp.baseAddress!, $0.baseAddress!, 4) } }
            }
            return dx
        }
        assertClose(apply { Elementwise.tanhBackward(output: $0, gradient: $1, into: $2, count: $3) },
                    [1 * 0.75, 2, 3 * 0.75, 4 * 0.19], rtol: 1e-6)
        assertClose(apply { Elementwise.sigmoidBackward(output: $0, gradient: $1, into: $2, count: $3) },
                    [1 * -0.75, 0, 3 * 0.25, 4 * 0.09], rtol: 1e-6, atol: 1e-7)
        XCTAssertEqual(apply { Elementwise.reluBackward(output: $0, gradient: $1, into: $2, count: $3) }, [0, 0, 3, 4])
    }
}
