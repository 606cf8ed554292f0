/// One recorded operation in the autograd graph: its inputs, how many outputs it made, and
/// the hand-written backward that turns the gradients of its outputs into gradients of
/// its inputs.
///
/// A node's backward *accumulates* (`+=`) into the input gradients it is given, and is
/// called once per backward pass, after every node that used its outputs (reverse
/// topological order). A whole recurrent layer over a whole sequence is one node.
@usableFromInline
final class Node {
    /// The backward of a node: `gradOutputs[k]` is the gradient of output `k` (or `nil` when
    /// no gradient reached it); `gradInputs[i]` is where to add the gradient of input `i`
    /// (or `nil` when input `i` needs none).
    @usableFromInline
    typealias Backward = (_ gradOutputs: [UnsafePointer<Float>?], _ gradInputs: [UnsafeMutablePointer<Float>?]) -> Void

    @usableFromInline let name: String
    @usableFromInline var inputs: [Tensor]
    @usableFromInline var backward: Backward?
    /// The element count of each output.
    @usableFromInline let outputCounts: [Int]
    /// The shapes of the outputs, for anomaly reports.
    @usableFromInline let outputShapes: [[Int]]
    /// Gradients of the outputs, accumulated during a backward pass.
    @usableFromInline var outputGrads: [TensorBuffer?]

    @usableFromInline
    init(name: String, inputs: [Tensor], outputShapes: [[Int]], backward: @escaping Backward) {
        self.name = name
        self.inputs = inputs
        self.outputShapes = outputShapes
        self.outputCounts = outputShapes.map { $0.reduce(1, *) }
        self.outputGrads = Array(repeating: nil, count: outputShapes.count)
        self.backward = backward
    }

    /// The buffer that collects the gradient of output `index`, made on first use.
    @usableFromInline
    func gradBuffer(forOutput index: Int) -> TensorBuffer {
        if let buffer = outputGrads[index] { return buffer }
        let buffer = TensorBuffer(count: outputCounts[index])
        outputGrads[index] = buffer
        return buffer
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
    /// with `backward` (single-output form).
    @usableFromInline
    static func result(
        _ name: String, shape: [Int], storage: TensorBuffer, inputs: [Tensor], recording: Bool,
        backward: @escaping (_ gradOutput: UnsafePointer<Float>, _ gradInputs: [UnsafeMutablePointer<Float>?]) -> Void
    ) -> Tensor {
        let output = Tensor(shape: shape, storage: storage)
        if recording {
            let node = Node(name: name, inputs: inputs, outputShapes: [shape]) { gradOutputs, gradInputs in
                if let g = gradOutputs[0] { backward(g, gradInputs) }
            }
            output.gradFn = node
            output.requiresGrad = true
            AnomalyMode.checkForward(name: name, output: output)
        }
        return output
    }

    /// Makes tensors from freshly computed buffers and, when recording, attaches one shared
    /// node (multi-output form, for fused layers).
    @usableFromInline
    static func results(
        _ name: String, shapes: [[Int]], storages: [TensorBuffer], inputs: [Tensor], recording: Bool,
        backward: @escaping Node.Backward
    ) -> [Tensor] {
        let outputs = zip(shapes, storages).map { Tensor(shape: $0, storage: $1) }
        if recording {
            let node = Node(name: name, inputs: inputs, outputShapes: shapes, backward: backward)
            for (k, output) in outputs.enumerated() {
                output.gradFn = node
                output.outputIndex = k
                output.requiresGrad = true
                AnomalyMode.checkForward(name: name, output: output)
            }
        }
        return outputs
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
    ///   element and has the right count; the graph was not freed by an earlier backward.
    public final func backward(_ gradient: Tensor? = nil, retainGraph: Bool = false) {
        precondition(requiresGrad, "backward: the tensor does not require gradients (no input requires them, or recording was off)")
        let seed: TensorBuffer
        if let gradient {
            precondition(gradient.count == count, "backward: gradient of shape \(gradient.shape) for a tensor of shape \(shape)")
            seed = TensorBuffer(copying: gradient.storage.buffer)
        } else {
            precondition(count == 1, "backward: the tensor has shape \(shape); pass a gradient for non-scalar outputs")
            seed = TensorBuffer(count: 1)
            seed.pointer[0] = 1
        }
        guard let root = gradFn else {
            // A leaf: its gradient is the seed itself.
            accumulateGrad(seed.pointer)
            return
        }
        precondition(root.backward != nil, "backward: trying to backward through the graph a second time; pass retainGraph: true the first time")
        root.gradBuffer(forOutput: outputIndex).accumulate(seed.pointer)

        for node in Node.reverseTopologicalOrder(from: root) {
            guard let backwardFunction = node.backward else {
                preconditionFailure("backward: the graph through \(node.name) was already freed; pass retainGraph: true")
            }
            let gradOutputs: [UnsafePointer<Float>?] = node.outputGrads.map { $0.map { UnsafePointer($0.pointer) } }
            var keepAlive: [TensorBuffer] = []
            let gradInputs: [UnsafeMutablePointer<Float>?] = node.inputs.map { input in
                guard input.requiresGrad else { return nil }
                if let inputNode = input.gradFn {
                    return inputNode.gradBuffer(forOutput: input.outputIndex).pointer
                }
                let buffer = input.leafGradBuffer()
                keepAlive.append(buffer)
                return buffer.pointer
            }
            if gradOutputs.contains(where: { $0 != nil }) {
                backwardFunction(gradOutputs, gradInputs)
                AnomalyMode.checkBackward(node: node, gradInputs: gradInputs)
            }
            withExtendedLifetime(keepAlive) {}
            node.outputGrads = Array(repeating: nil, count: node.outputGrads.count)
            if !retainGraph {
                node.backward = nil
                node.inputs = []
            }
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

extension Node {
    /// The nodes reachable from `root`, each after every node that consumes its outputs.
    /// Iterative, so that long unrolled graphs do not exhaust the stack.
    @usableFromInline
    static func reverseTopologicalOrder(from root: Node) -> [Node] {
        var order: [Node] = []
        var visited = Set<ObjectIdentifier>()
        var stack: [(node: Node, nextInput: Int)] = [(root, 0)]
        visited.insert(ObjectIdentifier(root))
        while !stack.isEmpty {
            let (node, next) = stack[stack.count - 1]
            if next < node.inputs.count {
                stack[stack.count - 1].nextInput += 1
                let input = node.inputs[next]
                if input.requiresGrad, let child = input.gradFn,
                   visited.insert(ObjectIdentifier(child)).inserted {
                    stack.append((child, 0))
                }
            } else {
                order.append(node)
                stack.removeLast()
            }
        }
        return order.reversed()
    }
}
