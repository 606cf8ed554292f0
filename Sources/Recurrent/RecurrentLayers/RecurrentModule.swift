import LinearAlgebra

/// Which way a recurrent layer reads its sequence.
public enum Direction: Int, Sendable {
    /// From the first element to the last.
    case forward = 0
    /// From the last element to the first (the second half of a bidirectional layer).
    case reverse = 1
}

/// The shared machinery of ``RNN``, ``LSTM`` and ``GRU`` (`torch.nn.RNNBase`): configuration,
/// parameters named exactly as PyTorch names them, input checking, and the stack of fused
/// layers.
///
/// Shapes (`D` = 2 if bidirectional else 1, `H_out` = `projSize` if set else `hiddenSize`):
/// input `(L, N, inputSize)`, `(N, L, inputSize)` with `batchFirst`, or unbatched
/// `(L, inputSize)`; initial states `(D · numLayers, N, H_out)` (and `(D · numLayers, N,
/// hiddenSize)` for an LSTM's cell state), `(D · numLayers, H_out)` unbatched; output
/// `(L, N, D · H_out)` (or batch first); final states like the initial ones, with
/// `h_n[layer · D + direction]`.
public class RecurrentBase: Module, @unchecked Sendable {
    /// The cell every layer runs.
    public let kind: CellKind
    /// The number of features of each input element.
    public let inputSize: Int
    /// The number of features of the hidden (and, for LSTMs, cell) state.
    public let hiddenSize: Int
    /// The number of stacked layers.
    public let numLayers: Int
    /// Whether the layers have the two bias vectors `b_ih` and `b_hh`.
    public let bias: Bool
    /// Whether inputs and outputs are `(N, L, features)` instead of `(L, N, features)`.
    public let batchFirst: Bool
    /// The dropout probability applied to the outputs of every layer but the last, in
    /// training mode.
    public let dropout: Float
    /// Whether each layer also reads the sequence in reverse.
    public let bidirectional: Bool
    /// The size of an LSTM's projected hidden state (`0`: no projection).
    public let projSize: Int
    /// GRU: whether the reset gate multiplies the recurrent product (`r ⊙ (W_hn h + b_hn)`,
    /// PyTorch's and ONNX `linear_before_reset=1`, the default) or the state before it
    /// (`W_hn (r ⊙ h) + b_hn`, `false`: ONNX `linear_before_reset=0`, Keras
    /// `reset_after=False`, Cho et al. 2014). Always `true` for an RNN or an LSTM.
    public let resetAfter: Bool
    /// LSTM: whether the gates read the cell state through peepholes (`weight_p_l{k}`).
    public let peepholes: Bool
    /// The regularisers active in training mode (see ``RecurrentRegularizers``).
    public let regularizers: RecurrentRegularizers
    /// The module's own mask stream, when ``regularizers`` has a seed.
    let regularizerGenerator: PThreadMutex<SeededGenerator>?

    /// The weights of layer `l`, direction `d`, at `[l][d]`.
    let weights: [[RecurrentWeights]]
    let names: [(String, Parameter)]

    /// `2` for bidirectional layers, else `1`.
    public var numDirections: Int { bidirectional ? 2 : 1 }
    /// The size of the hidden state that layers output (`projSize` if set, else `hiddenSize`).
    public var outputHiddenSize: Int { projSize > 0 ? projSize : hiddenSize }

