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
    /// Zoneout of `h`: the factors that keep each unit's previous value.
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
        rows.row(row, item: b, width: width)
    }

    /// The rows behind a raw pointer, for a team's loops (no reference counting per row);
    /// valid while `values` lives.
    var rows: ZoneoutRows { ZoneoutRows(base: UnsafePointer(values.storage.pointer), perStep: perStep) }
}

/// A ``ZoneoutMask``'s values as a raw pointer.
struct ZoneoutRows: @unchecked Sendable {
    let base: UnsafePointer<Float>
    let perStep: Bool

    /// The mask row of item `b` at sequence-buffer row `row`.
    @inline(__always)
    func row(_ row: Int, item b: Int, width: Int) -> UnsafePointer<Float> { base + (perStep ? row : b) * width }
}

/// One recurrent layer in one direction with a ``CellVariant``, as a single autograd node with
/// a hand-written backpropagation through time, like ``FusedRecurrence`` (whose plain cells
/// keep their own path, untouched by these variants); a bidirectional layer's two directions
/// are one node together (``BidirectionalNode``).
///
/// Forward: where the packed kernels run, the layer is one team of ``ComputeThreads`` workers
/// (as many as ``FusedRecurrence/teamSize(batch:hidden:gates:depth:hasProjection:)`` gives a
/// plain layer of its size), each owning a range of hidden units (whole 16-column panels): it
/// projects its columns of every step's input, and at each step computes its columns of the
/// recurrent product (two products for the reset-before GRU, `W_h{r,z} h` and then
/// `W_hn (r ⊙ h)`, a barrier between them) and its units' fused cell kernel; one barrier per
/// step publishes the new state (one more when a recurrent-dropout mask must be applied to the
/// whole state first). Backward: the steps in reverse, each member its units' elementwise
/// backward, a barrier, then its columns of the state gradient; the weight gradients are
/// GEMMs over the whole sequence in chunks fixed by the shapes.
///
/// Small steps of many items (``BatchSplitRecurrence/splitsLayerSteps(batch:workers:gateColumns:depth:)``,
/// the plain layers' policy and `RECURRENT_BATCH_SPLIT` override) run split by items instead,
/// forward (recording or not) and backward: after the packing and the projection, split by
/// columns, and one barrier, each member runs every step over all columns of its own items,
/// with no barrier per step (an item's state, masks and gradients never meet another item's;
/// every row keeps its kernel tile, so its bits). The one sum over items inside the steps, the
/// peepholes' gradient, is then taken after them in one thread's order
/// (``addPeepholeGradients(layout:reverse:lengths:hidden:dG:saved:into:)``).
///
/// No reduction is split, so the results are the same for every team size and either split.
/// Elsewhere: one worker, OpenBLAS on one thread. Variable lengths as in ``FusedRecurrence``.
/// No projections.
@usableFromInline
enum FusedVariantRecurrence {
    /// Runs the layer; shapes as ``FusedRecurrence/run(kind:input:layout:reverse:h0:c0:weights:lengths:gradMode:stage:pending:)``
    /// (without a projection), `gradMode` and `pending` likewise. The peepholes are an input
    /// of the node (their gradient flows); the masks are constants.
    @usableFromInline
    static func run(kind: CellKind, input: Tensor, layout: SequenceLayout, reverse: Bool,
                    h0: Tensor, c0: Tensor?, weights: RecurrentWeights, variant: CellVariant,
                    lengths: [Int]?, gradMode: Bool? = nil, pending: PendingNode? = nil) -> (output: Tensor, hN: Tensor, cN: Tensor?) {
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
        let recording = gradMode.map { enabled in enabled && inputs.contains(where: \.requiresGrad) } ?? Tensor.needsRecording(inputs)

        let x = input.storage.pointer
        let wih = weights.weightIH.storage.pointer, whh = weights.weightHH.storage.pointer
        let bih = weights.biasIH?.storage.pointer, bhh = weights.biasHH?.storage.pointer
        let p = peepholes.map { UnsafePointer($0.storage.pointer) }
        let md = variant.stateMask.map { UnsafePointer($0.storage.pointer) }
        let zh = variant.zoneoutH, zc = isLSTM ? variant.zoneoutC : nil

        // Sequence-wide buffers, in the layout's row order, for what the backward reads; when
        // nothing records, what a step needs lives in scratch, one row per item (``PerStep``).
        func written(_ count: Int) -> TensorBuffer { TensorBuffer(uninitializedCount: count) }
        func activeOnly(_ needed: Bool) -> TensorBuffer? {
            guard recording && needed else { return nil }
            return lengths == nil ? TensorBuffer(uninitializedCount: R * H) : TensorBuffer(count: R * H)
        }
        let gates: TensorBuffer? = recording ? written(R * GH) : nil   // X·W_ihᵀ, + the recurrent product, activated in place
        let hm = activeOnly(true)                            // the state as the product reads it (masked)
        let hPrev = activeOnly(isGRU && md != nil)           // unmasked h_{t−1} (GRU's z path)
        let cPrev = activeOnly(isLSTM)
        let cNew = activeOnly(peepholes != nil)              // c_t before zoneout (p_o's gradient)
        let tanhC = activeOnly(isLSTM)
        let reset = activeOnly(resetBefore)                  // r ⊙ hm
        let recurrentN = activeOnly(isGRU && !resetBefore)   // W_hn hm + b_hn
        let hTilde = activeOnly(!isLSTM && !isGRU)           // the RNN's activation before zoneout
        let output = written(R * H)
        let hN = written(B * H)
        let cN = c0.map { TensorBuffer(copying: $0.storage.buffer) }

        // The packed kernels (where they run) take every product, W_ihᵀ and W_hhᵀ packed once
        // per call gate block by gate block, so that a range of units is whole panels of each.
        // Small steps of many items run split by items after the projection, as the plain layers'.
        let (packs, workers, itemSplit) = stepTeam(batch: B, hidden: H, gates: G)
        let whhBlock = packs ? PackedGEMM.packedCount(columns: H, depth: H) : 0
        let wihBlock = packs && I > 0 && R > 0 ? PackedGEMM.packedCount(columns: H, depth: I) : 0
        // Scratch: two alternating states, the step's recurrent product, the packed weights, the
        // summed biases, and without recording the input projection and the per-step buffers.
        let recCount = isGRU ? B * GH : 0
        let perStepSlots = 5                          // hm, c_{t−1}, tanh(c), r ⊙ hm, the RNN's h̃
        let unrecordedCount = recording ? 0 : R * GH + perStepSlots * B * H
        let scratchBlock = ScratchPool.shared.take(2 * B * H + recCount + G * (whhBlock + wihBlock) + GH + unrecordedCount)
        defer { ScratchPool.shared.give(scratchBlock) }
        let states = scratchBlock.pointer, rec = states + 2 * B * H
        let packedWhh = rec + recCount, packedWih = packedWhh + G * whhBlock
        let summedBias = packedWih + G * wihBlock
        let unrecorded = summedBias + GH
        /// A buffer's row for sequence row `row`, item `b`: the sequence buffer's when recording,
        /// else the step's scratch row `b`.
        struct PerStep {
            let base: UnsafeMutablePointer<Float>, sequence: Bool, width: Int
            func at(_ row: Int, _ b: Int) -> UnsafeMutablePointer<Float> { base + (sequence ? row : b) * width }
            func step(_ t: Int, _ layout: SequenceLayout) -> MatrixView<Float> {
                sequence ? layout.step(t, of: base, width: width).readOnly
                    : MatrixView(UnsafePointer(base), rows: layout.batch, columns: width, leadingDimension: max(width, 1))
            }
        }
        func perStepBuffer(_ buffer: TensorBuffer?, slot: Int, needed: Bool) -> PerStep? {
            if let buffer { return PerStep(base: buffer.pointer, sequence: true, width: H) }
            guard needed && !recording else { return nil }
            return PerStep(base: unrecorded + R * GH + slot * B * H, sequence: false, width: H)
        }
        let xp = gates?.pointer ?? unrecorded
        let hmRows = perStepBuffer(hm, slot: 0, needed: true)!
        let cPrevRows = perStepBuffer(cPrev, slot: 1, needed: isLSTM), tanhCRows = perStepBuffer(tanhC, slot: 2, needed: isLSTM)
        let resetRows = perStepBuffer(reset, slot: 3, needed: resetBefore), hTildeRows = perStepBuffer(hTilde, slot: 4, needed: !isLSTM && !isGRU)
        // b_ih + b_hh, except GRU's n block, whose recurrent bias is added apart (``bhn``).
        let folded = isGRU ? 2 * H : GH
        let stepBias: UnsafePointer<Float>? = bih != nil || bhh != nil ? UnsafePointer(summedBias) : nil
        if stepBias != nil {
            for j in 0..<GH { summedBias[j] = (bih?[j] ?? 0) + (j < folded ? (bhh?[j] ?? 0) : 0) }
        }
        let bhn = isGRU ? bhh.map { UnsafePointer($0 + 2 * H) } : nil

        let threadsToRestore = ComputeThreads.enterSingleThreadedRegion()
        defer { FusedRecurrence.restoreThreads(threadsToRestore) }
        let xView = MatrixView(x, rows: R, columns: I, leadingDimension: max(I, 1))
        if !packs && R > 0 && GH > 0 {
            if I > 0 {
                BLAS.gemm(xView, .noTranspose, MatrixView(wih, rows: GH, columns: I, leadingDimension: max(I, 1)), .transpose,
                          into: MutableMatrixView(xp, rows: R, columns: GH, leadingDimension: max(GH, 1)))
            } else {
                xp.update(repeating: 0, count: R * GH)
            }
        }
        ComputeThreads.run(workers: workers) { member in
            let units = member.share(of: H, granularity: packs ? PackedGEMM.panelWidth : Swift.max(H, 1))
            let j0 = units.lowerBound, n = units.count
            if packs && n > 0 {
                for g in 0..<G {
                    PackedGEMM.pack(MatrixView(whh + (g * H + j0) * H, rows: n, columns: H, leadingDimension: max(H, 1)),
                                    .transpose, into: packedWhh + g * whhBlock + j0 * H)
                    if wihBlock > 0 {
                        PackedGEMM.pack(MatrixView(wih + (g * H + j0) * I, rows: n, columns: I, leadingDimension: max(I, 1)),
                                        .transpose, into: packedWih + g * wihBlock + j0 * I)
                    }
                }
                for g in 0..<G {
                    let block = MutableMatrixView(xp + g * H + j0, rows: R, columns: n, leadingDimension: max(GH, 1))
                    if wihBlock > 0 {
                        PackedGEMM.multiply(xView, packed: packedWih + g * wihBlock + j0 * I, columns: n, into: block)
                    } else {
                        BLAS.scale(block, by: 0)
                    }
                }
            }
            // What it computes in each step: all columns of its items (split by items), or its
            // columns of every item.
            let items = BatchSplitRecurrence.items(of: member, batch: B, split: itemSplit)
            let b0 = items.lowerBound, nb = items.count
            let stepUnits = itemSplit ? 0..<H : units
            let sj0 = stepUnits.lowerBound, sn = stepUnits.count
            /// This member's step columns `sj0..<sj0+sn` of `c ← a · W_gᵀ + beta·c` for gate block
            /// `g`, in the rows of its items (`a` is `B × H`; `c` points at the block's unit 0 of
            /// item 0, rows `ldc` apart).
            func product(_ a: MatrixView<Float>, block g: Int, into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float) {
                guard sn > 0 && nb > 0 else { return }
                if packs {
                    PackedGEMM.multiply(a.rows(items), packed: packedWhh + g * whhBlock + sj0 * H, columns: sn,
                                        into: MutableMatrixView(c + b0 * ldc + sj0, rows: nb, columns: sn, leadingDimension: max(ldc, 1)),
                                        beta: beta)
                } else {
                    BLAS.gemm(a, .noTranspose, MatrixView(whh + g * H * H, rows: H, columns: H, leadingDimension: max(H, 1)), .transpose,
                              into: MutableMatrixView(c, rows: B, columns: H, leadingDimension: max(ldc, 1)), beta: beta)
                }
            }
            // Split by items, every member reads every panel of W_hh and every column of its
            // items' projections, which the others packed and computed.
            if itemSplit { member.barrier() }
            for s in 0..<T {
                let t = reverse ? T - 1 - s : s
                let first = layout.firstRow(t)
                let hRead = s == 0 ? UnsafePointer(h0.storage.pointer) : UnsafePointer(states + ((s - 1) % 2) * B * H)
                let hWrite = states + (s % 2) * B * H
                // The state as the product reads it (this member's units or items), kept for the weight gradient.
                for b in items where sn > 0 {
                    let row = first + b * rs
                    if let md {
                        Elementwise.multiplyVectorised(hRead + b * H + sj0, md + b * H + sj0, into: hmRows.at(row, b) + sj0, count: sn)
                    } else {
                        (hmRows.at(row, b) + sj0).update(from: hRead + b * H + sj0, count: sn)
                    }
                    if let hPrev { (hPrev.pointer + row * H + sj0).update(from: hRead + b * H + sj0, count: sn) }
                }
                let a: MatrixView<Float>
                if md != nil {
                    if !itemSplit { member.barrier() }     // the product reads every unit of the masked state
                    a = hmRows.step(t, layout)
                } else {
                    a = MatrixView(hRead, rows: B, columns: H, leadingDimension: max(H, 1))
                }
                let stepXP = layout.step(t, of: xp, width: GH)
                for g in 0..<(resetBefore ? 2 : G) {
                    if isGRU && !resetBefore {
                        product(a, block: g, into: rec + g * H, ldc: GH, beta: 0)
                    } else {
                        product(a, block: g, into: stepXP.base + g * H, ldc: stepXP.leadingDimension, beta: 1)
                    }
                }
                for b in items where sn > 0 {
                    let row = first + b * rs
                    let active = lengths.map { t < $0[b] } ?? true
                    let hOld = hRead + b * H + sj0, hNew = hWrite + b * H + sj0
                    if let cPrevRows { (cPrevRows.at(row, b) + sj0).update(from: cN!.pointer + b * H + sj0, count: sn) }
                    guard active else {
                        (output.pointer + row * H + sj0).update(repeating: 0, count: sn)
                        hNew.update(from: hOld, count: sn)
                        continue
                    }
                    let pre = xp + row * GH + sj0, bias = stepBias.map { $0 + sj0 }
                    switch kind {
                    case .lstm:
                        let c = cN!.pointer + b * H + sj0, tc = tanhCRows!.at(row, b) + sj0
                        if let p {
                            Elementwise.lstmPeepholeCell(gates: pre, bias: bias, gateStride: H, peepholes: p + sj0, c: c,
                                                         tanhC: tc, h: hNew, count: sn)
                            if let cNew { (cNew.pointer + row * H + sj0).update(from: c, count: sn) }
                        } else {
                            Elementwise.lstmCell(gates: pre, bias: bias, gateStride: H, c: c, tanhC: tc, h: hNew, count: sn)
                        }
                        if let zc {
                            Elementwise.zoneout(previous: cPrevRows!.at(row, b) + sj0, current: c,
                                                mask: zc.row(row, item: b, width: H) + sj0, count: sn)
                        }
                    case .gru:
                        if resetBefore {
                            Elementwise.gruResetBeforeGates(gates: pre, bias: bias, gateStride: H, state: hmRows.at(row, b) + sj0,
                                                            reset: resetRows!.at(row, b) + sj0, count: sn)
                            continue    // n and h after the second product
                        }
                        hNew.update(from: hOld, count: sn)
                        Elementwise.gruCell(gates: pre, bias: bias, recurrent: rec + b * GH + sj0, gateStride: H,
                                            biasN: bhn.map { $0 + sj0 }, h: hNew, count: sn)
                        if let recurrentN { (recurrentN.pointer + row * H + sj0).update(from: rec + b * GH + 2 * H + sj0, count: sn) }
                    case .rnnTanh, .rnnReLU:
                        let preView = MatrixView(UnsafePointer(pre), rows: 1, columns: sn, leadingDimension: max(sn, 1))
                        let into = MutableMatrixView(hTildeRows!.at(row, b) + sj0, rows: 1, columns: sn, leadingDimension: max(sn, 1))
                        if kind == .rnnTanh { Elementwise.tanh(preView, adding: bias, into: into) } else {
                            Elementwise.relu(preView, adding: bias, into: into)
                        }
                        hNew.update(from: into.base, count: sn)
                    }
                    if let zh { Elementwise.zoneout(previous: hOld, current: hNew, mask: zh.row(row, item: b, width: H) + sj0, count: sn) }
                    (output.pointer + row * H + sj0).update(from: hNew, count: sn)
                }
                if resetBefore {
                    // n = tanh(W_in x + b_in + W_hn (r ⊙ hm) + b_hn), then h, once every unit's r ⊙ hm is in.
                    if !itemSplit { member.barrier() }
                    product(resetRows!.step(t, layout), block: 2, into: rec, ldc: H, beta: 0)
                    for b in items where sn > 0 && (lengths.map({ t < $0[b] }) ?? true) {
                        let row = first + b * rs
                        let hOld = hRead + b * H + sj0, hNew = hWrite + b * H + sj0
                        Elementwise.gruResetBeforeUpdate(gates: xp + row * GH + sj0, bias: stepBias.map { $0 + sj0 }, gateStride: H,
                                                         recurrent: rec + b * H + sj0, biasN: bhn.map { $0 + sj0 }, hPrev: hOld, h: hNew, count: sn)
                        if let zh { Elementwise.zoneout(previous: hOld, current: hNew, mask: zh.row(row, item: b, width: H) + sj0, count: sn) }
                        (output.pointer + row * H + sj0).update(from: hNew, count: sn)
                    }
                }
                if !itemSplit { member.barrier() }
            }
        }
        if T > 0 { hN.pointer.update(from: states + ((T - 1) % 2) * B * H, count: B * H) } else {
            hN.pointer.update(from: h0.storage.pointer, count: B * H)
        }

        guard recording, let gates, let hm else {
            return FusedRecurrence.layerResults("", input: input, batch: B, hidden: H, outputHidden: H, output: output, hN: hN, cN: cN,
                                                inputs: [], recording: false) { _, _ in }
        }
        let saved = Saved(gates: gates, hm: hm, hPrev: hPrev, cPrev: cPrev, cNew: cNew, tanhC: tanhC, reset: reset,
                          recurrentN: recurrentN, hTilde: hTilde)
        let name = isLSTM ? (p != nil ? "lstmPeepholeBackward" : "lstmVariantBackward")
            : isGRU ? (resetBefore ? "gruResetBeforeBackward" : "gruVariantBackward") : "rnnVariantBackward"
        let inputOrder = pending?.inputOrder
        return FusedRecurrence.layerResults(name, input: input, batch: B, hidden: H, outputHidden: H, output: output, hN: hN, cN: cN,
                                            inputs: inputs, recording: true, pending: pending) { gradOutputs, gradInputs in
            backward(kind: kind, layout: layout, reverse: reverse, lengths: lengths, sizes: (I: I, H: H, GH: GH),
                     hasC0: c0 != nil, x: x, wih: wih, whh: whh, hasBiasIH: bih != nil, hasBiasHH: bhh != nil,
                     variant: variant, saved: saved, gradOutputs: gradOutputs, gradInputs: gradInputs, inputOrder: inputOrder)
            withExtendedLifetime((saved, output, input, h0, weights.tensors, variant.peepholes, variant.stateMask,
                                  variant.zoneoutH?.values, variant.zoneoutC?.values)) {}
        }
    }

