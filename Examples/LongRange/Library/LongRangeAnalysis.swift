import ExampleSupport
import Foundation
import Recurrent

// MARK: - Spectra of W_hh

/// The spectral radius and the largest singular value of one square block of a recurrent
/// weight matrix `W_hh`.
///
/// The spectral radius `max |λᵢ|` governs the linearised dynamics `h ↦ W h` over many steps
/// (powers of `W` grow or shrink like it); the largest singular value `‖W‖₂ = σ₁ ≥ ρ` bounds
/// how much one step can stretch a vector (and so, with `|tanh'| ≤ 1`, how much one step can
/// multiply the gradient `∂L/∂h`).
public struct RecurrentBlockSpectrum: Codable, Sendable, Equatable {
    /// The block's name: `"W_hh"` for an RNN, `"W_hr"`, `"W_hz"`, `"W_hn"` for a GRU,
    /// `"W_hi"`, `"W_hf"`, `"W_hg"`, `"W_ho"` for an LSTM (PyTorch's gate order).
    public var block: String
    /// The largest modulus of the block's eigenvalues (LAPACK `geev`).
    public var spectralRadius: Double
    /// The block's largest singular value (LAPACK `gesdd`).
    public var largestSingularValue: Double

    /// A spectrum entry.
    public init(block: String, spectralRadius: Double, largestSingularValue: Double) {
        self.block = block
        self.spectralRadius = spectralRadius
        self.largestSingularValue = largestSingularValue
    }
}

/// The spectra of recurrent weight matrices, through ``Matrix``'s LAPACK wrappers.
///
/// A GRU's or LSTM's `weight_hh_l0` `(G·H, H)` stacks one `H × H` block per gate, and only a
/// square matrix has eigenvalues: the spectra are taken per gate block (for an RNN the single
/// block is the whole `W_hh`).
public enum RecurrentSpectra {
    /// The names of the gate blocks of `W_hh` for a layer of `kind`, top to bottom.
    public static func blockNames(for kind: CellKind) -> [String] {
        switch kind {
        case .rnnTanh, .rnnReLU: return ["W_hh"]
        case .gru: return ["W_hr", "W_hz", "W_hn"]
        case .lstm: return ["W_hi", "W_hf", "W_hg", "W_ho"]
        }
    }

