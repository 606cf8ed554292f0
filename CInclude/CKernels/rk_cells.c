// Fused elementwise parts of LSTM and GRU steps; see include/rk_cells.h.
#include "rk_cells.h"
#include "rk_vecmath.h"
#include <math.h>
#include <string.h>

#if RK_X86
// Lane masks for the tails: the AVX2 kernels load and store the last count % 8 lanes with
// masked moves, the AVX-512 ones with mask registers; masked-off lanes read as zeros.
RK_AVX2 static inline __m256i tail_mask8(size_t n) {
    const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), lane);
}

#define RK_LSTM_BODY(V, load, store, sig, th, fmadd, mul, add)                            \
    V pi = load(g + j), pf = load(g + gs + j), pg = load(g + 2 * gs + j), po = load(g + 3 * gs + j); \
    if (bias) {                                                                           \
        pi = add(pi, load(bias + j)); pf = add(pf, load(bias + gs + j));                  \
        pg = add(pg, load(bias + 2 * gs + j)); po = add(po, load(bias + 3 * gs + j));     \
    }                                                                                     \
    V i = sig(pi), f = sig(pf), gg = th(pg), o = sig(po);                                 \
    store(g + j, i); store(g + gs + j, f); store(g + 2 * gs + j, gg); store(g + 3 * gs + j, o); \
    V cn = fmadd(f, load(c + j), mul(i, gg));                                             \
    V t = th(cn);                                                                         \
    store(c + j, cn); store(tanhc + j, t); store(h + j, mul(o, t));

RK_AVX2 static void lstm_avx2(float *g, const float *bias, size_t gs, float *c, float *tanhc, float *h, size_t count) {
    size_t j = 0;
#define L8(p) _mm256_loadu_ps(p)
#define S8(p, v) _mm256_storeu_ps(p, v)
    for (; j + 8 <= count; j += 8) {
        RK_LSTM_BODY(__m256, L8, S8, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps)
    }
#undef L8
#undef S8
    if (j < count) {
        const __m256i m = tail_mask8(count - j);
#define L8(p) _mm256_maskload_ps(p, m)
#define S8(p, v) _mm256_maskstore_ps(p, m, v)
        RK_LSTM_BODY(__m256, L8, S8, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps, _mm256_mul_ps, _mm256_add_ps)
#undef L8
#undef S8
    }
}

// RK_LSTM_BODY's arithmetic on n · 16 units from j (n = 1 or 2; for n = 1, the lanes past
// count masked off by m), the activations of the n vectors side by side (rk_sigmoid16n).
RK_AVX512_N void lstm16n(float *g, const float *bias, size_t gs, float *c, float *tanhc, float *h, size_t j,
                         const int n, const __mmask16 m) {
    __m512 i[2], f[2], gg[2], o[2], cn[2], t[2];
    for (int q = 0; q < n; q++) {
        const size_t u = j + 16 * (size_t)q;
        i[q] = _mm512_maskz_loadu_ps(m, g + u); f[q] = _mm512_maskz_loadu_ps(m, g + gs + u);
        gg[q] = _mm512_maskz_loadu_ps(m, g + 2 * gs + u); o[q] = _mm512_maskz_loadu_ps(m, g + 3 * gs + u);
        if (bias) {
            i[q] = _mm512_add_ps(i[q], _mm512_maskz_loadu_ps(m, bias + u));
            f[q] = _mm512_add_ps(f[q], _mm512_maskz_loadu_ps(m, bias + gs + u));
            gg[q] = _mm512_add_ps(gg[q], _mm512_maskz_loadu_ps(m, bias + 2 * gs + u));
            o[q] = _mm512_add_ps(o[q], _mm512_maskz_loadu_ps(m, bias + 3 * gs + u));
        }
    }
    rk_sigmoid16n(i, n); rk_sigmoid16n(f, n); rk_tanh16n(gg, n); rk_sigmoid16n(o, n);
    for (int q = 0; q < n; q++) {
        const size_t u = j + 16 * (size_t)q;
        _mm512_mask_storeu_ps(g + u, m, i[q]); _mm512_mask_storeu_ps(g + gs + u, m, f[q]);
        _mm512_mask_storeu_ps(g + 2 * gs + u, m, gg[q]); _mm512_mask_storeu_ps(g + 3 * gs + u, m, o[q]);
        cn[q] = _mm512_fmadd_ps(f[q], _mm512_maskz_loadu_ps(m, c + u), _mm512_mul_ps(i[q], gg[q]));
        t[q] = cn[q];
    }
    rk_tanh16n(t, n);
    for (int q = 0; q < n; q++) {
        const size_t u = j + 16 * (size_t)q;
        _mm512_mask_storeu_ps(c + u, m, cn[q]); _mm512_mask_storeu_ps(tanhc + u, m, t[q]);
        _mm512_mask_storeu_ps(h + u, m, _mm512_mul_ps(o[q], t[q]));
    }
}

