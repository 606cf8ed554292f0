// Vectorised elementwise kernels over whole buffers: the activations (tanh, sigmoid, relu),
// exp and log, their gradients, and the small fused helpers recurrent layers need.
//
// The transcendental kernels are branch-free scalar functions (range reduction by bit
// manipulation, polynomials, selects) called from plain loops that LLVM's loop vectoriser
// compiles to packed SSE code (AVX if the CPU target allows) in a release build. The buffer
// entry points are compiled once, here; callers in other modules pay one call per buffer.
// Scalar libm (`tanhf` costs 14-27 ns per element on the reference machine) is never
// called per element.
internal import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Vectorised elementwise kernels over contiguous buffers of `Float` or `Double`.
///
/// Every kernel has the shape `kernel(x, y, count:)`: it reads `count` elements from `x` and
/// writes `count` elements to `y`. `x` and `y` may be the same pointer (the kernel then works
/// in place); otherwise the two ranges must not overlap. No kernel throws or allocates.
///
/// Accuracy, measured against glibc's double-precision functions over dense sweeps and
/// every binade (see `ElementwiseTests`):
///
/// | kernel    | `Float`                            | `Double`        |
/// |-----------|------------------------------------|-----------------|
/// | `tanh`    | ≤ 1.8 ULP, abs. error ≤ 9e-8       | ≤ 2 ULP         |
/// | `sigmoid` | ≤ 2.3 ULP, rel. error ≤ 1.4e-7     | ≤ 2 ULP         |
/// | `exp`     | ≤ 1 ULP, rel. error ≤ 8e-8         | ≤ 1 ULP         |
/// | `log`     | ≤ 0.8 ULP, rel. error ≤ 8e-8       | ≤ 1 ULP         |
///
/// Special values follow C's `<math.h>`: NaN in gives NaN out; `exp` overflows to `+∞` and
/// underflows to `0` (with gradual underflow through the subnormals); `log(0) = -∞`,
/// `log(+∞) = +∞`, `log(x < 0) = NaN`; `tanh(±∞) = ±1`; `sigmoid(-∞) = 0`, `sigmoid(+∞) = 1`,
/// and neither saturating function produces NaN for large finite inputs.
public enum Elementwise {}

// MARK: - Loop drivers

extension Elementwise {
    /// Calls the `Float` or `Double` version of a kernel from generic code (the branch folds
    /// away once `S` is known), or `fallback` per element for any other `BLASScalar`.
    @inlinable @inline(__always)
    static func dispatch<S: BLASScalar>(
        _ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, _ count: Int,
        float: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
        double: (UnsafePointer<Double>, UnsafeMutablePointer<Double>, Int) -> Void,
        fallback: (Double) -> Double
    ) {
        if S.self == Float.self {
            float(UnsafeRawPointer(x).assumingMemoryBound(to: Float.self),
                  UnsafeMutableRawPointer(y).assumingMemoryBound(to: Float.self), count)
        } else if S.self == Double.self {
            double(UnsafeRawPointer(x).assumingMemoryBound(to: Double.self),
                   UnsafeMutableRawPointer(y).assumingMemoryBound(to: Double.self), count)
        } else {
            precondition(count >= 0, "Elementwise: negative count \(count)")
            for i in 0..<count { y[i] = S(fallback(Double(x[i]))) }
        }
    }
}

// MARK: - Float kernels
//
// Each kernel is branch-free scalar code: arithmetic, bit manipulation through
// `bitPattern`, wrapping integer operations and selects (`c ? a : b` on values). Inside the
// buffer loops below, LLVM's loop vectoriser turns it into packed SSE code (AVX when the CPU
// target allows), four or eight lanes at a time, with `minps`/`maxps` for the clamps. The
// scalar kernels are public too, so that callers can fuse them into their own loops.
//
// They are not written with `SIMD8<Float>`: in this toolchain the standard library's
// floating-point SIMD arithmetic is a per-lane loop that relies on LLVM's SLP vectoriser to
// become vector code again, and for long dependency chains (the `log` polynomial) SLP gives
// up and leaves much of it scalar. The loop vectoriser has no such limit.

