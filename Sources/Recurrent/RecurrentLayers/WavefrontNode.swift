import LinearAlgebra

/// The one autograd node of a group of stacked layers that ran as a forward wavefront
/// (``WavefrontRecurrence``), whose backward can run as a wavefront too, in reverse time.
///
/// Each layer of the group leaves its node's parts in a ``PendingNode``; the layers that
/// record (a top run of the group: a layer records when the one below does) become one node.
/// Its inputs are the lowest recording layer's (the group's input, `h0`, (`c0`), weights)
/// then each layer's above it without its input (the output of the layer below, which is
/// inside the node); its outputs are every layer's (output, `h_n`, (`c_n`)) in order, so
/// that callers see the same tensors. A gradient that reaches an intermediate layer's output
/// from outside the node is the start of that layer's output gradient, to which the layer
/// above adds its input gradient (`dX = dG · W_ih`); its `h_n` and `c_n` start its BPTT as
/// in the layer's own node.
///
/// The backward, one after the other: each layer's own backward, from the top down, the
/// layer above's `dX` into a buffer (one per intermediate output) that is the layer below's
/// output gradient: exactly what the autograd engine does with one node per layer.
///
/// The backward as a wavefront (``wavefrontPlans(layers:gradOutputs:gradInputs:)``): worker
/// `w` runs the backward of the `w`-th layer from the top (a smaller team: each worker its
/// layers from the top down), as a team of one. A layer runs its steps in reverse; after each
/// chunk of steps (``ProjectionPlan``, with the chunks of the sequence-wide `dX` product) it
/// adds its `dX` rows of those steps into the layer below's output gradient, packed, each row
/// with the accumulator chains it takes in the sequence-wide product, and publishes how many
/// steps from the end are delivered (``WavefrontBackwardStage``); before each step, the layer
/// below waits until the step is delivered. After its steps, each layer computes its weight
/// gradients as in its own backward. A layer waits only for layers above it, which no worker
/// leaves unfinished for a lower layer, so no cycle of waits can form. Every sum is taken in
/// the same order as one after the other, so every gradient keeps its bits.
enum WavefrontNode {
    /// The internal override of the backward's policy, for measurement (A/B on a quiet
    /// machine) and tests: `RECURRENT_WAVEFRONT_BACKWARD=0` runs the layers' backward one after
    /// the other, `=1` as a wavefront wherever it is supported; unset (or any other value),
    /// the policy decides (``wavefrontPlans(layers:gradOutputs:gradInputs:)``). Tests set
    /// ``override`` directly.
    static var override: Bool? {
        get { overrideSetting.value }
        set { overrideSetting.value = newValue }
    }

    private static let overrideSetting = PolicyOverride(environment: "RECURRENT_WAVEFRONT_BACKWARD")

    /// What the backward needs of one recording layer: its backward and the shapes of its
    /// node's parts, where its backward finds its hand-off, and its shapes. No tensor: the
    /// node's backward keeps these, and a tensor among them (its own outputs) would keep the
    /// node alive through its `gradFn`.
    struct Layer {
        let backward: Node.Backward
        /// The numbers of the layer's node's outputs and inputs, and of the floats of its output.
        let outputCount: Int, inputCount: Int, outputSize: Int
        let slot: WavefrontBackwardSlot
        let layout: SequenceLayout
        /// The layer's gates (`G·H`), input width, state width and gate count.
        let GH: Int, I: Int, Hr: Int, G: Int
    }

