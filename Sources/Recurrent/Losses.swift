import Foundation

/// How a loss combines the losses of the individual items (PyTorch's `reduction=`).
public enum Reduction: String, Sendable, Hashable, Codable, CaseIterable {
    /// The (weighted) mean over the items: a scalar. For ``nllLoss(_:target:weight:ignoreIndex:reduction:)``
    /// and ``crossEntropy(_:target:weight:ignoreIndex:reduction:)`` the divisor is the sum of
    /// the class weights of the items that are not ignored, as in PyTorch.
    case mean
    /// The sum over the items: a scalar.
    case sum
    /// No reduction: one loss per item.
    case none
}

// MARK: - Classification losses

/// The checked shape of a classification loss's input: `n` items (`N · d₁ · …`) of `c`
/// classes, the class dimension's stride `inner` (`d₁ · …`, 1 for `(N, C)` and `(C)`), and
/// the shape of the unreduced loss.
private struct ClassificationShape {
    let n: Int
    let c: Int
    let inner: Int
    let itemShape: [Int]

    /// The position in the input of class `k` of item `item`.
    @inline(__always) func offset(_ item: Int, _ k: Int) -> Int {
        (item / inner) * c * inner + k * inner + item % inner
    }
}

/// The number of rows the class dimension splits the input into (`N`, or 1 unbatched).
private func classRows(_ input: Tensor) -> Int { input.rank == 1 ? 1 : input.shape[0] }

/// Checks the input rank, the target count and values, and the weight shape of a
/// classification loss, naming `op` and expected vs actual in the error.
private func checkClassification(_ op: String, _ input: Tensor, _ target: [Int], _ weight: Tensor?,
                                 _ ignoreIndex: Int) throws -> ClassificationShape {
    let shape: ClassificationShape
    switch input.rank {
    case 1:
        shape = ClassificationShape(n: 1, c: input.shape[0], inner: 1, itemShape: [])
    case 2:
        shape = ClassificationShape(n: input.shape[0], c: input.shape[1], inner: 1, itemShape: [input.shape[0]])
    case 3...:
        let inner = input.shape[2...].reduce(1, *)
        shape = ClassificationShape(n: input.shape[0] * inner, c: input.shape[1], inner: inner,
                                    itemShape: [input.shape[0]] + input.shape[2...])
    default:
        throw TensorError.shapeMismatch(
            "\(op): expected an input of rank 1 (C), 2 (N, C) or more (N, C, d1, ...), got rank \(input.rank) with shape \(input.shape)")
    }
    guard target.count == shape.n else {
        let per = input.rank == 1 ? "for an unbatched input" : input.rank == 2 ? "one per row of the input"
            : "one per item of shape \(shape.itemShape), row-major, for the input"
        throw TensorError.shapeMismatch("\(op): expected \(shape.n) targets (\(per) of shape \(input.shape)), got \(target.count)")
    }
    if let weight, weight.shape != [shape.c] {
        throw TensorError.shapeMismatch("\(op): expected a weight of shape [\(shape.c)] (one per class), got \(weight.shape)")
    }
    for (i, t) in target.enumerated() where t != ignoreIndex && !(0..<shape.c).contains(t) {
        throw TensorError.invalidArgument(
            "\(op): expected a class index in 0..<\(shape.c) (or ignoreIndex \(ignoreIndex)), got \(t) at position \(i)")
    }
    return shape
}

/// The per-item weights `w[y_i]` (0 for ignored items) and the divisor for the reduction:
/// `Σ w[y_i]` for `.mean`, 1 otherwise.
private func itemWeights(_ target: [Int], _ weight: Tensor?, _ ignoreIndex: Int,
                         _ reduction: Reduction) -> (weights: [Float], divisor: Float) {
    let w = weight?.storage.pointer
    var weights = [Float](repeating: 0, count: target.count)
    var total: Float = 0
    for (i, t) in target.enumerated() where t != ignoreIndex {
        let wi = w.map { $0[t] } ?? 1
        weights[i] = wi
        total += wi
    }
    return (weights, reduction == .mean ? total : 1)
}