extension Elementwise {
    /// `tanh x = sign(x)·E/(E + 2)` with `E = eᵗ - 1`, `t = 2|x|`, `|x|` clamped to 9.1
    /// (beyond which `tanh` rounds to ±1 in float). `E` comes from the range reduction of
    /// `exp` as `2ⁿ·(eʳ - 1) + (2ⁿ - 1)` with `eʳ - 1 = r + r²·P(r)` (Cephes'
    /// polynomial), so it keeps its relative accuracy near 0 and the result is exact for tiny
    /// and subnormal `x`. Within 1.8 ULP and 9e-8 absolute on all floats, and exactly ±1 at
    /// saturation.
    ///
    /// Eigen's 13/6 rational approximation (`generic_fast_tanh_float`) costs the same here
    /// but, without FMA (baseline x86-64 has none), reaches 3.2e-7 absolute error (5 ULP)
    /// and saturates at 1 - 2.4e-7 instead of 1.
    @inlinable @inline(__always)
    public static func tanh(_ x: Float) -> Float {
        let sign = x.bitPattern & 0x8000_0000
        let a = Float(bitPattern: x.bitPattern & 0x7FFF_FFFF)
        let c: Float = 9.1 < a ? 9.1 : a  // min(|x|, 9.1); NaN stays NaN
        let magic: Float = 12_582_912
        let t = c * 2.88539008177792682 + magic  // 2|x|·log₂e + 1.5·2²³
        let n = t - magic  // in [0, 27]
        // With n ≤ 27 a single-word ln 2 is enough: its error moves E by under 4e-8 relative,
        // where tanh is flat.
        let r = (c + c) - n * 0.693147182464599609375
        let s = Float(bitPattern: UInt32(bitPattern: ((Int32(bitPattern: t.bitPattern) &- 0x4B40_0000) &+ 127) &<< 23))
        // E = 2ⁿ·(eʳ - 1) + (2ⁿ - 1); 2ⁿ - 1 is exact for n ≤ 24, and beyond that tanh is 1.
        let e = s * expm1Reduced(r) + (s - 1)
        let result = e / (e + 2)
        return Float(bitPattern: result.bitPattern | sign)
    }

    /// `eʳ - 1 = r + r²·P(r)` for `|r| ≤ ln 2 / 2`, with Cephes' `expf` polynomial `P` of
    /// degree 5 in Estrin's form (shorter dependency chains than Horner's).
    @inlinable @inline(__always)
    static func expm1Reduced(_ r: Float) -> Float {
        let r2 = r * r, r4 = r2 * r2
        let pa: Float = 1.6666665459e-1 * r + 5.0000001201e-1
        let pb: Float = 8.3334519073e-3 * r + 4.1665795894e-2
        let pc: Float = 1.9875691500e-4 * r + 1.3981999507e-3
        let p = (pa + r2 * pb) + r4 * pc
        return r + r2 * p
    }

    /// `eˣ` (Cephes `expf`): `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2` (Cody–Waite, `n` by the
    /// round-to-nearest magic number `1.5·2²³`), a degree-7 polynomial for `eʳ`, and `2ⁿ`
    /// built in the exponent bits as two factors so that overflow (`x > 88.72`) gives `+∞`
    /// and underflow passes through the subnormals to `0` (`x < -103.97`).
    @inlinable @inline(__always)
    public static func exp(_ x: Float) -> Float {
        var c = 89 < x ? 89 : x  // NaN stays NaN through both clamps
        c = c < -104 ? -104 : c
        let magic: Float = 12_582_912
        let t = c * 1.44269504088896341 + magic
        let n = t - magic
        var r = c - n * 0.693359375
        r = r - n * -2.12194440e-4
        let y = expm1Reduced(r) + 1
        // n in [-150, 129]: two halves, each 2^half a normal float.
        let k = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        let k1 = k &>> 1
        let k2 = k &- k1
        let s1 = Float(bitPattern: UInt32(bitPattern: (k1 &+ 127) &<< 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: (k2 &+ 127) &<< 23))
        return y * s1 * s2
    }

    /// `ln x` (Cephes `logf`): `x = 2ᵉ·m` with `m ∈ [√½, √2)` split from the bits
    /// (subnormals scaled by 2²³ first) and a degree-8 polynomial for `log(m)`;
    /// `log(±0) = -∞`, `log(+∞) = +∞`, `log(x < 0) = NaN`.
    @inlinable @inline(__always)
    public static func log(_ x: Float) -> Float {
        let subnormal = x < Float.leastNormalMagnitude
        let v = subnormal ? x * 8_388_608 : x  // × 2²³
        let vb = Int32(bitPattern: v.bitPattern)
        var e = ((vb &>> 23) & 0xFF) &- (subnormal ? 149 : 126)
        var m = Float(bitPattern: UInt32(bitPattern: (vb & 0x007F_FFFF) | 0x3F00_0000))  // [0.5, 1)
        let below = m < 0.707106781186547524
        e = below ? e &- 1 : e
        m = (below ? m + m : m) - 1
        let ef = Float(e)
        let z = m * m
        // Estrin's scheme for the degree-8 polynomial.
        let m4 = z * z
        let pa: Float = -2.4999993993e-1 * m + 3.3333331174e-1
        let pb: Float = -1.6668057665e-1 * m + 2.0000714765e-1
        let pc: Float = -1.2420140846e-1 * m + 1.4249322787e-1
        let pd: Float = -1.1514610310e-1 * m + 1.1676998740e-1
        let p = ((7.0376836292e-2 * m4 + pd * z + pc) * m4) + (pb * z + pa)
        var y = p * m * z
        y = y + ef * -2.12194440e-4
        y = y - 0.5 * z
        var r = m + y
        r = r + ef * 0.693359375
        r = x == .infinity ? x : r
        r = x == 0 ? -.infinity : r
        r = x < 0 ? .nan : r
        return x != x ? x : r
    }

