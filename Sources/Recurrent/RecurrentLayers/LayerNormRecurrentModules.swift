import LinearAlgebra

/// The shared machinery of ``LayerNormLSTM`` and ``LayerNormGRU``: configuration, parameters
/// named like `nn.LSTM`'s, input checking, and the stack of fused layer-normalised layers
/// (`LayerNormRecurrence`, one autograd node per layer: a bidirectional layer's two
/// directions are one node, ``BidirectionalNode``).
///
/// Shapes (`D` = 2 if bidirectional else 1): input `(L, N, inputSize)`, `(N, L, inputSize)`
/// with `batchFirst`, or unbatched `(L, inputSize)`; initial states `(D · numLayers, N,
/// hiddenSize)` (`(D · numLayers, hiddenSize)` unbatched); output `(L, N, D · hiddenSize)` (or
/// batch first); final states like the initial ones, `h_n[layer · D + direction]`.
///
/// State-dict keys, per layer `k` (and `_reverse` for the reverse direction), in this order:
/// `weight_ih_l{k}` `(G·hiddenSize, inputs)`, `weight_hh_l{k}` `(G·hiddenSize, hiddenSize)`
/// for every layer and direction, then the layer norms `layernorm_i_l{k}.weight`/`.bias`
/// `(G·hiddenSize)`, `layernorm_h_l{k}.*` `(G·hiddenSize)` and, for the LSTM,
/// `layernorm_c_l{k}.*` `(hiddenSize)` — the names of `Scripts/layernorm_cells_reference.py`'s
/// PyTorch modules, whose `state_dict()` loads as it is. `G` is 4 (i, f, g, o) or 3 (r, z, n).
///
/// In training mode the ``regularizers`` act as they do on ``LSTM`` and ``GRU`` (recurrent
/// dropout, zoneout, weight drop; ``RecurrentRegularizers``), inside the fused recurrence.
public class LayerNormRecurrentBase: Module, @unchecked Sendable {
    /// The cell every layer runs (`.lstm` or `.gru`).
    public let kind: CellKind
    /// The number of features of each input element.
    public let inputSize: Int
    /// The number of features of the hidden (and, for the LSTM, cell) state.
    public let hiddenSize: Int
    /// The number of stacked layers.
    public let numLayers: Int
    /// Whether the layer norms have their shift (`bias`), which takes the role of the usual
    /// gate biases.
    public let bias: Bool
    /// Whether inputs and outputs are `(N, L, features)` instead of `(L, N, features)`.
    public let batchFirst: Bool
    /// The dropout probability applied to the outputs of every layer but the last, in
    /// training mode.
    public let dropout: Float
    /// Whether each layer also reads the sequence in reverse.
    public let bidirectional: Bool
    /// The layer norms' `eps` (added to the variance).
    public let eps: Float
    /// The regularisers active in training mode (see ``RecurrentRegularizers``): recurrent
    /// dropout, zoneout of `h` (and the LSTM's `c`), weight drop on `W_hh`.
    public let regularizers: RecurrentRegularizers
    /// The module's own mask stream, when ``regularizers`` has a seed.
    let regularizerGenerator: PThreadMutex<SeededGenerator>?

    let weights: [[LayerNormRecurrentWeights]]
    let weightNames: [(String, Parameter)]
    let normNames: [(String, Module)]

    /// `2` for bidirectional layers, else `1`.
    public var numDirections: Int { bidirectional ? 2 : 1 }