    init(kind: CellKind, inputSize: Int, hiddenSize: Int, numLayers: Int, bias: Bool, batchFirst: Bool,
         dropout: Float, bidirectional: Bool, projSize: Int, seed: UInt64?,
         resetAfter: Bool = true, peepholes: Bool = false, regularizers: RecurrentRegularizers = .none) throws {
        guard inputSize > 0, hiddenSize > 0 else {
            throw TensorError.invalidArgument("expected inputSize and hiddenSize > 0, got \(inputSize) and \(hiddenSize)")
        }
        guard numLayers >= 1 else { throw TensorError.invalidArgument("expected numLayers >= 1, got \(numLayers)") }
        guard dropout >= 0 && dropout <= 1 else {
            throw TensorError.invalidArgument("expected dropout in [0, 1], got \(dropout)")
        }
        guard projSize >= 0, projSize < hiddenSize || projSize == 0 else {
            throw TensorError.invalidArgument("expected projSize in 0..<hiddenSize (\(hiddenSize)), got \(projSize)")
        }
        guard projSize == 0 || kind == .lstm else {
            throw TensorError.invalidArgument("projSize is only supported by LSTM")
        }
        try regularizers.validate(kind: kind, typeName: Self.typeName(kind))
        guard projSize == 0 || (!peepholes && regularizers.recurrentDropout == 0 && regularizers.zoneoutHidden == 0
                                && regularizers.zoneoutCell == 0) else {
            throw TensorError.invalidArgument("LSTM: peepholes, recurrentDropout and zoneout are not supported with projSize; weightDrop is")
        }
        let outputSize = projSize > 0 ? projSize : hiddenSize
        // Every parameter of every layer and direction, counted with overflow checks and
        // bounded by the machine's memory before the first one is allocated.
        let directions = bidirectional ? 2 : 1, gates = kind.gateCount
        try MemoryLimit.check(floats: [
            [directions, gates, hiddenSize, inputSize],                                  // weight_ih_l0
            [directions, numLayers - 1, gates, hiddenSize, outputSize, directions],      // weight_ih_l1…
            [directions, numLayers, gates, hiddenSize, outputSize],                      // weight_hh
            [directions, numLayers, bias ? 2 : 0, gates, hiddenSize],                    // biases
            [directions, numLayers, projSize, hiddenSize],                               // weight_hr
            [directions, numLayers, peepholes ? 3 : 0, hiddenSize],                      // weight_p
        ], for: "\(Self.typeName(kind))(inputSize: \(inputSize), hiddenSize: \(hiddenSize), numLayers: \(numLayers)\(bidirectional ? ", bidirectional" : "")\(projSize > 0 ? ", projSize: \(projSize)" : "")) weights")
        // Drawn only once the configuration is valid: a rejected one leaves the default
        // stream where it was.
        var generator = seed.map { SeededGenerator(seed: $0) } ?? RandomState.withGenerator { SeededGenerator(seed: $0.next()) }
        self.kind = kind
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bias = bias
        self.batchFirst = batchFirst
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.projSize = projSize
        self.resetAfter = kind == .gru ? resetAfter : true
        self.peepholes = kind == .lstm && peepholes
        self.regularizers = regularizers
        self.regularizerGenerator = regularizers.seed.map { PThreadMutex(SeededGenerator(seed: $0)) }
        let D = bidirectional ? 2 : 1
        let Hr = projSize > 0 ? projSize : hiddenSize
        let GH = kind.gateCount * hiddenSize
        let bound = 1 / Float(hiddenSize).squareRoot()
        var weights: [[RecurrentWeights]] = []
        var names: [(String, Parameter)] = []
        for layer in 0..<numLayers {
            var directions: [RecurrentWeights] = []
            for direction in 0..<D {
                let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                let layerInput = layer == 0 ? inputSize : Hr * D
                let wih = try Parameter(uniform: [GH, layerInput], bound: bound, using: &generator)
                let whh = try Parameter(uniform: [GH, Hr], bound: bound, using: &generator)
                names += [("weight_ih" + suffix, wih), ("weight_hh" + suffix, whh)]
                var bih: Parameter?, bhh: Parameter?, whr: Parameter?
                if bias {
                    bih = try Parameter(uniform: [GH], bound: bound, using: &generator)
                    bhh = try Parameter(uniform: [GH], bound: bound, using: &generator)
                    names += [("bias_ih" + suffix, bih!), ("bias_hh" + suffix, bhh!)]
                }
                if projSize > 0 {
                    whr = try Parameter(uniform: [Hr, hiddenSize], bound: bound, using: &generator)
                    names.append(("weight_hr" + suffix, whr!))
                }
                directions.append(RecurrentWeights(weightIH: wih, weightHH: whh, biasIH: bih, biasHH: bhh, weightHR: whr))
            }
            weights.append(directions)
        }
        if self.peepholes {
            // Drawn after every other weight, so that the others are those of a plain LSTM of
            // the same seed; each `weight_p` follows its layer's and direction's other weights.
            var withPeepholes: [(String, Parameter)] = []
            for layer in 0..<numLayers {
                for direction in 0..<D {
                    let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                    let p = try Parameter(uniform: [3, hiddenSize], bound: bound, using: &generator)
                    let w = weights[layer][direction]
                    weights[layer][direction] = RecurrentWeights(weightIH: w.weightIH, weightHH: w.weightHH, biasIH: w.biasIH,
                                                                 biasHH: w.biasHH, weightHR: w.weightHR, peepholes: p)
                    let own = names.filter { $0.0.hasSuffix(suffix) }
                    withPeepholes += own + [("weight_p" + suffix, p)]
                }
            }
            names = withPeepholes
        }
        self.weights = weights
        self.names = names
        super.init()
    }

