// Row kernels of the layer-normalised LSTM and GRU; see include/rk_layernorm_cells.h.
//
// Each kernel is written once, as an always-inline body over generic vectors
// (rk_layernorm_cells_body.h), and instantiated three times: 8 lanes wide for baseline x86-64
// (or any other CPU) and under `target("avx2,fma")` here, 16 lanes wide under AVX-512 in
// rk_layernorm_cells_avx512.c. The activations are the library's vector kernels
// (rk_sigmoid_f32, rk_tanh_f32).
#include "rk_layernorm_cells.h"
#include "rk_elementwise.h"
#include "rk_vecmath.h"
#include <math.h>

#define LN_W 8
#include "rk_layernorm_cells_body.h"

// MARK: - Instances and dispatch

#if RK_X86
LN_DEFINE_INSTANCES(RK_AVX2 static, _avx2)
// The AVX-512 instances (16 lanes), in rk_layernorm_cells_avx512.c.
LN_DECLARE_INSTANCES(_avx512_impl)
#define RK_VECTOR (rk_cpu_level() >= 1)
#define RK_VECTOR512 (rk_cpu_level() >= 2)
#else
#define RK_VECTOR 0
#define RK_VECTOR512 0
#endif

void rk_ln_normalize_rows_f32(size_t rows, size_t n, const float *x, size_t ldx, float *xhat, size_t ldxh,
                              float *rstd, float eps) {
#if RK_X86
    if (RK_VECTOR512) { normalize_rows_avx512_impl(rows, n, x, ldx, xhat, ldxh, rstd, eps); return; }
    if (RK_VECTOR) { normalize_rows_avx2(rows, n, x, ldx, xhat, ldxh, rstd, eps); return; }
#endif
    normalize_rows_body(rows, n, x, ldx, xhat, ldxh, rstd, eps);
}

void rk_ln_backward_rows_f32(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                             const float *rstd, const float *w, float *dx, size_t lddx) {
#if RK_X86
    if (RK_VECTOR512) { backward_rows_avx512_impl(rows, n, dy, lddy, xhat, ldxh, rstd, w, dx, lddx); return; }
    if (RK_VECTOR) { backward_rows_avx2(rows, n, dy, lddy, xhat, ldxh, rstd, w, dx, lddx); return; }
#endif
    backward_rows_body(rows, n, dy, lddy, xhat, ldxh, rstd, w, dx, lddx);
}

void rk_ln_param_grads_f32(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                           float *gw, float *gb) {
#if RK_X86
    if (RK_VECTOR512) { param_grads_avx512_impl(rows, n, dy, lddy, xhat, ldxh, gw, gb); return; }
    if (RK_VECTOR) { param_grads_avx2(rows, n, dy, lddy, xhat, ldxh, gw, gb); return; }
#endif
    param_grads_body(rows, n, dy, lddy, xhat, ldxh, gw, gb);
}

void rk_prefetch_f32(const float *p, size_t count, int write) {
    for (size_t j = 0; j < count; j += 16) {
        const void *line = (const void *)((uintptr_t)p + 4 * (uintptr_t)j);
        if (write) __builtin_prefetch(line, 1, 3);
        else __builtin_prefetch(line, 0, 3);
    }
}

void rk_lnlstm_forward_row_f32(size_t H, const float *xi, const float *wi, const float *bi,
                               float *hh, float *rstdh, const float *wh, const float *bh,
                               float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc,
                               float *tanhc, float *h, float epsh, float epsc) {
#if RK_X86
    if (RK_VECTOR512) { lnlstm_forward_avx512_impl(H, xi, wi, bi, hh, rstdh, wh, bh, g, c, chat, rstdc, wc, bc, tanhc, h, epsh, epsc); return; }
    if (RK_VECTOR) { lnlstm_forward_avx2(H, xi, wi, bi, hh, rstdh, wh, bh, g, c, chat, rstdc, wc, bc, tanhc, h, epsh, epsc); return; }
#endif
    lnlstm_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, c, chat, rstdc, wc, bc, tanhc, h, epsh, epsc);
}

void rk_lnlstm_backward_row_f32(size_t H, const float *g, const float *hhat, float rstdh, const float *wh,
                                const float *xhat, float rstdi, const float *wi,
                                const float *chat, float rstdc, const float *wc, const float *tanhc, const float *cprev,
                                const float *carry, const float *dy, float *dc, float *dx, float *dhh,
                                float *gwi, float *gwh, float *gb, float *gwc, float *gbc, ptrdiff_t next) {
#if RK_X86
    if (RK_VECTOR512) {
        lnlstm_backward_avx512_impl(H, g, hhat, rstdh, wh, xhat, rstdi, wi, chat, rstdc, wc, tanhc, cprev, carry, dy, dc, dx, dhh,
                                    gwi, gwh, gb, gwc, gbc, next);
        return;
    }
    if (RK_VECTOR) {
        lnlstm_backward_avx2(H, g, hhat, rstdh, wh, xhat, rstdi, wi, chat, rstdc, wc, tanhc, cprev, carry, dy, dc, dx, dhh,
                             gwi, gwh, gb, gwc, gbc, next);
        return;
    }
#endif
    lnlstm_backward_body(H, g, hhat, rstdh, wh, xhat, rstdi, wi, chat, rstdc, wc, tanhc, cprev, carry, dy, dc, dx, dhh,
                         gwi, gwh, gb, gwc, gbc, next);
}

void rk_lngru_forward_row_f32(size_t H, const float *xi, const float *wi, const float *bi,
                              float *hh, float *rstdh, const float *wh, const float *bh,
                              float *g, float *hn, const float *hprev, float *h, float epsh) {
#if RK_X86
    if (RK_VECTOR512) { lngru_forward_avx512_impl(H, xi, wi, bi, hh, rstdh, wh, bh, g, hn, hprev, h, epsh); return; }
    if (RK_VECTOR) { lngru_forward_avx2(H, xi, wi, bi, hh, rstdh, wh, bh, g, hn, hprev, h, epsh); return; }
#endif
    lngru_forward_body(H, xi, wi, bi, hh, rstdh, wh, bh, g, hn, hprev, h, epsh);
}

void rk_lngru_backward_row_f32(size_t H, const float *g, const float *hn, const float *hhat, float rstdh,
                               const float *wh, const float *hprev, const float *dh, float *dhprev,
                               float *dgx, float *dgh, float *dhh) {
#if RK_X86
    if (RK_VECTOR512) { lngru_backward_avx512_impl(H, g, hn, hhat, rstdh, wh, hprev, dh, dhprev, dgx, dgh, dhh); return; }
    if (RK_VECTOR) { lngru_backward_avx2(H, g, hn, hhat, rstdh, wh, hprev, dh, dhprev, dgx, dgh, dhh); return; }
#endif
    lngru_backward_body(H, g, hn, hhat, rstdh, wh, hprev, dh, dhprev, dgx, dgh, dhh);
}
