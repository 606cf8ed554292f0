// The shared closeness assertion of the LinearAlgebra tests.
import LinearAlgebra
import XCTest

extension BinaryFloatingPoint {
    /// The default relative tolerance of ``assertClose(_:_:rtol:atol:_:file:line:)``:
    /// `1e-5` for `Float` (and narrower types), `1e-12` for `Double`.
    static var defaultRelativeTolerance: Self { significandBitCount <= 23 ? 1e-5 : 1e-12 }

    /// The distance from `self` to `other` in units in the last place of `other`
    /// (`other` is the reference value). Zero for equal values, infinite when exactly one of
    /// them is NaN or they are different infinities.
    func ulps(from other: Self) -> Self {
        if self == other || (isNaN && other.isNaN) { return 0 }
        if isNaN || other.isNaN || !isFinite || !other.isFinite { return .infinity }
        return abs(self - other) / other.ulp
    }
}

/// Asserts that `actual` and `expected` have the same count and that every pair satisfies
/// `|a - e| ≤ atol + rtol·|e|` (NaN matches NaN; an infinity matches only itself).
///
/// On failure it reports how many elements are outside the tolerance and the worst one (the
/// largest ratio of error to tolerance): its index, both values, the absolute error and the
/// error in ULPs of the expected value; also the largest absolute and relative errors.
func assertClose<T: BinaryFloatingPoint>(
    _ actual: [T], _ expected: [T],
    rtol: T = T.defaultRelativeTolerance, atol: T = 0,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.count == expected.count else {
        XCTFail("assertClose: \(actual.count) actual elements, \(expected.count) expected. \(message())",
                file: file, line: line)
        return
    }
    var failures = 0
    var worst: (index: Int, ratio: T)? = nil
    var maxAbs: T = 0, maxRel: T = 0
    for i in actual.indices {
        let a = actual[i], e = expected[i]
        if a == e || (a.isNaN && e.isNaN) { continue }
        let difference = abs(a - e)
        let tolerance = atol + rtol * abs(e)
        // NaN or a mismatched infinity is always a failure, with an infinite ratio.
        let ratio = difference.isNaN || !difference.isFinite ? T.infinity
            : (tolerance > 0 ? difference / tolerance : (difference > 0 ? T.infinity : 0))
        if difference.isFinite {
            maxAbs = max(maxAbs, difference)
            if e != 0 { maxRel = max(maxRel, difference / abs(e)) }
        }
        if !(difference <= tolerance) {
            failures += 1
            if worst == nil || ratio > worst!.ratio { worst = (i, ratio) }
        }
    }
    if let worst {
        let a = actual[worst.index], e = expected[worst.index]
        XCTFail("""
            assertClose: \(failures) of \(actual.count) elements outside |a - e| ≤ \(atol) + \(rtol)·|e|; \
            worst [\(worst.index)]: actual \(a), expected \(e), |diff| \(abs(a - e)) \
            (\(a.ulps(from: e)) ULP); max abs error \(maxAbs), max rel error \(maxRel). \(message())
            """, file: file, line: line)
    }
}

/// Asserts that two scalars are close; see the array version.
func assertClose<T: BinaryFloatingPoint>(
    _ actual: T, _ expected: T,
    rtol: T = T.defaultRelativeTolerance, atol: T = 0,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    assertClose([actual], [expected], rtol: rtol, atol: atol, message(), file: file, line: line)
}

/// Asserts that two matrices have the same shape and close elements; see the array version.
func assertClose<T: BLASScalar>(
    _ actual: Matrix<T>, _ expected: Matrix<T>,
    rtol: T = T.defaultRelativeTolerance, atol: T = 0,
    _ message: @autoclosure () -> String = "",
    file: StaticString = #filePath, line: UInt = #line
) {
    guard actual.rows == expected.rows && actual.columns == expected.columns else {
        XCTFail("assertClose: shape \(actual.rows)×\(actual.columns), expected \(expected.rows)×\(expected.columns). \(message())",
                file: file, line: line)
        return
    }
    assertClose(actual.scalars, expected.scalars, rtol: rtol, atol: atol, message(), file: file, line: line)
}