    /// Makes the node of the group's layers (`pending`, `slots` and `weights` in layer order;
    /// see ``WavefrontNode``): one node over the layers that recorded when two or more did,
    /// the layer's own node when one did, none otherwise.
    static func make(_ pending: [PendingNode], slots: [WavefrontBackwardSlot], kind: CellKind, layout: SequenceLayout,
                     weights: [RecurrentWeights]) {
        var recorded: [PendingNode.Parts] = []
        var layers: [Layer] = []
        for (l, node) in pending.enumerated() {
            guard let parts = node.parts else { continue }
            node.parts = nil
            recorded.append(parts)
            layers.append(Layer(backward: parts.backward, outputCount: parts.outputs.count, inputCount: parts.inputs.count,
                                outputSize: parts.outputs[0].count, slot: slots[l], layout: layout,
                                GH: weights[l].weightIH.shape[0], I: weights[l].weightIH.shape[1],
                                Hr: weights[l].weightHH.shape[1], G: kind.gateCount))
        }
        if recorded.count == 1 {
            let parts = recorded[0]
            Tensor.attachNode(parts.name, to: parts.outputs, inputs: parts.inputs, backward: parts.backward)
            return
        }
        guard recorded.count >= 2 else { return }
        let inputs = recorded[0].inputs + recorded.dropFirst().flatMap { $0.inputs.dropFirst() }
        let outputs = recorded.flatMap(\.outputs)
        Tensor.attachNode(PendingNode.name(recorded[0].name, inserting: "Wavefront"), to: outputs, inputs: inputs) { gradOutputs, gradInputs in
            backward(layers: layers, gradOutputs: gradOutputs, gradInputs: gradInputs)
        }
    }

    /// The node's backward (see ``WavefrontNode``): splits `gradOutputs` and `gradInputs`
    /// between the layers, gives each intermediate output whose layer above runs a gradient
    /// buffer (what came from outside, or zeros), and runs the layers' backwards, as a
    /// wavefront or from the top down. A layer runs when a gradient reaches one of its
    /// outputs, from outside or from the layer above (as its own node would).
    static func backward(layers: [Layer], gradOutputs: [UnsafePointer<Float>?], gradInputs: [UnsafeMutablePointer<Float>?]) {
        let n = layers.count
        var outs: [[UnsafePointer<Float>?]] = [], ins: [[UnsafeMutablePointer<Float>?]] = []
        var o = 0, i = 0
        for (k, layer) in layers.enumerated() {
            outs.append(Array(gradOutputs[o..<(o + layer.outputCount)]))
            o += layer.outputCount
            let own = layer.inputCount - (k == 0 ? 0 : 1)
            ins.append((k == 0 ? [] : [nil]) + Array(gradInputs[i..<(i + own)]))
            i += own
        }
        var runs = [Bool](repeating: false, count: n)
        var buffers: [TensorBuffer] = []          // the intermediate output gradients
        for k in stride(from: n - 1, through: 0, by: -1) {
            if k + 1 < n && runs[k + 1] {
                let count = layers[k].outputSize
                let buffer = TensorBuffer(count: count)            // zeros
                if let outside = outs[k][0] { buffer.pointer.update(from: outside, count: count) }
                buffers.append(buffer)
                outs[k][0] = UnsafePointer(buffer.pointer)
                ins[k + 1][0] = buffer.pointer
            }
            runs[k] = outs[k].contains { $0 != nil }
        }
        withExtendedLifetime(buffers) {
            if let plans = wavefrontPlans(layers: layers, gradOutputs: outs, gradInputs: ins) {
                runWavefront(layers: layers, plans: plans, gradOutputs: outs, gradInputs: ins)
            } else {
                for k in stride(from: n - 1, through: 0, by: -1) where runs[k] { layers[k].backward(outs[k], ins[k]) }
            }
        }
    }