    /// The team a layer of `batch` items, `hidden` units and `gates` gate blocks runs its
    /// steps on, forward and backward: whether the packed kernels take its products, its
    /// `workers` (one without them), and whether its steps split by items
    /// (``BatchSplitRecurrence/splitsLayerSteps(batch:workers:gateColumns:depth:)``).
    static func stepTeam(batch B: Int, hidden H: Int, gates G: Int) -> (packs: Bool, workers: Int, itemSplit: Bool) {
        let packs = PackedGEMM.isAvailable && H > 0
        let workers = packs ? FusedRecurrence.teamSize(batch: B, hidden: H, gates: G, depth: H, hasProjection: false) : 1
        return (packs, workers, BatchSplitRecurrence.splitsLayerSteps(batch: B, workers: workers, gateColumns: G * H, depth: H))
    }

    /// What the forward keeps for the backward.
    struct Saved {
        let gates: TensorBuffer, hm: TensorBuffer
        let hPrev: TensorBuffer?, cPrev: TensorBuffer?, cNew: TensorBuffer?, tanhC: TensorBuffer?
        let reset: TensorBuffer?, recurrentN: TensorBuffer?, hTilde: TensorBuffer?
    }

    /// The hand-written backward of ``run(kind:input:layout:reverse:h0:c0:weights:variant:lengths:)``.
    /// Gradients are added into `gradInputs` (in the node's input order; `nil` where none is needed).
    /// With `inputOrder`, the input's gradient is added in a bidirectional layer's order of
    /// directions (``InputGradientOrder``).
    static func backward(
        kind: CellKind, layout: SequenceLayout, reverse: Bool, lengths: [Int]?, sizes: (I: Int, H: Int, GH: Int),
        hasC0: Bool, x: UnsafeMutablePointer<Float>, wih: UnsafeMutablePointer<Float>, whh: UnsafeMutablePointer<Float>,
        hasBiasIH: Bool, hasBiasHH: Bool, variant: CellVariant, saved: Saved,
        gradOutputs: [UnsafePointer<Float>?], gradInputs: [UnsafeMutablePointer<Float>?], inputOrder: InputGradientOrder? = nil
    ) {
        defer { inputOrder?.finishTurn() }                 // whatever was skipped
        let (I, H, GH) = sizes
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let G = kind.gateCount
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
        // W_hh is packed (no transpose) for the state gradients, by columns: with the reset
        // before the product, its n rows (all columns) and then its r, z rows (all columns).
        let (packs, workers, itemSplit) = stepTeam(batch: B, hidden: H, gates: G)
        let packedCount = packs ? PackedGEMM.packedCount(columns: H, depth: GH) : 0
        let packedNCount = packs && resetBefore ? PackedGEMM.packedCount(columns: H, depth: H) : 0
        // Small steps of many items run split by items, as in the forward: each member all
        // columns of its items, no barrier per step (W_hh packed by columns first). The
        // peepholes' gradient, a sum over the items, is then summed after the steps
        // (``addPeepholeGradients``), in the order of one thread; the cell kernel's own
        // accumulation goes to a member's scratch (`peepholeSink`), never read.
        let sinkCount = itemSplit && p != nil ? workers * 3 * H : 0
        let dGCount = R * GH, dGhCount = isGRU && !resetBefore ? R * GH : 0
        let stepCount = B * H
        let scratchBlock = ScratchPool.shared.take(dGCount + dGhCount + 5 * stepCount + 3 * H + packedCount + sinkCount)
        defer { ScratchPool.shared.give(scratchBlock) }
        let dG = scratchBlock.pointer
        let dGh = isGRU && !resetBefore ? dG + dGCount : dG
        let dh = dG + dGCount + dGhCount, dc = dh + stepCount
        let dProduct = dc + stepCount, directH = dProduct + stepCount, directC = directH + stepCount
        let dPeepholes = directC + stepCount
        let packedWhh = dPeepholes + 3 * H
        let peepholeSink = packedWhh + packedCount
        if lengths != nil { dG.update(repeating: 0, count: dGCount + dGhCount) }
        if let gHN { dh.update(from: gHN, count: stepCount) } else { dh.update(repeating: 0, count: stepCount) }
        if let gCN, isLSTM { dc.update(from: gCN, count: stepCount) } else { dc.update(repeating: 0, count: stepCount) }
        dPeepholes.update(repeating: 0, count: 3 * H)
        peepholeSink.update(repeating: 0, count: sinkCount)

        let threadsToRestore = ComputeThreads.enterSingleThreadedRegion()
        defer { FusedRecurrence.restoreThreads(threadsToRestore) }
        let g = saved.gates.pointer, hm = saved.hm.pointer
        let hp = (saved.hPrev ?? saved.hm).pointer          // the unmasked h_{t−1}
        ComputeThreads.run(workers: workers) { member in
            let units = member.share(of: H, granularity: packs ? PackedGEMM.panelWidth : Swift.max(H, 1))
            let u0 = units.lowerBound, n = units.count
            // Packed, this member's columns: W_hh[rows, u0..<u0+n] for rows 0..<GH, or (reset
            // before) rows 2H..<3H into the n block and rows 0..<2H into the r, z block.
            if packs && n > 0 {
                if resetBefore {
                    PackedGEMM.pack(MatrixView(whh + 2 * H * H + u0, rows: H, columns: n, leadingDimension: max(H, 1)), .noTranspose,
                                    into: packedWhh + u0 * H)
                    PackedGEMM.pack(MatrixView(whh + u0, rows: 2 * H, columns: n, leadingDimension: max(H, 1)), .noTranspose,
                                    into: packedWhh + packedNCount + u0 * 2 * H)
                } else {
                    PackedGEMM.pack(MatrixView(whh + u0, rows: GH, columns: n, leadingDimension: max(H, 1)), .noTranspose,
                                    into: packedWhh + u0 * GH)
                }
            }
            if itemSplit { member.barrier() }   // every member reads every column of W_hh
            // What it computes in each step: all columns of its items (split by items), or its
            // columns of every item.
            let items = BatchSplitRecurrence.items(of: member, batch: B, split: itemSplit)
            let b0 = items.lowerBound, nb = items.count
            let stepUnits = itemSplit ? 0..<H : units
            let su0 = stepUnits.lowerBound, sn = stepUnits.count
            let packedN = packedWhh + su0 * (resetBefore ? H : GH), packedRZ = packedWhh + packedNCount + su0 * 2 * H
            let peepholeTarget = itemSplit ? peepholeSink + member.index * 3 * H : dPeepholes
            /// This member's step columns of `dProduct (B × H) ← dG · W + beta·dProduct` in the
            /// rows of its items, where `dG` is `B × depth` and `W` the `depth` rows of W_hh from
            /// `firstRow` (`packed` if packed).
            func stateGradient(_ stepDG: MatrixView<Float>, firstRow: Int, packed: UnsafeMutablePointer<Float>, beta: Float) {
                guard sn > 0 && nb > 0 else { return }
                if packs {
                    PackedGEMM.multiply(stepDG.rows(items), packed: packed, columns: sn,
                                        into: MutableMatrixView(dProduct + b0 * H + su0, rows: nb, columns: sn, leadingDimension: max(H, 1)),
                                        beta: beta)
                } else {
                    BLAS.gemm(stepDG, .noTranspose, MatrixView(whh + firstRow * H, rows: stepDG.columns, columns: H, leadingDimension: max(H, 1)),
                              .noTranspose, into: MutableMatrixView(dProduct, rows: B, columns: H, leadingDimension: max(H, 1)), beta: beta)
                }
            }
            for s in stride(from: T - 1, through: 0, by: -1) {
                let t = reverse ? T - 1 - s : s
                let first = layout.firstRow(t)
                func isActive(_ b: Int) -> Bool { lengths.map { t < $0[b] } ?? true }
                for b in items where sn > 0 && isActive(b) {
                    let row = first + b * rs
                    let dhb = dh + b * H + su0
                    if let gY { Elementwise.add(dhb, gY + row * H + su0, into: dhb, count: sn) }
                    if let zh {
                        Elementwise.zoneoutBackward(mask: zh.row(row, item: b, width: H) + su0, gradient: dhb, direct: directH + b * H + su0, count: sn)
                    }
                    let dgRow = dG + row * GH + su0, gRow = g + row * GH + su0
                    switch kind {
                    case .lstm:
                        let dcb = dc + b * H + su0
                        if let zc {
                            Elementwise.zoneoutBackward(mask: zc.row(row, item: b, width: H) + su0, gradient: dcb, direct: directC + b * H + su0, count: sn)
                        }
                        let tc = saved.tanhC!.pointer + row * H + su0, cp = saved.cPrev!.pointer + row * H + su0
                        if let p {
                            Elementwise.lstmPeepholeCellBackward(gates: gRow, gateStride: H, peepholes: p + su0, tanhC: tc, cPrev: cp,
                                                                 cNew: saved.cNew!.pointer + row * H + su0, dh: dhb, dc: dcb, dG: dgRow,
                                                                 dPeepholes: peepholeTarget + su0, count: sn)
                        } else {
                            Elementwise.lstmCellBackward(gates: gRow, gateStride: H, tanhC: tc, cPrev: cp, dh: dhb, dc: dcb, dG: dgRow, count: sn)
                        }
                        if zc != nil { Elementwise.add(dcb, directC + b * H + su0, into: dcb, count: sn) }
                        dhb.update(repeating: 0, count: sn)
                    case .gru:
                        if resetBefore {
                            Elementwise.gruResetBeforeBackwardUpdate(gates: gRow, gateStride: H, hPrev: hp + row * H + su0, dh: dhb, dG: dgRow, count: sn)
                        } else {
                            Elementwise.gruCellBackward(gates: gRow, gateStride: H, recurrentN: saved.recurrentN!.pointer + row * H + su0,
                                                        hPrev: hp + row * H + su0, dh: dhb, dGx: dgRow, dGh: dGh + row * GH + su0, count: sn)
                        }
                    case .rnnTanh, .rnnReLU:
                        let y = MatrixView(UnsafePointer(saved.hTilde!.pointer + row * H + su0), rows: 1, columns: sn, leadingDimension: max(sn, 1))
                        let d = MatrixView(UnsafePointer(dhb), rows: 1, columns: sn, leadingDimension: max(sn, 1))
                        let into = MutableMatrixView(dgRow, rows: 1, columns: sn, leadingDimension: max(sn, 1))
                        if kind == .rnnTanh { Elementwise.tanhBackward(output: y, gradient: d, adding: nil, into: into) } else {
                            Elementwise.reluBackward(output: y, gradient: d, adding: nil, into: into)
                        }
                        dhb.update(repeating: 0, count: sn)
                    }
                    if zh != nil { Elementwise.add(dhb, directH + b * H + su0, into: dhb, count: sn) }
                }
                if !itemSplit { member.barrier() }     // every unit's dG_t is in
                // The gradient reaching the state the product read (hm), this member's step columns of its items.
                let stepDG = layout.step(t, of: dG, width: GH)
                if resetBefore {
                    // ds = dG_n · W_hn; dG_r from it; then dhm = ds ⊙ r + [dG_r dG_z] · W_h{r,z}.
                    stateGradient(MatrixView(UnsafePointer(stepDG.base + 2 * H), rows: B, columns: H, leadingDimension: stepDG.leadingDimension),
                                  firstRow: 2 * H, packed: packedN, beta: 0)
                    for b in items where sn > 0 && isActive(b) {
                        let row = first + b * rs
                        Elementwise.gruResetBeforeBackwardGates(gates: g + row * GH + su0, state: hm + row * H + su0, ds: dProduct + b * H + su0,
                                                                dG: dG + row * GH + su0, count: sn)
                    }
                    if !itemSplit { member.barrier() }     // every unit's dG_r is in
                    stateGradient(MatrixView(UnsafePointer(stepDG.base), rows: B, columns: 2 * H, leadingDimension: stepDG.leadingDimension),
                                  firstRow: 0, packed: packedRZ, beta: 1)
                } else {
                    stateGradient(layout.step(t, of: dGh, width: GH).readOnly, firstRow: 0, packed: packedN, beta: 0)
                }
                for b in items where sn > 0 && isActive(b) {
                    let dhb = dh + b * H + su0, dpb = dProduct + b * H + su0
                    if let md {
                        Elementwise.multiplyAddVectorised(dpb, md + b * H + su0, into: dhb, count: sn)
                    } else {
                        Elementwise.add(dhb, dpb, into: dhb, count: sn)
                    }
                }
            }
        }
        if itemSplit, p != nil {
            addPeepholeGradients(layout: layout, reverse: reverse, lengths: lengths, hidden: H, dG: dG, saved: saved, into: dPeepholes)
        }
        if let gH0 { Elementwise.add(gH0, dh, into: gH0, count: stepCount) }
        if let gC0, isLSTM { Elementwise.add(gC0, dc, into: gC0, count: stepCount) }
        if let gP { Elementwise.add(gP, dPeepholes, into: gP, count: 3 * H) }

        guard R > 0 && GH > 0 else { return }
        // The sequence-wide products, in chunks fixed by the shapes alone: dX and dW_ih as the
        // plain layers run them; dW_hh += dGhᵀ · states by gate rows (the reset-before GRU's
        // n rows pair with r ⊙ hm, every other row with hm), the states packed for the
        // transposed kernel where it runs; the bias sums by columns.
        let whhChunks = gWhh != nil && H > 0 ? FusedRecurrence.productChunks(R * GH * H) : 0
        let biasChunks = FusedRecurrence.biasChunkCount(rows: R, columns: GH, needed: gBih != nil || gBhh != nil)
        let packsDW = PackedGEMM.isTransposedAvailable && R * GH * Swift.max(I, H) >= FusedRecurrence.packedBackwardMultiplyAdds
        let statePackCount = packsDW && whhChunks > 0 ? PackedGEMM.packedCount(columns: H, depth: R) : 0
        let stateSets: [UnsafeMutablePointer<Float>] = resetBefore ? [hm, saved.reset!.pointer] : [hm]
        let packBlock = ScratchPool.shared.take(stateSets.count * statePackCount)
        defer { ScratchPool.shared.give(packBlock) }
        FusedRecurrence.inputGradients(rows: R, gates: GH, inputs: I, x: x, wih: wih, dG: dG, gX: gX, gWih: gWih,
                                       packsTransposed: packsDW, order: inputOrder, chunks: whhChunks + biasChunks,
                                       extraMultiplyAdds: (whhChunks > 0 ? R * GH * H : 0) + (biasChunks > 0 ? R * GH : 0)) { member in
            let mine = member.share(of: H, granularity: PackedGEMM.panelWidth)
            guard statePackCount > 0 && !mine.isEmpty else { return }
            for (k, states) in stateSets.enumerated() {
                PackedGEMM.pack(MatrixView(states + mine.lowerBound, rows: R, columns: mine.count, leadingDimension: max(H, 1)),
                                .noTranspose, into: packBlock.pointer + k * statePackCount + mine.lowerBound * R)
            }
        } chunk: { c in
            if c < whhChunks, let gWhh {
                let rows = FusedRecurrence.chunk(c, of: whhChunks, total: GH)
                let split = resetBefore ? Swift.min(Swift.max(2 * H, rows.lowerBound), rows.upperBound) : rows.upperBound
                for (k, part) in [rows.lowerBound..<split, split..<rows.upperBound].enumerated() where !part.isEmpty {
                    let dGPart = MatrixView(UnsafePointer(dGh + part.lowerBound), rows: R, columns: part.count, leadingDimension: max(GH, 1))
                    let into = MutableMatrixView(gWhh + part.lowerBound * H, rows: part.count, columns: H, leadingDimension: max(H, 1))
                    if statePackCount > 0 {
                        PackedGEMM.multiplyTransposed(dGPart, packed: packBlock.pointer + k * statePackCount, columns: H, into: into, beta: 1)
                    } else {
                        BLAS.gemm(dGPart, .transpose, MatrixView(UnsafePointer(stateSets[k]), rows: R, columns: H, leadingDimension: max(H, 1)),
                                  .noTranspose, into: into, beta: 1)
                    }
                }
            } else if c >= whhChunks {
                let columns = FusedRecurrence.chunk(c - whhChunks, of: biasChunks, total: GH)
                guard !columns.isEmpty else { return }
                let c0 = columns.lowerBound
                if let gBih { Elementwise.accumulateColumnSums(of: MatrixView(UnsafePointer(dG + c0), rows: R, columns: columns.count, leadingDimension: max(GH, 1)), into: gBih + c0) }
                if let gBhh { Elementwise.accumulateColumnSums(of: MatrixView(UnsafePointer(dGh + c0), rows: R, columns: columns.count, leadingDimension: max(GH, 1)), into: gBhh + c0) }
            }
        }
    }

