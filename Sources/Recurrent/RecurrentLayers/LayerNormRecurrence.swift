import LinearAlgebra

/// The parameters of one layer-normalised recurrent layer and direction (shapes as in
/// PyTorch's reference `LayerNormLSTMCell`): `W_ih` `(G·H, I)`, `W_hh` `(G·H, H)`, and the
/// layer norms of the input projection and of the recurrent projection (over `G·H`) and, for
/// an LSTM, of the cell state (over `H`). The layer norms' shifts play the biases' role.
struct LayerNormRecurrentWeights {
    let weightIH: Tensor
    let weightHH: Tensor
    let normI: LayerNorm
    let normH: LayerNorm
    let normC: LayerNorm?

    /// These weights with `weightHH` in place of `W_hh` (weight drop's dropped copy).
    func replacingWeightHH(_ weightHH: Tensor) -> LayerNormRecurrentWeights {
        LayerNormRecurrentWeights(weightIH: weightIH, weightHH: weightHH, normI: normI, normH: normH, normC: normC)
    }

    /// The tensors in node-input order (after the input and the initial states): `W_ih`,
    /// `W_hh`, then each layer norm's weight and (if any) bias, `i`, `h`, `c`.
    var tensors: [Tensor] {
        var result = [weightIH, weightHH]
        for norm in [normI, normH, normC] {
            guard let norm, let weight = norm.weight else { continue }
            result.append(weight)
            if let bias = norm.bias { result.append(bias) }
        }
        return result
    }
}

/// One layer-normalised LSTM or GRU layer in one direction over a whole sequence, as a single
/// autograd node with a hand-written backpropagation through time (through the layer norms);
/// a bidirectional layer's two directions are one node together (``BidirectionalNode``).
///
/// LSTM (PyTorch's reference `LayerNormLSTMCell`): `gates = LN_i(x·W_ihᵀ) + LN_h(h·W_hhᵀ)`,
/// `i, f, o = σ`, `g = tanh`, `c' = LN_c(f⊙c + i⊙g)`, `h' = o⊙tanh(c')`. GRU (its analogue):
/// `x = LN_i(x·W_ihᵀ)`, `y = LN_h(h·W_hhᵀ)`, `r = σ(x_r + y_r)`, `z = σ(x_z + y_z)`,
/// `n = tanh(x_n + r⊙y_n)`, `h' = (1 − z)⊙n + z⊙h`.
///
/// Forward: one GEMM projects the inputs of every step and their layer norm runs row by row
/// for all steps at once; each step is one product with `W_hh` (packed once per call) and
/// then, per batch row, one fused kernel: the recurrent layer norm, the gates and (LSTM) the
/// cell's layer norm (``LayerNormCellKernels``). Backward: the steps in reverse, each a fused
/// row kernel then one product `dh_{t−1} = d(h·W_hhᵀ)·W_hh`. The LSTM's row kernel runs all
/// three layer norms' backward and adds the row's share of their parameter gradients to the
/// sums of its block of batch rows, while the saved values are in cache (the GRU sums them
/// over all steps at the end); the weight gradients are GEMMs over all steps at the end.
/// Each row kernel requests the next row's values into the cache (the rows of a batch-first
/// sequence's items lie too far apart for the hardware prefetchers). Buffers are allocated
/// once per call, none per step.
///
/// Threads: batch rows are independent through the whole recurrence, so the workers split
/// the steps by blocks of ``rowBlock`` batch rows (a layer norm is a reduction over a row, so a
/// row is never split): each worker runs its blocks' products with `W_hh` and their fused row
/// kernels with no barrier per step. The sequence-wide products are split by columns or in
/// chunks fixed by the shape, the GRU's parameter sums by columns (the LSTM's are kept per
/// block of rows, which the batch alone fixes). Every element is computed the
/// same way whichever worker computes it, so the results do not depend on the thread count.
///
/// Variable lengths: item `b` is active at step `t` when `t < lengths[b]`; an inactive item
/// keeps its state and outputs zeros (as ``FusedRecurrence``).
enum LayerNormRecurrence {
    /// Runs the layer. `input` is `(T, B, I)` or `(B, T, I)` (per the layout), `h0` `(B, H)`,
    /// `c0` `(B, H)` for an LSTM (`nil` for a GRU). Returns the output (the input's layout,
    /// `H` features), the final hidden state `(B, H)` and, for an LSTM, the final cell state.
    ///
    /// `variant` holds the masks of the regularisers (constants of the node), drawn by the
    /// module (``RecurrentRegularizers``): the recurrent-dropout mask multiplies `h_{t−1}`
    /// before `W_hh` (the GRU's `z ⊙ h` reads it unmasked), and zoneout mixes `h_{t−1}` (and
    /// `c_{t−1}`) into the row kernel's new state (`h̃ = o ⊙ tanh(c̃)` reads the cell state
    /// before zoneout). No cell variant (peepholes, reset before the product).
    ///
    /// `gradMode` stands for ``GradMode/isEnabled`` when the call runs on a thread of the
    /// worker pool, where the caller's task-local value cannot be read.
    ///
    /// With `pending` (one direction of a bidirectional layer), a recording call makes no node
    /// and leaves its parts there instead (``PendingNode``, ``BidirectionalNode``).
    static func run(kind: CellKind, input: Tensor, layout: SequenceLayout, reverse: Bool,
                    h0: Tensor, c0: Tensor?, weights: LayerNormRecurrentWeights, variant: CellVariant = CellVariant(),
                    lengths: [Int]?, gradMode: Bool? = nil, pending: PendingNode? = nil) -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        precondition(kind == .lstm || kind == .gru, "LayerNormRecurrence: only LSTM and GRU cells are layer-normalised")
        precondition(variant.peepholes == nil && !variant.resetBeforeProduct, "LayerNormRecurrence: no cell variant")
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let GH = weights.weightIH.shape[0], G = kind.gateCount, H = GH / G
        let I = weights.weightIH.shape[1]
        let isLSTM = kind == .lstm
        var inputs = [input, h0]
        if let c0 { inputs.append(c0) }
        inputs += weights.tensors
        let recording = gradMode.map { enabled in enabled && inputs.contains(where: \.requiresGrad) } ?? Tensor.needsRecording(inputs)

