// AVX2 + FMA activation kernels; see include/rk_elementwise.h. The formulas are those of
// Sources/LinearAlgebra/Elementwise.swift, written once per lane width.
#include "rk_elementwise.h"
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <stdatomic.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RK_X86 1
#else
#define RK_X86 0
#endif

int rk_cpu_has_avx2_fma(void) {
#if RK_X86
    // Asked on every kernel call: the answer is kept after the first (a relaxed atomic, so
    // concurrent first calls race benignly to store the same value).
    static atomic_int cached = -1;
    int answer = atomic_load_explicit(&cached, memory_order_relaxed);
    if (answer < 0) {
        __builtin_cpu_init();
        answer = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
        atomic_store_explicit(&cached, answer, memory_order_relaxed);
    }
    return answer;
#else
    return 0;
#endif
}

// Machines without AVX2 + FMA never call these functions (LinearAlgebra keeps its portable
// Swift kernels there); their fallback is libm, correct but not fast.

#if RK_X86
// MARK: - Eight lanes

#define RK_AVX2 __attribute__((target("avx2,fma")))

RK_AVX2 static inline __m256 rk_expm1_reduced8(__m256 r) {
    __m256 r2 = _mm256_mul_ps(r, r), r4 = _mm256_mul_ps(r2, r2);
    __m256 pa = _mm256_fmadd_ps(_mm256_set1_ps(1.6666665459e-1f), r, _mm256_set1_ps(5.0000001201e-1f));
    __m256 pb = _mm256_fmadd_ps(_mm256_set1_ps(8.3334519073e-3f), r, _mm256_set1_ps(4.1665795894e-2f));
    __m256 pc = _mm256_fmadd_ps(_mm256_set1_ps(1.9875691500e-4f), r, _mm256_set1_ps(1.3981999507e-3f));
    __m256 p = _mm256_fmadd_ps(r4, pc, _mm256_fmadd_ps(r2, pb, pa));
    return _mm256_fmadd_ps(r2, p, r);
}

RK_AVX2 static inline __m256 rk_tanh8(__m256 x) {
    const __m256 signMask = _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u));
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    __m256 sign = _mm256_and_ps(x, signMask);
    __m256 a = _mm256_andnot_ps(signMask, x);
    // min(9.1, a) returns its second operand for NaN: NaN stays NaN.
    __m256 c = _mm256_min_ps(_mm256_set1_ps(9.1f), a);
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(2.88539008177792682f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693147182464599609375f), _mm256_add_ps(c, c));
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256 s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
    __m256 e = _mm256_fmadd_ps(s, rk_expm1_reduced8(r), _mm256_sub_ps(s, _mm256_set1_ps(1.0f)));
    __m256 result = _mm256_div_ps(e, _mm256_add_ps(e, _mm256_set1_ps(2.0f)));
    return _mm256_or_ps(result, sign);
}

RK_AVX2 static inline __m256 rk_exp8(__m256 x) {
    const __m256 magic = _mm256_set1_ps(12582912.0f);
    // min/max return their second operand for NaN: NaN stays NaN.
    __m256 c = _mm256_min_ps(_mm256_set1_ps(89.0f), x);
    c = _mm256_max_ps(_mm256_set1_ps(-104.0f), c);
    __m256 t = _mm256_fmadd_ps(c, _mm256_set1_ps(1.44269504088896341f), magic);
    __m256 n = _mm256_sub_ps(t, magic);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), c);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 y = _mm256_add_ps(rk_expm1_reduced8(r), _mm256_set1_ps(1.0f));
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(0x4B400000));
    __m256i k1 = _mm256_srai_epi32(k, 1);
    __m256i k2 = _mm256_sub_epi32(k, k1);
    const __m256i bias = _mm256_set1_epi32(127);
    __m256 s1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k1, bias), 23));
    __m256 s2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k2, bias), 23));
    return _mm256_mul_ps(_mm256_mul_ps(y, s1), s2);
}

RK_AVX2 static inline __m256 rk_sigmoid8(__m256 x) {
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 e = rk_exp8(_mm256_xor_ps(x, _mm256_castsi256_ps(_mm256_set1_epi32((int)0x80000000u))));
    return _mm256_div_ps(one, _mm256_add_ps(one, e));
}

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
#endif

void rk_tanh_f32(const float *x, float *y, size_t count) {
#if RK_X86
    if (rk_cpu_has_avx2_fma()) { rk_tanh_avx2(x, y, count); return; }
#endif
    for (size_t i = 0; i < count; i++) y[i] = tanhf(x[i]);
}

void rk_tanh_rows_f32(const float *x, size_t ldx, const float *bias, float *y, size_t ldy,
                      size_t rows, size_t cols) {
#if RK_X86
    if (rk_cpu_has_avx2_fma()) { rk_tanh_rows_avx2(x, ldx, bias, y, ldy, rows, cols); return; }
#endif
    for (size_t r = 0; r < rows; r++)
        for (size_t j = 0; j < cols; j++) y[r * ldy + j] = tanhf(bias ? x[r * ldx + j] + bias[j] : x[r * ldx + j]);
}

void rk_sigmoid_f32(const float *x, float *y, size_t count) {
#if RK_X86
    if (rk_cpu_has_avx2_fma()) { rk_sigmoid_avx2(x, y, count); return; }
#endif
    for (size_t i = 0; i < count; i++) y[i] = 1.0f / (1.0f + expf(-x[i]));
}

void rk_exp_f32(const float *x, float *y, size_t count) {
#if RK_X86
    if (rk_cpu_has_avx2_fma()) { rk_exp_avx2(x, y, count); return; }
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
