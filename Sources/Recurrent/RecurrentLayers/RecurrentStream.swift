import LinearAlgebra

/// Online inference with a recurrent module: holds the state of every layer and advances it
/// one time step (or one chunk of steps) at a time, for a sensor stream, a live text box, or
/// any input that arrives piece by piece.
///
/// Every buffer is allocated once, when the stream is made: a step through
/// ``step(_:)-(UnsafeBufferPointer<Float>)`` performs no heap allocation. Each step runs,
/// per layer, `W_ih · x` and `W_hh · h` (`sgemv` for a batch of one, `sgemm` otherwise) and
/// one fused elementwise pass; nothing is recorded for gradients.
///
/// The stream reads the module's parameters in place at every step, so it follows the
/// module when its weights are trained or loaded. Results equal the module's over the same
/// sequence up to rounding (the biases are added in another order), in evaluation mode: the
/// cell variants (peepholes, a GRU's reset before the product) run, recurrent dropout and
/// weight drop do not, and zoneout is its expectation (see ``RecurrentRegularizers``).
///
/// ```swift
/// let rnn = try RNN(inputSize: 64, hiddenSize: 128)
/// let stream = try RecurrentStream(rnn)
/// for sample in sensor {                      // sample: [Float] of 64 features
///     let h = try sample.withUnsafeBufferPointer { try stream.step($0) }   // 128 features
///     …
/// }
/// ```
/// The state of a stream's layers and the stepping API that ``RecurrentStream`` and
/// ``LayerNormRecurrentStream`` share: one step from a buffer or a tensor, a chunk of steps,
/// reset, and the state read and set as tensors. Not made directly: make one of those two.
///
/// Shapes: `B` = ``batchSize``, `H_out` the features of a layer's output (the module's
/// `projSize` if it has one, else `hiddenSize`); hidden states `(numLayers, B, H_out)`, cell
/// states `(numLayers, B, hiddenSize)`.
public class RecurrentStreamBase: @unchecked Sendable {
    /// The number of independent streams advanced together (rows of each input).
    public let batchSize: Int

    /// The stream's and the module's type names, for error messages.
    let streamName: String, moduleName: String
    let inputSize: Int, hiddenSize: Int, outputSize: Int
    let batchFirst: Bool
    /// Per layer: the state `h` `(B, H_out)` and, with `hasCell`, the cell state `c` `(B, H)`.
    let h: [UnsafeMutablePointer<Float>]
    let c: [UnsafeMutablePointer<Float>]
    let hasCell: Bool
    /// Owns every buffer of the stream, the subclass's too.
    let buffers: StreamBuffers

    /// Checks what a stream of `module` needs before anything is allocated: one direction, a
    /// batch of at least 1, and state buffers within ``MemoryLimit``.
    static func check(_ streamName: String, bidirectional: Bool, batchSize: Int, numLayers: Int, floatsPerRow: Int) throws {
        guard !bidirectional else {
            throw TensorError.invalidArgument("\(streamName): a bidirectional module needs the whole sequence; stream a unidirectional one")
        }
        guard batchSize >= 1 else {
            throw TensorError.invalidArgument("\(streamName): expected batchSize >= 1, got \(batchSize)")
        }
        try MemoryLimit.check(floats: [[numLayers + 1, batchSize, floatsPerRow]], for: "\(streamName)(batchSize: \(batchSize)) buffers")
    }

    init(streamName: String, moduleName: String, numLayers: Int, batchSize: Int, inputSize: Int, hiddenSize: Int,
         outputSize: Int, hasCell: Bool, batchFirst: Bool, buffers: StreamBuffers) {
        self.streamName = streamName
        self.moduleName = moduleName
        self.batchSize = batchSize
        self.inputSize = inputSize
        self.hiddenSize = hiddenSize
        self.outputSize = outputSize
        self.hasCell = hasCell
        self.batchFirst = batchFirst
        self.buffers = buffers
        h = (0..<numLayers).map { _ in buffers.make(batchSize * outputSize) }
        c = (0..<numLayers).map { _ in buffers.make(hasCell ? batchSize * hiddenSize : 0) }
    }