RK_AVX512 static void lstm_avx512(float *g, const float *bias, size_t gs, float *c, float *tanhc, float *h, size_t count) {
    size_t j = 0;
    for (; j + 32 <= count; j += 32) lstm16n(g, bias, gs, c, tanhc, h, j, 2, (__mmask16)0xFFFF);
    for (; j < count; j += 16) {
        const __mmask16 m = count - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - j)) - 1);
        lstm16n(g, bias, gs, c, tanhc, h, j, 1, m);
    }
}

#define RK_GRU_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)                   \
    V pr = load(g + j), pz = load(g + gs + j), pn = load(g + 2 * gs + j);                 \
    if (bias) {                                                                           \
        pr = add(pr, load(bias + j)); pz = add(pz, load(bias + gs + j)); pn = add(pn, load(bias + 2 * gs + j)); \
    }                                                                                     \
    V r = sig(add(pr, load(rec + j)));                                                    \
    V z = sig(add(pz, load(rec + gs + j)));                                               \
    V hn = load(rec + 2 * gs + j);                                                        \
    if (bhn) { hn = add(hn, load(bhn + j)); store(rec + 2 * gs + j, hn); }                \
    V n = th(fmadd(r, hn, pn));                                                           \
    store(g + j, r); store(g + gs + j, z); store(g + 2 * gs + j, n);                      \
    store(h + j, fmadd(sub(one, z), n, mul(z, load(h + j))));

