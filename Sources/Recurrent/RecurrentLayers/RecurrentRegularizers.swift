import LinearAlgebra

/// The regularisers of a recurrent layer's state and recurrent weights, active in training
/// mode (``Module/isTraining``); an option of ``RNN``, ``GRU``, ``LSTM``, ``LayerNormLSTM``
/// and ``LayerNormGRU``.
///
/// - `recurrentDropout` (Gal and Ghahramani 2016, Keras `recurrent_dropout`): one dropout
///   mask per sequence, layer and direction, `(N, hiddenSize)` with values 0 or `1 / (1 − p)`,
///   multiplies the state `h` before the recurrent product `W_hh h` at every step (the GRU's
///   `z ⊙ h` term reads `h` unmasked). Off in evaluation mode.
/// - `zoneoutHidden` and `zoneoutCell` (Krueger et al. 2016): at every step each unit keeps its
///   previous value with probability `p`: `h_t = m ⊙ h_{t−1} + (1 − m) ⊙ h̃_t`, a fresh 0/1
///   mask `m` per step in training; in evaluation the expectation
///   `h_t = p · h_{t−1} + (1 − p) · h̃_t`. `zoneoutCell` applies to an LSTM's `c` alike
///   (`h̃_t = o ⊙ tanh(c̃_t)` reads the cell state before zoneout). The layer's output at step
///   `t` is the zoned-out `h_t`.
/// - `weightDrop` (Merity et al. 2017, AWD-LSTM): DropConnect on `W_hh`, one dropout mask
///   (values 0 or `1 / (1 − p)`) per forward call and layer and direction; the gradient flows
///   through the mask to the raw weight. Off in evaluation mode.
///
/// ``LayerNormLSTM`` and ``LayerNormGRU`` take the same regularisers with the same meaning
/// (the state mask multiplies `h` before `W_hh`, whose product the recurrent layer norm then
/// normalises; zoneout mixes the previous `h` and `c` into the cell's new ones).
///
/// The masks are drawn from ``RandomState`` or, with `seed`, from a stream of the module's
/// own started at `seed` (so that a run repeats whatever else draws random numbers); each
/// forward call in training advances the stream. All probabilities in `[0, 1)`; 0 is off.
public struct RecurrentRegularizers: Sendable, Equatable {
    /// The probability of dropping a unit of `h` before the recurrent product.
    public var recurrentDropout: Float
    /// The probability that a unit of `h` keeps its previous value at a step.
    public var zoneoutHidden: Float
    /// The probability that a unit of an LSTM's `c` keeps its previous value at a step.
    public var zoneoutCell: Float
    /// The probability of dropping an element of `W_hh` (DropConnect).
    public var weightDrop: Float
    /// The seed of the module's own mask stream; `nil`: the default stream (``RandomState``).
    public var seed: UInt64?

    /// Regularisers with the given probabilities (all off by default).
    public init(recurrentDropout: Float = 0, zoneoutHidden: Float = 0, zoneoutCell: Float = 0, weightDrop: Float = 0,
                seed: UInt64? = nil) {
        self.recurrentDropout = recurrentDropout
        self.zoneoutHidden = zoneoutHidden
        self.zoneoutCell = zoneoutCell
        self.weightDrop = weightDrop
        self.seed = seed
    }

    /// No regulariser.
    public static let none = RecurrentRegularizers()

    /// Whether any probability is above 0.
    public var isActive: Bool { recurrentDropout > 0 || zoneoutHidden > 0 || zoneoutCell > 0 || weightDrop > 0 }

    /// Throws unless every probability is in `[0, 1)` and `zoneoutCell` is only set for an LSTM.
    func validate(kind: CellKind, typeName: String) throws {
        for (name, value) in [("recurrentDropout", recurrentDropout), ("zoneoutHidden", zoneoutHidden),
                              ("zoneoutCell", zoneoutCell), ("weightDrop", weightDrop)] {
            guard value >= 0 && value < 1 else {
                throw TensorError.invalidArgument("\(typeName): expected \(name) in [0, 1), got \(value)")
            }
        }
        guard zoneoutCell == 0 || kind == .lstm else {
            throw TensorError.invalidArgument("\(typeName): zoneoutCell applies to an LSTM's cell state; an RNN or a GRU has none")
        }
    }
}