        let x = input.storage.pointer
        let wih = weights.weightIH.storage.pointer, whh = weights.weightHH.storage.pointer
        let p = NormPointers(weights)
        let md = variant.stateMask.map { UnsafePointer($0.storage.pointer) }
        let zh = variant.zoneoutH?.rows, zc = isLSTM ? variant.zoneoutC?.rows : nil   // alive with `variant`

        // Buffers: what the backward reads is kept (rows in the layout's order) only while
        // recording; otherwise one step's worth of scratch. Rows that variable lengths skip
        // start at zero where the backward's sums read them.
        func written(_ count: Int) -> TensorBuffer { TensorBuffer(uninitializedCount: count) }
        func activeOnly(_ count: Int) -> TensorBuffer { lengths == nil ? written(count) : TensorBuffer(count: count) }
        let stepRows = recording ? R : B
        let rstdI = written(R)                                           // LN_i's 1/σ
        let hHat = written(stepRows * GH), rstdH = written(stepRows)    // h·W_hhᵀ, then LN_h's normalised rows
        let gates = written(stepRows * GH)                               // activated gates
        let cHat = isLSTM ? activeOnly(stepRows * H) : nil               // LN_c's normalised rows
        let rstdC = isLSTM ? written(stepRows) : nil
        let tanhC = isLSTM ? written(stepRows * H) : nil
        let hn = isLSTM ? nil : written(stepRows * H)                    // GRU: the recurrent n block, normalised
        // h_{t−1} (the GRU's z path; the LSTM's product when unmasked) and the masked state the
        // product reads (recurrent dropout), for the backward.
        let hPrev = recording && (!isLSTM || md == nil) ? written(R * H) : nil
        let hMasked = recording && md != nil ? written(R * H) : nil
        let cPrev = recording && isLSTM ? written(R * H) : nil
        let output = written(R * H)
        let hN = written(B * H)
        let cN = c0.map { TensorBuffer(copying: $0.storage.buffer) }
        let packs = PackedGEMM.isAvailable && H > 0
        let packedCount = packs ? PackedGEMM.packedCount(columns: GH, depth: H) : 0
        let packedWihCount = packs && I > 0 ? PackedGEMM.packedCount(columns: GH, depth: I) : 0
        // Not recording, LN_i's rows are scratch too (a fresh buffer of that size costs its page
        // faults at every call).
        let xHatICount = recording ? 0 : R * GH
        // Not recording, the step's masked state and (zoneout of c) c_{t−1} are scratch too.
        let maskedCount = md != nil && !recording ? B * H : 0, cBeforeCount = zc != nil && !recording ? B * H : 0
        let scratchBlock = ScratchPool.shared.take(packedCount + packedWihCount + 2 * B * H + xHatICount + maskedCount + cBeforeCount)
        defer { ScratchPool.shared.give(scratchBlock) }
        let packedWhh = scratchBlock.pointer
        let packedWih = packedWhh + packedCount
        let states = packedWih + packedWihCount                       // h_{t−1} and h_t, alternating
        let xHatI = recording ? written(R * GH) : TensorBuffer(count: 0)
        let xHatIPointer = recording ? xHatI.pointer : states + 2 * B * H
        let maskedScratch = states + 2 * B * H + xHatICount, cBeforeScratch = maskedScratch + maskedCount
        let workers = teamSize(batch: B, hidden: H, gates: G)
        let rowBlock = Self.rowBlock, blockCount = (B + rowBlock - 1) / rowBlock
        let h0p = UnsafePointer(h0.storage.pointer)
        /// The row of the step buffers that item `b` of step `t` uses.
        func stepRow(_ t: Int, _ b: Int) -> Int { recording ? layout.firstRow(t) + b * rs : b }

        // The input projection of every step: on the packed kernels inside the team below (by
        // columns), else here on BLAS.
        let packsInput = packs && I > 0 && R > 0
        if !packsInput { projectInputs(x, rows: R, inputSize: I, weight: wih, gates: GH, into: xHatIPointer) }
        let whhView = MatrixView(UnsafePointer(whh), rows: GH, columns: H, leadingDimension: max(H, 1))

