import LinearAlgebra

/// The shared part of ``LayerNormLSTMCell`` and ``LayerNormGRUCell``: one step of a
/// layer-normalised layer, with PyTorch's reference names `weight_ih` `(G·hiddenSize,
/// inputSize)`, `weight_hh` `(G·hiddenSize, hiddenSize)`, `layernorm_i.weight`/`.bias`,
/// `layernorm_h.*` `(G·hiddenSize)` and (LSTM) `layernorm_c.*` `(hiddenSize)`.
///
/// Input `(N, inputSize)` or unbatched `(inputSize)`; state `(N, hiddenSize)` or
/// `(hiddenSize)`, zeros when absent. A step is one fused autograd node
/// (`LayerNormRecurrence` over one step).
public class LayerNormRecurrentCellBase: Module, @unchecked Sendable {
    /// The cell's kind (`.lstm` or `.gru`).
    public let kind: CellKind
    /// The number of features of the input.
    public let inputSize: Int
    /// The number of features of the state.
    public let hiddenSize: Int
    /// `W_ih`, `(G·hiddenSize, inputSize)`.
    public let weightIH: Parameter
    /// `W_hh`, `(G·hiddenSize, hiddenSize)`.
    public let weightHH: Parameter
    /// The layer norm of the input projection (over `G·hiddenSize`).
    public let layernormI: LayerNorm
    /// The layer norm of the recurrent projection (over `G·hiddenSize`).
    public let layernormH: LayerNorm
    /// The layer norm of the cell state (LSTM only, over `hiddenSize`).
    public let layernormC: LayerNorm?

    init(kind: CellKind, inputSize: Int, hiddenSize: Int, bias: Bool, eps: Float, seed: UInt64?) throws {
        let name = kind == .lstm ? "LayerNormLSTMCell" : "LayerNormGRUCell"
        guard inputSize > 0, hiddenSize > 0 else {
            throw TensorError.invalidArgument("\(name): expected inputSize and hiddenSize > 0, got \(inputSize) and \(hiddenSize)")
        }
        guard eps >= 0, eps.isFinite else { throw TensorError.invalidArgument("\(name): expected a finite, non-negative eps, got \(eps)") }
        let G = kind.gateCount
        try MemoryLimit.check(floats: [[G, hiddenSize, inputSize], [G, hiddenSize, hiddenSize], [6, G, hiddenSize]],
                              for: "\(name)(inputSize: \(inputSize), hiddenSize: \(hiddenSize)) weights")
        var generator = seed.map { SeededGenerator(seed: $0) } ?? RandomState.withGenerator { SeededGenerator(seed: $0.next()) }
        let bound = 1 / Float(hiddenSize).squareRoot()
        self.kind = kind
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        weightIH = try Parameter(uniform: [G * hiddenSize, inputSize], bound: bound, using: &generator)
        weightHH = try Parameter(uniform: [G * hiddenSize, hiddenSize], bound: bound, using: &generator)
        layernormI = try LayerNorm(normalizedShape: [G * hiddenSize], eps: eps, bias: bias)
        layernormH = try LayerNorm(normalizedShape: [G * hiddenSize], eps: eps, bias: bias)
        layernormC = kind == .lstm ? try LayerNorm(normalizedShape: [hiddenSize], eps: eps, bias: bias) : nil
        super.init()
    }

    /// PyTorch's names: `weight_ih`, `weight_hh`, `layernorm_i`, `layernorm_h`, `layernorm_c`.
    public override var stateDictNames: [String: String] {
        ["weightIH": "weight_ih", "weightHH": "weight_hh", "layernormI": "layernorm_i", "layernormH": "layernorm_h",
         "layernormC": "layernorm_c"]
    }

    /// `inputSize, hiddenSize`.
    public override var extraDescription: String { "\(inputSize), \(hiddenSize)" }

    var typeName: String { kind == .lstm ? "LayerNormLSTMCell" : "LayerNormGRUCell" }

    /// Zeros of shape `(batchSize, hiddenSize)`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `batchSize` or a state
    ///   that does not fit in memory.
    func zeros(_ batchSize: Int) throws -> Tensor {
        guard batchSize >= 0 else {
            throw TensorError.invalidArgument("\(typeName).zeroState: expected batchSize >= 0, got \(batchSize)")
        }
        try MemoryLimit.check(floats: [[batchSize, hiddenSize]], for: "\(typeName).zeroState(batchSize: \(batchSize))")
        return Tensor(zeros: [batchSize, hiddenSize])
    }