extension RecurrentRegularizers {
    /// Runs `body` with a module's mask stream: `own` (the stream of ``seed``) if any, else
    /// ``RandomState``.
    static func withGenerator<R>(_ own: PThreadMutex<SeededGenerator>?, _ body: (inout SeededGenerator) throws -> R) rethrows -> R {
        if let own { return try own.withLock { try body(&$0) } }
        return try RandomState.withGenerator(body)
    }

    /// `W_hh` as a layer and direction reads it in this forward call: in training with
    /// ``weightDrop``, its dropped copy (an autograd op, so that the gradient reaches the raw
    /// weight; one mask from the module's stream `own`), else `weight` itself.
    func recurrentWeight(_ weight: Tensor, training: Bool, stream own: PThreadMutex<SeededGenerator>?) -> Tensor {
        guard training && weightDrop > 0 else { return weight }
        // A probability in [0, 1) cannot make dropout throw.
        return try! Self.withGenerator(own) { try weight.dropout(p: weightDrop, training: true, using: &$0) }
    }

    /// The settings that differ from the defaults, as a module's description lists them
    /// (`, recurrent_dropout=0.3, weight_drop=0.2`).
    var extraDescription: String {
        var s = ""
        if recurrentDropout != 0 { s += ", recurrent_dropout=\(recurrentDropout)" }
        if zoneoutHidden != 0 { s += ", zoneout_hidden=\(zoneoutHidden)" }
        if zoneoutCell != 0 { s += ", zoneout_cell=\(zoneoutCell)" }
        if weightDrop != 0 { s += ", weight_drop=\(weightDrop)" }
        return s
    }

    /// A dropout mask of `count` values: 0 with probability `p`, else `1 / (1 − p)`.
    static func dropoutMask(count: Int, p: Float, using generator: inout SeededGenerator) -> TensorBuffer {
        let mask = TensorBuffer(uninitializedCount: count)
        let keep = 1 - p, scale = 1 / keep
        for i in 0..<count { mask.pointer[i] = generator.uniform(Float(0), Float(1)) < keep ? scale : 0 }
        return mask
    }

    /// A zoneout mask of `count` values: 1 (keep the previous value) with probability `p`, else 0.
    static func zoneoutMask(count: Int, p: Float, using generator: inout SeededGenerator) -> TensorBuffer {
        let mask = TensorBuffer(uninitializedCount: count)
        for i in 0..<count { mask.pointer[i] = generator.uniform(Float(0), Float(1)) < p ? 1 : 0 }
        return mask
    }

    /// The masks of one layer and direction for a forward call over `layout` with `hidden`
    /// units: in training, drawn from `generator`; in evaluation, zoneout's expectation.
    func variant(base: CellVariant, kind: CellKind, layout: SequenceLayout, hidden H: Int, training: Bool,
                 using generator: inout SeededGenerator) -> CellVariant {
        var variant = base
        let B = layout.batch, R = layout.rows
        if training && recurrentDropout > 0 {
            variant.stateMask = Tensor(shape: [B, H], storage: Self.dropoutMask(count: B * H, p: recurrentDropout, using: &generator))
        }
        func zoneout(_ p: Float) -> ZoneoutMask? {
            guard p > 0 else { return nil }
            if training {
                return ZoneoutMask(values: Tensor(shape: [R, H], storage: Self.zoneoutMask(count: R * H, p: p, using: &generator)),
                                   perStep: true)
            }
            return ZoneoutMask(values: Tensor(shape: [B, H], storage: TensorBuffer(copying: [Float](repeating: p, count: B * H))),
                               perStep: false)
        }
        variant.zoneoutH = zoneout(zoneoutHidden)
        if kind == .lstm { variant.zoneoutC = zoneout(zoneoutCell) }
        return variant
    }
}