        // Raw pointers for the team (no reference counting per row).
        let hPrevP = hPrev?.pointer, cPrevP = cPrev?.pointer, cNP = cN?.pointer, cHatP = cHat?.pointer
        let hMaskedP = hMasked?.pointer
        let rstdCP = rstdC?.pointer, tanhCP = tanhC?.pointer, hnP = hn?.pointer
        let gatesP = gates.pointer, hHatP = hHat.pointer, rstdHP = rstdH.pointer, outputP = output.pointer
        let rstdIP = rstdI.pointer
        /// Requests into the cache what a row kernel reads and writes far from the states: the
        /// sequence row `row`'s input side and saved states and output, the step buffers' row
        /// `sr` (the whole sequence's while recording, the batch's own otherwise).
        func prefetchForwardRows(_ row: Int, _ sr: Int) {
            LayerNormCellKernels.prefetch(xHatIPointer + row * GH, count: GH, forWriting: false)
            LayerNormCellKernels.prefetch(outputP + row * H, count: H, forWriting: true)
            guard recording else { return }
            LayerNormCellKernels.prefetch(gatesP + sr * GH, count: GH, forWriting: true)
            if let hPrevP { LayerNormCellKernels.prefetch(hPrevP + row * H, count: H, forWriting: true) }
            if let cPrevP { LayerNormCellKernels.prefetch(cPrevP + row * H, count: H, forWriting: true) }
            if let cHatP { LayerNormCellKernels.prefetch(cHatP + sr * H, count: H, forWriting: true) }
            if let tanhCP { LayerNormCellKernels.prefetch(tanhCP + sr * H, count: H, forWriting: true) }
            if let hnP { LayerNormCellKernels.prefetch(hnP + sr * H, count: H, forWriting: true) }
        }
        // Item b is active at step t when t < limits[b].
        let limitArray = lengths ?? [Int](repeating: T, count: B)
        limitArray.withUnsafeBufferPointer { limits in
            ComputeThreads.run(workers: workers) { member in
                let blocks = member.share(of: blockCount)
                let columns = member.share(of: GH, granularity: packs ? PackedGEMM.panelWidth : max(GH, 1))
                // LN_i over every row of the sequence (split by rows), and this member's panels of W_hhᵀ.
                if packsInput && !columns.isEmpty {
                    PackedGEMM.pack(MatrixView(wih + columns.lowerBound * I, rows: columns.count, columns: I, leadingDimension: I),
                                    .transpose, into: packedWih + columns.lowerBound * I)
                    PackedGEMM.multiply(MatrixView(x, rows: R, columns: I, leadingDimension: I), packed: packedWih + columns.lowerBound * I,
                                        columns: columns.count,
                                        into: MutableMatrixView(xHatIPointer + columns.lowerBound, rows: R, columns: columns.count,
                                                                leadingDimension: GH))
                }
                member.barrier()
                let allRows = member.share(of: R)
                LayerNormCellKernels.normalizeRows(rows: allRows.count, columns: GH, xHatIPointer + allRows.lowerBound * GH, stride: GH,
                                                   into: xHatIPointer + allRows.lowerBound * GH, stride: GH,
                                                   rstd: rstdIP + allRows.lowerBound, eps: p.epsI)
                if packs && !columns.isEmpty {
                    PackedGEMM.pack(MatrixView(UnsafePointer(whh + columns.lowerBound * H), rows: columns.count, columns: H, leadingDimension: H),
                                    .transpose, into: packedWhh + columns.lowerBound * H)
                }
                member.barrier()
                // The steps, over this member's blocks of batch rows: each block's product with
                // W_hh reads only the block's own states, so the members never wait for each other.
                for s in 0..<T {
                    let t = reverse ? T - 1 - s : s
                    let hRead = s == 0 ? h0p : UnsafePointer(states + ((s - 1) % 2) * B * H)
                    let hWrite = states + (s % 2) * B * H
                    // The step's raw recurrent products go to LN_h's rows.
                    let hhBase = hHatP + stepRow(t, 0) * GH, hhLD = recording ? rs * GH : GH
                    // The state the product reads: h_{t−1}, or its masked copy (recurrent dropout).
                    let hmBase = hMaskedP.map { $0 + stepRow(t, 0) * H } ?? maskedScratch, hmLD = recording ? rs * H : H
                    for block in blocks {
                        let r0 = block * rowBlock, rows = r0..<Swift.min(B, r0 + rowBlock)
                        var hBlock = MatrixView(hRead + r0 * H, rows: rows.count, columns: H, leadingDimension: max(H, 1))
                        if let md {
                            for b in rows { Elementwise.multiplyVectorised(hRead + b * H, md + b * H, into: hmBase + b * hmLD, count: H) }
                            hBlock = MatrixView(UnsafePointer(hmBase + r0 * hmLD), rows: rows.count, columns: H, leadingDimension: max(hmLD, 1))
                        }
                        let hhBlock = MutableMatrixView(hhBase + r0 * hhLD, rows: rows.count, columns: GH, leadingDimension: hhLD)
                        if packs {
                            PackedGEMM.multiply(hBlock, packed: packedWhh, columns: GH, into: hhBlock)
                        } else {
                            BLAS.gemm(hBlock, .noTranspose, whhView, .transpose, into: hhBlock)
                        }
                        // The fused row kernels, this member's items; meanwhile the next item's
                        // rows (after the block's last, the block's first one step on) are
                        // requested into the cache (``prefetchForwardRows``).
                        let following = s + 1 < T ? reverse ? T - 2 - s : s + 1 : nil
                        for b in rows {
                            let row = layout.firstRow(t) + b * rs, sr = stepRow(t, b)
                            if b + 1 < rows.upperBound {
                                prefetchForwardRows(row + rs, stepRow(t, b + 1))
                            } else if let following {
                                prefetchForwardRows(layout.firstRow(following) + r0 * rs, stepRow(following, r0))
                            }
                            let hp = hRead + b * H, hw = hWrite + b * H
                            if let hPrevP { (hPrevP + row * H).update(from: hp, count: H) }
                            if let cPrevP, let cNP { (cPrevP + row * H).update(from: cNP + b * H, count: H) }
                            // c_{t−1} for zoneout: the saved row, or scratch.
                            let cBefore = cPrevP.map { $0 + row * H } ?? cBeforeScratch + b * H
                            if zc != nil && cPrevP == nil, let cNP { cBefore.update(from: cNP + b * H, count: H) }
                            guard t < limits[b] else {
                                hw.update(from: hp, count: H)
                                (outputP + row * H).update(repeating: 0, count: H)
                                continue
                            }
                            if let cNP, let cHatP, let rstdCP, let tanhCP, let wC = p.wC {
                                LayerNormCellKernels.lstmForwardRow(
                                    hidden: H, inputSide: xHatIPointer + row * GH, weightI: p.wI, biasI: p.bI,
                                    recurrent: hHatP + sr * GH, weightH: p.wH, biasH: p.bH, gates: gatesP + sr * GH,
                                    c: cNP + b * H, cHat: cHatP + sr * H, weightC: wC, biasC: p.bC,
                                    tanhC: tanhCP + sr * H, h: hw, rstdH: rstdHP + sr, rstdC: rstdCP + sr, epsH: p.epsH, epsC: p.epsC)
                            } else if let hnP {
                                LayerNormCellKernels.gruForwardRow(
                                    hidden: H, inputSide: xHatIPointer + row * GH, weightI: p.wI, biasI: p.bI,
                                    recurrent: hHatP + sr * GH, weightH: p.wH, biasH: p.bH, gates: gatesP + sr * GH,
                                    hn: hnP + sr * H, hPrev: hp, h: hw, rstdH: rstdHP + sr, epsH: p.epsH)
                            }
                            if let zc, let cNP {
                                Elementwise.zoneout(previous: cBefore, current: cNP + b * H, mask: zc.row(row, item: b, width: H), count: H)
                            }
                            if let zh { Elementwise.zoneout(previous: hp, current: hw, mask: zh.row(row, item: b, width: H), count: H) }
                            (outputP + row * H).update(from: hw, count: H)
                        }
                    }
                }
            }
        }
        // The buffers were handed to the team as raw pointers: they live until here.
        withExtendedLifetime((xHatI, rstdI, hHat, rstdH, gates, cHat, rstdC, tanhC, hn, hPrev, cPrev, hMasked)) {}
        if T > 0 {
            hN.pointer.update(from: states + ((T - 1) % 2) * B * H, count: B * H)
        } else {
            hN.pointer.update(from: h0p, count: B * H)
        }

