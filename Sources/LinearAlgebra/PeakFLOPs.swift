// The floating-point peak of one core, measured rather than looked up: independent chains of
// fused multiply-adds on the widest vector unit the CPU has (the C kernels in
// CInclude/CKernels/rk_peak.c, chosen at run time like the library's other kernels).
internal import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The single-precision peak of one core, in floating-point operations per second, measured
/// with an FMA-chain micro-kernel: the ceiling against which a benchmark's GFLOP/s are read.
///
/// The kernel keeps many independent chains `acc = acc · m + a` in vector registers (12 on
/// AVX2, 24 on AVX-512: more than the FMA latency times the FMA pipes), so that every FMA
/// unit of the core is busy; a fused multiply-add counts as two operations. Nothing else
/// (memory, BLAS, threads) is involved, so the figure is what the core's arithmetic units can
/// do on one thread at the clock the core currently runs at. For `n` threads on `n`
/// otherwise idle cores the ceiling is `n` times this figure.
///
/// ```swift
/// let perCore = try PeakFLOPs.measure()                 // FLOP/s of one core, widest unit
/// let fraction = measuredFLOPs / seconds / (Double(threads) * perCore)
/// ```
///
/// The kernels are compiled with per-function AVX2 + FMA and AVX-512F code generation and
/// entered only when the CPU and operating system support them, so the measurement is right
/// in a release build for the baseline target; a debug build (no C optimisation) keeps the
/// accumulators in memory and reads far below the peak.
public enum PeakFLOPs {
    /// A vector unit the micro-kernel can run on, narrowest first.
    public enum VectorUnit: String, Sendable, CaseIterable, Comparable {
        /// Four lanes of the build's baseline target (on x86-64: SSE2, a multiply and an add,
        /// as no FMA is guaranteed there); available everywhere.
        case portable
        /// Eight lanes with fused multiply-adds (AVX2 + FMA).
        case avx2
        /// Sixteen lanes with fused multiply-adds (AVX-512F).
        case avx512

        fileprivate var code: Int32 {
            switch self {
            case .portable: return Int32(RK_PEAK_PORTABLE)
            case .avx2: return Int32(RK_PEAK_AVX2)
            case .avx512: return Int32(RK_PEAK_AVX512)
            }
        }

        /// Whether this CPU and operating system can run the unit.
        public var isAvailable: Bool { rk_peak_unit_available(code) != 0 }

        /// Floats in one register of the unit (4, 8 or 16).
        public var lanes: Int { Int(rk_peak_lanes(code)) }

        /// Independent accumulator chains the unit's kernel keeps in flight.
        public var accumulators: Int { Int(rk_peak_accumulators(code)) }

        /// Orders units from narrowest to widest.
        public static func < (lhs: VectorUnit, rhs: VectorUnit) -> Bool { lhs.code < rhs.code }
    }

    /// An invalid request to ``measure(unit:minimumSeconds:samples:)``.
    public enum Error: Swift.Error, CustomStringConvertible, Equatable, Sendable {
        /// The requested vector unit does not run on this CPU (see ``VectorUnit/isAvailable``).
        case unitUnavailable(VectorUnit)
        /// An argument is outside its range: `expected` says what was needed, `actual` what came.
        case invalidArgument(expected: String, actual: String)

        /// A sentence naming what was expected and what came.
        public var description: String {
            switch self {
            case .unitUnavailable(let unit):
                return "PeakFLOPs: the vector unit \(unit.rawValue) is not available on this CPU"
            case .invalidArgument(let expected, let actual):
                return "PeakFLOPs: expected \(expected), got \(actual)"
            }
        }
    }

    /// The widest vector unit this CPU and operating system can run: `.avx512`, `.avx2` or
    /// `.portable`. `RECURRENT_CPU_CAPABILITY` does not change it (it chooses the library's
    /// kernels, not the machine's limit).
    public static var widestUnit: VectorUnit {
        switch Int(rk_peak_widest_unit()) {
        case Int(RK_PEAK_AVX512): return .avx512
        case Int(RK_PEAK_AVX2): return .avx2
        default: return .portable
        }
    }

    /// Measures the peak of one core on the calling thread, in FLOP/s (single precision).
    ///
    /// The kernel is first run with more rounds until one run lasts at least `minimumSeconds`
    /// (which also brings the core to its working clock); then `samples` runs of that length
    /// are timed on the monotonic clock and the fastest is returned: the peak is a ceiling,
    /// and on a shared machine every slower sample was interrupted.
    ///
    /// - Parameters:
    ///   - unit: the vector unit (default: ``widestUnit``).
    ///   - minimumSeconds: the length of one timed run, in (0, 60] seconds.
    ///   - samples: timed runs, 1 to 1000.
    /// - Returns: floating-point operations per second (an FMA counts as two).
    /// - Throws: ``Error/unitUnavailable(_:)`` for a unit the CPU lacks;
    ///   ``Error/invalidArgument(expected:actual:)`` for a length or sample count out of range.
    public static func measure(unit: VectorUnit = widestUnit, minimumSeconds: Double = 0.02,
                               samples: Int = 5) throws -> Double {
        guard unit.isAvailable else { throw Error.unitUnavailable(unit) }
        guard minimumSeconds > 0, minimumSeconds <= 60 else {
            throw Error.invalidArgument(expected: "minimumSeconds in (0, 60]", actual: "\(minimumSeconds)")
        }
        guard (1...1000).contains(samples) else {
            throw Error.invalidArgument(expected: "samples in 1...1000", actual: "\(samples)")
        }
        // Every accumulator stays at 1 (its fixed point), so a run returns lanes · accumulators;
        // anything else means the kernel did not run as written.
        let expected = Float(unit.lanes * unit.accumulators)
        /// Seconds of one run of `rounds` rounds.
        func run(_ rounds: Int) -> Double {
            let start = monotonicSeconds()
            let sum = rk_peak_fma_chain(unit.code, rounds)
            let seconds = monotonicSeconds() - start
            precondition(abs(sum - expected) <= 1e-3 * expected, "PeakFLOPs: the FMA kernel returned \(sum), not \(expected)")
            return seconds
        }
        // Calibrate: double the rounds until a run is long enough (at most 2^40 rounds, far
        // beyond 60 s on any CPU).
        var rounds = 1 << 12
        while run(rounds) < minimumSeconds, rounds < 1 << 40 { rounds *= 2 }
        var best = Double.infinity
        for _ in 0..<samples { best = min(best, run(rounds)) }
        return rk_peak_flops(unit.code, rounds) / max(best, 1e-9)
    }

    private static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }
}
