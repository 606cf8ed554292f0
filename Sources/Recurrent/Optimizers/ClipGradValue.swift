/// Clamps every gradient element of `parameters` to `[−clipValue, clipValue]`, in place
/// (`torch.nn.utils.clip_grad_value_`). Parameters without a gradient are skipped; NaN
/// elements stay NaN, as with `torch.clamp`.
///
/// - Parameters:
///   - parameters: the parameters whose `grad` is clipped.
///   - clipValue: the largest magnitude allowed, ≥ 0.
/// - Throws: ``TensorError/invalidArgument(_:)`` when `clipValue` is negative or NaN
///   (nothing changes then).
public func clipGradValue(_ parameters: [Parameter], clipValue: Float) throws {
    guard clipValue >= 0 else {
        throw TensorError.invalidArgument("clipGradValue: expected clipValue ≥ 0, got \(clipValue)")
    }
    for g in parameters.compactMap(\.grad) {
        let x = g.storage.pointer
        for i in 0..<g.count where !x[i].isNaN { x[i] = Swift.min(Swift.max(x[i], -clipValue), clipValue) }
    }
}
