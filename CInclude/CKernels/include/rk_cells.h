// The elementwise part of one recurrent step, fused: one pass over a row's gates instead of
// one pass per activation and per update. AVX-512 or AVX2 + FMA by rk_cpu_level(); a scalar
// libm fallback elsewhere (LinearAlgebra keeps its portable Swift loops on such machines).
// The 8- and 16-lane kernels run the same instructions, so they give the same bits.
#ifndef RECURRENT_RK_CELLS_H
#define RECURRENT_RK_CELLS_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/// One LSTM row over `count` hidden units. `g` points at unit 0 of the input gate's
/// pre-activations; the forget, cell and output gates follow `gs` floats apart (i, f, g, o,
/// PyTorch's order; `gs` is the hidden size when `g` is a whole row); `bias` (NULL, or laid out
/// as the gates) is added first. In place: i, f, o ← σ(·), g ← tanh(·) (the backward reads
/// them); then c ← f·c + i·g,
/// tanhc ← tanh(c), h ← o·tanhc. `c`, `tanhc` and `h` hold `count` floats each and must not
/// overlap the gates or each other.
void rk_lstm_cell_f32(float *g, const float *bias, size_t gs, float *c, float *tanhc, float *h, size_t count);

/// One GRU row over `count` hidden units. `g` holds the input side (W_i x) for gates r, z, n,
/// `gs` floats apart, to which `bias` (NULL, or laid out as the gates: b_ir + b_hr,
/// b_iz + b_hz, b_in) is added first; `rec` the recurrent side
/// (W_h h) in the same layout; `bhn` the recurrent n-gate bias (`count` floats, or NULL).
/// In place: r, z ← σ(g + rec) (into g), rec_n ← rec_n + b_hn, n ← tanh(g_n + r·rec_n)
/// (into g_n), h ← (1 − z)·n + z·h.
void rk_gru_cell_f32(float *g, const float *bias, float *rec, size_t gs, const float *bhn, float *h, size_t count);

/// rk_lstm_cell_f32 over `rows` rows (the active rows of one step), each pointer advanced by
/// its leading dimension from row to row; before the update the old c goes into `cprev` and
/// after it h also into `out`, when those are not NULL. `bias` is the same for every row.
void rk_lstm_cell_rows_f32(size_t rows, size_t count, float *g, size_t ldg, const float *bias, size_t gs,
                           float *c, size_t ldc, float *cprev, size_t ldcp, float *tanhc, size_t ldt,
                           float *h, size_t ldh, float *out, size_t ldo);

/// rk_gru_cell_f32 over `rows` rows, each pointer advanced by its leading dimension: h starts
/// from `hprev` (copied unless it is `h`), then h also goes into `out` and the recurrent n
/// block (W_hn h + b_hn) into `hn`, when those are not NULL.
void rk_gru_cell_rows_f32(size_t rows, size_t count, float *g, size_t ldg, const float *bias, float *rec, size_t ldr,
                          size_t gs, const float *bhn, const float *hprev, size_t ldhp, float *h, size_t ldh,
                          float *out, size_t ldo, float *hn, size_t ldhn);

/// dst[r·ldd + j] = src[r·lds + j] for r < rows, j < count (no overlap).
void rk_copy_rows_f32(size_t rows, size_t count, const float *src, size_t lds, float *dst, size_t ldd);

/// The backward of one LSTM row over `count` units: from the saved activated gates `g`
/// (i, f, g, o, `gs` apart), `tanhc` = tanh(c_t), `cprev` = c_{t-1} and `dh` (the gradient
/// reaching h_t), writes the pre-activation gradients `dg` (the gates' layout) and
/// `dc ← dc_{t-1}` in place from dc_t. Multiplies and adds are not fused and run in the order
/// of FusedRecurrence's Swift loop, which gives the same bits.
void rk_lstm_backward_f32(const float *g, size_t gs, const float *tanhc, const float *cprev, const float *dh,
                          float *dc, float *dg, size_t count);

