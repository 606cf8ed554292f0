// The floating-point peak of one core: independent chains of fused multiply-adds, one kernel
// per vector unit; see include/rk_peak.h. Each round updates every accumulator once,
// acc = acc * m + a with m = 0.999 and a = 0.001, so the values stay at 1 (no overflow, no
// denormals) while every operation depends on the one before it in its chain.
#include "rk_peak.h"
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RK_PEAK_X86 1
#else
#define RK_PEAK_X86 0
#endif

// Chains per kernel: an FMA unit takes 3-5 cycles per operation and a core issues up to two
// per cycle, so at least 10 chains must be in flight; each kernel uses as many as its
// registers hold besides the two constants (16 xmm/ymm, 32 zmm registers).
#define RK_PEAK_CHAINS_PORTABLE 12
#define RK_PEAK_CHAINS_AVX2 12
#define RK_PEAK_CHAINS_AVX512 24

// The constants come through volatile reads so that the compiler cannot see their values.
static volatile float rk_peak_m = 0.999f;
static volatile float rk_peak_a = 0.001f;

int rk_peak_unit_available(int unit) {
    switch (unit) {
    case RK_PEAK_PORTABLE:
        return 1;
#if RK_PEAK_X86
    case RK_PEAK_AVX2:
    case RK_PEAK_AVX512: {
        // Asked once; a relaxed atomic, so concurrent first calls race benignly to store the
        // same value. Bit 0: AVX2 + FMA, bit 1: AVX-512F.
        static atomic_int cached = -1;
        int bits = atomic_load_explicit(&cached, memory_order_relaxed);
        if (bits < 0) {
            __builtin_cpu_init();
            bits = (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0)
                 | (__builtin_cpu_supports("avx512f") ? 2 : 0);
            atomic_store_explicit(&cached, bits, memory_order_relaxed);
        }
        return unit == RK_PEAK_AVX2 ? (bits & 1) : ((bits >> 1) & 1);
    }
#endif
    default:
        return 0;
    }
}

int rk_peak_widest_unit(void) {
    if (rk_peak_unit_available(RK_PEAK_AVX512)) return RK_PEAK_AVX512;
    if (rk_peak_unit_available(RK_PEAK_AVX2)) return RK_PEAK_AVX2;
    return RK_PEAK_PORTABLE;
}

int rk_peak_accumulators(int unit) {
    switch (unit) {
    case RK_PEAK_PORTABLE: return RK_PEAK_CHAINS_PORTABLE;
    case RK_PEAK_AVX2: return RK_PEAK_CHAINS_AVX2;
    case RK_PEAK_AVX512: return RK_PEAK_CHAINS_AVX512;
    default: return 0;
    }
}

int rk_peak_lanes(int unit) {
    switch (unit) {
    case RK_PEAK_PORTABLE: return 4;
    case RK_PEAK_AVX2: return 8;
    case RK_PEAK_AVX512: return 16;
    default: return 0;
    }
}

double rk_peak_flops(int unit, long iterations) {
    if (iterations <= 0) return 0;
    return 2.0 * rk_peak_lanes(unit) * rk_peak_accumulators(unit) * (double)iterations;
}

// Twelve chains spelled out: the accumulators must be named variables so that they live in
// registers (an array indexed in a loop may be kept in memory).
#define RK_PEAK_12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define RK_PEAK_12_HIGH(X) X(12) X(13) X(14) X(15) X(16) X(17) X(18) X(19) X(20) X(21) X(22) X(23)

// MARK: - Portable: four lanes of the baseline (GCC/Clang vector extensions), multiply + add

typedef float rk_peak_v4 __attribute__((vector_size(16)));

static float rk_peak_portable(long iterations) {
    const float ms = rk_peak_m, as = rk_peak_a;
    const rk_peak_v4 m = {ms, ms, ms, ms}, a = {as, as, as, as};
#define DECLARE(i) rk_peak_v4 acc##i = {1.0f, 1.0f, 1.0f, 1.0f};
#define STEP(i) acc##i = acc##i * m + a;
    RK_PEAK_12(DECLARE)
    for (long r = 0; r < iterations; r++) {
        RK_PEAK_12(STEP)
        // Keeps the accumulators in registers and the chains unfused across rounds.
        __asm__ volatile("" ::: "memory");
    }
    rk_peak_v4 sum = {0, 0, 0, 0};
#define ADD(i) sum += acc##i;
    RK_PEAK_12(ADD)
    return sum[0] + sum[1] + sum[2] + sum[3];
#undef DECLARE
#undef STEP
#undef ADD
}

#if RK_PEAK_X86
// MARK: - AVX2 + FMA: eight lanes

__attribute__((target("avx2,fma")))
static float rk_peak_avx2(long iterations) {
    const __m256 m = _mm256_set1_ps(rk_peak_m), a = _mm256_set1_ps(rk_peak_a);
#define DECLARE(i) __m256 acc##i = _mm256_set1_ps(1.0f);
#define STEP(i) acc##i = _mm256_fmadd_ps(acc##i, m, a);
    RK_PEAK_12(DECLARE)
    for (long r = 0; r < iterations; r++) {
        RK_PEAK_12(STEP)
        __asm__ volatile("" ::: "memory");
    }
    __m256 sum = _mm256_setzero_ps();
#define ADD(i) sum = _mm256_add_ps(sum, acc##i);
    RK_PEAK_12(ADD)
    float lanes[8];
    _mm256_storeu_ps(lanes, sum);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
#undef DECLARE
#undef STEP
#undef ADD
}

// MARK: - AVX-512F: sixteen lanes

__attribute__((target("avx512f")))
static float rk_peak_avx512(long iterations) {
    const __m512 m = _mm512_set1_ps(rk_peak_m), a = _mm512_set1_ps(rk_peak_a);
#define DECLARE(i) __m512 acc##i = _mm512_set1_ps(1.0f);
#define STEP(i) acc##i = _mm512_fmadd_ps(acc##i, m, a);
    RK_PEAK_12(DECLARE) RK_PEAK_12_HIGH(DECLARE)
    for (long r = 0; r < iterations; r++) {
        RK_PEAK_12(STEP) RK_PEAK_12_HIGH(STEP)
        __asm__ volatile("" ::: "memory");
    }
    __m512 sum = _mm512_setzero_ps();
#define ADD(i) sum = _mm512_add_ps(sum, acc##i);
    RK_PEAK_12(ADD) RK_PEAK_12_HIGH(ADD)
    return _mm512_reduce_add_ps(sum);
#undef DECLARE
#undef STEP
#undef ADD
}
#endif

float rk_peak_fma_chain(int unit, long iterations) {
    if (!rk_peak_unit_available(unit)) return -1.0f;
    if (iterations <= 0) return 0.0f;
    switch (unit) {
#if RK_PEAK_X86
    case RK_PEAK_AVX2: return rk_peak_avx2(iterations);
    case RK_PEAK_AVX512: return rk_peak_avx512(iterations);
#endif
    default: return rk_peak_portable(iterations);
    }
}
