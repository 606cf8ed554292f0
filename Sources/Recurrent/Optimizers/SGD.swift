/// Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and
/// L2 weight decay (`torch.optim.SGD`), with PyTorch's exact update:
///
/// ```
/// d = g + weightDecay · p
/// if momentum ≠ 0:
///     b = d                                   (first step)
///     b = momentum · b + (1 − dampening) · d  (later steps)
///     d = nesterov ? d + momentum · b : b
/// p = p − lr · d
/// ```
public final class SGD: Optimizer {
    /// The parameters updated by ``step()``.
    public let parameters: [Parameter]
    /// The learning rate.
    public var learningRate: Float
    /// The momentum factor (0: plain SGD).
    public let momentum: Float
    /// The dampening of the momentum (the new gradient is scaled by `1 − dampening`).
    public let dampening: Float
    /// The L2 penalty added to the gradient, `weightDecay · p`.
    public let weightDecay: Float
    /// Whether to use Nesterov momentum.
    public let nesterov: Bool
    let slots: OptimizerSlots

    /// An SGD optimizer over `parameters` (PyTorch's defaults).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `lr`, `momentum` or `weightDecay`
    ///   is negative or not finite, when `nesterov` is set without a positive momentum and
    ///   zero dampening, or when a parameter appears twice.
    public init(_ parameters: [Parameter], lr: Float = 1e-3, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) throws {
        try OptimizerCheck.require(lr >= 0 && lr.isFinite, "SGD", "lr", expected: "≥ 0", lr)
        try OptimizerCheck.require(momentum >= 0 && momentum.isFinite, "SGD", "momentum", expected: "≥ 0", momentum)
        try OptimizerCheck.require(dampening.isFinite, "SGD", "dampening", expected: "finite", dampening)
        try OptimizerCheck.require(weightDecay >= 0 && weightDecay.isFinite, "SGD", "weightDecay", expected: "≥ 0", weightDecay)
        if nesterov {
            try OptimizerCheck.require(momentum > 0 && dampening == 0, "SGD", "momentum and dampening for nesterov",
                                       expected: "momentum > 0 and dampening 0", "momentum \(momentum), dampening \(dampening)")
        }
        try OptimizerCheck.distinct(parameters, "SGD")
        self.parameters = parameters
        self.learningRate = lr
        self.momentum = momentum
        self.dampening = dampening
        self.weightDecay = weightDecay
        self.nesterov = nesterov
        slots = OptimizerSlots(names: momentum != 0 ? ["momentum_buffer"] : [], parameters: parameters)
    }

    /// One SGD update of every parameter that has a gradient.
    public func step() {
        let lr = learningRate, wd = weightDecay, mu = momentum, keep = Float(1 - Double(dampening)), nesterov = nesterov
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            let first = slots.prepare(i)
            slots.steps[i] += 1
            let p = parameter.storage.pointer, g = grad.storage.pointer, n = parameter.count
            if mu == 0 {
                if wd == 0 {
                    // p ← p − lr·g, on BLAS's AVX2 kernel (the tutorial's update after every
                    // name), on one thread for all but huge parameters: OpenBLAS splits an
                    // axpy over 10,000 elements between its threads, and waking them costs
                    // more than the update.
                    let opened = FusedRecurrence.singleThreadedSteps(multiplyAdds: n)
                    BLAS.axpy(count: n, alpha: -lr, UnsafePointer(g), p)
                    FusedRecurrence.restoreThreads(opened)
                } else {
                    for j in 0..<n { p[j] += -lr * (g[j] + wd * p[j]) }
                }
                continue
            }
            let b = slots.buffers[0][i]!.pointer
            for j in 0..<n {
                let d = wd == 0 ? g[j] : g[j] + wd * p[j]
                b[j] = first ? d : mu * b[j] + keep * d
                p[j] += -lr * (nesterov ? d + mu * b[j] : b[j])
            }
        }
    }

    /// The momentum buffers (`momentum_buffer`, when momentum ≠ 0) and step counts.
    public var state: OptimizerState {
        OptimizerState(optimizer: "SGD", learningRate: learningRate, parameters: slots.export())
    }

    /// Restores a state taken from ``state``; see ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        try slots.load(state, kind: "SGD")
        learningRate = state.learningRate
    }
}
