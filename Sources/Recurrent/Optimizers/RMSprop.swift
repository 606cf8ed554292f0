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
///
/// Parameter groups (``ParameterGroup``) may set their own `lr` and `weightDecay`.
public final class RMSprop: GroupedOptimizer {
    /// The smoothing constant α of the running average of squared gradients.
    public private(set) var alpha: Float
    /// The term added to the denominator for numerical stability.
    public private(set) var eps: Float
    /// The momentum factor (0: none).
    public internal(set) var momentum: Float
    /// Whether to normalise by the estimated variance (subtracting the squared running mean
    /// of the gradients).
    public let centered: Bool
    var groups: GroupTable
    let slots: OptimizerSlots

    /// An RMSprop optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 1e-2, alpha: Float = 0.99, eps: Float = 1e-8,
                            weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, alpha: alpha, eps: eps, weightDecay: weightDecay,
                      momentum: momentum, centered: centered)
    }

    /// An RMSprop optimizer over parameter groups; `lr` and `weightDecay` are the defaults of
    /// the groups that do not set their own.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, `alpha`, `eps`, a
    ///   weight decay or `momentum` is negative or not finite, a group is empty, or a
    ///   parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 1e-2, alpha: Float = 0.99, eps: Float = 1e-8,
                weightDecay: Float = 0, momentum: Float = 0, centered: Bool = false) throws {
        try OptimizerCheck.require(lr >= 0 && lr.isFinite, "RMSprop", "lr", expected: "≥ 0", lr)
        try OptimizerCheck.require(alpha >= 0 && alpha.isFinite, "RMSprop", "alpha", expected: "≥ 0", alpha)
        try OptimizerCheck.require(eps >= 0 && eps.isFinite, "RMSprop", "eps", expected: "≥ 0", eps)
        try OptimizerCheck.require(weightDecay >= 0 && weightDecay.isFinite, "RMSprop", "weightDecay", expected: "≥ 0", weightDecay)
        try OptimizerCheck.require(momentum >= 0 && momentum.isFinite, "RMSprop", "momentum", expected: "≥ 0", momentum)
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "RMSprop")
        self.alpha = alpha
        self.eps = eps
        self.momentum = momentum
        self.centered = centered
        var names = ["square_avg"]
        if momentum > 0 { names.append("momentum_buffer") }
        if centered { names.append("grad_avg") }
        slots = OptimizerSlots(names: names, parameters: self.groups.parameters)
    }

    /// One RMSprop update of every parameter that has a gradient.
    public func step() {
        let alpha = alpha, oneMinusAlpha = Float(1 - Double(alpha)), eps = eps
        let mu = momentum, centered = centered
        let momentumIndex = 1, averageIndex = mu > 0 ? 2 : 1
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            let lr = groups.learningRate(i), wd = groups.weightDecay(i)
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

    private var options: [String: Double] {
        ["alpha": Double(alpha), "eps": Double(eps), "momentum": Double(momentum), "centered": centered ? 1 : 0]
    }

    /// The running averages (`square_avg`, `momentum_buffer` with momentum, `grad_avg` when
    /// centered), step counts, and every group's hyperparameters.
    public var state: OptimizerState {
        OptimizerState(optimizer: "RMSprop", learningRate: learningRate, parameters: slots.export(),
                       groups: groups.export(options))
    }

    /// Restores a state taken from ``state``; its groups' hyperparameters replace this
    /// optimizer's. See ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``; also when the state's `centered`, or
    ///   whether its momentum is 0, differs from this optimizer's (the buffers differ).
    public func loadState(_ state: OptimizerState) throws {
        let (settings, h) = try groups.restored(from: state, kind: "RMSprop", known: Set(options.keys))
        let alpha = try h.float("alpha", or: alpha, "≥ 0") { $0 >= 0 }
        let eps = try h.float("eps", or: eps, "≥ 0") { $0 >= 0 }
        let momentum = try h.float("momentum", or: momentum, "≥ 0") { $0 >= 0 }
        try h.requireFlag("centered", equals: centered)
        guard (momentum == 0) == (self.momentum == 0) else {
            throw TensorError.invalidArgument("RMSprop.loadState: the checkpoint was written with momentum \(momentum), but this RMSprop was built with momentum \(self.momentum); build it with a momentum that is also \(momentum == 0 ? "0" : "non-zero")")
        }
        try slots.load(state, kind: "RMSprop")
        groups.settings = settings
        (self.alpha, self.eps, self.momentum) = (alpha, eps, momentum)
    }
}
