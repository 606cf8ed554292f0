import Foundation
import LinearAlgebra

/// Pads variable-length sequences to the longest and stacks them
/// (`torch.nn.utils.rnn.pad_sequence`): sequences of shapes `(Lᵢ, *)` (the same trailing
/// dimensions `*`) become `(B, L, *)` with `batchFirst`, or `(L, B, *)` otherwise, where
/// `L = max Lᵢ`; the positions past each sequence's length hold `paddingValue`.
///
/// Each sequence is copied as whole rows (one block per sequence with `batchFirst`, one
/// row per step otherwise). One recorded node when a sequence requires gradients: the
/// backward hands each sequence its rows of the gradient (the padding gets none).
///
/// ```swift
/// let batch = try padSequence([a, b, c], batchFirst: true)   // (3, max length, features)
/// let (output, _) = try lstm(batch, lengths: [a, b, c].map { $0.shape[0] })
/// ```
///
/// - Parameters:
///   - sequences: at least one tensor of rank ≥ 1, all with the same trailing dimensions.
///   - batchFirst: whether the batch dimension comes first (PyTorch's default `false`).
///   - paddingValue: the value of the padded positions.
/// - Returns: the padded batch.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when `sequences` is empty, a sequence has
///   rank 0, or the trailing dimensions differ; ``TensorError/invalidArgument(_:)`` when the
///   batch would not fit in memory.
public func padSequence(_ sequences: [Tensor], batchFirst: Bool = false, paddingValue: Float = 0) throws -> Tensor {
    guard let first = sequences.first else {
        throw TensorError.shapeMismatch("padSequence: expected at least one sequence, got none")
    }
    guard first.rank >= 1 else {
        throw TensorError.shapeMismatch("padSequence: expected sequences of rank ≥ 1 (L, *), got shape \(first.shape) at position 0")
    }
    let trailing = Array(first.shape.dropFirst())
    for (i, s) in sequences.enumerated() where s.rank < 1 || Array(s.shape.dropFirst()) != trailing {
        throw TensorError.shapeMismatch("padSequence: expected every sequence of shape (L, \(trailing.map(String.init).joined(separator: ", "))), got \(s.shape) at position \(i)")
    }
    let lengths = sequences.map { $0.shape[0] }
    let maxLength = lengths.max() ?? 0, batch = sequences.count
    let row = trailing.reduce(1, *)
    let shape = batchFirst ? [batch, maxLength] + trailing : [maxLength, batch] + trailing
    let count = try Tensor.checkedCount(shape, "padSequence")
    /// Where row `t` of sequence `b` starts in the batch.
    func offset(_ b: Int, _ t: Int) -> Int { batchFirst ? (b * maxLength + t) * row : (t * batch + b) * row }
    let storage = TensorBuffer(count: count)
    if paddingValue != 0 { storage.pointer.update(repeating: paddingValue, count: count) }
    for (b, s) in sequences.enumerated() where lengths[b] > 0 && row > 0 {
        let source = s.storage.pointer
        if batchFirst {
            (storage.pointer + offset(b, 0)).update(from: source, count: lengths[b] * row)
        } else {
            for t in 0..<lengths[b] { (storage.pointer + offset(b, t)).update(from: source + t * row, count: row) }
        }
    }
    return Tensor.result("PadSequenceBackward", shape: shape, storage: storage, inputs: sequences,
                         recording: Tensor.needsRecording(sequences)) { g, grads in
        for (b, gradient) in grads.enumerated() where lengths[b] > 0 && row > 0 {
            guard let gradient else { continue }
            if batchFirst {
                BLAS.axpy(count: lengths[b] * row, alpha: 1, UnsafePointer(g + offset(b, 0)), gradient)
            } else {
                for t in 0..<lengths[b] { BLAS.axpy(count: row, alpha: 1, UnsafePointer(g + offset(b, t)), gradient + t * row) }
            }
        }
    }
}