RK_AVX2 static void gru_avx2(float *g, const float *bias, float *rec, size_t gs, const float *bhn, float *h, size_t count) {
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

RK_AVX512 static void gru_avx512(float *g, const float *bias, float *rec, size_t gs, const float *bhn, float *h, size_t count) {
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

void rk_lstm_cell_f32(float *g, const float *bias, size_t gs, float *c, float *tanhc, float *h, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { lstm_avx512(g, bias, gs, c, tanhc, h, count); return; }
    if (level == 1) { lstm_avx2(g, bias, gs, c, tanhc, h, count); return; }
#endif
    for (size_t j = 0; j < count; j++) {
        if (bias) for (int k = 0; k < 4; k++) g[k * gs + j] += bias[k * gs + j];
        float i = sigmoid_scalar(g[j]), f = sigmoid_scalar(g[gs + j]);
        float gg = tanhf(g[2 * gs + j]), o = sigmoid_scalar(g[3 * gs + j]);
        g[j] = i; g[gs + j] = f; g[2 * gs + j] = gg; g[3 * gs + j] = o;
        c[j] = f * c[j] + i * gg;
        tanhc[j] = tanhf(c[j]);
        h[j] = o * tanhc[j];
    }
}

void rk_gru_cell_f32(float *g, const float *bias, float *rec, size_t gs, const float *bhn, float *h, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { gru_avx512(g, bias, rec, gs, bhn, h, count); return; }
    if (level == 1) { gru_avx2(g, bias, rec, gs, bhn, h, count); return; }
#endif
    for (size_t j = 0; j < count; j++) {
        if (bias) for (int k = 0; k < 3; k++) g[k * gs + j] += bias[k * gs + j];
        float r = sigmoid_scalar(g[j] + rec[j]), z = sigmoid_scalar(g[gs + j] + rec[gs + j]);
        float hn = rec[2 * gs + j];
        if (bhn) { hn += bhn[j]; rec[2 * gs + j] = hn; }
        float n = tanhf(g[2 * gs + j] + r * hn);
        g[j] = r; g[gs + j] = z; g[2 * gs + j] = n;
        h[j] = (1.0f - z) * n + z * h[j];
    }
}

// MARK: - Backward rows

#if RK_X86
#define RK_LSTM_BACKWARD_BODY(V, load, store, mul, add, sub, one)                        \
    V i = load(g + j), f = load(g + gs + j), gg = load(g + 2 * gs + j), o = load(g + 3 * gs + j); \
    V t = load(tanhc + j), d = load(dh + j);                                              \
    V dO = mul(d, t);                                                                     \
    V dC = add(load(dc + j), mul(mul(d, o), sub(one, mul(t, t))));                        \
    store(dg + j, mul(mul(mul(dC, gg), i), sub(one, i)));                                 \
    store(dg + gs + j, mul(mul(mul(dC, load(cprev + j)), f), sub(one, f)));               \
    store(dg + 2 * gs + j, mul(mul(dC, i), sub(one, mul(gg, gg))));                       \
    store(dg + 3 * gs + j, mul(mul(dO, o), sub(one, o)));                                 \
    store(dc + j, mul(dC, f));

#define RK_GRU_BACKWARD_BODY(V, load, store, mul, add, sub, one)                         \
    V r = load(g + j), z = load(g + gs + j), n = load(g + 2 * gs + j), d = load(dh + j);  \
    V dN = mul(mul(d, sub(one, z)), sub(one, mul(n, n)));                                 \
    V dZ = mul(mul(mul(d, sub(load(hprev + j), n)), z), sub(one, z));                     \
    V dR = mul(mul(mul(dN, load(hn + j)), r), sub(one, r));                               \
    store(dgx + j, dR); store(dgh + j, dR);                                               \
    store(dgx + gs + j, dZ); store(dgh + gs + j, dZ);                                     \
    store(dgx + 2 * gs + j, dN); store(dgh + 2 * gs + j, mul(dN, r));                     \
    store(dh + j, mul(d, z));

#define RK_ROW_KERNELS(name, BODY, PARAMS, ...)                                           \
    RK_AVX2 static void name##_avx2 PARAMS {                                              \
        const __m256 one = _mm256_set1_ps(1.0f);                                          \
        size_t j = 0;                                                                     \
        for (; j + 8 <= count; j += 8) {                                                  \
            BODY(__m256, _mm256_loadu_ps, _mm256_storeu_ps, _mm256_mul_ps, _mm256_add_ps, _mm256_sub_ps, one) \
        }                                                                                 \
        if (j < count) {                                                                  \
            const __m256i m = tail_mask8(count - j);                                      \
            BODY(__m256, RK_MLOAD8, RK_MSTORE8, _mm256_mul_ps, _mm256_add_ps, _mm256_sub_ps, one) \
        }                                                                                 \
    }                                                                                     \
    RK_AVX512 static void name##_avx512 PARAMS {                                          \
        const __m512 one = _mm512_set1_ps(1.0f);                                          \
        for (size_t j = 0; j < count; j += 16) {                                          \
            const __mmask16 m = count - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - j)) - 1); \
            BODY(__m512, RK_MLOAD16, RK_MSTORE16, _mm512_mul_ps, _mm512_add_ps, _mm512_sub_ps, one) \
        }                                                                                 \
    }

#define RK_MLOAD8(p) _mm256_maskload_ps(p, m)
#define RK_MSTORE8(p, v) _mm256_maskstore_ps(p, m, v)
#define RK_MLOAD16(p) _mm512_maskz_loadu_ps(m, p)
#define RK_MSTORE16(p, v) _mm512_mask_storeu_ps(p, m, v)

RK_ROW_KERNELS(lstm_backward, RK_LSTM_BACKWARD_BODY,
               (const float *g, size_t gs, const float *tanhc, const float *cprev, const float *dh, float *dc, float *dg, size_t count))
RK_ROW_KERNELS(gru_backward, RK_GRU_BACKWARD_BODY,
               (const float *g, size_t gs, const float *hn, const float *hprev, float *dh, float *dgx, float *dgh, size_t count))
#endif

