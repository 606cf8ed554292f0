import LinearAlgebra

/// A fully connected layer, `y = x · Wᵀ + b` (`torch.nn.Linear`).
///
/// Shapes: input `(…, inFeatures)`, output `(…, outFeatures)`; `weight` is
/// `(outFeatures, inFeatures)` and `bias` `(outFeatures)`. Initialised like PyTorch:
/// both from U(−1/√inFeatures, 1/√inFeatures).
public final class Linear: Module, UnaryModule, @unchecked Sendable {
    /// The weight, `(outFeatures, inFeatures)`.
    public let weight: Parameter
    /// The bias, `(outFeatures)`, or `nil` when built with `bias: false`.
    public let bias: Parameter?
    /// The size of each input's last dimension.
    public let inFeatures: Int
    /// The size of each output's last dimension.
    public let outFeatures: Int

    /// A linear layer drawing its initial weights from the default random stream
    /// (``RandomState``).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size, or sizes whose
    ///   weights do not fit in the machine's memory (``MemoryLimit``).
    public convenience init(inFeatures: Int, outFeatures: Int, bias: Bool = true) throws {
        try Linear.checkSizes(inFeatures, outFeatures, bias)
        self.init(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, generator: nil)
    }

    /// A linear layer drawing its initial weights from `generator`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size, or sizes whose
    ///   weights do not fit in the machine's memory (the generator is then left as it was).
    public convenience init(inFeatures: Int, outFeatures: Int, bias: Bool = true,
                            using generator: inout SeededGenerator) throws {
        try Linear.checkSizes(inFeatures, outFeatures, bias)
        self.init(inFeatures: inFeatures, outFeatures: outFeatures, bias: bias, generator: &generator)
    }

    private static func checkSizes(_ inFeatures: Int, _ outFeatures: Int, _ bias: Bool) throws {
        guard inFeatures >= 0 && outFeatures >= 0 else {
            throw TensorError.invalidArgument("Linear: expected non-negative inFeatures and outFeatures, got \(inFeatures) and \(outFeatures)")
        }
        try MemoryLimit.check(floats: [[outFeatures, inFeatures], [bias ? outFeatures : 0]],
                              for: "Linear(inFeatures: \(inFeatures), outFeatures: \(outFeatures)) weights")
    }

    private init(inFeatures: Int, outFeatures: Int, bias: Bool, generator: UnsafeMutablePointer<SeededGenerator>?) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        let bound = inFeatures > 0 ? 1 / Float(inFeatures).squareRoot() : 0
        // The sizes were checked by the public initialisers, so these cannot throw.
        func make(_ g: inout SeededGenerator) -> (Parameter, Parameter?) {
            do {
                let w = try Parameter(uniform: [outFeatures, inFeatures], bound: bound, using: &g)
                let b = bias ? try Parameter(uniform: [outFeatures], bound: bound, using: &g) : nil
                return (w, b)
            } catch {
                preconditionFailure("Linear: sizes checked before drawing, yet \(error)")
            }
        }
        if let generator {
            (weight, self.bias) = make(&generator.pointee)
        } else {
            (weight, self.bias) = RandomState.withGenerator { make(&$0) }
        }
        super.init()
    }

    /// `in_features=…, out_features=…, bias=…`, as PyTorch prints a linear layer.
    public override var extraDescription: String {
        "in_features=\(inFeatures), out_features=\(outFeatures), bias=\(bias == nil ? "False" : "True")"
    }

    /// `input · weightᵀ + bias`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the input's last dimension is not
    ///   `inFeatures`.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        try Tensor.linear(input, weight: weight, bias: bias)
    }
}