    /// The parameters in PyTorch's order and names: for each layer, for each direction,
    /// `weight_ih_l{k}`, `weight_hh_l{k}`, `bias_ih_l{k}`, `bias_hh_l{k}`, `weight_hr_l{k}`
    /// (with `_reverse` for the reverse direction), then an LSTM's peepholes `weight_p_l{k}`.
    public override var localParameters: [(name: String, parameter: Parameter)] { names }

    /// No sub-modules.
    public override var children: [(name: String, module: Module)] { [] }

    /// `inputSize, hiddenSize` and the settings that differ from PyTorch's defaults, as PyTorch
    /// prints a recurrent layer (`LSTM(16, 32, num_layers=2, batch_first=True)`).
    public override var extraDescription: String {
        var s = "\(inputSize), \(hiddenSize)"
        if projSize != 0 { s += ", proj_size=\(projSize)" }
        if numLayers != 1 { s += ", num_layers=\(numLayers)" }
        if !bias { s += ", bias=False" }
        if batchFirst { s += ", batch_first=True" }
        if dropout != 0 { s += ", dropout=\(dropout)" }
        if bidirectional { s += ", bidirectional=True" }
        if !resetAfter { s += ", reset_after=False" }
        if peepholes { s += ", peepholes=True" }
        return s + regularizers.extraDescription
    }

