// Private to CKernels: the always-inline bodies of the layer-normalised cells' row kernels
// (rk_layernorm_cells.c), written once over generic vectors of LN_W floats, which the
// including file defines (8 or 16) before including this file; each including file then
// instantiates the bodies under the target attributes it wants.
#ifndef LN_W
#error "define LN_W (the vector width in floats) before including rk_layernorm_cells_body.h"
#endif
#include "rk_elementwise.h"
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define RK_INLINE static inline __attribute__((always_inline))

// LN_W floats as one generic vector (LN_W = 8: one AVX register in the AVX2 instances, two
// SSE ones elsewhere; 16: one AVX-512 register); `aligned(4)`: loads and stores need no
// alignment. Only used inside the always-inline bodies, never across a call.
typedef float v8 __attribute__((vector_size(4 * LN_W), aligned(4)));
#define LD(p) (*(const v8 *)(const void *)(p))
#define ST(p, v) (*(v8 *)(void *)(p) = (v))
#define SPLAT(x) ((v8){0} + (x))

/// The LN_W floats at `lanes` added pairwise (halves, then quarters, …).
RK_INLINE float hsum_lanes(const float *lanes) {
    float t[LN_W];
    for (int k = 0; k < LN_W; k++) t[k] = lanes[k];
    for (int w = LN_W / 2; w >= 1; w /= 2)
        for (int k = 0; k < w; k++) t[k] = t[k] + t[k + w];
    return t[0];
}
/// The lanes of a vector added pairwise (through memory: no vector crosses a call).
#define HSUM(a) __extension__({ v8 hsum_v = (a); hsum_lanes((const float *)&hsum_v); })

// The row sums run in four independent vector accumulators (4·LN_W floats a round), so that
// the additions' latency overlaps, then added pairwise.
#define SUM4(a0, a1, a2, a3) HSUM(((a0) + (a1)) + ((a2) + (a3)))

/// Σ x[j].
RK_INLINE float row_sum(const float *x, size_t n) {
    v8 a0 = SPLAT(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 4 * LN_W <= n; j += 4 * LN_W) {
        a0 += LD(x + j); a1 += LD(x + j + LN_W); a2 += LD(x + j + 2 * LN_W); a3 += LD(x + j + 3 * LN_W);
    }
    for (; j + LN_W <= n; j += LN_W) a0 += LD(x + j);
    float s = SUM4(a0, a1, a2, a3);
    for (; j < n; j++) s += x[j];
    return s;
}

/// Σ (x[j] − mu)².
RK_INLINE float row_squared_deviations(const float *x, size_t n, float mu) {
    v8 a0 = SPLAT(0.0f), a1 = a0, a2 = a0, a3 = a0, m = SPLAT(mu);
    size_t j = 0;
    for (; j + 4 * LN_W <= n; j += 4 * LN_W) {
        v8 d0 = LD(x + j) - m, d1 = LD(x + j + LN_W) - m, d2 = LD(x + j + 2 * LN_W) - m, d3 = LD(x + j + 3 * LN_W) - m;
        a0 += d0 * d0; a1 += d1 * d1; a2 += d2 * d2; a3 += d3 * d3;
    }
    for (; j + LN_W <= n; j += LN_W) { v8 d = LD(x + j) - m; a0 += d * d; }
    float s = SUM4(a0, a1, a2, a3);
    for (; j < n; j++) { float d = x[j] - mu; s += d * d; }
    return s;
}