    /// The gate blocks of the first layer's `weight_hh_l0` of `layer`, each `H × H`, with
    /// their names (``blockNames(for:)``).
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` when the layer has no square
    ///   `weight_hh_l0` blocks (a projected LSTM).
    public static func blocks(of layer: RecurrentBase) throws -> [(name: String, matrix: Matrix<Float>)] {
        guard let whh = layer.namedParameters().first(where: { $0.name == "weight_hh_l0" })?.parameter else {
            throw LongRangeError.invalidSetting("RecurrentSpectra: the layer has no weight_hh_l0")
        }
        let H = layer.hiddenSize, names = blockNames(for: layer.kind)
        guard whh.shape == [names.count * H, H] else {
            throw LongRangeError.invalidSetting("RecurrentSpectra: expected weight_hh_l0 of shape \([names.count * H, H]), got \(whh.shape)")
        }
        let scalars = whh.scalars
        return names.enumerated().map { gate, name in
            (name, Matrix(rows: H, columns: H, scalars: Array(scalars[(gate * H * H) ..< ((gate + 1) * H * H)])))
        }
    }

    /// The spectral radius and largest singular value of the square `matrix`.
    ///
    /// - Throws: ``LAPACKError/shapeMismatch(expected:actual:)`` when `matrix` is not
    ///   square; ``LAPACKError/nonFiniteInput(routine:)`` when it holds NaN or an infinity
    ///   (the weights of a diverged run); ``LAPACKError/noConvergence(routine:info:)``.
    public static func spectrum(of matrix: Matrix<Float>, name: String) throws -> RecurrentBlockSpectrum {
        let radius = try matrix.spectralRadius()
        let sigma = try matrix.singularValues().first ?? 0
        return RecurrentBlockSpectrum(block: name, spectralRadius: Double(radius), largestSingularValue: Double(sigma))
    }

    /// The spectrum of every gate block of `layer`'s `weight_hh_l0`.
    ///
    /// - Throws: what ``blocks(of:)`` and ``spectrum(of:name:)`` throw.
    public static func spectra(of layer: RecurrentBase) throws -> [RecurrentBlockSpectrum] {
        try blocks(of: layer).map { try spectrum(of: $0.matrix, name: $0.name) }
    }
}

// MARK: - Gradients with respect to the hidden states

/// The gradient of the loss with respect to each hidden state, `∂L/∂h_t`, of an
/// ``AddingModel`` — what PyTorch users get with `h.retain_grad()` on every step of an
/// unrolled loop.
///
/// The fused layers compute the whole sequence in one autograd node, and `.grad` is kept only
/// for leaves. So ``gradients(of:on:)`` unrolls the same layer step by step with the
/// library's cells (``RNNCell``, ``GRUCell``, ``LSTMCell``) loaded with the layer's weights
/// and adds a zero leaf `z_t` `(N, H)` to each hidden state: `h̃_t = h_t + z_t` is what
/// the next step and the head read, so `z_t.grad = ∂L/∂h_t` exactly (the loss is the batch's
/// mean squared error, `h_t` the state after reading `x_t`, `t = 0 … T−1`). For an LSTM, this
/// is the gradient with respect to `h_t` (through every later step), the cell state `c_t`
/// being a separate variable.
///
/// ``fusedGradient(of:on:step:)`` and ``fusedLoss(of:on:step:shift:)`` compute the same
/// quantity with the fused layer instead (run the first `t + 1` steps, make the final state a
/// leaf, run the rest from it): one call per step, for checking the probe.
///
/// Every function here works on copies of the model: its parameters' gradients are left
/// untouched.
public enum HiddenStateGradients {
    /// `∂L/∂h_t` for each step `t` of `batch`, each `(N, H)`, and the loss `L` (the batch's MSE).
    ///
    /// - Throws: ``TensorError`` or ``StateDictError`` when the batch or the weights do not fit
    ///   the model (a bug); ``LongRangeError/invalidSetting(_:)`` for an unsupported layer.
    public static func gradients(of model: AddingModel, on batch: AddingBatch) throws -> (loss: Double, gradients: [Tensor]) {
        let layer = model.rnn
        let N = batch.count, H = layer.hiddenSize, T = batch.length
        let head = try copy(of: model).fc
        let cell = try ProbeCell(layer)
        var h = Tensor(zeros: [N, H])
        var c: Tensor? = layer.kind == .lstm ? Tensor(zeros: [N, H]) : nil
        var leaves: [Tensor] = []
        leaves.reserveCapacity(T)
        for t in 0 ..< T {
            let x = try batch.inputs.select(dim: 1, index: t)
            (h, c) = try cell.step(x, h: h, c: c)
            let z = Tensor(zeros: [N, H], requiresGrad: true)
            h = h + z
            leaves.append(z)
        }
        let loss = try mseLoss(head(h), batch.targets)
        loss.backward()
        return (Double(loss.item), leaves.map { $0.grad ?? Tensor(zeros: [N, H]) })
    }

    /// The Frobenius norm of ``gradients(of:on:)`` at each step: `‖∂L/∂h_t‖` over the
    /// batch, `t = 0 … T−1`, and the loss.
    ///
    /// - Throws: what ``gradients(of:on:)`` throws.
    public static func norms(of model: AddingModel, on batch: AddingBatch) throws -> (loss: Double, norms: [Double]) {
        let (loss, gradients) = try gradients(of: model, on: batch)
        return (loss, gradients.map(frobeniusNorm))
    }

    /// `∂L/∂h_t` `(N, H)` at one step through the fused layer, and the loss.
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` when `step` is outside `0 ..< T`;
    ///   ``TensorError`` when the batch does not fit the model.
    public static func fusedGradient(of model: AddingModel, on batch: AddingBatch, step: Int) throws -> (loss: Double, gradient: Tensor) {
        let m = try copy(of: model)
        let (loss, leaf) = try splitLoss(m, batch, step: step, shift: nil)
        loss.backward()
        return (Double(loss.item), leaf.grad ?? Tensor(zeros: leaf.shape))
    }

    /// The loss through the fused layer when the hidden state after step `step` is replaced by
    /// `h_step + shift` (`shift` `(N, H)`): for finite differences.
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` when `step` is outside `0 ..< T` or
    ///   `shift` is not `(N, H)`; ``TensorError`` when the batch does not fit the model.
    public static func fusedLoss(of model: AddingModel, on batch: AddingBatch, step: Int, shift: Tensor) throws -> Double {
        let m = try copy(of: model)
        return try withoutGradients { Double(try splitLoss(m, batch, step: step, shift: shift).loss.item) }
    }

    /// An independent copy of `model` (same layer configuration and weights).
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` for an unsupported layer.
    public static func copy(of model: AddingModel) throws -> AddingModel {
        let layer = model.rnn
        let twin: RecurrentBase
        switch layer.kind {
        case .rnnTanh, .rnnReLU:
            twin = try RNN(inputSize: layer.inputSize, hiddenSize: layer.hiddenSize,
                           nonlinearity: layer.kind == .rnnTanh ? .tanh : .relu, bias: layer.bias, batchFirst: true, seed: 0)
        case .gru:
            twin = try GRU(inputSize: layer.inputSize, hiddenSize: layer.hiddenSize, bias: layer.bias, batchFirst: true, seed: 0)
        case .lstm:
            twin = try LSTM(inputSize: layer.inputSize, hiddenSize: layer.hiddenSize, bias: layer.bias, batchFirst: true, seed: 0)
        }
        var generator = SeededGenerator(seed: 0)
        let head = try Linear(inFeatures: model.fc.inFeatures, outFeatures: 1, bias: model.fc.bias != nil, using: &generator)
        let result = try AddingModel(layer: twin, head: head)
        try result.loadStateDict(model.stateDict())
        return result
    }

