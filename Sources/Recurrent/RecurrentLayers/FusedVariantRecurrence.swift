import LinearAlgebra

/// What a layer computes beyond PyTorch's cells, for ``FusedVariantRecurrence``: the cell
/// variants (a GRU's reset gate before the recurrent product, an LSTM's peepholes) and the
/// masks of the recurrent regularisers, already drawn.
@usableFromInline
struct CellVariant {
    /// GRU only: `n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)` (ONNX `linear_before_reset=0`,
    /// Keras `reset_after=False`) instead of PyTorch's `r ⊙ (W_hn h + b_hn)`.
    var resetBeforeProduct = false
    /// LSTM only: the peephole weights `(3, H)`, rows `p_i`, `p_f`, `p_o`.
    var peepholes: Tensor?
    /// Recurrent (variational) dropout: the mask `(B, H)` that multiplies the state before the
    /// recurrent product at every step (its values already scaled by `1 / (1 − p)`).
    var stateMask: Tensor?
    /// Zoneout of `h`: the probability of keeping each unit's previous value.
    var zoneoutH: ZoneoutMask?
    /// Zoneout of an LSTM's `c`.
    var zoneoutC: ZoneoutMask?

    /// Whether the layer computes exactly PyTorch's cell (the plain fused path runs it).
    var isPlain: Bool { !resetBeforeProduct && peepholes == nil && stateMask == nil && zoneoutH == nil && zoneoutC == nil }
}

/// The keep-the-previous-value factors of zoneout for one layer and direction: a fresh 0/1
/// mask for every step in training (`(T·B, H)` in the sequence buffer's row order), or the
/// probability itself at every step in evaluation (`(B, H)`, the expectation).
@usableFromInline
struct ZoneoutMask {
    /// `(T·B, H)` (per step, rows in the layout's order) or `(B, H)` (every step).
    let values: Tensor
    /// Whether `values` has one row per step and item.
    let perStep: Bool

    /// The mask row of step `t`'s item `b`, whose sequence-buffer row is `row`.
    @inline(__always)
    func row(_ row: Int, item b: Int, width: Int) -> UnsafePointer<Float> {
        UnsafePointer(values.storage.pointer + (perStep ? row : b) * width)
    }
}

/// One recurrent layer in one direction with a ``CellVariant``, as a single autograd node with
/// a hand-written backpropagation through time, like ``FusedRecurrence`` (whose plain cells
/// keep their own faster path, untouched by these variants).
///
/// Forward: one GEMM projects every step's input; each step is one GEMM with `W_hh` (two for
/// the reset-before GRU: `W_h{r,z} h`, then `W_hn (r ⊙ h)`) and one fused C kernel per row.
/// Backward: the steps in reverse, one GEMM (two for the reset-before GRU) per step for the
/// state gradient; the weight gradients are single GEMMs over the whole sequence. Everything
/// runs on the calling thread with OpenBLAS on one thread, so the results do not depend on
/// the thread count. Variable lengths as in ``FusedRecurrence``. No projections.
@usableFromInline
enum FusedVariantRecurrence {
    /// Runs the layer; shapes as ``FusedRecurrence/run(kind:input:layout:reverse:h0:c0:weights:lengths:gradMode:)``
    /// (without a projection). The peepholes are an input of the node (their gradient flows);
    /// the masks are constants.
    @usableFromInline
    static func run(kind: CellKind, input: Tensor, layout: SequenceLayout, reverse: Bool,
                    h0: Tensor, c0: Tensor?, weights: RecurrentWeights, variant: CellVariant,
                    lengths: [Int]?) -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        precondition(weights.weightHR == nil, "FusedVariantRecurrence: projections are not supported")
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let G = kind.gateCount
        let GH = weights.weightIH.shape[0], H = GH / G
        let I = weights.weightIH.shape[1]
        let isLSTM = kind == .lstm, isGRU = kind == .gru
        let resetBefore = isGRU && variant.resetBeforeProduct
        let peepholes = isLSTM ? variant.peepholes : nil

        var inputs = [input, h0]
        if let c0 { inputs.append(c0) }
        inputs += weights.tensors
        if let peepholes { inputs.append(peepholes) }
        let recording = Tensor.needsRecording(inputs)