/// Σ dy[j]·w[j] and Σ dy[j]·w[j]·xhat[j] (w NULL: ones).
RK_INLINE void row_backward_sums(const float *dy, const float *w, const float *xhat, size_t n, float *sg, float *sgx) {
    v8 a0 = SPLAT(0.0f), a1 = a0, a2 = a0, a3 = a0, b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    size_t j = 0;
#define RK_BSUM(k, a, b) { v8 gh = w ? LD(dy + j + k) * LD(w + j + k) : LD(dy + j + k); a += gh; b += gh * LD(xhat + j + k); }
    for (; j + 4 * LN_W <= n; j += 4 * LN_W) { RK_BSUM(0, a0, b0) RK_BSUM(LN_W, a1, b1) RK_BSUM(2 * LN_W, a2, b2) RK_BSUM(3 * LN_W, a3, b3) }
    for (; j + LN_W <= n; j += LN_W) RK_BSUM(0, a0, b0)
#undef RK_BSUM
    float s = SUM4(a0, a1, a2, a3), t = SUM4(b0, b1, b2, b3);
    for (; j < n; j++) { float gh = w ? dy[j] * w[j] : dy[j]; s += gh; t += gh * xhat[j]; }
    *sg = s;
    *sgx = t;
}

/// The mean and 1/√(var + eps) of one row.
RK_INLINE void row_statistics(const float *x, size_t n, float eps, float *mu, float *rstd) {
    float nf = (float)(n > 0 ? n : 1);
    float m = row_sum(x, n) / nf;
    *mu = m;
    *rstd = 1.0f / sqrtf(row_squared_deviations(x, n, m) / nf + eps);
}

/// In one pass: hh ← (hh − mu)·rstd (normalised in place) and
/// out = (xi·wi + bi) + (hh·wh + bh), a missing shift read as 0.
RK_INLINE void normalize_affine_sum(float *hh, float mu, float rstd, const float *xi, const float *wi, const float *bi,
                                    const float *wh, const float *bh, float *out, size_t n) {
    v8 m = SPLAT(mu), r = SPLAT(rstd);
    size_t j = 0;
    if (bi && bh) {
        for (; j + LN_W <= n; j += LN_W) {
            v8 y = (LD(hh + j) - m) * r;
            ST(hh + j, y);
            ST(out + j, (LD(xi + j) * LD(wi + j) + LD(bi + j)) + (y * LD(wh + j) + LD(bh + j)));
        }
    } else if (!bi && !bh) {
        for (; j + LN_W <= n; j += LN_W) {
            v8 y = (LD(hh + j) - m) * r;
            ST(hh + j, y);
            ST(out + j, LD(xi + j) * LD(wi + j) + y * LD(wh + j));
        }
    }
    for (; j < n; j++) {
        float y = (hh[j] - mu) * rstd;
        hh[j] = y;
        out[j] = (xi[j] * wi[j] + (bi ? bi[j] : 0.0f)) + (y * wh[j] + (bh ? bh[j] : 0.0f));
    }
}

/// In one pass: xhat ← (x − mu)·rstd (in place) and out = xhat·w + b (b NULL: no shift).
RK_INLINE void normalize_affine(float *x, float mu, float rstd, const float *w, const float *b, float *out, size_t n) {
    v8 m = SPLAT(mu), r = SPLAT(rstd);
    size_t j = 0;
    if (b) {
        for (; j + LN_W <= n; j += LN_W) { v8 y = (LD(x + j) - m) * r; ST(x + j, y); ST(out + j, y * LD(w + j) + LD(b + j)); }
    } else {
        for (; j + LN_W <= n; j += LN_W) { v8 y = (LD(x + j) - m) * r; ST(x + j, y); ST(out + j, y * LD(w + j)); }
    }
    for (; j < n; j++) { float y = (x[j] - mu) * rstd; x[j] = y; out[j] = b ? y * w[j] + b[j] : y * w[j]; }
}

/// xhat = (x − mean)·rstd over one row; returns rstd.
RK_INLINE float normalize_row(const float *x, float *xhat, size_t n, float eps) {
    float nf = (float)(n > 0 ? n : 1);
    float mu = row_sum(x, n) / nf;
    float rstd = 1.0f / sqrtf(row_squared_deviations(x, n, mu) / nf + eps);
    v8 m = SPLAT(mu), r = SPLAT(rstd);
    size_t j = 0;
    for (; j + LN_W <= n; j += LN_W) ST(xhat + j, (LD(x + j) - m) * r);
    for (; j < n; j++) xhat[j] = (x[j] - mu) * rstd;
    return rstd;
}