    init(kind: CellKind, inputSize: Int, hiddenSize: Int, numLayers: Int, bias: Bool, batchFirst: Bool,
         dropout: Float, bidirectional: Bool, eps: Float, regularizers: RecurrentRegularizers, seed: UInt64?) throws {
        let name = kind == .lstm ? "LayerNormLSTM" : "LayerNormGRU"
        guard inputSize > 0, hiddenSize > 0 else {
            throw TensorError.invalidArgument("\(name): expected inputSize and hiddenSize > 0, got \(inputSize) and \(hiddenSize)")
        }
        guard numLayers >= 1 else { throw TensorError.invalidArgument("\(name): expected numLayers >= 1, got \(numLayers)") }
        guard dropout >= 0 && dropout <= 1 else {
            throw TensorError.invalidArgument("\(name): expected dropout in [0, 1], got \(dropout)")
        }
        guard eps >= 0, eps.isFinite else { throw TensorError.invalidArgument("\(name): expected a finite, non-negative eps, got \(eps)") }
        try regularizers.validate(kind: kind, typeName: name)
        let D = bidirectional ? 2 : 1, G = kind.gateCount
        try MemoryLimit.check(floats: [
            [D, G, hiddenSize, inputSize], [D, numLayers - 1, G, hiddenSize, hiddenSize, D],
            [D, numLayers, G, hiddenSize, hiddenSize], [D, numLayers, 6, G, hiddenSize],
        ], for: "\(name)(inputSize: \(inputSize), hiddenSize: \(hiddenSize), numLayers: \(numLayers)) weights")
        var generator = seed.map { SeededGenerator(seed: $0) } ?? RandomState.withGenerator { SeededGenerator(seed: $0.next()) }
        self.kind = kind
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
        self.bias = bias
        self.batchFirst = batchFirst
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.eps = eps
        self.regularizers = regularizers
        self.regularizerGenerator = regularizers.seed.map { PThreadMutex(SeededGenerator(seed: $0)) }
        let GH = G * hiddenSize, bound = 1 / Float(hiddenSize).squareRoot()
        var weights: [[LayerNormRecurrentWeights]] = []
        var weightNames: [(String, Parameter)] = [], normNames: [(String, Module)] = []
        for layer in 0..<numLayers {
            var directions: [LayerNormRecurrentWeights] = []
            for direction in 0..<D {
                let suffix = "_l\(layer)" + (direction == 1 ? "_reverse" : "")
                let wih = try Parameter(uniform: [GH, layer == 0 ? inputSize : hiddenSize * D], bound: bound, using: &generator)
                let whh = try Parameter(uniform: [GH, hiddenSize], bound: bound, using: &generator)
                let normI = try LayerNorm(normalizedShape: [GH], eps: eps, bias: bias)
                let normH = try LayerNorm(normalizedShape: [GH], eps: eps, bias: bias)
                let normC = kind == .lstm ? try LayerNorm(normalizedShape: [hiddenSize], eps: eps, bias: bias) : nil
                weightNames += [("weight_ih" + suffix, wih), ("weight_hh" + suffix, whh)]
                normNames += [("layernorm_i" + suffix, normI), ("layernorm_h" + suffix, normH)]
                if let normC { normNames.append(("layernorm_c" + suffix, normC)) }
                directions.append(LayerNormRecurrentWeights(weightIH: wih, weightHH: whh, normI: normI, normH: normH, normC: normC))
            }
            weights.append(directions)
        }
        self.weights = weights
        self.weightNames = weightNames
        self.normNames = normNames
        super.init()
    }

    /// `weight_ih_l{k}` and `weight_hh_l{k}` (with `_reverse`), layer by layer.
    public override var localParameters: [(name: String, parameter: Parameter)] { weightNames }

    /// The layer norms, ``LayerNorm`` modules named `layernorm_i_l{k}`, `layernorm_h_l{k}`
    /// and (LSTM) `layernorm_c_l{k}` (with `_reverse`).
    public override var children: [(name: String, module: Module)] { normNames }

    /// `inputSize, hiddenSize` and the settings that differ from the defaults.
    public override var extraDescription: String {
        var s = "\(inputSize), \(hiddenSize)"
        if numLayers != 1 { s += ", num_layers=\(numLayers)" }
        if !bias { s += ", bias=False" }
        if batchFirst { s += ", batch_first=True" }
        if dropout != 0 { s += ", dropout=\(dropout)" }
        if bidirectional { s += ", bidirectional=True" }
        return s + regularizers.extraDescription
    }

    var typeName: String { kind == .lstm ? "LayerNormLSTM" : "LayerNormGRU" }

