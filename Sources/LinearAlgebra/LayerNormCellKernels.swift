// The row kernels of the layer-normalised recurrent cells (CKernels' rk_layernorm_cells.c),
// for the fused layers of `Recurrent` (LayerNormRecurrence.swift).
internal import CKernels

/// The per-row work of a layer-normalised LSTM or GRU step and of its backward: the layer
/// norms of the recurrent projection (and of the LSTM's cell state) fused with the gates.
///
/// Every function takes whole rows (a layer norm is a reduction over a row): split rows, not
/// columns, between threads, and each row's result is the same on every thread. AVX2 + FMA
/// where ``CPUCapability/current`` allows it, portable loops elsewhere. Row-major buffers;
/// `…Stride` is the distance between rows in floats. Bias pointers may be `nil` (zeros).
public enum LayerNormCellKernels {
    /// `xhat = (x − mean(x))·rstd` per row of `columns`, with `rstd = 1/√(var + eps)` (the
    /// biased variance) written to `rstd[r]`. `xhat` may be `x` (same stride).
    public static func normalizeRows(rows: Int, columns: Int, _ x: UnsafePointer<Float>, stride ldx: Int,
                                     into xhat: UnsafeMutablePointer<Float>, stride ldxh: Int,
                                     rstd: UnsafeMutablePointer<Float>, eps: Float) {
        guard rows > 0 && columns > 0 else { return }
        rk_ln_normalize_rows_f32(rows, columns, x, ldx, xhat, ldxh, rstd, eps)
    }

    /// The input gradient of a layer norm per row: `dx = rstd·(ĝ − mean(ĝ) − xhat·mean(ĝ·xhat))`
    /// with `ĝ = dy·weight` (written, not accumulated).
    public static func backwardRows(rows: Int, columns: Int, _ dy: UnsafePointer<Float>, stride lddy: Int,
                                    xhat: UnsafePointer<Float>, stride ldxh: Int, rstd: UnsafePointer<Float>,
                                    weight: UnsafePointer<Float>?, into dx: UnsafeMutablePointer<Float>, stride lddx: Int) {
        guard rows > 0 && columns > 0 else { return }
        rk_ln_backward_rows_f32(rows, columns, dy, lddy, xhat, ldxh, rstd, weight, dx, lddx)
    }

    /// `gradWeight[j] += Σ_r dy[r][j]·xhat[r][j]` and `gradBias[j] += Σ_r dy[r][j]` for the
    /// `columns` columns given, summed over the rows in order (split columns between threads).
    public static func accumulateParameterGradients(rows: Int, columns: Int, _ dy: UnsafePointer<Float>, stride lddy: Int,
                                                    xhat: UnsafePointer<Float>, stride ldxh: Int,
                                                    gradWeight: UnsafeMutablePointer<Float>?, gradBias: UnsafeMutablePointer<Float>?) {
        guard rows > 0 && columns > 0 else { return }
        rk_ln_param_grads_f32(rows, columns, dy, lddy, xhat, ldxh, gradWeight, gradBias)
    }

    /// The parameter gradients of two layer norms whose outputs are summed (so they receive the
    /// same `dy`), in one pass: `gradWeight1 += Σ_r dy·xhat1`, `gradWeight2 += Σ_r dy·xhat2`,
    /// `gradBias += Σ_r dy` (both shifts' gradient), for the `columns` given.
    public static func accumulateParameterGradients(rows: Int, columns: Int, _ dy: UnsafePointer<Float>, stride lddy: Int,
                                                    xhat1: UnsafePointer<Float>, stride ld1: Int,
                                                    xhat2: UnsafePointer<Float>, stride ld2: Int,
                                                    gradWeight1: UnsafeMutablePointer<Float>, gradWeight2: UnsafeMutablePointer<Float>,
                                                    gradBias: UnsafeMutablePointer<Float>?) {
        guard rows > 0 && columns > 0 else { return }
        rk_ln_param_grads2_f32(rows, columns, dy, lddy, xhat1, ld1, xhat2, ld2, gradWeight1, gradWeight2, gradBias)
    }

