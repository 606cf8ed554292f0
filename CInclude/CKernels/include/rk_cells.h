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

#ifdef __cplusplus
}
#endif
#endif
