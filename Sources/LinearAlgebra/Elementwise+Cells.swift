// The elementwise part of one LSTM or GRU step, fused into one pass (CKernels' rk_cells) where
// the C kernels run, as portable loops elsewhere.
internal import CKernels

extension Elementwise {
    /// One LSTM row over `count` hidden units, in place. `gates` points at unit 0 of the input
    /// gate's pre-activations; the forget, cell and output gates follow `gateStride` floats
    /// apart (i, f, g, o, PyTorch's order); `bias` (or `nil`), laid out as the gates, is added
    /// first. The gates are activated where they are (i, f, o
    /// by the sigmoid, g by tanh; the backward reads them), then `c ← f·c + i·g`,
    /// `tanhC ← tanh(c)`, `h ← o·tanhC`. `c`, `tanhC` and `h` hold `count` floats each and
    /// overlap neither the gates nor each other.
    public static func lstmCell(gates g: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil, gateStride gs: Int,
                                c: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>,
                                count: Int) {
        guard count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_lstm_cell_f32(g, bias, gs, c, tanhC, h, count)
            return
        }
        if let bias { for k in 0..<4 { for j in 0..<count { g[k * gs + j] += bias[k * gs + j] } } }
        sigmoid(g, g, count: count)                           // i
        sigmoid(g + gs, g + gs, count: count)                 // f
        tanh(g + 2 * gs, g + 2 * gs, count: count)            // g
        sigmoid(g + 3 * gs, g + 3 * gs, count: count)         // o
        let gi = g, gf = g + gs, gg = g + 2 * gs, go = g + 3 * gs
        for j in 0..<count { c[j] = gf[j] * c[j] + gi[j] * gg[j] }
        tanh(c, tanhC, count: count)
        for j in 0..<count { h[j] = go[j] * tanhC[j] }
    }

    /// One GRU row over `count` hidden units, in place. `gates` holds the input side (`W_i x`)
    /// for gates r, z, n, `gateStride` floats apart, to which `bias` (or `nil`; laid out as the
    /// gates: `b_ir + b_hr`, `b_iz + b_hz`, `b_in`) is added first; `recurrent` the recurrent side (`W_h h`) in the same layout; `biasN` the
    /// recurrent n-gate bias (`count` floats, or `nil`). Then `r, z ← σ(gates + recurrent)`
    /// (into `gates`), `recurrent_n ← recurrent_n + b_hn`, `n ← tanh(gates_n + r·recurrent_n)`
    /// (into `gates_n`), and `h ← (1 − z)·n + z·h`.
    public static func gruCell(gates g: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>? = nil,
                               recurrent rec: UnsafeMutablePointer<Float>, gateStride gs: Int, biasN bhn: UnsafePointer<Float>?,
                               h: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_gru_cell_f32(g, bias, rec, gs, bhn, h, count)
            return
        }
        if let bias { for k in 0..<3 { for j in 0..<count { g[k * gs + j] += bias[k * gs + j] } } }
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

