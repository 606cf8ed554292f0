import LinearAlgebra

/// The shared part of ``RNNCell``, ``LSTMCell`` and ``GRUCell`` (`torch.nn.RNNCellBase`):
/// one step of a recurrent layer, with parameters `weight_ih` `(G·hiddenSize, inputSize)`,
/// `weight_hh` `(G·hiddenSize, hiddenSize)`, `bias_ih` and `bias_hh` `(G·hiddenSize)`.
///
/// Input `(N, inputSize)` or unbatched `(inputSize)`; state `(N, hiddenSize)` or
/// `(hiddenSize)`, zeros when absent. A step is one fused autograd node.
public class RecurrentCellBase: Module, @unchecked Sendable {
    /// The cell's kind.
    public let kind: CellKind
    /// The number of features of the input.
    public let inputSize: Int
    /// The number of features of the state.
    public let hiddenSize: Int
    /// Whether the cell has the bias vectors.
    public let bias: Bool
    /// GRU: whether the reset gate multiplies the recurrent product (PyTorch's form, the
    /// default) or the state before it (`false`; see ``RecurrentBase/resetAfter``).
    public let resetAfter: Bool
    /// LSTM: whether the gates read the cell state through peepholes (`weight_p`, `(3, hiddenSize)`).
    public let peepholes: Bool
    let weights: RecurrentWeights
    let names: [(String, Parameter)]

    init(kind: CellKind, inputSize: Int, hiddenSize: Int, bias: Bool, seed: UInt64?,
         resetAfter: Bool = true, peepholes: Bool = false) throws {
        guard inputSize > 0, hiddenSize > 0 else {
            throw TensorError.invalidArgument("expected inputSize and hiddenSize > 0, got \(inputSize) and \(hiddenSize)")
        }
        try MemoryLimit.check(floats: [[kind.gateCount, hiddenSize, inputSize], [kind.gateCount, hiddenSize, hiddenSize],
                                       [bias ? 2 : 0, kind.gateCount, hiddenSize], [peepholes ? 3 : 0, hiddenSize]],
                              for: "\(Self.typeName(kind))(inputSize: \(inputSize), hiddenSize: \(hiddenSize)) weights")
        var generator = seed.map { SeededGenerator(seed: $0) } ?? RandomState.withGenerator { SeededGenerator(seed: $0.next()) }
        self.kind = kind
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.bias = bias
        self.resetAfter = kind == .gru ? resetAfter : true
        self.peepholes = kind == .lstm && peepholes
        let GH = kind.gateCount * hiddenSize, bound = 1 / Float(hiddenSize).squareRoot()
        let wih = try Parameter(uniform: [GH, inputSize], bound: bound, using: &generator)
        let whh = try Parameter(uniform: [GH, hiddenSize], bound: bound, using: &generator)
        var names = [("weight_ih", wih), ("weight_hh", whh)]
        var bih: Parameter?, bhh: Parameter?
        if bias {
            bih = try Parameter(uniform: [GH], bound: bound, using: &generator)
            bhh = try Parameter(uniform: [GH], bound: bound, using: &generator)
            names += [("bias_ih", bih!), ("bias_hh", bhh!)]
        }
        var p: Parameter?
        if self.peepholes {
            // Drawn after the others, which are therefore those of a plain cell of the same seed.
            p = try Parameter(uniform: [3, hiddenSize], bound: bound, using: &generator)
            names.append(("weight_p", p!))
        }
        weights = RecurrentWeights(weightIH: wih, weightHH: whh, biasIH: bih, biasHH: bhh, weightHR: nil, peepholes: p)
        self.names = names
        super.init()
    }

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

    /// `weight_ih`, `weight_hh`, `bias_ih`, `bias_hh`, as PyTorch names them, then a peephole
    /// LSTM cell's `weight_p`.
    public override var localParameters: [(name: String, parameter: Parameter)] { names }
    /// No sub-modules.
    public override var children: [(name: String, module: Module)] { [] }

    /// `inputSize, hiddenSize` and the settings that differ from PyTorch's defaults, as PyTorch
    /// prints a cell (`RNNCell(4, 8, nonlinearity=relu)`).
    public override var extraDescription: String {
        "\(inputSize), \(hiddenSize)" + (bias ? "" : ", bias=False") + (kind == .rnnReLU ? ", nonlinearity=relu" : "")
            + (resetAfter ? "" : ", reset_after=False") + (peepholes ? ", peepholes=True" : "")
    }

    var typeName: String { Self.typeName(kind) }

    static func typeName(_ kind: CellKind) -> String {
        switch kind {
        case .rnnTanh, .rnnReLU: return "RNNCell"
        case .lstm: return "LSTMCell"
        case .gru: return "GRUCell"
        }
    }

