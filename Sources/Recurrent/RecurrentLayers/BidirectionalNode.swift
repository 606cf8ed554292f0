import LinearAlgebra

/// Where one direction of a bidirectional layer leaves the parts of its autograd node instead
/// of making it, so that ``FusedRecurrence/runDirections(_:together:_:)`` makes one node for
/// both directions (``BidirectionalNode``).
///
/// The direction's `run` writes it (on a worker of the pool when the directions run side by
/// side); the caller reads it once every direction has finished.
@usableFromInline
final class PendingNode {
    /// The parts of one direction's node.
    struct Parts {
        /// The node's name had the direction made it (`lstmBackward`, `layerNormGRUReverseBackward`, …).
        let name: String
        /// The node's inputs, the layer's input first.
        let inputs: [Tensor]
        /// The direction's outputs (output, `h_n`, and `c_n` for an LSTM), made without a node.
        let outputs: [Tensor]
        /// The direction's backward over `inputs` and `outputs` (``Node/Backward``); it keeps
        /// alive every buffer it reads, the outputs' included.
        let backward: Node.Backward
    }

    /// What the direction's `run` left; `nil` when it did not record.
    var parts: Parts?

    /// The direction's place in the order of the additions into the layer input's gradient
    /// (``InputGradientOrder``), which its backward follows; `nil` outside a bidirectional layer.
    let inputOrder: InputGradientOrder?

    /// The name of a node made of several layers' or directions' parts: the first one's name
    /// with `word` before `Backward` (`lstmBackward`, `Wavefront` → `lstmWavefrontBackward`).
    static func name(_ first: String, inserting word: String) -> String {
        let suffix = "Backward"
        guard first.hasSuffix(suffix) else { return first + word }
        return first.dropLast(suffix.count) + word + suffix
    }

    /// An empty slot, for a direction at `inputOrder` (`nil`: not one of two directions).
    init(inputOrder: InputGradientOrder? = nil) {
        self.inputOrder = inputOrder
    }

    /// Empty slots for the two directions of a bidirectional layer, which share one
    /// ``InputGradientOrder/Turn``.
    static func directionPair() -> [PendingNode] {
        let turn = InputGradientOrder.Turn()
        return [PendingNode(inputOrder: InputGradientOrder(turn: turn, isFirst: true)),
                PendingNode(inputOrder: InputGradientOrder(turn: turn, isFirst: false))]
    }

    /// A layer direction's results: tensors of `shapes` over `storages` and, when
    /// `recording`, either their node over `inputs` with `backward` (as
    /// ``Tensor/results(_:shapes:storages:inputs:recording:backward:)``) or, with `pending`,
    /// no node yet and the node's parts left in `pending`.
    static func results(_ name: String, shapes: [[Int]], storages: [TensorBuffer], inputs: [Tensor], recording: Bool,
                        pending: PendingNode?, backward: @escaping Node.Backward) -> [Tensor] {
        guard recording, let pending else {
            return Tensor.results(name, shapes: shapes, storages: storages, inputs: inputs, recording: recording,
                                  backward: backward)
        }
        let outputs = zip(shapes, storages).map { Tensor(shape: $0, storage: $1) }
        pending.parts = Parts(name: name, inputs: inputs, outputs: outputs) { gradOutputs, gradInputs in
            withExtendedLifetime(storages) { backward(gradOutputs, gradInputs) }
        }
        return outputs
    }
}

