import Recurrent

/// The recurrent layer an example trains.
public enum CellKindOption: String, CaseIterable, Codable, Sendable {
    /// ``RNN`` (tanh).
    case rnn
    /// ``LSTM``.
    case lstm
    /// ``GRU``.
    case gru

    /// A one-layer layer of this kind, batch first, bidirectional when asked (its output then
    /// has `2 × hiddenSize` features), drawing its weights from `seed`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1.
    public func makeLayer(inputSize: Int, hiddenSize: Int, bidirectional: Bool = false, seed: UInt64?) throws -> RecurrentBase {
        switch self {
        case .rnn:
            return try RNN(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: 1, batchFirst: true,
                           bidirectional: bidirectional, seed: seed)
        case .lstm:
            return try LSTM(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: 1, batchFirst: true,
                            bidirectional: bidirectional, seed: seed)
        case .gru:
            return try GRU(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: 1, batchFirst: true,
                           bidirectional: bidirectional, seed: seed)
        }
    }
}

/// Runs `layer` (an ``RNN``, ``LSTM`` or ``GRU``) over a batch-first `input` and returns the
/// output at every step `(N, L, H)` and the last layer's final hidden state `(N, H)`.
///
/// - Throws: ``TensorError`` when the shapes or lengths do not fit.
public func runRecurrent(_ layer: RecurrentBase, _ input: Tensor, lengths: [Int]? = nil) throws -> (output: Tensor, last: Tensor) {
    let (output, hN, _) = try layer.forward(input, lengths: lengths)
    return (output, try layer.finalState(hN))
}
