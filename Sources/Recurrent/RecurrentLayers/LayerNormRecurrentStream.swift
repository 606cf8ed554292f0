import LinearAlgebra

/// Online inference with a ``LayerNormLSTM`` or ``LayerNormGRU``: the state of every layer,
/// advanced one time step (or one chunk of steps) at a time, with the methods of
/// ``RecurrentStream`` (``RecurrentStreamBase``: `step`, `advance`, `reset()`, `hiddenState`,
/// `cellState`, `setState(hidden:cell:)`).
///
/// Shapes (`B` = ``RecurrentStreamBase/batchSize``, `H` = `hiddenSize`): a step's input `B ×
/// inputSize`, its output `B × H`; hidden states `(numLayers, B, H)`, the LSTM's cell states
/// `(numLayers, B, H)`.
///
/// Every buffer is allocated once, when the stream is made: a step performs no heap
/// allocation. Each step runs, per layer, `x · W_ihᵀ` and `h · W_hhᵀ` (`sgemv` for a batch
/// of one, `sgemm` otherwise, on one BLAS thread), the input side's layer norm over the
/// batch's rows, and per row the fused kernel of the module's forward
/// (`LayerNormCellKernels`: the recurrent layer norm, the gates and, for the LSTM, the cell
/// state's layer norm). Nothing is recorded for gradients.
///
/// The stream reads the module's parameters in place at every step, so it follows the module
/// when its weights are trained or loaded. Its results equal the module's over the same
/// sequence in evaluation mode (no dropout between layers; recurrent dropout and weight drop
/// off, zoneout its expectation, see ``RecurrentRegularizers``) up to the rounding of the
/// products (the module runs its own packed kernels).
///
/// ```swift
/// let lstm = try LayerNormLSTM(inputSize: 64, hiddenSize: 128, numLayers: 2)
/// let stream = try LayerNormRecurrentStream(lstm, batchSize: 4)
/// for frame in frames {                       // frame: [Float] of 4 × 64 features
///     let h = try frame.withUnsafeBufferPointer { try stream.step($0) }   // 4 × 128 features
///     …
/// }
/// ```
public final class LayerNormRecurrentStream: RecurrentStreamBase, @unchecked Sendable {
    /// The module the stream runs.
    public let module: LayerNormRecurrentBase

    private let kind: CellKind
    private let layers: [LayerNormRecurrentWeights]
    /// Scratch shared by the layers, which run one after the other: the input side and the
    /// recurrent side `(B, G·H)`, the activated gates `(B, G·H)`, the LSTM's normalised cell
    /// state and `tanh(c)` (or the GRU's normalised n block) `(B, H)`, and the layer norms'
    /// `1/σ` `(B)`.
    private let inputSide: UnsafeMutablePointer<Float>, recurrent: UnsafeMutablePointer<Float>
    private let gates: UnsafeMutablePointer<Float>
    private let cHat: UnsafeMutablePointer<Float>, tanhC: UnsafeMutablePointer<Float>
    private let rstdI: UnsafeMutablePointer<Float>, rstdH: UnsafeMutablePointer<Float>, rstdC: UnsafeMutablePointer<Float>
    /// Zoneout's expectation (evaluation mode).
    private let zoneout: StreamZoneout

    /// A stream over `module` for `batchSize` independent sequences, starting from zero state.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a bidirectional module (its reverse
    ///   direction needs the whole sequence), a batch size below 1, or buffers larger than
    ///   the machine's memory (``MemoryLimit``).
    public init(_ module: LayerNormRecurrentBase, batchSize: Int = 1) throws {
        let kind = module.kind, L = module.numLayers, B = batchSize, H = module.hiddenSize, GH = kind.gateCount * H
        try RecurrentStreamBase.check("LayerNormRecurrentStream", bidirectional: module.bidirectional, batchSize: batchSize,
                                      numLayers: L, floatsPerRow: 3 * GH + 6 * H + 3)
        self.module = module
        self.kind = kind
        layers = module.weights.map { $0[0] }
        let buffers = StreamBuffers()
        inputSide = buffers.make(B * GH)
        recurrent = buffers.make(B * GH)
        gates = buffers.make(B * GH)
        cHat = buffers.make(B * H)
        tanhC = buffers.make(B * H)
        rstdI = buffers.make(B)
        rstdH = buffers.make(B)
        rstdC = buffers.make(B)
        zoneout = StreamZoneout(module.regularizers, lstm: kind == .lstm, layers: L, batch: B, stateSize: H, cellSize: H,
                                buffers: buffers)
        super.init(streamName: "LayerNormRecurrentStream", moduleName: module.typeName, numLayers: L, batchSize: B,
                   inputSize: module.inputSize, hiddenSize: H, outputSize: H, hasCell: kind == .lstm,
                   batchFirst: module.batchFirst, buffers: buffers)
    }