    /// Runs the layer over `input` — the one call that works for ``RNN``, ``GRU`` and ``LSTM``
    /// alike, through a `RecurrentBase` (`let layer: RecurrentBase = useGRU ? gru : lstm`).
    ///
    /// - Parameters:
    ///   - input: `(L, N, inputSize)`, `(N, L, inputSize)` with `batchFirst`, or `(L, inputSize)`.
    ///   - h0: the initial hidden state, `(D · numLayers, N, H_out)` (without `N` when
    ///     unbatched); zeros when `nil`.
    ///   - c0: the initial cell state of an LSTM, `(D · numLayers, N, hiddenSize)`; zeros when
    ///     `nil`. Must be `nil` for an RNN or a GRU.
    ///   - lengths: each sequence's length, in any order; see ``RNN/callAsFunction(_:_:lengths:)``.
    /// - Returns: the output of the last layer at every step, the final hidden state of every
    ///   layer and direction, and for an LSTM the final cell state (`nil` otherwise).
    /// - Throws: ``TensorError`` when a shape or a length does not fit, or `c0` is given to a
    ///   layer without a cell state.
    public func forward(_ input: Tensor, h0: Tensor? = nil, c0: Tensor? = nil, lengths: [Int]? = nil) throws
        -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        guard c0 == nil || kind == .lstm else {
            throw TensorError.invalidArgument("\(typeName): c0 is the cell state of an LSTM; an RNN or a GRU has none")
        }
        return try forwardLayers(input, h0: h0, c0: c0, lengths: lengths)
    }

    /// Re-initialises every recurrent weight `W_hh` with orthogonal blocks (one per gate,
    /// `nn.init.orthogonal_` on each `hiddenSize × H_out` block) and leaves the other
    /// parameters as they are. Orthogonal recurrent weights preserve the norm of the state
    /// over many steps, which helps against vanishing and exploding gradients.
    ///
    /// - Throws: a `LAPACKError` if the QR factorisation fails (in practice never).
    public func initializeRecurrentWeightsOrthogonally(gain: Float = 1, seed: UInt64? = nil) throws {
        var generator = seed.map { SeededGenerator(seed: $0) } ?? RandomState.withGenerator { g in
            SeededGenerator(seed: g.next())
        }
        for layer in weights {
            for w in layer {
                let Hr = w.weightHH.shape[1]
                for gate in 0..<kind.gateCount {
                    let block = try Matrix<Float>.orthogonal(rows: hiddenSize, columns: Hr, gain: gain, using: &generator)
                    w.weightHH.withUnsafeMutableBufferPointer { p in
                        for i in 0..<(hiddenSize * Hr) { p[gate * hiddenSize * Hr + i] = block.scalars[i] }
                    }
                }
            }
        }
    }

    /// The final state of one layer and direction, taken out of a final-state tensor
    /// `(D · numLayers, N, H)` (or unbatched `(D · numLayers, H)`) without index arithmetic.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `layer` is out of range or the
    ///   direction does not exist; ``TensorError/shapeMismatch(_:)`` when `state` is not a
    ///   final state of this module.
    public func finalState(_ state: Tensor, layer: Int = -1, direction: Direction = .forward) throws -> Tensor {
        let l = layer < 0 ? layer + numLayers : layer
        guard l >= 0 && l < numLayers else {
            throw TensorError.invalidArgument("finalState: layer \(layer) is outside 0..<\(numLayers)")
        }
        guard direction == .forward || bidirectional else {
            throw TensorError.invalidArgument("finalState: the reverse direction exists only in a bidirectional module")
        }
        guard state.rank >= 2, state.shape[0] == numLayers * numDirections else {
            throw TensorError.shapeMismatch("finalState: expected a state of shape (\(numLayers * numDirections), …), got \(state.shape)")
        }
        return try state.select(dim: 0, index: l * numDirections + direction.rawValue)
    }

    var typeName: String { Self.typeName(kind) }

    /// The multiply-adds of one step's recurrent product over `batch` items in the layer
    /// with the most (`batch · G·H · H_out`), which decides whether splitting pays.
    func stepMultiplyAdds(batch: Int) -> Int {
        let perItem = weights.flatMap { $0 }.map { $0.weightHH.shape[0] * $0.weightHH.shape[1] }.max() ?? 0
        let (work, overflow) = batch.multipliedReportingOverflow(by: perItem)
        return overflow ? Int.max : work
    }

    static func typeName(_ kind: CellKind) -> String {
        switch kind {
        case .rnnTanh, .rnnReLU: return "RNN"
        case .lstm: return "LSTM"
        case .gru: return "GRU"
        }
    }

    /// Runs every layer and direction. States are already checked. `splitting` (the module's
    /// own call) lets an inference split the batch between workers (``BatchSplitRecurrence``)
    /// or run stacked layers as a wavefront; each part of a split runs with it off.
    func forwardLayers(_ input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?, splitting: Bool = true) throws
        -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        let (layout, unbatched) = try RecurrentStack.checkedLayout(input, inputSize: inputSize, batchFirst: batchFirst, typeName: typeName)
        let states = numLayers * numDirections
        try RecurrentStack.checkState(h0, name: "h0", count: states, size: outputHiddenSize, layout: layout, unbatched: unbatched, typeName: typeName)
        if kind == .lstm {
            try RecurrentStack.checkState(c0, name: "c0", count: states, size: hiddenSize, layout: layout, unbatched: unbatched, typeName: typeName)
        }
        try RecurrentStack.checkLengths(lengths, layout: layout, typeName: typeName)
        // Inference over many items: each worker runs the whole stack over its items.
        // (Not where the call draws random numbers: dropout between layers, the regularisers'
        // masks in training; their draws follow the item order.)
        if splitting, !unbatched, projSize == 0, !(isTraining && (dropout > 0 || regularizers.isActive)),
           !Tensor.needsRecording([input] + [h0, c0].compactMap { $0 } + weights.flatMap { $0.flatMap(\.tensors) }),
           let parts = BatchSplitRecurrence.parts(layout: layout, stepMultiplyAdds: stepMultiplyAdds(batch: layout.batch),
                                                  weightBytes: 4 * stepMultiplyAdds(batch: 1)) {
            return try BatchSplitRecurrence.run(parts: parts, layout: layout, input: input, h0: h0, c0: c0, lengths: lengths) {
                try forwardLayers($0, h0: $1, c0: $2, lengths: $3, splitting: false)
            }
        }
        // Stacked unidirectional layers of PyTorch's cells may run ahead of this loop as a
        // wavefront (WavefrontRecurrence): a group's results are then handed out layer by layer.
        let mayRunAhead = splitting && numDirections == 1 && !runsVariantPath && !(isTraining && regularizers.weightDrop > 0)
        var ahead: [RecurrentStack.DirectionResult] = []
        return try RecurrentStack.run(input, layout: layout, unbatched: unbatched, numLayers: numLayers, directions: numDirections,
                                      stateSize: outputHiddenSize, cellSize: kind == .lstm ? hiddenSize : nil, h0: h0, c0: c0,
                                      dropout: dropout, isTraining: isTraining) { layer, x, h0s, c0s in
            if mayRunAhead, ahead.isEmpty, let group = WavefrontRecurrence.groupSize(
                kind: kind, layout: layout, weights: weights[layer...], dropoutBetweenLayers: isTraining && dropout > 0) {
                let layers = layer..<(layer + group)
                let count = numLayers * numDirections
                let h0b = try h0.map { unbatched ? try $0.reshaped([count, 1, outputHiddenSize]) : $0 }
                let c0b = try c0.map { unbatched ? try $0.reshaped([count, 1, hiddenSize]) : $0 }
                let states = try layers.map {
                    try RecurrentStack.initialStates(h0b, c0b, index: $0, batch: layout.batch, stateSize: outputHiddenSize,
                                                     cellSize: kind == .lstm ? hiddenSize : nil)
                }
                ahead = WavefrontRecurrence.run(kind: kind, input: x, layout: layout, h0: states.map(\.h), c0: states.map(\.c),
                                                weights: layers.map { weights[$0][0] }, lengths: lengths)
            }
            if !ahead.isEmpty { return [ahead.removeFirst()] }
            return runLayer(layer, input: x, layout: layout, h0: h0s, c0: c0s, lengths: lengths)
        }
    }
}