extension Elementwise {
    /// The backward of one LSTM row over `count` hidden units: from the saved activated gates
    /// (i, f, g, o, `gateStride` floats apart), `tanhC = tanh(c_t)`, `cPrev = c_{t−1}` and
    /// `dh` (the gradient reaching `h_t`), writes the pre-activation gradients `dG` (the gates'
    /// layout) and `dc ← dc_{t−1}` in place from `dc_t`. The C kernels and the portable loop
    /// give the same bits (nothing is fused, the operations run in one order).
    public static func lstmCellBackward(gates g: UnsafePointer<Float>, gateStride H: Int, tanhC tc: UnsafePointer<Float>,
                                        cPrev cp: UnsafePointer<Float>, dh dhh: UnsafePointer<Float>,
                                        dc dcb: UnsafeMutablePointer<Float>, dG dgx: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_lstm_backward_f32(g, H, tc, cp, dhh, dcb, dgx, count)
            return
        }
        var j = 0
        while j + 8 <= count {
            let i = load8(g + j), f = load8(g + H + j), gg = load8(g + 2 * H + j), o = load8(g + 3 * H + j)
            let t = load8(tc + j), d = load8(dhh + j)
            let dO = d * t
            let dC = load8(dcb + j) + d * o * (1 - t * t)
            store8(dC * gg * i * (1 - i), dgx + j)
            store8(dC * load8(cp + j) * f * (1 - f), dgx + H + j)
            store8(dC * i * (1 - gg * gg), dgx + 2 * H + j)
            store8(dO * o * (1 - o), dgx + 3 * H + j)
            store8(dC * f, dcb + j)
            j += 8
        }
        while j < count {
            let i = g[j], f = g[H + j], gg = g[2 * H + j], o = g[3 * H + j]
            let dO = dhh[j] * tc[j]
            let dC = dcb[j] + dhh[j] * o * (1 - tc[j] * tc[j])
            dgx[j] = dC * gg * i * (1 - i)
            dgx[H + j] = dC * cp[j] * f * (1 - f)
            dgx[2 * H + j] = dC * i * (1 - gg * gg)
            dgx[3 * H + j] = dO * o * (1 - o)
            dcb[j] = dC * f
            j += 1
        }
    }

    /// The backward of one GRU row over `count` hidden units: from the saved activated gates
    /// (r, z, n, `gateStride` floats apart), `recurrentN = W_hn h + b_hn`, `hPrev = h_{t−1}`
    /// and `dh` (the gradient reaching `h_t`), writes the input-side gradients `dGx`, the
    /// recurrent-side ones `dGh` (the gates' layout; they differ in the n block,
    /// `dGh_n = dGx_n ⊙ r`) and `dh ← dh ⊙ z` (the direct path to `h_{t−1}`). Same bits from
    /// the C kernels and the portable loop.
    public static func gruCellBackward(gates g: UnsafePointer<Float>, gateStride H: Int, recurrentN hn: UnsafePointer<Float>,
                                       hPrev hp: UnsafePointer<Float>, dh dhb: UnsafeMutablePointer<Float>,
                                       dGx dgx: UnsafeMutablePointer<Float>, dGh dgh: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_gru_backward_f32(g, H, hn, hp, dhb, dgx, dgh, count)
            return
        }
        var j = 0
        while j + 8 <= count {
            let r = load8(g + j), z = load8(g + H + j), n = load8(g + 2 * H + j), d = load8(dhb + j)
            let dN = d * (1 - z) * (1 - n * n)
            let dZ = d * (load8(hp + j) - n) * z * (1 - z)
            let dR = dN * load8(hn + j) * r * (1 - r)
            store8(dR, dgx + j); store8(dR, dgh + j)
            store8(dZ, dgx + H + j); store8(dZ, dgh + H + j)
            store8(dN, dgx + 2 * H + j); store8(dN * r, dgh + 2 * H + j)
            store8(d * z, dhb + j)
            j += 8
        }
        while j < count {
            let r = g[j], z = g[H + j], n = g[2 * H + j]
            let dN = dhb[j] * (1 - z) * (1 - n * n)
            let dZ = dhb[j] * (hp[j] - n) * z * (1 - z)
            let dR = dN * hn[j] * r * (1 - r)
            dgx[j] = dR; dgh[j] = dR
            dgx[H + j] = dZ; dgh[H + j] = dZ
            dgx[2 * H + j] = dN; dgh[2 * H + j] = dN * r
            dhb[j] *= z
            j += 1
        }
    }

    @inline(__always)
    static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
    }

    @inline(__always)
    static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
    }
}

