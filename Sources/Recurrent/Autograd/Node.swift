import Synchronization

/// One recorded operation in the autograd graph: its inputs, how many outputs it made, and
/// the hand-written backward that turns the gradients of its outputs into gradients of
/// its inputs.
///
/// A node's backward *accumulates* (`+=`) into the input gradients it is given, and is
/// called once per backward pass, after every node that used its outputs (reverse
/// topological order). A whole recurrent layer over a whole sequence is one node.
///
/// Single-output nodes (almost all of them) keep their one output's gradient and count in
/// plain stored properties and take a backward without a `gradOutputs` array, so that
/// recording and running a small operation allocates as little as possible. Its mutable
/// fields skip Swift's dynamic exclusivity checks, as ``Tensor``'s autograd fields do.
@usableFromInline
final class Node {
    /// The backward of a node: `gradOutputs[k]` is the gradient of output `k` (or `nil` when
    /// no gradient reached it); `gradInputs[i]` is where to add the gradient of input `i`
    /// (or `nil` when input `i` needs none).
    @usableFromInline
    typealias Backward = (_ gradOutputs: [UnsafePointer<Float>?], _ gradInputs: [UnsafeMutablePointer<Float>?]) -> Void
    /// The backward of a single-output node: `gradOutput` is the gradient of its output.
    @usableFromInline
    typealias SingleBackward = (_ gradOutput: UnsafePointer<Float>, _ gradInputs: [UnsafeMutablePointer<Float>?]) -> Void

    @usableFromInline let name: String
    @exclusivity(unchecked) @usableFromInline var inputs: [Tensor]
    /// The backward of a single-output node; `nil` for multi-output nodes and once freed.
    @exclusivity(unchecked) @usableFromInline var singleBackward: SingleBackward?
    /// The backward of a multi-output node; `nil` for single-output nodes and once freed.
    @exclusivity(unchecked) @usableFromInline var multiBackward: Backward?
    /// The output buffer of a single-output node, kept for backwards that read their output.
    @exclusivity(unchecked) @usableFromInline var savedOutput: TensorBuffer?
    /// The element count of output 0, and of outputs 1… (empty for single-output nodes).
    @usableFromInline let firstCount: Int
    @usableFromInline let otherCounts: [Int]
    /// Gradients of the outputs, accumulated during a backward pass.
    @exclusivity(unchecked) @usableFromInline var firstGrad: TensorBuffer?
    @exclusivity(unchecked) @usableFromInline var otherGrads: [TensorBuffer?]
    /// The backward pass that last visited this node (see ``postorder(from:)``).
    @exclusivity(unchecked) @usableFromInline var mark: UInt64 = 0

    /// A single-output node.
    @usableFromInline
    init(name: String, inputs: [Tensor], outputCount: Int, savedOutput: TensorBuffer?,
         backward: @escaping SingleBackward) {
        self.name = name
        self.inputs = inputs
        self.firstCount = outputCount
        self.otherCounts = []
        self.otherGrads = []
        self.savedOutput = savedOutput
        self.singleBackward = backward
    }

    /// A node with one or more outputs of the given shapes.
    @usableFromInline
    init(name: String, inputs: [Tensor], outputShapes: [[Int]], backward: @escaping Backward) {
        require(!outputShapes.isEmpty, "Node: an operation needs at least one output")
        self.name = name
        self.inputs = inputs
        self.firstCount = outputShapes[0].reduce(1, *)
        self.otherCounts = outputShapes.dropFirst().map { $0.reduce(1, *) }
        self.otherGrads = Array(repeating: nil, count: outputShapes.count - 1)
        self.multiBackward = backward
    }

    /// Whether the graph through this node was freed by a backward pass.
    @inlinable var isFreed: Bool { singleBackward == nil && multiBackward == nil }

