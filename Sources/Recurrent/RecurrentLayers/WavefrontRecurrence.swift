import Foundation
import LinearAlgebra

/// Stacked unidirectional layers run as a wavefront: layer `l + 1` runs step `t` while layer
/// `l` runs a later step, each layer on a worker of its own.
///
/// Splitting each step's hidden units between workers (``FusedRecurrence``'s team) costs one
/// barrier per step, which all workers wait at. A wavefront gives each worker whole layers
/// instead: worker `w` runs layer `w` of a group of `W` consecutive layers
/// (``groupSize(kind:layout:weights:dropoutBetweenLayers:)``), as a team of one, with
/// the very code of a single layer (``FusedRecurrence/run(kind:input:layout:reverse:h0:c0:weights:lengths:gradMode:stage:pending:)``).
/// The hand-offs are producer/consumer only: each layer publishes, on a progress counter of
/// its own (``ProgressCounters``), how many steps it has finished; the layer above waits for
/// the counter to reach the end of the chunk of steps it is about to run, spinning briefly and
/// then yielding. A worker waits for a layer above it only for that layer's buffers (to
/// project its share, below), which that layer publishes before it waits for anything; so no
/// cycle of waits can form.
///
/// Balance: a layer's input projection (`X · W_ihᵀ`) cannot be one sequence-wide product
/// for the layer above, whose input is still being computed; every layer of a group (the
/// first one too, so that the workers carry equal work) projects its input chunk by chunk,
/// `k` steps at a time just before it runs them (``ProjectionPlan``), `k` chosen by the
/// shapes alone. A layer whose input is narrower than its state (the first, `inputSize <
/// hiddenSize`) has less to project than the layers above; so the worker of layer `l`, right
/// after finishing a chunk, also projects the first hidden units (whole 16-column panels, of
/// every gate) of layer `l + 1`'s same chunk, as many as even out the workers' multiply-adds
/// per step (``sharedUnits(inputWidths:stateWidth:hidden:)``); layer `l + 1` projects the
/// rest and waits for that share before it runs the chunk. Columns are independent in the
/// packed product, so the split changes no bit.
///
/// Bits: nothing changes in the arithmetic. Each layer runs the same kernels on the same rows
/// as on one thread; the chunked projection computes each row with the same number of
/// accumulator chains as the sequence-wide product (``PackedGEMM/rowChains(rows:row:)``: the
/// packed kernel's per-element arithmetic depends on the height of the row's tile only), and
/// a shape whose chunks cannot keep that runs layer by layer instead. So results stay
/// bit-identical to one thread's.
///
/// Autograd: each layer saves its usual tensors and leaves its node's parts in a
/// ``PendingNode`` (the layer above waits, before it does, for the layer below's output
/// tensor); the recording layers of the group become one node (``WavefrontNode``) with every
/// layer's outputs, so callers see the same tensors. Its backward runs each layer's BPTT of
/// ``FusedRecurrence``, either one after the other from the top (exactly the per-layer nodes'
/// work; the policy), or, when forced (``WavefrontNode/override``), as a wavefront in reverse time: worker
/// `w` runs a layer's backward, which hands its input gradient (`dX = dG · W_ih`, packed, each
/// row with its sequence-wide arithmetic) down to the layer below chunk by chunk as its steps
/// finish, on progress counters as here. Every gradient keeps its bits either way.
enum WavefrontRecurrence {
    /// The internal override of the policy, for measurement (A/B on a quiet machine) and tests:
    /// `RECURRENT_WAVEFRONT=0` never runs a wavefront, `=1` runs one wherever it is supported
    /// (even where the policy would split each step's columns instead); unset (or any other
    /// value), the policy decides by size. Tests set ``override`` directly.
    static var override: Bool? {
        get { overrideSetting.value }
        set { overrideSetting.value = newValue }
    }

    private static let overrideSetting = PolicyOverride(environment: "RECURRENT_WAVEFRONT")