/// The order in which the two directions of a bidirectional layer add into the gradient of
/// the layer's input, which both read: the first direction adds all of its share, then the
/// second adds its own, into the same buffer.
///
/// Each direction's backward calls ``waitForTurn()`` before it adds its share and
/// ``finishTurn()`` once it has added it (and before it returns, whatever it skipped); only
/// the second waits, only the first announces. When the node's backward runs the directions
/// one after the other, the first has finished before the second starts and nothing waits;
/// when it runs them side by side, each on its own core, the second does its other products
/// first and waits, if it still must, only for the first's input gradient. Either way each
/// element is `(g + first's share) + second's share`, the same bits, and the second's share
/// needs no buffer of its own (the input's size, held while both directions run).
///
/// (Running both directions' sequence-wide products after both directions' steps, on both
/// cores one direction after the other, would hold fewer packed copies at once, but each
/// core then read what the other had written: `lstm-bidir` training took 17.1 ms against
/// 15.4 ms, medians of 12 alternating processes.)
@usableFromInline
struct InputGradientOrder: Sendable {
    /// The state the two directions of one layer share: which backward call is running
    /// (``begin(firstRuns:)``, on the node's thread before the directions run) and whether the
    /// first direction has added its share in it.
    ///
    /// It also holds the packed copy of the layer's input that both directions' weight
    /// gradients read (``packedInput(count:)``): packed once per call, by the direction that
    /// asks first, instead of once per direction (two copies at once side by side: 1.6 MB of
    /// `lstm-bidir`'s second layer).
    @usableFromInline
    final class Turn: @unchecked Sendable {
        /// Counter 0 is the last call in which the first direction finished its share;
        /// counter 1 the last call whose packed input is complete.
        private let progress = ProgressCounters(count: 2)
        /// The current backward call, from 1 on; written only by ``begin(firstRuns:)``, before
        /// the directions run (the team's start orders it before their reads).
        private(set) var call = 0
        /// Whether a call of the node is running (between ``begin(firstRuns:)`` and ``end()``,
        /// both on the node's thread, outside the directions' team).
        private var inCall = false
        /// The packed input of the current call, once a direction has asked for it.
        private let packed = PThreadMutex<ScratchPool.Block?>(nil)

        deinit { end() }

        /// Starts a backward call of the node; when the first direction will not run (none of
        /// its outputs got a gradient), its share is already complete.
        func begin(firstRuns: Bool) {
            call += 1
            inCall = true
            if !firstRuns { progress.publish(call, at: 0) }
        }

        /// Ends a backward call of the node: the packed input goes back to the pool.
        func end() {
            inCall = false
            if let block = packed.withLock({ block in defer { block = nil }; return block }) { ScratchPool.shared.give(block) }
        }

        /// The packed copy of the layer's input (`count` floats) for the current call, and
        /// whether the caller must pack it (it asked first; it then calls ``inputPacked()``
        /// once its whole team has packed) or must wait for it (``waitForInputPack()``).
        /// `nil` outside a call of the merged node (a direction that is its own node) and when
        /// the directions ask for different sizes: then each packs its own.
        func packedInput(count: Int) -> (pointer: UnsafeMutablePointer<Float>, mustPack: Bool)? {
            guard inCall else { return nil }
            return packed.withLock { block in
                if let block { return block.capacity >= count ? (block.pointer, false) : nil }
                let taken = ScratchPool.shared.take(count)
                block = taken
                return (taken.pointer, true)
            }
        }

        /// Marks the current call's packed input as complete.
        func inputPacked() { progress.publish(call, at: 1) }

        /// Waits until the current call's packed input is complete.
        func waitForInputPack() { progress.wait(until: call, at: 1) }

        /// Marks the first direction's share of the current call as added.
        func finish() { progress.publish(call, at: 0) }

        /// Waits until the first direction's share of the current call is added.
        func wait() { progress.wait(until: call, at: 0) }
    }

    /// The turn the layer's two directions share.
    let turn: Turn
    /// Whether this is the first direction (which adds first).
    let isFirst: Bool

    /// Before the direction adds into the input's gradient: the second waits for the first.
    func waitForTurn() { if !isFirst { turn.wait() } }

    /// Once the direction has added into the input's gradient (or will not): the first lets the
    /// second go on.
    func finishTurn() { if isFirst { turn.finish() } }
}