    /// The buffer that collects the gradient of output `index`, made on first use (zeros),
    /// from `spare` when it holds one of the right size.
    @usableFromInline
    func gradBuffer(forOutput index: Int, recycling spare: inout [TensorBuffer]) -> TensorBuffer {
        if index == 0, let buffer = firstGrad { return buffer }
        if index > 0, let buffer = otherGrads[index - 1] { return buffer }
        let count = index == 0 ? firstCount : otherCounts[index - 1]
        let buffer: TensorBuffer
        if let k = spare.lastIndex(where: { $0.count == count }) {
            spare.swapAt(k, spare.count - 1)
            buffer = spare.removeLast()
            buffer.pointer.update(repeating: 0, count: count)
        } else {
            buffer = TensorBuffer(count: count)
        }
        if index == 0 { firstGrad = buffer } else { otherGrads[index - 1] = buffer }
        return buffer
    }

    /// Drops the gradients collected for the outputs, moving the buffers nothing else holds
    /// to `spare` (at most ``spareLimit`` of them) for the nodes still to run.
    @usableFromInline
    func clearOutputGrads(recycling spare: inout [TensorBuffer]) {
        func recycle(_ buffer: inout TensorBuffer?) {
            guard var b = buffer.take() else { return }
            if spare.count < Node.spareLimit && isKnownUniquelyReferenced(&b) { spare.append(b) }
        }
        recycle(&firstGrad)
        for i in otherGrads.indices { recycle(&otherGrads[i]) }
    }

    /// How many gradient buffers a backward pass keeps for reuse.
    @usableFromInline static let spareLimit = 8

    /// Frees what the graph needs only for backward: the closure, saved buffers, inputs.
    @usableFromInline
    func freeGraph() {
        singleBackward = nil
        multiBackward = nil
        savedOutput = nil
        inputs = []
    }

    /// Releases the graph behind this node iteratively. Dropping the output of a long
    /// unrolled graph without a backward pass (or after one with `retainGraph`) would
    /// otherwise free it by a recursion as deep as the graph (tensor → node → input tensor
    /// → …) and overflow the stack; instead, inputs held only by this node are unlinked
    /// from their nodes, and those nodes are taken apart in a loop.
    deinit {
        guard !inputs.isEmpty else { return }
        var pending: [Node] = []
        var tensors = inputs
        inputs = []
        Node.unlinkUniquelyHeld(&tensors, into: &pending)
        while var node = pending.popLast() {
            if isKnownUniquelyReferenced(&node) {
                var more = node.inputs
                node.inputs = []
                Node.unlinkUniquelyHeld(&more, into: &pending)
            }
            // `node` is released here with no inputs left, or is still held elsewhere.
        }
    }

    /// Empties `tensors`; the nodes of those tensors that nothing else holds are moved to
    /// `pending` instead of being released recursively with their tensor.
    private static func unlinkUniquelyHeld(_ tensors: inout [Tensor], into pending: inout [Node]) {
        while var tensor = tensors.popLast() {
            if isKnownUniquelyReferenced(&tensor), let node = tensor.gradFn {
                tensor.gradFn = nil
                pending.append(node)
            }
        }
    }

    /// A fresh mark for each traversal, so that visiting needs no hash set.
    private static let passCounter = Atomic<UInt64>(0)

    /// The nodes reachable from `root`, each after every node it consumes (post-order); a
    /// backward pass walks it from the end. Iterative, so that long unrolled graphs do not
    /// exhaust the stack.
    @usableFromInline
    static func postorder(from root: Node) -> [Node] {
        let pass = passCounter.add(1, ordering: .relaxed).newValue
        var order: [Node] = []
        var stack: [(node: Node, nextInput: Int)] = [(root, 0)]
        root.mark = pass
        while let (node, next) = stack.last {
            if next < node.inputs.count {
                stack[stack.count - 1].nextInput = next + 1
                let input = node.inputs[next]
                if input.requiresGrad, let child = input.gradFn, child.mark != pass {
                    child.mark = pass
                    stack.append((child, 0))
                }
            } else {
                order.append(node)
                stack.removeLast()
            }
        }
        return order
    }
}

