import Foundation

/// RAdam (`torch.optim.RAdam`, Liu et al.): Adam with a rectified adaptive learning rate,
/// with PyTorch's single-tensor update: at step `t` of a parameter,
///
/// ```
/// decoupled: p = p · (1 − lr · weightDecay)    otherwise: d = g + weightDecay · p
/// m = lerp(m, d, 1 − β₁);   v = β₂ v + (1 − β₂) d²
/// ρ∞ = 2 / (1 − β₂) − 1;    ρₜ = ρ∞ − 2t β₂ᵗ / (1 − β₂ᵗ)
/// ρₜ > 5:  r = √((ρₜ − 4)(ρₜ − 2) ρ∞ / ((ρ∞ − 4)(ρ∞ − 2) ρₜ))
///          p = p − m / (1 − β₁ᵗ) · lr · √(1 − β₂ᵗ) / (√v + eps) · r
/// else:    p = p − m / (1 − β₁ᵗ) · lr
/// ```
///
/// Parameter groups (``ParameterGroup``) may set their own `lr` and `weightDecay`.
public final class RAdam: GroupedOptimizer {
    /// The decay rates (β₁, β₂) of the first and second moment estimates.
    public internal(set) var betas: (Float, Float)
    /// The term added to the denominator for numerical stability.
    public private(set) var eps: Float
    /// Whether the weight decay is decoupled (AdamW-style) rather than an L2 penalty.
    public private(set) var decoupledWeightDecay: Bool
    var groups: GroupTable
    let slots: OptimizerSlots

    /// A RAdam optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, betas: betas, eps: eps, weightDecay: weightDecay,
                      decoupledWeightDecay: decoupledWeightDecay)
    }

    /// A RAdam optimizer over parameter groups; `lr` and `weightDecay` are the defaults of
    /// the groups that do not set their own.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, a weight decay or
    ///   `eps` is negative or not finite, a beta is outside `[0, 1)`, a group is empty, or a
    ///   parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0, decoupledWeightDecay: Bool = false) throws {
        try AdamKernel.validate("RAdam", lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "RAdam")
        self.betas = betas
        self.eps = eps
        self.decoupledWeightDecay = decoupledWeightDecay
        slots = OptimizerSlots(names: ["exp_avg", "exp_avg_sq"], parameters: self.groups.parameters)
    }

    /// One RAdam update of every parameter that has a gradient.
    public func step() {
        let beta1 = Double(betas.0), oneMinusBeta1 = Float(1 - beta1)
        let beta2 = Double(betas.1), beta2f = betas.1, oneMinusBeta2 = Float(1 - beta2), eps = eps
        let rhoInfinity = 2 / (1 - beta2) - 1
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            slots.prepare(i)
            slots.steps[i] += 1
            let t = Double(slots.steps[i]), lr = groups.learningRate(i), wd = groups.weightDecay(i)
            let correction1 = Float(1 - Foundation.pow(beta1, t))
            let correction2 = 1 - Foundation.pow(beta2, t)
            let rho = rhoInfinity - 2 * t * Foundation.pow(beta2, t) / correction2
            let rectified = rho > 5
            let rect = rectified
                ? Float(((rho - 4) * (rho - 2) * rhoInfinity / ((rhoInfinity - 4) * (rhoInfinity - 2) * rho)).squareRoot()) : 0
            let sqrtCorrection2 = Float(correction2.squareRoot())
            let p = parameter.storage.pointer, g = grad.storage.pointer
            let m = slots.buffers[0][i]!.pointer, v = slots.buffers[1][i]!.pointer
            let coupled: Float = decoupledWeightDecay ? 0 : wd
            if decoupledWeightDecay && wd != 0 {
                let factor = Float(1 - Double(lr) * Double(wd))
                for j in 0..<parameter.count { p[j] *= factor }
            }
            for j in 0..<parameter.count {
                let d = coupled == 0 ? g[j] : g[j] + coupled * p[j]
                m[j] = OptimizerCheck.lerp(m[j], d, oneMinusBeta1)
                v[j] = v[j] * beta2f + oneMinusBeta2 * d * d
                let corrected = m[j] / correction1
                if rectified {
                    let adaptive = sqrtCorrection2 / (v[j].squareRoot() + eps)
                    p[j] += -(corrected * lr * adaptive * rect)
                } else {
                    p[j] += -(corrected * lr)
                }
            }
        }
    }

    private var options: [String: Double] {
        ["betas.0": Double(betas.0), "betas.1": Double(betas.1), "eps": Double(eps),
         "decoupled_weight_decay": decoupledWeightDecay ? 1 : 0]
    }

    /// The moment estimates (`exp_avg`, `exp_avg_sq`), step counts, and every group's
    /// hyperparameters.
    public var state: OptimizerState {
        OptimizerState(optimizer: "RAdam", learningRate: learningRate, parameters: slots.export(),
                       groups: groups.export(options))
    }

    /// Restores a state taken from ``state``; its groups' hyperparameters replace this
    /// optimizer's. See ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        let (settings, h) = try groups.restored(from: state, kind: "RAdam", known: Set(options.keys))
        let beta1 = try h.float("betas.0", or: betas.0, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let beta2 = try h.float("betas.1", or: betas.1, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let eps = try h.float("eps", or: eps, "≥ 0") { $0 >= 0 }
        let decoupled = try h.float("decoupled_weight_decay", or: decoupledWeightDecay ? 1 : 0, "0 or 1") { $0 == 0 || $0 == 1 }
        try slots.load(state, kind: "RAdam")
        groups.settings = settings
        (betas, self.eps, decoupledWeightDecay) = ((beta1, beta2), eps, decoupled == 1)
    }
}
