import LinearAlgebra

extension Tensor {
    /// Layer normalisation over the last dimensions (`torch.nn.functional.layer_norm`): each
    /// group of the trailing `normalizedShape` elements is shifted to mean 0 and scaled to
    /// variance 1 (the biased variance plus `eps`), then multiplied by `weight` and shifted by
    /// `bias` (both of shape `normalizedShape`, or `nil`).
    ///
    /// One fused node: the forward keeps each group's mean and `1/√(var + eps)`, and the
    /// backward computes the gradients of the input, `weight` and `bias` in one pass
    /// (`LayerNormKernel` in `LinearAlgebra`).
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the input's trailing dimensions are not
    ///   `normalizedShape` or `weight`/`bias` do not have that shape;
    ///   ``TensorError/invalidArgument(_:)`` for an empty `normalizedShape` or an `eps` that is
    ///   negative or not finite.
    public static func layerNorm(_ input: Tensor, normalizedShape: [Int], weight: Tensor? = nil, bias: Tensor? = nil,
                                 eps: Float = 1e-5) throws -> Tensor {
        guard !normalizedShape.isEmpty else {
            throw TensorError.invalidArgument("layerNorm: expected a non-empty normalizedShape")
        }
        guard eps >= 0, eps.isFinite else {
            throw TensorError.invalidArgument("layerNorm: expected a finite, non-negative eps, got \(eps)")
        }
        guard input.rank >= normalizedShape.count, Array(input.shape.suffix(normalizedShape.count)) == normalizedShape else {
            throw TensorError.shapeMismatch("layerNorm: expected an input of shape (*, \(normalizedShape.map(String.init).joined(separator: ", "))), got \(input.shape)")
        }
        for (name, t) in [("weight", weight), ("bias", bias)] {
            if let t, t.shape != normalizedShape {
                throw TensorError.shapeMismatch("layerNorm: expected a \(name) of shape \(normalizedShape), got \(t.shape)")
            }
        }
        let columns = normalizedShape.reduce(1, *)
        let rows = columns > 0 ? input.count / columns : 0
        let statistics = TensorBuffer(count: 2 * rows)
        let mean = statistics.pointer, rstd = statistics.pointer + rows
        let x = input.storage.pointer
        let w = weight?.storage.pointer, b = bias?.storage.pointer
        let storage = TensorBuffer(count: input.count) { y in
            LayerNormKernel.forward(x, rows: rows, columns: columns, weight: w, bias: b, eps: eps,
                                    into: y, mean: mean, rstd: rstd)
        }
        var inputs = [input]
        if let weight { inputs.append(weight) }
        if let bias { inputs.append(bias) }
        let weightSlot = weight == nil ? nil : 1, biasSlot = bias == nil ? nil : inputs.count - 1
        return result("LayerNormBackward", shape: input.shape, storage: storage, inputs: inputs,
                      recording: needsRecording(inputs)) { g, grads in
            withExtendedLifetime(statistics) {
                withUnsafeTemporaryAllocation(of: Float.self, capacity: Swift.max(2 * columns, 1)) { scratch in
                    LayerNormKernel.backward(g, x, rows: rows, columns: columns, weight: w, mean: mean, rstd: rstd,
                                             gradInput: grads[0], gradWeight: weightSlot.flatMap { grads[$0] },
                                             gradBias: biasSlot.flatMap { grads[$0] }, scratch: scratch.baseAddress!)
                }
            }
        }
    }
}