    /// From this many multiply-adds of a step's product (`B · 3H · H`), a GRU stack whose steps
    /// split by columns over the group's workers runs as a wavefront instead. Its cell reads the
    /// step's slice of the input projection, which the column split computes for the whole
    /// sequence first (out of cache by then: the cell's loads of it took a fifth of the time at
    /// 64 items, hidden 256); the wavefront projects each chunk just before its steps.
    /// Measured (2 threads, forward, wavefront against column split): hidden 512 with 8, 12,
    /// 16, 32 and 64 items 5–11 % faster (64: 78 against 82 ms); hidden 256 with 64 items 23–24
    /// against 28–29 ms, with 12 items (2.4 million) a tie, with 8 items (1.6 million) 15 %
    /// slower, with 1 and 4 items 9 and 14 % slower.
    static let minimumGRUStepMultiplyAdds = 1 << 21

    /// The number of consecutive layers, from the first of `weights` (each layer's directions),
    /// to run as one wavefront group, or `nil` to run the first layer on its own as today.
    ///
    /// Supported: unidirectional layers without projections, every cell kind, with or without
    /// `lengths`, either layout, no dropout between the layers (it draws random numbers in
    /// layer order), the packed kernels available, anomaly detection off, and a chunking of
    /// the input projection that keeps the bits (``ProjectionPlan``). The group has
    /// `min(threads, layers left)` layers, at least 2. The policy takes it for gated cells (LSTM,
    /// GRU; a plain RNN's steps split by columns faster) whose steps' product is at least
    /// ``FusedRecurrence/minimumStepMultiplyAddsPerWorker`` (smaller layers stay on one thread)
    /// and would not split by items (``BatchSplitRecurrence/splitsLayerSteps(batch:workers:gateColumns:depth:)``),
    /// where either
    /// - the column split would use fewer workers than the group
    ///   (``FusedRecurrence/teamSize(batch:hidden:gates:depth:hasProjection:)``: steps too small
    ///   to split), or
    /// - the cell is a GRU's whose step's product is at least ``minimumGRUStepMultiplyAdds``
    ///   and the column split would not use more workers than the group.
    ///
    /// ``override`` can force either way.
    ///
    /// Measured (2 threads, AMD EPYC Zen 5, forward, medians of 3 alternating processes): where
    /// the column split takes both workers, it ran an LSTM stack as fast as the wavefront or
    /// faster at every size tried (batch 1, hidden 256: 0.77 against 1.02 ms; batch 4: 1.75
    /// against 2.17 ms, and training 5.2 against 6.0 ms; batch 8 and 16: 3–6 % faster; batch 64,
    /// hidden 256: a tie; hidden 512: 101 against 108 ms), and a GRU stack of 1 to 8 items (9–15 %
    /// faster, below ``minimumGRUStepMultiplyAdds``). Where it takes one worker (an LSTM's batch 1 with hidden 128:
    /// 65,536 multiply-adds a step), the wavefront ran in 0.27 against 0.43 ms.
    static func groupSize(kind: CellKind, layout: SequenceLayout, weights: ArraySlice<[RecurrentWeights]>,
                          dropoutBetweenLayers: Bool) -> Int? {
        let mode = override
        guard mode != false, weights.count >= 2, !dropoutBetweenLayers, PackedGEMM.isAvailable,
              !AnomalyMode.isEnabled, layout.steps >= 2, layout.batch > 0 else { return nil }
        let first = weights[weights.startIndex]
        guard first.count == 1 else { return nil }
        let G = kind.gateCount
        let H = first[0].weightIH.shape[0] / G, Hr = first[0].weightHH.shape[1]
        let group = Swift.min(ComputeThreads.count, weights.count)
        guard group >= 2, H > 0, Hr > 0,
              weights.prefix(group).allSatisfy({ $0.count == 1 && $0[0].weightHR == nil }) else { return nil }
        if mode == nil {
            // Gated cells only: a plain RNN's step is one small product and an activation,
            // which the column split shares well; its handoffs cost more than they save
            // (`medium`, 2 threads, quiet: 563 µs forward as a wavefront against 483 µs split,
            // while `gru-medium` took 1.50 ms against 1.72 ms and `lstm-medium` 1.93 against 1.97).
            guard G > 1 else { return nil }
            let (work, overflow) = (layout.batch * G).multipliedReportingOverflow(by: H * Hr)
            guard overflow || work >= FusedRecurrence.minimumStepMultiplyAddsPerWorker else { return nil }
            let columnSplit = FusedRecurrence.teamSize(batch: layout.batch, hidden: H, gates: G, depth: Hr, hasProjection: false)
            guard columnSplit < group || (columnSplit == group && kind == .gru && (overflow || work >= minimumGRUStepMultiplyAdds))
            else { return nil }
            // Layers whose steps split by items (enough items a worker) run on every worker with
            // no barrier or hand-off per step, which beat the wavefront in training (2 threads,
            // quiet, alternating: gru-medium 4.3-4.5 ms a step against 4.6-6.0, lstm-medium
            // 5.7-5.8 against 5.9-7.3); inference splits the items over the whole stack before.
            guard !BatchSplitRecurrence.splitsLayerSteps(batch: layout.batch, workers: columnSplit, gateColumns: G * H,
                                                         depth: Hr) else { return nil }
        }
        return ProjectionPlan(layout: layout) != nil ? group : nil
    }

