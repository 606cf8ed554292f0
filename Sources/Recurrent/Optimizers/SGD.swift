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
///
/// Parameter groups (``ParameterGroup``) may set their own `lr` and `weightDecay`.
public final class SGD: GroupedOptimizer {
    /// The momentum factor (0: plain SGD).
    public internal(set) var momentum: Float
    /// The dampening of the momentum (the new gradient is scaled by `1 − dampening`).
    public private(set) var dampening: Float
    /// Whether to use Nesterov momentum.
    public private(set) var nesterov: Bool
    var groups: GroupTable
    let slots: OptimizerSlots

    /// An SGD optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 1e-3, momentum: Float = 0, dampening: Float = 0,
                            weightDecay: Float = 0, nesterov: Bool = false) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, momentum: momentum, dampening: dampening,
                      weightDecay: weightDecay, nesterov: nesterov)
    }

    /// An SGD optimizer over parameter groups; `lr` and `weightDecay` are the defaults of the
    /// groups that do not set their own.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, `momentum` or a
    ///   weight decay is negative or not finite, when `nesterov` is set without a positive
    ///   momentum and zero dampening, when a group is empty, or when a parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 1e-3, momentum: Float = 0, dampening: Float = 0,
                weightDecay: Float = 0, nesterov: Bool = false) throws {
        try OptimizerCheck.require(lr >= 0 && lr.isFinite, "SGD", "lr", expected: "≥ 0", lr)
        try OptimizerCheck.require(momentum >= 0 && momentum.isFinite, "SGD", "momentum", expected: "≥ 0", momentum)
        try OptimizerCheck.require(dampening.isFinite, "SGD", "dampening", expected: "finite", dampening)
        try OptimizerCheck.require(weightDecay >= 0 && weightDecay.isFinite, "SGD", "weightDecay", expected: "≥ 0", weightDecay)
        if nesterov {
            try OptimizerCheck.require(momentum > 0 && dampening == 0, "SGD", "momentum and dampening for nesterov",
                                       expected: "momentum > 0 and dampening 0", "momentum \(momentum), dampening \(dampening)")
        }
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "SGD")
        self.momentum = momentum
        self.dampening = dampening
        self.nesterov = nesterov
        slots = OptimizerSlots(names: momentum != 0 ? ["momentum_buffer"] : [], parameters: self.groups.parameters)
    }

    /// One SGD update of every parameter that has a gradient.
    public func step() {
        let mu = momentum, keep = Float(1 - Double(dampening)), nesterov = nesterov
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            let lr = groups.learningRate(i), wd = groups.weightDecay(i)
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

    private var options: [String: Double] {
        ["momentum": Double(momentum), "dampening": Double(dampening), "nesterov": nesterov ? 1 : 0]
    }

    /// The momentum buffers (`momentum_buffer`, when momentum ≠ 0), step counts, and every
    /// group's hyperparameters.
    public var state: OptimizerState {
        OptimizerState(optimizer: "SGD", learningRate: learningRate, parameters: slots.export(),
                       groups: groups.export(options))
    }

    /// Restores a state taken from ``state``; its groups' hyperparameters replace this
    /// optimizer's. See ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``; also when the state's momentum is 0 and
    ///   this optimizer's is not, or the reverse (the momentum buffers differ).
    public func loadState(_ state: OptimizerState) throws {
        let (settings, h) = try groups.restored(from: state, kind: "SGD", known: Set(options.keys))
        let momentum = try h.float("momentum", or: momentum, "≥ 0") { $0 >= 0 }
        let dampening = try h.float("dampening", or: dampening, "finite") { _ in true }
        let nesterov = try h.float("nesterov", or: nesterov ? 1 : 0, "0 or 1") { $0 == 0 || $0 == 1 } == 1
        guard (momentum == 0) == (self.momentum == 0) else {
            throw TensorError.invalidArgument("SGD.loadState: the checkpoint was written with momentum \(momentum), but this SGD was built with momentum \(self.momentum); build it with a momentum that is also \(momentum == 0 ? "0" : "non-zero")")
        }
        if nesterov {
            try OptimizerCheck.require(momentum > 0 && dampening == 0, "SGD.loadState", "momentum and dampening for nesterov",
                                       expected: "momentum > 0 and dampening 0", "momentum \(momentum), dampening \(dampening)")
        }
        try slots.load(state, kind: "SGD")
        groups.settings = settings
        (self.momentum, self.dampening, self.nesterov) = (momentum, dampening, nesterov)
    }
}