/// dx = rstd·(dy·w − mean(dy·w) − xhat·mean(dy·w·xhat)) over one row (dx may be dy).
RK_INLINE void ln_backward_row(const float *dy, const float *xhat, float rstd, const float *w, float *dx, size_t n) {
    float sg, sgx;
    row_backward_sums(dy, w, xhat, n, &sg, &sgx);
    float nf = (float)(n > 0 ? n : 1);
    float mg = sg / nf, mgx = sgx / nf;
    v8 r = SPLAT(rstd), vg = SPLAT(mg), vgx = SPLAT(mgx);
    size_t j = 0;
    if (w) {
        for (; j + LN_W <= n; j += LN_W) ST(dx + j, r * (LD(dy + j) * LD(w + j) - vg - LD(xhat + j) * vgx));
        for (; j < n; j++) dx[j] = rstd * (dy[j] * w[j] - mg - xhat[j] * mgx);
    } else {
        for (; j + LN_W <= n; j += LN_W) ST(dx + j, r * (LD(dy + j) - vg - LD(xhat + j) * vgx));
        for (; j < n; j++) dx[j] = rstd * (dy[j] - mg - xhat[j] * mgx);
    }
}

/// out[j] = (a[j]·wa[j] + ba[j]) + (b[j]·wb[j] + bb[j]), a missing shift read as 0.
RK_INLINE void affine_sum(const float *a, const float *wa, const float *ba, const float *b, const float *wb,
                          const float *bb, float *out, size_t n) {
    size_t j = 0;
    if (ba && bb) {
        for (; j + LN_W <= n; j += LN_W) ST(out + j, (LD(a + j) * LD(wa + j) + LD(ba + j)) + (LD(b + j) * LD(wb + j) + LD(bb + j)));
    } else if (!ba && !bb) {
        for (; j + LN_W <= n; j += LN_W) ST(out + j, LD(a + j) * LD(wa + j) + LD(b + j) * LD(wb + j));
    }
    for (; j < n; j++) out[j] = (a[j] * wa[j] + (ba ? ba[j] : 0.0f)) + (b[j] * wb[j] + (bb ? bb[j] : 0.0f));
}

/// out[j] = a[j]·w[j] + b[j] (b NULL: no shift).
RK_INLINE void affine(const float *a, const float *w, const float *b, float *out, size_t n) {
    size_t j = 0;
    if (b) {
        for (; j + LN_W <= n; j += LN_W) ST(out + j, LD(a + j) * LD(w + j) + LD(b + j));
    } else {
        for (; j + LN_W <= n; j += LN_W) ST(out + j, LD(a + j) * LD(w + j));
    }
    for (; j < n; j++) out[j] = b ? a[j] * w[j] + b[j] : a[j] * w[j];
}

/// Requests into the cache (for writing when `write`) the line holding the float `offset`
/// floats from `p`: a line of the next row a caller will process, whose rows are too far apart
/// (a batch-first sequence's items) for the hardware prefetchers. A prefetch never faults, so
/// the address may lie anywhere (it is formed as an integer).
RK_INLINE void prefetch_ahead(const float *p, ptrdiff_t offset, int write) {
    const void *line = (const void *)((uintptr_t)p + (uintptr_t)offset * sizeof(float));
    if (write) __builtin_prefetch(line, 1, 3);
    else __builtin_prefetch(line, 0, 3);
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
        size_t j = 0;
        if (gw) {
            for (; j + LN_W <= n; j += LN_W) ST(gw + j, LD(gw + j) + LD(d + j) * LD(x + j));
            for (; j < n; j++) gw[j] += d[j] * x[j];
        }
        if (gb) {
            for (j = 0; j + LN_W <= n; j += LN_W) ST(gb + j, LD(gb + j) + LD(d + j));
            for (; j < n; j++) gb[j] += d[j];
        }
    }
}

