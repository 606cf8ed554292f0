/*
 * rk_gemm.h - small packed-B single-precision GEMM for recurrent steps.
 *
 * Computes C = A·B + beta·C where B (K×N) is packed once (rk_pack_b) and then
 * reused by many calls of rk_gemm_packed (one per time step).
 *
 * All matrices are row-major views with an explicit leading dimension:
 * element (i, j) of a matrix p with leading dimension ld is p[i*ld + j].
 * Leading dimensions are in floats (not bytes).
 *
 * The functions are pure: no global mutable state, no allocation, no locking;
 * they may be called concurrently from any number of threads as long as the
 * output buffers of concurrent calls do not overlap.
 *
 * On x86-64 with AVX2+FMA an AVX2/FMA microkernel (6×16 register tile) is
 * used; otherwise (non-x86, or a CPU/OS without AVX2+FMA) a plain-C scalar
 * path computes the same result (slowly). No special compiler flags are
 * needed: the vector code is compiled with function-level target attributes
 * and is only entered after a runtime CPU check.
 */
#ifndef RK_GEMM_H
#define RK_GEMM_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Width (in output columns) of one packed panel of B.
#define RK_GEMM_NR 16

/// 1 when this CPU (and OS) can run the AVX2+FMA kernels, 0 otherwise
/// (always 0 on non-x86 targets). Cheap; may be called on every step.
int rk_cpu_has_avx2_fma(void);

/// Floats needed to pack an operand B of K rows and N columns:
/// ceil(N / 16) * 16 * K (N is padded up to the panel width 16 with zeros).
/// Returns 0 when n <= 0 or k <= 0.
size_t rk_packed_b_count(int n, int k);

/// Packs B (K×N) for C = A·B.
///   transposed != 0: B(k, j) = w[j*ldw + k]  (w is N×K row-major, ldw >= K;
///                    i.e. C = A·Wᵀ, the usual "weights are out×in" layout)
///   transposed == 0: B(k, j) = w[k*ldw + j]  (w is K×N row-major, ldw >= N)
/// packed must hold rk_packed_b_count(n, k) floats. Layout: panel p
/// (columns 16p .. 16p+15) starts at packed + p*16*K; inside it, row kk holds
/// the 16 values B(kk, 16p .. 16p+15), zero-padded past N.
/// Alignment: none required for w; packed should be 32-byte aligned for best
/// speed but any 4-byte-aligned buffer is correct (unaligned loads are used).
/// n <= 0 or k <= 0: nothing is written.
void rk_pack_b(int n, int k, const float *w, int ldw, int transposed, float *packed);

/// C = A·B + beta·C with
///   A: M×K row-major, leading dimension lda (>= K), no alignment needed,
///   B: K×N given packed by rk_pack_b(n, k, ...) (same n and k!),
///   C: M×N row-major, leading dimension ldc (>= N), no alignment needed.
/// beta == 0: C's old contents are ignored (never read; may be NaN).
/// k == 0: C = beta·C (zeros when beta == 0). m <= 0 or n <= 0: no-op.
/// C must not overlap A or packed. Does not allocate.
void rk_gemm_packed(int m, int n, int k, const float *a, int lda,
                    const float *packed, float beta, float *c, int ldc);

/// rk_gemm_packed with the panels of B visited in descending order when `descending` is
/// nonzero (ascending otherwise): the same bits in every element. A recurrence whose packed
/// weight is about the size of the L2 cache alternates the order from step to step, so that
/// each step starts on the panels the last one read most recently, which are still cached
/// (a cyclic sweep over a working set larger than the cache misses on every line).
void rk_gemm_packed_ordered(int m, int n, int k, const float *a, int lda,
                            const float *packed, float beta, float *c, int ldc, int descending);

/// The number of accumulator chains (1, or 2: even and odd k added at the end) in which
/// rk_gemm_packed computes row `row` of an m-row product: it follows from the row's tile
/// height alone, so a product computed in several calls over subsets of its rows gives the
/// bits of one call exactly when every row takes the same number in its call as in the whole.
int rk_gemm_packed_row_chains(int m, int row);

/// C = Aᵀ·B + beta·C where A is stored k × m (row-major, lda >= m; the product reads it
/// transposed, so no copy is made) and B (k × n) is packed by rk_pack_b: the weight gradients
/// of a recurrent layer (Σ over every step's rows), whose depth k is long. The depth is
/// blocked in a fixed block size, so the bits depend on m, n, k alone. Runs where
/// rk_cpu_level() is 2 (AVX-512) and returns 1; returns 0 and does nothing elsewhere.
int rk_gemm_at_packed(int m, int n, int k, const float *a, int lda,
                      const float *packed, float beta, float *c, int ldc);

#ifdef __cplusplus
}
#endif

#endif /* RK_GEMM_H */
