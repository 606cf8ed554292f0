/// A seedable, fast pseudo-random number generator (xoshiro256**, seeded through SplitMix64).
///
/// Every random initialiser in the package takes one of these (`inout`), so that a run is
/// reproducible from its seed. Its whole ``state`` can be read and restored, which is how
/// training checkpoints resume the random stream exactly.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable, Hashable {
    /// The generator's complete state: four 64-bit words (never all zero).
    public var state: (UInt64, UInt64, UInt64, UInt64) {
        get { (s0, s1, s2, s3) }
        set {
            (s0, s1, s2, s3) = newValue
            if s0 | s1 | s2 | s3 == 0 { s0 = 0x9E37_79B9_7F4A_7C15 }
        }
    }
    @usableFromInline var s0: UInt64
    @usableFromInline var s1: UInt64
    @usableFromInline var s2: UInt64
    @usableFromInline var s3: UInt64

    /// A generator whose stream is fully determined by `seed`.
    public init(seed: UInt64) {
        var x = seed
        func splitMix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = splitMix(); s1 = splitMix(); s2 = splitMix(); s3 = splitMix()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        let result = ((s1 &* 5) << 7 | (s1 &* 5) >> 57) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = s3 << 45 | s3 >> 19
        return result
    }

    /// A uniform sample from `[low, high)`.
    @inlinable
    public mutating func uniform<S: BinaryFloatingPoint>(_ low: S, _ high: S) -> S
    where S.RawSignificand: FixedWidthInteger {
        // 53 (or 24) random bits in [0, 1), then scaled.
        let unit = S(Double(next() >> 11) * 0x1.0p-53)
        let value = low + (high - low) * unit
        return value < high ? value : low
    }

    /// A sample from the normal distribution with the given mean and standard deviation
    /// (Box–Muller).
    @inlinable
    public mutating func normal<S: BinaryFloatingPoint>(mean: S = 0, standardDeviation: S = 1) -> S {
        var u1 = Double(next() >> 11) * 0x1.0p-53
        if u1 < 1e-300 { u1 = 1e-300 }
        let u2 = Double(next() >> 11) * 0x1.0p-53
        let z = (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
        return mean + standardDeviation * S(z)
    }

    public static func == (lhs: SeededGenerator, rhs: SeededGenerator) -> Bool {
        lhs.s0 == rhs.s0 && lhs.s1 == rhs.s1 && lhs.s2 == rhs.s2 && lhs.s3 == rhs.s3
    }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(s0); hasher.combine(s1); hasher.combine(s2); hasher.combine(s3)
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@usableFromInline func _log(_ x: Double) -> Double { log(x) }
@usableFromInline func _cos(_ x: Double) -> Double { cos(x) }