    /// Sets every state back to zeros.
    public func reset() {
        let B = batchSize
        for l in 0..<h.count {
            h[l].update(repeating: 0, count: B * outputSize)
            if hasCell { c[l].update(repeating: 0, count: B * hiddenSize) }
        }
    }

    /// The hidden state of every layer, `(numLayers, B, H_out)` (a copy).
    public var hiddenState: Tensor { stacked(h, count: outputSize) }

    /// The cell state of every layer of an LSTM, `(numLayers, B, hiddenSize)` (a copy);
    /// `nil` for a stream without one (RNN, GRU).
    public var cellState: Tensor? { hasCell ? stacked(c, count: hiddenSize) : nil }

    private func stacked(_ states: [UnsafeMutablePointer<Float>], count: Int) -> Tensor {
        let n = batchSize * count
        let storage = TensorBuffer(count: states.count * n)
        for l in 0..<states.count { (storage.pointer + l * n).update(from: states[l], count: n) }
        return Tensor(shape: [states.count, batchSize, count], storage: storage)
    }

    /// Sets the state from `(numLayers, B, H_out)` hidden and (LSTM) `(numLayers, B,
    /// hiddenSize)` cell tensors, for example the final state of a module call.
    ///
    /// For an LSTM, `cell: nil` sets only the hidden state and keeps the current cell state
    /// (zeros after ``reset()``); pass both to continue a module call's sequence. Nothing
    /// changes when the call throws.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when a shape does not fit;
    ///   ``TensorError/invalidArgument(_:)`` for a cell state given to a stream without one
    ///   (RNN, GRU).
    public func setState(hidden: Tensor, cell: Tensor? = nil) throws {
        let L = h.count
        guard hidden.shape == [L, batchSize, outputSize] else {
            throw TensorError.shapeMismatch("\(streamName): expected a hidden state of shape \([L, batchSize, outputSize]), got \(hidden.shape)")
        }
        if !hasCell, cell != nil {
            throw TensorError.invalidArgument("\(streamName): a \(moduleName) stream has no cell state; expected cell: nil, got a tensor")
        }
        if hasCell, let cell, cell.shape != [L, batchSize, hiddenSize] {
            throw TensorError.shapeMismatch("\(streamName): expected a cell state of shape \([L, batchSize, hiddenSize]), got \(cell.shape)")
        }
        let n = batchSize * outputSize
        for l in 0..<L { h[l].update(from: hidden.storage.pointer + l * n, count: n) }
        if hasCell, let cell {
            let m = batchSize * hiddenSize
            for l in 0..<L { c[l].update(from: cell.storage.pointer + l * m, count: m) }
        }
    }

    /// Advances every layer by one step and returns the last layer's new state.
    ///
    /// - Parameter input: `B × inputSize` floats, row by row.
    /// - Returns: `B × H_out` floats, valid until the next call (a view of the stream's
    ///   own buffer; copy it to keep it).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `input` has the wrong count.
    @discardableResult
    public func step(_ input: UnsafeBufferPointer<Float>) throws -> UnsafeBufferPointer<Float> {
        guard input.count == batchSize * inputSize, let x = input.baseAddress else {
            throw TensorError.shapeMismatch("\(streamName): expected \(batchSize) × \(inputSize) = \(batchSize * inputSize) input values, got \(input.count)")
        }
        advanceLayers(x, ldx: inputSize)
        return UnsafeBufferPointer(start: h[h.count - 1], count: batchSize * outputSize)
    }