void rk_lstm_backward_f32(const float *g, size_t gs, const float *tanhc, const float *cprev, const float *dh,
                          float *dc, float *dg, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { lstm_backward_avx512(g, gs, tanhc, cprev, dh, dc, dg, count); return; }
    if (level == 1) { lstm_backward_avx2(g, gs, tanhc, cprev, dh, dc, dg, count); return; }
#endif
    for (size_t j = 0; j < count; j++) {
        float i = g[j], f = g[gs + j], gg = g[2 * gs + j], o = g[3 * gs + j];
        float dO = dh[j] * tanhc[j];
        float dC = dc[j] + dh[j] * o * (1 - tanhc[j] * tanhc[j]);
        dg[j] = dC * gg * i * (1 - i);
        dg[gs + j] = dC * cprev[j] * f * (1 - f);
        dg[2 * gs + j] = dC * i * (1 - gg * gg);
        dg[3 * gs + j] = dO * o * (1 - o);
        dc[j] = dC * f;
    }
}

void rk_gru_backward_f32(const float *g, size_t gs, const float *hn, const float *hprev, float *dh,
                         float *dgx, float *dgh, size_t count) {
#if RK_X86
    int level = rk_cpu_level();
    if (level >= 2) { gru_backward_avx512(g, gs, hn, hprev, dh, dgx, dgh, count); return; }
    if (level == 1) { gru_backward_avx2(g, gs, hn, hprev, dh, dgx, dgh, count); return; }
#endif
    for (size_t j = 0; j < count; j++) {
        float r = g[j], z = g[gs + j], n = g[2 * gs + j], d = dh[j];
        float dN = d * (1 - z) * (1 - n * n);
        float dZ = d * (hprev[j] - n) * z * (1 - z);
        float dR = dN * hn[j] * r * (1 - r);
        dgx[j] = dR; dgh[j] = dR;
        dgx[gs + j] = dZ; dgh[gs + j] = dZ;
        dgx[2 * gs + j] = dN; dgh[2 * gs + j] = dN * r;
        dh[j] = d * z;
    }
}

// MARK: - Rows

void rk_lstm_cell_rows_f32(size_t rows, size_t count, float *g, size_t ldg, const float *bias, size_t gs,
                           float *c, size_t ldc, float *cprev, size_t ldcp, float *tanhc, size_t ldt,
                           float *h, size_t ldh, float *out, size_t ldo) {
    for (size_t r = 0; r < rows; r++) {
        float *cr = c + r * ldc, *hr = h + r * ldh;
        if (cprev) memcpy(cprev + r * ldcp, cr, count * sizeof(float));
        rk_lstm_cell_f32(g + r * ldg, bias, gs, cr, tanhc + r * ldt, hr, count);
        if (out) memcpy(out + r * ldo, hr, count * sizeof(float));
    }
}

void rk_gru_cell_rows_f32(size_t rows, size_t count, float *g, size_t ldg, const float *bias, float *rec, size_t ldr,
                          size_t gs, const float *bhn, const float *hprev, size_t ldhp, float *h, size_t ldh,
                          float *out, size_t ldo, float *hn, size_t ldhn) {
    for (size_t r = 0; r < rows; r++) {
        float *hr = h + r * ldh, *recr = rec + r * ldr;
        const float *hp = hprev + r * ldhp;
        if (hp != hr) memcpy(hr, hp, count * sizeof(float));
        rk_gru_cell_f32(g + r * ldg, bias, recr, gs, bhn, hr, count);
        if (out) memcpy(out + r * ldo, hr, count * sizeof(float));
        if (hn) memcpy(hn + r * ldhn, recr + 2 * gs, count * sizeof(float));
    }
}

void rk_copy_rows_f32(size_t rows, size_t count, const float *src, size_t lds, float *dst, size_t ldd) {
    for (size_t r = 0; r < rows; r++) memcpy(dst + r * ldd, src + r * lds, count * sizeof(float));
}

// MARK: - Cells beyond PyTorch's (peepholes, reset before the product) and the regularisers
//
// Each body is written once and instantiated three times: 8 lanes (AVX2 + FMA, masked tail),
// 16 lanes (AVX-512) and one lane (scalar libm, the portable level). The 8- and 16-lane forms
// run the same instructions and give the same bits; the scalar one agrees to rounding.

