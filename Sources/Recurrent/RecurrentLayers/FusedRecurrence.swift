import LinearAlgebra

/// The kind of recurrent cell a fused layer runs, with its gate count.
public enum CellKind: Sendable, Equatable {
    /// `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)`.
    case rnnTanh
    /// `h' = relu(W_ih x + b_ih + W_hh h + b_hh)`.
    case rnnReLU
    /// LSTM with gates i, f, g, o (PyTorch's order).
    case lstm
    /// GRU with gates r, z, n and `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))`.
    case gru

    /// The number of gate blocks stacked in `W_ih` and `W_hh` (1, 4 or 3).
    public var gateCount: Int {
        switch self {
        case .rnnTanh, .rnnReLU: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }
}

/// How the rows of a sequence buffer are ordered: `(T, B, width)` (sequence first) or
/// `(B, T, width)` (batch first). The `B` rows of time step `t` form a strided matrix,
/// which BLAS reads directly, without transposing.
@usableFromInline
struct SequenceLayout {
    @usableFromInline let steps: Int
    @usableFromInline let batch: Int
    @usableFromInline let batchFirst: Bool

    @usableFromInline init(steps: Int, batch: Int, batchFirst: Bool) {
        self.steps = steps; self.batch = batch; self.batchFirst = batchFirst
    }

    /// Rows in total (`T · B`).
    @inlinable var rows: Int { steps * batch }
    /// The row of step `t`, batch item 0.
    @inlinable func firstRow(_ t: Int) -> Int { batchFirst ? t : t * batch }
    /// The distance in rows between batch items of one step.
    @inlinable var rowStride: Int { batchFirst ? steps : 1 }

    /// The `B × width` block of step `t` in a buffer of rows `width` wide.
    @inlinable func step(_ t: Int, of base: UnsafeMutablePointer<Float>, width: Int, column: Int = 0, rowWidth: Int? = nil) -> MutableMatrixView<Float> {
        let w = rowWidth ?? width
        return MutableMatrixView(base + firstRow(t) * w + column, rows: batch, columns: width, leadingDimension: Swift.max(1, rowStride * w))
    }
}

/// The weights of one layer and direction, as raw storage (shapes as in PyTorch).
@usableFromInline
struct RecurrentWeights {
    @usableFromInline let weightIH: Tensor      // (G·H, I)
    @usableFromInline let weightHH: Tensor      // (G·H, Hr)
    @usableFromInline let biasIH: Tensor?       // (G·H)
    @usableFromInline let biasHH: Tensor?       // (G·H)
    @usableFromInline let weightHR: Tensor?     // (Hr, H), LSTM projections only
    /// LSTM peepholes `(3, H)` (p_i, p_f, p_o), run by ``FusedVariantRecurrence`` only; not in ``tensors``.
    @usableFromInline let peepholes: Tensor?

    @usableFromInline init(weightIH: Tensor, weightHH: Tensor, biasIH: Tensor?, biasHH: Tensor?, weightHR: Tensor?,
                           peepholes: Tensor? = nil) {
        self.weightIH = weightIH; self.weightHH = weightHH
        self.biasIH = biasIH; self.biasHH = biasHH; self.weightHR = weightHR
        self.peepholes = peepholes
    }

    /// The same weights with `W_hh` replaced (weight drop).
    func replacingWeightHH(_ weightHH: Tensor) -> RecurrentWeights {
        RecurrentWeights(weightIH: weightIH, weightHH: weightHH, biasIH: biasIH, biasHH: biasHH, weightHR: weightHR,
                         peepholes: peepholes)
    }

    /// The tensors in node-input order (after the input and the initial states).
    @usableFromInline var tensors: [Tensor] {
        var result = [weightIH, weightHH]
        if let biasIH { result.append(biasIH) }
        if let biasHH { result.append(biasHH) }
        if let weightHR { result.append(weightHR) }
        return result
    }
}

/// One recurrent layer in one direction over a whole sequence, as a single autograd node
/// with a hand-written backpropagation through time (as cuDNN and oneDNN do); the two
/// directions of a bidirectional layer are one node together (``BidirectionalNode``), and so
/// are stacked layers that ran as a wavefront (``WavefrontNode``).
///
/// Forward: one GEMM projects the inputs of every step (`X · W_ihᵀ + biases`; a plain RNN
/// adds its biases in each step's activation instead); each step is one GEMM (`gemv` for a
/// batch of one) with `W_hh` plus vectorised elementwise work. A plain RNN keeps no copy of
/// its states: `h_t` is its output at step `t`.
/// Backward: walks the steps in reverse; only `dh_{t-1} = dG_t · W_hh` is sequential, and
/// the weight gradients are single GEMMs over all steps. Buffers are allocated once per
/// call, never per step.
///
/// Variable lengths: batch item `b` is active at step `t` when `t < lengths[b]`. Inactive
/// items keep their state and output zeros, so the forward direction's final state is the
/// state after each item's own last step and the reverse direction starts at that step.
@usableFromInline
enum FusedRecurrence {
    /// Runs the layer. `input` is `(T, B, I)` or `(B, T, I)` (per `batchFirst`), `h0` `(B, Hr)`,
    /// `c0` `(B, H)` for LSTMs. Returns the output `(T, B, Hr)` or `(B, T, Hr)`, the final
    /// hidden state `(B, Hr)` and, for LSTMs, the final cell state `(B, H)`.
    ///
    /// Where the packed kernels run, the layer is one team of ``ComputeThreads`` workers
    /// (``teamSize(batch:hidden:gates:depth:hasProjection:)``): each worker owns a range of
    /// hidden units, computes the input projection and every step's product for the gate
    /// columns of its units, and their elementwise update; one barrier per step publishes the
    /// new state. Small steps of many items (``BatchSplitRecurrence/splitsSteps(batch:workers:stepMultiplyAdds:weightBytes:)``)
    /// run by items instead once the projection is done: each worker all columns of its items,
    /// with no barrier per step. No reduction is split and no row changes its kernel tile, so
    /// the results are the same for every team size.
    ///
    /// `gradMode` stands for ``GradMode/isEnabled`` when the call runs on a thread of the
    /// worker pool, where the caller's task-local value cannot be read.
    ///
    /// `stage` makes the layer one link of a wavefront (``WavefrontRecurrence``): it runs as a
    /// team of one, projects its input chunk by chunk as the layer below delivers it, and
    /// publishes its progress step by step; its backward finds its hand-off in the stage's
    /// ``WavefrontStage/backwardSlot`` when the group's node runs it as a wavefront.
    ///
    /// With `pending` (one direction of a bidirectional layer), a recording call makes no node:
    /// it leaves the node's parts there for ``BidirectionalNode`` to make one node of both
    /// directions.
    @usableFromInline
    static func run(kind: CellKind, input: Tensor, layout: SequenceLayout, reverse: Bool,
                    h0: Tensor, c0: Tensor?, weights: RecurrentWeights,
                    lengths: [Int]?, gradMode: Bool? = nil, stage: WavefrontStage? = nil,
                    pending: PendingNode? = nil) -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        let T = layout.steps, B = layout.batch, R = layout.rows
        let G = kind.gateCount
        let GH = weights.weightIH.shape[0], H = GH / G
        let I = weights.weightIH.shape[1]
        let Hr = weights.weightHH.shape[1]
        let isLSTM = kind == .lstm, isGRU = kind == .gru
        let hasProjection = weights.weightHR != nil

        var inputs = [input, h0]
        if let c0 { inputs.append(c0) }
        inputs += weights.tensors
        let recording = stage?.recording
            ?? gradMode.map { enabled in enabled && inputs.contains(where: \.requiresGrad) } ?? Tensor.needsRecording(inputs)

        let x = input.storage.pointer
        let wih = weights.weightIH.storage.pointer, whh = weights.weightHH.storage.pointer
        let bih = weights.biasIH?.storage.pointer, bhh = weights.biasHH?.storage.pointer
        let whr = weights.weightHR?.storage.pointer

        // The packed kernels (when they run here) take every product of the layer, W_ihᵀ and
        // W_hhᵀ packed once per call, gate block by gate block, so that any range of hidden
        // units is a run of whole panels in each block.
        let packs = PackedGEMM.isAvailable && GH > 0
        let workers = packs && stage == nil ? teamSize(batch: B, hidden: H, gates: G, depth: Swift.max(Hr, 1), hasProjection: hasProjection) : 1
        let whhBlock = packs && Hr > 0 ? PackedGEMM.packedCount(columns: H, depth: Hr) : 0
        let wihBlock = packs && I > 0 && R > 0 ? PackedGEMM.packedCount(columns: H, depth: I) : 0