    /// Advances by one step from an input `(B, inputSize)` (or `(inputSize)` for a batch of
    /// one) and returns the last layer's new state `(B, H_out)` (or `(H_out)`), a new tensor.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shape does not fit.
    public func step(_ input: Tensor) throws -> Tensor {
        let expected = input.rank == 1 ? [inputSize] : [batchSize, inputSize]
        guard input.shape == expected, input.rank == 2 || batchSize == 1 else {
            throw TensorError.shapeMismatch("\(streamName): expected an input of shape \([batchSize, inputSize]), got \(input.shape)")
        }
        advanceLayers(input.storage.pointer, ldx: inputSize)
        let storage = TensorBuffer(count: batchSize * outputSize)
        storage.pointer.update(from: h[h.count - 1], count: batchSize * outputSize)
        return Tensor(shape: input.rank == 1 ? [outputSize] : [batchSize, outputSize], storage: storage)
    }

    /// Advances through a chunk of steps: `(B, T, inputSize)` if the module is batch first,
    /// else `(T, B, inputSize)`; returns the last layer's output at every step, in the same
    /// layout.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shape does not fit.
    public func advance(_ chunk: Tensor) throws -> Tensor {
        guard chunk.rank == 3, chunk.shape[batchFirst ? 0 : 1] == batchSize, chunk.shape[2] == inputSize else {
            let expected = batchFirst ? "(\(batchSize), T, \(inputSize))" : "(T, \(batchSize), \(inputSize))"
            throw TensorError.shapeMismatch("\(streamName): expected a chunk of shape \(expected), got \(chunk.shape)")
        }
        let T = chunk.shape[batchFirst ? 1 : 0], B = batchSize, Hr = outputSize
        let layout = SequenceLayout(steps: T, batch: B, batchFirst: batchFirst)
        let output = TensorBuffer(count: T * B * Hr)
        for t in 0..<T {
            let first = layout.firstRow(t)
            advanceLayers(chunk.storage.pointer + first * inputSize, ldx: layout.rowStride * inputSize)
            let last = h[h.count - 1]
            for b in 0..<B {
                (output.pointer + (first + b * layout.rowStride) * Hr).update(from: last + b * Hr, count: Hr)
            }
        }
        var shape = chunk.shape
        shape[2] = Hr
        return Tensor(shape: shape, storage: output)
    }

    /// One step of every layer from `x`, `B` rows `ldx` apart, into ``h`` (and ``c``); no
    /// heap allocation. Each stream overrides it.
    func advanceLayers(_ x: UnsafePointer<Float>, ldx: Int) {
        preconditionFailure("\(streamName) does not override advanceLayers(_:ldx:)")
    }
}

/// Zero-initialised float buffers, allocated when a stream is made and freed with it.
final class StreamBuffers {
    private var allocations: [UnsafeMutablePointer<Float>] = []

    /// A new buffer of `count` zeros (at least one float, so that every pointer is valid).
    func make(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        allocations.append(p)
        return p
    }

    deinit { for p in allocations { p.deallocate() } }
}

/// Zoneout in a stream, which runs in evaluation mode: its expectation
/// `h_t = p·h_{t−1} + (1 − p)·h̃_t` (and `c` alike), as the modules compute it there
/// (``RecurrentRegularizers``). Holds the probabilities `(B, H)` and, per layer, the state
/// before the step; nothing without zoneout.
struct StreamZoneout {
    private let probabilityH: UnsafeMutablePointer<Float>?, probabilityC: UnsafeMutablePointer<Float>?
    private let hBefore: [UnsafeMutablePointer<Float>], cBefore: [UnsafeMutablePointer<Float>]
    private let stateCount: Int, cellCount: Int

    /// The buffers for `layers` layers of `batch` rows of `stateSize` (`h`) and `cellSize`
    /// (`c`, an LSTM's) features, from `buffers`.
    init(_ r: RecurrentRegularizers, lstm: Bool, layers L: Int, batch B: Int, stateSize: Int, cellSize: Int, buffers: StreamBuffers) {
        func probabilities(_ p: Float, _ count: Int) -> UnsafeMutablePointer<Float>? {
            guard p > 0 else { return nil }
            let m = buffers.make(count)
            m.update(repeating: p, count: count)
            return m
        }
        stateCount = B * stateSize
        cellCount = B * cellSize
        probabilityH = probabilities(r.zoneoutHidden, stateCount)
        probabilityC = lstm ? probabilities(r.zoneoutCell, cellCount) : nil
        hBefore = probabilityH == nil ? [] : (0..<L).map { [stateCount] _ in buffers.make(stateCount) }
        cBefore = probabilityC == nil ? [] : (0..<L).map { [cellCount] _ in buffers.make(cellCount) }
    }