    /// The logistic sigmoid `1 / (1 + e⁻ˣ)`, accurate in relative terms on both sides
    /// (unlike `0.5 + 0.5·tanh(x/2)`, which loses the small values); `0` for `x < -88.7`.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Float) -> Float {
        1 / (1 + exp(-x))
    }

    /// `max(x, 0)`, NaN preserved.
    @inlinable @inline(__always)
    public static func relu(_ x: Float) -> Float {
        x < 0 ? 0 : x
    }
}

// MARK: - Double kernels

extension Elementwise {
    /// `eʳ - 1` for `|r| ≤ ln 2 / 2`: the Taylor series to degree 13 (the first omitted term
    /// is below 2⁻⁵⁷ relative), in Estrin's form.
    @inlinable @inline(__always)
    static func expm1Reduced(_ r: Double) -> Double {
        let r2 = r * r, r4 = r2 * r2
        let a = 1.0 / 2 + r * (1.0 / 6)
        let b = 1.0 / 24 + r * (1.0 / 120)
        let c = 1.0 / 720 + r * (1.0 / 5_040)
        let d = 1.0 / 40_320 + r * (1.0 / 362_880)
        let e = 1.0 / 3_628_800 + r * (1.0 / 39_916_800)
        let f = 1.0 / 479_001_600 + r * (1.0 / 6_227_020_800)
        let high = c + r2 * d + r4 * (e + r2 * f)  // degrees 4…11 of the quotient
        let p = a + r2 * b + (r4 * high)
        return r + r2 * p
    }

    /// Splits `x` (`|x| < 2⁵⁰`) as `n·ln 2 + r`, `|r| ≤ ln 2 / 2` (Cody–Waite); `n` comes as
    /// the integer in the low bits of `n + 1.5·2⁵²`.
    @inlinable @inline(__always)
    static func reduce(_ x: Double) -> (n: Int64, r: Double) {
        let magic: Double = 6_755_399_441_055_744
        let t = x * 1.4426950408889634074 + magic
        let nf = t - magic
        var r = x - nf * 6.93145751953125e-1
        r = r - nf * 1.42860682030941723212e-6
        return (Int64(bitPattern: t.bitPattern) &- 0x4338_0000_0000_0000, r)
    }

    /// `2ⁿ` for an integer `n ∈ [-1022, 1023]`.
    @inlinable @inline(__always)
    static func twoToThe(_ n: Int64) -> Double {
        Double(bitPattern: UInt64(bitPattern: (n &+ 1023) &<< 52))
    }

    /// `eˣ` in double precision: range reduction, a degree-13 polynomial, and `2ⁿ` as two
    /// normal factors so that overflow gives `+∞` and underflow is gradual down to `0`.
    @inlinable @inline(__always)
    public static func exp(_ x: Double) -> Double {
        var c = 710 < x ? 710 : x  // NaN stays NaN
        c = c < -746 ? -746 : c
        let (n, r) = reduce(c)
        let y = expm1Reduced(r) + 1
        // n in [-1077, 1025]: floor(n/2) by a logical shift of the non-negative n + 2048.
        let n1 = Int64(bitPattern: UInt64(bitPattern: n &+ 2048) &>> 1) &- 1024
        return y * twoToThe(n1) * twoToThe(n &- n1)
    }

    /// `tanh` in double precision: `sign(x)·E/(E + 2)` with `E = expm1(2|x|)`, `|x|` clamped
    /// to 22 (where `tanh` is 1 in double precision); accurate near 0 because `expm1` is, and
    /// exactly `x` below 1e-8.
    @inlinable @inline(__always)
    public static func tanh(_ x: Double) -> Double {
        let sign = x.bitPattern & 0x8000_0000_0000_0000
        let a = Double(bitPattern: x.bitPattern & 0x7FFF_FFFF_FFFF_FFFF)
        let c = 22 < a ? 22 : a  // NaN stays NaN
        let (n, r) = reduce(c + c)  // n in [0, 64]
        let s = twoToThe(n)
        let e = s * expm1Reduced(r) + (s - 1)
        let t = a < 1e-8 ? a : e / (e + 2)  // below 1e-8, x - x³/3 rounds to x
        return Double(bitPattern: t.bitPattern | sign)
    }