#define RK_S_LOAD(p) (*(p))
#define RK_S_STORE(p, v) (*(p) = (v))
#define RK_S_FMADD(a, b, c) ((a) * (b) + (c))
#define RK_S_MUL(a, b) ((a) * (b))
#define RK_S_ADD(a, b) ((a) + (b))
#define RK_S_SUB(a, b) ((a) - (b))

#if RK_X86
#define RK_VARIANT_KERNELS(name, BODY, PARAMS)                                            \
    RK_AVX2 static void name##_avx2 PARAMS {                                              \
        const __m256 one = _mm256_set1_ps(1.0f); (void)one;                              \
        size_t j = 0;                                                                     \
        for (; j + 8 <= count; j += 8) {                                                  \
            BODY(__m256, _mm256_loadu_ps, _mm256_storeu_ps, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps, \
                 _mm256_mul_ps, _mm256_add_ps, _mm256_sub_ps, one)                        \
        }                                                                                 \
        if (j < count) {                                                                  \
            const __m256i m = tail_mask8(count - j);                                      \
            BODY(__m256, RK_MLOAD8, RK_MSTORE8, rk_sigmoid8, rk_tanh8, _mm256_fmadd_ps,   \
                 _mm256_mul_ps, _mm256_add_ps, _mm256_sub_ps, one)                        \
        }                                                                                 \
    }                                                                                     \
    RK_AVX512 static void name##_avx512 PARAMS {                                          \
        const __m512 one = _mm512_set1_ps(1.0f); (void)one;                              \
        for (size_t j = 0; j < count; j += 16) {                                          \
            const __mmask16 m = count - j >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (count - j)) - 1); \
            BODY(__m512, RK_MLOAD16, RK_MSTORE16, rk_sigmoid16, rk_tanh16, _mm512_fmadd_ps, \
                 _mm512_mul_ps, _mm512_add_ps, _mm512_sub_ps, one)                        \
        }                                                                                 \
    }                                                                                     \
    static void name##_scalar PARAMS {                                                    \
        const float one = 1.0f; (void)one;                                                \
        for (size_t j = 0; j < count; j++) {                                              \
            BODY(float, RK_S_LOAD, RK_S_STORE, sigmoid_scalar, tanhf, RK_S_FMADD, RK_S_MUL, RK_S_ADD, RK_S_SUB, one) \
        }                                                                                 \
    }