    /// Runs the unidirectional layers `weights` (one per layer, in order) over `input` as a
    /// wavefront and returns each layer's output `(T, B, Hr)` or `(B, T, Hr)`, final hidden
    /// state `(B, Hr)` and (LSTM) final cell state `(B, H)`, exactly as running
    /// ``FusedRecurrence/run(kind:input:layout:reverse:h0:c0:weights:lengths:gradMode:stage:pending:)``
    /// layer after layer would. Only for a group that ``groupSize(kind:layout:weights:dropoutBetweenLayers:)``
    /// accepted.
    static func run(kind: CellKind, input: Tensor, layout: SequenceLayout, h0: [Tensor], c0: [Tensor?],
                    weights: [RecurrentWeights], lengths: [Int]?) -> [(output: Tensor, hN: Tensor, cN: Tensor?)] {
        let L = weights.count
        guard let plan = ProjectionPlan(layout: layout) else {
            preconditionFailure("WavefrontRecurrence.run: no projection plan for this layout (groupSize is the gate)")
        }
        let gradMode = GradMode.isEnabled
        let counters = ProgressCounters(count: WavefrontStage.countersPerLayer * L)
        let slots = UnsafeMutableBufferPointer<(output: Tensor, hN: Tensor, cN: Tensor?)?>.allocate(capacity: L)
        slots.initialize(repeating: nil)
        defer { slots.deinitialize(); slots.deallocate() }
        // Each layer's output buffer exists before any layer runs, so that the layer above can
        // read its rows while it is being written; and whether each layer records, which the
        // layer above's own recording depends on.
        var stages: [WavefrontStage] = []
        var recordsBelow = input.requiresGrad
        let shares = sharedUnits(inputWidths: weights.map { $0.weightIH.shape[1] }, stateWidth: weights[0].weightHH.shape[1],
                                 hidden: weights[0].weightIH.shape[0] / kind.gateCount)
        for l in 0..<L {
            let Hr = weights[l].weightHH.shape[1]
            var states = [h0[l]] + weights[l].tensors
            if let c = c0[l] { states.append(c) }
            let recording = gradMode && (recordsBelow || states.contains(where: \.requiresGrad))
            stages.append(WavefrontStage(layer: l, counters: counters, slots: slots, plan: plan,
                                         output: TensorBuffer(uninitializedCount: layout.rows * Hr),
                                         recording: recording, steps: layout.steps, sharedUnits: shares[l]))
            recordsBelow = recording
        }
        for l in 0..<(L - 1) { stages[l].above = stages[l + 1] }
        var shapes: [[Int]] = [input.shape]
        for l in 0..<(L - 1) {
            var shape = input.shape
            shape[shape.count - 1] = weights[l].weightHH.shape[1]
            shapes.append(shape)
        }
        ComputeThreads.run(workers: L) { member in
            // A smaller team (a busy pool) runs its layers one after the other: a layer never
            // waits for one above it, so any assignment of layers in order finishes.
            for l in stride(from: member.index, to: L, by: member.count) {
                // Sharing projections needs every layer on a worker of its own (a worker that
                // runs layer l to its end before layer l + 1 could not wait for l + 1's buffers).
                stages[l].shares = member.count == L
                let layerInput = l == 0 ? input : Tensor(shape: shapes[l], storage: stages[l - 1].output)
                let result = FusedRecurrence.run(kind: kind, input: layerInput, layout: layout, reverse: false,
                                                 h0: h0[l], c0: c0[l], weights: weights[l], lengths: lengths,
                                                 gradMode: gradMode, stage: stages[l], pending: stages[l].pending)
                stages[l].publish(result)
            }
        }
        WavefrontNode.make(stages.map(\.pending), slots: stages.map(\.backwardSlot), kind: kind, layout: layout, weights: weights)
        return slots.map { $0! }
    }