    /// One row of a layer-normalised LSTM step (rk_lnlstm_forward_row_f32): `hh` (4H, the raw
    /// `h·W_hhᵀ`) becomes its normalisation, `gates` the activated i, f, g, o, `c` the new cell
    /// state (read as the old one), `cHat` the normalised pre-norm cell state, `h` the new
    /// hidden state; the two norms' `1/σ` go to `rstdH` and `rstdC`.
    @inline(__always)
    public static func lstmForwardRow(hidden H: Int, inputSide xi: UnsafePointer<Float>, weightI: UnsafePointer<Float>,
                                      biasI: UnsafePointer<Float>?, recurrent hh: UnsafeMutablePointer<Float>,
                                      weightH: UnsafePointer<Float>, biasH: UnsafePointer<Float>?,
                                      gates: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>,
                                      cHat: UnsafeMutablePointer<Float>, weightC: UnsafePointer<Float>, biasC: UnsafePointer<Float>?,
                                      tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>,
                                      rstdH: UnsafeMutablePointer<Float>, rstdC: UnsafeMutablePointer<Float>,
                                      epsH: Float, epsC: Float) {
        rk_lnlstm_forward_row_f32(H, xi, weightI, biasI, hh, rstdH, weightH, biasH, gates, c, cHat, rstdC, weightC, biasC,
                                  tanhC, h, epsH, epsC)
    }

    /// The backward of ``lstmForwardRow(hidden:inputSide:weightI:biasI:recurrent:weightH:biasH:gates:c:cHat:weightC:biasC:tanhC:h:rstdH:rstdC:epsH:epsC:)``
    /// for one row (rk_lnlstm_backward_row_f32): writes `dcPost` (H), `dGates` (4H), `dRecurrent`
    /// (4H, the gradient of the raw `h·W_hhᵀ`) and replaces `dc` (the gradient of `c_t`) with
    /// that of `c_{t−1}`.
    @inline(__always)
    public static func lstmBackwardRow(hidden H: Int, gates: UnsafePointer<Float>, hHat: UnsafePointer<Float>, rstdH: Float,
                                       weightH: UnsafePointer<Float>, cHat: UnsafePointer<Float>, rstdC: Float,
                                       weightC: UnsafePointer<Float>, tanhC: UnsafePointer<Float>, cPrev: UnsafePointer<Float>,
                                       dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>, dcPost: UnsafeMutablePointer<Float>,
                                       dGates: UnsafeMutablePointer<Float>, dRecurrent: UnsafeMutablePointer<Float>) {
        rk_lnlstm_backward_row_f32(H, gates, hHat, rstdH, weightH, cHat, rstdC, weightC, tanhC, cPrev, dh, dc, dcPost,
                                   dGates, dRecurrent)
    }

    /// One row of a layer-normalised GRU step (rk_lngru_forward_row_f32): `hh` (3H) becomes its
    /// normalisation (its `1/σ` to `rstdH`), `gates` the activated r, z, n, `hn` the normalised
    /// recurrent n block after its affine, `h` the new state from `hPrev`.
    @inline(__always)
    public static func gruForwardRow(hidden H: Int, inputSide xi: UnsafePointer<Float>, weightI: UnsafePointer<Float>,
                                     biasI: UnsafePointer<Float>?, recurrent hh: UnsafeMutablePointer<Float>,
                                     weightH: UnsafePointer<Float>, biasH: UnsafePointer<Float>?,
                                     gates: UnsafeMutablePointer<Float>, hn: UnsafeMutablePointer<Float>,
                                     hPrev: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>,
                                     rstdH: UnsafeMutablePointer<Float>, epsH: Float) {
        rk_lngru_forward_row_f32(H, xi, weightI, biasI, hh, rstdH, weightH, biasH, gates, hn, hPrev, h, epsH)
    }

    /// The backward of ``gruForwardRow(hidden:inputSide:weightI:biasI:recurrent:weightH:biasH:gates:hn:hPrev:h:rstdH:epsH:)``
    /// for one row (rk_lngru_backward_row_f32): writes `dInputSide` and `dRecurrentSide` (3H,
    /// after the affine), `dRecurrent` (3H, of the raw `h·W_hhᵀ`) and `dhPrev = dh·z`.
    @inline(__always)
    public static func gruBackwardRow(hidden H: Int, gates: UnsafePointer<Float>, hn: UnsafePointer<Float>,
                                      hHat: UnsafePointer<Float>, rstdH: Float, weightH: UnsafePointer<Float>,
                                      hPrev: UnsafePointer<Float>, dh: UnsafePointer<Float>, dhPrev: UnsafeMutablePointer<Float>,
                                      dInputSide: UnsafeMutablePointer<Float>, dRecurrentSide: UnsafeMutablePointer<Float>,
                                      dRecurrent: UnsafeMutablePointer<Float>) {
        rk_lngru_backward_row_f32(H, gates, hn, hHat, rstdH, weightH, hPrev, dh, dhPrev, dInputSide, dRecurrentSide, dRecurrent)
    }
}
