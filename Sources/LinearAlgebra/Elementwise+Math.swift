// Vectorised elementwise math over `Float` buffers beyond the activations: absolute value,
// square root, sign, sine and cosine, powers, clamping, and the elementwise maximum and
// minimum of two buffers, with the gradient helpers the tensor operations need.
//
// Each kernel is a plain loop over a branch-free body (selects, not branches) that LLVM's loop
// vectoriser compiles to packed code in a release build; no closure or libm call is made per
// element (sine and cosine call libm only for the rare elements with |x| > 8192, see below).
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension Elementwise {
    /// `y[i] = |x[i]|` for `i < count`; `x` may equal `y`.
    public static func abs(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "abs")
        for i in 0..<count { y[i] = x[i].magnitude }
    }

    /// `y[i] = √x[i]` for `i < count` (NaN for negative `x[i]`, as IEEE 754 says); `x` may
    /// equal `y`. Correctly rounded.
    public static func sqrt(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "sqrt")
        for i in 0..<count { y[i] = x[i].squareRoot() }
    }

    /// `y[i]` = `1`, `-1` or `0` for positive, negative or zero `x[i]` (`torch.sign`); NaN stays
    /// NaN. `x` may equal `y`.
    public static func sign(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "sign")
        for i in 0..<count {
            let v = x[i]
            let s: Float = v > 0 ? 1 : (v < 0 ? -1 : 0)
            y[i] = v.isNaN ? v : s
        }
    }

    /// `y[i] = min(max(x[i], low), high)` for `i < count` (`torch.clamp`): NaN stays NaN, and
    /// when `low > high` every element becomes `high`, as in PyTorch. `x` may equal `y`.
    public static func clamp(_ x: UnsafePointer<Float>, low: Float, high: Float,
                             _ y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "clamp")
        for i in 0..<count {
            let v = x[i]
            let t = v < low ? low : v
            y[i] = t > high ? high : t
        }
    }

    /// `y[i] = max(a[i], b[i])` for `i < count`, NaN if either is NaN (`torch.maximum`); `y`
    /// may equal `a` or `b`.
    public static func maximum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                               into y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "maximum")
        for i in 0..<count {
            let u = a[i], v = b[i]
            y[i] = (u > v || u != u) ? u : v
        }
    }

    /// `y[i] = min(a[i], b[i])` for `i < count`, NaN if either is NaN (`torch.minimum`); `y`
    /// may equal `a` or `b`.
    public static func minimum(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>,
                               into y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "minimum")
        for i in 0..<count {
            let u = a[i], v = b[i]
            y[i] = (u < v || u != u) ? u : v
        }
    }

    /// `y[i] = x[i]^exponent` for `i < count` (`torch.pow` with a scalar exponent), computed as
    /// `exp(exponent · ln|x|)` in `Double` through the vectorised `Double` kernels, so the result
    /// is correctly rounded to `Float` in all but rare cases; exact shortcuts for the exponents
    /// 0, 1, 2, 3, 0.5 and -1. A negative base gives a real result for an integer exponent
    /// (negative for an odd one) and NaN otherwise; `x^0 = 1` for every `x`, NaN included, as
    /// in PyTorch. `x` may equal `y`.
    public static func pow(_ x: UnsafePointer<Float>, exponent p: Float,
                           _ y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "pow")
        switch p {
        case 0: for i in 0..<count { y[i] = 1 }; return
        case 1: if UnsafePointer(y) != x { y.update(from: x, count: count) }; return
        case 2: for i in 0..<count { y[i] = x[i] * x[i] }; return
        case 3: for i in 0..<count { let v = x[i]; y[i] = v * v * v }; return
        case 0.5: sqrt(x, y, count: count); return
        case -1: for i in 0..<count { y[i] = 1 / x[i] }; return
        default: break
        }
        let isInteger = p.rounded(.towardZero) == p
        let isOdd = isInteger && Double(p).truncatingRemainder(dividingBy: 2) != 0
        let negativeSign: Float = isInteger ? (isOdd ? -1 : 1) : .nan
        let exponent = Double(p)
        // Chunks of a stack-sized scratch buffer keep the `Double` work in cache.
        let chunk = 256
        withUnsafeTemporaryAllocation(of: Double.self, capacity: chunk) { scratch in
            let t = scratch.baseAddress!
            var start = 0
            while start < count {
                let n = Swift.min(chunk, count - start)
                let xs = x + start, ys = y + start
                for i in 0..<n { t[i] = Double(xs[i].magnitude) }
                log(t, t, count: n)
                for i in 0..<n { t[i] *= exponent }
                exp(t, t, count: n)
                for i in 0..<n {
                    let v = xs[i], r = Float(t[i])
                    ys[i] = v < 0 ? r * negativeSign : r
                }
                start += n
            }
        }
    }

    /// `y[i] = sin(x[i])` for `i < count`; `x` may equal `y`. Within 2 ULP of the exact value
    /// for |x| ≤ 8192 (Cody–Waite reduction by π/2 and the Cephes polynomials, vectorised);
    /// larger arguments go to the C library's `sinf`. NaN and ±∞ give NaN.
    public static func sin(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "sin")
        sineFamily(x, y, count: count, quarterTurns: 0)
    }

    /// `y[i] = cos(x[i])` for `i < count`; `x` may equal `y`. Accuracy as ``sin(_:_:count:)``.
    public static func cos(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        guardCount(count, "cos")
        sineFamily(x, y, count: count, quarterTurns: 1)
    }

    /// `sin(x + quarterTurns · π/2)` for every element: the vectorised kernel when every |x| is
    /// at most 8192 (one max-reduction pass to find out), and otherwise the same kernel with
    /// the C library for the large elements.
    private static func sineFamily(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                   count: Int, quarterTurns: Float) {
        var largest: Float = 0
        for i in 0..<count { largest = Swift.max(largest, x[i].magnitude) }
        if largest <= 8192 {   // NaN compares false: NaN inputs take the general path below
            for i in 0..<count { y[i] = reducedSine(x[i], quarterTurns: quarterTurns) }
            return
        }
        for i in 0..<count {
            let v = x[i]
            if v.magnitude <= 8192 || !v.isFinite {
                y[i] = reducedSine(v, quarterTurns: quarterTurns)
            } else {
                y[i] = quarterTurns == 0 ? sinf(v) : cosf(v)
            }
        }
    }

    /// `sin(x + quarterTurns · π/2)` for |x| ≤ 8192, branch-free: `x = j·π/2 + r` with
    /// |r| ≤ π/4, then the sine or cosine polynomial of `r` chosen and signed by the quadrant.
    @inline(__always)
    static func reducedSine(_ x: Float, quarterTurns: Float) -> Float {
        let j = (x * 0.636_619_772_367_581_343).rounded(.toNearestOrEven)
        // π/2 in three parts (the first two with few bits), so that `j · part` is exact.
        var r = x - j * 1.5703125
        r = r - j * 4.837_512_969_970_703_125e-4
        r = r - j * 7.549_789_954_891_882_16e-8
        let z = r * r
        let s = r + r * z * (-1.666_665_461_1e-1 + z * (8.332_160_873_6e-3 + z * -1.951_529_589_1e-4))
        let c = 1 - 0.5 * z + z * z * (4.166_664_568_298_827e-2 + z * (-1.388_731_625_493_765e-3 + z * 2.443_315_711_809_948e-5))
        // The quadrant (j + quarterTurns) mod 4, as a float in 0...3 (exact for |j| < 2²²).
        let q0 = j + quarterTurns
        let q = q0 - 4 * (q0 * 0.25).rounded(.down)
        let odd = q == 1 || q == 3
        let value = odd ? c : s
        return q >= 2 ? -value : value
    }

    @inline(__always)
    private static func guardCount(_ count: Int, _ name: StaticString) {
        require(count >= 0, "Elementwise.\(name): negative count \(count)")
    }
}
