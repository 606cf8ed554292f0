import Foundation

/// Adamax (`torch.optim.Adamax`, Kingma & Ba): Adam with the infinity norm, with PyTorch's
/// single-tensor update: at step `t` of a parameter,
///
/// ```
/// d = g + weightDecay · p
/// m = lerp(m, d, 1 − β₁)
/// u = max(β₂ · u, |d| + eps)
/// p = p − (lr / (1 − β₁ᵗ)) · m / u
/// ```
///
/// Parameter groups (``ParameterGroup``) may set their own `lr` and `weightDecay`.
public final class Adamax: GroupedOptimizer {
    /// The decay rates (β₁, β₂) of the first moment and of the infinity norm.
    public internal(set) var betas: (Float, Float)
    /// The term added to `|d|` for numerical stability.
    public private(set) var eps: Float
    var groups: GroupTable
    let slots: OptimizerSlots

    /// An Adamax optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 2e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 0) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
    }

    /// An Adamax optimizer over parameter groups; `lr` and `weightDecay` are the defaults of
    /// the groups that do not set their own.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, a weight decay or
    ///   `eps` is negative or not finite, a beta is outside `[0, 1)`, a group is empty, or a
    ///   parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 2e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0) throws {
        try AdamKernel.validate("Adamax", lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "Adamax")
        self.betas = betas
        self.eps = eps
        slots = OptimizerSlots(names: ["exp_avg", "exp_inf"], parameters: self.groups.parameters)
    }

    /// One Adamax update of every parameter that has a gradient.
    public func step() {
        let beta1 = Double(betas.0), oneMinusBeta1 = Float(1 - beta1), beta2 = betas.1, eps = eps
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            slots.prepare(i)
            slots.steps[i] += 1
            let lr = groups.learningRate(i), wd = groups.weightDecay(i)
            let clr = Float(Double(lr) / (1 - Foundation.pow(beta1, Double(slots.steps[i]))))
            let p = parameter.storage.pointer, g = grad.storage.pointer
            let m = slots.buffers[0][i]!.pointer, u = slots.buffers[1][i]!.pointer
            for j in 0..<parameter.count {
                let d = wd == 0 ? g[j] : g[j] + wd * p[j]
                m[j] = OptimizerCheck.lerp(m[j], d, oneMinusBeta1)
                let decayed = u[j] * beta2, magnitude = Swift.abs(d) + eps
                u[j] = decayed.isNaN || magnitude.isNaN ? .nan : Swift.max(decayed, magnitude)
                p[j] += -clr * m[j] / u[j]
            }
        }
    }

    private var options: [String: Double] {
        ["betas.0": Double(betas.0), "betas.1": Double(betas.1), "eps": Double(eps)]
    }

    /// The moment estimates (`exp_avg`), infinity norms (`exp_inf`), step counts, and every
    /// group's hyperparameters.
    public var state: OptimizerState {
        OptimizerState(optimizer: "Adamax", learningRate: learningRate, parameters: slots.export(),
                       groups: groups.export(options))
    }

    /// Restores a state taken from ``state``; its groups' hyperparameters replace this
    /// optimizer's. See ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        let (settings, h) = try groups.restored(from: state, kind: "Adamax", known: Set(options.keys))
        let beta1 = try h.float("betas.0", or: betas.0, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let beta2 = try h.float("betas.1", or: betas.1, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let eps = try h.float("eps", or: eps, "≥ 0") { $0 >= 0 }
        try slots.load(state, kind: "Adamax")
        groups.settings = settings
        (betas, self.eps) = ((beta1, beta2), eps)
    }
}