    /// The peepholes' gradient of an LSTM's backward, `dp_i += dG_i ⊙ c_{t−1}`,
    /// `dp_f += dG_f ⊙ c_{t−1}`, `dp_o += dG_o ⊙ c_t` over every active row, added into
    /// `dPeepholes` (`3 × H`, laid out as the peepholes) in the order the cell kernel
    /// (``Elementwise/lstmPeepholeCellBackward(gates:gateStride:peepholes:tanhC:cPrev:cNew:dh:dc:dG:dPeepholes:count:)``)
    /// adds them on one thread — the steps in reverse, the items in order, each a product then
    /// a sum — so that the sum has one thread's bits when the steps ran split by items.
    /// `dG` holds the pre-activation gradients of every step (`R × 4H`, the layout's rows).
    static func addPeepholeGradients(layout: SequenceLayout, reverse: Bool, lengths: [Int]?, hidden H: Int,
                                     dG: UnsafePointer<Float>, saved: Saved, into dPeepholes: UnsafeMutablePointer<Float>) {
        guard H > 0, let cPrev = saved.cPrev?.pointer, let cNew = saved.cNew?.pointer else { return }
        let T = layout.steps, B = layout.batch, rs = layout.rowStride
        for s in stride(from: T - 1, through: 0, by: -1) {
            let t = reverse ? T - 1 - s : s
            let first = layout.firstRow(t)
            for b in 0..<B where lengths.map({ t < $0[b] }) ?? true {
                let row = first + b * rs
                let gRow = dG + row * 4 * H, cp = cPrev + row * H
                Elementwise.multiplyAddVectorised(gRow, cp, into: dPeepholes, count: H)
                Elementwise.multiplyAddVectorised(gRow + H, cp, into: dPeepholes + H, count: H)
                Elementwise.multiplyAddVectorised(gRow + 3 * H, cNew + row * H, into: dPeepholes + 2 * H, count: H)
            }
        }
    }
}