RK_INLINE void lnlstm_forward_body(size_t H, const float *xi, const float *wi, const float *bi,
                                   float *hh, float *rstdh, const float *wh, const float *bh,
                                   float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc,
                                   float *tanhc, float *h, float epsh, float epsc) {
    size_t G = 4 * H;
    float mu;
    row_statistics(hh, G, epsh, &mu, rstdh);
    normalize_affine_sum(hh, mu, *rstdh, xi, wi, bi, wh, bh, g, G);
    rk_sigmoid_f32(g, g, 2 * H);
    rk_tanh_f32(g + 2 * H, g + 2 * H, H);
    rk_sigmoid_f32(g + 3 * H, g + 3 * H, H);
    const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
    size_t j = 0;
    for (; j + LN_W <= H; j += LN_W) ST(chat + j, LD(gf + j) * LD(c + j) + LD(gi + j) * LD(gg + j));
    for (; j < H; j++) chat[j] = gf[j] * c[j] + gi[j] * gg[j];
    row_statistics(chat, H, epsc, &mu, rstdc);
    normalize_affine(chat, mu, *rstdc, wc, bc, c, H);
    rk_tanh_f32(c, tanhc, H);
    for (j = 0; j + LN_W <= H; j += LN_W) ST(h + j, LD(go + j) * LD(tanhc + j));
    for (; j < H; j++) h[j] = go[j] * tanhc[j];
}

/// dh[j] = carry[j] + dy[j] (dy NULL: carry alone), the same bits wherever it is read.
#define LN_DH(j) (dy ? LD(carry + (j)) + LD(dy + (j)) : LD(carry + (j)))
#define LN_DH1(j) (dy ? carry[j] + dy[j] : carry[j])

