import Foundation
import Recurrent

/// The memory a training run needs, estimated from its model and its options and checked
/// against the machine's physical memory before training allocates anything more.
///
/// The library already refuses a model whose weights alone do not fit (``MemoryLimit``);
/// training needs more: a gradient per weight, the optimizer's buffers (two for Adam, one
/// for SGD with momentum) and the activations that the backward pass keeps. An option from
/// the command line (`--hidden`, `--batch-size`, `--length`) that makes them too large is
/// reported here, naming the estimate and the machine's memory, instead of ending the
/// process when an allocation fails halfway through training.
public enum TrainingMemory {
    /// Checks that `module`'s weights, their gradients, `optimizerBuffers` buffers per
    /// weight and the `activations` (products of sizes, `Float` elements) fit in memory.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` naming `what`, the estimate and the
    ///   machine's physical memory.
    public static func check(_ module: Module, optimizerBuffers: Int, activations: [[Int]], what: String) throws {
        let weights = module.parameters().reduce(0) { $0 + $1.count }
        try MemoryLimit.check(floats: [[weights, 2 + optimizerBuffers]] + activations,
                              for: "training \(what) (\(weights) weights, their gradients, \(optimizerBuffers) optimizer buffers each, and the activations)")
    }
}
