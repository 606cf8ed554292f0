// Row kernels of the layer-normalised LSTM and GRU; see include/rk_layernorm_cells.h.
//
// Each kernel is written once as an always-inline body of plain loops over a row, and
// instantiated twice: for baseline x86-64 (or any other CPU) and under
// `target("avx2,fma")`, where the compiler vectorises the same loops 8 lanes wide. The row
// sums run in eight partial sums (one vector register) added pairwise at the end. The
// activations are the library's vector kernels (rk_sigmoid_f32, rk_tanh_f32).
#include "rk_layernorm_cells.h"
#include "rk_elementwise.h"
#include "rk_vecmath.h"
#include <math.h>

#define RK_INLINE static inline __attribute__((always_inline))

/// Σ x[j], in eight partial sums.
RK_INLINE float row_sum(const float *x, size_t n) {
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) a[k] += x[j + k];
    float s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    for (; j < n; j++) s += x[j];
    return s;
}

/// Σ (x[j] − mu)², in eight partial sums.
RK_INLINE float row_squared_deviations(const float *x, size_t n, float mu) {
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int k = 0; k < 8; k++) { float d = x[j + k] - mu; a[k] += d * d; }
    float s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    for (; j < n; j++) { float d = x[j] - mu; s += d * d; }
    return s;
}

/// Σ dy[j]·w[j] and Σ dy[j]·w[j]·xhat[j] (w NULL: ones), in eight partial sums each.
RK_INLINE void row_backward_sums(const float *dy, const float *w, const float *xhat, size_t n, float *sg, float *sgx) {
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0}, b[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
    if (w) {
        for (; j + 8 <= n; j += 8)
            for (int k = 0; k < 8; k++) { float gh = dy[j + k] * w[j + k]; a[k] += gh; b[k] += gh * xhat[j + k]; }
    } else {
        for (; j + 8 <= n; j += 8)
            for (int k = 0; k < 8; k++) { float gh = dy[j + k]; a[k] += gh; b[k] += gh * xhat[j + k]; }
    }
    float s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
    float t = ((b[0] + b[4]) + (b[1] + b[5])) + ((b[2] + b[6]) + (b[3] + b[7]));
    for (; j < n; j++) { float gh = w ? dy[j] * w[j] : dy[j]; s += gh; t += gh * xhat[j]; }
    *sg = s;
    *sgx = t;
}

/// xhat = (x − mean)·rstd over one row; returns rstd.
RK_INLINE float normalize_row(const float *x, float *xhat, size_t n, float eps) {
    float nf = (float)(n > 0 ? n : 1);
    float mu = row_sum(x, n) / nf;
    float rstd = 1.0f / sqrtf(row_squared_deviations(x, n, mu) / nf + eps);
    for (size_t j = 0; j < n; j++) xhat[j] = (x[j] - mu) * rstd;
    return rstd;
}

/// dx = rstd·(dy·w − mean(dy·w) − xhat·mean(dy·w·xhat)) over one row.
RK_INLINE void ln_backward_row(const float *dy, const float *xhat, float rstd, const float *w, float *dx, size_t n) {
    float sg, sgx;
    row_backward_sums(dy, w, xhat, n, &sg, &sgx);
    float nf = (float)(n > 0 ? n : 1);
    float mg = sg / nf, mgx = sgx / nf;
    if (w) {
        for (size_t j = 0; j < n; j++) dx[j] = rstd * (dy[j] * w[j] - mg - xhat[j] * mgx);
    } else {
        for (size_t j = 0; j < n; j++) dx[j] = rstd * (dy[j] - mg - xhat[j] * mgx);
    }
}

/// out[j] = a[j]·wa[j] + b[j]·wb[j] (+ ba[j]) (+ bb[j]).
RK_INLINE void affine_sum(const float *a, const float *wa, const float *ba, const float *b, const float *wb,
                          const float *bb, float *out, size_t n) {
    if (ba && bb) {
        for (size_t j = 0; j < n; j++) out[j] = (a[j] * wa[j] + ba[j]) + (b[j] * wb[j] + bb[j]);
    } else if (ba) {
        for (size_t j = 0; j < n; j++) out[j] = (a[j] * wa[j] + ba[j]) + b[j] * wb[j];
    } else if (bb) {
        for (size_t j = 0; j < n; j++) out[j] = a[j] * wa[j] + (b[j] * wb[j] + bb[j]);
    } else {
        for (size_t j = 0; j < n; j++) out[j] = a[j] * wa[j] + b[j] * wb[j];
    }
}