    /// `ln x` in double precision: `x = 2ᵏ·m` with `m ∈ [√½, √2]`, `f = m - 1`,
    /// `s = f/(2 + f)` and `log(1 + f) = f - f²/2 + s·(f²/2 + R(s²))` (fdlibm's arrangement)
    /// with `R` the `atanh` series to degree 20; special values as for `Float`.
    @inlinable @inline(__always)
    public static func log(_ x: Double) -> Double {
        let subnormal = x < Double.leastNormalMagnitude
        let v = subnormal ? x * 18_014_398_509_481_984 : x  // × 2⁵⁴
        let vb = v.bitPattern
        var k = Int64(bitPattern: (vb &>> 52) & 0x7FF) &- (subnormal ? 1077 : 1023)
        var m = Double(bitPattern: (vb & 0x000F_FFFF_FFFF_FFFF) | 0x3FF0_0000_0000_0000)  // [1, 2)
        let above = m > 1.41421356237309504880
        k = above ? k &+ 1 : k
        m = above ? m * 0.5 : m
        let f = m - 1
        let s = f / (f + 2)
        let z = s * s, z2 = z * z, z4 = z2 * z2
        // R(z) = Σ_{j=1…10} 2/(2j+1)·zʲ, in Estrin's form.
        let a = 2.0 / 3 + z * (2.0 / 5)
        let b = 2.0 / 7 + z * (2.0 / 9)
        let c = 2.0 / 11 + z * (2.0 / 13)
        let d = 2.0 / 15 + z * (2.0 / 17)
        let e = 2.0 / 19 + z * (2.0 / 21)
        let rr = z * ((a + z2 * b) + z4 * ((c + z2 * d) + z4 * e))
        let hfsq = 0.5 * f * f
        // k as a double through the magic number (exact for |k| < 2⁵¹).
        let kf = Double(bitPattern: UInt64(bitPattern: k &+ 0x4338_0000_0000_0000)) - 6_755_399_441_055_744
        var r = kf * 6.93145751953125e-1
            - ((hfsq - (s * (hfsq + rr) + kf * 1.42860682030941723212e-6)) - f)
        r = x == .infinity ? x : r
        r = x == 0 ? -.infinity : r
        r = x < 0 ? .nan : r
        return x != x ? x : r
    }

    /// The logistic sigmoid `1 / (1 + e⁻ˣ)` in double precision.
    @inlinable @inline(__always)
    public static func sigmoid(_ x: Double) -> Double {
        1 / (1 + exp(-x))
    }

    /// `max(x, 0)`, NaN preserved.
    @inlinable @inline(__always)
    public static func relu(_ x: Double) -> Double {
        x < 0 ? 0 : x
    }
}

// MARK: - Activations and transcendental functions on buffers

extension Elementwise {
    /// Runs a `Float` buffer kernel: the AVX2 + FMA C kernel when ``CPUCapability/current``
    /// is `.avx2` (the same formula 8 lanes at a time with fused multiply-adds, within 4 ULP
    /// of the scalar kernel; see the tests), the portable Swift loop otherwise.
    @inline(__always)
    static func runFloatKernel(
        _ name: StaticString, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ count: Int,
        avx2: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void,
        portable: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) {
        precondition(count >= 0, "Elementwise.\(name): negative count \(count)")
        if CPUCapability.current.usesCKernels { avx2(x, y, count) } else { portable(x, y, count) }
    }