/// Reduces per-item losses `losses` (already weighted) into the output buffer and shape.
private func reduced(_ losses: [Float], _ reduction: Reduction, divisor: Float,
                     itemShape: [Int]) -> (storage: TensorBuffer, shape: [Int]) {
    switch reduction {
    case .none:
        return (TensorBuffer(copying: losses), itemShape)
    case .sum, .mean:
        var total: Double = 0
        for l in losses { total += Double(l) }
        let storage = TensorBuffer(count: 1)
        storage.pointer[0] = reduction == .mean ? Float(total) / divisor : Float(total)
        return (storage, [])
    }
}

/// The negative log-likelihood loss (`torch.nn.functional.nll_loss`) of log-probabilities
/// `input` against class indices `target`.
///
/// The loss of item `i` is `ℓᵢ = −w[yᵢ] · input[i, yᵢ]`, or 0 when `yᵢ == ignoreIndex`.
/// `.mean` gives `Σᵢ ℓᵢ / Σᵢ w[yᵢ]` over the items that are not ignored (NaN when all are
/// ignored, like PyTorch), `.sum` gives `Σᵢ ℓᵢ`, `.none` the `ℓᵢ` themselves.
///
/// One recorded node; its backward adds `−w[yᵢ] · g / divisor` at `[i, yᵢ]`. No gradient
/// flows to `weight`.
///
/// - Parameters:
///   - input: `(N, C)` log-probabilities (for example the output of ``Tensor/logSoftmax(dim:)``),
///     `(C)` for one unbatched item, or `(N, C, d₁, …)` for a class distribution at every
///     position (a sequence `(N, C, L)`, as PyTorch).
///   - target: one class index in `0..<C` per item, row-major: `N` for `(N, C)`, 1 for `(C)`,
///     `N · d₁ · …` for `(N, C, d₁, …)` (the target tensor `(N, d₁, …)` flattened); an index
///     equal to `ignoreIndex` marks an item that does not count.
///   - weight: optional per-class weights, shape `(C)`.
///   - ignoreIndex: the target value to ignore (PyTorch's default −100).
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`; for `.none` shape `(N)` (`(N, d₁, …)` for a
///   higher-rank input), or a scalar for an unbatched input.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when `input` has rank 0, the number of
///   targets is not the number of items, or `weight` is not `(C)`;
///   ``TensorError/invalidArgument(_:)`` when a target is outside `0..<C` and is not
///   `ignoreIndex`.
public func nllLoss(_ input: Tensor, target: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                    reduction: Reduction = .mean) throws -> Tensor {
    let shape = try checkClassification("nllLoss", input, target, weight, ignoreIndex)
    let (weights, divisor) = itemWeights(target, weight, ignoreIndex, reduction)
    let x = input.storage.pointer
    var losses = [Float](repeating: 0, count: shape.n)
    for (i, t) in target.enumerated() where t != ignoreIndex {
        losses[i] = -weights[i] * x[shape.offset(i, t)]
    }
    let (storage, outShape) = reduced(losses, reduction, divisor: divisor, itemShape: shape.itemShape)
    return Tensor.result("NllLossBackward", shape: outShape, storage: storage, inputs: [input],
                         recording: Tensor.needsRecording(input)) { g, grads in
        guard let gx = grads[0] else { return }
        for (i, t) in target.enumerated() where t != ignoreIndex {
            let gi = reduction == .none ? g[i] : g[0] / divisor
            gx[shape.offset(i, t)] -= weights[i] * gi
        }
    }
}

/// The cross-entropy loss (`torch.nn.functional.cross_entropy`) of unnormalised `logits`
/// against class indices `target`: ``nllLoss(_:target:weight:ignoreIndex:reduction:)`` of
/// `logSoftmax(logits, dim: 1)` (`dim: 0` unbatched), fused into one recorded node.
///
/// The log-softmax is computed stably (subtracting each row's maximum). The backward adds
/// `sᵢ · (softmax(logits)ᵢ − onehot(yᵢ))` to row `i`, with `sᵢ = w[yᵢ] · g / Σⱼ w[yⱼ]` for
/// `.mean`, `w[yᵢ] · g` for `.sum` and `w[yᵢ] · gᵢ` for `.none` (0 for ignored items).
///
/// - Parameters:
///   - logits: `(N, C)` scores, `(C)` for one unbatched item, or `(N, C, d₁, …)` (a
///     sequence `(N, C, L)`), the classes always along dimension 1.
///   - target: one class index in `0..<C` (or `ignoreIndex`) per item, row-major, as for
///     ``nllLoss(_:target:weight:ignoreIndex:reduction:)``.
///   - weight: optional per-class weights, shape `(C)`.
///   - ignoreIndex: the target value to ignore (PyTorch's default −100).
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`; for `.none` shape `(N)` (`(N, d₁, …)` for a
///   higher-rank input), or a scalar for an unbatched input.
/// - Throws: like ``nllLoss(_:target:weight:ignoreIndex:reduction:)``:
///   ``TensorError/shapeMismatch(_:)`` for a wrong rank, target count or weight shape,
///   ``TensorError/invalidArgument(_:)`` for a class index out of range.
public func crossEntropy(_ logits: Tensor, target: [Int], weight: Tensor? = nil, ignoreIndex: Int = -100,
                         reduction: Reduction = .mean) throws -> Tensor {
    let shape = try checkClassification("crossEntropy", logits, target, weight, ignoreIndex)
    let (weights, divisor) = itemWeights(target, weight, ignoreIndex, reduction)
    let n = shape.n, c = shape.c, inner = shape.inner
    let logProbabilities = TensorBuffer(count: n * c) { y in
        Tensor.softmaxForward(logits.storage.pointer, y, outer: classRows(logits), size: c, inner: inner, logarithm: true)
    }
    let logp = logProbabilities.pointer
    var losses = [Float](repeating: 0, count: n)
    for (i, t) in target.enumerated() where t != ignoreIndex {
        losses[i] = -weights[i] * logp[shape.offset(i, t)]
    }
    let (storage, outShape) = reduced(losses, reduction, divisor: divisor, itemShape: shape.itemShape)
    return Tensor.result("CrossEntropyLossBackward", shape: outShape, storage: storage, inputs: [logits],
                         recording: Tensor.needsRecording(logits)) { g, grads in
        guard let gx = grads[0] else { return }
        withExtendedLifetime(logProbabilities) {
            for (i, t) in target.enumerated() where t != ignoreIndex {
                let scale = weights[i] * (reduction == .none ? g[i] : g[0] / divisor)
                if scale == 0 { continue }
                let first = shape.offset(i, 0)
                let row = logp + first, out = gx + first
                for k in 0..<c { out[k * inner] += scale * Foundation.exp(row[k * inner]) }
                out[t * inner] -= scale
            }
        }
    }
}

/// The mean squared error (`torch.nn.functional.mse_loss`): the squared differences
/// `(inputᵢ − targetᵢ)²`, averaged (`.mean`), summed (`.sum`) or returned as they are
/// (`.none`).
///
/// One recorded node; its backward adds `2 (inputᵢ − targetᵢ) · g / n` (`.mean`, `n` the
/// element count; without `/ n` for the others) to the input's gradient and its negative
/// to the target's, when they require gradients. The mean of zero elements is NaN, as in
/// PyTorch.
///
/// - Parameters:
///   - input: predictions of any shape.
///   - target: the values to match, of the same shape (no broadcasting).
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
/// - Returns: a scalar for `.mean` and `.sum`, a tensor of `input`'s shape for `.none`.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when `target`'s shape differs from `input`'s.
public func mseLoss(_ input: Tensor, _ target: Tensor, reduction: Reduction = .mean) throws -> Tensor {
    guard input.shape == target.shape else {
        throw TensorError.shapeMismatch("mseLoss: expected a target of the input's shape \(input.shape), got \(target.shape)")
    }
    let n = input.count, x = input.storage.pointer, y = target.storage.pointer
    let divisor: Float = reduction == .mean ? Float(n) : 1
    let storage: TensorBuffer
    let outShape: [Int]
    if reduction == .none {
        storage = TensorBuffer(count: n) { out in
            for i in 0..<n { let d = x[i] - y[i]; out[i] = d * d }
        }
        outShape = input.shape
    } else {
        var total: Double = 0
        for i in 0..<n { let d = x[i] - y[i]; total += Double(d * d) }
        storage = TensorBuffer(count: 1)
        storage.pointer[0] = Float(total) / divisor
        outShape = []
    }
    return Tensor.result("MseLossBackward", shape: outShape, storage: storage, inputs: [input, target],
                         recording: Tensor.needsRecording(input, target)) { g, grads in
        let gx = grads[0], gy = grads[1]
        let perItem = reduction == .none
        let scale = perItem ? 2 : 2 * g[0] / divisor
        for i in 0..<n {
            let d = (perItem ? 2 * g[i] : scale) * (x[i] - y[i])
            gx?[i] += d
            gy?[i] -= d
        }
    }
}

// MARK: - Loss modules

/// The negative log-likelihood loss as a module (`torch.nn.NLLLoss`): holds the class
/// weights, the ignored index and the reduction, and applies
/// ``nllLoss(_:target:weight:ignoreIndex:reduction:)``.
public final class NLLLoss: Module, @unchecked Sendable {
    /// Per-class weights `(C)`, or `nil` for equal weights.
    public let weight: Tensor?
    /// The target value that does not count.
    public let ignoreIndex: Int
    /// How the item losses are combined.
    public let reduction: Reduction

    /// A criterion with PyTorch's defaults (no weights, ignore −100, mean).
    public init(weight: Tensor? = nil, ignoreIndex: Int = -100, reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
        super.init()
    }

    /// The loss of log-probabilities `input` `(N, C)` (or `(C)`) against class indices `target`.
    /// - Throws: what ``nllLoss(_:target:weight:ignoreIndex:reduction:)`` throws.
    public func callAsFunction(_ input: Tensor, _ target: [Int]) throws -> Tensor {
        try nllLoss(input, target: target, weight: weight, ignoreIndex: ignoreIndex, reduction: reduction)
    }
}

/// The cross-entropy loss as a module (`torch.nn.CrossEntropyLoss`): applies
/// ``crossEntropy(_:target:weight:ignoreIndex:reduction:)`` to logits.
public final class CrossEntropyLoss: Module, @unchecked Sendable {
    /// Per-class weights `(C)`, or `nil` for equal weights.
    public let weight: Tensor?
    /// The target value that does not count.
    public let ignoreIndex: Int
    /// How the item losses are combined.
    public let reduction: Reduction

    /// A criterion with PyTorch's defaults (no weights, ignore −100, mean).
    public init(weight: Tensor? = nil, ignoreIndex: Int = -100, reduction: Reduction = .mean) {
        self.weight = weight
        self.ignoreIndex = ignoreIndex
        self.reduction = reduction
        super.init()
    }

    /// The loss of `logits` `(N, C)` (or `(C)`) against class indices `target`.
    /// - Throws: what ``crossEntropy(_:target:weight:ignoreIndex:reduction:)`` throws.
    public func callAsFunction(_ logits: Tensor, _ target: [Int]) throws -> Tensor {
        try crossEntropy(logits, target: target, weight: weight, ignoreIndex: ignoreIndex, reduction: reduction)
    }
}

/// The mean squared error as a module (`torch.nn.MSELoss`): applies ``mseLoss(_:_:reduction:)``.
public final class MSELoss: Module, @unchecked Sendable {
    /// How the squared errors are combined.
    public let reduction: Reduction

    /// A criterion with the given reduction (mean by default).
    public init(reduction: Reduction = .mean) {
        self.reduction = reduction
        super.init()
    }

    /// The loss of `input` against `target` (same shape).
    /// - Throws: what ``mseLoss(_:_:reduction:)`` throws.
    public func callAsFunction(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        try mseLoss(input, target, reduction: reduction)
    }
}
