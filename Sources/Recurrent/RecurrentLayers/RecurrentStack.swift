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
        let B = layout.batch
        var x = unbatched ? try input.reshaped([layout.steps, 1, input.shape[1]]) : input
        let h0b = try h0.map { unbatched ? try $0.reshaped([D * numLayers, 1, Hr]) : $0 }
        let c0b = try c0.map { state in try cellSize.map { unbatched ? try state.reshaped([D * numLayers, 1, $0]) : state } }
        var hFinals: [Tensor] = [], cFinals: [Tensor] = []
        for layer in 0..<numLayers {
            var hInits: [Tensor] = [], cInits: [Tensor?] = []
            for d in 0..<D {
                let index = layer * D + d
                hInits.append(try h0b.map { try $0.select(dim: 0, index: index) } ?? Tensor(zeros: [B, Hr]))
                cInits.append(try cellSize.map { size in try c0b??.select(dim: 0, index: index) ?? Tensor(zeros: [B, size]) })
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
}