    /// Checks everything, then runs every layer and direction.
    func forwardLayers(_ input: Tensor, h0: Tensor?, c0: Tensor?, lengths: [Int]?) throws -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        let (layout, unbatched) = try RecurrentStack.checkedLayout(input, inputSize: inputSize, batchFirst: batchFirst, typeName: typeName)
        let D = numDirections, H = hiddenSize
        try RecurrentStack.checkState(h0, name: "h0", count: numLayers * D, size: H, layout: layout, unbatched: unbatched, typeName: typeName)
        try RecurrentStack.checkState(c0, name: "c0", count: numLayers * D, size: H, layout: layout, unbatched: unbatched, typeName: typeName)
        try RecurrentStack.checkLengths(lengths, layout: layout, typeName: typeName)
        return try RecurrentStack.run(input, layout: layout, unbatched: unbatched, numLayers: numLayers, directions: D,
                                      stateSize: H, cellSize: kind == .lstm ? H : nil, h0: h0, c0: c0,
                                      dropout: dropout, isTraining: isTraining) { layer, x, h0s, c0s in
            runLayer(layer, input: x, layout: layout, h0: h0s, c0: c0s, lengths: lengths)
        }
    }

    /// Runs the directions of layer `layer` with this call's regularisers, drawn as ``RNN``,
    /// ``GRU`` and ``LSTM`` draw theirs: in training, first every direction's weight-drop
    /// mask (``RecurrentRegularizers/recurrentWeight(_:training:stream:)``), then every
    /// direction's state masks in order (recurrent dropout `(N, H)`, zoneout of `h`, zoneout
    /// of `c`, each `(L·N, H)`); in evaluation, no draw and zoneout's expectation. The masks of
    /// both directions are drawn before either runs, so running them together or one after the
    /// other draws the same.
    func runLayer(_ layer: Int, input: Tensor, layout: SequenceLayout, h0: [Tensor], c0: [Tensor?],
                  lengths: [Int]?) -> [(output: Tensor, hN: Tensor, cN: Tensor?)] {
        let training = isTraining
        guard regularizers.isActive else {
            return LayerNormRecurrence.runDirections(kind: kind, input: input, layout: layout, h0: h0, c0: c0,
                                                     weights: weights[layer], lengths: lengths)
        }
        let layerWeights = weights[layer].map { w in
            w.replacingWeightHH(regularizers.recurrentWeight(w.weightHH, training: training, stream: regularizerGenerator))
        }
        let variants = layerWeights.map { _ in
            RecurrentRegularizers.withGenerator(regularizerGenerator) { generator in
                regularizers.variant(base: CellVariant(), kind: kind, layout: layout, hidden: hiddenSize, training: training,
                                     using: &generator)
            }
        }
        return LayerNormRecurrence.runDirections(kind: kind, input: input, layout: layout, h0: h0, c0: c0,
                                                 weights: layerWeights, variants: variants, lengths: lengths)
    }
}

/// A multi-layer layer-normalised LSTM (Ba, Kiros and Hinton 2016), as PyTorch's reference
/// `LayerNormLSTMCell` (`benchmarks/fastrnns/custom_lstms.py`) run over a sequence, fused:
///
/// ```
/// gates = LN_i(x·W_ihᵀ) + LN_h(h·W_hhᵀ)      i, f, g, o = gates.chunk(4)
/// c' = LN_c(σ(f)⊙c + σ(i)⊙tanh(g))            h' = σ(o)⊙tanh(c')
/// ```
///
/// No separate biases: the layer norms' shifts take their role. See
/// ``LayerNormRecurrentBase`` for shapes and state-dict keys, and the article
/// <doc:LayerNormCells>.
///
/// ```swift
/// let lstm = try LayerNormLSTM(inputSize: 64, hiddenSize: 128, numLayers: 2, batchFirst: true)
/// let (output, state) = try lstm(x, lengths: lengths)     // x: (N, L, 64)
/// ```
public final class LayerNormLSTM: LayerNormRecurrentBase, @unchecked Sendable {
    /// A multi-layer layer-normalised LSTM: `W_ih`, `W_hh` from U(−1/√hiddenSize,
    /// 1/√hiddenSize) (as `nn.LSTM`; the default random stream or `seed`), layer norms with
    /// weight 1 and shift 0 (as `nn.LayerNorm`).
    ///
    /// - Parameters:
    ///   - inputSize: the features of each input element (`I`).
    ///   - hiddenSize: the features of the hidden and cell states (`H`).
    ///   - numLayers: the number of stacked layers.
    ///   - bias: whether the layer norms have their shift (the gates' biases).
    ///   - batchFirst: whether inputs and outputs are `(N, L, features)` instead of `(L, N, features)`.
    ///   - dropout: the dropout probability between layers, in training mode.
    ///   - bidirectional: whether each layer also reads the sequence in reverse.
    ///   - eps: the layer norms' `eps` (`nn.LayerNorm`'s default `1e-5`).
    ///   - regularizers: recurrent dropout, zoneout of `h` and `c`, weight drop on `W_hh`, in
    ///     training mode (``RecurrentRegularizers``, as for ``LSTM``).
    ///   - seed: the seed of the weights' random draws; `nil`: the default stream (``RandomState``).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1, a dropout outside
    ///   [0, 1], an `eps` that is negative or not finite, or a regulariser's probability
    ///   outside [0, 1).
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Float = 0, bidirectional: Bool = false, eps: Float = 1e-5,
                regularizers: RecurrentRegularizers = .none, seed: UInt64? = nil) throws {
        try super.init(kind: .lstm, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                       batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, eps: eps,
                       regularizers: regularizers, seed: seed)
    }

    /// Runs the LSTM over `input` from the state `(h, c)` (zeros when `nil`).
    ///
    /// - Parameters:
    ///   - input: `(L, N, inputSize)`, `(N, L, inputSize)` with `batchFirst`, or `(L, inputSize)`.
    ///   - state: `h` and `c`, each `(D · numLayers, N, hiddenSize)` (without `N` unbatched).
    ///   - lengths: each sequence's length, in any order: outputs past it are zero, the final
    ///     state is the one at the sequence's own last step, and the reverse direction starts
    ///     there (packed-sequence semantics, as ``LSTM``).
    /// - Returns: the last layer's output at every step `(L, N, D · hiddenSize)` and the final
    ///   `(h, c)` of every layer and direction.
    /// - Throws: ``TensorError`` when a shape or a length does not fit.
    public func callAsFunction(_ input: Tensor, _ state: LSTMState? = nil, lengths: [Int]? = nil) throws
        -> (output: Tensor, state: LSTMState) {
        let (output, hN, cN) = try forwardLayers(input, h0: state?.h, c0: state?.c, lengths: lengths)
        guard let cN else { fatalError("LayerNormLSTM: the fused recurrence returned no cell state") }
        return (output, LSTMState(h: hN, c: cN))
    }
}