    /// `y[i] = tanh(x[i])` for `i < count`; `x` may equal `y` but must not otherwise overlap it.
    /// At most 1.8 ULP (absolute error under 9e-8); exactly ±1 for `|x| ≥ 9.1`.
    public static func tanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        runFloatKernel("tanh", x, y, count, avx2: { rk_tanh_f32($0, $1, $2) }, portable: { portableTanh($0, $1, count: $2) })
    }

    /// The portable `Float` buffer `tanh`: the scalar kernel in a loop that LLVM vectorises for
    /// the build's baseline target. Exactly the scalar kernel's results.
    static func portableTanh(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.tanh: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = tanh(y[i]) }
        } else {
            for i in 0..<count { y[i] = tanh(x[i]) }
        }
    }

    /// `y[i] = tanh(x[i])` for `i < count`; `x` may equal `y`. Within a few ULP.
    public static func tanh(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.tanh: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = tanh(y[i]) }
        } else {
            for i in 0..<count { y[i] = tanh(x[i]) }
        }
    }

    /// `y[i] = 1 / (1 + e^(-x[i]))` for `i < count`; `x` may equal `y`.
    /// Relative error about 1e-7; `0` below `x ≈ -88.7`, `1` above `x ≈ 16.6`; never NaN for
    /// non-NaN input.
    public static func sigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        runFloatKernel("sigmoid", x, y, count, avx2: { rk_sigmoid_f32($0, $1, $2) }, portable: { portableSigmoid($0, $1, count: $2) })
    }

    /// The portable `Float` buffer `sigmoid`: the scalar kernel in a loop that LLVM vectorises for
    /// the build's baseline target. Exactly the scalar kernel's results.
    static func portableSigmoid(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.sigmoid: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = sigmoid(y[i]) }
        } else {
            for i in 0..<count { y[i] = sigmoid(x[i]) }
        }
    }

    /// `y[i] = 1 / (1 + e^(-x[i]))` for `i < count`; `x` may equal `y`. Within a few ULP.
    public static func sigmoid(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.sigmoid: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = sigmoid(y[i]) }
        } else {
            for i in 0..<count { y[i] = sigmoid(x[i]) }
        }
    }

    /// `y[i] = max(x[i], 0)` for `i < count`; `x` may equal `y`. NaN stays NaN.
    public static func relu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.relu: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = relu(y[i]) }
        } else {
            for i in 0..<count { y[i] = relu(x[i]) }
        }
    }

    /// `y[i] = max(x[i], 0)` for `i < count`; `x` may equal `y`. NaN stays NaN.
    public static func relu(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.relu: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = relu(y[i]) }
        } else {
            for i in 0..<count { y[i] = relu(x[i]) }
        }
    }

    /// `y[i] = e^(x[i])` for `i < count`; `x` may equal `y`.
    /// Relative error about 1 ULP; `+∞` above `x ≈ 88.72`, gradual underflow to `0` below
    /// `x ≈ -103.97`.
    public static func exp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        runFloatKernel("exp", x, y, count, avx2: { rk_exp_f32($0, $1, $2) }, portable: { portableExp($0, $1, count: $2) })
    }

    /// The portable `Float` buffer `exp`: the scalar kernel in a loop that LLVM vectorises for
    /// the build's baseline target. Exactly the scalar kernel's results.
    static func portableExp(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.exp: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = exp(y[i]) }
        } else {
            for i in 0..<count { y[i] = exp(x[i]) }
        }
    }

    /// `y[i] = e^(x[i])` for `i < count`; `x` may equal `y`. Within a few ULP.
    public static func exp(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.exp: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = exp(y[i]) }
        } else {
            for i in 0..<count { y[i] = exp(x[i]) }
        }
    }

    /// `y[i] = ln(x[i])` for `i < count`; `x` may equal `y`.
    /// Relative error about 1 ULP; `log(±0) = -∞`, `log(+∞) = +∞`, `log(x < 0) = NaN`;
    /// subnormal inputs are handled.
    public static func log(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.log: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = log(y[i]) }
        } else {
            for i in 0..<count { y[i] = log(x[i]) }
        }
    }

    /// `y[i] = ln(x[i])` for `i < count`; `x` may equal `y`. Within a few ULP.
    public static func log(_ x: UnsafePointer<Double>, _ y: UnsafeMutablePointer<Double>, count: Int) {
        // Two loops, so that the in-place case never trips the vectoriser's overlap check;
        // the kernel is called directly (not through a closure) so that it is always inlined.
        precondition(count >= 0, "Elementwise.log: negative count \(count)")
        if UnsafePointer(y) == x {
            for i in 0..<count { y[i] = log(y[i]) }
        } else {
            for i in 0..<count { y[i] = log(x[i]) }
        }
    }

    /// `y[i] = tanh(x[i])` for any ``BLASScalar``: the `Float` or `Double` kernel once `S` is
    /// known (specialised generic callers pay nothing for the dispatch).
    @inlinable
    public static func tanh<S: BLASScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, count: Int) {
        dispatch(x, y, count, float: { tanh($0, $1, count: $2) }, double: { tanh($0, $1, count: $2) },
                 fallback: scalarTanh)
    }

    /// `y[i] = 1 / (1 + e^(-x[i]))` for any ``BLASScalar``.
    @inlinable
    public static func sigmoid<S: BLASScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, count: Int) {
        dispatch(x, y, count, float: { sigmoid($0, $1, count: $2) }, double: { sigmoid($0, $1, count: $2) },
                 fallback: { 1 / (1 + scalarExp(-$0)) })
    }

    /// `y[i] = max(x[i], 0)` for any ``BLASScalar``.
    @inlinable
    public static func relu<S: BLASScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, count: Int) {
        dispatch(x, y, count, float: { relu($0, $1, count: $2) }, double: { relu($0, $1, count: $2) },
                 fallback: { $0 < 0 ? 0 : $0 })
    }

    /// `y[i] = e^(x[i])` for any ``BLASScalar``.
    @inlinable
    public static func exp<S: BLASScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, count: Int) {
        dispatch(x, y, count, float: { exp($0, $1, count: $2) }, double: { exp($0, $1, count: $2) },
                 fallback: scalarExp)
    }

    /// `y[i] = ln(x[i])` for any ``BLASScalar``.
    @inlinable
    public static func log<S: BLASScalar>(_ x: UnsafePointer<S>, _ y: UnsafeMutablePointer<S>, count: Int) {
        dispatch(x, y, count, float: { log($0, $1, count: $2) }, double: { log($0, $1, count: $2) },
                 fallback: scalarLog)
    }
}

