// Which of the library's own kernel sets this machine runs: the portable Swift loops, or the
// AVX2 + FMA or AVX-512 C kernels of the CKernels target.
internal import CKernels

/// The instruction-set level of the library's own kernels (the activations, the fused cell
/// updates and the packed per-step GEMM; BLAS chooses its own kernels), detected once per
/// process.
///
/// SwiftPM builds the package for the baseline of its target (on x86-64: SSE2, no FMA)
/// unless a package passes `unsafeFlags`, which would make it unusable as a dependency. So
/// the kernels that dominate a recurrent step also exist as C functions compiled with
/// per-function AVX2 + FMA and AVX-512 code generation, and the library calls the widest the
/// CPU has, as PyTorch does with its `ATEN_CPU_CAPABILITY` dispatch. The AVX2 and AVX-512
/// kernels run the same arithmetic per element, so they give the same bits.
///
/// Set the environment variable `RECURRENT_CPU_CAPABILITY` to `portable`, `avx2` or `avx512`
/// before the process starts to cap the level (for example to compare results with a machine
/// without AVX-512 or AVX2); a level above the machine's is ignored.
public enum CPUCapability: String, Sendable, CaseIterable, Comparable {
    /// The portable Swift kernels, vectorised for the build's baseline target.
    case portable
    /// The AVX2 + FMA kernels (8 lanes, fused multiply-adds).
    case avx2
    /// The AVX-512 kernels (16 lanes; F, DQ, VL and BW), with AVX2 + FMA.
    case avx512

    /// The kernel set this process uses: the machine's level (``machine``), capped by
    /// `RECURRENT_CPU_CAPABILITY`.
    public static var current: CPUCapability { level(Int(rk_cpu_level())) }

    /// The widest kernel set this CPU and operating system support.
    public static var machine: CPUCapability { level(Int(rk_cpu_machine_level())) }

    /// Whether the C kernels run (``avx2`` or ``avx512``).
    public var usesCKernels: Bool { self != .portable }

    static func level(_ value: Int) -> CPUCapability {
        value >= 2 ? .avx512 : value == 1 ? .avx2 : .portable
    }

    var rank: Int32 {
        switch self {
        case .portable: return 0
        case .avx2: return 1
        case .avx512: return 2
        }
    }

    public static func < (lhs: CPUCapability, rhs: CPUCapability) -> Bool { lhs.rank < rhs.rank }

    /// Runs `body` with the kernels of `capability` (capped at ``machine``), then restores the
    /// previous level: for tests and benchmarks that compare the kernel sets in one process.
    /// Not for use while other threads run kernels.
    public static func withCapability<T>(_ capability: CPUCapability, _ body: () throws -> T) rethrows -> T {
        let previous = rk_cpu_set_level(capability.rank)
        defer { _ = rk_cpu_set_level(previous) }
        return try body()
    }
}