/// A multi-layer Elman RNN (`torch.nn.RNN`): `h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)`
/// (or ReLU), layer after layer. See ``RecurrentBase`` for shapes and parameter names.
///
/// ```swift
/// let rnn = try RNN(inputSize: 10, hiddenSize: 20, numLayers: 2, batchFirst: true)
/// let (output, hN) = try rnn(x)          // x: (5, 7, 10) → output (5, 7, 20), hN (2, 5, 20)
/// ```
public final class RNN: RecurrentBase, @unchecked Sendable {
    /// The nonlinearity of an Elman RNN.
    public enum Nonlinearity: String, Sendable { case tanh, relu }

    /// A multi-layer RNN with weights from U(−1/√hiddenSize, 1/√hiddenSize), drawn from the
    /// default random stream (``RandomState``) or from `seed`.
    ///
    /// `regularizers` (recurrent dropout, zoneout of `h`, weight drop) act in training mode;
    /// see ``RecurrentRegularizers``.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1, a dropout outside [0, 1],
    ///   or a regulariser's probability outside [0, 1) (or `zoneoutCell`, which needs an LSTM).
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, nonlinearity: Nonlinearity = .tanh,
                bias: Bool = true, batchFirst: Bool = false, dropout: Float = 0, bidirectional: Bool = false,
                regularizers: RecurrentRegularizers = .none, seed: UInt64? = nil) throws {
        try super.init(kind: nonlinearity == .tanh ? .rnnTanh : .rnnReLU, inputSize: inputSize, hiddenSize: hiddenSize,
                       numLayers: numLayers, bias: bias, batchFirst: batchFirst, dropout: dropout,
                       bidirectional: bidirectional, projSize: 0, seed: seed, regularizers: regularizers)
    }

    /// Runs the RNN over `input`, from `h0` (zeros when `nil`).
    ///
    /// - Parameters:
    ///   - input: `(L, N, inputSize)`, `(N, L, inputSize)` with `batchFirst`, or `(L, inputSize)`.
    ///   - h0: `(D · numLayers, N, hiddenSize)`, or `(D · numLayers, hiddenSize)` unbatched.
    ///   - lengths: each sequence's length, in any order (no sorting or packing needed);
    ///     outputs past a length are zero and `hN` holds each sequence's state at its own
    ///     last step.
    /// - Returns: the output of the last layer at every step, and the final state of every
    ///   layer and direction.
    /// - Throws: ``TensorError`` when a shape or a length does not fit.
    public func callAsFunction(_ input: Tensor, _ h0: Tensor? = nil, lengths: [Int]? = nil) throws -> (output: Tensor, hN: Tensor) {
        let (output, hN, _) = try forwardLayers(input, h0: h0, c0: nil, lengths: lengths)
        return (output, hN)
    }
}

