import Foundation

// The elementwise regression and binary-classification losses: BCE, BCE with logits, L1,
// smooth L1 and Huber, as PyTorch's `torch.nn.functional` computes them.

/// The values a pointwise loss computes for one element: its loss and the derivatives of
/// that loss with respect to the input and the target element.
private typealias PointwiseTerms = (loss: Float, dInput: Float, dTarget: Float)

/// Expands `weight` (broadcastable to `shape`) to one value per element of `shape`, or
/// throws naming `op` and `name`.
private func expanded(_ weight: Tensor?, to shape: [Int], _ op: String, _ name: String) throws -> [Float]? {
    guard let weight else { return nil }
    guard Broadcast.shape(shape, weight.shape) == shape else {
        throw TensorError.shapeMismatch("\(op): expected \(name) broadcastable to the input's shape \(shape), got \(weight.shape)")
    }
    if weight.shape == shape { return weight.scalars }
    var values = [Float](repeating: 0, count: shape.reduce(1, *))
    let w = weight.storage.pointer
    let strides = Broadcast.strides(of: weight.shape, in: shape)
    values.withUnsafeMutableBufferPointer { out in
        Broadcast.forEach(shape, strides, strides) { o, i, _ in out[o] = w[i] }
    }
    return values
}

/// Runs a pointwise loss: checks that `target` has `input`'s shape, evaluates `terms` for
/// every element, reduces, and records one node whose backward scales the stored
/// derivatives by the incoming gradient (divided by the element count for `.mean`).
private func pointwiseLoss(_ op: String, _ name: String, _ input: Tensor, _ target: Tensor, _ reduction: Reduction,
                           _ terms: (Float, Float, Int) -> PointwiseTerms) throws -> Tensor {
    guard input.shape == target.shape else {
        throw TensorError.shapeMismatch("\(op): expected a target of the input's shape \(input.shape), got \(target.shape)")
    }
    let n = input.count, x = input.storage.pointer, y = target.storage.pointer
    let recording = Tensor.needsRecording(input, target)
    let losses = TensorBuffer(count: n)
    let dInput = recording ? TensorBuffer(count: n) : nil, dTarget = recording ? TensorBuffer(count: n) : nil
    for i in 0..<n {
        let t = terms(x[i], y[i], i)
        losses.pointer[i] = t.loss
        dInput?.pointer[i] = t.dInput
        dTarget?.pointer[i] = t.dTarget
    }
    let storage: TensorBuffer, shape: [Int]
    let divisor: Float = reduction == .mean ? Float(n) : 1
    if reduction == .none {
        (storage, shape) = (losses, input.shape)
    } else {
        var total: Double = 0
        for i in 0..<n { total += Double(losses.pointer[i]) }
        storage = TensorBuffer(count: 1)
        storage.pointer[0] = Float(total) / divisor
        shape = []
    }
    return Tensor.result(name, shape: shape, storage: storage, inputs: [input, target], recording: recording) { g, grads in
        guard let dx = dInput?.pointer, let dy = dTarget?.pointer else { return }
        let perItem = reduction == .none
        let scale = perItem ? 1 : g[0] / divisor
        if let gx = grads[0] {
            for i in 0..<n { gx[i] += (perItem ? g[i] : scale) * dx[i] }
        }
        if let gy = grads[1] {
            for i in 0..<n { gy[i] += (perItem ? g[i] : scale) * dy[i] }
        }
    }
}