extension Elementwise {
    /// ``lstmCell(gates:bias:gateStride:c:tanhC:h:count:)`` over `rows` rows (the rows of one
    /// step), each operand's rows its leading dimension apart (`g`: gates, `c`, `tanhC`, `h`,
    /// `cPrev`, `out`); before the update the old `c` goes into `cPrev` and after it `h` also
    /// into `out`, when those are given. One call per step instead of one per row.
    public static func lstmCellRows(
        rows: Int, count: Int, gates g: UnsafeMutablePointer<Float>, gatesStride ldg: Int, bias: UnsafePointer<Float>?,
        gateStride gs: Int, c: UnsafeMutablePointer<Float>, cStride ldc: Int,
        cPrev: UnsafeMutablePointer<Float>?, cPrevStride ldcp: Int,
        tanhC: UnsafeMutablePointer<Float>, tanhCStride ldt: Int, h: UnsafeMutablePointer<Float>, hStride ldh: Int,
        out: UnsafeMutablePointer<Float>?, outStride ldo: Int
    ) {
        guard rows > 0 && count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_lstm_cell_rows_f32(rows, count, g, ldg, bias, gs, c, ldc, cPrev, ldcp, tanhC, ldt, h, ldh, out, ldo)
            return
        }
        for r in 0..<rows {
            let cr = c + r * ldc, hr = h + r * ldh
            cPrev?.advanced(by: r * ldcp).update(from: cr, count: count)
            lstmCell(gates: g + r * ldg, bias: bias, gateStride: gs, c: cr, tanhC: tanhC + r * ldt, h: hr, count: count)
            out?.advanced(by: r * ldo).update(from: hr, count: count)
        }
    }

    /// ``gruCell(gates:bias:recurrent:gateStride:biasN:h:count:)`` over `rows` rows, each
    /// operand's rows its leading dimension apart: `h` starts from `hPrev` (copied unless it is
    /// `h` itself), then `h` also goes into `out` and the recurrent n block
    /// (`W_hn h + b_hn`) into `recurrentN`, when those are given.
    public static func gruCellRows(
        rows: Int, count: Int, gates g: UnsafeMutablePointer<Float>, gatesStride ldg: Int, bias: UnsafePointer<Float>?,
        recurrent rec: UnsafeMutablePointer<Float>, recurrentStride ldr: Int, gateStride gs: Int, biasN bhn: UnsafePointer<Float>?,
        hPrev: UnsafePointer<Float>, hPrevStride ldhp: Int, h: UnsafeMutablePointer<Float>, hStride ldh: Int,
        out: UnsafeMutablePointer<Float>?, outStride ldo: Int, recurrentN: UnsafeMutablePointer<Float>?, recurrentNStride ldhn: Int
    ) {
        guard rows > 0 && count > 0 else { return }
        if CPUCapability.current.usesCKernels {
            rk_gru_cell_rows_f32(rows, count, g, ldg, bias, rec, ldr, gs, bhn, hPrev, ldhp, h, ldh, out, ldo, recurrentN, ldhn)
            return
        }
        for r in 0..<rows {
            let hr = h + r * ldh, recr = rec + r * ldr, hp = hPrev + r * ldhp
            if hp != UnsafePointer(hr) { hr.update(from: hp, count: count) }
            gruCell(gates: g + r * ldg, bias: bias, recurrent: recr, gateStride: gs, biasN: bhn, h: hr, count: count)
            out?.advanced(by: r * ldo).update(from: hr, count: count)
            recurrentN?.advanced(by: r * ldhn).update(from: recr + 2 * gs, count: count)
        }
    }

    /// `dst[r·dstStride + j] = src[r·srcStride + j]` for `r < rows`, `j < count` (no overlap).
    public static func copyRows(rows: Int, count: Int, from src: UnsafePointer<Float>, stride lds: Int,
                                to dst: UnsafeMutablePointer<Float>, stride ldd: Int) {
        guard rows > 0 && count > 0 else { return }
        rk_copy_rows_f32(rows, count, src, lds, dst, ldd)
    }
}

// MARK: - Cells beyond PyTorch's and the recurrent regularisers (one C kernel each, with its
// scalar form for the portable level)

extension Elementwise {
    /// One row of an LSTM with peepholes over `count` units, in place: as
    /// ``lstmCell(gates:bias:gateStride:c:tanhC:h:count:)`` with
    /// `i = σ(g_i + p_i ⊙ c_{t−1})`, `f = σ(g_f + p_f ⊙ c_{t−1})` and `o = σ(g_o + p_o ⊙ c_t)`.
    /// `peepholes` holds `p_i`, `p_f`, `p_o`, `gateStride` floats apart.
    public static func lstmPeepholeCell(gates g: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, gateStride gs: Int,
                                        peepholes p: UnsafePointer<Float>, c: UnsafeMutablePointer<Float>,
                                        tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        rk_lstm_peephole_cell_f32(g, bias, gs, p, c, tanhC, h, count)
    }