/// A multi-layer layer-normalised GRU, the analogue of ``LayerNormLSTM`` (gates r, z, n in
/// PyTorch's order):
///
/// ```
/// x = LN_i(x·W_ihᵀ), y = LN_h(h·W_hhᵀ)        (each over 3·hiddenSize)
/// r = σ(x_r + y_r), z = σ(x_z + y_z), n = tanh(x_n + r⊙y_n)
/// h' = (1 − z)⊙n + z⊙h
/// ```
///
/// `nn.GRU`'s equations with its biases replaced by the layer norms' shifts (`y_n`, which `r`
/// gates, includes the recurrent shift as `b_hn` is inside `r ⊙ (·)` in `nn.GRU`). The state
/// is not normalised: `h'` is a convex combination of `n` and `h`, already bounded. See
/// ``LayerNormRecurrentBase`` for shapes and state-dict keys, and <doc:LayerNormCells>.
public final class LayerNormGRU: LayerNormRecurrentBase, @unchecked Sendable {
    /// A multi-layer layer-normalised GRU, initialised as ``LayerNormLSTM``; `regularizers`
    /// (recurrent dropout, zoneout of `h`, weight drop) act in training mode
    /// (``RecurrentRegularizers``, as for ``GRU``).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for sizes below 1, a dropout outside
    ///   [0, 1], an `eps` that is negative or not finite, or a regulariser's probability
    ///   outside [0, 1) (or `zoneoutCell`, which needs an LSTM).
    public init(inputSize: Int, hiddenSize: Int, numLayers: Int = 1, bias: Bool = true, batchFirst: Bool = false,
                dropout: Float = 0, bidirectional: Bool = false, eps: Float = 1e-5,
                regularizers: RecurrentRegularizers = .none, seed: UInt64? = nil) throws {
        try super.init(kind: .gru, inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, bias: bias,
                       batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional, eps: eps,
                       regularizers: regularizers, seed: seed)
    }

    /// Runs the GRU over `input` from `h0` (`(D · numLayers, N, hiddenSize)`, zeros when
    /// `nil`); see ``LayerNormLSTM/callAsFunction(_:_:lengths:)`` for shapes and `lengths`.
    /// - Returns: the last layer's output at every step and the final state of every layer
    ///   and direction.
    /// - Throws: ``TensorError`` when a shape or a length does not fit.
    public func callAsFunction(_ input: Tensor, _ h0: Tensor? = nil, lengths: [Int]? = nil) throws -> (output: Tensor, hN: Tensor) {
        let (output, hN, _) = try forwardLayers(input, h0: h0, c0: nil, lengths: lengths)
        return (output, hN)
    }
}