        // Buffers for the whole sequence (rows in the layout's order). What only the backward
        // reads is kept only while recording; scratch that never leaves this call is one
        // uninitialised allocation, freed on return. Nothing is allocated per step.
        // X·W_ihᵀ + biases, then (RNN, LSTM) + h·W_hhᵀ in place; LSTM and GRU activate their
        // gates in place, and the backward reads them from there.
        let keepsGates = recording && (isLSTM || isGRU)
        let xpScratch = keepsGates ? 0 : R * GH
        let tanhCScratch = isLSTM && !recording ? B * H : 0
        let wholeStepRNN = statesAreOutputs(kind, lengths: lengths)
        let hhCount = isGRU ? B * GH : 0                   // h·W_hhᵀ of the current step: GRU
        let hasBias = bih != nil || bhh != nil
        let stepBiasCount = hasBias ? GH : 0                // the summed biases, added in each step's activation
        let projectedCount = hasProjection ? B * Hr : 0
        let stateCount = wholeStepRNN ? 0 : 2 * B * Hr      // h_{t−1} and h_t, alternating
        let scratchBlock = ScratchPool.shared.take(xpScratch + tanhCScratch + hhCount + projectedCount + G * whhBlock
                                                   + stepBiasCount + G * wihBlock + stateCount)
        defer { ScratchPool.shared.give(scratchBlock) }
        let scratch = scratchBlock.pointer
        // Buffers every step writes in full skip the zero-fill; those written only for the
        // active items of variable-length batches start at zero.
        func written(_ count: Int) -> TensorBuffer { TensorBuffer(uninitializedCount: count) }
        func activeOnly(_ count: Int) -> TensorBuffer {
            lengths == nil ? TensorBuffer(uninitializedCount: count) : TensorBuffer(count: count)
        }
        let gatesBuffer: TensorBuffer? = keepsGates ? written(R * GH) : nil
        let xp = gatesBuffer?.pointer ?? scratch
        // The state each step read; a whole-step RNN's backward reads it from the outputs and h0.
        let hPrev: TensorBuffer? = recording && !wholeStepRNN ? written(R * Hr) : nil
        let cPrev: TensorBuffer? = recording && isLSTM ? written(R * H) : nil
        let tanhC: TensorBuffer? = recording && isLSTM ? activeOnly(R * H) : nil
        let tanhCStep = tanhC?.pointer ?? scratch + xpScratch
        let hFull: TensorBuffer? = hasProjection ? activeOnly(R * H) : nil
        let hhN: TensorBuffer? = recording && isGRU ? activeOnly(R * H) : nil
        let output = stage?.output ?? written(R * Hr)
        let hN = T > 0 ? written(B * Hr) : TensorBuffer(copying: h0.storage.buffer)   // written after the steps
        let cN = c0.map { TensorBuffer(copying: $0.storage.buffer) }
        let hh = scratch + xpScratch + tanhCScratch
        let projected = hh + hhCount
        let packedWhh = projected + projectedCount
        let stepBias: UnsafeMutablePointer<Float>? = stepBiasCount > 0 ? packedWhh + G * whhBlock : nil
        let packedWih = packedWhh + G * whhBlock + stepBiasCount
        let states = packedWih + G * wihBlock
        // b_ih + b_hh, except GRU's n block, whose recurrent bias is gated by r (``bhn``).
        let folded = isGRU ? 2 * H : GH
        if let stepBias {
            for j in 0..<GH { stepBias[j] = (bih?[j] ?? 0) + (j < folded ? (bhh?[j] ?? 0) : 0) }
        }
        let h0p = UnsafePointer(h0.storage.pointer)
        let rs = layout.rowStride
        let bhn = isGRU ? bhh.map { UnsafePointer($0 + 2 * H) } : nil
        let xView = MatrixView(x, rows: R, columns: I, leadingDimension: max(I, 1))
        let whhView = MatrixView(whh, rows: GH, columns: Hr, leadingDimension: max(Hr, 1))

        /// Columns `first..<first+count` of a row-major buffer `rows` × `width` (`ld` apart).
        func columns(_ base: UnsafeMutablePointer<Float>, rows: Int, ld: Int, first: Int, count: Int) -> MutableMatrixView<Float> {
            MutableMatrixView(base + first, rows: rows, columns: count, leadingDimension: max(ld, 1))
        }

        // Where the packed kernels do not run: the input projection on BLAS (zeros without
        // an input), before the recurrence.
        if !packs {
            if I == 0 { xp.update(repeating: 0, count: R * GH) }
            if R > 0 && I > 0 {
                // In row chunks fixed by the shape, each a single-threaded BLAS call (OpenBLAS's
                // own threads would change the last bits with the thread count).
                let chunks = productChunks(R * GH * I)
                let wihView = MatrixView(wih, rows: GH, columns: I, leadingDimension: max(I, 1))
                ComputeThreads.run(workers: chunks) { member in
                    for c in stride(from: member.index, to: chunks, by: member.count) {
                        let rows = chunk(c, of: chunks, total: R)
                        BLAS.gemm(MatrixView(x + rows.lowerBound * I, rows: rows.count, columns: I, leadingDimension: max(I, 1)),
                                  .noTranspose, wihView, .transpose,
                                  into: MutableMatrixView(xp + rows.lowerBound * GH, rows: rows.count, columns: GH, leadingDimension: max(GH, 1)))
                    }
                }
            }
        }
        // Everything below runs inside a team, where OpenBLAS stays on one thread (its own
        // threads would change the last bits with the thread count).

        // Small steps of many items run split by items after the projection (each member all
        // columns of its items, no barrier per step: items never meet); others by columns.
        let itemSplit = !hasProjection && BatchSplitRecurrence.splitsLayerSteps(batch: B, workers: workers, gateColumns: GH, depth: Hr)