    /// For each layer of a group, how many of its first hidden units (of every gate; whole
    /// 16-column panels) the worker of the layer below projects for it, so that every worker
    /// does about as many multiply-adds per step: the recurrent product (`stateWidth` deep,
    /// the same in every layer) plus its layer's projection (`inputWidths[l]` deep) less the
    /// share done below, plus its share of the layer above's. Only ever moves work upwards
    /// (0 for the first layer, and where the layer below has no less to do).
    static func sharedUnits(inputWidths: [Int], stateWidth: Int, hidden H: Int) -> [Int] {
        let L = inputWidths.count
        guard L > 1, H > 0 else { return [Int](repeating: 0, count: L) }
        let target = Double(L * stateWidth + inputWidths.reduce(0, +)) / Double(L)
        var shares = [0]
        var doneHere = 1.0          // the fraction of layer l's projection its own worker does
        for l in 0..<(L - 1) {
            let below = Double(stateWidth) + doneHere * Double(inputWidths[l])
            let fraction = Swift.min(1, Swift.max(0, (target - below) / Double(Swift.max(inputWidths[l + 1], 1))))
            let panels = (fraction * Double(H) / Double(PackedGEMM.panelWidth)).rounded()
            let units = Swift.min(H, Int(panels) * PackedGEMM.panelWidth)
            shares.append(units)
            doneHere = 1 - Double(units) / Double(H)
        }
        return shares
    }
}

/// How a wavefront layer projects its input: in chunks of whole steps, each chunk in one or
/// more products whose rows take the same arithmetic as in the sequence-wide product
/// (``PackedGEMM/rowChains(rows:row:)``). A chunk's rows are one contiguous run (sequence
/// first, or a batch of one), or one strided run per step (batch first: the step's items are
/// `T` rows apart), or one contiguous run per item (batch first, when the per-step runs cannot
/// keep the bits).
///
/// The backward's input gradient (`dX = dG · W_ih`, ``WavefrontNode``) is planned the same
/// way, for a sequence-wide product made of `products` separate row chunks
/// (``FusedRecurrence/inputGradients(rows:gates:inputs:x:wih:dG:gX:gWih:packsTransposed:order:chunks:extraMultiplyAdds:pack:chunk:)``'s):
/// a row then takes the arithmetic of its place in its own chunk.
struct ProjectionPlan {
    /// A run of `count` rows of the sequence buffer, `first`, `first + stride`, ….
    struct Rows { let first: Int, stride: Int, count: Int }

    enum Runs { case contiguous, perStep, perItem }

    let layout: SequenceLayout
    /// The steps per chunk (the chunks are `steps / k` near-equal parts, each at least `k`).
    let k: Int
    let chunkCount: Int
    let runs: Runs
    /// The sequence-wide product is this many near-equal row chunks (``FusedRecurrence/chunk(_:of:total:)``),
    /// each a product of its own: 1 for the forward's projection.
    let products: Int

    /// The rows of a chunk aim at this many (sequence first: `k = ⌈8 / B⌉` steps, but at most
    /// `T / 8` and at least the 4 rows that a 4-row tile takes): enough for the packed
    /// kernel's tiles, while the layer above waits only `k` steps to start.
    static let chunkRows = 8

    /// The plan for `layout` and a sequence-wide product of `products` row chunks, `nil` when
    /// no chunking with at least two chunks keeps the bits. The choice depends on the shapes
    /// alone.
    init?(layout: SequenceLayout, products: Int = 1) {
        let T = layout.steps, B = layout.batch
        guard T >= 2, B >= 1 else { return nil }
        let contiguous = !layout.batchFirst || B == 1
        let first = contiguous ? Swift.max((4 + B - 1) / B, Swift.min((Self.chunkRows + B - 1) / B, T / 8)) : 1
        for k in first...Swift.max(first, T / 2) where T / k >= 2 {
            for runs in contiguous ? [Runs.contiguous] : [.perStep, .perItem] {
                let candidate = ProjectionPlan(layout: layout, k: k, runs: runs, products: Swift.max(1, products))
                if (0..<candidate.chunkCount).allSatisfy({ candidate.forEachProduct(inChunk: $0) { _ in } }) {
                    self = candidate
                    return
                }
            }
        }
        return nil
    }

