/// RMSprop (`torch.optim.RMSprop`, Hinton), with PyTorch's single-tensor update:
///
/// ```
/// d = g + weightDecay · p
/// s = α s + (1 − α) d²
/// centered:  a = lerp(a, d, 1 − α);  avg = √(s − a²) + eps
/// otherwise: avg = √s + eps
/// momentum > 0: b = momentum · b + d / avg;  p = p − lr · b
/// otherwise:    p = p − lr · d / avg
/// ```
public final class RMSprop: Optimizer {
    /// The parameters updated by ``step()``.
    public let parameters: [Parameter]
    /// The learning rate.
    public var learningRate: Float
    /// The smoothing constant α of the running average of squared gradients.
    public let alpha: Float
    /// The term added to the denominator for numerical stability.
    public let eps: Float
    /// The L2 penalty added to the gradient, `weightDecay · p`.
    public let weightDecay: Float
    /// The momentum factor (0: none).
    public let momentum: Float
    /// Whether to normalise by the estimated variance (subtracting the squared running mean
    /// of the gradients).
    public let centered: Bool
    let slots: OptimizerSlots

    /// An RMSprop optimizer over `parameters` (PyTorch's defaults).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `lr`, `alpha`, `eps`, `weightDecay`
    ///   or `momentum` is negative or not finite, or a parameter appears twice.
    public init(_ parameters: [Parameter], lr: Float = 1e-2, alpha: Float = 0.99, eps: Float = 1e-8,
                weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false) throws {
        try OptimizerCheck.require(lr >= 0 && lr.isFinite, "RMSprop", "lr", expected: "≥ 0", lr)
        try OptimizerCheck.require(alpha >= 0 && alpha.isFinite, "RMSprop", "alpha", expected: "≥ 0", alpha)
        try OptimizerCheck.require(eps >= 0 && eps.isFinite, "RMSprop", "eps", expected: "≥ 0", eps)
        try OptimizerCheck.require(weightDecay >= 0 && weightDecay.isFinite, "RMSprop", "weightDecay", expected: "≥ 0", weightDecay)
        try OptimizerCheck.require(momentum >= 0 && momentum.isFinite, "RMSprop", "momentum", expected: "≥ 0", momentum)
        try OptimizerCheck.distinct(parameters, "RMSprop")
        self.parameters = parameters
        self.learningRate = lr
        self.alpha = alpha
        self.eps = eps
        self.weightDecay = weightDecay
        self.momentum = momentum
        self.centered = centered
        var names = ["square_avg"]
        if momentum > 0 { names.append("momentum_buffer") }
        if centered { names.append("grad_avg") }
        slots = OptimizerSlots(names: names, parameters: parameters)
    }

    /// One RMSprop update of every parameter that has a gradient.
    public func step() {
        let lr = learningRate, alpha = alpha, oneMinusAlpha = Float(1 - Double(alpha)), eps = eps
        let wd = weightDecay, mu = momentum, centered = centered
        let momentumIndex = 1, averageIndex = mu > 0 ? 2 : 1
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            slots.prepare(i)
            slots.steps[i] += 1
            let p = parameter.storage.pointer, g = grad.storage.pointer, n = parameter.count
            let s = slots.buffers[0][i]!.pointer
            let b = mu > 0 ? slots.buffers[momentumIndex][i]!.pointer : s
            let a = centered ? slots.buffers[averageIndex][i]!.pointer : s
            for j in 0..<n {
                let d = wd == 0 ? g[j] : g[j] + wd * p[j]
                s[j] = s[j] * alpha + oneMinusAlpha * d * d
                var avg: Float
                if centered {
                    a[j] = OptimizerCheck.lerp(a[j], d, oneMinusAlpha)
                    avg = (s[j] + -1 * a[j] * a[j]).squareRoot()
                } else {
                    avg = s[j].squareRoot()
                }
                avg += eps
                if mu > 0 {
                    b[j] = b[j] * mu + d / avg
                    p[j] += -lr * b[j]
                } else {
                    p[j] += -lr * d / avg
                }
            }
        }
    }

    /// The running averages (`square_avg`, `momentum_buffer` with momentum, `grad_avg` when
    /// centered) and step counts.
    public var state: OptimizerState {
        OptimizerState(optimizer: "RMSprop", learningRate: learningRate, parameters: slots.export())
    }

    /// Restores a state taken from ``state``; see ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        try slots.load(state, kind: "RMSprop")
        learningRate = state.learningRate
    }
}