/// out[j] = a[j]·w[j] (+ b[j]).
RK_INLINE void affine(const float *a, const float *w, const float *b, float *out, size_t n) {
    if (b) {
        for (size_t j = 0; j < n; j++) out[j] = a[j] * w[j] + b[j];
    } else {
        for (size_t j = 0; j < n; j++) out[j] = a[j] * w[j];
    }
}

// MARK: - Bodies

RK_INLINE void normalize_rows_body(size_t rows, size_t n, const float *x, size_t ldx, float *xhat, size_t ldxh,
                                   float *rstd, float eps) {
    for (size_t r = 0; r < rows; r++) rstd[r] = normalize_row(x + r * ldx, xhat + r * ldxh, n, eps);
}

RK_INLINE void backward_rows_body(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                                  const float *rstd, const float *w, float *dx, size_t lddx) {
    for (size_t r = 0; r < rows; r++) ln_backward_row(dy + r * lddy, xhat + r * ldxh, rstd[r], w, dx + r * lddx, n);
}

RK_INLINE void param_grads_body(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                                float *gw, float *gb) {
    for (size_t r = 0; r < rows; r++) {
        const float *d = dy + r * lddy, *x = xhat + r * ldxh;
        if (gw) for (size_t j = 0; j < n; j++) gw[j] += d[j] * x[j];
        if (gb) for (size_t j = 0; j < n; j++) gb[j] += d[j];
    }
}

RK_INLINE void lnlstm_forward_body(size_t H, const float *xi, const float *wi, const float *bi,
                                   float *hh, float *rstdh, const float *wh, const float *bh,
                                   float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc,
                                   float *tanhc, float *h, float epsh, float epsc) {
    size_t G = 4 * H;
    *rstdh = normalize_row(hh, hh, G, epsh);
    affine_sum(xi, wi, bi, hh, wh, bh, g, G);
    rk_sigmoid_f32(g, g, 2 * H);
    rk_tanh_f32(g + 2 * H, g + 2 * H, H);
    rk_sigmoid_f32(g + 3 * H, g + 3 * H, H);
    const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
    for (size_t j = 0; j < H; j++) chat[j] = gf[j] * c[j] + gi[j] * gg[j];
    *rstdc = normalize_row(chat, chat, H, epsc);
    affine(chat, wc, bc, c, H);
    rk_tanh_f32(c, tanhc, H);
    for (size_t j = 0; j < H; j++) h[j] = go[j] * tanhc[j];
}

RK_INLINE void lnlstm_backward_body(size_t H, const float *g, const float *hhat, float rstdh, const float *wh,
                                    const float *chat, float rstdc, const float *wc, const float *tanhc,
                                    const float *cprev, const float *dh, float *dc, float *dcpost, float *dg, float *dhh) {
    const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
    for (size_t j = 0; j < H; j++) dcpost[j] = dc[j] + dh[j] * go[j] * (1.0f - tanhc[j] * tanhc[j]);
    float sg, sgx;
    row_backward_sums(dcpost, wc, chat, H, &sg, &sgx);
    float nf = (float)(H > 0 ? H : 1);
    float mg = sg / nf, mgx = sgx / nf;
    for (size_t j = 0; j < H; j++) {
        float dcpre = rstdc * (dcpost[j] * wc[j] - mg - chat[j] * mgx);
        float i = gi[j], f = gf[j], c = gg[j], o = go[j];
        dg[j] = dcpre * c * (i * (1.0f - i));
        dg[H + j] = dcpre * cprev[j] * (f * (1.0f - f));
        dg[2 * H + j] = dcpre * i * (1.0f - c * c);
        dg[3 * H + j] = dh[j] * tanhc[j] * (o * (1.0f - o));
        dc[j] = dcpre * f;
    }
    ln_backward_row(dg, hhat, rstdh, wh, dhh, 4 * H);
}