/// Whether operations are being recorded for gradients, per task (and per thread outside
/// tasks), like PyTorch's grad mode.
public enum GradMode {
    /// `true` (the default) while operations on tensors that require gradients record.
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording operations for gradients — for inference and for
/// in-place parameter updates (`torch.no_grad()`).
@inlinable
public func withoutGradients<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false) { try body() }
}

extension Tensor {
    /// Whether an operation on `input` must record a node now.
    @inlinable
    static func needsRecording(_ input: Tensor) -> Bool {
        input.requiresGrad && GradMode.isEnabled
    }

    /// Whether an operation on `a` and `b` must record a node now (no array, unlike the
    /// variadic form).
    @inlinable
    static func needsRecording(_ a: Tensor, _ b: Tensor) -> Bool {
        (a.requiresGrad || b.requiresGrad) && GradMode.isEnabled
    }

    /// Whether an operation on `inputs` must record a node now.
    @inlinable
    static func needsRecording(_ inputs: Tensor...) -> Bool {
        for input in inputs where input.requiresGrad { return GradMode.isEnabled }
        return false
    }

    /// Whether an operation on `inputs` must record a node now.
    @inlinable
    static func needsRecording(_ inputs: [Tensor]) -> Bool {
        for input in inputs where input.requiresGrad { return GradMode.isEnabled }
        return false
    }

    /// Makes a tensor from a freshly computed buffer and, when recording, attaches a node
    /// with `backward` (single-output form). `inputs` is evaluated only when recording.
    ///
    /// The node keeps the output's buffer: backwards that differentiate through their
    /// output (tanh, sigmoid, exp, softmax) read it, and the output *tensor* may be gone by
    /// then (a consumer releases its inputs once its own backward has run).
    @usableFromInline
    static func result(
        _ name: String, shape: [Int], storage: TensorBuffer, inputs: @autoclosure () -> [Tensor], recording: Bool,
        backward: @escaping Node.SingleBackward
    ) -> Tensor {
        let output = Tensor(shape: shape, storage: storage)
        if recording {
            output.gradFn = Node(name: name, inputs: inputs(), outputCount: storage.count,
                                 savedOutput: storage, backward: backward)
            output.requiresGrad = true
            AnomalyMode.checkForward(name: name, output: output)
        }
        return output
    }

    /// Makes tensors from freshly computed buffers and, when recording, attaches one shared
    /// node (multi-output form, for fused layers). `inputs` is evaluated only when recording.
    @usableFromInline
    static func results(
        _ name: String, shapes: [[Int]], storages: [TensorBuffer], inputs: @autoclosure () -> [Tensor], recording: Bool,
        backward: @escaping Node.Backward
    ) -> [Tensor] {
        let outputs = zip(shapes, storages).map { Tensor(shape: $0, storage: $1) }
        if recording {
            // As in `result`, the node keeps its outputs' buffers alive for `backward`.
            attachNode(name, to: outputs, inputs: inputs()) { gradOutputs, gradInputs in
                withExtendedLifetime(storages) { backward(gradOutputs, gradInputs) }
            }
        }
        return outputs
    }

    /// Makes `outputs` (tensors made without a node, none of them recorded yet) the outputs
    /// `0..<outputs.count` of one new node over `inputs` whose backward is `backward`, as
    /// ``results(_:shapes:storages:inputs:recording:backward:)`` does when recording (with
    /// the anomaly-mode check of every output). `backward` must keep alive whatever buffers
    /// it reads: the output tensors may be gone when it runs.
    @usableFromInline
    static func attachNode(_ name: String, to outputs: [Tensor], inputs: [Tensor], backward: @escaping Node.Backward) {
        let node = Node(name: name, inputs: inputs, outputShapes: outputs.map(\.shape), backward: backward)
        for (k, output) in outputs.enumerated() {
            output.gradFn = node
            output.outputIndex = k
            output.requiresGrad = true
            AnomalyMode.checkForward(name: name, output: output)
        }
    }