        let x = input.storage.pointer
        let wih = weights.weightIH.storage.pointer, whh = weights.weightHH.storage.pointer
        let bih = weights.biasIH?.storage.pointer, bhh = weights.biasHH?.storage.pointer
        let p = peepholes.map { UnsafePointer($0.storage.pointer) }
        let md = variant.stateMask.map { UnsafePointer($0.storage.pointer) }
        let zh = variant.zoneoutH, zc = isLSTM ? variant.zoneoutC : nil

        // Sequence-wide buffers, in the layout's row order; what only the backward reads is
        // dropped on return when nothing records.
        func written(_ count: Int) -> TensorBuffer { TensorBuffer(uninitializedCount: count) }
        func activeOnly(_ count: Int) -> TensorBuffer {
            lengths == nil ? TensorBuffer(uninitializedCount: count) : TensorBuffer(count: count)
        }
        let gates = written(R * GH)                     // X·W_ihᵀ, + the recurrent product, activated in place
        let hm = activeOnly(R * H)                      // the state as the product reads it (masked)
        let hPrev: TensorBuffer? = isGRU && md != nil ? activeOnly(R * H) : nil   // unmasked h_{t−1} (GRU's z path)
        let cPrev: TensorBuffer? = isLSTM ? activeOnly(R * H) : nil
        let cNew: TensorBuffer? = peepholes != nil ? activeOnly(R * H) : nil    // c_t before zoneout (p_o's gradient)
        let tanhC: TensorBuffer? = isLSTM ? activeOnly(R * H) : nil
        let reset: TensorBuffer? = resetBefore ? activeOnly(R * H) : nil          // r ⊙ hm
        let recurrentN: TensorBuffer? = isGRU && !resetBefore ? activeOnly(R * H) : nil   // W_hn hm + b_hn
        let hTilde: TensorBuffer? = !isLSTM && !isGRU ? activeOnly(R * H) : nil   // the RNN's activation before zoneout
        let output = written(R * H)
        let hN = written(B * H)
        let cN = c0.map { TensorBuffer(copying: $0.storage.buffer) }
        // Scratch: two alternating states and the step's recurrent product.
        let recCount = isGRU ? B * GH : 0
        let scratchBlock = ScratchPool.shared.take(2 * B * H + recCount)
        defer { ScratchPool.shared.give(scratchBlock) }
        let states = scratchBlock.pointer, rec = states + 2 * B * H

        // b_ih + b_hh, except GRU's n block, whose recurrent bias is added apart (``bhn``).
        let folded = isGRU ? 2 * H : GH
        var stepBiasStorage: [Float] = []
        if bih != nil || bhh != nil {
            stepBiasStorage = (0..<GH).map { j in (bih?[j] ?? 0) + (j < folded ? (bhh?[j] ?? 0) : 0) }
        }
        let bhn = isGRU ? bhh.map { UnsafePointer($0 + 2 * H) } : nil