/// The binary cross-entropy (`torch.nn.functional.binary_cross_entropy`) of probabilities
/// `input` against targets `target` in `[0, 1]`:
/// `ℓᵢ = −wᵢ · (yᵢ · log xᵢ + (1 − yᵢ) · log(1 − xᵢ))`, each logarithm clamped at −100 as in
/// PyTorch (so a saturated 0 or 1 gives a finite loss).
///
/// One recorded node. The input's gradient is PyTorch's
/// `wᵢ · (xᵢ − yᵢ) / max(xᵢ (1 − xᵢ), 1e-12)`, the target's `wᵢ · (log(1 − xᵢ) − log xᵢ)`
/// (not clamped, as in PyTorch: infinite at a saturated 0 or 1); no gradient flows to
/// `weight`. For probabilities that come out of
/// a sigmoid, ``binaryCrossEntropyWithLogits(_:_:weight:posWeight:reduction:)`` is more
/// stable.
///
/// - Parameters:
///   - input: probabilities in `[0, 1]`, any shape.
///   - target: targets of the same shape (usually 0 or 1; soft labels are allowed).
///   - weight: optional rescaling weights, broadcastable to `input`'s shape.
///   - reduction: ``Reduction/mean`` (default; the plain mean over the elements),
///     ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`, a tensor of `input`'s shape for `.none`.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when `target`'s shape differs from `input`'s
///   or `weight` does not broadcast to it; ``TensorError/invalidArgument(_:)`` when an
///   element of `input` is outside `[0, 1]`.
public func binaryCrossEntropy(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil,
                               reduction: Reduction = .mean) throws -> Tensor {
    let op = "binaryCrossEntropy"
    let w = try expanded(weight, to: input.shape, op, "weight")
    let x = input.storage.pointer
    for i in 0..<input.count where !(x[i] >= 0 && x[i] <= 1) {
        throw TensorError.invalidArgument("\(op): expected every input element in [0, 1], got \(x[i]) at position \(i)")
    }
    return try pointwiseLoss(op, "BinaryCrossEntropyBackward", input, target, reduction) { x, y, i in
        let wi = w?[i] ?? 1
        let logX = Swift.max(Foundation.log(x), -100), log1mX = Swift.max(Foundation.log1p(-x), -100)
        let loss = wi * ((y - 1) * log1mX - y * logX)
        let dInput = wi * (x - y) / Swift.max((1 - x) * x, 1e-12)
        return (loss, dInput, wi * (Foundation.log1p(-x) - Foundation.log(x)))
    }
}

/// The binary cross-entropy of logits (`torch.nn.functional.binary_cross_entropy_with_logits`):
/// a sigmoid and ``binaryCrossEntropy(_:_:weight:reduction:)`` in one numerically stable
/// step,
///
/// ```
/// ℓᵢ = wᵢ · ((1 − yᵢ) · xᵢ + (1 + (pᵢ − 1) · yᵢ) · softplus(−xᵢ))
/// ```
///
/// with `softplus(−x) = log(1 + e^(−|x|)) + max(−x, 0)` and `pᵢ` the positive-class weight
/// (`posWeight`, 1 when absent), which trades recall against precision as in PyTorch.
///
/// One recorded node; the input's gradient is `wᵢ · ((1 − yᵢ) − (1 + (pᵢ − 1) yᵢ) · σ(−xᵢ))`
/// (`wᵢ · (σ(xᵢ) − yᵢ)` without `posWeight`), the target's `wᵢ · ((pᵢ − 1) · softplus(−xᵢ) − xᵢ)`;
/// no gradient flows to `weight` or `posWeight`.
///
/// - Parameters:
///   - input: logits, any shape (for example `(N, C)` for `C` independent labels).
///   - target: targets of the same shape, usually 0 or 1.
///   - weight: optional rescaling weights, broadcastable to `input`'s shape.
///   - posWeight: optional weights of the positive examples, broadcastable to `input`'s
///     shape — usually `(C)`, one per label along the last dimension.
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`, a tensor of `input`'s shape for `.none`.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when `target`'s shape differs from `input`'s
///   or `weight` or `posWeight` does not broadcast to it.
public func binaryCrossEntropyWithLogits(_ input: Tensor, _ target: Tensor, weight: Tensor? = nil,
                                         posWeight: Tensor? = nil, reduction: Reduction = .mean) throws -> Tensor {
    let op = "binaryCrossEntropyWithLogits"
    let w = try expanded(weight, to: input.shape, op, "weight")
    let p = try expanded(posWeight, to: input.shape, op, "posWeight")
    return try pointwiseLoss(op, "BinaryCrossEntropyWithLogitsBackward", input, target, reduction) { x, y, i in
        let wi = w?[i] ?? 1, pi = p?[i] ?? 1
        let softplusNeg = Foundation.log1p(Foundation.exp(-Swift.abs(x))) + Swift.max(-x, 0)
        let logWeight = 1 + (pi - 1) * y
        let loss = wi * ((1 - y) * x + logWeight * softplusNeg)
        let sigmoidNeg = 1 / (1 + Foundation.exp(x))
        return (loss, wi * ((1 - y) - logWeight * sigmoidNeg), wi * ((pi - 1) * softplusNeg - x))
    }
}

/// The sign of `d` (0 for 0, as `torch.sign`).
@inline(__always) private func sign(_ d: Float) -> Float { d > 0 ? 1 : (d < 0 ? -1 : 0) }

/// The mean absolute error (`torch.nn.functional.l1_loss`): `|inputᵢ − targetᵢ|`.
///
/// One recorded node; the input's gradient is `sign(inputᵢ − targetᵢ)` (0 where they are
/// equal), the target's its negative.
///
/// - Parameters:
///   - input: predictions, any shape.
///   - target: the values to match, of the same shape (no broadcasting).
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`, a tensor of `input`'s shape for `.none`.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when `target`'s shape differs from `input`'s.
public func l1Loss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws -> Tensor {
    try pointwiseLoss("l1Loss", "L1LossBackward", input, target, reduction) { x, y, _ in
        let d = x - y, s = sign(d)
        return (Swift.abs(d), s, -s)
    }
}