#define RK_VARIANT_DISPATCH(name, ...)                                                    \
    do {                                                                                  \
        int level = rk_cpu_level();                                                       \
        if (level >= 2) { name##_avx512(__VA_ARGS__); return; }                           \
        if (level == 1) { name##_avx2(__VA_ARGS__); return; }                             \
        name##_scalar(__VA_ARGS__);                                                       \
    } while (0)
#else
#define RK_VARIANT_KERNELS(name, BODY, PARAMS)                                            \
    static void name##_scalar PARAMS {                                                    \
        const float one = 1.0f; (void)one;                                                \
        for (size_t j = 0; j < count; j++) {                                              \
            BODY(float, RK_S_LOAD, RK_S_STORE, sigmoid_scalar, tanhf, RK_S_FMADD, RK_S_MUL, RK_S_ADD, RK_S_SUB, one) \
        }                                                                                 \
    }
#define RK_VARIANT_DISPATCH(name, ...) do { name##_scalar(__VA_ARGS__); } while (0)
#endif

// LSTM with peepholes: i, f read c_{t-1}, o reads the new c.
#define RK_LSTM_PEEPHOLE_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)        \
    V pi = load(g + j), pf = load(g + gs + j), pg = load(g + 2 * gs + j), po = load(g + 3 * gs + j); \
    if (bias) {                                                                           \
        pi = add(pi, load(bias + j)); pf = add(pf, load(bias + gs + j));                  \
        pg = add(pg, load(bias + 2 * gs + j)); po = add(po, load(bias + 3 * gs + j));     \
    }                                                                                     \
    V cp = load(c + j);                                                                   \
    V i = sig(fmadd(load(p + j), cp, pi)), f = sig(fmadd(load(p + gs + j), cp, pf)), gg = th(pg); \
    V cn = fmadd(f, cp, mul(i, gg));                                                      \
    V o = sig(fmadd(load(p + 2 * gs + j), cn, po));                                       \
    V t = th(cn);                                                                         \
    store(g + j, i); store(g + gs + j, f); store(g + 2 * gs + j, gg); store(g + 3 * gs + j, o); \
    store(c + j, cn); store(tanhc + j, t); store(h + j, mul(o, t));

#define RK_LSTM_PEEPHOLE_BACKWARD_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one) \
    V i = load(g + j), f = load(g + gs + j), gg = load(g + 2 * gs + j), o = load(g + 3 * gs + j); \
    V t = load(tanhc + j), d = load(dh + j), cp = load(cprev + j);                        \
    V dO = mul(mul(mul(d, t), o), sub(one, o));                                           \
    V dC = add(add(load(dc + j), mul(mul(d, o), sub(one, mul(t, t)))), mul(dO, load(p + 2 * gs + j))); \
    V dI = mul(mul(mul(dC, gg), i), sub(one, i));                                         \
    V dF = mul(mul(mul(dC, cp), f), sub(one, f));                                         \
    store(dg + j, dI); store(dg + gs + j, dF);                                            \
    store(dg + 2 * gs + j, mul(mul(dC, i), sub(one, mul(gg, gg))));                       \
    store(dg + 3 * gs + j, dO);                                                           \
    store(dc + j, add(add(mul(dC, f), mul(dI, load(p + j))), mul(dF, load(p + gs + j)))); \
    store(dp + j, add(load(dp + j), mul(dI, cp)));                                        \
    store(dp + gs + j, add(load(dp + gs + j), mul(dF, cp)));                              \
    store(dp + 2 * gs + j, add(load(dp + 2 * gs + j), mul(dO, load(cnew + j))));

// GRU with the reset gate before the product: r, z, then s = r ⊙ h; then n and h.
#define RK_GRU_RB_GATES_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)         \
    V pr = load(g + j), pz = load(g + gs + j);                                            \
    if (bias) { pr = add(pr, load(bias + j)); pz = add(pz, load(bias + gs + j)); }        \
    V r = sig(pr), z = sig(pz);                                                           \
    store(g + j, r); store(g + gs + j, z); store(s + j, mul(r, load(hm + j)));

#define RK_GRU_RB_UPDATE_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)        \
    V pn = load(g + 2 * gs + j), q = load(rec + j);                                       \
    if (bias) pn = add(pn, load(bias + 2 * gs + j));                                      \
    if (bhn) q = add(q, load(bhn + j));                                                   \
    V n = th(add(pn, q)), z = load(g + gs + j);                                           \
    store(g + 2 * gs + j, n);                                                             \
    store(h + j, fmadd(sub(one, z), n, mul(z, load(hprev + j))));

#define RK_GRU_RB_BACKWARD_NZ_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)   \
    V z = load(g + gs + j), n = load(g + 2 * gs + j), d = load(dh + j);                   \
    store(dg + 2 * gs + j, mul(mul(d, sub(one, z)), sub(one, mul(n, n))));                \
    store(dg + gs + j, mul(mul(mul(d, sub(load(hprev + j), n)), z), sub(one, z)));        \
    store(dh + j, mul(d, z));

#define RK_GRU_RB_BACKWARD_R_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)    \
    V r = load(g + j), e = load(ds + j);                                                  \
    store(dg + j, mul(mul(mul(e, load(hm + j)), r), sub(one, r)));                        \
    store(ds + j, mul(e, r));

// Zoneout and masks.
#define RK_ZONEOUT_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)              \
    V mk = load(mask + j);                                                                \
    store(cur + j, add(mul(mk, load(prev + j)), mul(sub(one, mk), load(cur + j))));

#define RK_ZONEOUT_BACKWARD_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)     \
    V mk = load(mask + j), d = load(grad + j);                                            \
    store(direct + j, mul(mk, d)); store(grad + j, mul(sub(one, mk), d));

#define RK_MUL_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)                  \
    store(y + j, mul(load(a + j), load(b + j)));

#define RK_MUL_ADD_BODY(V, load, store, sig, th, fmadd, mul, add, sub, one)              \
    store(y + j, add(load(y + j), mul(load(a + j), load(b + j))));

RK_VARIANT_KERNELS(lstm_peephole, RK_LSTM_PEEPHOLE_BODY,
                   (float *g, const float *bias, size_t gs, const float *p, float *c, float *tanhc, float *h, size_t count))
RK_VARIANT_KERNELS(lstm_peephole_backward, RK_LSTM_PEEPHOLE_BACKWARD_BODY,
                   (const float *g, size_t gs, const float *p, const float *tanhc, const float *cprev, const float *cnew,
                    const float *dh, float *dc, float *dg, float *dp, size_t count))
RK_VARIANT_KERNELS(gru_rb_gates, RK_GRU_RB_GATES_BODY,
                   (float *g, const float *bias, size_t gs, const float *hm, float *s, size_t count))
RK_VARIANT_KERNELS(gru_rb_update, RK_GRU_RB_UPDATE_BODY,
                   (float *g, const float *bias, size_t gs, const float *rec, const float *bhn, const float *hprev,
                    float *h, size_t count))
RK_VARIANT_KERNELS(gru_rb_backward_nz, RK_GRU_RB_BACKWARD_NZ_BODY,
                   (const float *g, size_t gs, const float *hprev, float *dh, float *dg, size_t count))
RK_VARIANT_KERNELS(gru_rb_backward_r, RK_GRU_RB_BACKWARD_R_BODY,
                   (const float *g, const float *hm, float *ds, float *dg, size_t count))
RK_VARIANT_KERNELS(zoneout, RK_ZONEOUT_BODY, (const float *prev, float *cur, const float *mask, size_t count))
RK_VARIANT_KERNELS(zoneout_backward, RK_ZONEOUT_BACKWARD_BODY, (const float *mask, float *grad, float *direct, size_t count))
RK_VARIANT_KERNELS(mul, RK_MUL_BODY, (const float *a, const float *b, float *y, size_t count))
RK_VARIANT_KERNELS(mul_add, RK_MUL_ADD_BODY, (const float *a, const float *b, float *y, size_t count))

void rk_lstm_peephole_cell_f32(float *g, const float *bias, size_t gs, const float *p, float *c, float *tanhc, float *h,
                               size_t count) {
    RK_VARIANT_DISPATCH(lstm_peephole, g, bias, gs, p, c, tanhc, h, count);
}

void rk_lstm_peephole_backward_f32(const float *g, size_t gs, const float *p, const float *tanhc, const float *cprev,
                                   const float *cnew, const float *dh, float *dc, float *dg, float *dp, size_t count) {
    RK_VARIANT_DISPATCH(lstm_peephole_backward, g, gs, p, tanhc, cprev, cnew, dh, dc, dg, dp, count);
}

void rk_gru_reset_before_gates_f32(float *g, const float *bias, size_t gs, const float *hm, float *s, size_t count) {
    RK_VARIANT_DISPATCH(gru_rb_gates, g, bias, gs, hm, s, count);
}

void rk_gru_reset_before_update_f32(float *g, const float *bias, size_t gs, const float *rec, const float *bhn,
                                    const float *hprev, float *h, size_t count) {
    RK_VARIANT_DISPATCH(gru_rb_update, g, bias, gs, rec, bhn, hprev, h, count);
}

void rk_gru_reset_before_backward_nz_f32(const float *g, size_t gs, const float *hprev, float *dh, float *dg, size_t count) {
    RK_VARIANT_DISPATCH(gru_rb_backward_nz, g, gs, hprev, dh, dg, count);
}

void rk_gru_reset_before_backward_r_f32(const float *g, const float *hm, float *ds, float *dg, size_t count) {
    RK_VARIANT_DISPATCH(gru_rb_backward_r, g, hm, ds, dg, count);
}

void rk_zoneout_f32(const float *prev, float *cur, const float *mask, size_t count) {
    RK_VARIANT_DISPATCH(zoneout, prev, cur, mask, count);
}

void rk_zoneout_backward_f32(const float *mask, float *grad, float *direct, size_t count) {
    RK_VARIANT_DISPATCH(zoneout_backward, mask, grad, direct, count);
}

void rk_mul_f32(const float *a, const float *b, float *y, size_t count) {
    RK_VARIANT_DISPATCH(mul, a, b, y, count);
}

void rk_mul_add_f32(const float *a, const float *b, float *y, size_t count) {
    RK_VARIANT_DISPATCH(mul_add, a, b, y, count);
}