        var outShape = input.shape
        outShape[outShape.count - 1] = H
        guard recording else {
            return (Tensor(shape: outShape, storage: output), Tensor(shape: [B, H], storage: hN),
                    cN.map { Tensor(shape: [B, H], storage: $0) })
        }
        var shapes = [outShape, [B, H]]
        var storages = [output, hN]
        if let cN { shapes.append([B, H]); storages.append(cN) }
        let empty = TensorBuffer(count: 0)
        let saved = Saved(xHatI: xHatI, rstdI: rstdI, hHat: hHat, rstdH: rstdH, gates: gates, cHat: cHat ?? empty,
                          rstdC: rstdC ?? empty, tanhC: tanhC ?? empty, hn: hn ?? empty, hPrev: hPrev ?? empty,
                          cPrev: cPrev ?? empty, hMasked: hMasked)
        let inputOrder = pending?.inputOrder
        let results = PendingNode.results(
            nodeName(kind, reverse: reverse), shapes: shapes, storages: storages, inputs: inputs, recording: true, pending: pending
        ) { gradOutputs, gradInputs in
            backward(kind: kind, layout: layout, reverse: reverse, lengths: lengths, sizes: (I: I, H: H),
                     hasC0: c0 != nil, x: x, wih: wih, whh: whh, norms: p, variant: variant, saved: saved,
                     gradOutputs: gradOutputs, gradInputs: gradInputs, inputOrder: inputOrder)
            // The saved buffers, the input, the weights and the masks live as long as the node.
            withExtendedLifetime((saved, input, weights.tensors, variant.stateMask, variant.zoneoutH?.values,
                                  variant.zoneoutC?.values)) {}
        }
        return (results[0], results[1], results.count > 2 ? results[2] : nil)
    }

    /// What the backward reads, kept by the node.
    struct Saved {
        let xHatI, rstdI, hHat, rstdH, gates, cHat, rstdC, tanhC, hn, hPrev, cPrev: TensorBuffer
        /// With recurrent dropout, the masked states the products read.
        let hMasked: TensorBuffer?
    }

    /// The raw pointers and constants of a layer's layer norms.
    struct NormPointers: @unchecked Sendable {
        let wI: UnsafePointer<Float>, bI: UnsafePointer<Float>?
        let wH: UnsafePointer<Float>, bH: UnsafePointer<Float>?
        let wC: UnsafePointer<Float>?, bC: UnsafePointer<Float>?
        let epsI: Float, epsH: Float, epsC: Float
        let hasBias: Bool, hasC: Bool

        init(_ w: LayerNormRecurrentWeights) {
            func pointer(_ t: Tensor?) -> UnsafePointer<Float>? { t.map { UnsafePointer($0.storage.pointer) } }
            wI = pointer(w.normI.weight)!; bI = pointer(w.normI.bias)
            wH = pointer(w.normH.weight)!; bH = pointer(w.normH.bias)
            wC = pointer(w.normC?.weight); bC = pointer(w.normC?.bias)
            epsI = w.normI.eps; epsH = w.normH.eps; epsC = w.normC?.eps ?? 0
            hasBias = w.normI.bias != nil
            hasC = w.normC != nil
        }
    }

    /// The LSTM backward's sums of the layer norms' parameter gradients, one set per block of
    /// ``rowBlock`` batch rows at `base`: LN_i's and LN_h's weights and their (common) shift
    /// (`GH` each), LN_c's weight and shift (`H` each).
    struct LSTMSums {
        let base: UnsafeMutablePointer<Float>
        let GH: Int, H: Int

        /// The floats of one block's set.
        static func count(GH: Int, H: Int) -> Int { 3 * GH + 2 * H }

        /// Block `index`'s sums, the shifts' only where wanted.
        func block(_ index: Int, shift: Bool, cellShift: Bool) -> LayerNormCellKernels.LSTMParameterGradients {
            let p = base + index * Self.count(GH: GH, H: H)
            return .init(weightI: p, weightH: p + GH, bias: shift ? p + 2 * GH : nil, weightC: p + 3 * GH,
                         biasC: cellShift ? p + 3 * GH + H : nil)
        }

        /// Adds the first `blocks` sets up in block order and those totals to the gradients
        /// given (`nil`: not wanted); the shifts' total goes to both `biasI` and `biasH`.
        func addBlocks(_ blocks: Int, weightI: UnsafeMutablePointer<Float>?, weightH: UnsafeMutablePointer<Float>?,
                       biasI: UnsafeMutablePointer<Float>?, biasH: UnsafeMutablePointer<Float>?,
                       weightC: UnsafeMutablePointer<Float>?, biasC: UnsafeMutablePointer<Float>?) {
            guard blocks > 0 else { return }
            let n = Self.count(GH: GH, H: H)
            for k in 1..<blocks {
                let other = base + k * n
                for j in 0..<n { base[j] += other[j] }
            }
            func add(_ from: UnsafeMutablePointer<Float>, _ into: UnsafeMutablePointer<Float>?, _ count: Int) {
                guard let into else { return }
                for j in 0..<count { into[j] += from[j] }
            }
            add(base, weightI, GH)
            add(base + GH, weightH, GH)
            add(base + 2 * GH, biasI, GH)
            add(base + 2 * GH, biasH, GH)
            add(base + 3 * GH, weightC, H)
            add(base + 3 * GH + H, biasC, H)
        }
    }

    /// The batch rows of one block: the steps run block by block, each block's product with
    /// `W_hh` one call over its rows. A constant, so that the products' row tiling (which the
    /// packed kernels' arithmetic depends on) is the same for every team size.
    static let rowBlock = 16

    /// The number of workers a layer's steps are split between (by blocks of ``rowBlock``
    /// batch rows): as many of ``ComputeThreads/count`` as there are blocks and as leave each
    /// one at least ``FusedRecurrence/minimumStepMultiplyAddsPerWorker`` multiply-adds of every
    /// step's product; one where the packed kernels do not run.
    static func teamSize(batch B: Int, hidden H: Int, gates G: Int) -> Int {
        let threads = ComputeThreads.count
        guard threads > 1, PackedGEMM.isAvailable else { return 1 }
        let blocks = (B + rowBlock - 1) / rowBlock
        let (work, overflow) = (B * G).multipliedReportingOverflow(by: H * H)
        let byWork = overflow ? threads : work / FusedRecurrence.minimumStepMultiplyAddsPerWorker
        return Swift.max(1, Swift.min(threads, blocks, byWork))
    }

    /// Runs both directions of a layer (`weights` one per direction) and returns their results
    /// in order: side by side, one direction per worker, when
    /// ``directionsRunTogether(kind:batch:weights:)`` says so, else one after the other. Each
    /// direction computes every number the same way in both cases (a nested team is a team of
    /// one, and a direction's results do not depend on its team size), so the results do not
    /// depend on the thread count. Recording, the two directions are one autograd node
    /// (``BidirectionalNode``) whose backward runs them the same way, side by side or one
    /// after the other, with the same bits.
    /// `variants` holds each direction's regulariser masks (``CellVariant``; none when empty).
    static func runDirections(kind: CellKind, input: Tensor, layout: SequenceLayout, h0: [Tensor], c0: [Tensor?],
                              weights: [LayerNormRecurrentWeights], variants: [CellVariant] = [],
                              lengths: [Int]?) -> [(output: Tensor, hN: Tensor, cN: Tensor?)] {
        let together = directionsRunTogether(kind: kind, batch: layout.batch, weights: weights)
        return FusedRecurrence.runDirections(weights.count, together: together) { d, gradMode, pending in
            run(kind: kind, input: input, layout: layout, reverse: d == 1, h0: h0[d], c0: c0[d], weights: weights[d],
                variant: variants.isEmpty ? CellVariant() : variants[d], lengths: lengths, gradMode: gradMode, pending: pending)
        }
    }

    /// Whether the two directions of a layer run at the same time, each on one worker: with two
    /// threads or more, where the packed kernels run, and where one direction alone would use
    /// at most two workers (``teamSize(batch:hidden:gates:)``: two threads, or a batch of up to
    /// 32 rows, or a small layer), as
    /// ``FusedRecurrence`` decides for the plain layers. Not in anomaly mode, which records
    /// where each node was made on the calling thread.
    static func directionsRunTogether(kind: CellKind, batch: Int, weights: [LayerNormRecurrentWeights]) -> Bool {
        guard weights.count == 2 else { return false }
        let G = kind.gateCount, H = weights[0].weightIH.shape[0] / G
        return ComputeThreads.count >= 2 && PackedGEMM.isAvailable && !AnomalyMode.isEnabled
            && teamSize(batch: batch, hidden: H, gates: G) <= 2
    }

    /// `out (rows × gates) = x (rows × inputSize) · Wᵀ` in row chunks fixed by the shape, each
    /// one single-threaded BLAS call (OpenBLAS's own threads would change the last bits with
    /// the thread count); zeros without an input.
    static func projectInputs(_ x: UnsafePointer<Float>, rows R: Int, inputSize I: Int, weight: UnsafePointer<Float>,
                              gates GH: Int, into out: UnsafeMutablePointer<Float>) {
        guard R > 0 && GH > 0 else { return }
        guard I > 0 else { out.update(repeating: 0, count: R * GH); return }
        let chunks = FusedRecurrence.productChunks(R * GH * I)
        let w = MatrixView(weight, rows: GH, columns: I, leadingDimension: I)
        ComputeThreads.run(workers: chunks) { member in
            for c in stride(from: member.index, to: chunks, by: member.count) {
                let rows = FusedRecurrence.chunk(c, of: chunks, total: R)
                BLAS.gemm(MatrixView(x + rows.lowerBound * I, rows: rows.count, columns: I, leadingDimension: I), .noTranspose,
                          w, .transpose,
                          into: MutableMatrixView(out + rows.lowerBound * GH, rows: rows.count, columns: GH, leadingDimension: GH))
            }
        }
    }

    /// `c += op(a)·b` into `c` `(m × n)`: `op(a) = a` stored `(m × k)`, or with `transposed`
    /// `aᵀ` where `a` is stored `(k × m)`; `b` is `(k × n)`. Row-major, rows as wide as the
    /// matrices. In chunks of `c`'s rows fixed by the shape: from
    /// ``FusedRecurrence/packedBackwardMultiplyAdds`` on, `b` is packed once (by all workers,
    /// by columns) and each chunk is one packed product (``PackedGEMM``, where it runs);
    /// otherwise each chunk is one single-threaded BLAS call. Either way the bits depend on
    /// the shapes alone, not on the thread count.
    static func accumulateProduct(_ a: UnsafePointer<Float>, transposed: Bool, _ b: UnsafePointer<Float>, rows m: Int,
                                  depth k: Int, columns n: Int, into c: UnsafeMutablePointer<Float>) {
        guard k > 0 && m > 0 && n > 0 else { return }
        let chunks = FusedRecurrence.productChunks(k * m * n)
        let packs = (transposed ? PackedGEMM.isTransposedAvailable : PackedGEMM.isAvailable)
            && k * m * n >= FusedRecurrence.packedBackwardMultiplyAdds
        let packBlock = ScratchPool.shared.take(packs ? PackedGEMM.packedCount(columns: n, depth: k) : 0)
        defer { ScratchPool.shared.give(packBlock) }
        let packed = packBlock.pointer
        ComputeThreads.run(workers: chunks) { member in
            if packs {
                let mine = member.share(of: n, granularity: PackedGEMM.panelWidth)
                if !mine.isEmpty {
                    PackedGEMM.pack(MatrixView(b + mine.lowerBound, rows: k, columns: mine.count, leadingDimension: n), .noTranspose,
                                    into: packed + mine.lowerBound * k)
                }
                member.barrier()
            }
            for ch in stride(from: member.index, to: chunks, by: member.count) {
                let rows = FusedRecurrence.chunk(ch, of: chunks, total: m)
                guard !rows.isEmpty else { continue }
                let left = transposed
                    ? MatrixView(a + rows.lowerBound, rows: k, columns: rows.count, leadingDimension: m)
                    : MatrixView(a + rows.lowerBound * k, rows: rows.count, columns: k, leadingDimension: k)
                let into = MutableMatrixView(c + rows.lowerBound * n, rows: rows.count, columns: n, leadingDimension: n)
                switch (packs, transposed) {
                case (true, true): PackedGEMM.multiplyTransposed(left, packed: packed, columns: n, into: into, beta: 1)
                case (true, false): PackedGEMM.multiply(left, packed: packed, columns: n, into: into, beta: 1)
                case (false, _):
                    BLAS.gemm(left, transposed ? .transpose : .noTranspose,
                              MatrixView(b, rows: k, columns: n, leadingDimension: n), .noTranspose, into: into, beta: 1)
                }
            }
        }
    }

    /// The autograd node's name.
    static func nodeName(_ kind: CellKind, reverse: Bool) -> String {
        switch (kind, reverse) {
        case (.lstm, false): return "layerNormLSTMBackward"
        case (.lstm, true): return "layerNormLSTMReverseBackward"
        case (_, false): return "layerNormGRUBackward"
        case (_, true): return "layerNormGRUReverseBackward"
        }
    }

    /// Backpropagation through time for ``run(kind:input:layout:reverse:h0:c0:weights:lengths:)``:
    /// accumulates into `gradInputs`, in the order input, h0, (c0), W_ih, W_hh, LN_i's weight
    /// and (bias), LN_h's, (LN_c's). With `inputOrder`, the input's gradient is added in a bidirectional layer's
    /// order of directions (``InputGradientOrder``).
    static func backward(kind: CellKind, layout: SequenceLayout, reverse: Bool, lengths: [Int]?, sizes: (I: Int, H: Int),
                         hasC0: Bool, x: UnsafePointer<Float>, wih: UnsafePointer<Float>, whh: UnsafePointer<Float>,
                         norms p: NormPointers, variant: CellVariant, saved: Saved,
                         gradOutputs: [UnsafePointer<Float>?], gradInputs: [UnsafeMutablePointer<Float>?],
                         inputOrder: InputGradientOrder? = nil) {
        defer { inputOrder?.finishTurn() }                 // whatever was skipped
        let (I, H) = sizes
        let T = layout.steps, B = layout.batch, R = layout.rows, rs = layout.rowStride
        let G = kind.gateCount, GH = G * H
        let isLSTM = kind == .lstm
        var k = 0
        func next() -> UnsafeMutablePointer<Float>? { defer { k += 1 }; return gradInputs[k] }
        let gX = next(), gH0 = next()
        let gC0 = hasC0 ? next() : nil
        let gWih = next(), gWhh = next()
        let gWI = next(), gBI = p.hasBias ? next() : nil
        let gWH = next(), gBH = p.hasBias ? next() : nil
        let gWC = p.hasC ? next() : nil, gBC = p.hasC && p.hasBias ? next() : nil
        let gY = gradOutputs[0], gHN = gradOutputs[1], gCN = gradOutputs.count > 2 ? gradOutputs[2] : nil
        let md = variant.stateMask.map { UnsafePointer($0.storage.pointer) }
        let zh = variant.zoneoutH?.rows, zc = isLSTM ? variant.zoneoutC?.rows : nil   // alive with `variant`

        // dGx: the gradient of the raw input projection (LSTM: written by the row kernel; GRU:
        // first of the input side after LN_i's affine, then in place of the raw projection);
        // dGh (GRU): of the recurrent side after LN_h's affine; dHH: of the raw recurrent
        // projection. Rows that variable lengths skip stay zero.
        // LSTM: the layer norms' parameter gradients are summed by the row kernel into one set
        // of sums per block of batch rows (``LSTMSums``), added up in block order at the end:
        // the blocks depend on the batch alone, so the sums do not depend on the thread count.
        let rowBlock = Self.rowBlock, blockCount = (B + rowBlock - 1) / rowBlock
        let dGCount = R * GH, dGhCount = isLSTM ? 0 : R * GH
        let sumsCount = isLSTM ? blockCount * LSTMSums.count(GH: GH, H: H) : 0
        let dhCount = isLSTM ? 0 : B * H
        let packs = PackedGEMM.isAvailable && H > 0
        let packedCount = packs ? PackedGEMM.packedCount(columns: H, depth: GH) : 0
        // The regularisers' rows (B × H each): zoneout's part of h_{t−1}'s gradient (GRU) or
        // h_t's whole gradient (LSTM), zoneout's part of c_{t−1}'s, and the product's gradient
        // of the masked state.
        let regularizerCount = zh != nil || zc != nil || md != nil ? 3 * B * H : 0
        let scratchBlock = ScratchPool.shared.take(2 * dGCount + dGhCount + 2 * B * H + dhCount + packedCount + sumsCount
                                                   + regularizerCount)
        defer { ScratchPool.shared.give(scratchBlock) }
        let dGx = scratchBlock.pointer
        let dHH = dGx + dGCount
        let dGh = isLSTM ? dGx : dHH + dGCount
        let carry = dHH + dGCount + dGhCount  // the gradient reaching h_t from later steps (B × H)
        let dc = carry + B * H                // the gradient reaching c_t (B × H)
        let dh = dc + B * H                   // GRU: the step's whole gradient of h_t (B × H)
        let packedWhh = dh + dhCount
        let sums = LSTMSums(base: packedWhh + packedCount, GH: GH, H: H)
        let zoneoutH = sums.base + sumsCount, directC = zoneoutH + B * H, dMasked = directC + B * H
        if lengths != nil { dGx.update(repeating: 0, count: 2 * dGCount + dGhCount) }
        sums.base.update(repeating: 0, count: sumsCount)
        if let gHN { carry.update(from: gHN, count: B * H) } else { carry.update(repeating: 0, count: B * H) }
        if let gCN { dc.update(from: gCN, count: B * H) } else { dc.update(repeating: 0, count: B * H) }
        let wantsShift = gBI != nil || gBH != nil
        let whhView = MatrixView(whh, rows: GH, columns: H, leadingDimension: max(H, 1))
        let workers = teamSize(batch: B, hidden: H, gates: G)
        // Raw pointers for the team (no reference counting per row); `saved` keeps them alive.
        let gatesP = saved.gates.pointer, hHatP = saved.hHat.pointer, rstdHP = saved.rstdH.pointer
        let cHatP = saved.cHat.pointer, rstdCP = saved.rstdC.pointer, tanhCP = saved.tanhC.pointer
        let cPrevP = saved.cPrev.pointer, hnP = saved.hn.pointer, hPrevP = saved.hPrev.pointer
        let xHatIP = saved.xHatI.pointer, rstdIP = saved.rstdI.pointer
        let limitArray = lengths ?? [Int](repeating: T, count: B)
        // LSTM without lengths or zoneout of h: every row of a block is active at every step,
        // and the product dHH_t·W_hh replaces the carry; else it is added to the carry (zeroed
        // for active rows by backwardRow, or zoneout's direct part; kept for inactive ones).
        let carryBeta: Float = isLSTM && lengths == nil && zh == nil ? 0 : 1
        let statesP = saved.hMasked?.pointer ?? hPrevP      // the states the products read

        limitArray.withUnsafeBufferPointer { limits in
            /// The fused backward of item `b` at step `t` (sequence row `row`), if active: its
            /// rows of dGx, (dGh,) dHH, its `dc`, (LSTM) its share of its block's parameter sums,
            /// and its `carry` set to the direct part of h_{t−1}'s gradient (GRU) or, with
            /// lengths, zero (LSTM), before the product adds the rest.
            /// `next`: how many rows on lies the row the member passes next (0: none), for the
            /// kernel's prefetching.
            func backwardRow(t: Int, b: Int, row: Int, next: Int) {
                guard t < limits[b] else { return }
                let carryb = carry + b * H
                if isLSTM {
                    // Zoneout: h̃_t's share of h_t's gradient into its own row, h_{t−1}'s into
                    // the carry; c̃_t's share of dc in place, c_{t−1}'s apart.
                    var carryIn = UnsafePointer(carryb), dy = gY.map { UnsafePointer($0 + row * H) }
                    if let zh {
                        let total = zoneoutH + b * H
                        if let dy { Elementwise.add(carryb, dy, into: total, count: H) } else { total.update(from: carryb, count: H) }
                        Elementwise.zoneoutBackward(mask: zh.row(row, item: b, width: H), gradient: total, direct: carryb, count: H)
                        carryIn = UnsafePointer(total)
                        dy = nil
                    }
                    if let zc {
                        Elementwise.zoneoutBackward(mask: zc.row(row, item: b, width: H), gradient: dc + b * H, direct: directC + b * H, count: H)
                    }
                    LayerNormCellKernels.lstmBackwardRow(
                        hidden: H, gates: gatesP + row * GH, hHat: hHatP + row * GH,
                        rstdH: rstdHP[row], weightH: p.wH, inputSide: xHatIP + row * GH, rstdI: rstdIP[row], weightI: p.wI,
                        cHat: cHatP + row * H, rstdC: rstdCP[row], weightC: p.wC!, tanhC: tanhCP + row * H,
                        cPrev: cPrevP + row * H, carry: carryIn, dy: dy, dc: dc + b * H,
                        dInput: dGx + row * GH, dRecurrent: dHH + row * GH,
                        sums: sums.block(b / rowBlock, shift: wantsShift, cellShift: gBC != nil), next: next)
                    if zc != nil { Elementwise.add(dc + b * H, directC + b * H, into: dc + b * H, count: H) }
                    if carryBeta != 0 && zh == nil { carryb.update(repeating: 0, count: H) }
                } else {
                    let dhb = dh + b * H
                    if let gY {
                        let y = gY + row * H
                        for j in 0..<H { dhb[j] = carryb[j] + y[j] }
                    } else {
                        dhb.update(from: carryb, count: H)
                    }
                    if let zh { Elementwise.zoneoutBackward(mask: zh.row(row, item: b, width: H), gradient: dhb, direct: zoneoutH + b * H, count: H) }
                    LayerNormCellKernels.gruBackwardRow(
                        hidden: H, gates: gatesP + row * GH, hn: hnP + row * H,
                        hHat: hHatP + row * GH, rstdH: rstdHP[row], weightH: p.wH,
                        hPrev: hPrevP + row * H, dh: dhb, dhPrev: carryb,
                        dInputSide: dGx + row * GH, dRecurrentSide: dGh + row * GH, dRecurrent: dHH + row * GH)
                    if zh != nil { Elementwise.add(carryb, zoneoutH + b * H, into: carryb, count: H) }
                }
            }
            ComputeThreads.run(workers: workers) { member in
                let units = member.share(of: H, granularity: packs ? PackedGEMM.panelWidth : max(H, 1))
                if packs && !units.isEmpty {
                    PackedGEMM.pack(MatrixView(whh + units.lowerBound, rows: GH, columns: units.count, leadingDimension: H), .noTranspose,
                                    into: packedWhh + units.lowerBound * GH)
                }
                member.barrier()
                // The steps in reverse over this member's blocks of batch rows, which need no other
                // member's rows: the fused row kernels, then carry (+)= dHH_t · W_hh for the block
                // (inactive items' rows of dHH are zero).
                for s in stride(from: T - 1, through: 0, by: -1) {
                    let t = reverse ? T - 1 - s : s
                    let first = layout.firstRow(t)
                    for block in member.share(of: blockCount) {
                        let r0 = block * rowBlock, rows = r0..<Swift.min(B, r0 + rowBlock)
                        // After the block's last row, the block's first row one step earlier.
                        let following = s > 0 ? layout.firstRow(reverse ? T - s : s - 1) + r0 * rs : nil
                        for b in rows {
                            let row = first + b * rs
                            backwardRow(t: t, b: b, row: row, next: b + 1 < rows.upperBound ? rs : following.map { $0 - row } ?? 0)
                        }
                        let dHHBlock = MatrixView(UnsafePointer(dHH + (first + r0 * rs) * GH), rows: rows.count, columns: GH,
                                                  leadingDimension: max(rs * GH, 1))
                        // With recurrent dropout the product is the masked state's gradient, which
                        // reaches h_{t−1} through the mask.
                        let productBlock = md != nil ? dMasked + r0 * H : carry + r0 * H
                        let productBeta: Float = md != nil ? 0 : carryBeta
                        let into = MutableMatrixView(productBlock, rows: rows.count, columns: H, leadingDimension: max(H, 1))
                        if packs {
                            PackedGEMM.multiply(dHHBlock, packed: packedWhh, columns: H, into: into, beta: productBeta)
                        } else {
                            BLAS.gemm(dHHBlock, .noTranspose, whhView, .noTranspose, into: into, beta: productBeta)
                        }
                        if let md {
                            for b in rows {
                                if carryBeta == 0 {
                                    Elementwise.multiplyVectorised(dMasked + b * H, md + b * H, into: carry + b * H, count: H)
                                } else {
                                    Elementwise.multiplyAddVectorised(dMasked + b * H, md + b * H, into: carry + b * H, count: H)
                                }
                            }
                        }
                    }
                }
                // GRU: the layer norms' parameters (columns split), then LN_i's input gradient, in
                // place (rows split). (The LSTM's row kernel did both.)
                guard !isLSTM else { return }
                member.barrier()
                let gateColumns = member.share(of: GH)
                if !gateColumns.isEmpty {
                    let c0 = gateColumns.lowerBound, n = gateColumns.count
                    LayerNormCellKernels.accumulateParameterGradients(rows: R, columns: n, dGx + c0, stride: GH,
                                                                      xhat: xHatIP + c0, stride: GH,
                                                                      gradWeight: gWI.map { $0 + c0 }, gradBias: gBI.map { $0 + c0 })
                    LayerNormCellKernels.accumulateParameterGradients(rows: R, columns: n, dGh + c0, stride: GH,
                                                                      xhat: hHatP + c0, stride: GH,
                                                                      gradWeight: gWH.map { $0 + c0 }, gradBias: gBH.map { $0 + c0 })
                }
                member.barrier()
                let allRows = member.share(of: R)
                LayerNormCellKernels.backwardRows(rows: allRows.count, columns: GH, dGx + allRows.lowerBound * GH, stride: GH,
                                                  xhat: xHatIP + allRows.lowerBound * GH, stride: GH,
                                                  rstd: rstdIP + allRows.lowerBound, weight: p.wI,
                                                  into: dGx + allRows.lowerBound * GH, stride: GH)
            }
        }
        if isLSTM {
            sums.addBlocks(blockCount, weightI: gWI, weightH: gWH, biasI: gBI, biasH: gBH, weightC: gWC, biasC: gBC)
        }
        withExtendedLifetime(saved) {}
        if let gH0 { for j in 0..<(B * H) { gH0[j] += carry[j] } }
        if let gC0 { for j in 0..<(B * H) { gC0[j] += dc[j] } }
        // The sequence-wide products: dX += dXP·W_ih, dW_ih += dXPᵀ·X, dW_hh += dHHᵀ·H_prev;
        // dX first, but last (after the wait) for a bidirectional layer's second direction.
        let dXLast = inputOrder?.isFirst == false
        if !dXLast, let gX { accumulateProduct(dGx, transposed: false, wih, rows: R, depth: GH, columns: I, into: gX) }
        inputOrder?.finishTurn()
        if let gWih { accumulateProduct(dGx, transposed: true, x, rows: GH, depth: R, columns: I, into: gWih) }
        if let gWhh { accumulateProduct(dHH, transposed: true, statesP, rows: GH, depth: R, columns: H, into: gWhh) }
        if dXLast, let gX {
            inputOrder?.waitForTurn()
            accumulateProduct(dGx, transposed: false, wih, rows: R, depth: GH, columns: I, into: gX)
        }
    }
}