// MARK: - Array conveniences

extension Elementwise {
    /// Applies a buffer kernel to an array, returning a new array of the same count.
    @inlinable @inline(__always)
    static func mapped<S>(
        _ x: [S], _ kernel: (UnsafePointer<S>, UnsafeMutablePointer<S>, Int) -> Void
    ) -> [S] {
        [S](unsafeUninitializedCapacity: x.count) { out, initialized in
            x.withUnsafeBufferPointer { input in
                if let src = input.baseAddress, let dst = out.baseAddress {
                    kernel(src, dst, x.count)
                }
            }
            initialized = x.count
        }
    }

    /// `tanh` of every element of `x`.
    @inlinable public static func tanh(_ x: [Float]) -> [Float] { mapped(x) { tanh($0, $1, count: $2) } }
    /// `tanh` of every element of `x`.
    @inlinable public static func tanh(_ x: [Double]) -> [Double] { mapped(x) { tanh($0, $1, count: $2) } }
    /// The logistic sigmoid `1 / (1 + e^(-x))` of every element of `x`.
    @inlinable public static func sigmoid(_ x: [Float]) -> [Float] { mapped(x) { sigmoid($0, $1, count: $2) } }
    /// The logistic sigmoid `1 / (1 + e^(-x))` of every element of `x`.
    @inlinable public static func sigmoid(_ x: [Double]) -> [Double] { mapped(x) { sigmoid($0, $1, count: $2) } }
    /// `max(x, 0)` of every element of `x`.
    @inlinable public static func relu(_ x: [Float]) -> [Float] { mapped(x) { relu($0, $1, count: $2) } }
    /// `max(x, 0)` of every element of `x`.
    @inlinable public static func relu(_ x: [Double]) -> [Double] { mapped(x) { relu($0, $1, count: $2) } }
    /// `eˣ` of every element of `x`.
    @inlinable public static func exp(_ x: [Float]) -> [Float] { mapped(x) { exp($0, $1, count: $2) } }
    /// `eˣ` of every element of `x`.
    @inlinable public static func exp(_ x: [Double]) -> [Double] { mapped(x) { exp($0, $1, count: $2) } }
    /// The natural logarithm of every element of `x`.
    @inlinable public static func log(_ x: [Float]) -> [Float] { mapped(x) { log($0, $1, count: $2) } }
    /// The natural logarithm of every element of `x`.
    @inlinable public static func log(_ x: [Double]) -> [Double] { mapped(x) { log($0, $1, count: $2) } }
}

// MARK: - Fused helpers for recurrent layers

extension Elementwise {
    /// `y[i] = a[i] + b[i]` for `i < count`; `y` may equal `a` or `b`.
    @inlinable
    public static func add<S: BLASScalar>(
        _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, count: Int
    ) {
        precondition(count >= 0, "Elementwise.add: negative count \(count)")
        for i in 0..<count { y[i] = a[i] + b[i] }
    }

    /// `y[i] = a[i] - b[i]` for `i < count`; `y` may equal `a` or `b`.
    @inlinable
    public static func subtract<S: BLASScalar>(
        _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, count: Int
    ) {
        precondition(count >= 0, "Elementwise.subtract: negative count \(count)")
        for i in 0..<count { y[i] = a[i] - b[i] }
    }

    /// `y[i] = a[i] · b[i]` (Hadamard product) for `i < count`; `y` may equal `a` or `b`.
    @inlinable
    public static func multiply<S: BLASScalar>(
        _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, count: Int
    ) {
        precondition(count >= 0, "Elementwise.multiply: negative count \(count)")
        for i in 0..<count { y[i] = a[i] * b[i] }
    }

    /// `y[i] += a[i] · b[i]` for `i < count` (e.g. an LSTM's `c += i ⊙ g`, or a backward pass
    /// accumulating `dx += dy ⊙ w`). `y` must not overlap `a` or `b`.
    @inlinable
    public static func multiplyAdd<S: BLASScalar>(
        _ a: UnsafePointer<S>, _ b: UnsafePointer<S>, into y: UnsafeMutablePointer<S>, count: Int
    ) {
        precondition(count >= 0, "Elementwise.multiplyAdd: negative count \(count)")
        for i in 0..<count { y[i] += a[i] * b[i] }
    }

    /// Adds the length-`n` vector `bias` to every row of the `m×n` strided view `matrix`:
    /// `matrix[i, j] += bias[j]`. `bias` must not point into `matrix`.
    @inlinable
    public static func addBias<S: BLASScalar>(_ bias: UnsafePointer<S>, to matrix: MutableMatrixView<S>) {
        let n = matrix.columns
        for i in 0..<matrix.rows {
            let row = matrix.base + i * matrix.leadingDimension
            for j in 0..<n { row[j] += bias[j] }
        }
    }

