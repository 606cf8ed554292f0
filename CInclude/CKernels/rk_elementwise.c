// AVX2 + FMA and AVX-512 activation kernels; see include/rk_elementwise.h. The formulas are
// those of Sources/LinearAlgebra/Elementwise.swift, written once per lane width
// (rk_vecmath.h).
#include "rk_elementwise.h"
#include "rk_vecmath.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>

// The level the CPU and operating system support: 2 with AVX-512 (F, DQ, VL, BW) and AVX2 +
// FMA, 1 with AVX2 + FMA, 0 otherwise. __builtin_cpu_supports also checks that the operating
// system saves the wider registers (XGETBV).
static int machine_level(void) {
#if RK_X86
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) return 0;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")
        && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")) return 2;
    return 1;
#else
    return 0;
#endif
}

int rk_cpu_machine_level(void) {
    static atomic_int cached = -1;
    int answer = atomic_load_explicit(&cached, memory_order_relaxed);
    if (answer < 0) {
        answer = machine_level();
        atomic_store_explicit(&cached, answer, memory_order_relaxed);
    }
    return answer;
}

// Asked on every kernel call: the answer is kept after the first (a relaxed atomic, so
// concurrent first calls race benignly to store the same value).
static atomic_int level_cache = -1;

int rk_cpu_level(void) {
    int answer = atomic_load_explicit(&level_cache, memory_order_relaxed);
    if (answer < 0) {
        answer = rk_cpu_machine_level();
        const char *requested = getenv("RECURRENT_CPU_CAPABILITY");
        if (requested) {
            int cap = answer;
            if (strcmp(requested, "portable") == 0) cap = 0;
            else if (strcmp(requested, "avx2") == 0) cap = 1;
            else if (strcmp(requested, "avx512") == 0) cap = 2;
            if (cap < answer) answer = cap;
        }
        atomic_store_explicit(&level_cache, answer, memory_order_relaxed);
    }
    return answer;
}

int rk_cpu_has_avx2_fma(void) { return rk_cpu_level() >= 1; }

// Machines without AVX2 + FMA never call these functions (LinearAlgebra keeps its portable
// Swift kernels there); their fallback is libm, correct but not fast.

#if RK_X86
// The buffer loops: 16 values per iteration (two independent chains), then 8, then the tail
// through a zero-padded local block so that no lane reads or writes past the buffers.
#define RK_BUFFER_LOOP(name, kernel8)                                                     \
    RK_AVX2 static void name##_avx2(const float *x, float *y, size_t count) {             \
        size_t i = 0;                                                                     \
        for (; i + 16 <= count; i += 16) {                                                \
            __m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);            \
            _mm256_storeu_ps(y + i, kernel8(a));                                          \
            _mm256_storeu_ps(y + i + 8, kernel8(b));                                      \
        }                                                                                 \
        for (; i + 8 <= count; i += 8) _mm256_storeu_ps(y + i, kernel8(_mm256_loadu_ps(x + i))); \
        if (i < count) {                                                                  \
            float block[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                    \
            memcpy(block, x + i, (count - i) * sizeof(float));                            \
            _mm256_storeu_ps(block, kernel8(_mm256_loadu_ps(block)));                     \
            memcpy(y + i, block, (count - i) * sizeof(float));                            \
        }                                                                                 \
    }

RK_AVX2 static float rk_sum_avx2(const float *x, size_t count) {
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(x + i + 8));
        a2 = _mm256_add_ps(a2, _mm256_loadu_ps(x + i + 16));
        a3 = _mm256_add_ps(a3, _mm256_loadu_ps(x + i + 24));
    }
    for (; i + 8 <= count; i += 8) a0 = _mm256_add_ps(a0, _mm256_loadu_ps(x + i));
    if (i < count) {
        float block[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        memcpy(block, x + i, (count - i) * sizeof(float));
        a1 = _mm256_add_ps(a1, _mm256_loadu_ps(block));
    }
    __m256 s = _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3));
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));
    h = _mm_add_ss(h, _mm_movehdup_ps(h));
    return _mm_cvtss_f32(h);
}