/// A multi-layer gated recurrent unit (`torch.nn.GRU`), gates r, z, n in PyTorch's order with
/// `n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))` and `h' = (1 − z) ⊙ n + z ⊙ h`; with
/// `resetAfter: false`, `n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)` (ONNX
/// `linear_before_reset=0`, Keras `reset_after=False`; see <doc:CellsBeyondPyTorch>).
/// See ``RecurrentBase`` for shapes and parameter names.
public final class GRU: RecurrentBase, @unchecked Sendable {
    /// A multi-layer GRU with weights from U(−1/√hiddenSize, 1/√hiddenSize).
    ///
    /// `resetAfter` chooses where the reset gate acts (``RecurrentBase/resetAfter``; the
    /// parameters and their names are the same either way); `regularizers` act in training
    /// mode (``RecurrentRegularizers``).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1, a dropout outside [0, 1],
    ///   or a regulariser's probability outside [0, 1) (or `zoneoutCell`, which needs an LSTM).
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Float = 0, bidirectional: Bool = false, resetAfter: Bool = true,
                regularizers: RecurrentRegularizers = .none, seed: UInt64? = nil) throws {
        try super.init(kind: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                       batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, projSize: 0,
                       seed: seed, resetAfter: resetAfter, regularizers: regularizers)
    }

    /// Runs the GRU over `input` from `h0` (zeros when `nil`); see ``RNN/callAsFunction(_:_:lengths:)``.
    /// - Throws: ``TensorError`` when a shape or a length does not fit.
    public func callAsFunction(_ input: Tensor, _ h0: Tensor? = nil, lengths: [Int]? = nil) throws -> (output: Tensor, hN: Tensor) {
        let (output, hN, _) = try forwardLayers(input, h0: h0, c0: nil, lengths: lengths)
        return (output, hN)
    }
}

/// A multi-layer long short-term memory (`torch.nn.LSTM`), gates i, f, g, o in PyTorch's
/// order, with an optional projection of the hidden state (`projSize`, `weight_hr_l{k}`) and
/// optional peepholes (`peepholes: true`, `weight_p_l{k}` `(3, hiddenSize)`, rows p_i, p_f,
/// p_o: `i = σ(… + p_i ⊙ c_{t−1})`, `f` likewise, `o = σ(… + p_o ⊙ c_t)`; see
/// <doc:CellsBeyondPyTorch>). See ``RecurrentBase`` for shapes and parameter names.
///
/// ```swift
/// let lstm = try LSTM(inputSize: 10, hiddenSize: 20, projSize: 5)
/// let (out, state) = try lstm(x, LSTMState(h: h0, c: c0))   // state.h, state.c
/// ```
public final class LSTM: RecurrentBase, @unchecked Sendable {
    /// A multi-layer LSTM with weights from U(−1/√hiddenSize, 1/√hiddenSize) (the peepholes,
    /// when asked for, too: drawn after all other weights, which are therefore those of a plain
    /// LSTM of the same seed). `regularizers` act in training mode (``RecurrentRegularizers``).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1, a dropout outside
    ///   [0, 1], `projSize >= hiddenSize`, a regulariser's probability outside [0, 1), or
    ///   `projSize` with peepholes, recurrent dropout or zoneout.
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Float = 0, bidirectional: Bool = false, projSize: Int = 0, peepholes: Bool = false,
                regularizers: RecurrentRegularizers = .none, seed: UInt64? = nil) throws {
        try super.init(kind: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                       batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, projSize: projSize,
                       seed: seed, peepholes: peepholes, regularizers: regularizers)
    }

    /// Runs the LSTM over `input` from the state `(h, c)` (zeros when `nil`); the state is an
    /// ``LSTMState``, the same type the cells and the ``RecurrentCell`` protocol use.
    ///
    /// - Parameters:
    ///   - input: `(L, N, inputSize)`, `(N, L, inputSize)` with `batchFirst`, or `(L, inputSize)`.
    ///   - state: `h` `(D · numLayers, N, H_out)` and `c` `(D · numLayers, N, hiddenSize)`
    ///     (without `N` when unbatched).
    ///   - lengths: each sequence's length, in any order; see ``RNN/callAsFunction(_:_:lengths:)``.
    /// - Returns: the output at every step and the final `(h, c)` of every layer and direction.
    /// - Throws: ``TensorError`` when a shape or a length does not fit.
    public func callAsFunction(_ input: Tensor, _ state: LSTMState? = nil, lengths: [Int]? = nil) throws
        -> (output: Tensor, state: LSTMState) {
        let (output, hN, cN) = try forwardLayers(input, h0: state?.h, c0: state?.c, lengths: lengths)
        guard let cN else { fatalError("LSTM: the fused recurrence returned no cell state") }
        return (output, LSTMState(h: hN, c: cN))
    }
}
