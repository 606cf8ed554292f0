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
/// PyTorch's order; `gs` is the hidden size when `g` is a whole row). In place:
/// i, f, o ← σ(·), g ← tanh(·) (the backward reads them); then c ← f·c + i·g,
/// tanhc ← tanh(c), h ← o·tanhc. `c`, `tanhc` and `h` hold `count` floats each and must not
/// overlap the gates or each other.
void rk_lstm_cell_f32(float *g, size_t gs, float *c, float *tanhc, float *h, size_t count);

/// One GRU row over `count` hidden units. `g` holds the input side (W_i x + b_i, with b_hr
/// and b_hz folded in) for gates r, z, n, `gs` floats apart; `rec` the recurrent side
/// (W_h h) in the same layout; `bhn` the recurrent n-gate bias (`count` floats, or NULL).
/// In place: r, z ← σ(g + rec) (into g), rec_n ← rec_n + b_hn, n ← tanh(g_n + r·rec_n)
/// (into g_n), h ← (1 − z)·n + z·h.
void rk_gru_cell_f32(float *g, float *rec, size_t gs, const float *bhn, float *h, size_t count);

#ifdef __cplusplus
}
#endif
#endif
