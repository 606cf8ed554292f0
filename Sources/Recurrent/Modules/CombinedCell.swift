import LinearAlgebra

/// The hand-written recurrent cell of the classic PyTorch tutorial: the input and the
/// previous hidden state are concatenated and mapped linearly to the new hidden state
/// (no nonlinearity), and the output is the log-softmax of a linear map of the *new*
/// hidden state:
///
/// ```
/// h' = i2h(cat([x, h], dim: 1))          // Linear(inputSize + hiddenSize → hiddenSize)
/// y  = logSoftmax(i2o(h'), dim: 1)       // Linear(hiddenSize → outputSize)
/// ```
///
/// Parameters are named `i2h.weight`, `i2h.bias`, `i2o.weight`, `i2o.bias`, as in the
/// tutorial's `nn.Module`, so its state dicts load directly.
///
/// ```swift
/// let cell = CombinedCell(inputSize: 5, hiddenSize: 10, outputSize: 2)
/// var hidden = cell.initHidden()
/// for x in sequence { (output, hidden) = try cell(x, hidden) }
/// ```
public final class CombinedCell: Module, @unchecked Sendable {
    /// The input-and-hidden to hidden layer, `(hiddenSize, inputSize + hiddenSize)` weight.
    public let i2h: Linear
    /// The hidden to output layer, `(outputSize, hiddenSize)` weight.
    public let i2o: Linear
    /// The number of input features.
    public let inputSize: Int
    /// The number of hidden features.
    public let hiddenSize: Int
    /// The number of classes of the output.
    public let outputSize: Int

    /// A cell initialised like PyTorch's `nn.Linear` layers (U(±1/√fanIn)), drawing from
    /// the default random stream (``RandomState``): `i2h`'s weight and bias, then `i2o`'s.
    ///
    /// - Precondition: the sizes are not negative.
    public init(inputSize: Int, hiddenSize: Int, outputSize: Int) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize
        i2h = Linear(inFeatures: inputSize + hiddenSize, outFeatures: hiddenSize)
        i2o = Linear(inFeatures: hiddenSize, outFeatures: outputSize)
        super.init()
    }

    /// A cell drawing its initial weights from `generator` (`i2h` first, then `i2o`).
    ///
    /// - Precondition: the sizes are not negative.
    public init(inputSize: Int, hiddenSize: Int, outputSize: Int, using generator: inout SeededGenerator) {
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize
        i2h = Linear(inFeatures: inputSize + hiddenSize, outFeatures: hiddenSize, using: &generator)
        i2o = Linear(inFeatures: hiddenSize, outFeatures: outputSize, using: &generator)
        super.init()
    }

    /// One step: the log-probabilities `(B, outputSize)` and the new hidden state
    /// `(B, hiddenSize)` from an input `(B, inputSize)` and the hidden state `(B, hiddenSize)`.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `input` is not `(B, inputSize)` or
    ///   `hidden` is not `(B, hiddenSize)` with the same `B`.
    public func callAsFunction(_ input: Tensor, _ hidden: Tensor) throws -> (output: Tensor, hidden: Tensor) {
        guard input.rank == 2, input.shape[1] == inputSize else {
            throw TensorError.shapeMismatch("CombinedCell: expected an input of shape (batch, \(inputSize)), got \(input.shape)")
        }
        guard hidden.shape == [input.shape[0], hiddenSize] else {
            throw TensorError.shapeMismatch("CombinedCell: expected a hidden state of shape [\(input.shape[0]), \(hiddenSize)] for an input of shape \(input.shape), got \(hidden.shape)")
        }
        let combined = try Tensor.cat([input, hidden], dim: 1)
        let newHidden = try i2h(combined)
        let output = try i2o(newHidden).logSoftmax(dim: 1)
        return (output, newHidden)
    }

    /// The initial hidden state: zeros of shape `(batchSize, hiddenSize)`.
    ///
    /// - Precondition: `batchSize` is not negative.
    public func initHidden(batchSize: Int = 1) -> Tensor {
        Tensor(zeros: [batchSize, hiddenSize])
    }
}