RK_INLINE void lngru_forward_body(size_t H, const float *xi, const float *wi, const float *bi,
                                  float *hh, float *rstdh, const float *wh, const float *bh,
                                  float *g, float *hn, const float *hprev, float *h, float epsh) {
    *rstdh = normalize_row(hh, hh, 3 * H, epsh);
    affine_sum(xi, wi, bi, hh, wh, bh, g, 2 * H);
    affine(hh + 2 * H, wh + 2 * H, bh ? bh + 2 * H : 0, hn, H);
    affine(xi + 2 * H, wi + 2 * H, bi ? bi + 2 * H : 0, g + 2 * H, H);
    rk_sigmoid_f32(g, g, 2 * H);
    float *gn = g + 2 * H;
    const float *gr = g, *gz = g + H;
    for (size_t j = 0; j < H; j++) gn[j] = gn[j] + gr[j] * hn[j];
    rk_tanh_f32(gn, gn, H);
    for (size_t j = 0; j < H; j++) h[j] = (1.0f - gz[j]) * gn[j] + gz[j] * hprev[j];
}

RK_INLINE void lngru_backward_body(size_t H, const float *g, const float *hn, const float *hhat, float rstdh,
                                   const float *wh, const float *hprev, const float *dh, float *dhprev,
                                   float *dgx, float *dgh, float *dhh) {
    const float *gr = g, *gz = g + H, *gn = g + 2 * H;
    for (size_t j = 0; j < H; j++) {
        float r = gr[j], z = gz[j], n = gn[j], d = dh[j];
        float dpn = d * (1.0f - z) * (1.0f - n * n);
        float dr = dpn * hn[j] * (r * (1.0f - r));
        float dz = d * (hprev[j] - n) * (z * (1.0f - z));
        dgx[j] = dr; dgh[j] = dr;
        dgx[H + j] = dz; dgh[H + j] = dz;
        dgx[2 * H + j] = dpn; dgh[2 * H + j] = dpn * r;
        dhprev[j] = d * z;
    }
    ln_backward_row(dgh, hhat, rstdh, wh, dhh, 3 * H);
}

// MARK: - Instances and dispatch

#if RK_X86
RK_AVX2 static void normalize_rows_avx2(size_t rows, size_t n, const float *x, size_t ldx, float *xhat, size_t ldxh,
                                        float *rstd, float eps) {
    normalize_rows_body(rows, n, x, ldx, xhat, ldxh, rstd, eps);
}
RK_AVX2 static void backward_rows_avx2(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                                       const float *rstd, const float *w, float *dx, size_t lddx) {
    backward_rows_body(rows, n, dy, lddy, xhat, ldxh, rstd, w, dx, lddx);
}
RK_AVX2 static void param_grads_avx2(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                                     float *gw, float *gb) {
    param_grads_body(rows, n, dy, lddy, xhat, ldxh, gw, gb);
}
RK_AVX2 static void lnlstm_forward_avx2(size_t H, const float *xi, const float *wi, const float *bi,
                                        float *hh, float *rstdh, const float *wh, const float *bh,
                                        float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc,
                                        float *tanhc, float *h, float epsh, float epsc) {
    lnlstm_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, c, chat, rstdc, wc, bc, tanhc, h, epsh, epsc);
}
RK_AVX2 static void lnlstm_backward_avx2(size_t H, const float *g, const float *hhat, float rstdh, const float *wh,
                                         const float *chat, float rstdc, const float *wc, const float *tanhc,
                                         const float *cprev, const float *dh, float *dc, float *dcpost, float *dg, float *dhh) {
    lnlstm_backward_body(H, g, hhat, rstdh, wh, chat, rstdc, wc, tanhc, cprev, dh, dc, dcpost, dg, dhh);
}
RK_AVX2 static void lngru_forward_avx2(size_t H, const float *xi, const float *wi, const float *bi,
                                       float *hh, float *rstdh, const float *wh, const float *bh,
                                       float *g, float *hn, const float *hprev, float *h, float epsh) {
    lngru_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, hn, hprev, h, epsh);
}
RK_AVX2 static void lngru_backward_avx2(size_t H, const float *g, const float *hn, const float *hhat, float rstdh,
                                        const float *wh, const float *hprev, const float *dh, float *dhprev,
                                        float *dgx, float *dgh, float *dhh) {
    lngru_backward_body(H, g, hn, hhat, rstdh, wh, hprev, dh, dhprev, dgx, dgh, dhh);
}
#define RK_VECTOR (rk_cpu_level() >= 1)
#else
#define RK_VECTOR 0
#endif

