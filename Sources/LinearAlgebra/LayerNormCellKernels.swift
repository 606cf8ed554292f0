// The row kernels of the layer-normalised recurrent cells (CKernels' rk_layernorm_cells.c),
// for the fused layers of `Recurrent` (LayerNormRecurrence.swift).
internal import CKernels

/// The per-row work of a layer-normalised LSTM or GRU step and of its backward: the layer
/// norms of the recurrent projection (and of the LSTM's cell state) fused with the gates.
///
/// Every function takes whole rows (a layer norm is a reduction over a row): split rows, not
/// columns, between threads, and each row's result is the same on every thread. AVX-512 or AVX2 + FMA
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

    /// Requests the `count` floats at `p` into the cache (`forWriting`: to be written), one
    /// prefetch per cache line: for a caller stepping through rows too far apart for the
    /// hardware prefetchers, which names the next row while it computes this one. Changes no
    /// value and never faults, so `p` may lie past a buffer's end.
    @inline(__always)
    public static func prefetch(_ p: UnsafePointer<Float>, count: Int, forWriting: Bool) {
        rk_prefetch_f32(p, count, forWriting ? 1 : 0)
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

    /// The gradients a layer-normalised LSTM's backward adds up over rows: the layer norms'
    /// parameters, `weightI`, `weightH`, `bias` (4H each; the shifts of LN_i and LN_h have
    /// the same gradient, their outputs being summed) and `weightC`, `biasC` (H). A bias
    /// pointer `nil`: not wanted.
    public struct LSTMParameterGradients {
        let weightI: UnsafeMutablePointer<Float>, weightH: UnsafeMutablePointer<Float>
        let bias: UnsafeMutablePointer<Float>?
        let weightC: UnsafeMutablePointer<Float>, biasC: UnsafeMutablePointer<Float>?

        /// The five sums at the given places.
        public init(weightI: UnsafeMutablePointer<Float>, weightH: UnsafeMutablePointer<Float>, bias: UnsafeMutablePointer<Float>?,
                    weightC: UnsafeMutablePointer<Float>, biasC: UnsafeMutablePointer<Float>?) {
            self.weightI = weightI; self.weightH = weightH; self.bias = bias; self.weightC = weightC; self.biasC = biasC
        }
    }

    /// The backward of ``lstmForwardRow(hidden:inputSide:weightI:biasI:recurrent:weightH:biasH:gates:c:cHat:weightC:biasC:tanhC:h:rstdH:rstdC:epsH:epsC:)``
    /// for one row, its three layer norms included (rk_lnlstm_backward_row_f32): from the
    /// gradient reaching `h_t` (`carry + dy`, `dy` `nil`: none from the output) and `dc`
    /// reaching `c_t`, writes `dInput` (4H, the gradient of the raw `x·W_ihᵀ`) and
    /// `dRecurrent` (4H, of the raw `h·W_hhᵀ`), replaces `dc` with the gradient of `c_{t−1}`
    /// and adds the row's share to `sums`. `inputSide`/`rstdI` are LN_i's saved row. `next`:
    /// how many rows on (in every per-row buffer, rows of 4H or H floats) lies the row the
    /// caller passes next, requested into the cache meanwhile (0: none); no result changes.
    @inline(__always)
    public static func lstmBackwardRow(hidden H: Int, gates: UnsafePointer<Float>, hHat: UnsafePointer<Float>, rstdH: Float,
                                       weightH: UnsafePointer<Float>, inputSide xHat: UnsafePointer<Float>, rstdI: Float,
                                       weightI: UnsafePointer<Float>, cHat: UnsafePointer<Float>, rstdC: Float,
                                       weightC: UnsafePointer<Float>, tanhC: UnsafePointer<Float>, cPrev: UnsafePointer<Float>,
                                       carry: UnsafePointer<Float>, dy: UnsafePointer<Float>?, dc: UnsafeMutablePointer<Float>,
                                       dInput: UnsafeMutablePointer<Float>, dRecurrent: UnsafeMutablePointer<Float>,
                                       sums: LSTMParameterGradients, next: Int) {
        rk_lnlstm_backward_row_f32(H, gates, hHat, rstdH, weightH, xHat, rstdI, weightI, cHat, rstdC, weightC, tanhC, cPrev,
                                   carry, dy, dc, dInput, dRecurrent, sums.weightI, sums.weightH, sums.bias, sums.weightC, sums.biasC,
                                   next)
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
