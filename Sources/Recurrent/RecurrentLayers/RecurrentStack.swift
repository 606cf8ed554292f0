import LinearAlgebra

/// How a multi-layer recurrent module stacks its fused layers, shared by ``RecurrentBase``
/// (`RNN`, `LSTM`, `GRU`) and ``LayerNormRecurrentBase``: each layer's directions start from
/// their slices of the initial states, the next layer reads their outputs side by side,
/// dropout (in training mode) sits between layers, and the final states are stacked as
/// `h_n[layer · D + direction]`.
enum RecurrentStack {
    /// The result of one layer and direction.
    typealias DirectionResult = (output: Tensor, hN: Tensor, cN: Tensor?)

    /// Runs `numLayers` layers of `directions` directions over a checked `input` (batched,
    /// or unbatched `(L, features)` when `unbatched`, seen as a batch of one). `h0` and `c0` are
    /// the module's initial states as given (`nil`: zeros), `stateSize` the size of `h`,
    /// `cellSize` that of `c` (`nil` without a cell state). `runLayer(layer, input, h0s, c0s)`
    /// runs one layer's directions over its batched input from their initial states `(B, ·)`.
    /// Returns the last layer's output and the stacked final states, unbatched again when the
    /// input was.
    static func run(_ input: Tensor, layout: SequenceLayout, unbatched: Bool, numLayers: Int, directions D: Int,
                    stateSize Hr: Int, cellSize: Int?, h0: Tensor?, c0: Tensor?, dropout: Float, isTraining: Bool,
                    runLayer: (_ layer: Int, _ input: Tensor, _ h0: [Tensor], _ c0: [Tensor?]) throws -> [DirectionResult])
        throws -> (output: Tensor, hN: Tensor, cN: Tensor?) {
        var x = unbatched ? try input.reshaped([layout.steps, 1, input.shape[1]]) : input
        let h0b = try h0.map { unbatched ? try $0.reshaped([D * numLayers, 1, Hr]) : $0 }
        let c0b = try c0.map { state in try cellSize.map { unbatched ? try state.reshaped([D * numLayers, 1, $0]) : state } } ?? nil
        var hFinals: [Tensor] = [], cFinals: [Tensor] = []
        for layer in 0..<numLayers {
            var hInits: [Tensor] = [], cInits: [Tensor?] = []
            for d in 0..<D {
                let (h, c) = try initialStates(h0b, c0b, index: layer * D + d, batch: layout.batch, stateSize: Hr, cellSize: cellSize)
                hInits.append(h)
                cInits.append(c)
            }
            var outputs: [Tensor] = []
            for (y, hN, cN) in try runLayer(layer, x, hInits, cInits) {
                outputs.append(y)
                hFinals.append(hN)
                if let cN { cFinals.append(cN) }
            }
            x = D == 1 ? outputs[0] : try Tensor.cat(outputs, dim: -1)
            if layer < numLayers - 1 && isTraining && dropout > 0 {
                x = try RandomState.withGenerator { try x.dropout(p: dropout, training: true, using: &$0) }
            }
        }
        var hN = try Tensor.stack(hFinals, dim: 0)
        var cN = cellSize == nil ? nil : try Tensor.stack(cFinals, dim: 0)
        if unbatched {
            x = try x.reshaped([layout.steps, D * Hr])
            hN = try hN.reshaped([D * numLayers, Hr])
            if let cellSize { cN = try cN?.reshaped([D * numLayers, cellSize]) }
        }
        return (x, hN, cN)
    }

    /// The initial states `(B, ·)` of layer and direction `index` from the batched `h0`
    /// `(count, B, stateSize)` and `c0` (zeros where not given; `c` is `nil` without a
    /// `cellSize`).
    static func initialStates(_ h0: Tensor?, _ c0: Tensor?, index: Int, batch B: Int, stateSize Hr: Int,
                              cellSize: Int?) throws -> (h: Tensor, c: Tensor?) {
        let h = try h0.map { try $0.select(dim: 0, index: index) } ?? Tensor(zeros: [B, Hr])
        let c = try cellSize.map { size in try c0?.select(dim: 0, index: index) ?? Tensor(zeros: [B, size]) }
        return (h, c)
    }

    /// Checks a sequence input of a module named `typeName` with `inputSize` features and
    /// returns its layout (`unbatched` inputs are seen as a batch of one, sequence first).
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` for a rank other than 2 or 3, another
    ///   feature count, or an empty sequence.
    static func checkedLayout(_ input: Tensor, inputSize: Int, batchFirst: Bool, typeName: String) throws
        -> (layout: SequenceLayout, unbatched: Bool) {
        guard input.rank == 3 || input.rank == 2 else {
            throw TensorError.shapeMismatch("\(typeName): expected input of rank 3 (batched) or 2 (unbatched) with \(inputSize) features, got shape \(input.shape)")
        }
        guard input.shape[input.rank - 1] == inputSize else {
            throw TensorError.shapeMismatch("\(typeName): expected input with \(inputSize) features in its last dimension, got shape \(input.shape)")
        }
        let unbatched = input.rank == 2
        let (T, B) = unbatched ? (input.shape[0], 1) : batchFirst ? (input.shape[1], input.shape[0]) : (input.shape[0], input.shape[1])
        // As PyTorch: an empty sequence has no final state to return (an empty batch is fine).
        guard T > 0 else {
            throw TensorError.shapeMismatch("\(typeName): expected sequence length to be larger than 0, got input of shape \(input.shape)")
        }
        return (SequenceLayout(steps: T, batch: B, batchFirst: unbatched ? false : batchFirst), unbatched)
    }

    /// Checks an initial state named `name` against `(count, N, size)` (`(count, size)` unbatched).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when its shape is another.
    static func checkState(_ state: Tensor?, name: String, count: Int, size: Int, layout: SequenceLayout, unbatched: Bool,
                           typeName: String) throws {
        guard let state else { return }
        let expected = unbatched ? [count, size] : [count, layout.batch, size]
        guard state.shape == expected else {
            throw TensorError.shapeMismatch("\(typeName): expected \(name) of shape \(expected), got \(state.shape)")
        }
    }

    /// Checks one length per sequence, each in `1...steps`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` for another count,
    ///   ``TensorError/invalidArgument(_:)`` for a length out of range.
    static func checkLengths(_ lengths: [Int]?, layout: SequenceLayout, typeName: String) throws {
        guard let lengths else { return }
        guard lengths.count == layout.batch else {
            throw TensorError.shapeMismatch("\(typeName): expected \(layout.batch) lengths (one per sequence), got \(lengths.count)")
        }
        if let bad = lengths.first(where: { $0 < 1 || $0 > layout.steps }) {
            throw TensorError.invalidArgument("\(typeName): every length must be in 1...\(layout.steps) (the sequence length), got \(bad)")
        }
    }
}