    /// Keeps layer `l`'s state before its step.
    func keep(layer l: Int, h: UnsafePointer<Float>, c: UnsafePointer<Float>?) {
        if probabilityH != nil { hBefore[l].update(from: h, count: stateCount) }
        if probabilityC != nil, let c { cBefore[l].update(from: c, count: cellCount) }
    }

    /// Mixes the kept state into layer `l`'s new one.
    func apply(layer l: Int, h: UnsafeMutablePointer<Float>, c: UnsafeMutablePointer<Float>?) {
        if let probabilityH { Elementwise.zoneout(previous: hBefore[l], current: h, mask: probabilityH, count: stateCount) }
        if let probabilityC, let c { Elementwise.zoneout(previous: cBefore[l], current: c, mask: probabilityC, count: cellCount) }
    }
}

/// Online inference with a recurrent module: holds the state of every layer and advances it
/// one time step (or one chunk of steps) at a time, for a sensor stream, a live text box, or
/// any input that arrives piece by piece.
///
/// Every buffer is allocated once, when the stream is made: a step through
/// ``RecurrentStreamBase/step(_:)-(UnsafeBufferPointer<Float>)`` performs no heap allocation. Each step runs,
/// per layer, `W_ih · x` and `W_hh · h` (`sgemv` for a batch of one, `sgemm` otherwise) and
/// one fused elementwise pass; nothing is recorded for gradients.
///
/// The stream reads the module's parameters in place at every step, so it follows the
/// module when its weights are trained or loaded. Results equal the module's over the same
/// sequence up to rounding (the biases are added in another order), in evaluation mode: the
/// cell variants (peepholes, a GRU's reset before the product) run, recurrent dropout and
/// weight drop do not, and zoneout is its expectation (see ``RecurrentRegularizers``).
/// ``LayerNormLSTM`` and ``LayerNormGRU`` stream through ``LayerNormRecurrentStream``, with
/// the same methods (``RecurrentStreamBase``).
///
/// ```swift
/// let rnn = try RNN(inputSize: 64, hiddenSize: 128)
/// let stream = try RecurrentStream(rnn)
/// for sample in sensor {                      // sample: [Float] of 64 features
///     let h = try sample.withUnsafeBufferPointer { try stream.step($0) }   // 128 features
///     …
/// }
/// ```
public final class RecurrentStream: RecurrentStreamBase, @unchecked Sendable {
    /// The module the stream runs.
    public let module: RecurrentBase

    private let kind: CellKind
    private let layers: [RecurrentWeights]
    /// Per layer: the pre-activations `(B, G·H)`, the recurrent product `(B, G·H)` (GRU), the
    /// unprojected `h` `(B, H)` (LSTM with projection), and `tanh(c)` scratch `(B, H)`.
    private let pre: [UnsafeMutablePointer<Float>]
    private let rec: [UnsafeMutablePointer<Float>]
    private let hFull: [UnsafeMutablePointer<Float>]
    private let scratch: UnsafeMutablePointer<Float>
    /// Zoneout's expectation (evaluation mode).
    private let zoneout: StreamZoneout