    /// The Frobenius norm of `tensor`, accumulated in `Double`.
    public static func frobeniusNorm(_ tensor: Tensor) -> Double {
        tensor.withUnsafeBufferPointer { p in p.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
    }

    /// The loss with the state after `step` made a leaf (plus `shift`), through the fused layer.
    private static func splitLoss(_ model: AddingModel, _ batch: AddingBatch, step: Int, shift: Tensor?) throws -> (loss: Tensor, leaf: Tensor) {
        let layer = model.rnn
        let N = batch.count, H = layer.hiddenSize, T = batch.length
        guard step >= 0 && step < T else {
            throw LongRangeError.invalidSetting("HiddenStateGradients: expected a step in 0..<\(T), got \(step)")
        }
        if let shift, shift.shape != [N, H] {
            throw LongRangeError.invalidSetting("HiddenStateGradients: expected a shift of shape \([N, H]), got \(shift.shape)")
        }
        let prefix = try batch.inputs.narrow(dim: 1, start: 0, length: step + 1)
        let (hPrefix, cPrefix) = try withoutGradients { try finalStates(layer, prefix, h0: nil, c0: nil) }
        var start = try hPrefix.reshaped([N, H]).scalars
        if let shift { for (i, s) in shift.scalars.enumerated() { start[i] += s } }
        let leaf = Tensor(shape: [N, H], scalars: start, requiresGrad: true)
        var last = leaf
        if step < T - 1 {
            let suffix = try batch.inputs.narrow(dim: 1, start: step + 1, length: T - step - 1)
            let (hN, _) = try finalStates(layer, suffix, h0: try leaf.reshaped([1, N, H]), c0: cPrefix?.detached())
            last = try hN.reshaped([N, H])
        }
        return (try mseLoss(model.fc(last), batch.targets), leaf)
    }

    /// The final `(h, c)` `(1, N, H)` of a one-layer fused `layer` over `input` from `(h0, c0)`.
    private static func finalStates(_ layer: RecurrentBase, _ input: Tensor, h0: Tensor?, c0: Tensor?) throws -> (h: Tensor, c: Tensor?) {
        switch layer {
        case let rnn as RNN: return (try rnn(input, h0).hN, nil)
        case let gru as GRU: return (try gru(input, h0).hN, nil)
        case let lstm as LSTM:
            let N = input.shape[0], H = lstm.hiddenSize
            let state = try lstm(input, LSTMState(h: h0 ?? Tensor(zeros: [1, N, H]), c: c0 ?? Tensor(zeros: [1, N, H]))).state
            return (state.h, state.c)
        default:
            throw LongRangeError.invalidSetting("HiddenStateGradients: unsupported layer \(type(of: layer))")
        }
    }
}

/// A library cell loaded with the weights of a one-layer fused layer.
private enum ProbeCell {
    case rnn(RNNCell)
    case gru(GRUCell)
    case lstm(LSTMCell)

    init(_ layer: RecurrentBase) throws {
        let I = layer.inputSize, H = layer.hiddenSize
        // weight_ih_l0 → weight_ih, … (the cells name their parameters as PyTorch's cells do).
        var weights: [String: Tensor] = [:]
        for (name, tensor) in layer.stateDict() where name.hasSuffix("_l0") { weights[String(name.dropLast(3))] = tensor }
        let module: Module
        switch layer.kind {
        case .rnnTanh, .rnnReLU:
            let cell = try RNNCell(inputSize: I, hiddenSize: H, bias: layer.bias,
                                   nonlinearity: layer.kind == .rnnTanh ? .tanh : .relu, seed: 0)
            self = .rnn(cell); module = cell
        case .gru:
            let cell = try GRUCell(inputSize: I, hiddenSize: H, bias: layer.bias, seed: 0)
            self = .gru(cell); module = cell
        case .lstm:
            let cell = try LSTMCell(inputSize: I, hiddenSize: H, bias: layer.bias, seed: 0)
            self = .lstm(cell); module = cell
        }
        try module.loadStateDict(weights)
    }

    func step(_ x: Tensor, h: Tensor, c: Tensor?) throws -> (Tensor, Tensor?) {
        switch self {
        case let .rnn(cell): return (try cell(x, h), nil)
        case let .gru(cell): return (try cell(x, h), nil)
        case let .lstm(cell):
            let next = try cell(x, LSTMState(h: h, c: c ?? Tensor(zeros: h.shape)))
            return (next.h, next.c)
        }
    }
}
