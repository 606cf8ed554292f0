import ExampleSupport
import Recurrent

/// The forecasting network: a recurrent layer over a window of standardised residuals and a
/// `Linear(hidden, 1)` on the output of the last step — PyTorch's
///
/// ```python
/// out, _ = self.rnn(x)            # nn.GRU(1, 8, batch_first=True)
/// return self.fc(out[:, -1, :])   # nn.Linear(8, 1)
/// ```
public final class AirlineModel: Module, @unchecked Sendable {
    /// The recurrent layer (`rnn.weight_ih_l0`, …).
    public let rnn: RecurrentBase
    /// The head on the last step (`fc.weight`, `fc.bias`).
    public let fc: Linear

    /// A model with a layer of `kind` and `hiddenSize` features; the layer draws from
    /// `seed`, the head from the default random stream.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a hidden size below 1.
    public init(kind: CellKindOption, hiddenSize: Int, seed: UInt64) throws {
        rnn = try kind.makeLayer(inputSize: 1, hiddenSize: hiddenSize, seed: seed)
        fc = try Linear(inFeatures: hiddenSize, outFeatures: 1)
        super.init()
    }

    /// The standardised prediction `(N, 1)` for windows `(N, L, 1)`.
    ///
    /// - Throws: ``TensorError`` when `input` is not `(N, L, 1)`.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        let (output, _) = try runRecurrent(rnn, input)
        return try fc(output.select(dim: 1, index: -1))
    }
}