    private init(layout: SequenceLayout, k: Int, runs: Runs, products: Int) {
        self.layout = layout; self.k = k; self.chunkCount = layout.steps / k; self.runs = runs; self.products = products
    }

    /// The steps of chunk `c`.
    func steps(ofChunk c: Int) -> Range<Int> { FusedRecurrence.chunk(c, of: chunkCount, total: layout.steps) }

    /// Calls `body` for each product (a run of rows) that projects chunk `c`, and returns
    /// whether every row takes its sequence-wide arithmetic (if not, `body` ran for none).
    @discardableResult
    func forEachProduct(inChunk c: Int, _ body: (Rows) -> Void) -> Bool {
        let steps = steps(ofChunk: c)
        let T = layout.steps, B = layout.batch
        switch runs {
        case .contiguous:
            return split(Rows(first: layout.firstRow(steps.lowerBound), stride: 1, count: steps.count * B), body)
        case .perStep:
            return steps.allSatisfy { split(Rows(first: $0, stride: T, count: B)) { _ in } }
                && steps.allSatisfy { split(Rows(first: $0, stride: T, count: B), body) }
        case .perItem:
            func run(_ b: Int) -> Rows { Rows(first: b * T + steps.lowerBound, stride: 1, count: steps.count) }
            return (0..<B).allSatisfy { split(run($0)) { _ in } }
                && (0..<B).allSatisfy { split(run($0), body) }
        }
    }

    /// ``split(_:of:_:)`` for a run of rows of the sequence-wide product made of ``products``
    /// row chunks: the run is cut where it crosses from one chunk into the next, and each
    /// piece is split within its own chunk's product.
    private func split(_ rows: Rows, _ body: (Rows) -> Void) -> Bool {
        let m = layout.rows
        guard products > 1 else { return Self.split(rows, of: m, body) }
        /// Calls `piece` for each piece of `rows` within one chunk, in order, with the chunk's rows.
        func pieces(_ piece: (Rows, Range<Int>) -> Bool) -> Bool {
            var at = 0, product = 0
            while at < rows.count {
                let row = rows.first + at * rows.stride
                while !FusedRecurrence.chunk(product, of: products, total: m).contains(row) { product += 1 }
                let bounds = FusedRecurrence.chunk(product, of: products, total: m)
                var end = at + 1
                while end < rows.count && rows.first + end * rows.stride < bounds.upperBound { end += 1 }
                guard piece(Rows(first: row, stride: rows.stride, count: end - at), bounds) else { return false }
                at = end
            }
            return true
        }
        func local(_ r: Rows, _ bounds: Range<Int>) -> Rows { Rows(first: r.first - bounds.lowerBound, stride: r.stride, count: r.count) }
        return pieces { r, bounds in Self.split(local(r, bounds), of: bounds.count) { _ in } }
            && pieces { r, bounds in
                Self.split(local(r, bounds), of: bounds.count) {
                    body(Rows(first: $0.first + bounds.lowerBound, stride: $0.stride, count: $0.count))
                }
            }
    }

    /// Splits `rows` (rows of an `m`-row product) into products in which every row takes the
    /// number of accumulator chains it takes in the whole product, and calls `body` for each
    /// (when not `nil`); returns `false`, calling nothing, when that is impossible. Allocates
    /// nothing.
    static func split(_ rows: Rows, of m: Int, _ body: (Rows) -> Void) -> Bool {
        walk(rows, of: m, calling: false, body) && walk(rows, of: m, calling: true, body)
    }

    /// ``split(_:of:_:)``'s walk: calls `body` only when `calling`.
    private static func walk(_ rows: Rows, of m: Int, calling: Bool, _ body: (Rows) -> Void) -> Bool {
        // Segments of rows with the same chains, in order, each split into uniform products.
        var start = 0
        while start < rows.count {
            let chains = PackedGEMM.rowChains(rows: m, row: rows.first + start * rows.stride)
            var end = start + 1
            while end < rows.count && PackedGEMM.rowChains(rows: m, row: rows.first + end * rows.stride) == chains { end += 1 }
            var at = start
            while at < end {
                guard let take = uniformPrefix(of: end - at, chains: chains) else { return false }
                if calling { body(Rows(first: rows.first + at * rows.stride, stride: rows.stride, count: take)) }
                at += take
            }
            start = end
        }
        return true
    }