    /// One fused step; returns `(h', c')` in the input's batched or unbatched form.
    func step(_ input: Tensor, h: Tensor?, c: Tensor?) throws -> (h: Tensor, c: Tensor?) {
        guard input.rank == 1 || input.rank == 2, input.shape.last == inputSize else {
            throw TensorError.shapeMismatch("\(typeName): expected input (N, \(inputSize)) or (\(inputSize)), got \(input.shape)")
        }
        let unbatched = input.rank == 1
        let batch = unbatched ? 1 : input.shape[0]
        let stateShape = unbatched ? [hiddenSize] : [batch, hiddenSize]
        for (name, state) in [("hidden state", h), ("cell state", c)] {
            if let state, state.shape != stateShape {
                throw TensorError.shapeMismatch("\(typeName): expected \(name) of shape \(stateShape), got \(state.shape)")
            }
        }
        let x = try input.reshaped([1, batch, inputSize])
        let h0 = try h.map { try $0.reshaped([batch, hiddenSize]) } ?? Tensor(zeros: [batch, hiddenSize])
        let c0: Tensor? = kind == .lstm ? (try c.map { try $0.reshaped([batch, hiddenSize]) } ?? Tensor(zeros: [batch, hiddenSize])) : nil
        let weights = LayerNormRecurrentWeights(weightIH: weightIH, weightHH: weightHH, normI: layernormI, normH: layernormH,
                                                normC: layernormC)
        let (_, hN, cN) = LayerNormRecurrence.run(kind: kind, input: x, layout: SequenceLayout(steps: 1, batch: batch, batchFirst: false),
                                                  reverse: false, h0: h0, c0: c0, weights: weights, lengths: nil)
        if unbatched { return (try hN.reshaped([hiddenSize]), try cN?.reshaped([hiddenSize])) }
        return (hN, cN)
    }
}

/// One step of a layer-normalised LSTM: PyTorch's reference `LayerNormLSTMCell`
/// (`benchmarks/fastrnns/custom_lstms.py`), fused. See ``LayerNormLSTM`` for the equations and
/// ``LayerNormRecurrentCellBase`` for shapes and names.
public final class LayerNormLSTMCell: LayerNormRecurrentCellBase, RecurrentCell, @unchecked Sendable {
    /// A cell with `W_ih`, `W_hh` from U(−1/√hiddenSize, 1/√hiddenSize) and layer norms with
    /// weight 1 and shift 0.
    /// - Parameters:
    ///   - inputSize: the features of the input.
    ///   - hiddenSize: the features of the states `h` and `c`.
    ///   - bias: whether the layer norms have their shift.
    ///   - eps: the layer norms' `eps`.
    ///   - seed: the seed of the weights' random draws; `nil`: the default stream (``RandomState``).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1 or a bad `eps`.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, eps: Float = 1e-5, seed: UInt64? = nil) throws {
        try super.init(kind: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, eps: eps, seed: seed)
    }

    /// The next state `(h', c')` from `input` and `state` (zeros when `nil`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit.
    public func callAsFunction(_ input: Tensor, _ state: LSTMState? = nil) throws -> LSTMState {
        let (h, c) = try step(input, h: state?.h, c: state?.c)
        guard let c else { fatalError("LayerNormLSTMCell: the step returned no cell state") }
        return LSTMState(h: h, c: c)
    }

    /// Zeros for `h` and `c`, each `(batchSize, hiddenSize)`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `batchSize`.
    public func zeroState(batchSize: Int) throws -> LSTMState {
        LSTMState(h: try zeros(batchSize), c: try zeros(batchSize))
    }

    /// One step of the ``RecurrentCell`` protocol: the output is the new `h`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit.
    public func step(_ input: Tensor, _ state: LSTMState) throws -> (output: Tensor, state: LSTMState) {
        let next = try self(input, state)
        return (next.h, next)
    }
}

/// One step of a layer-normalised GRU (see ``LayerNormGRU`` for the equations and
/// ``LayerNormRecurrentCellBase`` for shapes and names).
public final class LayerNormGRUCell: LayerNormRecurrentCellBase, RecurrentCell, @unchecked Sendable {
    /// A cell initialised as ``LayerNormLSTMCell``.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1 or a bad `eps`.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, eps: Float = 1e-5, seed: UInt64? = nil) throws {
        try super.init(kind: .gru, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, eps: eps, seed: seed)
    }

    /// The next state `h'` from `input` and `hidden` (zeros when `nil`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit.
    public func callAsFunction(_ input: Tensor, _ hidden: Tensor? = nil) throws -> Tensor {
        try step(input, h: hidden, c: nil).h
    }

    /// Zeros `(batchSize, hiddenSize)`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `batchSize`.
    public func zeroState(batchSize: Int) throws -> Tensor { try zeros(batchSize) }

    /// One step of the ``RecurrentCell`` protocol: the output is the new state.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit.
    public func step(_ input: Tensor, _ state: Tensor) throws -> (output: Tensor, state: Tensor) {
        let h = try self(input, state)
        return (h, h)
    }
}