/// The backward of one GRU row over `count` units: from the saved activated gates `g` (r, z, n,
/// `gs` apart), `hn` = W_hn h + b_hn, `hprev` = h_{t-1} and `dh`, writes the input-side
/// gradients `dgx`, the recurrent-side ones `dgh` (they differ in the n block: dgh_n =
/// dgx_n·r), and `dh ← dh·z` in place. Not fused, as rk_lstm_backward_f32.
void rk_gru_backward_f32(const float *g, size_t gs, const float *hn, const float *hprev, float *dh,
                         float *dgx, float *dgh, size_t count);


/// One row of an LSTM with peepholes (ONNX `P`, TensorFlow `use_peepholes`) over `count`
/// units, as rk_lstm_cell_f32 with `p` (three rows `gs` floats apart: p_i, p_f, p_o):
/// i = σ(g_i + p_i·c), f = σ(g_f + p_f·c) with the old c, c ← f·c + i·g, o = σ(g_o + p_o·c)
/// with the new c, tanhc ← tanh(c), h ← o·tanhc. The gates are activated in place.
void rk_lstm_peephole_cell_f32(float *g, const float *bias, size_t gs, const float *p, float *c, float *tanhc, float *h,
                               size_t count);

/// The backward of rk_lstm_peephole_cell_f32: from the saved gates, `tanhc`, `cprev` (c_{t-1}),
/// `cnew` (c_t before any zoneout) and `dh`, writes `dg`, `dc ← dc_{t-1}` in place, and adds
/// the peephole gradients into `dp` (three rows `gs` apart).
void rk_lstm_peephole_backward_f32(const float *g, size_t gs, const float *p, const float *tanhc, const float *cprev,
                                   const float *cnew, const float *dh, float *dc, float *dg, float *dp, size_t count);

/// GRU with the reset gate before the recurrent product (ONNX linear_before_reset=0), first
/// half of a step: `g` holds W_i x + W_h h for r and z (`gs` apart; `bias`, laid out as the
/// gates, NULL or added first). In place r, z ← σ(·); then s ← r·hm (`hm`: the state as the
/// product reads it).
void rk_gru_reset_before_gates_f32(float *g, const float *bias, size_t gs, const float *hm, float *s, size_t count);

/// Second half: n ← tanh(g_n + bias_n + rec + bhn) into g_n, where rec = W_hn (r·h) (`bias`
/// laid out as the gates, its n block read; `bias` and `bhn` may be NULL), then
/// h ← (1 − z)·n + z·hprev.
void rk_gru_reset_before_update_f32(float *g, const float *bias, size_t gs, const float *rec, const float *bhn,
                                    const float *hprev, float *h, size_t count);

/// Backward, first half: from the saved gates (r, z, n), `hprev` and `dh`, writes dg_z, dg_n
/// (pre-activation gradients) and `dh ← dh·z` (the direct path to h_{t-1}).
void rk_gru_reset_before_backward_nz_f32(const float *g, size_t gs, const float *hprev, float *dh, float *dg, size_t count);

/// Backward, second half: from `ds` = dg_n·W_hn (the gradient reaching s = r·hm), writes
/// dg_r = ds·hm·r·(1 − r) and `ds ← ds·r` (the gradient reaching hm through s).
void rk_gru_reset_before_backward_r_f32(const float *g, const float *hm, float *ds, float *dg, size_t count);

/// Zoneout: cur ← mask·prev + (1 − mask)·cur.
void rk_zoneout_f32(const float *prev, float *cur, const float *mask, size_t count);

/// The backward of rk_zoneout_f32: direct ← mask·grad (the part reaching prev), grad ← (1 − mask)·grad.
void rk_zoneout_backward_f32(const float *mask, float *grad, float *direct, size_t count);

/// y ← a·b (y may be a or b).
void rk_mul_f32(const float *a, const float *b, float *y, size_t count);

/// y ← y + a·b.
void rk_mul_add_f32(const float *a, const float *b, float *y, size_t count);

#ifdef __cplusplus
}
#endif
#endif