    /// The length of a first product of the `count` rows left in which every row takes
    /// `chains` accumulator chains and the rest can still be split so; `nil` if none.
    private static func uniformPrefix(of count: Int, chains: Int) -> Int? {
        // Only the last two tiles (at most 12 rows) are not 6 rows high (one chain).
        func uniform(_ n: Int) -> Bool {
            PackedGEMM.rowChains(rows: n, row: 0) == chains
                && (Swift.max(0, n - 12)..<n).allSatisfy { PackedGEMM.rowChains(rows: n, row: $0) == chains }
        }
        if uniform(count) { return count }
        // Peel a short uniform product off the end (4...6 rows for one chain, 1...3 for two).
        for tail in (chains == 1 ? 4...6 : 1...3) where tail < count && uniform(tail) && uniform(count - tail) {
            return count - tail
        }
        return nil
    }
}

/// One layer's link in a wavefront: its progress counter, its output buffer (allocated before
/// any layer runs), the plan of its chunked input projection, whether it records a node, and
/// where it leaves its results for the layer above. Counter values: the number of steps
/// finished, then `T + 1` once the layer's result tensors are in their slot. Only the layer's
/// own worker calls its methods.
@usableFromInline
final class WavefrontStage: @unchecked Sendable {
    let layer: Int
    let counters: ProgressCounters
    let slots: UnsafeMutableBufferPointer<(output: Tensor, hN: Tensor, cN: Tensor?)?>
    let plan: ProjectionPlan
    /// The layer's output buffer, which its tensor will own.
    let output: TensorBuffer
    /// Where the layer's backward finds its hand-off when its group's node runs the backward
    /// as a wavefront (``WavefrontNode``).
    let backwardSlot = WavefrontBackwardSlot()
    /// Where the layer, recording, leaves its node's parts for the group's one node.
    let pending = PendingNode()
    /// Whether the layer records an autograd node (the caller's grad mode and any input that
    /// requires a gradient, the layer below's output included).
    let recording: Bool
    let steps: Int
    /// The counters of each layer: its steps finished (`T + 1` once its results are in their
    /// slot), whether its buffers are published (1), and the chunks of its projection whose
    /// share the layer below has projected.
    static let countersPerLayer = 3
    private var progress: Int { Self.countersPerLayer * layer }
    /// The hidden units (of every gate) whose projection the layer below does.
    let sharedUnits: Int
    /// Whether projections are shared (every layer runs on a worker of its own); set by the
    /// layer's worker before it runs, the same in every layer.
    var shares = false
    /// The layer above in the group, if any.
    var above: WavefrontStage?
    /// The next chunk to project (only the layer's own worker reads and writes it), and the
    /// next chunk of the layer above to project a share of.
    private var nextChunk = 0, nextShare = 0
    /// The layer's projection: its input rows, their width, the projection buffer, the shape
    /// of its gates and `W_ihᵀ` packed per gate block. Written by the layer's worker before it
    /// publishes them (the second counter); the layer below reads them after waiting for it.
    private var buffers: (x: UnsafePointer<Float>, I: Int, xp: UnsafeMutablePointer<Float>, G: Int, H: Int,
                          packedWih: UnsafePointer<Float>, packedBlock: Int)?

    init(layer: Int, counters: ProgressCounters, slots: UnsafeMutableBufferPointer<(output: Tensor, hN: Tensor, cN: Tensor?)?>,
         plan: ProjectionPlan, output: TensorBuffer, recording: Bool, steps: Int, sharedUnits: Int) {
        self.layer = layer; self.counters = counters; self.slots = slots; self.plan = plan
        self.output = output; self.recording = recording; self.steps = steps; self.sharedUnits = sharedUnits
    }