    /// When the backward runs as a wavefront, the chunks in which each layer hands its `dX`
    /// down (`nil` for the lowest); `nil` when it runs layer after layer. A wavefront needs
    /// two or more threads, no anomaly detection,
    /// every layer runs (a gradient reaches the top layer), no two layers accumulate into the
    /// same gradient, and every layer above the lowest hands its `dX` down packed, in chunks
    /// that keep the bits (``handOffPlan(_:)``). The policy does not take it: only
    /// ``override`` (`RECURRENT_WAVEFRONT_BACKWARD=1`) does. Measured on `lstm-batch4` (two
    /// layers, 4 items, the case it was built for: no item split; its forward ran as a
    /// wavefront by policy then, and is split by columns now), 2 threads, alternating runs
    /// on a quiet Zen 5: 6.4–6.9 ms a training step as a wavefront against 5.4–5.7 ms layer
    /// after layer, each layer's steps split by columns. The top layer's worker carries its
    /// steps, the `dX` it hands down and its weight gradients (420 million multiply-adds
    /// against the lower worker's 236 here; with equal widths 4 against 3 parts), where layer
    /// after layer both workers share each part. It would pay where each step's barrier costs
    /// more than that imbalance, or once the weight gradients of every layer ran on the whole
    /// team after the wavefront.
    static func wavefrontPlans(layers: [Layer], gradOutputs: [[UnsafePointer<Float>?]],
                               gradInputs: [[UnsafeMutablePointer<Float>?]]) -> [ProjectionPlan?]? {
        let mode = override
        guard mode != false, layers.count >= 2, ComputeThreads.count >= 2, !AnomalyMode.isEnabled,
              gradOutputs[layers.count - 1].contains(where: { $0 != nil }) else { return nil }
        let slots = gradInputs.flatMap { $0.compactMap { $0 } }
        guard Set(slots).count == slots.count else { return nil }
        guard mode == true else { return nil }
        var plans: [ProjectionPlan?] = [nil]
        for layer in layers.dropFirst() {
            guard let plan = handOffPlan(layer) else { return nil }
            plans.append(plan)
        }
        return plans
    }

    /// The chunks in which `layer` hands its `dX` rows down: `nil` unless its sequence-wide
    /// `dX` product runs on the packed kernels
    /// (``FusedRecurrence/inputGradients(rows:gates:inputs:x:wih:dG:gX:gWih:packsTransposed:order:chunks:extraMultiplyAdds:pack:chunk:)``)
    /// and the chunks of steps can give every row the arithmetic it takes there.
    static func handOffPlan(_ layer: Layer) -> ProjectionPlan? {
        handOffPlan(layout: layer.layout, gates: layer.GH, inputs: layer.I)
    }

    /// ``handOffPlan(_:)`` for a layer of `GH` gate columns over inputs `I` wide.
    static func handOffPlan(layout: SequenceLayout, gates GH: Int, inputs I: Int) -> ProjectionPlan? {
        let (work, overflow) = (layout.rows * GH).multipliedReportingOverflow(by: I)
        guard PackedGEMM.isAvailable, !overflow, I > 0, work >= FusedRecurrence.packedBackwardMultiplyAdds else { return nil }
        return ProjectionPlan(layout: layout, products: FusedRecurrence.productChunks(work))
    }

    /// Runs the layers' backwards as a wavefront (see ``WavefrontNode``), each layer handing
    /// its `dX` down in the chunks of `plans[k]`.
    static func runWavefront(layers: [Layer], plans: [ProjectionPlan?], gradOutputs: [[UnsafePointer<Float>?]],
                             gradInputs: [[UnsafeMutablePointer<Float>?]]) {
        let n = layers.count
        let counters = ProgressCounters(count: n)
        for (k, layer) in layers.enumerated() {
            layer.slot.stage = WavefrontBackwardStage(index: k, counters: counters, steps: layer.layout.steps,
                                                      waitsAbove: k + 1 < n, plan: plans[k])
        }
        defer { for layer in layers { layer.slot.stage = nil } }
        ComputeThreads.run(workers: n) { member in
            // From the top down: a layer waits only for layers above it.
            for k in stride(from: n - 1 - member.index, through: 0, by: -member.count) {
                layers[k].backward(gradOutputs[k], gradInputs[k])
            }
        }
    }
}

/// Where a wavefront layer's backward finds its hand-off (``WavefrontBackwardStage``) when
/// its node's backward runs as a wavefront; empty otherwise. The layer's forward makes it
/// (one per ``WavefrontStage``) and its backward closure keeps it.
final class WavefrontBackwardSlot: @unchecked Sendable {
    /// The hand-off of the backward running now, if it runs as a wavefront.
    var stage: WavefrontBackwardStage?
}