        ComputeThreads.run(workers: workers) { member in
            // This member's hidden units (whole 16-column panels) and, per gate block, its columns.
            let units = member.share(of: H, granularity: packs ? PackedGEMM.panelWidth : Swift.max(H, 1))
            let j0 = units.lowerBound, n = units.count
            // What it computes in each step: all columns of its items, or its columns of all.
            let items = BatchSplitRecurrence.items(of: member, batch: B, split: itemSplit)
            let b0 = items.lowerBound, nb = items.count
            let stepUnits = itemSplit ? 0..<H : units
            let sj0 = stepUnits.lowerBound, sn = stepUnits.count
            if packs {
                // 1. Pack this member's panels of W_hhᵀ and W_ihᵀ, and project its columns of
                // every step's input (over the biases, which a plain RNN adds per step).
                if n > 0 {
                    for g in 0..<G {
                        let rowsOfBlock = g * H + j0
                        if whhBlock > 0 {
                            PackedGEMM.pack(MatrixView(whh + rowsOfBlock * Hr, rows: n, columns: Hr, leadingDimension: max(Hr, 1)),
                                            .transpose, into: packedWhh + g * whhBlock + j0 * Hr)
                        }
                        if wihBlock > 0 {
                            PackedGEMM.pack(MatrixView(wih + rowsOfBlock * I, rows: n, columns: I, leadingDimension: max(I, 1)),
                                            .transpose, into: packedWih + g * wihBlock + j0 * I)
                        }
                    }
                    for g in 0..<G where stage == nil {       // a wavefront's link projects per chunk
                        let block = columns(xp, rows: R, ld: GH, first: g * H + j0, count: n)
                        if wihBlock > 0 {
                            PackedGEMM.multiply(xView, packed: packedWih + g * wihBlock + j0 * I, columns: n, into: block)
                        } else {
                            BLAS.scale(block, by: 0)
                        }
                    }
                }
            }
            /// This member's columns of `c ← h·W_hhᵀ + beta·c` for the states `h` (B × Hr)
            /// into `c` (B × GH, leading dimension `ldc`). With a few rows, where the product
            /// streams the packed weight rather than computes, step `s` reads the weight
            /// forwards when even and backwards when odd (the same bits): each step starts on
            /// what the last one read most recently, still in L2 when the weight about fills
            /// it (batch 1, hidden 256: −10 % time); a sweep in one direction over more than
            /// the cache holds misses on every line. With more rows the product is
            /// compute-bound and the order stays forwards (alternating cost 2–5 % at 64 rows).
            func recurrentProduct(_ h: MatrixView<Float>, into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float, step s: Int) {
                guard sn > 0 else { return }
                if Hr == 0 {
                    for g in 0..<G { BLAS.scale(columns(c, rows: h.rows, ld: ldc, first: g * H + sj0, count: sn), by: beta) }
                } else if packs {
                    let descending = h.rows <= alternatingOrderRows && s % 2 == 1
                    for q in 0..<G {
                        let g = descending ? G - 1 - q : q
                        PackedGEMM.multiply(h, packed: packedWhh + g * whhBlock + sj0 * Hr, columns: sn,
                                            into: columns(c, rows: h.rows, ld: ldc, first: g * H + sj0, count: sn), beta: beta,
                                            descending: descending)
                    }
                } else if h.rows == 1 {
                    BLAS.gemv(whhView, .noTranspose, h.base, into: c, beta: beta)
                } else {
                    BLAS.gemm(h, .noTranspose, whhView, .transpose,
                              into: MutableMatrixView(c, rows: B, columns: GH, leadingDimension: max(ldc, 1)), beta: beta)
                }
            }

            // Split by items, every member reads every panel of W_hh and every column of its
            // items' projections, which the others packed and computed.
            if itemSplit { member.barrier() }

            // 2. The recurrence. A whole-step RNN reads h_{t−1} from the previous step's
            // output rows (strided) and h0; the others alternate two state buffers, so that
            // no member writes a state another may still be reading.
            for s in 0..<T {
                let t = reverse ? T - 1 - s : s
                stage?.willRun(step: s, input: x, inputWidth: I, into: xp, gates: G, hidden: H,
                               packedWih: packedWih, packedBlock: wihBlock)
                let first = layout.firstRow(t)
                let stepXP = layout.step(t, of: xp, width: GH)
                if wholeStepRNN {
                    let prev = s == 0 ? MatrixView(h0p, rows: B, columns: Hr, leadingDimension: max(Hr, 1))
                        : layout.step(reverse ? t + 1 : t - 1, of: output.pointer, width: Hr).readOnly
                    recurrentProduct(prev.rows(items), into: stepXP.rows(items).base, ldc: stepXP.leadingDimension, beta: 1, step: s)
                    if sn > 0 {
                        let pre = MatrixView(UnsafePointer(stepXP.base + sj0), rows: B, columns: sn, leadingDimension: stepXP.leadingDimension)
                        let out = layout.step(t, of: output.pointer, width: sn, column: sj0, rowWidth: Hr)
                        if kind == .rnnTanh {
                            Elementwise.tanh(pre.rows(items), adding: stepBias.map { UnsafePointer($0 + sj0) }, into: out.rows(items))
                        } else {
                            Elementwise.relu(pre.rows(items), adding: stepBias.map { UnsafePointer($0 + sj0) }, into: out.rows(items))
                        }
                    }
                    if !itemSplit { member.barrier() }
                    continue
                }
                let hRead = s == 0 ? h0p : UnsafePointer(states + ((s - 1) % 2) * B * Hr)
                let hWrite = states + (s % 2) * B * Hr
                let hReadView = MatrixView(hRead, rows: B, columns: Hr, leadingDimension: max(Hr, 1))
                if isGRU { recurrentProduct(hReadView.rows(items), into: hh + b0 * GH, ldc: GH, beta: 0, step: s) } else {
                    recurrentProduct(hReadView.rows(items), into: stepXP.rows(items).base, ldc: stepXP.leadingDimension, beta: 1, step: s)
                }
                // This member's units of its items (the projection's owner: all of them).
                let own = hasProjection ? 0..<H : stepUnits
                let u0 = own.lowerBound, count = own.count
                if lengths == nil && !hasProjection && (isLSTM || isGRU) {
                    // Every item active: one call for the step's rows (this member's items).
                    let row0 = first + b0 * rs          // the first item's row of this step
                    if let hPrev {
                        Elementwise.copyRows(rows: nb, count: count, from: hRead + b0 * Hr + u0, stride: Hr,
                                             to: hPrev.pointer + row0 * Hr + u0, stride: rs * Hr)
                    }
                    let bias = stepBias.map { UnsafePointer($0 + u0) }
                    if isLSTM {
                        Elementwise.lstmCellRows(
                            rows: nb, count: count, gates: xp + row0 * GH + u0, gatesStride: rs * GH, bias: bias, gateStride: H,
                            c: cN!.pointer + b0 * H + u0, cStride: H, cPrev: cPrev.map { $0.pointer + row0 * H + u0 }, cPrevStride: rs * H,
                            tanhC: recording ? tanhCStep + row0 * H + u0 : tanhCStep + b0 * H + u0, tanhCStride: recording ? rs * H : H,
                            h: hWrite + b0 * Hr + u0, hStride: Hr, out: output.pointer + row0 * Hr + u0, outStride: rs * Hr)
                    } else {
                        Elementwise.gruCellRows(
                            rows: nb, count: count, gates: xp + row0 * GH + u0, gatesStride: rs * GH, bias: bias,
                            recurrent: hh + b0 * GH + u0, recurrentStride: GH, gateStride: H, biasN: bhn.map { $0 + u0 },
                            hPrev: hRead + b0 * Hr + u0, hPrevStride: Hr, h: hWrite + b0 * Hr + u0, hStride: Hr,
                            out: output.pointer + row0 * Hr + u0, outStride: rs * Hr,
                            recurrentN: hhN.map { $0.pointer + row0 * H + u0 }, recurrentNStride: rs * H)
                    }
                    if !itemSplit { member.barrier() }
                    continue
                }
                for b in items {
                    let row = first + b * rs
                    let active = lengths.map { t < $0[b] } ?? true
                    if let hPrev {
                        (hPrev.pointer + row * Hr + u0).update(from: hRead + b * Hr + u0, count: hasProjection ? Hr : count)
                        if let cPrev { (cPrev.pointer + row * H + u0).update(from: cN!.pointer + b * H + u0, count: count) }
                    }
                    let outRow = output.pointer + row * Hr
                    guard active else {
                        if !hasProjection {
                            (outRow + u0).update(repeating: 0, count: count)
                            (hWrite + b * Hr + u0).update(from: hRead + b * Hr + u0, count: count)
                        }
                        continue
                    }
                    let pre = xp + row * GH
                    switch kind {
                    case .rnnTanh, .rnnReLU:
                        let p = MatrixView(UnsafePointer(pre + u0), rows: 1, columns: count, leadingDimension: max(count, 1))
                        let h = MutableMatrixView(hWrite + b * Hr + u0, rows: 1, columns: count, leadingDimension: max(count, 1))
                        let bias = stepBias.map { UnsafePointer($0 + u0) }
                        if kind == .rnnTanh { Elementwise.tanh(p, adding: bias, into: h) } else { Elementwise.relu(p, adding: bias, into: h) }
                        (outRow + u0).update(from: h.base, count: count)
                    case .lstm:
                        let target = hFull.map { $0.pointer + row * H } ?? hWrite + b * Hr
                        let tc = recording ? tanhCStep + row * H : tanhCStep + b * H
                        Elementwise.lstmCell(gates: pre + u0, bias: stepBias.map { UnsafePointer($0 + u0) }, gateStride: H,
                                             c: cN!.pointer + b * H + u0, tanhC: tc + u0,
                                             h: target + u0, count: count)
                        if !hasProjection { (outRow + u0).update(from: target + u0, count: count) }
                    case .gru:
                        let rec = hh + b * GH
                        let h = hWrite + b * Hr
                        (h + u0).update(from: hRead + b * Hr + u0, count: count)
                        Elementwise.gruCell(gates: pre + u0, bias: stepBias.map { UnsafePointer($0 + u0) }, recurrent: rec + u0,
                                            gateStride: H, biasN: bhn.map { $0 + u0 },
                                            h: h + u0, count: count)
                        if let hhN { (hhN.pointer + row * H + u0).update(from: rec + 2 * H + u0, count: count) }
                        (outRow + u0).update(from: h + u0, count: count)
                    }
                }
                if let hFull, let whr {
                    // h = h_full · W_hrᵀ for the whole step (a team of one), then kept for the
                    // active items; inactive items keep their state.
                    let step = layout.step(t, of: hFull.pointer, width: H)
                    BLAS.gemm(step.readOnly, .noTranspose, MatrixView(whr, rows: Hr, columns: H, leadingDimension: max(H, 1)), .transpose,
                              into: MutableMatrixView(projected, rows: B, columns: Hr, leadingDimension: max(Hr, 1)))
                    for b in 0..<B {
                        let row = first + b * rs
                        if lengths.map({ t < $0[b] }) ?? true {
                            (hWrite + b * Hr).update(from: projected + b * Hr, count: Hr)
                            (output.pointer + row * Hr).update(from: projected + b * Hr, count: Hr)
                        } else {
                            (hWrite + b * Hr).update(from: hRead + b * Hr, count: Hr)
                            (output.pointer + row * Hr).update(repeating: 0, count: Hr)
                        }
                    }
                }
                if !itemSplit { member.barrier() }
            }
            stage?.finishedSteps()
        }

        if T > 0 {
            if wholeStepRNN {
                // A plain RNN's final state is its last step's output.
                let last = layout.step(reverse ? 0 : T - 1, of: output.pointer, width: Hr)
                for b in 0..<B { (hN.pointer + b * Hr).update(from: last.base + b * last.leadingDimension, count: Hr) }
            } else {
                hN.pointer.update(from: states + ((T - 1) % 2) * B * Hr, count: B * Hr)
            }
        }

        guard recording else {
            return layerResults("", input: input, batch: B, hidden: H, outputHidden: Hr, output: output, hN: hN, cN: cN,
                                inputs: [], recording: false) { _, _ in }
        }
        let empty = TensorBuffer(count: 0)
        let gates = gatesBuffer ?? empty, hPrevB = hPrev ?? empty, cPrevB = cPrev ?? empty
        let tanhCB = tanhC ?? empty, hFullB = hFull ?? empty, hhNB = hhN ?? empty
        if let below = stage?.recordedInput() { inputs[0] = below }   // a wavefront's link: the layer below's output
        let handOffSlot = stage?.backwardSlot                          // where a wavefront backward leaves its hand-off
        let inputOrder = pending?.inputOrder                           // a bidirectional layer's direction
        return layerResults(nodeName(kind, reverse: reverse), input: input, batch: B, hidden: H, outputHidden: Hr,
                            output: output, hN: hN, cN: cN, inputs: inputs, recording: true, pending: pending) { gradOutputs, gradInputs in
            backward(kind: kind, layout: layout, reverse: reverse, lengths: lengths,
                     sizes: (I: I, H: H, Hr: Hr, GH: GH), hasC0: c0 != nil,
                     x: x, wih: wih, whh: whh, whr: whr, hasBiasIH: bih != nil, hasBiasHH: bhh != nil,
                     saved: (output: output.pointer, gates: gates.pointer, hPrev: hPrevB.pointer, cPrev: cPrevB.pointer,
                             tanhC: tanhCB.pointer, hFull: hFullB.pointer, hhN: hhNB.pointer, h0: h0.storage.pointer),
                     gradOutputs: gradOutputs, gradInputs: gradInputs, handOff: handOffSlot?.stage, inputOrder: inputOrder)
            // Keep the saved buffers alive as long as the node.
            withExtendedLifetime((gates, hPrevB, cPrevB, tanhCB, hFullB, hhNB, output, input, h0, weights.tensors)) {}
        }
    }