    /// Called before step `s` (in `0..<T`, in order): publishes that `s` steps are finished,
    /// projects the layer above's share of any chunk this finished, and, at the first step of
    /// a chunk, waits for the layer below to finish the chunk's steps and projects the chunk's
    /// rows of `input` (`R × inputWidth`) into the same rows of `xp` (`R × gates·hidden`):
    /// `X · W_ihᵀ` from `W_ihᵀ` packed gate block by gate block (`packedBlock` floats apart;
    /// zeros without an input), as the layer's sequence-wide product would, bit for bit; the
    /// first ``sharedUnits`` of every gate come from the layer below, waited for.
    func willRun(step s: Int, input x: UnsafePointer<Float>, inputWidth I: Int, into xp: UnsafeMutablePointer<Float>,
                 gates G: Int, hidden H: Int, packedWih: UnsafePointer<Float>, packedBlock: Int) {
        if s == 0 {
            buffers = (x, I, xp, G, H, packedWih, packedBlock)
            counters.publish(1, at: progress + 1)
        } else {
            counters.publish(s, at: progress)
            shareAbove(finished: s)
        }
        guard nextChunk < plan.chunkCount, plan.steps(ofChunk: nextChunk).lowerBound == s else { return }
        let steps = plan.steps(ofChunk: nextChunk)
        if layer > 0 { counters.wait(until: steps.upperBound, at: progress - Self.countersPerLayer) }
        let shared = shares ? sharedUnits : 0
        project(chunk: nextChunk, units: shared..<H, into: buffers!)
        if shared > 0 { counters.wait(until: nextChunk + 1, at: progress + 2) }
        nextChunk += 1
    }

    /// Called after the last step: publishes that every step is finished and projects the
    /// layer above's share of the last chunk.
    func finishedSteps() {
        counters.publish(steps, at: progress)
        shareAbove(finished: steps)
    }

    /// Projects the layer above's share of every chunk whose steps are among the first
    /// `finished` (its input rows: this layer's outputs), once the layer above has published
    /// its buffers, and publishes how many chunks are done.
    private func shareAbove(finished: Int) {
        guard shares, let above, above.sharedUnits > 0 else { return }
        while nextShare < plan.chunkCount && plan.steps(ofChunk: nextShare).upperBound <= finished {
            counters.wait(until: 1, at: above.progress + 1)
            project(chunk: nextShare, units: 0..<above.sharedUnits, into: above.buffers!)
            nextShare += 1
            counters.publish(nextShare, at: above.progress + 2)
        }
    }

    /// Projects the hidden units `units` (a run of whole panels, in every gate block) of
    /// chunk `c`'s rows, with a layer's projection buffers.
    private func project(chunk c: Int, units: Range<Int>,
                         into b: (x: UnsafePointer<Float>, I: Int, xp: UnsafeMutablePointer<Float>, G: Int, H: Int,
                                  packedWih: UnsafePointer<Float>, packedBlock: Int)) {
        guard !units.isEmpty else { return }
        let GH = b.G * b.H, I = b.I
        let complete = plan.forEachProduct(inChunk: c) { rows in
            for g in 0..<b.G {
                let into = MutableMatrixView(b.xp + rows.first * GH + g * b.H + units.lowerBound, rows: rows.count, columns: units.count,
                                             leadingDimension: Swift.max(rows.stride * GH, 1))
                if b.packedBlock > 0 {
                    PackedGEMM.multiply(MatrixView(b.x + rows.first * I, rows: rows.count, columns: I,
                                                   leadingDimension: Swift.max(rows.stride * I, 1)),
                                        packed: b.packedWih + g * b.packedBlock + units.lowerBound * I, columns: units.count, into: into)
                } else {
                    BLAS.scale(into, by: 0)
                }
            }
        }
        precondition(complete, "WavefrontStage: the plan's chunk \(c) cannot keep the bits")
    }

    /// The layer's input tensor, to record the node with: the layer below's output, once it
    /// is in its slot (`nil` for the group's first layer, whose input the caller has).
    func recordedInput() -> Tensor? {
        guard layer > 0 else { return nil }
        counters.wait(until: steps + 1, at: progress - Self.countersPerLayer)
        return slots[layer - 1]!.output
    }

    /// Leaves the layer's results for the layer above and the caller.
    func publish(_ result: (output: Tensor, hN: Tensor, cN: Tensor?)) {
        slots[layer] = result
        counters.publish(steps + 1, at: progress)
    }
}