    /// A stream over `module` for `batchSize` independent sequences, starting from zero state.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a bidirectional module (its reverse
    ///   direction needs the whole sequence), a batch size below 1, or buffers larger than
    ///   the machine's memory (``MemoryLimit``).
    public init(_ module: RecurrentBase, batchSize: Int = 1) throws {
        let kind = module.kind, projected = module.projSize > 0
        let L = module.numLayers, B = batchSize, H = module.hiddenSize, Hr = module.outputHiddenSize, GH = kind.gateCount * H
        try RecurrentStreamBase.check("RecurrentStream", bidirectional: module.bidirectional, batchSize: batchSize, numLayers: L,
                       floatsPerRow: 4 * GH + 4 * H + 2 * Hr)
        self.module = module
        self.kind = kind
        layers = module.weights.map { $0[0] }
        let buffers = StreamBuffers()
        pre = (0..<L).map { _ in buffers.make(B * GH) }
        rec = (0..<L).map { _ in buffers.make(kind == .gru ? B * GH : 0) }
        hFull = (0..<L).map { _ in buffers.make(projected ? B * H : 0) }
        scratch = buffers.make(B * H)
        zoneout = StreamZoneout(module.regularizers, lstm: kind == .lstm, layers: L, batch: B, stateSize: Hr, cellSize: H,
                                buffers: buffers)
        super.init(streamName: "RecurrentStream", moduleName: "\(type(of: module))", numLayers: L, batchSize: B,
                   inputSize: module.inputSize, hiddenSize: H, outputSize: Hr, hasCell: kind == .lstm,
                   batchFirst: module.batchFirst, buffers: buffers)
    }

    /// One step of every layer; `x` holds `B` rows `ldx` apart.
    override func advanceLayers(_ x: UnsafePointer<Float>, ldx: Int) {
        let B = batchSize, H = hiddenSize, Hr = outputSize, GH = kind.gateCount * H
        // A step's products run on one BLAS thread, so that its results do not depend on the
        // thread count.
        let threadsToRestore = FusedRecurrence.singleThreadedBLAS()
        defer { FusedRecurrence.restoreThreads(threadsToRestore) }
        var input = x, ld = ldx, width = inputSize
        for l in 0..<layers.count {
            let w = layers[l]
            let p = pre[l], hl = h[l]
            let wih = MatrixView(UnsafePointer(w.weightIH.storage.pointer), rows: GH, columns: width)
            let whh = MatrixView(UnsafePointer(w.weightHH.storage.pointer), rows: GH, columns: Hr)
            let bih = w.biasIH?.storage.pointer, bhh = w.biasHH?.storage.pointer
            zoneout.keep(layer: l, h: hl, c: kind == .lstm ? c[l] : nil)
            // pre = x · W_ihᵀ (+ h · W_hhᵀ, except for GRU, whose n block needs it apart)
            let isGRU = kind == .gru
            if isGRU && !module.resetAfter {
                resetBeforeStep(layer: l, input: input, ld: ld, width: width)
            } else if B == 1 {
                BLAS.gemv(wih, .noTranspose, input, into: p)
                if isGRU {
                    BLAS.gemv(whh, .noTranspose, hl, into: rec[l])
                } else {
                    BLAS.gemv(whh, .noTranspose, hl, into: p, beta: 1)
                }
            } else {
                let pv = MutableMatrixView(p, rows: B, columns: GH)
                BLAS.gemm(MatrixView(input, rows: B, columns: width, leadingDimension: ld), .noTranspose, wih, .transpose, into: pv)
                let hv = MatrixView(UnsafePointer(hl), rows: B, columns: Hr)
                if isGRU {
                    BLAS.gemm(hv, .noTranspose, whh, .transpose, into: MutableMatrixView(rec[l], rows: B, columns: GH))
                } else {
                    BLAS.gemm(hv, .noTranspose, whh, .transpose, into: pv, beta: 1)
                }
            }
            for b in 0..<B {
                let pb = p + b * GH
                switch kind {
                case .rnnTanh, .rnnReLU:
                    FusedRecurrence.addBiases(pb, bih, bhh, count: H)
                    let hb = hl + b * Hr
                    if kind == .rnnTanh { Elementwise.tanh(pb, hb, count: H) } else { Elementwise.relu(pb, hb, count: H) }
                case .lstm:
                    FusedRecurrence.addBiases(pb, bih, bhh, count: GH)
                    let target = module.projSize > 0 ? hFull[l] + b * H : hl + b * Hr
                    if let peepholes = w.peepholes {
                        Elementwise.lstmPeepholeCell(gates: pb, bias: nil, gateStride: H, peepholes: peepholes.storage.pointer,
                                                     c: c[l] + b * H, tanhC: scratch + b * H, h: target, count: H)
                    } else {
                        FusedRecurrence.lstmCell(gates: pb, c: c[l] + b * H, tanhC: scratch + b * H, h: target, H: H)
                    }
                case .gru where !module.resetAfter:
                    break       // resetBeforeStep(layer:input:ld:width:) ran the whole step
                case .gru:
                    FusedRecurrence.addBiases(pb, bih, bhh, count: 2 * H)
                    if let bih { FusedRecurrence.addBiases(pb + 2 * H, bih + 2 * H, nil, count: H) }
                    FusedRecurrence.gruCell(pre: pb, rec: rec[l] + b * GH, bhn: bhh.map { UnsafePointer($0 + 2 * H) },
                                            h: hl + b * Hr, H: H)
                }
            }
            if module.projSize > 0, let whr = w.weightHR?.storage.pointer {
                BLAS.gemm(MatrixView(UnsafePointer(hFull[l]), rows: B, columns: H), .noTranspose,
                          MatrixView(UnsafePointer(whr), rows: Hr, columns: H), .transpose,
                          into: MutableMatrixView(hl, rows: B, columns: Hr))
            }
            zoneout.apply(layer: l, h: hl, c: kind == .lstm ? c[l] : nil)
            input = UnsafePointer(hl); ld = Hr; width = Hr
        }
    }