    /// One fused step; returns `(h', c')` in the input's batched or unbatched form.
    func step(_ input: Tensor, h: Tensor?, c: Tensor?) throws -> (h: Tensor, c: Tensor?) {
        guard (input.rank == 1 || input.rank == 2), input.shape.last == inputSize else {
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
        let layout = SequenceLayout(steps: 1, batch: batch, batchFirst: false)
        let variant = CellVariant(resetBeforeProduct: !resetAfter, peepholes: weights.peepholes)
        let (_, hN, cN) = variant.isPlain
            ? FusedRecurrence.run(kind: kind, input: x, layout: layout, reverse: false, h0: h0, c0: c0, weights: weights, lengths: nil)
            : FusedVariantRecurrence.run(kind: kind, input: x, layout: layout, reverse: false, h0: h0, c0: c0, weights: weights,
                                         variant: variant, lengths: nil)
        if unbatched {
            return (try hN.reshaped([hiddenSize]), try cN?.reshaped([hiddenSize]))
        }
        return (hN, cN)
    }
}

/// An Elman RNN cell (`torch.nn.RNNCell`): `h' = tanh(W_ih x + b_ih + W_hh h + b_hh)` (or ReLU).
public final class RNNCell: RecurrentCellBase, RecurrentCell, @unchecked Sendable {
    /// A cell with weights from U(−1/√hiddenSize, 1/√hiddenSize).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, nonlinearity: RNN.Nonlinearity = .tanh,
                seed: UInt64? = nil) throws {
        try super.init(kind: nonlinearity == .tanh ? .rnnTanh : .rnnReLU, inputSize: inputSize,
                       hiddenSize: hiddenSize, bias: bias, seed: seed)
    }

    /// The next state `h'` `(N, hiddenSize)` (or `(hiddenSize)`) from `input` and `hidden`
    /// (zeros when `nil`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit.
    public func callAsFunction(_ input: Tensor, _ hidden: Tensor? = nil) throws -> Tensor {
        try step(input, h: hidden, c: nil).h
    }

    /// Zeros `(batchSize, hiddenSize)`.
    public func zeroState(batchSize: Int) throws -> Tensor { try zeros(batchSize) }

    /// One step of the ``RecurrentCell`` protocol: the output is the new state.
    public func step(_ input: Tensor, _ state: Tensor) throws -> (output: Tensor, state: Tensor) {
        let h = try self(input, state)
        return (h, h)
    }
}

/// A gated recurrent unit cell (`torch.nn.GRUCell`), gates r, z, n; with `resetAfter: false`,
/// `n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)` (see ``GRU``).
public final class GRUCell: RecurrentCellBase, RecurrentCell, @unchecked Sendable {
    /// A cell with weights from U(−1/√hiddenSize, 1/√hiddenSize).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, resetAfter: Bool = true, seed: UInt64? = nil) throws {
        try super.init(kind: .gru, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, seed: seed, resetAfter: resetAfter)
    }

    /// The next state `h'` from `input` and `hidden` (zeros when `nil`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit.
    public func callAsFunction(_ input: Tensor, _ hidden: Tensor? = nil) throws -> Tensor {
        try step(input, h: hidden, c: nil).h
    }

    /// Zeros `(batchSize, hiddenSize)`.
    public func zeroState(batchSize: Int) throws -> Tensor { try zeros(batchSize) }

    /// One step of the ``RecurrentCell`` protocol: the output is the new state.
    public func step(_ input: Tensor, _ state: Tensor) throws -> (output: Tensor, state: Tensor) {
        let h = try self(input, state)
        return (h, h)
    }
}

/// The state of an LSTM: hidden `h` and cell `c`.
public struct LSTMState: RecurrentState {
    /// The hidden state.
    public var h: Tensor
    /// The cell state.
    public var c: Tensor
    /// A state from its two tensors.
    public init(h: Tensor, c: Tensor) { self.h = h; self.c = c }
    /// `[h, c]`.
    public var tensors: [Tensor] { [h, c] }
    /// A state from `[h, c]`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` unless `tensors` holds exactly two tensors.
    public init(tensors: [Tensor]) throws {
        guard tensors.count == 2 else {
            throw TensorError.invalidArgument("LSTMState(tensors:): expected two tensors, h and c, got \(tensors.count)")
        }
        self.init(h: tensors[0], c: tensors[1])
    }
}

/// A long short-term memory cell (`torch.nn.LSTMCell`), gates i, f, g, o; with
/// `peepholes: true`, `weight_p` `(3, hiddenSize)` (rows p_i, p_f, p_o; see ``LSTM``).
public final class LSTMCell: RecurrentCellBase, RecurrentCell, @unchecked Sendable {
    /// A cell with weights from U(−1/√hiddenSize, 1/√hiddenSize).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1.
    public init(inputSize: Int, hiddenSize: Int, bias: Bool = true, peepholes: Bool = false, seed: UInt64? = nil) throws {
        try super.init(kind: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, bias: bias, seed: seed, peepholes: peepholes)
    }

    /// The next state `(h', c')` from `input` and `state` (zeros when `nil`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit.
    public func callAsFunction(_ input: Tensor, _ state: LSTMState? = nil) throws -> LSTMState {
        let (h, c) = try step(input, h: state?.h, c: state?.c)
        guard let c else { fatalError("LSTMCell: the step returned no cell state") }
        return LSTMState(h: h, c: c)
    }

    /// Zeros for `h` and `c`, each `(batchSize, hiddenSize)`.
    public func zeroState(batchSize: Int) throws -> LSTMState {
        LSTMState(h: try zeros(batchSize), c: try zeros(batchSize))
    }

    /// One step of the ``RecurrentCell`` protocol: the output is the new `h`.
    public func step(_ input: Tensor, _ state: LSTMState) throws -> (output: Tensor, state: LSTMState) {
        let next = try self(input, state)
        return (next.h, next)
    }
}