    /// A layer's results as tensors: the output (the input's shape with `outputHidden`
    /// features), `h_n` `(B, outputHidden)` and, when `cN` is given, `c_n` `(B, hidden)`;
    /// when `recording`, outputs of one node over `inputs` whose backward is `backward`, or,
    /// with `pending`, of no node yet (its parts left in `pending`, see ``PendingNode``).
    static func layerResults(_ name: String, input: Tensor, batch B: Int, hidden H: Int, outputHidden Hr: Int,
                             output: TensorBuffer, hN: TensorBuffer, cN: TensorBuffer?, inputs: [Tensor], recording: Bool,
                             pending: PendingNode? = nil,
                             backward: @escaping Node.Backward) -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        var outShape = input.shape
        outShape[outShape.count - 1] = Hr
        guard recording else {
            return (Tensor(shape: outShape, storage: output), Tensor(shape: [B, Hr], storage: hN),
                    cN.map { Tensor(shape: [B, H], storage: $0) })
        }
        var shapes = [outShape, [B, Hr]]
        var storages = [output, hN]
        if let cN { shapes.append([B, H]); storages.append(cN) }
        let results = PendingNode.results(name, shapes: shapes, storages: storages, inputs: inputs, recording: true,
                                          pending: pending, backward: backward)
        return (results[0], results[1], results.count > 2 ? results[2] : nil)
    }

    /// The gradient buffers of a layer node's inputs, in ``run(kind:input:layout:reverse:h0:c0:weights:lengths:gradMode:stage:pending:)``'s
    /// order (input, h0, c0, W_ih, W_hh, b_ih, b_hh, then W_hr or the peepholes); `nil` where
    /// an input needs none or is absent.
    struct GradientSlots {
        let x, h0, c0, wih, whh, bih, bhh, last: UnsafeMutablePointer<Float>?

        init(_ gradInputs: [UnsafeMutablePointer<Float>?], hasC0: Bool, hasBiasIH: Bool, hasBiasHH: Bool, hasLast: Bool) {
            var k = 0
            func next(_ present: Bool = true) -> UnsafeMutablePointer<Float>? {
                guard present else { return nil }
                defer { k += 1 }
                return gradInputs[k]
            }
            x = next(); h0 = next(); c0 = next(hasC0); wih = next(); whh = next()
            bih = next(hasBiasIH); bhh = next(hasBiasHH); last = next(hasLast)
        }
    }

    /// Runs the directions of one layer (one, or two for a bidirectional layer) over the same
    /// input and returns their results in order. With two directions and two or more threads,
    /// when splitting one direction's steps would not take more than two workers anyway, the
    /// two directions run at the same time, one per worker, each as a team of one: no barrier
    /// per step (not under anomaly detection, whose task-local recorder the workers cannot
    /// see). The results are those of running them one after the other, bit for bit.
    /// Recording, the two directions are one autograd node (``BidirectionalNode``) whose
    /// backward runs them the same way.
    @usableFromInline
    static func runDirections(kind: CellKind, input: Tensor, layout: SequenceLayout, h0: [Tensor], c0: [Tensor?],
                              weights: [RecurrentWeights], lengths: [Int]?) -> [(output: Tensor, hN: Tensor, cN: Tensor?)] {
        let together = directionsRunTogether(kind: kind, layout: layout, weights: weights)
        return runDirections(weights.count, together: together) { d, gradMode, pending in
            run(kind: kind, input: input, layout: layout, reverse: d == 1, h0: h0[d], c0: c0[d], weights: weights[d],
                lengths: lengths, gradMode: gradMode, pending: pending)
        }
    }

    /// Whether the two directions of a layer run at the same time, each as a team of one
    /// (see ``runDirections(kind:input:layout:h0:c0:weights:lengths:)``).
    static func directionsRunTogether(kind: CellKind, layout: SequenceLayout, weights: [RecurrentWeights]) -> Bool {
        let G = kind.gateCount
        let H = weights[0].weightIH.shape[0] / G, Hr = weights[0].weightHH.shape[1]
        return weights.count == 2 && ComputeThreads.count >= 2 && PackedGEMM.isAvailable && weights[0].weightHR == nil
            && !AnomalyMode.isEnabled
            && teamSize(batch: layout.batch, hidden: H, gates: G, depth: Swift.max(Hr, 1), hasProjection: false) <= 2
    }

    /// Runs `one(d, gradMode, pending)` for the directions `0..<D`, one after the other
    /// (`gradMode` `nil`: read on the calling thread) or, `together`, one per worker of a team
    /// (with the caller's ``GradMode/isEnabled``, which the workers cannot read), and returns
    /// the results in order.
    ///
    /// With two directions, each gets a ``PendingNode`` (`nil` with one direction), where a
    /// recording direction leaves its node's parts instead of making the node; once both have
    /// run, ``BidirectionalNode/make(_:together:)`` makes one node of the two, whose backward
    /// runs the two directions' backwards side by side too when `together` holds (one after
    /// the other otherwise), with the same bits either way. The results are the directions'
    /// own tensors, with that node attached.
    static func runDirections<Result>(_ D: Int, together: Bool, _ one: (Int, Bool?, PendingNode?) -> Result) -> [Result] {
        let pending = D == 2 ? PendingNode.directionPair() : []
        func slot(_ d: Int) -> PendingNode? { pending.isEmpty ? nil : pending[d] }
        let results: [Result]
        if together {
            let gradMode = GradMode.isEnabled
            let slots = UnsafeMutableBufferPointer<Result?>.allocate(capacity: D)
            slots.initialize(repeating: nil)
            defer { slots.deinitialize(); slots.deallocate() }
            ComputeThreads.run(workers: D) { member in
                for d in stride(from: member.index, to: D, by: member.count) { slots[d] = one(d, gradMode, slot(d)) }
            }
            results = slots.map { $0! }
        } else {
            results = (0..<D).map { one($0, nil, slot($0)) }
        }
        BidirectionalNode.make(pending, together: together)
        return results
    }

    /// Whether a layer is a plain RNN whose every item runs every step (no `lengths`): its
    /// state `h_t` is then its output at step `t`, so the forward keeps no copy of the states
    /// and the backward reads `h_{t−1}` back from the outputs and `h0`.
    @usableFromInline
    static func statesAreOutputs(_ kind: CellKind, lengths: [Int]?) -> Bool {
        (kind == .rnnTanh || kind == .rnnReLU) && lengths == nil
    }

    /// The number of workers a layer's steps are split between: as many of
    /// ``ComputeThreads/count`` as leave each at least ``minimumStepMultiplyAddsPerWorker``
    /// multiply-adds of every step's product and one 16-column panel of hidden units; one for
    /// LSTMs with projections (their step ends in a product over all units).
    @usableFromInline
    static func teamSize(batch B: Int, hidden H: Int, gates G: Int, depth K: Int, hasProjection: Bool) -> Int {
        let threads = ComputeThreads.count
        guard threads > 1, !hasProjection else { return 1 }
        let panels = (H + PackedGEMM.panelWidth - 1) / PackedGEMM.panelWidth
        let (work, overflow) = (B * G).multipliedReportingOverflow(by: H * K)
        let byWork = overflow ? threads : work / minimumStepMultiplyAddsPerWorker
        return Swift.max(1, Swift.min(threads, panels, byWork))
    }

    /// Steps of at most this many rows read the packed `W_hh` in alternating directions (see
    /// `recurrentProduct` in ``run(kind:input:layout:reverse:h0:c0:weights:lengths:gradMode:stage:pending:)``):
    /// below the 5-row tiles at which the packed kernel becomes compute-bound.
    static let alternatingOrderRows = 4

    /// Below this many multiply-adds of a step's product per worker, a second worker costs
    /// more (waking it, one barrier per step) than it saves: the `small` case (16 × 64 × 64 per
    /// step) stays on one thread.
    @usableFromInline static let minimumStepMultiplyAddsPerWorker = 1 << 16

    /// Opens a single-threaded region for OpenBLAS (``ComputeThreads/enterSingleThreadedRegion()``)
    /// and returns whether it did; pass the result to ``restoreThreads(_:)``. The recurrent
    /// layers and streams run BLAS on one thread: OpenBLAS's own threads split a product
    /// differently for each thread count, and the last bits with it.
    @usableFromInline
    static func singleThreadedBLAS() -> Bool {
        ComputeThreads.enterSingleThreadedRegion()
    }

    /// Products below this many multiply-adds run on one BLAS thread (``singleThreadedSteps(multiplyAdds:)``):
    /// OpenBLAS splits GEMMs above 2¹⁸ multiply-adds (and gemv above 9216 elements) between
    /// its threads, and for a product of that size waking and joining the second thread costs
    /// more than it saves. Used by `Linear`, the combined cell and SGD; the recurrent layers
    /// run BLAS on one thread throughout (``singleThreadedBLAS()``).
    @usableFromInline static let serialStepMultiplyAdds = 1 << 22

    /// When BLAS may run on several threads and a product is small, opens a single-threaded
    /// region and returns `true`; pass the result to ``restoreThreads(_:)`` to close it.
    @usableFromInline
    static func singleThreadedSteps(multiplyAdds: Int) -> Bool {
        multiplyAdds < serialStepMultiplyAdds && ComputeThreads.enterSingleThreadedRegion()
    }

    /// Closes the region that ``singleThreadedBLAS()`` or ``singleThreadedSteps(multiplyAdds:)``
    /// opened, if it did.
    @usableFromInline
    static func restoreThreads(_ opened: Bool) {
        if opened { ComputeThreads.leaveSingleThreadedRegion() }
    }

    /// The autograd node's name (`rnnTanhBackward`, `lstmReverseBackward`, …), a constant:
    /// building it by interpolating the enum cost more than a whole tiny layer. A
    /// bidirectional layer's one node takes the forward direction's name with
    /// `Bidirectional` before `Backward` (``BidirectionalNode/name(_:)``).
    @usableFromInline
    static func nodeName(_ kind: CellKind, reverse: Bool) -> String {
        switch (kind, reverse) {
        case (.rnnTanh, false): return "rnnTanhBackward"
        case (.rnnTanh, true): return "rnnTanhReverseBackward"
        case (.rnnReLU, false): return "rnnReLUBackward"
        case (.rnnReLU, true): return "rnnReLUReverseBackward"
        case (.lstm, false): return "lstmBackward"
        case (.lstm, true): return "lstmReverseBackward"
        case (.gru, false): return "gruBackward"
        case (.gru, true): return "gruReverseBackward"
        }
    }

    /// Backpropagation through time for ``run``: accumulates into `gradInputs`, which are in
    /// the order input, h0, (c0), W_ih, W_hh, (b_ih), (b_hh), (W_hr).
    ///
    /// With `handOff`, the layer is one link of a wavefront backward (``WavefrontNode``): it
    /// runs as a team of one, waits before each step for the layer above to deliver its output
    /// gradient, and (unless it is the lowest) hands its input gradient down chunk by chunk
    /// instead of in the sequence-wide product.
    ///
    /// With `inputOrder` (a direction of a bidirectional layer), the input's gradient is added
    /// in the directions' order (``InputGradientOrder``).
    @usableFromInline
    static func backward(
        kind: CellKind, layout: SequenceLayout, reverse: Bool, lengths: [Int]?,
        sizes: (I: Int, H: Int, Hr: Int, GH: Int), hasC0: Bool,
        x: UnsafeMutablePointer<Float>, wih: UnsafeMutablePointer<Float>, whh: UnsafeMutablePointer<Float>,
        whr: UnsafeMutablePointer<Float>?, hasBiasIH: Bool, hasBiasHH: Bool,
        saved: (output: UnsafeMutablePointer<Float>, gates: UnsafeMutablePointer<Float>, hPrev: UnsafeMutablePointer<Float>,
                cPrev: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>, hFull: UnsafeMutablePointer<Float>,
                hhN: UnsafeMutablePointer<Float>, h0: UnsafeMutablePointer<Float>),
        gradOutputs: [UnsafePointer<Float>?], gradInputs: [UnsafeMutablePointer<Float>?],
        handOff: WavefrontBackwardStage? = nil, inputOrder: InputGradientOrder? = nil
    ) {
        defer { inputOrder?.finishTurn() }                 // whatever was skipped
        let (I, H, Hr, GH) = sizes
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let isLSTM = kind == .lstm, isGRU = kind == .gru
        let hasProjection = whr != nil
        let wholeStepRNN = statesAreOutputs(kind, lengths: lengths)
        let slots = GradientSlots(gradInputs, hasC0: hasC0, hasBiasIH: hasBiasIH, hasBiasHH: hasBiasHH, hasLast: hasProjection)
        let (gX, gH0, gC0, gWih, gWhh) = (slots.x, slots.h0, slots.c0, slots.wih, slots.whh)
        let (gBih, gBhh, gWhr) = (slots.bih, slots.bhh, slots.last)
        let gY = gradOutputs[0], gHN = gradOutputs[1], gCN = gradOutputs.count > 2 ? gradOutputs[2] : nil

        // Pre-activation gradients of every step: dGx feeds W_ih, b_ih and the input;
        // dGh feeds W_hh, b_hh and the previous state. They differ only for GRU's n block,
        // which is all GRU keeps of dGh for the whole sequence (`dGhN`, R × H: its r and z
        // blocks are dGx's); each step's whole dGh (B × 3H, for the state gradient) goes to
        // one of two step buffers, used in turn (a member may still read one step's while
        // another writes the next's). Kept whole, dGh took R × 3H: 2.5 MB per direction of
        // `gru-bidir`'s layers, held twice where the directions run side by side.
        // One uninitialised scratch allocation: every row of dGx, dGhN and dHs is written
        // unless variable lengths skip it (then they start at zero).
        let dGCount = R * GH, dGhCount = isGRU ? R * H : 0, dHsCount = hasProjection ? R * Hr : 0
        let stepDGhCount = isGRU ? 2 * B * GH : 0
        let dcCount = isLSTM ? B * H : 0, dhFullCount = hasProjection ? B * H : 0
        // RNN and LSTM: the two bias gradients are the same column sums, computed once.
        let biasSumCount = !isGRU && hasBiasIH && hasBiasHH ? GH : 0
        // W_hh packed once for every step's dh product, under the forward's condition.
        let packsWeight = PackedGEMM.isAvailable && Hr > 0 && GH > 0
        let packedCount = packsWeight ? PackedGEMM.packedCount(columns: Hr, depth: GH) : 0
        let scratchBlock = ScratchPool.shared.take(dGCount + dGhCount + stepDGhCount + dHsCount + 2 * B * Hr + dcCount
                                                   + dhFullCount + packedCount + biasSumCount)
        defer { ScratchPool.shared.give(scratchBlock) }
        let scratch = scratchBlock.pointer
        let dGx = scratch
        let dGhN = dGx + dGCount                        // GRU: dGh's n block, R × H
        let stepDGh = dGhN + dGhCount                   // GRU: two step buffers of dGh, B × 3H
        let dHs = stepDGh + stepDGhCount                // dh per step, for W_hr
        let dh = dHs + dHsCount, dhNext = dh + B * Hr
        let dc = dhNext + B * Hr
        let dhFull = dc + dcCount
        let packedWhh: UnsafeMutablePointer<Float>? = packsWeight ? dhFull + dhFullCount : nil
        let biasSums = dhFull + dhFullCount + packedCount
        if lengths != nil { dGx.update(repeating: 0, count: dGCount + dGhCount + stepDGhCount + dHsCount) }
        if let gHN { dh.update(from: gHN, count: B * Hr) } else { dh.update(repeating: 0, count: B * Hr) }
        if let gCN, isLSTM { dc.update(from: gCN, count: B * H) } else { dc.update(repeating: 0, count: dcCount) }
        let whhView = MatrixView(whh, rows: GH, columns: Hr, leadingDimension: max(Hr, 1))
        let G = kind.gateCount
        let workers = packsWeight && handOff == nil ? teamSize(batch: B, hidden: H, gates: G, depth: Hr, hasProjection: hasProjection) : 1
        handOff?.prepare(dG: dGx, gX: gX, wih: wih, gates: GH, inputs: I)
        defer { handOff?.release() }

        // The whole backward runs OpenBLAS on one thread: the library's team splits the work
        // (OpenBLAS's threads would change the last bits with the thread count).
        let layerThreadsToRestore = ComputeThreads.enterSingleThreadedRegion()
        defer { restoreThreads(layerThreadsToRestore) }
        // The steps in reverse, on a team of workers that each own a range of hidden units:
        // the elementwise backward of its units' gates, a barrier (every dG_t is needed
        // whole), then its columns of dh_{t−1} = dG_t · W_hh. No reduction is split.
        // Small steps of many items run split by items, as in the forward: each member all
        // columns of its items, no barrier per step (W_hh packed by columns first).
        let itemSplit = !hasProjection && BatchSplitRecurrence.splitsLayerSteps(batch: B, workers: workers, gateColumns: GH, depth: Hr)
        ComputeThreads.run(workers: workers) { member in
            let columnShare = member.share(of: H, granularity: packsWeight ? PackedGEMM.panelWidth : Swift.max(H, 1))
            let units = hasProjection || itemSplit ? 0..<H : columnShare
            let u0 = units.lowerBound, n = units.count
            // This member's items (all of them unless split by items).
            let items = BatchSplitRecurrence.items(of: member, batch: B, split: itemSplit)
            let b0 = items.lowerBound, nb = items.count
            // This member's columns of the state gradient (all Hr of them with a projection).
            let m = hasProjection ? Hr : n
            let packed = hasProjection ? 0..<Hr : columnShare
            if let packedWhh, !packed.isEmpty {
                PackedGEMM.pack(MatrixView(whh + packed.lowerBound, rows: GH, columns: packed.count, leadingDimension: max(Hr, 1)),
                                .noTranspose, into: packedWhh + packed.lowerBound * GH)
            }
            if itemSplit { member.barrier() }
            /// This member's columns of `dst (B × Hr) = dG_t · W_hh` for its items' rows of a
            /// step's `dG_t (B × GH)`.
            func stateGradient(_ stepDG: MatrixView<Float>, into dst: UnsafeMutablePointer<Float>) {
                guard m > 0 else { return }
                if let packedWhh {
                    PackedGEMM.multiply(stepDG.rows(items), packed: packedWhh + u0 * GH, columns: m,
                                        into: MutableMatrixView(dst + b0 * Hr + u0, rows: nb, columns: m, leadingDimension: max(Hr, 1)))
                } else if B == 1 {
                    BLAS.gemv(whhView, .transpose, stepDG.base, into: dst)
                } else {
                    BLAS.gemm(stepDG, .noTranspose, whhView, .noTranspose,
                              into: MutableMatrixView(dst, rows: B, columns: Hr, leadingDimension: max(Hr, 1)))
                }
            }
            for s in stride(from: T - 1, through: 0, by: -1) {
                let t = reverse ? T - 1 - s : s
                if let handOff {                    // a wavefront's link (forward direction: t = s)
                    if t + 1 < T { handOff.finished(from: t + 1) }
                    handOff.willRun(step: t)
                }
                let first = layout.firstRow(t)
                if wholeStepRNN {
                    // dG_t = (dh + dY_t) ⊙ act′(y_t) in one call over the step's (strided) rows,
                    // then dh ← dG_t · W_hh, the gradient reaching h_{t−1}.
                    if n > 0 {
                        let y = layout.step(t, of: saved.output, width: n, column: u0, rowWidth: H).readOnly.rows(items)
                        let dG = layout.step(t, of: dGx, width: n, column: u0, rowWidth: H).rows(items)
                        let dY = gY.map { layout.step(t, of: UnsafeMutablePointer(mutating: $0), width: n, column: u0, rowWidth: H).readOnly.rows(items) }
                        let dhView = MatrixView(UnsafePointer(dh + u0), rows: B, columns: n, leadingDimension: max(H, 1)).rows(items)
                        if kind == .rnnTanh {
                            Elementwise.tanhBackward(output: y, gradient: dhView, adding: dY, into: dG)
                        } else {
                            Elementwise.reluBackward(output: y, gradient: dhView, adding: dY, into: dG)
                        }
                    }
                    if !itemSplit { member.barrier() }
                    if H > 0 { stateGradient(layout.step(t, of: dGx, width: H).readOnly, into: dh) }
                    continue
                }
                // Gradient reaching h_t: from the output at t and from step t+1 (in `dh`).
                if let gY {
                    let o0 = hasProjection ? 0 : u0, oc = hasProjection ? Hr : n
                    for b in items where lengths.map({ t < $0[b] }) ?? true {
                        let src = gY + (first + b * rs) * Hr + o0, dst = dh + b * Hr + o0
                        for j in 0..<oc { dst[j] += src[j] }
                    }
                }
                if hasProjection {
                    let stepDH = layout.step(t, of: dHs, width: Hr)
                    for b in 0..<B where lengths.map({ t < $0[b] }) ?? true {
                        (stepDH.base + b * stepDH.leadingDimension).update(from: dh + b * Hr, count: Hr)
                    }
                    // dh_full = dh · W_hr
                    BLAS.gemm(MatrixView(dh, rows: B, columns: Hr, leadingDimension: max(Hr, 1)), .noTranspose,
                              MatrixView(whr!, rows: Hr, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                              into: MutableMatrixView(dhFull, rows: B, columns: H, leadingDimension: max(H, 1)))
                }
                let stepBuffer = stepDGh + (s & 1) * B * GH    // GRU: this step's dGh
                for b in items {
                    let row = first + b * rs
                    let active = lengths.map { t < $0[b] } ?? true
                    let dgx = dGx + row * GH + u0, dgh = stepBuffer + b * GH + u0
                    // Inactive: dG stays 0, dh and dc pass through unchanged (GRU's step buffer
                    // keeps an older step's row, whose product row is never used).
                    guard active else { continue }
                    let dhb = dh + b * Hr + u0
                    switch kind {
                    case .rnnTanh:
                        let y = saved.output + row * Hr + u0
                        for j in 0..<n { dgx[j] = dhb[j] * (1 - y[j] * y[j]) }
                    case .rnnReLU:
                        let y = saved.output + row * Hr + u0
                        for j in 0..<n { dgx[j] = y[j] > 0 ? dhb[j] : 0 }
                    case .lstm:
                        let g = saved.gates + row * GH + u0, tc = saved.tanhC + row * H + u0, cp = saved.cPrev + row * H + u0
                        let dhh = hasProjection ? dhFull + b * H + u0 : dhb
                        lstmRowBackward(gates: g, tanhC: tc, cPrev: cp, dh: dhh, dc: dc + b * H + u0, dG: dgx, stride: H, count: n)
                    case .gru:
                        let g = saved.gates + row * GH + u0, hn = saved.hhN + row * H + u0, hp = saved.hPrev + row * Hr + u0
                        gruRowBackward(gates: g, hn: hn, hPrev: hp, dh: dhb, dGx: dgx, dGh: dgh, stride: H, count: n)
                        (dGhN + row * H + u0).update(from: dgh + 2 * H, count: n)
                    }
                }
                if !itemSplit { member.barrier() }
                // dh_{t-1} = dGh_t · W_hh (+ the direct GRU path, + pass-through of inactive items).
                let o0 = hasProjection ? 0 : u0, oc = hasProjection ? Hr : n
                if Hr > 0 {
                    let stepDG = isGRU ? MatrixView(UnsafePointer(stepBuffer), rows: B, columns: GH, leadingDimension: GH)
                        : layout.step(t, of: dGx, width: GH).readOnly
                    stateGradient(stepDG, into: dhNext)
                }
                for b in items {
                    let active = lengths.map { t < $0[b] } ?? true
                    let src = dhNext + b * Hr + o0, dst = dh + b * Hr + o0
                    if active {
                        if isGRU { for j in 0..<oc { dst[j] += src[j] } } else { dst.update(from: src, count: oc) }
                    }
                    // inactive: dh passes through unchanged (the state was carried).
                }
            }
            handOff?.finished(from: 0)
        }
        if let gH0 { for j in 0..<(B * Hr) { gH0[j] += dh[j] } }
        if let gC0, isLSTM { for j in 0..<(B * H) { gC0[j] += dc[j] } }

        if R == 0 { return }
        // The sequence-wide products, in chunks fixed by the shapes alone (rows of dX, gate
        // rows of dW_ih and dW_hh), each one single-threaded BLAS call: OpenBLAS's own threads
        // split a product differently for each thread count, and the last bits with it.
        let firstRowsNeeded = gWhh != nil && Hr > 0 && wholeStepRNN
            ? prepareFirstStepStates(layout: layout, reverse: reverse, output: saved.output, h0: saved.h0, H: Hr, into: dhNext)
            : false
        let whhChunks = gWhh != nil && Hr > 0 ? productChunks(R * GH * Hr) : 0
        // The bias gradients: column sums of dG, in column chunks (each column summed in one
        // order); RNN and LSTM share one sum for b_ih and b_hh.
        let biasChunks = biasChunkCount(rows: R, columns: GH, needed: gBih != nil || gBhh != nil)
        // With the packed kernels, W_ih (for dX), X and the states (for the weight gradients,
        // read as Σ_t dG_tᵀ·x_t with dG transposed in place) are packed first, by all members.
        let d = layout.batchFirst ? 1 : B
        let (gradientRows, stateRows) = reverse ? (0, d) : (d, 0)
        let stateDepth = wholeStepRNN ? (T > 1 ? R - d : 0) : R
        let stateBase: UnsafePointer<Float> = wholeStepRNN ? UnsafePointer(saved.output + stateRows * Hr) : UnsafePointer(saved.hPrev)
        // Packing pays from a few million multiply-adds on (`small`'s 0.5 to 2 million ran
        // faster on OpenBLAS with nothing to pack).
        let packsDW = PackedGEMM.isTransposedAvailable && R * GH * Swift.max(I, Hr) >= packedBackwardMultiplyAdds
        let statePackCount = packsDW && whhChunks > 0 && stateDepth > 0 ? PackedGEMM.packedCount(columns: Hr, depth: stateDepth) : 0
        let packBlock = ScratchPool.shared.take(statePackCount)
        defer { ScratchPool.shared.give(packBlock) }
        let packedS = packBlock.pointer
        /// The columns `columns` of dGh (R rows) as views: dGx's, but for GRU's n block, from
        /// dGhN (a view for each part, with its range of gate columns).
        func dGhColumns(_ columns: Range<Int>) -> [(Range<Int>, MatrixView<Float>)] {
            let nStart = isGRU ? Swift.min(Swift.max(2 * H, columns.lowerBound), columns.upperBound) : columns.upperBound
            var parts: [(Range<Int>, MatrixView<Float>)] = []
            if nStart > columns.lowerBound {
                parts.append((columns.lowerBound..<nStart, MatrixView(UnsafePointer(dGx + columns.lowerBound), rows: R,
                                                                      columns: nStart - columns.lowerBound, leadingDimension: max(GH, 1))))
            }
            if columns.upperBound > nStart {
                parts.append((nStart..<columns.upperBound, MatrixView(UnsafePointer(dGhN + nStart - 2 * H), rows: R,
                                                                      columns: columns.upperBound - nStart, leadingDimension: max(H, 1))))
            }
            return parts
        }
        inputGradients(rows: R, gates: GH, inputs: I, x: x, wih: wih, dG: dGx, gX: handOff?.handsDown == true ? nil : gX,
                       gWih: gWih, packsTransposed: packsDW, order: inputOrder,
                       chunks: whhChunks + biasChunks, extraMultiplyAdds: (whhChunks > 0 ? R * GH * Hr : 0) + (biasChunks > 0 ? R * GH : 0)) { member in
            if statePackCount > 0 {
                let mine = member.share(of: Hr, granularity: PackedGEMM.panelWidth)
                if !mine.isEmpty {
                    PackedGEMM.pack(MatrixView(stateBase + mine.lowerBound, rows: stateDepth, columns: mine.count, leadingDimension: max(Hr, 1)),
                                    .noTranspose, into: packedS + mine.lowerBound * stateDepth)
                }
            }
        } chunk: { c in
            if c >= whhChunks {                            // bias gradients, columns
                let columns = chunk(c - whhChunks, of: biasChunks, total: GH)
                let c0 = columns.lowerBound, n = columns.count
                if n == 0 { return }
                let sumsX = MatrixView(UnsafePointer(dGx + c0), rows: R, columns: n, leadingDimension: max(GH, 1))
                if let gBih, let gBhh, biasSumCount > 0 {
                    (biasSums + c0).update(repeating: 0, count: n)
                    Elementwise.accumulateColumnSums(of: sumsX, into: biasSums + c0)
                    for j in c0..<(c0 + n) { gBih[j] += biasSums[j]; gBhh[j] += biasSums[j] }
                } else {
                    if let gBih { Elementwise.accumulateColumnSums(of: sumsX, into: gBih + c0) }
                    if let gBhh {
                        for (part, view) in dGhColumns(c0..<(c0 + n)) {
                            Elementwise.accumulateColumnSums(of: view, into: gBhh + part.lowerBound)
                        }
                    }
                }
            } else if let gWhh {                          // dW_hh += dGhᵀ · H_prev, gate rows
                let rows = chunk(c, of: whhChunks, total: GH)
                let into = MutableMatrixView(gWhh + rows.lowerBound * Hr, rows: rows.count, columns: Hr, leadingDimension: max(Hr, 1))
                if wholeStepRNN {
                    if statePackCount > 0 {
                        // Every row of dG with the output one step earlier, then the first step's rows.
                        PackedGEMM.multiplyTransposed(MatrixView(UnsafePointer(dGx + gradientRows * GH + rows.lowerBound), rows: stateDepth,
                                                                 columns: rows.count, leadingDimension: max(GH, 1)),
                                                      packed: packedS, columns: Hr, into: into, beta: 1)
                        accumulateGradientFromOutputs(layout: layout, reverse: reverse, dG: dGx + rows.lowerBound, dGStride: GH,
                                                      output: saved.output, firstStates: firstRowsNeeded ? UnsafePointer(dhNext) : nil,
                                                      into: into, pairsSteps: false)
                    } else {
                        accumulateGradientFromOutputs(layout: layout, reverse: reverse, dG: dGx + rows.lowerBound, dGStride: GH,
                                                      output: saved.output, firstStates: firstRowsNeeded ? UnsafePointer(dhNext) : nil,
                                                      into: into)
                    }
                } else {
                    for (part, dG) in dGhColumns(rows) {
                        let partInto = MutableMatrixView(gWhh + part.lowerBound * Hr, rows: part.count, columns: Hr,
                                                         leadingDimension: max(Hr, 1))
                        if statePackCount > 0 {
                            PackedGEMM.multiplyTransposed(dG, packed: packedS, columns: Hr, into: partInto, beta: 1)
                        } else {
                            BLAS.gemm(dG, .transpose, MatrixView(saved.hPrev, rows: R, columns: Hr, leadingDimension: max(Hr, 1)),
                                      .noTranspose, into: partInto, beta: 1)
                        }
                    }
                }
            }
        }
        if let gWhr {         // dW_hr += dHᵀ · H_full
            BLAS.gemm(MatrixView(dHs, rows: R, columns: Hr, leadingDimension: max(Hr, 1)), .transpose,
                      MatrixView(saved.hFull, rows: R, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                      into: MutableMatrixView(gWhr, rows: Hr, columns: H, leadingDimension: max(H, 1)), beta: 1)
        }
    }
}

extension FusedRecurrence {
    /// The backward's sequence-wide products run on the packed kernels from this many
    /// multiply-adds on.
    static let packedBackwardMultiplyAdds = 1 << 22

    /// The number of chunks a sequence-wide product of `multiplyAdds` is split into: one per
    /// 2²¹ multiply-adds, at most 8 (a function of the shape alone, never of the threads).
    static func productChunks(_ multiplyAdds: Int) -> Int {
        Swift.max(1, Swift.min(8, multiplyAdds >> 21))
    }

    /// The number of column chunks of a bias gradient's sums over `rows × columns` gradients
    /// (each column summed in one order): 0 when `needed` is false.
    static func biasChunkCount(rows: Int, columns: Int, needed: Bool) -> Int {
        needed ? Swift.min(8, Swift.max(1, (rows * columns) >> 17), Swift.max(1, columns / 16)) : 0
    }

    /// The sequence-wide products of a layer's backward that every cell shares, on a team:
    /// `dX += dG · W_ih` (rows of `dX`, W_ih packed when the product is large) and
    /// `dW_ih += dGᵀ · X` (gate rows; X packed for the transposed AVX-512 kernel when
    /// `packsTransposed`), in chunks fixed by the shapes alone, each one single-threaded call;
    /// then `chunks` more chunks, `0..<chunks`, by `chunk`. `pack` runs on every member before
    /// any chunk, for the caller's own packing (a barrier follows it).
    ///
    /// With `order` (a direction of a bidirectional layer), `dX` follows the directions' order
    /// (``InputGradientOrder``): the first direction's `dX` chunks come first and, on a team of
    /// one, it lets the second go on right after them; the second's come last, after a wait.
    /// The two directions share one packed copy of X (``InputGradientOrder/Turn/packedInput(count:)``).
    static func inputGradients(rows R: Int, gates GH: Int, inputs I: Int, x: UnsafeMutablePointer<Float>, wih: UnsafeMutablePointer<Float>,
                               dG: UnsafeMutablePointer<Float>, gX: UnsafeMutablePointer<Float>?, gWih: UnsafeMutablePointer<Float>?,
                               packsTransposed: Bool, order: InputGradientOrder? = nil, chunks extra: Int, extraMultiplyAdds: Int,
                               pack: (TeamMember) -> Void, chunk extraChunk: (Int) -> Void) {
        let wihView = MatrixView(wih, rows: GH, columns: I, leadingDimension: max(I, 1))
        let xView = MatrixView(x, rows: R, columns: I, leadingDimension: max(I, 1))
        let xChunks = gX != nil && I > 0 ? productChunks(R * GH * I) : 0
        let wihChunks = gWih != nil && I > 0 ? productChunks(R * GH * I) : 0
        let chunks = xChunks + wihChunks + extra
        let packsDX = PackedGEMM.isAvailable && xChunks > 0 && R * GH * I >= packedBackwardMultiplyAdds
        let dxPackCount = packsDX ? PackedGEMM.packedCount(columns: I, depth: GH) : 0
        let xPackCount = packsTransposed && wihChunks > 0 ? PackedGEMM.packedCount(columns: I, depth: R) : 0
        // A bidirectional layer's directions share one packed copy of their input: the
        // direction that comes first packs it, the other waits for it.
        let sharedX = xPackCount > 0 ? order?.turn.packedInput(count: xPackCount) : nil
        let ownXCount = sharedX == nil ? xPackCount : 0
        let packBlock = ScratchPool.shared.take(dxPackCount + ownXCount)
        defer { ScratchPool.shared.give(packBlock) }
        let packedW = packBlock.pointer, packedX = sharedX?.pointer ?? packBlock.pointer + dxPackCount
        let packsX = xPackCount > 0 && sharedX?.mustPack != false
        // A team only for enough work: waking a worker and meeting it at the barrier costs
        // more than a tiny layer's whole backward (`seed-tiny` ran 5 % slower on two threads,
        // and kept the second core spinning). The chunks are the same either way.
        let work = (xChunks > 0 ? R * GH * I : 0) + (wihChunks > 0 ? R * GH * I : 0) + extraMultiplyAdds
        ComputeThreads.run(workers: work >= minimumSequenceProductMultiplyAdds ? chunks : 1) { member in
            let mine = member.share(of: I, granularity: PackedGEMM.panelWidth)
            if dxPackCount > 0 && !mine.isEmpty {
                PackedGEMM.pack(MatrixView(wih + mine.lowerBound, rows: GH, columns: mine.count, leadingDimension: max(I, 1)),
                                .noTranspose, into: packedW + mine.lowerBound * GH)
            }
            if packsX && !mine.isEmpty {
                PackedGEMM.pack(MatrixView(x + mine.lowerBound, rows: R, columns: mine.count, leadingDimension: max(I, 1)),
                                .noTranspose, into: packedX + mine.lowerBound * R)
            }
            pack(member)
            member.barrier()
            if sharedX != nil && packsX && member.index == 0 { order?.turn.inputPacked() }
            var xReady = sharedX == nil || packsX
            // The second direction's dX chunks last (the chunks are disjoint: the order of
            // doing them changes no bits).
            let dXLast = order?.isFirst == false
            var waited = false
            for i in stride(from: member.index, to: chunks, by: member.count) {
                let c = dXLast ? (i + xChunks) % chunks : i
                if c < xChunks && !waited { order?.waitForTurn(); waited = true }
                defer { if c == xChunks - 1 && member.count == 1 { order?.finishTurn() } }
                if c < xChunks, let gX {                       // dX += dG · W_ih, rows
                    let rows = chunk(c, of: xChunks, total: R)
                    let dGRows = MatrixView(UnsafePointer(dG + rows.lowerBound * GH), rows: rows.count, columns: GH, leadingDimension: max(GH, 1))
                    let into = MutableMatrixView(gX + rows.lowerBound * I, rows: rows.count, columns: I, leadingDimension: max(I, 1))
                    if packsDX {
                        PackedGEMM.multiply(dGRows, packed: packedW, columns: I, into: into, beta: 1)
                    } else {
                        BLAS.gemm(dGRows, .noTranspose, wihView, .noTranspose, into: into, beta: 1)
                    }
                } else if c < xChunks + wihChunks, let gWih {  // dW_ih += dGᵀ · X, gate rows
                    if !xReady { order?.turn.waitForInputPack(); xReady = true }
                    let rows = chunk(c - xChunks, of: wihChunks, total: GH)
                    let dGColumns = MatrixView(UnsafePointer(dG + rows.lowerBound), rows: R, columns: rows.count, leadingDimension: max(GH, 1))
                    let into = MutableMatrixView(gWih + rows.lowerBound * I, rows: rows.count, columns: I, leadingDimension: max(I, 1))
                    if xPackCount > 0 {
                        PackedGEMM.multiplyTransposed(dGColumns, packed: packedX, columns: I, into: into, beta: 1)
                    } else {
                        BLAS.gemm(dGColumns, .transpose, xView, .noTranspose, into: into, beta: 1)
                    }
                } else {
                    extraChunk(c - xChunks - wihChunks)
                }
            }
        }
        order?.finishTurn()
    }

    /// Below this many multiply-adds, the sequence-wide products of a layer's backward
    /// (``inputGradients(rows:gates:inputs:x:wih:dG:gX:gWih:packsTransposed:order:chunks:extraMultiplyAdds:pack:chunk:)``)
    /// run their chunks on the calling thread: `small` (4 million) gains from a second worker,
    /// `seed-tiny` (28 thousand) lost 5 %.
    static let minimumSequenceProductMultiplyAdds = 1 << 17

    /// Chunk `index` of `count` near-equal contiguous chunks of `0..<total`.
    static func chunk(_ index: Int, of count: Int, total: Int) -> Range<Int> {
        (index * total / count)..<((index + 1) * total / count)
    }

    /// For ``accumulateGradientFromOutputs(layout:reverse:dG:dGStride:output:firstStates:into:)``:
    /// writes into `scratch` (`B × H`) the states the first step's rows must be paired with on
    /// top of what the big product pairs them with (`h0` minus that partner, if any), and
    /// returns whether any is nonzero.
    static func prepareFirstStepStates(layout: SequenceLayout, reverse: Bool, output: UnsafePointer<Float>,
                                       h0: UnsafePointer<Float>, H: Int, into scratch: UnsafeMutablePointer<Float>) -> Bool {
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let d = layout.batchFirst ? 1 : B
        let first = layout.firstRow(reverse ? T - 1 : 0)
        var needed = false
        for b in 0..<B {
            let row = first + b * rs, partner = reverse ? row + d : row - d
            let paired = T > 1 && partner >= 0 && partner < R
            let c = scratch + b * H, h = h0 + b * H
            if paired {
                let p = output + partner * H
                for j in 0..<H { c[j] = h[j] - p[j] }
            } else {
                c.update(from: h, count: H)
            }
            if !needed { for j in 0..<H where c[j] != 0 { needed = true; break } }
        }
        return needed
    }

    /// `dW_hh += Σ_t dG_tᵀ · h_{t−1}` for a whole-step RNN (``statesAreOutputs(_:lengths:)``),
    /// for the gate rows of `gW` (whose columns of `dG` start at `dG`, rows `dGStride` apart),
    /// reading `h_{t−1}` from the outputs (`h_t` is step `t`'s output) instead of a saved copy
    /// of the states. One GEMM pairs every row of `dG` with the output row one step earlier in
    /// the sequence's direction (`d` rows away: `B` sequence first, 1 batch first); a `B`-row
    /// GEMM then adds the first step's rows with `firstStates` (from
    /// ``prepareFirstStepStates(layout:reverse:output:h0:H:into:)``; `nil` when all zero).
    /// Without `pairsSteps`, only that second product (the caller ran the first one).
    static func accumulateGradientFromOutputs(
        layout: SequenceLayout, reverse: Bool, dG: UnsafePointer<Float>, dGStride: Int, output: UnsafePointer<Float>,
        firstStates: UnsafePointer<Float>?, into gW: MutableMatrixView<Float>, pairsSteps: Bool = true
    ) {
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let H = gW.columns, n = gW.rows
        let d = layout.batchFirst ? 1 : B
        if T > 1 && pairsSteps {
            let (gradientRows, stateRows) = reverse ? (0, d) : (d, 0)
            BLAS.gemm(MatrixView(dG + gradientRows * dGStride, rows: R - d, columns: n, leadingDimension: max(dGStride, 1)), .transpose,
                      MatrixView(output + stateRows * H, rows: R - d, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                      into: gW, beta: 1)
        }
        guard let firstStates else { return }
        let first = layout.firstRow(reverse ? T - 1 : 0)
        BLAS.gemm(MatrixView(dG + first * dGStride, rows: B, columns: n, leadingDimension: max(rs * dGStride, 1)), .transpose,
                  MatrixView(firstStates, rows: B, columns: H, leadingDimension: max(H, 1)), .noTranspose,
                  into: gW, beta: 1)
    }
}

// MARK: - Fused per-row cell kernels (shared by the sequence forward and RecurrentStream)

extension FusedRecurrence {
    /// `p[j] += bih[j] + bhh[j]` for `j < count` (either bias may be absent).
    @inlinable @inline(__always)
    static func addBiases(_ p: UnsafeMutablePointer<Float>, _ bih: UnsafePointer<Float>?, _ bhh: UnsafePointer<Float>?, count: Int) {
        switch (bih, bhh) {
        case let (a?, b?): for j in 0..<count { p[j] += a[j] + b[j] }
        case let (a?, nil): for j in 0..<count { p[j] += a[j] }
        case let (nil, b?): for j in 0..<count { p[j] += b[j] }
        case (nil, nil): break
        }
    }

    /// One LSTM row from its pre-activations `gates` (4H, i f g o, biases included), in
    /// place: activates the gates, `c ← f ⊙ c + i ⊙ g`, `tanhC ← tanh(c)`, `h ← o ⊙ tanhC`
    /// (``Elementwise/lstmCell(gates:gateStride:c:tanhC:h:count:)``).
    @inlinable @inline(__always)
    static func lstmCell(gates g: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>,
                         tanhC: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, H: Int) {
        Elementwise.lstmCell(gates: g, gateStride: H, c: c, tanhC: tanhC, h: h, count: H)
    }

    /// One GRU row from `pre = W_ih x + b_ih + [b_hr, b_hz, 0]` (3H) and `rec = W_hh h`
    /// (3H), in place (``Elementwise/gruCell(gates:recurrent:gateStride:biasN:h:count:)``).
    @inlinable @inline(__always)
    static func gruCell(pre g: UnsafeMutablePointer<Float>, rec: UnsafeMutablePointer<Float>,
                        bhn: UnsafePointer<Float>?, h: UnsafeMutablePointer<Float>, H: Int) {
        Elementwise.gruCell(gates: g, recurrent: rec, gateStride: H, biasN: bhn, h: h, count: H)
    }

    /// One LSTM row of the backward over `count` hidden units
    /// (``Elementwise/lstmCellBackward(gates:gateStride:tanhC:cPrev:dh:dc:dG:count:)``).
    @inlinable @inline(__always)
    static func lstmRowBackward(gates g: UnsafePointer<Float>, tanhC tc: UnsafePointer<Float>,
                                cPrev cp: UnsafePointer<Float>, dh dhh: UnsafePointer<Float>,
                                dc dcb: UnsafeMutablePointer<Float>, dG dgx: UnsafeMutablePointer<Float>,
                                stride H: Int, count: Int) {
        Elementwise.lstmCellBackward(gates: g, gateStride: H, tanhC: tc, cPrev: cp, dh: dhh, dc: dcb, dG: dgx, count: count)
    }

    /// One GRU row of the backward over `count` hidden units
    /// (``Elementwise/gruCellBackward(gates:gateStride:recurrentN:hPrev:dh:dGx:dGh:count:)``).
    @inlinable @inline(__always)
    static func gruRowBackward(gates g: UnsafePointer<Float>, hn: UnsafePointer<Float>, hPrev hp: UnsafePointer<Float>,
                               dh dhb: UnsafeMutablePointer<Float>, dGx dgx: UnsafeMutablePointer<Float>,
                               dGh dgh: UnsafeMutablePointer<Float>, stride H: Int, count: Int) {
        Elementwise.gruCellBackward(gates: g, gateStride: H, recurrentN: hn, hPrev: hp, dh: dhb, dGx: dgx, dGh: dgh, count: count)
    }
}