// The activation backward kernels: 8 lanes, the tail through a zero-padded block (a zero
// y gives a finite, discarded result), so every element takes the same arithmetic.
#define RK_BACKWARD_LOOP(name, kernel8)                                                   \
    RK_AVX2 static void name##_avx2(const float *y, size_t ldy, const float *dy, size_t lddy, \
                                    const float *g, size_t ldg, float *dx, size_t lddx,   \
                                    size_t rows, size_t count) {                          \
        for (size_t r = 0; r < rows; r++, y += ldy, dy += lddy, dx += lddx) {             \
            const float *gr = g ? g + r * ldg : NULL;                                     \
            size_t i = 0;                                                                 \
            for (; i + 8 <= count; i += 8) {                                              \
                __m256 d = _mm256_loadu_ps(dy + i);                                       \
                if (gr) d = _mm256_add_ps(d, _mm256_loadu_ps(gr + i));                    \
                _mm256_storeu_ps(dx + i, kernel8(_mm256_loadu_ps(y + i), d));             \
            }                                                                             \
            if (i < count) {                                                              \
                size_t n = count - i;                                                     \
                float yb[8] = {0}, db[8] = {0}, gb[8] = {0};                              \
                memcpy(yb, y + i, n * sizeof(float));                                     \
                memcpy(db, dy + i, n * sizeof(float));                                    \
                if (gr) memcpy(gb, gr + i, n * sizeof(float));                            \
                __m256 d = _mm256_loadu_ps(db);                                           \
                if (gr) d = _mm256_add_ps(d, _mm256_loadu_ps(gb));                        \
                _mm256_storeu_ps(db, kernel8(_mm256_loadu_ps(yb), d));                    \
                memcpy(dx + i, db, n * sizeof(float));                                    \
            }                                                                             \
        }                                                                                 \
    }

RK_AVX2 static inline __m256 rk_tanh_backward8(__m256 y, __m256 d) {
    return _mm256_mul_ps(d, _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(y, y)));
}

RK_AVX2 static inline __m256 rk_relu_backward8(__m256 y, __m256 d) {
    return _mm256_and_ps(d, _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ));
}

RK_BACKWARD_LOOP(rk_tanh_backward, rk_tanh_backward8)
RK_BACKWARD_LOOP(rk_relu_backward, rk_relu_backward8)

RK_BUFFER_LOOP(rk_tanh, rk_tanh8)

RK_AVX2 static void rk_tanh_rows_avx2(const float *x, size_t ldx, const float *bias, float *y, size_t ldy,
                                      size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        size_t i = 0;
        for (; i + 16 <= cols; i += 16) {
            __m256 a = _mm256_loadu_ps(xr + i), b = _mm256_loadu_ps(xr + i + 8);
            if (bias) {
                a = _mm256_add_ps(a, _mm256_loadu_ps(bias + i));
                b = _mm256_add_ps(b, _mm256_loadu_ps(bias + i + 8));
            }
            _mm256_storeu_ps(yr + i, rk_tanh8(a));
            _mm256_storeu_ps(yr + i + 8, rk_tanh8(b));
        }
        for (; i < cols; i += 8) {
            size_t n = cols - i < 8 ? cols - i : 8;
            float xb[8] = {0}, bb[8] = {0};
            memcpy(xb, xr + i, n * sizeof(float));
            if (bias) memcpy(bb, bias + i, n * sizeof(float));
            __m256 a = _mm256_loadu_ps(xb);
            if (bias) a = _mm256_add_ps(a, _mm256_loadu_ps(bb));
            _mm256_storeu_ps(xb, rk_tanh8(a));
            memcpy(yr + i, xb, n * sizeof(float));
        }
    }
}

RK_BUFFER_LOOP(rk_sigmoid, rk_sigmoid8)
RK_BUFFER_LOOP(rk_exp, rk_exp8)

// MARK: - Sixteen lanes (AVX-512): 32 values per iteration, then 16, then a masked tail (the
// masked-off lanes are zeros, as in the 8-lane tail block).
#define RK_BUFFER_LOOP16(name, kernel16)                                                  \
    RK_AVX512 static void name##_avx512(const float *x, float *y, size_t count) {         \
        size_t i = 0;                                                                     \
        for (; i + 32 <= count; i += 32) {                                                \
            __m512 a = _mm512_loadu_ps(x + i), b = _mm512_loadu_ps(x + i + 16);           \
            _mm512_storeu_ps(y + i, kernel16(a));                                         \
            _mm512_storeu_ps(y + i + 16, kernel16(b));                                    \
        }                                                                                 \
        for (; i + 16 <= count; i += 16) _mm512_storeu_ps(y + i, kernel16(_mm512_loadu_ps(x + i))); \
        if (i < count) {                                                                  \
            __mmask16 m = (__mmask16)((1u << (count - i)) - 1);                           \
            _mm512_mask_storeu_ps(y + i, m, kernel16(_mm512_maskz_loadu_ps(m, x + i)));   \
        }                                                                                 \
    }

RK_BUFFER_LOOP16(rk_tanh, rk_tanh16)
RK_BUFFER_LOOP16(rk_sigmoid, rk_sigmoid16)
RK_BUFFER_LOOP16(rk_exp, rk_exp16)

