/// Conversions between `Float` and the storage formats of safetensors dtypes, by bit
/// manipulation (portable: `Float16` is unavailable on macOS x86_64), rounding the way
/// PyTorch does.
enum ScalarConversion {
    /// The `Float` with the value of an IEEE 754 binary16 (exact: every half is a float).
    @inline(__always)
    static func float(fromHalf bits: UInt16) -> Float {
        let h = UInt32(bits)
        let sign = (h & 0x8000) << 16
        let exponent = (h >> 10) & 0x1F
        let mantissa = h & 0x3FF
        if exponent == 0x1F {  // infinity or NaN (payload kept)
            return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
        }
        if exponent == 0 {  // zero or subnormal: mantissa · 2⁻²⁴
            let magnitude = Float(mantissa) * 0x1p-24
            return sign != 0 ? -magnitude : magnitude
        }
        return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }

    /// The binary16 nearest to `value` (ties to even), as PyTorch's `Tensor.half()`:
    /// overflow gives infinity, NaN gives the canonical quiet NaN `0x7E00` with the sign.
    @inline(__always)
    static func half(from value: Float) -> UInt16 {
        let x = value.bitPattern
        let sign = UInt16(truncatingIfNeeded: (x >> 16) & 0x8000)
        let magnitude = x & 0x7FFF_FFFF
        if magnitude > 0x7F80_0000 { return sign | 0x7E00 }           // NaN
        let exponent = Int(magnitude >> 23) - 127
        if exponent > 15 { return sign | 0x7C00 }                       // ≥ 2¹⁶ (or ∞): infinity
        let mantissa = magnitude & 0x7F_FFFF
        if exponent >= -14 {                                            // normal half
            var h = UInt32(exponent + 15) << 10 | mantissa >> 13
            let rest = mantissa & 0x1FFF
            if rest > 0x1000 || (rest == 0x1000 && h & 1 == 1) { h += 1 }  // may carry into ∞
            return sign | UInt16(truncatingIfNeeded: h)
        }
        if exponent < -25 { return sign }                               // below half the smallest subnormal
        let full = mantissa | 0x80_0000                                 // subnormal half
        let shift = UInt32(-exponent - 1)                               // 14...24
        var h = full >> shift
        let rest = full & ((1 << shift) - 1)
        let halfway: UInt32 = 1 << (shift - 1)
        if rest > halfway || (rest == halfway && h & 1 == 1) { h += 1 }
        return sign | UInt16(truncatingIfNeeded: h)
    }

    /// The `Float` with the value of a bfloat16 (its upper 16 bits).
    @inline(__always)
    static func float(fromBFloat16 bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// The bfloat16 nearest to `value` (ties to even), as PyTorch's `Tensor.bfloat16()`;
    /// NaN gives `0x7FC0`.
    @inline(__always)
    static func bfloat16(from value: Float) -> UInt16 {
        if value.isNaN { return 0x7FC0 }
        let x = value.bitPattern
        let bias: UInt32 = 0x7FFF &+ ((x >> 16) & 1)
        return UInt16(truncatingIfNeeded: (x &+ bias) >> 16)
    }

    /// The `Float` with the value of an 8-bit float `F8_E5M2` (the upper byte of a half).
    @inline(__always)
    static func float(fromE5M2 bits: UInt8) -> Float {
        float(fromHalf: UInt16(bits) << 8)
    }

    /// The `Float` with the value of an 8-bit float `F8_E4M3` (PyTorch's `float8_e4m3fn`:
    /// bias 7, no infinities, `S.1111.111` is NaN).
    @inline(__always)
    static func float(fromE4M3 bits: UInt8) -> Float {
        let negative = bits & 0x80 != 0
        let exponent = Int((bits >> 3) & 0xF)
        let mantissa = Int(bits & 0x7)
        let magnitude: Float
        if exponent == 0xF && mantissa == 0x7 {
            magnitude = .nan
        } else if exponent == 0 {
            magnitude = Float(mantissa) * 0x1p-9
        } else {
            magnitude = Float(8 + mantissa) * Float(sign: .plus, exponent: exponent - 10, significand: 1)
        }
        return negative ? -magnitude : magnitude
    }

    /// Converts `count` elements of `dtype` at `source` (little-endian, any alignment) into
    /// `Float`s at `destination`.
    static func decode(_ source: UnsafeRawBufferPointer, dtype: SafeTensors.DType,
                       count: Int, into destination: UnsafeMutablePointer<Float>) {
        guard count > 0, let base = source.baseAddress else { return }
        switch dtype {
        case .f32:
            #if _endian(little)
            UnsafeMutableRawPointer(destination).copyMemory(from: base, byteCount: count * 4)
            #else
            for i in 0..<count {
                destination[i] = Float(bitPattern: UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
            #endif
        case .f64:
            for i in 0..<count {
                destination[i] = Float(Double(bitPattern: UInt64(littleEndian: source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self))))
            }
        case .f16:
            for i in 0..<count {
                destination[i] = float(fromHalf: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<count {
                destination[i] = float(fromBFloat16: UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .f8E5M2:
            for i in 0..<count { destination[i] = float(fromE5M2: source[i]) }
        case .f8E4M3:
            for i in 0..<count { destination[i] = float(fromE4M3: source[i]) }
        case .bool:
            for i in 0..<count { destination[i] = source[i] != 0 ? 1 : 0 }
        case .u8:
            for i in 0..<count { destination[i] = Float(source[i]) }
        case .i8:
            for i in 0..<count { destination[i] = Float(Int8(bitPattern: source[i])) }
        case .i16:
            for i in 0..<count {
                destination[i] = Float(Int16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
            }
        case .u16:
            for i in 0..<count {
                destination[i] = Float(UInt16(littleEndian: source.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
            }
        case .i32:
            for i in 0..<count {
                destination[i] = Float(Int32(littleEndian: source.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
            }
        case .u32:
            for i in 0..<count {
                destination[i] = Float(UInt32(littleEndian: source.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
            }
        case .i64:
            for i in 0..<count {
                destination[i] = Float(Int64(littleEndian: source.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)))
            }
        case .u64:
            for i in 0..<count {
                destination[i] = Float(UInt64(littleEndian: source.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)))
            }
        }
    }

    /// Converts `source` into `dtype` (one of the writable dtypes: F32, F64, F16, BF16),
    /// little-endian, at `destination`, which holds `source.count × dtype.byteCount` bytes.
    static func encode(_ source: UnsafeBufferPointer<Float>, as dtype: SafeTensors.DType,
                       into destination: UnsafeMutableRawPointer) {
        switch dtype {
        case .f32:
            for (i, v) in source.enumerated() {
                destination.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 4, as: UInt32.self)
            }
        case .f64:
            for (i, v) in source.enumerated() {
                destination.storeBytes(of: Double(v).bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self)
            }
        case .f16:
            for (i, v) in source.enumerated() {
                destination.storeBytes(of: half(from: v).littleEndian, toByteOffset: i * 2, as: UInt16.self)
            }
        case .bf16:
            for (i, v) in source.enumerated() {
                destination.storeBytes(of: bfloat16(from: v).littleEndian, toByteOffset: i * 2, as: UInt16.self)
            }
        default:
            preconditionFailure("ScalarConversion.encode: \(dtype) is not writable (checked by the caller)")
        }
    }
}