/// One layer's link in a wavefront backward (``WavefrontNode``): the counter on which it
/// publishes how many steps, from the last, it has delivered to the layer below (its `dX`
/// rows added into that layer's output gradient), the counter of the layer above it waits
/// on, and the chunks in which it hands down. Only the layer's own worker calls its methods.
@usableFromInline
final class WavefrontBackwardStage: @unchecked Sendable {
    /// The layer's place in the node (0: the lowest); its counter.
    let index: Int
    let counters: ProgressCounters
    let steps: Int
    /// Whether a layer above hands this layer its output gradient.
    let waitsAbove: Bool
    /// The chunks of steps in which this layer hands its `dX` down; `nil` for the lowest layer,
    /// whose `dX` goes to the group's input as in its own backward.
    let plan: ProjectionPlan?
    /// The next chunk to hand down (the chunks run from the last).
    private var nextChunk: Int
    /// The pre-activation gradients `dG` (`R × GH`), the layer below's output gradient
    /// (`R × I`), and `W_ih` packed for `dG · W_ih`; set by ``prepare(dG:gX:wih:gates:inputs:)``.
    private var buffers: (dG: UnsafePointer<Float>, gX: UnsafeMutablePointer<Float>, GH: Int, I: Int, packed: ScratchPool.Block)?

    init(index: Int, counters: ProgressCounters, steps: Int, waitsAbove: Bool, plan: ProjectionPlan?) {
        self.index = index; self.counters = counters; self.steps = steps; self.waitsAbove = waitsAbove; self.plan = plan
        nextChunk = (plan?.chunkCount ?? 0) - 1
    }

    /// Whether the layer hands its `dX` down (its own backward then leaves it out).
    var handsDown: Bool { plan != nil }

    /// Before the steps: packs `W_ih` (`GH × I`) as the sequence-wide `dX` product packs it,
    /// when the layer hands down into `gX`.
    func prepare(dG: UnsafePointer<Float>, gX: UnsafeMutablePointer<Float>?, wih: UnsafePointer<Float>, gates GH: Int, inputs I: Int) {
        guard handsDown else { return }
        guard let gX else { preconditionFailure("WavefrontBackwardStage: a layer that hands down has no input gradient") }
        let packed = ScratchPool.shared.take(PackedGEMM.packedCount(columns: I, depth: GH))
        PackedGEMM.pack(MatrixView(wih, rows: GH, columns: I, leadingDimension: Swift.max(I, 1)), .noTranspose, into: packed.pointer)
        buffers = (dG, gX, GH, I, packed)
    }

    /// Before step `t` (the steps run from the last): waits until the layer above has
    /// delivered it.
    func willRun(step t: Int) {
        if waitsAbove { counters.wait(until: steps - t, at: index + 1) }
    }

    /// Steps `t..<T` are finished: hands down the `dX` rows of every chunk they complete
    /// (`dX += dG · W_ih`, each row with the arithmetic of the sequence-wide product) and
    /// publishes how many steps are delivered.
    func finished(from t: Int) {
        guard let plan, let b = buffers else { return }
        while nextChunk >= 0 && plan.steps(ofChunk: nextChunk).lowerBound >= t {
            let complete = plan.forEachProduct(inChunk: nextChunk) { rows in
                PackedGEMM.multiply(MatrixView(b.dG + rows.first * b.GH, rows: rows.count, columns: b.GH,
                                               leadingDimension: Swift.max(rows.stride * b.GH, 1)),
                                    packed: b.packed.pointer, columns: b.I,
                                    into: MutableMatrixView(b.gX + rows.first * b.I, rows: rows.count, columns: b.I,
                                                            leadingDimension: Swift.max(rows.stride * b.I, 1)), beta: 1)
            }
            precondition(complete, "WavefrontBackwardStage: the plan's chunk \(nextChunk) cannot keep the bits")
            counters.publish(steps - plan.steps(ofChunk: nextChunk).lowerBound, at: index)
            nextChunk -= 1
        }
    }

    /// After the layer's backward: gives back the packed weight.
    func release() {
        if let b = buffers { ScratchPool.shared.give(b.packed) }
        buffers = nil
    }
}