RK_AVX512 static void rk_tanh_rows_avx512(const float *x, size_t ldx, const float *bias, float *y, size_t ldy,
                                          size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++) {
        const float *xr = x + r * ldx;
        float *yr = y + r * ldy;
        for (size_t i = 0; i < cols; i += 16) {
            __mmask16 m = cols - i >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (cols - i)) - 1);
            __m512 a = _mm512_maskz_loadu_ps(m, xr + i);
            if (bias) a = _mm512_add_ps(a, _mm512_maskz_loadu_ps(m, bias + i));
            _mm512_mask_storeu_ps(yr + i, m, rk_tanh16(a));
        }
    }
}
#endif

void rk_tanh_f32(const float *x, float *y, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { rk_tanh_avx512(x, y, count); return; }
    if (level == 1) { rk_tanh_avx2(x, y, count); return; }
#endif
    for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
}

void rk_tanh_rows_f32(const float *x, size_t ldx, const float *bias, float *y, size_t ldy,
                      size_t rows, size_t cols) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { rk_tanh_rows_avx512(x, ldx, bias, y, ldy, rows, cols); return; }
    if (level == 1) { rk_tanh_rows_avx2(x, ldx, bias, y, ldy, rows, cols); return; }
#endif
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) y[r * ldy + j] = tanhf(bias ? x[r * ldx + j] + bias[j] : x[r * ldx + j]);
}

void rk_sigmoid_f32(const float *x, float *y, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { rk_sigmoid_avx512(x, y, count); return; }
    if (level == 1) { rk_sigmoid_avx2(x, y, count); return; }
#endif
    for (size_t i = 0; i < count; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void rk_exp_f32(const float *x, float *y, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { rk_exp_avx512(x, y, count); return; }
    if (level == 1) { rk_exp_avx2(x, y, count); return; }
#endif
    for (size_t i = 0; i < count; i++) y[i] = expf(x[i]);
}

// The scalar two-path backward of both activations, for builds without AVX2 (LinearAlgebra
// calls these kernels only when rk_cpu_has_avx2_fma() says yes).
static void backward_rows_scalar(int relu, const float *y, size_t ldy, const float *dy, size_t lddy,
                                 const float *g, size_t ldg, float *dx, size_t lddx, size_t rows, size_t cols) {
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < cols; i++) {
            float yi = y[r * ldy + i], d = g ? dy[r * lddy + i] + g[r * ldg + i] : dy[r * lddy + i];
            dx[r * lddx + i] = relu ? (yi > 0 ? d : 0.0f) : d * (1.0f - yi * yi);
        }
}

void rk_tanh_backward_rows_f32(const float *y, size_t ldy, const float *dy, size_t lddy, const float *g, size_t ldg,
                               float *dx, size_t lddx, size_t rows, size_t cols) {
#if RK_X86
    if (rk_cpu_has_avx2_fma()) { rk_tanh_backward_avx2(y, ldy, dy, lddy, g, ldg, dx, lddx, rows, cols); return; }
#endif
    backward_rows_scalar(0, y, ldy, dy, lddy, g, ldg, dx, lddx, rows, cols);
}

void rk_relu_backward_rows_f32(const float *y, size_t ldy, const float *dy, size_t lddy, const float *g, size_t ldg,
                               float *dx, size_t lddx, size_t rows, size_t cols) {
#if RK_X86
    if (rk_cpu_has_avx2_fma()) { rk_relu_backward_avx2(y, ldy, dy, lddy, g, ldg, dx, lddx, rows, cols); return; }
#endif
    backward_rows_scalar(1, y, ldy, dy, lddy, g, ldg, dx, lddx, rows, cols);
}

float rk_sum_f32(const float *x, size_t count) {
#if RK_X86
    if (rk_cpu_has_avx2_fma()) return rk_sum_avx2(x, count);
#endif
    float lanes[32] = {0};
    size_t i = 0;
    for (; i + 32 <= count; i += 32)
        for (int j = 0; j < 32; j++) lanes[j] += x[i + j];
    for (; i < count; i++) lanes[i % 32] += x[i];
    for (int width = 16; width >= 1; width /= 2)
        for (int j = 0; j < width; j++) lanes[j] += lanes[j + width];
    return lanes[0];
}

int rk_cpu_set_level(int level) {
    int previous = rk_cpu_level();
    int machine = rk_cpu_machine_level();
    if (level < 0) level = 0;
    if (level > machine) level = machine;
    atomic_store_explicit(&level_cache, level, memory_order_relaxed);
    return previous;
}
