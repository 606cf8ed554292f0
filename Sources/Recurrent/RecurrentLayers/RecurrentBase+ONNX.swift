import LinearAlgebra

extension RecurrentBase {
    /// Loads one layer's weights from ONNX's tensor layout (the inputs of an ONNX `RNN`, `LSTM`
    /// or `GRU` node, or of a Keras model exported to ONNX), reordering the gates into
    /// PyTorch's: ONNX's LSTM gates `i, o, f, c` become `i, f, g, o`, its GRU gates `z, r, h`
    /// become `r, z, n`.
    ///
    /// - Parameters:
    ///   - layer: the layer to load, `0..<numLayers` (a stack of ONNX nodes is loaded node by node).
    ///   - W: the input weights `(D, G·hiddenSize, layerInput)`, `D` = ``numDirections``
    ///     (forward, then reverse), `G` = 1, 4 or 3, `layerInput` = `inputSize` for layer 0,
    ///     else `D · hiddenSize`.
    ///   - R: the recurrent weights `(D, G·hiddenSize, hiddenSize)`.
    ///   - B: the biases `(D, 2·G·hiddenSize)`, `[Wb, Rb]` per direction (into `bias_ih` and
    ///     `bias_hh`); `nil` loads zeros (ONNX's default). A module made with `bias: false`
    ///     takes none.
    ///   - P: an LSTM's peepholes `(D, 3·hiddenSize)`, order `i, o, f` (into `weight_p_l{k}`,
    ///     rows `p_i, p_f, p_o`); only for an LSTM made with `peepholes: true`, where `nil`
    ///     loads zeros.
    ///   - linearBeforeReset: a GRU node's `linear_before_reset` attribute, when given checked
    ///     against ``resetAfter`` (1 is `resetAfter: true`, PyTorch's form; 0 is `false`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a layer out of range, a projected
    ///   LSTM, biases for a module without them, peepholes for a module without them, or a
    ///   `linearBeforeReset` that does not match the module; ``TensorError/shapeMismatch(_:)``
    ///   when a tensor's shape is not the one above. Nothing is loaded when it throws.
    public func loadONNXWeights(layer: Int, W: Tensor, R: Tensor, B: Tensor? = nil, P: Tensor? = nil,
                                linearBeforeReset: Bool? = nil) throws {
        let name = "\(typeName).loadONNXWeights"
        guard layer >= 0 && layer < numLayers else {
            throw TensorError.invalidArgument("\(name): layer \(layer) is outside 0..<\(numLayers)")
        }
        guard projSize == 0 else {
            throw TensorError.invalidArgument("\(name): ONNX's LSTM has no projection; this module has projSize \(projSize)")
        }
        let D = numDirections, H = hiddenSize, G = kind.gateCount
        let layerInput = layer == 0 ? inputSize : D * H
        func check(_ t: Tensor, _ what: String, _ expected: [Int]) throws {
            guard t.shape == expected else {
                throw TensorError.shapeMismatch("\(name): expected \(what) of shape \(expected), got \(t.shape)")
            }
        }
        try check(W, "W", [D, G * H, layerInput])
        try check(R, "R", [D, G * H, H])
        if let B {
            guard bias else {
                throw TensorError.invalidArgument("\(name): the module was made with bias: false and takes no B")
            }
            try check(B, "B", [D, 2 * G * H])
        }
        if let P {
            guard peepholes else {
                throw TensorError.invalidArgument("\(name): P holds peepholes; make the LSTM with peepholes: true")
            }
            try check(P, "P", [D, 3 * H])
        }
        if let linearBeforeReset {
            guard kind == .gru else {
                throw TensorError.invalidArgument("\(name): linearBeforeReset is an attribute of GRU nodes")
            }
            guard linearBeforeReset == resetAfter else {
                throw TensorError.invalidArgument("\(name): the node has linear_before_reset=\(linearBeforeReset ? 1 : 0) but the GRU was made with resetAfter: \(resetAfter)")
            }
        }
        // PyTorch's gate block k is ONNX's block order[k].
        let order: [Int]
        switch kind {
        case .rnnTanh, .rnnReLU: order = [0]
        case .lstm: order = [0, 2, 3, 1]        // i f g o ← i o f c
        case .gru: order = [1, 0, 2]            // r z n ← z r h
        }
        let w = W.scalars, r = R.scalars, b = B?.scalars, p = P?.scalars
        /// Copies direction `d`'s gate blocks of `source` (rows of `width`, blocks of `H` rows,
        /// starting at `offset`) into `target` in PyTorch's order.
        func load(_ target: Tensor, from source: [Float], offset: Int, width: Int) {
            target.withUnsafeMutableBufferPointer { dst in
                for k in 0..<G {
                    let from = offset + order[k] * H * width
                    for i in 0..<(H * width) { dst[k * H * width + i] = source[from + i] }
                }
            }
        }
        for d in 0..<D {
            let weights = self.weights[layer][d]
            load(weights.weightIH, from: w, offset: d * G * H * layerInput, width: layerInput)
            load(weights.weightHH, from: r, offset: d * G * H * H, width: H)
            if let biasIH = weights.biasIH, let biasHH = weights.biasHH {
                if let b {
                    load(biasIH, from: b, offset: d * 2 * G * H, width: 1)
                    load(biasHH, from: b, offset: d * 2 * G * H + G * H, width: 1)
                } else {
                    biasIH.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                    biasHH.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
                }
            }
            if let peepholes = weights.peepholes {
                peepholes.withUnsafeMutableBufferPointer { dst in
                    guard let p else { dst.update(repeating: 0); return }
                    // p_i, p_f, p_o ← ONNX's i, o, f.
                    for (k, block) in [0, 2, 1].enumerated() {
                        for j in 0..<H { dst[k * H + j] = p[d * 3 * H + block * H + j] }
                    }
                }
            }
        }
    }
}
