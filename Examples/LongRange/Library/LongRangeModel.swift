import ExampleSupport
import Foundation
import Recurrent

/// The recurrent layers the `long-range` example compares on the adding problem.
public enum LongRangeModelKind: String, CaseIterable, Codable, Sendable {
    /// ``RNN`` (tanh) with PyTorch's default initialisation, U(−1/√H, 1/√H).
    case rnn
    /// ``RNN`` (tanh) whose `W_hh` is re-initialised orthogonal
    /// (``RecurrentBase/initializeRecurrentWeightsOrthogonally(gain:seed:)``, gain 1).
    case rnnOrthogonal = "rnn-orthogonal"
    /// ``GRU``.
    case gru
    /// ``LSTM``.
    case lstm

    /// The name in tables and legends (`"RNN (orthogonal)"`).
    public var displayName: String {
        switch self {
        case .rnn: return "RNN (tanh)"
        case .rnnOrthogonal: return "RNN (orthogonal)"
        case .gru: return "GRU"
        case .lstm: return "LSTM"
        }
    }

    /// The kinds named in a comma-separated list (`"rnn,gru"`), in the list's order.
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` naming an unknown or repeated kind, or
    ///   an empty list.
    public static func parseList(_ text: String) throws -> [LongRangeModelKind] {
        let names = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        guard !names.isEmpty, names.allSatisfy({ !$0.isEmpty }) else {
            throw LongRangeError.invalidSetting("--models: expected a comma-separated list of \(allCases.map(\.rawValue).joined(separator: ", ")), got \"\(text)\"")
        }
        var kinds: [LongRangeModelKind] = []
        for name in names {
            guard let kind = LongRangeModelKind(rawValue: name) else {
                throw LongRangeError.invalidSetting("--models: expected one of \(allCases.map(\.rawValue).joined(separator: ", ")), got \"\(name)\"")
            }
            guard !kinds.contains(kind) else {
                throw LongRangeError.invalidSetting("--models: expected each model once, got \"\(name)\" twice")
            }
            kinds.append(kind)
        }
        return kinds
    }
}

/// The adding-problem model: a one-layer recurrent layer (batch first) over the sequence and a
/// `Linear(hidden, 1)` on its last hidden state — PyTorch's
///
/// ```python
/// _, h = self.rnn(x)        # nn.RNN(2, 128, batch_first=True); h of an LSTM is state[0]
/// return self.fc(h[-1])     # nn.Linear(128, 1)
/// ```
///
/// Shapes: input `(N, T, 2)`, output `(N, 1)`. State-dict keys `rnn.weight_ih_l0`,
/// `rnn.weight_hh_l0`, `rnn.bias_ih_l0`, `rnn.bias_hh_l0`, `fc.weight`, `fc.bias`.
public final class AddingModel: Module, @unchecked Sendable {
    /// The recurrent layer (an ``RNN``, ``GRU`` or ``LSTM`` with one layer, batch first).
    public let rnn: RecurrentBase
    /// The head on the last hidden state.
    public let fc: Linear

    /// A model made of `layer` and `head`.
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` unless `layer` is a one-layer,
    ///   one-direction, batch-first ``RNN``, ``GRU`` or ``LSTM`` without projection reading
    ///   2 features, and `head` maps its hidden size to 1.
    public init(layer: RecurrentBase, head: Linear) throws {
        guard layer is RNN || layer is GRU || layer is LSTM else {
            throw LongRangeError.invalidSetting("AddingModel: expected an RNN, GRU or LSTM layer, got \(type(of: layer))")
        }
        guard layer.numLayers == 1, !layer.bidirectional, layer.batchFirst, layer.projSize == 0,
              layer.inputSize == AddingProblem.inputSize else {
            throw LongRangeError.invalidSetting("AddingModel: expected a one-layer, forward, batch-first layer without projection reading \(AddingProblem.inputSize) features, got \(layer.numLayers) layers, bidirectional \(layer.bidirectional), batchFirst \(layer.batchFirst), projSize \(layer.projSize), inputSize \(layer.inputSize)")
        }
        guard head.inFeatures == layer.hiddenSize, head.outFeatures == 1 else {
            throw LongRangeError.invalidSetting("AddingModel: expected a head Linear(\(layer.hiddenSize) → 1), got Linear(\(head.inFeatures) → \(head.outFeatures))")
        }
        rnn = layer
        fc = head
        super.init()
    }

    /// A model with a layer of `kind` and `hiddenSize` features, all weights drawn from
    /// `seed` (the layer from `seed`, the orthogonal blocks of ``LongRangeModelKind/rnnOrthogonal``
    /// and the head from streams derived from it).
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` for a hidden size below 1; a
    ///   ``LAPACKError`` if the orthogonal initialisation's QR factorisation fails.
    public convenience init(kind: LongRangeModelKind, hiddenSize: Int, seed: UInt64) throws {
        guard hiddenSize >= 1 else {
            throw LongRangeError.invalidSetting("AddingModel: expected a hidden size of at least 1, got \(hiddenSize)")
        }
        let layer: RecurrentBase
        switch kind {
        case .rnn:
            layer = try RNN(inputSize: AddingProblem.inputSize, hiddenSize: hiddenSize, batchFirst: true, seed: seed)
        case .rnnOrthogonal:
            layer = try RNN(inputSize: AddingProblem.inputSize, hiddenSize: hiddenSize, batchFirst: true, seed: seed)
            try layer.initializeRecurrentWeightsOrthogonally(gain: 1, seed: seed &+ 0x0127)
        case .gru:
            layer = try GRU(inputSize: AddingProblem.inputSize, hiddenSize: hiddenSize, batchFirst: true, seed: seed)
        case .lstm:
            layer = try LSTM(inputSize: AddingProblem.inputSize, hiddenSize: hiddenSize, batchFirst: true, seed: seed)
        }
        var generator = SeededGenerator(seed: seed &+ 0xFC)
        try self.init(layer: layer, head: Linear(inFeatures: hiddenSize, outFeatures: 1, using: &generator))
    }

    /// The predicted sums `(N, 1)` for sequences `(N, T, 2)`.
    ///
    /// - Throws: ``TensorError`` when `input` is not `(N, T, 2)` with `T ≥ 1`.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        let (_, last) = try runRecurrent(rnn, input)
        return try fc(last)
    }

    /// The mean squared error of the model on `batch` (no gradients recorded).
    ///
    /// - Throws: ``TensorError`` when the batch's shape does not fit the model (a bug).
    public func meanSquaredError(on batch: AddingBatch) throws -> Double {
        try withoutGradients { Double(try mseLoss(self(batch.inputs), batch.targets).item) }
    }
}