    /// One step of every layer: the two products, LN_i over the batch's rows, then the fused
    /// row kernel of ``LayerNormRecurrence`` per row, in place on `h` (and `c`).
    override func advanceLayers(_ x: UnsafePointer<Float>, ldx: Int) {
        let B = batchSize, H = hiddenSize, GH = kind.gateCount * H
        // A step's products run on one BLAS thread, so that its results do not depend on the
        // thread count.
        let threadsToRestore = FusedRecurrence.singleThreadedBLAS()
        defer { FusedRecurrence.restoreThreads(threadsToRestore) }
        var input = x, ld = ldx, width = inputSize
        for l in 0..<layers.count {
            let w = layers[l], p = LayerNormRecurrence.NormPointers(w), hl = h[l]
            zoneout.keep(layer: l, h: hl, c: kind == .lstm ? c[l] : nil)
            let wih = MatrixView(UnsafePointer(w.weightIH.storage.pointer), rows: GH, columns: width)
            let whh = MatrixView(UnsafePointer(w.weightHH.storage.pointer), rows: GH, columns: H)
            if B == 1 {
                BLAS.gemv(wih, .noTranspose, input, into: inputSide)
                BLAS.gemv(whh, .noTranspose, hl, into: recurrent)
            } else {
                BLAS.gemm(MatrixView(input, rows: B, columns: width, leadingDimension: ld), .noTranspose, wih, .transpose,
                          into: MutableMatrixView(inputSide, rows: B, columns: GH))
                BLAS.gemm(MatrixView(UnsafePointer(hl), rows: B, columns: H), .noTranspose, whh, .transpose,
                          into: MutableMatrixView(recurrent, rows: B, columns: GH))
            }
            LayerNormCellKernels.normalizeRows(rows: B, columns: GH, inputSide, stride: GH, into: inputSide, stride: GH,
                                               rstd: rstdI, eps: p.epsI)
            for b in 0..<B {
                let hb = hl + b * H, rowGates = gates + b * GH
                if kind == .lstm {
                    guard let wC = p.wC else { preconditionFailure("LayerNormRecurrentStream: an LSTM layer without LN_c") }
                    LayerNormCellKernels.lstmForwardRow(
                        hidden: H, inputSide: inputSide + b * GH, weightI: p.wI, biasI: p.bI,
                        recurrent: recurrent + b * GH, weightH: p.wH, biasH: p.bH, gates: rowGates,
                        c: c[l] + b * H, cHat: cHat + b * H, weightC: wC, biasC: p.bC, tanhC: tanhC + b * H, h: hb,
                        rstdH: rstdH + b, rstdC: rstdC + b, epsH: p.epsH, epsC: p.epsC)
                } else {
                    // The GRU reads h_{t−1} and writes h_t element by element: in place.
                    LayerNormCellKernels.gruForwardRow(
                        hidden: H, inputSide: inputSide + b * GH, weightI: p.wI, biasI: p.bI,
                        recurrent: recurrent + b * GH, weightH: p.wH, biasH: p.bH, gates: rowGates,
                        hn: cHat + b * H, hPrev: hb, h: hb, rstdH: rstdH + b, epsH: p.epsH)
                }
            }
            zoneout.apply(layer: l, h: hl, c: kind == .lstm ? c[l] : nil)
            input = UnsafePointer(hl); ld = H; width = H
        }
    }
}
