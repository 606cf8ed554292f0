import LinearAlgebra

extension RecurrentBase {
    /// The cell variant of every layer (without masks): reset before the product, peepholes.
    var baseVariant: CellVariant {
        CellVariant(resetBeforeProduct: kind == .gru && !resetAfter)
    }

    /// Whether a forward call in the current mode needs ``FusedVariantRecurrence`` (a cell
    /// variant, or a regulariser on the state); plain layers keep ``FusedRecurrence``.
    var runsVariantPath: Bool {
        if !resetAfter || peepholes { return true }
        let r = regularizers
        if isTraining && r.recurrentDropout > 0 { return true }
        return r.zoneoutHidden > 0 || r.zoneoutCell > 0      // zoneout's expectation in evaluation
    }

    /// Runs with the module's mask stream (its own with a seed, else ``RandomState``).
    func withMaskGenerator<R>(_ body: (inout SeededGenerator) throws -> R) rethrows -> R {
        try RecurrentRegularizers.withGenerator(regularizerGenerator, body)
    }

    /// Runs the directions of layer `layer`: the plain fused path for PyTorch's cells, else
    /// the variant path with this call's masks; weight drop replaces `W_hh` by its dropped
    /// copy (an autograd op, so that the gradient reaches the raw weight) in training.
    func runLayer(_ layer: Int, input: Tensor, layout: SequenceLayout, h0: [Tensor], c0: [Tensor?],
                  lengths: [Int]?) -> [(output: Tensor, hN: Tensor, cN: Tensor?)] {
        var layerWeights = weights[layer]
        let training = isTraining
        if training && regularizers.weightDrop > 0 {
            layerWeights = layerWeights.map { w in
                w.replacingWeightHH(regularizers.recurrentWeight(w.weightHH, training: true, stream: regularizerGenerator))
            }
        }
        guard runsVariantPath else {
            return FusedRecurrence.runDirections(kind: kind, input: input, layout: layout, h0: h0, c0: c0,
                                                 weights: layerWeights, lengths: lengths)
        }
        // Every direction's masks first, in order, so that running the directions together
        // draws what running them one after the other does.
        let variants = layerWeights.map { w in
            var variant = withMaskGenerator { generator in
                regularizers.variant(base: baseVariant, kind: kind, layout: layout, hidden: hiddenSize, training: training,
                                     using: &generator)
            }
            variant.peepholes = w.peepholes
            return variant
        }
        let together = FusedRecurrence.directionsRunTogether(kind: kind, layout: layout, weights: layerWeights)
        return FusedRecurrence.runDirections(layerWeights.count, together: together) { d, gradMode, pending in
            FusedVariantRecurrence.run(kind: kind, input: input, layout: layout, reverse: d == 1, h0: h0[d], c0: c0[d],
                                       weights: layerWeights[d], variant: variants[d], lengths: lengths, gradMode: gradMode,
                                       pending: pending)
        }
    }
}