RK_INLINE void lnlstm_backward_body(size_t H, const float *g, const float *hhat, float rstdh, const float *wh,
                                    const float *xhat, float rstdi, const float *wi,
                                    const float *chat, float rstdc, const float *wc, const float *tanhc,
                                    const float *cprev, const float *carry, const float *dy, float *dc,
                                    float *dx, float *dhh, float *gwi, float *gwh, float *gb, float *gwc, float *gbc,
                                    ptrdiff_t next) {
    const float *gi = g, *gf = g + H, *gg = g + 2 * H, *go = g + 3 * H;
    const v8 one = SPLAT(1.0f), zero = SPLAT(0.0f);
    // The next row's saved values and the rows it writes are requested while this one
    // computes, a line of each array per line this row reads (passes 2 and 3): spread out,
    // not asked for at once at the start (a burst of 160 requests stalled on the miss buffers;
    // spreading them took 4-5 % off ln-lstm-medium's training step).
    size_t j = 0;
    // Pass 1 over the cell: dcpost (the gradient of c_t) replaces dc; LN_c's sums
    // Σ ĝ and Σ ĝ·ĉ (ĝ = dcpost·wc) and its parameters' gradients on the way.
    v8 a0 = zero, b0 = zero;
    for (; j + LN_W <= H; j += LN_W) {
        v8 t = LD(tanhc + j), ch = LD(chat + j);
        v8 d = LD(dc + j) + LN_DH(j) * LD(go + j) * (one - t * t);
        ST(dc + j, d);
        v8 gh = d * LD(wc + j);
        a0 += gh; b0 += gh * ch;
        ST(gwc + j, LD(gwc + j) + d * ch);
        if (gbc) ST(gbc + j, LD(gbc + j) + d);
    }
    float sg = HSUM(a0), sgx = HSUM(b0);
    for (; j < H; j++) {
        float d = dc[j] + LN_DH1(j) * go[j] * (1.0f - tanhc[j] * tanhc[j]);
        dc[j] = d;
        float gh = d * wc[j];
        sg += gh; sgx += gh * chat[j];
        gwc[j] += d * chat[j];
        if (gbc) gbc[j] += d;
    }
    float nf = (float)(H > 0 ? H : 1);
    float mg = sg / nf, mgx = sgx / nf;
    // Pass 2: the gate gradients dg (into dx) and dc ← the gradient of c_{t−1}; on the way the
    // sums of LN_h (ĝ = dg·wh, against ĥ) and of LN_i (ĝ = dg·wi, against x̂), one lane set
    // per gate block.
    const v8 vr = SPLAT(rstdc), vg = SPLAT(mg), vgx = SPLAT(mgx);
    v8 s0 = zero, s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
    v8 u0 = zero, u1 = u0, u2 = u0, u3 = u0, w0 = u0, w1 = u0, w2 = u0, w3 = u0;
#define RK_GSUM(k, d, sa, sb, ua, wa) { \
        v8 gh = (d) * LD(wh + (k) * H + j); sa += gh; sb += gh * LD(hhat + (k) * H + j); \
        v8 gi_ = (d) * LD(wi + (k) * H + j); ua += gi_; wa += gi_ * LD(xhat + (k) * H + j); }
    for (j = 0; j + LN_W <= H; j += LN_W) {
        if (next != 0 && (j & 15) == 0) {   // the next row's cell-wide rows
            const ptrdiff_t ahead = next * (ptrdiff_t)H + (ptrdiff_t)j;
            if (dy) prefetch_ahead(dy, ahead, 0);
            prefetch_ahead(tanhc, ahead, 0);
            prefetch_ahead(chat, ahead, 0);
            prefetch_ahead(cprev, ahead, 0);
        }
        v8 dcpre = vr * (LD(dc + j) * LD(wc + j) - vg - LD(chat + j) * vgx);
        v8 i = LD(gi + j), f = LD(gf + j), c = LD(gg + j), o = LD(go + j);
        v8 d0 = dcpre * c * (i * (one - i));
        v8 d1 = dcpre * LD(cprev + j) * (f * (one - f));
        v8 d2 = dcpre * i * (one - c * c);
        v8 d3 = LN_DH(j) * LD(tanhc + j) * (o * (one - o));
        ST(dx + j, d0); ST(dx + H + j, d1); ST(dx + 2 * H + j, d2); ST(dx + 3 * H + j, d3);
        ST(dc + j, dcpre * f);
        RK_GSUM(0, d0, s0, t0, u0, w0) RK_GSUM(1, d1, s1, t1, u1, w1) RK_GSUM(2, d2, s2, t2, u2, w2) RK_GSUM(3, d3, s3, t3, u3, w3)
    }