    /// Computes the gradient of this tensor with respect to every leaf that requires
    /// gradients, and adds it to their ``grad`` (gradients accumulate until zeroed).
    ///
    /// - Parameters:
    ///   - gradient: the gradient of some scalar with respect to this tensor, of this tensor's
    ///     shape; `nil` (the default) for a one-element tensor such as a loss, meaning 1.
    ///   - retainGraph: keep the recorded graph so that backward can run through it again;
    ///     by default it is freed, like PyTorch's.
    /// - Precondition: this tensor requires gradients; `gradient` is given unless it has one
    ///   element and has this tensor's shape (as in PyTorch, a gradient of another shape
    ///   with the same element count is rejected); the graph was not freed by an earlier
    ///   backward.
    public final func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        require(requiresGrad, "backward: the tensor does not require gradients (no input requires them, or recording was off)")
        if let gradient {
            require(gradient.shape == shape, "backward: gradient of shape \(gradient.shape) for a tensor of shape \(shape)")
        } else {
            require(count == 1, "backward: the tensor has shape \(shape); pass a gradient for non-scalar outputs")
        }
        guard let root = gradFn else {
            // A leaf: its gradient is the seed itself.
            let g = leafGradBuffer()
            if let gradient { g.accumulate(gradient.storage.pointer) } else { g.pointer[0] += 1 }
            return
        }
        require(!root.isFreed, "backward: trying to backward through the graph a second time; pass retainGraph: true the first time")
        // Intermediate gradient buffers, recycled from nodes that have run to nodes that
        // need one of the same size (a chain of equal-sized steps allocates none).
        var spare: [TensorBuffer] = []
        let seed = root.gradBuffer(forOutput: outputIndex, recycling: &spare)
        if let gradient { seed.accumulate(gradient.storage.pointer) } else { seed.pointer[0] += 1 }

        let order = Node.postorder(from: root)
        // One array reused for every node (a node's backward does not keep it).
        var gradInputs: [UnsafeMutablePointer<Float>?] = []
        gradInputs.reserveCapacity(4)
        for node in order.reversed() {
            if node.isFreed {
                fatalError("backward: the graph through \(node.name) was already freed; pass retainGraph: true")
            }
            let hasGradient = node.firstGrad != nil || node.otherGrads.contains { $0 != nil }
            if hasGradient {
                // Leaves and intermediate inputs are held by `node.inputs` (and their nodes
                // by `order`) until after the call, so these pointers stay valid.
                gradInputs.removeAll(keepingCapacity: true)
                for input in node.inputs {
                    if !input.requiresGrad {
                        gradInputs.append(nil)
                    } else if let inputNode = input.gradFn {
                        gradInputs.append(inputNode.gradBuffer(forOutput: input.outputIndex, recycling: &spare).pointer)
                    } else {
                        gradInputs.append(input.leafGradBuffer().pointer)
                    }
                }
                if let single = node.singleBackward {
                    single(UnsafePointer(node.firstGrad!.pointer), gradInputs)
                } else if let multi = node.multiBackward {
                    var gradOutputs: [UnsafePointer<Float>?] = [node.firstGrad.map { UnsafePointer($0.pointer) }]
                    for g in node.otherGrads { gradOutputs.append(g.map { UnsafePointer($0.pointer) }) }
                    multi(gradOutputs, gradInputs)
                }
                AnomalyMode.checkBackward(node: node, gradInputs: gradInputs)
            }
            node.clearOutputGrads(recycling: &spare)
            if !retainGraph { node.freeGraph() }
        }
    }

    /// The storage of this leaf's gradient, made (zeros) on first use.
    @usableFromInline
    final func leafGradBuffer() -> TensorBuffer {
        if let grad { return grad.storage }
        let g = Tensor(shape: shape, storage: TensorBuffer(count: count))
        grad = g
        return g.storage
    }

    @usableFromInline
    final func accumulateGrad(_ source: UnsafePointer<Float>) {
        leafGradBuffer().accumulate(source)
    }
}