    /// One step of layer `l` of a GRU with the reset gate before the product: `r, z` from
    /// `x · W_ihᵀ + h · W_h{r,z}ᵀ`, then `n` from `(r ⊙ h) · W_hnᵀ`, then `h`.
    private func resetBeforeStep(layer l: Int, input: UnsafePointer<Float>, ld: Int, width: Int) {
        let B = batchSize, H = hiddenSize, GH = 3 * H
        let w = layers[l], p = pre[l], hl = h[l]
        let whh = UnsafePointer(w.weightHH.storage.pointer)
        let bih = w.biasIH?.storage.pointer, bhh = w.biasHH?.storage.pointer
        BLAS.gemm(MatrixView(input, rows: B, columns: width, leadingDimension: ld), .noTranspose,
                  MatrixView(UnsafePointer(w.weightIH.storage.pointer), rows: GH, columns: width), .transpose,
                  into: MutableMatrixView(p, rows: B, columns: GH))
        BLAS.gemm(MatrixView(UnsafePointer(hl), rows: B, columns: H), .noTranspose, MatrixView(whh, rows: 2 * H, columns: H), .transpose,
                  into: MutableMatrixView(p, rows: B, columns: 2 * H, leadingDimension: GH), beta: 1)
        for b in 0..<B {
            let pb = p + b * GH
            FusedRecurrence.addBiases(pb, bih, bhh, count: 2 * H)
            if let bih { FusedRecurrence.addBiases(pb + 2 * H, bih + 2 * H, nil, count: H) }
            Elementwise.gruResetBeforeGates(gates: pb, bias: nil, gateStride: H, state: hl + b * H, reset: scratch + b * H, count: H)
        }
        BLAS.gemm(MatrixView(UnsafePointer(scratch), rows: B, columns: H), .noTranspose, MatrixView(whh + 2 * H * H, rows: H, columns: H),
                  .transpose, into: MutableMatrixView(rec[l], rows: B, columns: H))
        for b in 0..<B {
            Elementwise.gruResetBeforeUpdate(gates: p + b * GH, bias: nil, gateStride: H, recurrent: rec[l] + b * H,
                                             biasN: bhh.map { UnsafePointer($0 + 2 * H) }, hPrev: hl + b * H, h: hl + b * H, count: H)
        }
    }
}