#undef RK_GSUM
    float sh = SUM4(s0, s1, s2, s3), shx = SUM4(t0, t1, t2, t3);
    float si = SUM4(u0, u1, u2, u3), six = SUM4(w0, w1, w2, w3);
    for (; j < H; j++) {
        float dcpre = rstdc * (dc[j] * wc[j] - mg - chat[j] * mgx);
        float i = gi[j], f = gf[j], c = gg[j], o = go[j];
        dx[j] = dcpre * c * (i * (1.0f - i));
        dx[H + j] = dcpre * cprev[j] * (f * (1.0f - f));
        dx[2 * H + j] = dcpre * i * (1.0f - c * c);
        dx[3 * H + j] = LN_DH1(j) * tanhc[j] * (o * (1.0f - o));
        dc[j] = dcpre * f;
        for (int k = 0; k < 4; k++) {
            float d = dx[k * H + j];
            float gh = d * wh[k * H + j], gi_ = d * wi[k * H + j];
            sh += gh; shx += gh * hhat[k * H + j];
            si += gi_; six += gi_ * xhat[k * H + j];
        }
    }
    // Pass 3 over the gates: the two layer norms' parameter gradients (the shifts' one sum:
    // their outputs are summed), then their input gradients, dx in place of dg.
    size_t G = 4 * H;
    float ng = (float)(G > 0 ? G : 1);
    float mh = sh / ng, mhx = shx / ng, mi = si / ng, mix = six / ng;
    const v8 rh = SPLAT(rstdh), vh = SPLAT(mh), vhx = SPLAT(mhx);
    const v8 ri = SPLAT(rstdi), vi = SPLAT(mi), vix = SPLAT(mix);
    for (j = 0; j + LN_W <= G; j += LN_W) {
        if (next != 0 && (j & 15) == 0) {   // the next row's gate-wide rows
            const ptrdiff_t ahead = next * (ptrdiff_t)G + (ptrdiff_t)j;
            prefetch_ahead(g, ahead, 0);
            prefetch_ahead(hhat, ahead, 0);
            prefetch_ahead(xhat, ahead, 0);
            prefetch_ahead(dx, ahead, 1);
            prefetch_ahead(dhh, ahead, 1);
        }
        v8 d = LD(dx + j), hx = LD(hhat + j), xx = LD(xhat + j);
        ST(gwh + j, LD(gwh + j) + d * hx);
        ST(gwi + j, LD(gwi + j) + d * xx);
        if (gb) ST(gb + j, LD(gb + j) + d);
        ST(dhh + j, rh * (d * LD(wh + j) - vh - hx * vhx));
        ST(dx + j, ri * (d * LD(wi + j) - vi - xx * vix));
    }
    for (; j < G; j++) {
        float d = dx[j];
        gwh[j] += d * hhat[j];
        gwi[j] += d * xhat[j];
        if (gb) gb[j] += d;
        dhh[j] = rstdh * (d * wh[j] - mh - hhat[j] * mhx);
        dx[j] = rstdi * (d * wi[j] - mi - xhat[j] * mix);
    }
}
#undef LN_DH
#undef LN_DH1

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
    const v8 one = SPLAT(1.0f);
    size_t j = 0;
    for (; j + LN_W <= H; j += LN_W) ST(gn + j, LD(gn + j) + LD(gr + j) * LD(hn + j));
    for (; j < H; j++) gn[j] = gn[j] + gr[j] * hn[j];
    rk_tanh_f32(gn, gn, H);
    for (j = 0; j + LN_W <= H; j += LN_W) {
        v8 z = LD(gz + j);
        ST(h + j, (one - z) * LD(gn + j) + z * LD(hprev + j));
    }
    for (; j < H; j++) h[j] = (1.0f - gz[j]) * gn[j] + gz[j] * hprev[j];
}