    /// The backward of ``lstmPeepholeCell(gates:bias:gateStride:peepholes:c:tanhC:h:count:)``:
    /// from the activated gates, `tanhC = tanh(c_t)`, `cPrev = c_{t−1}`, `cNew = c_t` and `dh`,
    /// writes the pre-activation gradients `dG`, `dc ← dc_{t−1}` in place, and adds the
    /// peepholes' gradients into `dPeepholes` (laid out as the peepholes).
    public static func lstmPeepholeCellBackward(gates g: UnsafePointer<Float>, gateStride gs: Int, peepholes p: UnsafePointer<Float>,
                                                tanhC: UnsafePointer<Float>, cPrev: UnsafePointer<Float>, cNew: UnsafePointer<Float>,
                                                dh: UnsafePointer<Float>, dc: UnsafeMutablePointer<Float>,
                                                dG: UnsafeMutablePointer<Float>, dPeepholes: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        rk_lstm_peephole_backward_f32(g, gs, p, tanhC, cPrev, cNew, dh, dc, dG, dPeepholes, count)
    }

    /// The gates of a GRU row with the reset gate before the recurrent product: `gates` holds
    /// `W_i x + W_h h` for r and z, `gateStride` apart (`bias` laid out as the gates, or `nil`);
    /// in place `r, z ← σ(·)`, then `s ← r ⊙ hm` (`hm`: the state the product reads).
    public static func gruResetBeforeGates(gates g: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, gateStride gs: Int,
                                           state hm: UnsafePointer<Float>, reset s: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        rk_gru_reset_before_gates_f32(g, bias, gs, hm, s, count)
    }

    /// The update of that row: `n ← tanh(g_n + b_n + recurrent + biasN)` into the n gate, where
    /// `recurrent = W_hn (r ⊙ h)`, then `h ← (1 − z) ⊙ n + z ⊙ hPrev`.
    public static func gruResetBeforeUpdate(gates g: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>?, gateStride gs: Int,
                                            recurrent: UnsafePointer<Float>, biasN: UnsafePointer<Float>?,
                                            hPrev: UnsafePointer<Float>, h: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        rk_gru_reset_before_update_f32(g, bias, gs, recurrent, biasN, hPrev, h, count)
    }

    /// The backward of the update: writes the z and n blocks of `dG` and `dh ← dh ⊙ z`.
    public static func gruResetBeforeBackwardUpdate(gates g: UnsafePointer<Float>, gateStride gs: Int, hPrev: UnsafePointer<Float>,
                                                    dh: UnsafeMutablePointer<Float>, dG: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        rk_gru_reset_before_backward_nz_f32(g, gs, hPrev, dh, dG, count)
    }

    /// The backward of the gates: from `ds = dG_n · W_hn`, writes the r block of `dG` and
    /// `ds ← ds ⊙ r` (the gradient reaching the state through `s = r ⊙ hm`).
    public static func gruResetBeforeBackwardGates(gates g: UnsafePointer<Float>, state hm: UnsafePointer<Float>,
                                                   ds: UnsafeMutablePointer<Float>, dG: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        rk_gru_reset_before_backward_r_f32(g, hm, ds, dG, count)
    }

    /// Zoneout: `current ← mask ⊙ previous + (1 − mask) ⊙ current`.
    public static func zoneout(previous: UnsafePointer<Float>, current: UnsafeMutablePointer<Float>, mask: UnsafePointer<Float>,
                               count: Int) {
        guard count > 0 else { return }
        rk_zoneout_f32(previous, current, mask, count)
    }

    /// The backward of ``zoneout(previous:current:mask:count:)``: `direct ← mask ⊙ gradient`
    /// (the part reaching `previous`), `gradient ← (1 − mask) ⊙ gradient`.
    public static func zoneoutBackward(mask: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
                                       direct: UnsafeMutablePointer<Float>, count: Int) {
        guard count > 0 else { return }
        rk_zoneout_backward_f32(mask, gradient, direct, count)
    }

    /// `y ← a ⊙ b`, vectorised (`y` may be `a` or `b`).
    public static func multiplyVectorised(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                          count: Int) {
        guard count > 0 else { return }
        rk_mul_f32(a, b, y, count)
    }

    /// `y ← y + a ⊙ b`, vectorised.
    public static func multiplyAddVectorised(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>,
                                             count: Int) {
        guard count > 0 else { return }
        rk_mul_add_f32(a, b, y, count)
    }
}
