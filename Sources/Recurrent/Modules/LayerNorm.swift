/// Layer normalisation (`torch.nn.LayerNorm`): normalises the trailing `normalizedShape`
/// dimensions of its input to mean 0 and variance 1, then applies a learned elementwise scale
/// (`weight`, initialised to ones) and shift (`bias`, zeros).
///
/// Shapes: input `(*, normalizedShape…)`, output the same. State-dict keys `weight` and `bias`,
/// as PyTorch writes them. The forward and backward are one fused node
/// (``Tensor/layerNorm(_:normalizedShape:weight:bias:eps:)``).
///
/// ```swift
/// let norm = try LayerNorm(normalizedShape: [64])
/// let y = try norm(x)          // x: (batch, seq, 64)
/// ```
public final class LayerNorm: Module, UnaryModule, @unchecked Sendable {
    /// The trailing dimensions normalised over.
    public let normalizedShape: [Int]
    /// The constant added to the variance for numerical stability.
    public let eps: Float
    /// The learned scale, of shape `normalizedShape`; `nil` without elementwise affine.
    public let weight: Parameter?
    /// The learned shift, of shape `normalizedShape`; `nil` without elementwise affine or
    /// with `bias: false`.
    public let bias: Parameter?

    /// A layer normalisation over the trailing `normalizedShape` dimensions.
    ///
    /// - Parameters:
    ///   - normalizedShape: the sizes of the trailing dimensions (`[features]` for the usual case).
    ///   - eps: added to the variance (PyTorch's default `1e-5`).
    ///   - elementwiseAffine: whether to learn `weight` and `bias`.
    ///   - bias: whether to learn `bias` (with `elementwiseAffine`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for an empty shape, a size below 1, or an
    ///   `eps` that is negative or not finite.
    public init(normalizedShape: [Int], eps: Float = 1e-5, elementwiseAffine: Bool = true, bias: Bool = true) throws {
        guard !normalizedShape.isEmpty, normalizedShape.allSatisfy({ $0 > 0 }) else {
            throw TensorError.invalidArgument("LayerNorm: expected a non-empty normalizedShape of positive sizes, got \(normalizedShape)")
        }
        _ = try Tensor.checkedCount(normalizedShape, "LayerNorm")
        guard eps >= 0, eps.isFinite else {
            throw TensorError.invalidArgument("LayerNorm: expected a finite, non-negative eps, got \(eps)")
        }
        self.normalizedShape = normalizedShape
        self.eps = eps
        weight = elementwiseAffine ? Parameter(try Tensor.ones(normalizedShape)) : nil
        self.bias = elementwiseAffine && bias ? Parameter(try Tensor.zeros(normalizedShape)) : nil
        super.init()
    }

    /// A layer normalisation over a last dimension of `normalizedShape` elements
    /// (`nn.LayerNorm(features)`).
    /// - Throws: like ``init(normalizedShape:eps:elementwiseAffine:bias:)``.
    public convenience init(_ normalizedShape: Int, eps: Float = 1e-5, elementwiseAffine: Bool = true) throws {
        try self.init(normalizedShape: [normalizedShape], eps: eps, elementwiseAffine: elementwiseAffine)
    }

    /// `(4,), eps=1e-05, elementwise_affine=True`, as PyTorch prints it.
    public override var extraDescription: String {
        let shape = normalizedShape.count == 1 ? "(\(normalizedShape[0]),)" : "(\(normalizedShape.map(String.init).joined(separator: ", ")))"
        return "\(shape), eps=\(eps), elementwise_affine=\(weight == nil ? "False" : "True")"
    }

    /// The normalised, scaled and shifted input, of the input's shape.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the input does not end in
    ///   `normalizedShape`.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        try Tensor.layerNorm(input, normalizedShape: normalizedShape, weight: weight, bias: bias, eps: eps)
    }
}