RK_INLINE void lngru_backward_body(size_t H, const float *g, const float *hn, const float *hhat, float rstdh,
                                   const float *wh, const float *hprev, const float *dh, float *dhprev,
                                   float *dgx, float *dgh, float *dhh) {
    const float *gr = g, *gz = g + H, *gn = g + 2 * H;
    const v8 one = SPLAT(1.0f);
    size_t j = 0;
    for (; j + LN_W <= H; j += LN_W) {
        v8 r = LD(gr + j), z = LD(gz + j), n = LD(gn + j), d = LD(dh + j);
        v8 dpn = d * (one - z) * (one - n * n);
        v8 dr = dpn * LD(hn + j) * (r * (one - r));
        v8 dz = d * (LD(hprev + j) - n) * (z * (one - z));
        ST(dgx + j, dr); ST(dgh + j, dr);
        ST(dgx + H + j, dz); ST(dgh + H + j, dz);
        ST(dgx + 2 * H + j, dpn); ST(dgh + 2 * H + j, dpn * r);
        ST(dhprev + j, d * z);
    }
    for (; j < H; j++) {
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


// MARK: - Instances

/// Defines the seven kernels' instances `name##SUFFIX`, each its body under the attributes
/// `ATTR` (a target and a linkage), and declares them with LN_DECLARE_INSTANCES.
#define LN_DEFINE_INSTANCES(ATTR, SUFFIX) \
ATTR void normalize_rows##SUFFIX(size_t rows, size_t n, const float *x, size_t ldx, float *xhat, size_t ldxh, \
                                        float *rstd, float eps) { \
    normalize_rows_body(rows, n, x, ldx, xhat, ldxh, rstd, eps); \
} \
ATTR void backward_rows##SUFFIX(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh, \
                                       const float *rstd, const float *w, float *dx, size_t lddx) { \
    backward_rows_body(rows, n, dy, lddy, xhat, ldxh, rstd, w, dx, lddx); \
} \
ATTR void param_grads##SUFFIX(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh, \
                                     float *gw, float *gb) { \
    param_grads_body(rows, n, dy, lddy, xhat, ldxh, gw, gb); \
} \
ATTR void lnlstm_forward##SUFFIX(size_t H, const float *xi, const float *wi, const float *bi, \
                                        float *hh, float *rstdh, const float *wh, const float *bh, \
                                        float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc, \
                                        float *tanhc, float *h, float epsh, float epsc) { \
    lnlstm_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, c, chat, rstdc, wc, bc, tanhc, h, epsh, epsc); \
} \
ATTR void lnlstm_backward##SUFFIX(size_t H, const float *g, const float *hhat, float rstdh, const float *wh, \
                                         const float *xhat, float rstdi, const float *wi, \
                                         const float *chat, float rstdc, const float *wc, const float *tanhc, \
                                         const float *cprev, const float *carry, const float *dy, float *dc, float *dx, \
                                         float *dhh, float *gwi, float *gwh, float *gb, float *gwc, float *gbc, ptrdiff_t next) { \
    lnlstm_backward_body(H, g, hhat, rstdh, wh, xhat, rstdi, wi, chat, rstdc, wc, tanhc, cprev, carry, dy, dc, dx, dhh, \
                         gwi, gwh, gb, gwc, gbc, next); \
} \
ATTR void lngru_forward##SUFFIX(size_t H, const float *xi, const float *wi, const float *bi, \
                                       float *hh, float *rstdh, const float *wh, const float *bh, \
                                       float *g, float *hn, const float *hprev, float *h, float epsh) { \
    lngru_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, hn, hprev, h, epsh); \
} \
ATTR void lngru_backward##SUFFIX(size_t H, const float *g, const float *hn, const float *hhat, float rstdh, \
                                        const float *wh, const float *hprev, const float *dh, float *dhprev, \
                                        float *dgx, float *dgh, float *dhh) { \
    lngru_backward_body(H, g, hn, hhat, rstdh, wh, hprev, dh, dhprev, dgx, dgh, dhh); \
}

/// Declares the instances LN_DEFINE_INSTANCES(ATTR, SUFFIX) defines elsewhere.
#define LN_DECLARE_INSTANCES(SUFFIX) \
void normalize_rows##SUFFIX(size_t rows, size_t n, const float *x, size_t ldx, float *xhat, size_t ldxh, float *rstd, float eps); \
void backward_rows##SUFFIX(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh, const float *rstd, const float *w, float *dx, size_t lddx); \
void param_grads##SUFFIX(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh, float *gw, float *gb); \
void lnlstm_forward##SUFFIX(size_t H, const float *xi, const float *wi, const float *bi, float *hh, float *rstdh, const float *wh, const float *bh, float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc, float *tanhc, float *h, float epsh, float epsc); \
void lnlstm_backward##SUFFIX(size_t H, const float *g, const float *hhat, float rstdh, const float *wh, const float *xhat, float rstdi, const float *wi, const float *chat, float rstdc, const float *wc, const float *tanhc, const float *cprev, const float *carry, const float *dy, float *dc, float *dx, float *dhh, float *gwi, float *gwh, float *gb, float *gwc, float *gbc, ptrdiff_t next); \
void lngru_forward##SUFFIX(size_t H, const float *xi, const float *wi, const float *bi, float *hh, float *rstdh, const float *wh, const float *bh, float *g, float *hn, const float *hprev, float *h, float epsh); \
void lngru_backward##SUFFIX(size_t H, const float *g, const float *hn, const float *hhat, float rstdh, const float *wh, const float *hprev, const float *dh, float *dhprev, float *dgx, float *dgh, float *dhh);
