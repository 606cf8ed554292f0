// The elementwise part of one LSTM or GRU step, fused into one pass (CKernels' rk_cells) where
// the C kernels run, as portable loops elsewhere.
internal import CKernels

extension Elementwise {
    /// One LSTM row over `count` hidden units, in place. `gates` points at unit 0 of the input
    /// gate's pre-activations; the forget, cell and output gates follow `gateStride` floats
    /// apart (i, f, g, o, PyTorch's order). The gates are activated where they are (i, f, o
    /// by the sigmoid, g by tanh; the backward reads them), then `c ← f·c + i·g`,
    /// `tanhC ← tanh(c)`, `h ← o·tanhC`. `c`, `tanhC` and `h` hold `count` floats each and
    /// overlap neither the gates nor each other.
    public static func lstmCell(gates g: UnsafeMutablePointer<Float>, gateStride gs: Int, c: UnsafeMutablePointer<Float>,
                                tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_lstm_cell_f32(g, gs, c, tanhC, h, count)
            return
        }
        sigmoid(g, g, count: count)                           // i
        sigmoid(g + gs, g + gs, count: count)                 // f
        tanh(g + 2 * gs, g + 2 * gs, count: count)            // g
        sigmoid(g + 3 * gs, g + 3 * gs, count: count)         // o
        let gi = g, gf = g + gs, gg = g + 2 * gs, go = g + 3 * gs
        for j in 0..<count { c[j] = gf[j] * c[j] + gi[j] * gg[j] }
        tanh(c, tanhC, count: count)
        for j in 0..<count { h[j] = go[j] * tanhC[j] }
    }

    /// One GRU row over `count` hidden units, in place. `gates` holds the input side
    /// (`W_i x + b_i`, with `b_hr` and `b_hz` folded in) for gates r, z, n, `gateStride`
    /// floats apart; `recurrent` the recurrent side (`W_h h`) in the same layout; `biasN` the
    /// recurrent n-gate bias (`count` floats, or `nil`). Then `r, z ← σ(gates + recurrent)`
    /// (into `gates`), `recurrent_n ← recurrent_n + b_hn`, `n ← tanh(gates_n + r·recurrent_n)`
    /// (into `gates_n`), and `h ← (1 − z)·n + z·h`.
    public static func gruCell(gates g: UnsafeMutablePointer<Float>, recurrent rec: UnsafeMutablePointer<Float>,
                               gateStride gs: Int, biasN bhn: UnsafePointer<Float>?, h: UnsafeMutablePointer<Float>,
                               count: Int) {
        guard count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_gru_cell_f32(g, rec, gs, bhn, h, count)
            return
        }
        for j in 0..<count { g[j] = g[j] + rec[j]; g[gs + j] = g[gs + j] + rec[gs + j] }
        sigmoid(g, g, count: count)                           // r
        sigmoid(g + gs, g + gs, count: count)                 // z
        let hn = rec + 2 * gs, n = g + 2 * gs, z = g + gs
        if let bhn { for j in 0..<count { hn[j] = hn[j] + bhn[j] } }
        for j in 0..<count { n[j] = n[j] + g[j] * hn[j] }
        tanh(n, n, count: count)
        for j in 0..<count { h[j] = (1 - z[j]) * n[j] + z[j] * h[j] }
    }
}
