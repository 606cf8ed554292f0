// The row kernels of the layer-normalised LSTM and GRU (Ba, Kiros and Hinton 2016; PyTorch's
// reference `LayerNormLSTMCell` in benchmarks/fastrnns/custom_lstms.py): per batch row, the
// layer norm of the recurrent projection, the gates, (LSTM) the layer norm of the cell state,
// fused into one call, and their backward. A layer norm is a reduction across a row, so these
// kernels always take whole rows: a caller that splits work between threads splits rows, and
// every row's result is the same whichever thread computes it.
//
// AVX-512 (16 lanes), AVX2 + FMA (8 lanes) or portable code by rk_cpu_level(); they differ in
// the last bits (fused multiply-adds, the order of the row sums).
#ifndef RECURRENT_RK_LAYERNORM_CELLS_H
#define RECURRENT_RK_LAYERNORM_CELLS_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Normalises `rows` rows of `n` floats: xhat = (x − mean) · rstd with rstd = 1/√(var + eps)
/// (the biased variance, taken around the mean in a second pass), rstd[r] saved for the
/// backward. Rows are `ldx` and `ldxh` floats apart; `xhat` may equal `x` (same leading
/// dimension).
void rk_ln_normalize_rows_f32(size_t rows, size_t n, const float *x, size_t ldx, float *xhat, size_t ldxh,
                              float *rstd, float eps);

/// The input gradient of a layer norm over `rows` rows of `n`: with ĝ = dy · w,
/// dx = rstd · (ĝ − mean(ĝ) − xhat · mean(ĝ · xhat)) (written, not accumulated). `w` may be NULL
/// (ones).
void rk_ln_backward_rows_f32(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                             const float *rstd, const float *w, float *dx, size_t lddx);

/// The affine parameters' gradients of a layer norm, summed over `rows` rows in order:
/// gw[j] += Σ_r dy[r][j] · xhat[r][j], gb[j] += Σ_r dy[r][j] for j < n (`gw` or `gb` NULL: not
/// wanted). A caller splits columns between threads, never rows, so the sums do not depend
/// on the thread count.
void rk_ln_param_grads_f32(size_t rows, size_t n, const float *dy, size_t lddy, const float *xhat, size_t ldxh,
                           float *gw, float *gb);

/// Requests the `count` floats at `p` into the cache (for writing when `write` is nonzero),
/// one prefetch per cache line: a caller stepping through rows too far apart for the hardware
/// prefetchers (a batch-first sequence's items) names the next row while it computes this
/// one. Changes no value; a prefetch never faults, so `p` may be any address.
void rk_prefetch_f32(const float *p, size_t count, int write);

/// One row of a layer-normalised LSTM step over `H` hidden units (gates i, f, g, o):
/// `xi` is the normalised input projection (4H, before its affine `wi`, `bi`); `hh` holds
/// h_{t−1}·W_hhᵀ (4H) and is replaced by its normalisation (its 1/σ into `*rstdh`); the gates
/// (wi·xi + bi + wh·hh + bh) are activated into `g`; then ĉ = normalise(f·c + i·g) (into
/// `chat`, its 1/σ into `*rstdc`), c ← wc·ĉ + bc, tanhc ← tanh(c), h ← o·tanhc. Bias
/// pointers may be NULL (zeros). `c` is read as c_{t−1} and overwritten.
void rk_lnlstm_forward_row_f32(size_t H, const float *xi, const float *wi, const float *bi,
                               float *hh, float *rstdh, const float *wh, const float *bh,
                               float *g, float *c, float *chat, float *rstdc, const float *wc, const float *bc,
                               float *tanhc, float *h, float epsh, float epsc);

/// The backward of rk_lnlstm_forward_row_f32 for one row, all three layer norms included, from
/// the saved gates `g`, `hhat` (the normalised recurrent projection) and `rstdh`, `xhat` (the
/// normalised input projection) and `rstdi`, `chat` and `rstdc`, `tanhc`, `cprev` (c_{t−1}),
/// the gradient reaching h_t as `carry + dy` (from the next step and from the output; `dy` may
/// be NULL) and `dc` reaching c_t. Writes `dx` (4H: the gradient of the raw input projection
/// x·W_ihᵀ), `dhh` (4H: of the raw recurrent projection h_{t−1}·W_hhᵀ), replaces `dc` with
/// the gradient of c_{t−1}, and adds this row's share of the layer norms' parameter
/// gradients: `gwi` and `gwh` (4H, LN_i's and LN_h's weights), `gb` (4H, their shifts', the
/// same for both as their outputs are summed; NULL: not wanted), `gwc` and `gbc` (H, LN_c's;
/// `gbc` NULL: not wanted). A caller that adds several rows into the same sums adds them in
/// an order fixed by the shapes (not by the threads), so that the sums have the same bits.
/// `next`: how many rows on (of 4H or H floats, the row strides of every per-row argument
/// above) the row the caller will pass next lies, whose values are requested into the cache
/// meanwhile (0: none); it changes no result.
void rk_lnlstm_backward_row_f32(size_t H, const float *g, const float *hhat, float rstdh, const float *wh,
                                const float *xhat, float rstdi, const float *wi,
                                const float *chat, float rstdc, const float *wc, const float *tanhc, const float *cprev,
                                const float *carry, const float *dy, float *dc, float *dx, float *dhh,
                                float *gwi, float *gwh, float *gb, float *gwc, float *gbc, ptrdiff_t next);

/// One row of a layer-normalised GRU step over `H` units (gates r, z, n): `xi` is the
/// normalised input projection (3H, before `wi`, `bi`); `hh` holds h_{t−1}·W_hhᵀ (3H) and is
/// replaced by its normalisation (1/σ into `*rstdh`); with x = wi·xi + bi and y = wh·hh + bh:
/// r = σ(x_r + y_r), z = σ(x_z + y_z), n = tanh(x_n + r·y_n) into `g`, y_n into `hn`, and
/// h = (1 − z)·n + z·hprev. `h` must not overlap `hprev`.
void rk_lngru_forward_row_f32(size_t H, const float *xi, const float *wi, const float *bi,
                              float *hh, float *rstdh, const float *wh, const float *bh,
                              float *g, float *hn, const float *hprev, float *h, float epsh);

/// The backward of rk_lngru_forward_row_f32 for one row, from the saved `g`, `hn`, `hhat`,
/// `rstdh`, `hprev` and the gradient `dh` reaching h_t: writes `dgx` (of x, the input side
/// after its affine, 3H), `dgh` (of y, the recurrent side after its affine, 3H), `dhh` (of the
/// raw recurrent projection, 3H), and `dhprev` = dh·z (the direct part of h_{t−1}'s gradient).
void rk_lngru_backward_row_f32(size_t H, const float *g, const float *hn, const float *hhat, float rstdh,
                               const float *wh, const float *hprev, const float *dh, float *dhprev,
                               float *dgx, float *dgh, float *dhh);

#ifdef __cplusplus
}
#endif
#endif