/// The one autograd node of both directions of a bidirectional layer.
///
/// Its outputs are the first direction's (output, `h_n`, (`c_n`)) then the second's; its
/// inputs are the first direction's (the layer's input, `h0`, (`c0`), weights, …) then those
/// of the second that the first does not have (the input is listed once). Its backward runs
/// the two directions' backwards side by side, one per worker, each as a team of one (a team
/// started on a worker runs on that worker), when the forward ran them so, and one after the
/// other otherwise (and under anomaly detection).
///
/// The layer's input, which both directions read, is where the two would race: they add into
/// its gradient in the order ``InputGradientOrder`` sets, the first then the second. Any
/// other input both read (one tensor set as both directions' weights) goes, for the second,
/// through a zeroed scratch buffer of its size, added into the slot once both have finished.
/// Every thread count and both schedules do exactly this, so every gradient has the same bits
/// whichever way the directions ran.
enum BidirectionalNode {
    /// Makes the node of the directions that `pending` holds parts of: one node over both
    /// when both recorded, the direction's own node when only one did (frozen weights and an
    /// input that needs no gradient), none when neither did. `together` says whether the
    /// forward ran the directions side by side.
    static func make(_ pending: [PendingNode], together: Bool) {
        let parts = pending.compactMap(\.parts)
        for slot in pending { slot.parts = nil }
        if parts.count == 1 {
            Tensor.attachNode(parts[0].name, to: parts[0].outputs, inputs: parts[0].inputs, backward: parts[0].backward)
            return
        }
        guard parts.count == 2, let turn = pending[0].inputOrder?.turn else { return }
        let first = parts[0], second = parts[1]
        // The node's inputs, where each of the second direction's inputs is among them, and
        // the element count of those the first direction reads too, but for the layer's
        // input (the first of both), which the directions' order covers.
        var inputs = first.inputs
        var secondSlots: [Int] = []
        var sharedCounts: [Int?] = []
        for (j, input) in second.inputs.enumerated() {
            if let k = first.inputs.firstIndex(where: { $0 === input }) {
                secondSlots.append(k)
                sharedCounts.append(j == 0 && k == 0 ? nil : input.count)
            } else {
                secondSlots.append(inputs.count)
                sharedCounts.append(nil)
                inputs.append(input)
            }
        }
        let firstInputs = first.inputs.count, firstOutputs = first.outputs.count
        let firstBackward = first.backward, secondBackward = second.backward
        Tensor.attachNode(name(first.name), to: first.outputs + second.outputs, inputs: inputs) { gradOutputs, gradInputs in
            backward(gradOutputs: gradOutputs, gradInputs: gradInputs, firstInputs: firstInputs, firstOutputs: firstOutputs,
                     secondSlots: secondSlots, sharedCounts: sharedCounts, together: together, turn: turn,
                     first: firstBackward, second: secondBackward)
        }
    }

    /// The node's name: the first direction's with `Bidirectional` before `Backward`
    /// (`lstmBackward` → `lstmBidirectionalBackward`).
    static func name(_ firstDirection: String) -> String {
        PendingNode.name(firstDirection, inserting: "Bidirectional")
    }

    /// The node's backward (see ``BidirectionalNode``): splits `gradOutputs` and
    /// `gradInputs` between the directions, starts a call of `turn`, gives the second
    /// direction a zeroed scratch buffer for every input but the layer's that the first reads
    /// too, runs the two (a direction none of whose outputs got a gradient does not run, as its
    /// own node would not have), then adds the scratch buffers into their slots.
    static func backward(gradOutputs: [UnsafePointer<Float>?], gradInputs: [UnsafeMutablePointer<Float>?],
                         firstInputs: Int, firstOutputs: Int, secondSlots: [Int], sharedCounts: [Int?], together: Bool,
                         turn: InputGradientOrder.Turn, first: Node.Backward, second: Node.Backward) {
        let firstGradOutputs = Array(gradOutputs[..<firstOutputs])
        let secondGradOutputs = Array(gradOutputs[firstOutputs...])
        let firstRuns = firstGradOutputs.contains { $0 != nil }, secondRuns = secondGradOutputs.contains { $0 != nil }
        let firstGradInputs = Array(gradInputs[..<firstInputs])
        var scratch: [(buffer: TensorBuffer, slot: UnsafeMutablePointer<Float>)] = []
        let secondGradInputs = zip(secondSlots, sharedCounts).map { k, shared -> UnsafeMutablePointer<Float>? in
            guard let slot = gradInputs[k] else { return nil }
            guard secondRuns, let count = shared else { return slot }
            let buffer = TensorBuffer(count: count)      // zeros
            scratch.append((buffer, slot))
            return buffer.pointer
        }
        turn.begin(firstRuns: firstRuns)
        if together && firstRuns && secondRuns && ComputeThreads.count >= 2 && !AnomalyMode.isEnabled {
            ComputeThreads.run(workers: 2) { member in
                for d in stride(from: member.index, to: 2, by: member.count) {
                    if d == 0 { first(firstGradOutputs, firstGradInputs) } else { second(secondGradOutputs, secondGradInputs) }
                }
            }
        } else {
            if firstRuns { first(firstGradOutputs, firstGradInputs) }
            if secondRuns { second(secondGradOutputs, secondGradInputs) }
        }
        turn.end()
        for (buffer, slot) in scratch {
            Elementwise.add(UnsafePointer(slot), UnsafePointer(buffer.pointer), into: slot, count: buffer.count)
        }
    }
}
