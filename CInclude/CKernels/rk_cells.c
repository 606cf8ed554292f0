// Fused elementwise parts of LSTM and GRU steps; see include/rk_cells.h.
#include "rk_cells.h"
#include "rk_vecmath.h"
#include <math.h>

#if RK_X86
// Lane masks for the tails: the AVX2 kernels load and store the last count % 8 lanes with
// masked moves, the AVX-512 ones with mask registers; masked-off lanes read as zeros.
RK_AVX2 static inline __m256i tail_mask8(size_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
}

#define RK_LSTM_BODY(V, load, store, sig, th, fmadd, mul)                                 \
    V i = sig(load(g + j)), f = sig(load(g + gs + j));                                    \
    V gg = th(load(g + 2 * gs + j)), o = sig(load(g + 3 * gs + j));                       \
    store(g + j, i); store(g + gs + j, f); store(g + 2 * gs + j, gg); store(g + 3 * gs + j, o); \
    V cn = fmadd(f, load(c + j), mul(i, gg));                                             \
    V t = th(cn);                                                                         \
    store(c + j, cn); store(tanhc + j, t); store(h + j, mul(o, t));

RK_AVX2 static void lstm_avx2(float *g, size_t gs, float *c, float *tanhc, float *h, size_t count) {
    size_t j = 0;
#define L8(p) _mm256_loadu_ps(p)
#define S8(p, v) _mm256_storeu_ps(p, v)
    for (; j + 8 <= count; j += 8) {
        RK_LSTM_BODY(__m256, L8, S8, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps, _mm256_mul_ps)
    }
#undef L8
#undef S8
    if (j < count) {
        const __m256i m = tail_mask8(count - j);
#define L8(p) _mm256_maskload_ps(p, m)
#define S8(p, v) _mm256_maskstore_ps(p, m, v)
        RK_LSTM_BODY(__m256, L8, S8, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps, _mm256_mul_ps)
#undef L8
#undef S8
    }
}

RK_AVX512 static void lstm_avx512(float *g, size_t gs, float *c, float *tanhc, float *h, size_t count) {
    for (size_t j = 0; j < count; j += 16) {
        const __mmask16 m = count - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - j)) - 1);
#define L16(p) _mm512_maskz_loadu_ps(m, p)
#define S16(p, v) _mm512_mask_storeu_ps(p, m, v)
        RK_LSTM_BODY(__m512, L16, S16, rk_sigmoid16, rk_tanh16, _mm512_fmadd_ps, _mm512_mul_ps)
#undef L16
#undef S16
    }
}

#define RK_GRU_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)                   \
    V r = sig(add(load(g + j), load(rec + j)));                                           \
    V z = sig(add(load(g + gs + j), load(rec + gs + j)));                                 \
    V hn = load(rec + 2 * gs + j);                                                        \
    if (bhn) { hn = add(hn, load(bhn + j)); store(rec + 2 * gs + j, hn); }                \
    V n = th(fmadd(r, hn, load(g + 2 * gs + j)));                                         \
    store(g + j, r); store(g + gs + j, z); store(g + 2 * gs + j, n);                      \
    store(h + j, fmadd(sub(one, z), n, mul(z, load(h + j))));

RK_AVX2 static void gru_avx2(float *g, float *rec, size_t gs, const float *bhn, float *h, size_t count) {
    const __m256 one = _mm256_set1_ps(1.0f);
    size_t j = 0;
#define L8(p) _mm256_loadu_ps(p)
#define S8(p, v) _mm256_storeu_ps(p, v)
    for (; j + 8 <= count; j += 8) {
        RK_GRU_BODY(__m256, L8, S8, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_sub_ps, one)
    }
#undef L8
#undef S8
    if (j < count) {
        const __m256i m = tail_mask8(count - j);
#define L8(p) _mm256_maskload_ps(p, m)
#define S8(p, v) _mm256_maskstore_ps(p, m, v)
        RK_GRU_BODY(__m256, L8, S8, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_sub_ps, one)
#undef L8
#undef S8
    }
}

RK_AVX512 static void gru_avx512(float *g, float *rec, size_t gs, const float *bhn, float *h, size_t count) {
    const __m512 one = _mm512_set1_ps(1.0f);
    for (size_t j = 0; j < count; j += 16) {
        const __mmask16 m = count - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - j)) - 1);
#define L16(p) _mm512_maskz_loadu_ps(m, p)
#define S16(p, v) _mm512_mask_storeu_ps(p, m, v)
        RK_GRU_BODY(__m512, L16, S16, rk_sigmoid16, rk_tanh16, _mm512_fmadd_ps, _mm512_mul_ps, _mm512_add_ps, _mm512_sub_ps, one)
#undef L16
#undef S16
    }
}
#endif

static float sigmoid_scalar(float x) { return 1.0f / (1.0f + expf(-x)); }

void rk_lstm_cell_f32(float *g, size_t gs, float *c, float *tanhc, float *h, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { lstm_avx512(g, gs, c, tanhc, h, count); return; }
    if (level == 1) { lstm_avx2(g, gs, c, tanhc, h, count); return; }
#endif
    for (size_t j = 0; j < count; j++) {
        float i = sigmoid_scalar(g[j]), f = sigmoid_scalar(g[gs + j]);
        float gg = tanhf(g[2 * gs + j]), o = sigmoid_scalar(g[3 * gs + j]);
        g[j] = i; g[gs + j] = f; g[2 * gs + j] = gg; g[3 * gs + j] = o;
        c[j] = f * c[j] + i * gg;
        tanhc[j] = tanhf(c[j]);
        h[j] = o * tanhc[j];
    }
}

void rk_gru_cell_f32(float *g, float *rec, size_t gs, const float *bhn, float *h, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { gru_avx512(g, rec, gs, bhn, h, count); return; }
    if (level == 1) { gru_avx2(g, rec, gs, bhn, h, count); return; }
#endif
    for (size_t j = 0; j < count; j++) {
        float r = sigmoid_scalar(g[j] + rec[j]), z = sigmoid_scalar(g[gs + j] + rec[gs + j]);
        float hn = rec[2 * gs + j];
        if (bhn) { hn += bhn[j]; rec[2 * gs + j] = hn; }
        float n = tanhf(g[2 * gs + j] + r * hn);
        g[j] = r; g[gs + j] = z; g[2 * gs + j] = n;
        h[j] = (1.0f - z) * n + z * h[j];
    }
}