        let threadsToRestore = ComputeThreads.enterSingleThreadedRegion()
        defer { FusedRecurrence.restoreThreads(threadsToRestore) }
        let wihView = MatrixView(wih, rows: GH, columns: I, leadingDimension: max(I, 1))
        let whhView = MatrixView(whh, rows: GH, columns: H, leadingDimension: max(H, 1))
        let xp = gates.pointer
        if R > 0 && GH > 0 {
            if I > 0 {
                BLAS.gemm(MatrixView(x, rows: R, columns: I, leadingDimension: max(I, 1)), .noTranspose, wihView, .transpose,
                          into: MutableMatrixView(xp, rows: R, columns: GH, leadingDimension: max(GH, 1)))
            } else {
                xp.update(repeating: 0, count: R * GH)
            }
        }
        stepBiasStorage.withUnsafeBufferPointer { biasBuffer in
            let stepBias = biasBuffer.isEmpty ? nil : biasBuffer.baseAddress
            for s in 0..<T {
                let t = reverse ? T - 1 - s : s
                let first = layout.firstRow(t)
                let hRead = s == 0 ? UnsafePointer(h0.storage.pointer) : UnsafePointer(states + ((s - 1) % 2) * B * H)
                let hWrite = states + (s % 2) * B * H
                // The state as the product reads it, kept for the weight gradient.
                let hmStep = layout.step(t, of: hm.pointer, width: H)
                for b in 0..<B {
                    let row = first + b * rs
                    if let md {
                        Elementwise.multiplyVectorised(hRead + b * H, md + b * H, into: hm.pointer + row * H, count: H)
                    } else {
                        (hm.pointer + row * H).update(from: hRead + b * H, count: H)
                    }
                    if let hPrev { (hPrev.pointer + row * H).update(from: hRead + b * H, count: H) }
                }
                let stepXP = layout.step(t, of: xp, width: GH)
                if H > 0 && B > 0 {
                    if resetBefore {
                        BLAS.gemm(hmStep.readOnly, .noTranspose,
                                  MatrixView(whh, rows: 2 * H, columns: H, leadingDimension: max(H, 1)), .transpose,
                                  into: MutableMatrixView(stepXP.base, rows: B, columns: 2 * H, leadingDimension: stepXP.leadingDimension),
                                  beta: 1)
                    } else if isGRU {
                        BLAS.gemm(hmStep.readOnly, .noTranspose, whhView, .transpose,
                                  into: MutableMatrixView(rec, rows: B, columns: GH, leadingDimension: max(GH, 1)))
                    } else {
                        BLAS.gemm(hmStep.readOnly, .noTranspose, whhView, .transpose, into: stepXP, beta: 1)
                    }
                }
                for b in 0..<B {
                    let row = first + b * rs
                    let active = lengths.map { t < $0[b] } ?? true
                    let hOld = hRead + b * H, hNew = hWrite + b * H
                    if let cPrev { (cPrev.pointer + row * H).update(from: cN!.pointer + b * H, count: H) }
                    guard active else {
                        (output.pointer + row * H).update(repeating: 0, count: H)
                        hNew.update(from: hOld, count: H)
                        continue
                    }
                    let pre = xp + row * GH
                    let zhRow = zh?.row(row, item: b, width: H)
                    switch kind {
                    case .lstm:
                        let c = cN!.pointer + b * H
                        if let p {
                            Elementwise.lstmPeepholeCell(gates: pre, bias: stepBias, gateStride: H, peepholes: p, c: c,
                                                         tanhC: tanhC!.pointer + row * H, h: hNew, count: H)
                            (cNew!.pointer + row * H).update(from: c, count: H)
                        } else {
                            Elementwise.lstmCell(gates: pre, bias: stepBias, gateStride: H, c: c,
                                                 tanhC: tanhC!.pointer + row * H, h: hNew, count: H)
                        }
                        if let zc {
                            Elementwise.zoneout(previous: cPrev!.pointer + row * H, current: c, mask: zc.row(row, item: b, width: H), count: H)
                        }
                    case .gru:
                        if resetBefore {
                            Elementwise.gruResetBeforeGates(gates: pre, bias: stepBias, gateStride: H, state: hm.pointer + row * H,
                                                            reset: reset!.pointer + row * H, count: H)
                            continue    // n and h after the second product
                        }
                        hNew.update(from: hOld, count: H)
                        Elementwise.gruCell(gates: pre, bias: stepBias, recurrent: rec + b * GH, gateStride: H, biasN: bhn,
                                            h: hNew, count: H)
                        (recurrentN!.pointer + row * H).update(from: rec + b * GH + 2 * H, count: H)
                    case .rnnTanh, .rnnReLU:
                        let preView = MatrixView(UnsafePointer(pre), rows: 1, columns: H, leadingDimension: max(H, 1))
                        let into = MutableMatrixView(hTilde!.pointer + row * H, rows: 1, columns: H, leadingDimension: max(H, 1))
                        if kind == .rnnTanh { Elementwise.tanh(preView, adding: stepBias, into: into) } else {
                            Elementwise.relu(preView, adding: stepBias, into: into)
                        }
                        hNew.update(from: into.base, count: H)
                    }
                    if let zhRow { Elementwise.zoneout(previous: hOld, current: hNew, mask: zhRow, count: H) }
                    (output.pointer + row * H).update(from: hNew, count: H)
                }
                guard resetBefore else { continue }
                // n = tanh(W_in x + b_in + W_hn (r ⊙ hm) + b_hn), then h.
                if H > 0 && B > 0 {
                    BLAS.gemm(layout.step(t, of: reset!.pointer, width: H).readOnly, .noTranspose,
                              MatrixView(whh + 2 * H * H, rows: H, columns: H, leadingDimension: max(H, 1)), .transpose,
                              into: MutableMatrixView(rec, rows: B, columns: H, leadingDimension: max(H, 1)))
                }
                for b in 0..<B where lengths.map({ t < $0[b] }) ?? true {
                    let row = first + b * rs
                    let hOld = hRead + b * H, hNew = hWrite + b * H
                    Elementwise.gruResetBeforeUpdate(gates: xp + row * GH, bias: stepBias, gateStride: H, recurrent: rec + b * H,
                                                     biasN: bhn, hPrev: hOld, h: hNew, count: H)
                    if let zh { Elementwise.zoneout(previous: hOld, current: hNew, mask: zh.row(row, item: b, width: H), count: H) }
                    (output.pointer + row * H).update(from: hNew, count: H)
                }
            }
        }
        if T > 0 { hN.pointer.update(from: states + ((T - 1) % 2) * B * H, count: B * H) } else {
            hN.pointer.update(from: h0.storage.pointer, count: B * H)
        }

