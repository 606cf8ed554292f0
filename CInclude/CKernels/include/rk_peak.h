/*
 * rk_peak.h - the floating-point peak of one core: chains of fused multiply-adds.
 *
 * rk_peak_fma_chain runs `accumulators` independent chains acc = acc * m + a, each one
 * vector register wide, for `iterations` rounds. The chains are independent so that the
 * CPU can keep every FMA pipe busy (the latency of an FMA is 3 to 5 cycles and a core
 * issues up to two per cycle, so 8 to 10 chains in flight saturate it; the kernels use more).
 * Timing the call and dividing rk_peak_flops(unit, iterations) by the seconds gives the
 * single-precision FLOP/s of one core for that vector unit.
 *
 * The vector units, narrowest first:
 *   RK_PEAK_PORTABLE  4 lanes of the build's baseline (on x86-64 SSE2: a multiply and an
 *                     add, no FMA), 12 chains;
 *   RK_PEAK_AVX2      8 lanes, AVX2 + FMA (vfmadd), 12 chains;
 *   RK_PEAK_AVX512    16 lanes, AVX-512F (vfmadd on zmm), 24 chains.
 * The vector code is compiled with per-function target attributes and entered only after a
 * run-time CPU check (__builtin_cpu_supports, which also checks that the operating system
 * saves the registers); no compiler flags are needed.
 *
 * The functions are pure (no global mutable state except a cached CPU answer, no
 * allocation) and may run concurrently on several threads.
 */
#ifndef RK_PEAK_H
#define RK_PEAK_H

#ifdef __cplusplus
extern "C" {
#endif

/// The vector units rk_peak_fma_chain can run on.
enum {
    RK_PEAK_PORTABLE = 0,
    RK_PEAK_AVX2 = 1,
    RK_PEAK_AVX512 = 2,
};

/// 1 when this CPU and operating system can run `unit` (RK_PEAK_PORTABLE always can),
/// 0 otherwise (also for an unknown unit).
int rk_peak_unit_available(int unit);

/// The widest unit this CPU can run: RK_PEAK_AVX512, RK_PEAK_AVX2 or RK_PEAK_PORTABLE.
int rk_peak_widest_unit(void);

/// Independent accumulator chains of `unit`'s kernel (0 for an unknown unit).
int rk_peak_accumulators(int unit);

/// Lanes (floats) of one of `unit`'s registers (0 for an unknown unit).
int rk_peak_lanes(int unit);

/// Floating-point operations of `iterations` rounds of `unit`'s kernel:
/// 2 · lanes · accumulators · iterations (a fused multiply-add counts as two).
double rk_peak_flops(int unit, long iterations);

/// Runs `iterations` rounds of `unit`'s FMA chains and returns the sum of the final
/// accumulators (a finite number near accumulators · lanes; returned so that the work cannot
/// be optimised away). iterations <= 0 runs nothing and returns 0. An unavailable or
/// unknown unit runs nothing and returns -1 (check rk_peak_unit_available first).
float rk_peak_fma_chain(int unit, long iterations);

#ifdef __cplusplus
}
#endif

#endif
