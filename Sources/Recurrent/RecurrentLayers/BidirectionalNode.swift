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

    /// The name of a node made of several layers' or directions' parts: the first one's name
    /// with `word` before `Backward` (`lstmBackward`, `Wavefront` → `lstmWavefrontBackward`).
    static func name(_ first: String, inserting word: String) -> String {
        let suffix = "Backward"
        guard first.hasSuffix(suffix) else { return first + word }
        return first.dropLast(suffix.count) + word + suffix
    }

    /// An empty slot.
    init() {}

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

/// The one autograd node of both directions of a bidirectional layer.
///
/// Its outputs are the first direction's (output, `h_n`, (`c_n`)) then the second's; its
/// inputs are the first direction's (the layer's input, `h0`, (`c0`), weights, …) then those
/// of the second that the first does not have (the input is listed once). Its backward runs
/// the two directions' backwards side by side, one per worker, each as a team of one (a team
/// started on a worker runs on that worker), when the forward ran them so, and one after the
/// other otherwise (and under anomaly detection).
///
/// An input both directions read (the layer's input) is where the two would race: the first
/// direction adds its gradient into the real slot, the second into a zeroed scratch buffer of
/// the input's size (one per backward call), which is added into the slot once both have
/// finished. Every thread count and both schedules do exactly this, so every gradient has the
/// same bits whichever way the directions ran.
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
        guard parts.count == 2 else { return }
        let first = parts[0], second = parts[1]
        // The node's inputs, where each of the second direction's inputs is among them, and
        // the element count of those the first direction reads too.
        var inputs = first.inputs
        var secondSlots: [Int] = []
        var sharedCounts: [Int?] = []
        for input in second.inputs {
            if let k = first.inputs.firstIndex(where: { $0 === input }) {
                secondSlots.append(k)
                sharedCounts.append(input.count)
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
                     secondSlots: secondSlots, sharedCounts: sharedCounts, together: together,
                     first: firstBackward, second: secondBackward)
        }
    }

    /// The node's name: the first direction's with `Bidirectional` before `Backward`
    /// (`lstmBackward` → `lstmBidirectionalBackward`).
    static func name(_ firstDirection: String) -> String {
        PendingNode.name(firstDirection, inserting: "Bidirectional")
    }

    /// The node's backward (see ``BidirectionalNode``): splits `gradOutputs` and
    /// `gradInputs` between the directions, gives the second direction a zeroed scratch
    /// buffer for every input the first reads too, runs the two (a direction none of whose
    /// outputs got a gradient does not run, as its own node would not have), then adds the
    /// scratch buffers into their slots.
    static func backward(gradOutputs: [UnsafePointer<Float>?], gradInputs: [UnsafeMutablePointer<Float>?],
                         firstInputs: Int, firstOutputs: Int, secondSlots: [Int], sharedCounts: [Int?], together: Bool,
                         first: Node.Backward, second: Node.Backward) {
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
        for (buffer, slot) in scratch {
            Elementwise.add(UnsafePointer(slot), UnsafePointer(buffer.pointer), into: slot, count: buffer.count)
        }
    }
}