        let saved = Saved(gates: gates, hm: hm, hPrev: hPrev, cPrev: cPrev, cNew: cNew, tanhC: tanhC, reset: reset,
                          recurrentN: recurrentN, hTilde: hTilde)
        let name = isLSTM ? (p != nil ? "lstmPeepholeBackward" : "lstmVariantBackward")
            : isGRU ? (resetBefore ? "gruResetBeforeBackward" : "gruVariantBackward") : "rnnVariantBackward"
        return FusedRecurrence.layerResults(name, input: input, batch: B, hidden: H, outputHidden: H, output: output, hN: hN, cN: cN,
                                            inputs: inputs, recording: recording) { gradOutputs, gradInputs in
            backward(kind: kind, layout: layout, reverse: reverse, lengths: lengths, sizes: (I: I, H: H, GH: GH),
                     hasC0: c0 != nil, x: x, wih: wih, whh: whh, hasBiasIH: bih != nil, hasBiasHH: bhh != nil,
                     variant: variant, saved: saved, gradOutputs: gradOutputs, gradInputs: gradInputs)
            withExtendedLifetime((saved, output, input, h0, weights.tensors, variant.peepholes, variant.stateMask,
                                  variant.zoneoutH?.values, variant.zoneoutC?.values)) {}
        }
    }

    /// What the forward keeps for the backward.
    struct Saved {
        let gates: TensorBuffer, hm: TensorBuffer
        let hPrev: TensorBuffer?, cPrev: TensorBuffer?, cNew: TensorBuffer?, tanhC: TensorBuffer?
        let reset: TensorBuffer?, recurrentN: TensorBuffer?, hTilde: TensorBuffer?
    }

    /// The hand-written backward of ``run(kind:input:layout:reverse:h0:c0:weights:variant:lengths:)``.
    /// Gradients are added into `gradInputs` (in the node's input order; `nil` where none is needed).
    static func backward(
        kind: CellKind, layout: SequenceLayout, reverse: Bool, lengths: [Int]?, sizes: (I: Int, H: Int, GH: Int),
        hasC0: Bool, x: UnsafeMutablePointer<Float>, wih: UnsafeMutablePointer<Float>, whh: UnsafeMutablePointer<Float>,
        hasBiasIH: Bool, hasBiasHH: Bool, variant: CellVariant, saved: Saved,
        gradOutputs: [UnsafePointer<Float>?], gradInputs: [UnsafeMutablePointer<Float>?]
    ) {
        let (I, H, GH) = sizes
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let isLSTM = kind == .lstm, isGRU = kind == .gru
        let resetBefore = isGRU && variant.resetBeforeProduct
        let p = isLSTM ? variant.peepholes.map { UnsafePointer($0.storage.pointer) } : nil
        let md = variant.stateMask.map { UnsafePointer($0.storage.pointer) }
        let zh = variant.zoneoutH, zc = isLSTM ? variant.zoneoutC : nil
        let slots = FusedRecurrence.GradientSlots(gradInputs, hasC0: hasC0, hasBiasIH: hasBiasIH, hasBiasHH: hasBiasHH, hasLast: p != nil)
        let (gX, gH0, gC0, gWih, gWhh) = (slots.x, slots.h0, slots.c0, slots.wih, slots.whh)
        let (gBih, gBhh, gP) = (slots.bih, slots.bhh, slots.last)
        let gY = gradOutputs[0], gHN = gradOutputs[1], gCN = gradOutputs.count > 2 ? gradOutputs[2] : nil

        // dG: the pre-activation gradients of every step (W_ih, b_ih, the input; and W_hh,
        // b_hh, the state, except for GRU's n block in PyTorch's form, which has its own dGh).
        let dGCount = R * GH, dGhCount = isGRU && !resetBefore ? R * GH : 0
        let stepCount = B * H
        let scratchBlock = ScratchPool.shared.take(dGCount + dGhCount + 6 * stepCount + 3 * H)
        defer { ScratchPool.shared.give(scratchBlock) }
        let dG = scratchBlock.pointer
        let dGh = isGRU && !resetBefore ? dG + dGCount : dG
        let dh = dG + dGCount + dGhCount, dc = dh + stepCount
        let dProduct = dc + stepCount, directH = dProduct + stepCount, directC = directH + stepCount
        let dPeepholes = directC + stepCount
        if lengths != nil { dG.update(repeating: 0, count: dGCount + dGhCount) }
        if let gHN { dh.update(from: gHN, count: stepCount) } else { dh.update(repeating: 0, count: stepCount) }
        if let gCN, isLSTM { dc.update(from: gCN, count: stepCount) } else { dc.update(repeating: 0, count: stepCount) }
        dPeepholes.update(repeating: 0, count: 3 * H)

        let threadsToRestore = ComputeThreads.enterSingleThreadedRegion()
        defer { FusedRecurrence.restoreThreads(threadsToRestore) }
        let g = saved.gates.pointer, hm = saved.hm.pointer
        let hp = (saved.hPrev ?? saved.hm).pointer          // the unmasked h_{t−1}
        for s in stride(from: T - 1, through: 0, by: -1) {
            let t = reverse ? T - 1 - s : s
            let first = layout.firstRow(t)
            func isActive(_ b: Int) -> Bool { lengths.map { t < $0[b] } ?? true }
            for b in 0..<B where isActive(b) {
                let row = first + b * rs
                let dhb = dh + b * H
                if let gY { Elementwise.add(dhb, gY + row * H, into: dhb, count: H) }
                if let zh { Elementwise.zoneoutBackward(mask: zh.row(row, item: b, width: H), gradient: dhb, direct: directH + b * H, count: H) }
                let dgRow = dG + row * GH, gRow = g + row * GH
                switch kind {
                case .lstm:
                    let dcb = dc + b * H
                    if let zc { Elementwise.zoneoutBackward(mask: zc.row(row, item: b, width: H), gradient: dcb, direct: directC + b * H, count: H) }
                    if let p {
                        Elementwise.lstmPeepholeCellBackward(gates: gRow, gateStride: H, peepholes: p, tanhC: saved.tanhC!.pointer + row * H,
                                                             cPrev: saved.cPrev!.pointer + row * H, cNew: saved.cNew!.pointer + row * H,
                                                             dh: dhb, dc: dcb, dG: dgRow, dPeepholes: dPeepholes, count: H)
                    } else {
                        Elementwise.lstmCellBackward(gates: gRow, gateStride: H, tanhC: saved.tanhC!.pointer + row * H,
                                                     cPrev: saved.cPrev!.pointer + row * H, dh: dhb, dc: dcb, dG: dgRow, count: H)
                    }
                    if zc != nil { Elementwise.add(dcb, directC + b * H, into: dcb, count: H) }
                    dhb.update(repeating: 0, count: H)
                case .gru:
                    if resetBefore {
                        Elementwise.gruResetBeforeBackwardUpdate(gates: gRow, gateStride: H, hPrev: hp + row * H, dh: dhb, dG: dgRow, count: H)
                    } else {
                        Elementwise.gruCellBackward(gates: gRow, gateStride: H, recurrentN: saved.recurrentN!.pointer + row * H,
                                                    hPrev: hp + row * H, dh: dhb, dGx: dgRow, dGh: dGh + row * GH, count: H)
                    }
                case .rnnTanh, .rnnReLU:
                    let y = MatrixView(UnsafePointer(saved.hTilde!.pointer + row * H), rows: 1, columns: H, leadingDimension: max(H, 1))
                    let d = MatrixView(UnsafePointer(dhb), rows: 1, columns: H, leadingDimension: max(H, 1))
                    let into = MutableMatrixView(dgRow, rows: 1, columns: H, leadingDimension: max(H, 1))
                    if kind == .rnnTanh { Elementwise.tanhBackward(output: y, gradient: d, adding: nil, into: into) } else {
                        Elementwise.reluBackward(output: y, gradient: d, adding: nil, into: into)
                    }
                    dhb.update(repeating: 0, count: H)
                }
                if zh != nil { Elementwise.add(dhb, directH + b * H, into: dhb, count: H) }
            }
            // The gradient reaching the state the product read (hm).
            guard H > 0 && B > 0 else { continue }
            let stepDG = layout.step(t, of: dG, width: GH)
            if resetBefore {
                // ds = dG_n · W_hn; dG_r from it; then dhm = ds ⊙ r + [dG_r dG_z] · W_h{r,z}.
                BLAS.gemm(MatrixView(UnsafePointer(stepDG.base + 2 * H), rows: B, columns: H, leadingDimension: stepDG.leadingDimension), .noTranspose,
                          MatrixView(whh + 2 * H * H, rows: H, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                          into: MutableMatrixView(dProduct, rows: B, columns: H, leadingDimension: max(H, 1)))
                for b in 0..<B where isActive(b) {
                    let row = first + b * rs
                    Elementwise.gruResetBeforeBackwardGates(gates: g + row * GH, state: hm + row * H, ds: dProduct + b * H,
                                                            dG: dG + row * GH, count: H)
                }
                BLAS.gemm(MatrixView(UnsafePointer(stepDG.base), rows: B, columns: 2 * H, leadingDimension: stepDG.leadingDimension), .noTranspose,
                          MatrixView(whh, rows: 2 * H, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                          into: MutableMatrixView(dProduct, rows: B, columns: H, leadingDimension: max(H, 1)), beta: 1)
            } else {
                BLAS.gemm(layout.step(t, of: dGh, width: GH).readOnly, .noTranspose,
                          MatrixView(whh, rows: GH, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                          into: MutableMatrixView(dProduct, rows: B, columns: H, leadingDimension: max(H, 1)))
            }
            for b in 0..<B where isActive(b) {
                if let md {
                    Elementwise.multiplyAddVectorised(dProduct + b * H, md + b * H, into: dh + b * H, count: H)
                } else {
                    Elementwise.add(dh + b * H, dProduct + b * H, into: dh + b * H, count: H)
                }
            }
        }
        if let gH0 { Elementwise.add(gH0, dh, into: gH0, count: stepCount) }
        if let gC0, isLSTM { Elementwise.add(gC0, dc, into: gC0, count: stepCount) }
        if let gP { Elementwise.add(gP, dPeepholes, into: gP, count: 3 * H) }

        guard R > 0 && GH > 0 else { return }
        let dGView = MatrixView(UnsafePointer(dG), rows: R, columns: GH, leadingDimension: max(GH, 1))
        let dGhView = MatrixView(UnsafePointer(dGh), rows: R, columns: GH, leadingDimension: max(GH, 1))
        if let gX, I > 0 {
            BLAS.gemm(dGView, .noTranspose, MatrixView(wih, rows: GH, columns: I, leadingDimension: max(I, 1)), .noTranspose,
                      into: MutableMatrixView(gX, rows: R, columns: I, leadingDimension: max(I, 1)), beta: 1)
        }
        if let gWih, I > 0 {
            BLAS.gemm(dGView, .transpose, MatrixView(x, rows: R, columns: I, leadingDimension: max(I, 1)), .noTranspose,
                      into: MutableMatrixView(gWih, rows: GH, columns: I, leadingDimension: max(I, 1)), beta: 1)
        }
        if let gWhh, H > 0 {
            let hmView = MatrixView(UnsafePointer(hm), rows: R, columns: H, leadingDimension: max(H, 1))
            if resetBefore {
                BLAS.gemm(MatrixView(UnsafePointer(dG), rows: R, columns: 2 * H, leadingDimension: max(GH, 1)), .transpose, hmView, .noTranspose,
                          into: MutableMatrixView(gWhh, rows: 2 * H, columns: H, leadingDimension: max(H, 1)), beta: 1)
                BLAS.gemm(MatrixView(UnsafePointer(dG + 2 * H), rows: R, columns: H, leadingDimension: max(GH, 1)), .transpose,
                          MatrixView(UnsafePointer(saved.reset!.pointer), rows: R, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                          into: MutableMatrixView(gWhh + 2 * H * H, rows: H, columns: H, leadingDimension: max(H, 1)), beta: 1)
            } else {
                BLAS.gemm(dGhView, .transpose, hmView, .noTranspose,
                          into: MutableMatrixView(gWhh, rows: GH, columns: H, leadingDimension: max(H, 1)), beta: 1)
            }
        }
        if let gBih { Elementwise.accumulateColumnSums(of: dGView, into: gBih) }
        if let gBhh { Elementwise.accumulateColumnSums(of: dGhView, into: gBhh) }
    }
}