    /// The sum of `x[0..<count]`, accumulated in 32 lanes that are added pairwise at the end:
    /// faster than one running sum, and each lane adds only `count/32` values, so the rounding
    /// error is smaller. `0` for `count == 0`.
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        precondition(count >= 0, "Elementwise.sum: negative count \(count)")
        if CPUCapability.current.usesCKernels { return rk_sum_f32(x, count) }
        return portableSum(x, count: count)
    }

    /// The portable `Float` buffer sum: 32 running sums, added pairwise.
    static func portableSum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var lanes = SIMD32<Float>()
        var i = 0
        while i + 32 <= count {
            lanes += UnsafeRawPointer(x + i).loadUnaligned(as: SIMD32<Float>.self)
            i += 32
        }
        var tail = SIMD32<Float>()
        for j in 0..<(count - i) { tail[j] = x[i + j] }
        lanes += tail
        let half16 = lanes.lowHalf + lanes.highHalf
        let half8 = half16.lowHalf + half16.highHalf
        let half4 = half8.lowHalf + half8.highHalf
        let half2 = half4.lowHalf + half4.highHalf
        return half2[0] + half2[1]
    }

    /// Accumulates the column sums of the `m×n` strided view `matrix` into the length-`n`
    /// vector `sums`: `sums[j] += Σᵢ matrix[i, j]` (the bias gradient of a batch; zero `sums`
    /// first for a plain sum). `sums` must not point into `matrix`.
    @inlinable
    public static func accumulateColumnSums<S: BLASScalar>(
        of matrix: MatrixView<S>, into sums: UnsafeMutablePointer<S>
    ) {
        let n = matrix.columns
        for i in 0..<matrix.rows {
            let row = matrix.base + i * matrix.leadingDimension
            for j in 0..<n { sums[j] += row[j] }
        }
    }

    /// `dx[i] = dy[i] · (1 - y[i]²)`: the gradient through `y = tanh(x)`, from the forward
    /// output `y` and upstream gradient `dy`. `dx` may equal `dy` or `y`.
    @inlinable
    public static func tanhBackward<S: BLASScalar>(
        output y: UnsafePointer<S>, gradient dy: UnsafePointer<S>, into dx: UnsafeMutablePointer<S>,
        count: Int
    ) {
        precondition(count >= 0, "Elementwise.tanhBackward: negative count \(count)")
        for i in 0..<count { dx[i] = dy[i] * (1 - y[i] * y[i]) }
    }

    /// `dx[i] = dy[i] · y[i] · (1 - y[i])`: the gradient through `y = sigmoid(x)`, from the
    /// forward output `y` and upstream gradient `dy`. `dx` may equal `dy` or `y`.
    @inlinable
    public static func sigmoidBackward<S: BLASScalar>(
        output y: UnsafePointer<S>, gradient dy: UnsafePointer<S>, into dx: UnsafeMutablePointer<S>,
        count: Int
    ) {
        precondition(count >= 0, "Elementwise.sigmoidBackward: negative count \(count)")
        for i in 0..<count { dx[i] = dy[i] * (y[i] * (1 - y[i])) }
    }

    /// `dx[i] = y[i] > 0 ? dy[i] : 0`: the gradient through `y = relu(x)`, from the forward
    /// output `y` and upstream gradient `dy`. `dx` may equal `dy` or `y`.
    @inlinable
    public static func reluBackward<S: BLASScalar>(
        output y: UnsafePointer<S>, gradient dy: UnsafePointer<S>, into dx: UnsafeMutablePointer<S>,
        count: Int
    ) {
        precondition(count >= 0, "Elementwise.reluBackward: negative count \(count)")
        for i in 0..<count { dx[i] = y[i] > 0 ? dy[i] : 0 }
    }

    /// `y = tanh(x + bias)` over a matrix whose rows may be strided, `bias` (`x.columns`
    /// values, or none) added to every row: the activation of a plain RNN's step, whose rows
    /// lie apart in a batch-first sequence buffer, in one call. `y` must have `x`'s shape and
    /// may be `x` itself (same base and leading dimension); no other overlap. The sum is one
    /// `Float` addition, the `tanh` that of the `Float` buffer kernel (the same bits).
    public static func tanh(_ x: MatrixView<Float>, adding bias: UnsafePointer<Float>?, into y: MutableMatrixView<Float>) {
        if CPUCapability.current.usesCKernels && x.rows == y.rows && x.columns == y.columns {
            rk_tanh_rows_f32(x.base, x.leadingDimension, bias, y.base, y.leadingDimension, x.rows, x.columns)
            return
        }
        mapRows("tanh", x, adding: bias, into: y, scalar: { tanh($0) }, buffer: { portableTanh($0, $1, count: $2) })
    }

    /// `y = max(x + bias, 0)` over a matrix whose rows may be strided, as
    /// ``tanh(_:adding:into:)``; NaN stays NaN.
    public static func relu(_ x: MatrixView<Float>, adding bias: UnsafePointer<Float>?, into y: MutableMatrixView<Float>) {
        mapRows("relu", x, adding: bias, into: y, scalar: { relu($0) }, buffer: { relu($0, $1, count: $2) })
    }

    /// The portable row loop of the strided activations: `scalar(x + bias)` per element, or
    /// the buffer kernel on each row without a bias.
    @inline(__always)
    static func mapRows(
        _ name: StaticString, _ x: MatrixView<Float>, adding bias: UnsafePointer<Float>?, into y: MutableMatrixView<Float>,
        scalar: (Float) -> Float, buffer: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    ) {
        precondition(x.rows == y.rows && x.columns == y.columns,
                     "Elementwise.\(name): \(x.rows)×\(x.columns) into \(y.rows)×\(y.columns)")
        for r in 0..<x.rows {
            let xr = x.base + r * x.leadingDimension, yr = y.base + r * y.leadingDimension
            if let bias {
                for j in 0..<x.columns { yr[j] = scalar(xr[j] + bias[j]) }
            } else {
                buffer(xr, yr, x.columns)
            }
        }
    }

    /// `dx = (dy + g) ⊙ (1 − y²)` (without `g`: `dy ⊙ (1 − y²)`) over matrices of one shape whose
    /// rows may be strided: the gradient through `y = tanh(x)` of a value that reaches `y`
    /// along two paths (a recurrent layer's output and its next step), over the rows of one
    /// step of a sequence buffer, in one call. The AVX2 kernel and the portable loop give the
    /// same bits (nothing is fused). `dx` may be `y`, `dy` or `g` (same base and leading
    /// dimension); no other overlap.
    public static func tanhBackward(
        output y: MatrixView<Float>, gradient dy: MatrixView<Float>, adding g: MatrixView<Float>?,
        into dx: MutableMatrixView<Float>
    ) {
        runBackwardKernel("tanhBackward", y, dy, g, dx, avx2: rk_tanh_backward_rows_f32) { y, d in d * (1 - y * y) }
    }

    /// `dx = y > 0 ? dy + g : 0` elementwise over matrices whose rows may be strided, as
    /// ``tanhBackward(output:gradient:adding:into:)``.
    public static func reluBackward(
        output y: MatrixView<Float>, gradient dy: MatrixView<Float>, adding g: MatrixView<Float>?,
        into dx: MutableMatrixView<Float>
    ) {
        runBackwardKernel("reluBackward", y, dy, g, dx, avx2: rk_relu_backward_rows_f32) { y, d in y > 0 ? d : 0 }
    }

    /// Runs a two-path activation backward: the AVX2 C kernel when ``CPUCapability/current``
    /// is `.avx2`, otherwise `formula(y, dy + g)` (or `formula(y, dy)`) row by row.
    @inline(__always)
    static func runBackwardKernel(
        _ name: StaticString, _ y: MatrixView<Float>, _ dy: MatrixView<Float>, _ g: MatrixView<Float>?,
        _ dx: MutableMatrixView<Float>,
        avx2: (UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>?, Int,
               UnsafeMutablePointer<Float>, Int, Int, Int) -> Void,
        formula: (Float, Float) -> Float
    ) {
        let rows = dx.rows, columns = dx.columns
        precondition(y.rows == rows && y.columns == columns && dy.rows == rows && dy.columns == columns
                     && (g.map { $0.rows == rows && $0.columns == columns } ?? true),
                     "Elementwise.\(name): operands of different shapes")
        if CPUCapability.current.usesCKernels {
            avx2(y.base, y.leadingDimension, dy.base, dy.leadingDimension, g?.base, g?.leadingDimension ?? 0,
                 dx.base, dx.leadingDimension, rows, columns)
            return
        }
        for r in 0..<rows {
            let yr = y.base + r * y.leadingDimension, dyr = dy.base + r * dy.leadingDimension
            let dxr = dx.base + r * dx.leadingDimension
            if let g {
                let gr = g.base + r * g.leadingDimension
                for i in 0..<columns { dxr[i] = formula(yr[i], dyr[i] + gr[i]) }
            } else {
                for i in 0..<columns { dxr[i] = formula(yr[i], dyr[i]) }
            }
        }
    }
}

// Scalar libm, for the generic fallback only (never for Float or Double).
@usableFromInline func scalarTanh(_ x: Double) -> Double { tanh(x) }
@usableFromInline func scalarExp(_ x: Double) -> Double { exp(x) }
@usableFromInline func scalarLog(_ x: Double) -> Double { log(x) }
