// The pointwise losses as modules (criteria), like `torch.nn.BCELoss` and its siblings.

/// The binary cross-entropy as a module (`torch.nn.BCELoss`): applies
/// ``binaryCrossEntropy(_:_:weight:reduction:)`` with its weight and reduction.
public final class BCELoss: Module, @unchecked Sendable {
    /// Rescaling weights broadcastable to the input's shape, or `nil`.
    public let weight: Tensor?
    /// How the element losses are combined.
    public let reduction: Reduction

    /// A criterion with PyTorch's defaults (no weight, mean).
    public init(weight: Tensor? = nil, reduction: Reduction = .mean) {
        self.weight = weight
        self.reduction = reduction
        super.init()
    }

    /// The loss of probabilities `input` against `target` (same shape).
    /// - Throws: what ``binaryCrossEntropy(_:_:weight:reduction:)`` throws.
    public func callAsFunction(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        try binaryCrossEntropy(input, target, weight: weight, reduction: reduction)
    }
}

/// The binary cross-entropy of logits as a module (`torch.nn.BCEWithLogitsLoss`): applies
/// ``binaryCrossEntropyWithLogits(_:_:weight:posWeight:reduction:)``.
public final class BCEWithLogitsLoss: Module, @unchecked Sendable {
    /// Rescaling weights broadcastable to the input's shape, or `nil`.
    public let weight: Tensor?
    /// Weights of the positive examples (usually `(C)`, one per label), or `nil`.
    public let posWeight: Tensor?
    /// How the element losses are combined.
    public let reduction: Reduction

    /// A criterion with PyTorch's defaults (no weights, mean).
    public init(weight: Tensor? = nil, reduction: Reduction = .mean, posWeight: Tensor? = nil) {
        self.weight = weight
        self.posWeight = posWeight
        self.reduction = reduction
        super.init()
    }

    /// The loss of logits `input` against `target` (same shape).
    /// - Throws: what ``binaryCrossEntropyWithLogits(_:_:weight:posWeight:reduction:)`` throws.
    public func callAsFunction(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        try binaryCrossEntropyWithLogits(input, target, weight: weight, posWeight: posWeight, reduction: reduction)
    }
}

/// The mean absolute error as a module (`torch.nn.L1Loss`): applies ``l1Loss(_:_:reduction:)``.
public final class L1Loss: Module, @unchecked Sendable {
    /// How the element losses are combined.
    public let reduction: Reduction

    /// A criterion with the given reduction (mean by default).
    public init(reduction: Reduction = .mean) {
        self.reduction = reduction
        super.init()
    }

    /// The loss of `input` against `target` (same shape).
    /// - Throws: what ``l1Loss(_:_:reduction:)`` throws.
    public func callAsFunction(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        try l1Loss(input, target, reduction: reduction)
    }
}

/// The smooth L1 loss as a module (`torch.nn.SmoothL1Loss`): applies
/// ``smoothL1Loss(_:_:beta:reduction:)``.
public final class SmoothL1Loss: Module, @unchecked Sendable {
    /// How the element losses are combined.
    public let reduction: Reduction
    /// Where the loss changes from quadratic to linear.
    public let beta: Float

    /// A criterion with PyTorch's defaults (mean, beta 1).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `beta` is negative or not finite.
    public init(reduction: Reduction = .mean, beta: Float = 1) throws {
        guard beta >= 0 && beta.isFinite else {
            throw TensorError.invalidArgument("SmoothL1Loss: expected beta ≥ 0, got \(beta)")
        }
        self.reduction = reduction
        self.beta = beta
        super.init()
    }

    /// The loss of `input` against `target` (same shape).
    /// - Throws: what ``smoothL1Loss(_:_:beta:reduction:)`` throws.
    public func callAsFunction(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        try smoothL1Loss(input, target, beta: beta, reduction: reduction)
    }
}

/// The Huber loss as a module (`torch.nn.HuberLoss`): applies ``huberLoss(_:_:delta:reduction:)``.
public final class HuberLoss: Module, @unchecked Sendable {
    /// How the element losses are combined.
    public let reduction: Reduction
    /// Where the loss changes from quadratic to linear.
    public let delta: Float

    /// A criterion with PyTorch's defaults (mean, delta 1).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `delta` is not positive and finite.
    public init(reduction: Reduction = .mean, delta: Float = 1) throws {
        guard delta > 0 && delta.isFinite else {
            throw TensorError.invalidArgument("HuberLoss: expected delta > 0, got \(delta)")
        }
        self.reduction = reduction
        self.delta = delta
        super.init()
    }

    /// The loss of `input` against `target` (same shape).
    /// - Throws: what ``huberLoss(_:_:delta:reduction:)`` throws.
    public func callAsFunction(_ input: Tensor, _ target: Tensor) throws -> Tensor {
        try huberLoss(input, target, delta: delta, reduction: reduction)
    }
}
