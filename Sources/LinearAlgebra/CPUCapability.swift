// Which of the library's own kernel sets this machine runs: the portable Swift loops, or the
// AVX2 + FMA C kernels of the CKernels target.
internal import CKernels
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The instruction-set level of the library's own kernels (the activations and the packed
/// per-step GEMM; BLAS chooses its own kernels), detected once per process.
///
/// SwiftPM builds the package for the baseline of its target (on x86-64: SSE2, no FMA)
/// unless a package passes `unsafeFlags`, which would make it unusable as a dependency. So
/// the kernels that dominate a recurrent step also exist as C functions compiled with
/// per-function AVX2 + FMA code generation, and the library calls them when the CPU has those
/// extensions, as PyTorch does with its `ATEN_CPU_CAPABILITY` dispatch.
///
/// Set the environment variable `RECURRENT_CPU_CAPABILITY=portable` before the process
/// starts to force the portable kernels (for example to compare results bit for bit with a
/// machine without AVX2).
public enum CPUCapability: String, Sendable, CaseIterable {
    /// The portable Swift kernels, vectorised for the build's baseline target.
    case portable
    /// The AVX2 + FMA kernels (8 lanes, fused multiply-adds).
    case avx2

    /// The kernel set this process uses: ``avx2`` when the CPU and operating system support
    /// AVX2 and FMA and `RECURRENT_CPU_CAPABILITY` is not `portable`; ``portable`` otherwise.
    public static let current: CPUCapability = {
        if let requested = getenv("RECURRENT_CPU_CAPABILITY"), String(cString: requested) == "portable" {
            return .portable
        }
        return rk_cpu_has_avx2_fma() != 0 ? .avx2 : .portable
    }()
}