void rk_ln_normalize_rows_f32(size_t rows, size_t n, const float *x, size_t ldx, float *xhat, size_t ldxh,
                              float *rstd, float eps) {
#if RK_X86
    if (RK_VECTOR) { normalize_rows_avx2(rows, n, x, ldx, xhat, ldxh, rstd, eps); return; }
#endif
    normalize_rows_body(rows, n, x, ldx, xhat, ldxh, rstd, eps);
}

void rk_ln_backward_rows_f32(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                             const float *rstd, const float *w, float *dx, size_t lddx) {
#if RK_X86
    if (RK_VECTOR) { backward_rows_avx2(rows, n, dy, lddy, xhat, ldxh, rstd, w, dx, lddx); return; }
#endif
    backward_rows_body(rows, n, dy, lddy, xhat, ldxh, rstd, w, dx, lddx);
}

void rk_ln_param_grads_f32(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                           float *gw, float *gb) {
#if RK_X86
    if (RK_VECTOR) { param_grads_avx2(rows, n, dy, lddy, xhat, ldxh, gw, gb); return; }
#endif
    param_grads_body(rows, n, dy, lddy, xhat, ldxh, gw, gb);
}

void rk_lnlstm_forward_row_f32(size_t H, const float *xi, const float *wi, const float *bi,
                               float *hh, float *rstdh, const float *wh, const float *bh,
                               float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc,
                               float *tanhc, float *h, float epsh, float epsc) {
#if RK_X86
    if (RK_VECTOR) { lnlstm_forward_avx2(H, xi, wi, bi, hh, rstdh, wh, bh, g, c, chat, rstdc, wc, bc, tanhc, h, epsh, epsc); return; }
#endif
    lnlstm_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, c, chat, rstdc, wc, bc, tanhc, h, epsh, epsc);
}

void rk_lnlstm_backward_row_f32(size_t H, const float *g, const float *hhat, float rstdh, const float *wh,
                                const float *chat, float rstdc, const float *wc, const float *tanhc,
                                const float *cprev, const float *dh, float *dc, float *dcpost, float *dg, float *dhh) {
#if RK_X86
    if (RK_VECTOR) { lnlstm_backward_avx2(H, g, hhat, rstdh, wh, chat, rstdc, wc, tanhc, cprev, dh, dc, dcpost, dg, dhh); return; }
#endif
    lnlstm_backward_body(H, g, hhat, rstdh, wh, chat, rstdc, wc, tanhc, cprev, dh, dc, dcpost, dg, dhh);
}

void rk_lngru_forward_row_f32(size_t H, const float *xi, const float *wi, const float *bi,
                              float *hh, float *rstdh, const float *wh, const float *bh,
                              float *g, float *hn, const float *hprev, float *h, float epsh) {
#if RK_X86
    if (RK_VECTOR) { lngru_forward_avx2(H, xi, wi, bi, hh, rstdh, wh, bh, g, hn, hprev, h, epsh); return; }
#endif
    lngru_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, hn, hprev, h, epsh);
}

void rk_lngru_backward_row_f32(size_t H, const float *g, const float *hn, const float *hhat, float rstdh,
                               const float *wh, const float *hprev, const float *dh, float *dhprev,
                               float *dgx, float *dgh, float *dhh) {
#if RK_X86
    if (RK_VECTOR) { lngru_backward_avx2(H, g, hn, hhat, rstdh, wh, hprev, dh, dhprev, dgx, dgh, dhh); return; }
#endif
    lngru_backward_body(H, g, hn, hhat, rstdh, wh, hprev, dh, dhprev, dgx, dgh, dhh);
}