/// The smooth L1 loss (`torch.nn.functional.smooth_l1_loss`): with `d = inputᵢ − targetᵢ`,
/// `0.5 d² / beta` where `|d| < beta` and `|d| − 0.5 beta` elsewhere; `beta == 0` is the L1
/// loss. It equals ``huberLoss(_:_:delta:reduction:)`` divided by `beta`.
///
/// One recorded node; the input's gradient is `d / beta` where `|d| < beta`, `sign(d)`
/// elsewhere; the target's is its negative.
///
/// - Parameters:
///   - input: predictions, any shape.
///   - target: the values to match, of the same shape.
///   - beta: where the loss changes from quadratic to linear, ≥ 0 (PyTorch's default 1).
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`, a tensor of `input`'s shape for `.none`.
/// - Throws: ``TensorError/invalidArgument(_:)`` when `beta` is negative or not finite;
///   ``TensorError/shapeMismatch(_:)`` when `target`'s shape differs from `input`'s.
public func smoothL1Loss(_ input: Tensor, _ target: Tensor, beta: Float = 1,
                         reduction: Reduction = .mean) throws -> Tensor {
    guard beta >= 0 && beta.isFinite else {
        throw TensorError.invalidArgument("smoothL1Loss: expected beta ≥ 0, got \(beta)")
    }
    return try pointwiseLoss("smoothL1Loss", "SmoothL1LossBackward", input, target, reduction) { x, y, _ in
        let d = x - y, a = Swift.abs(d)
        if a < beta { return (0.5 * d * d / beta, d / beta, -d / beta) }
        let s = sign(d)
        return (a - 0.5 * beta, s, -s)
    }
}

/// The Huber loss (`torch.nn.functional.huber_loss`): with `d = inputᵢ − targetᵢ`,
/// `0.5 d²` where `|d| < delta` and `delta · (|d| − 0.5 delta)` elsewhere.
///
/// One recorded node; the input's gradient is `d` where `|d| < delta`, `delta · sign(d)`
/// elsewhere; the target's is its negative.
///
/// - Parameters:
///   - input: predictions, any shape.
///   - target: the values to match, of the same shape.
///   - delta: where the loss changes from quadratic to linear, > 0 (PyTorch's default 1).
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`, a tensor of `input`'s shape for `.none`.
/// - Throws: ``TensorError/invalidArgument(_:)`` when `delta` is not positive and finite;
///   ``TensorError/shapeMismatch(_:)`` when `target`'s shape differs from `input`'s.
public func huberLoss(_ input: Tensor, _ target: Tensor, delta: Float = 1,
                      reduction: Reduction = .mean) throws -> Tensor {
    guard delta > 0 && delta.isFinite else {
        throw TensorError.invalidArgument("huberLoss: expected delta > 0, got \(delta)")
    }
    return try pointwiseLoss("huberLoss", "HuberLossBackward", input, target, reduction) { x, y, _ in
        let d = x - y, a = Swift.abs(d)
        if a < delta { return (0.5 * d * d, d, -d) }
        let s = delta * sign(d)
        return (delta * (a - 0.5 * delta), s, -s)
    }
}
