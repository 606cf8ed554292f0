import Foundation

/// NAdam (`torch.optim.NAdam`, Dozat): Adam with Nesterov momentum and a momentum schedule,
/// with PyTorch's single-tensor update: at step `t` of a parameter,
///
/// ```
/// decoupled: p = p · (1 − lr · weightDecay)    otherwise: d = g + weightDecay · p
/// μₜ = β₁ (1 − ½ · 0.96^(t · momentumDecay)),   μₜ₊₁ likewise,   Πₜ = Πₜ₋₁ · μₜ
/// m = lerp(m, d, 1 − β₁);   v = β₂ v + (1 − β₂) d²
/// denom = √(v / (1 − β₂ᵗ)) + eps
/// p = p − lr (1 − μₜ) / (1 − Πₜ) · d / denom − lr μₜ₊₁ / (1 − Πₜ μₜ₊₁) · m / denom
/// ```
///
/// The product `Πₜ` is kept in `Float`, as PyTorch's `mu_product`; it depends only on the
/// step count and is recomputed from it when a state is loaded. Parameter groups
/// (``ParameterGroup``) may set their own `lr` and `weightDecay`.
public final class NAdam: GroupedOptimizer {
    /// The decay rates (β₁, β₂) of the first and second moment estimates.
    public internal(set) var betas: (Float, Float)
    /// The term added to the denominator for numerical stability.
    public private(set) var eps: Float
    /// The momentum schedule's decay (PyTorch's `momentum_decay`).
    public private(set) var momentumDecay: Float
    /// Whether the weight decay is decoupled (AdamW-style) rather than an L2 penalty.
    public private(set) var decoupledWeightDecay: Bool
    var groups: GroupTable
    let slots: OptimizerSlots
    /// `Πₜ` of each parameter at its current step.
    private var muProducts: [Float]

    /// A NAdam optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 2e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 0, momentumDecay: Float = 4e-3,
                            decoupledWeightDecay: Bool = false) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, betas: betas, eps: eps, weightDecay: weightDecay,
                      momentumDecay: momentumDecay, decoupledWeightDecay: decoupledWeightDecay)
    }

    /// A NAdam optimizer over parameter groups; `lr` and `weightDecay` are the defaults of
    /// the groups that do not set their own.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, a weight decay,
    ///   `eps` or `momentumDecay` is negative or not finite, a beta is outside `[0, 1)`, a
    ///   group is empty, or a parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 2e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0, momentumDecay: Float = 4e-3,
                decoupledWeightDecay: Bool = false) throws {
        try AdamKernel.validate("NAdam", lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        try OptimizerCheck.require(momentumDecay >= 0 && momentumDecay.isFinite, "NAdam", "momentumDecay",
                                   expected: "≥ 0", momentumDecay)
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "NAdam")
        self.betas = betas
        self.eps = eps
        self.momentumDecay = momentumDecay
        self.decoupledWeightDecay = decoupledWeightDecay
        slots = OptimizerSlots(names: ["exp_avg", "exp_avg_sq"], parameters: self.groups.parameters)
        muProducts = Array(repeating: 1, count: self.groups.parameters.count)
    }

    /// `μₜ` for the current betas and momentum decay.
    private func momentum(at t: Int) -> Double {
        Double(betas.0) * (1 - 0.5 * Foundation.pow(0.96, Double(t) * Double(momentumDecay)))
    }

    /// One NAdam update of every parameter that has a gradient.
    public func step() {
        let beta1 = Double(betas.0), oneMinusBeta1 = Float(1 - beta1)
        let beta2 = betas.1, oneMinusBeta2 = Float(1 - Double(beta2)), eps = eps
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            slots.prepare(i)
            slots.steps[i] += 1
            let t = slots.steps[i], lr = Double(groups.learningRate(i)), wd = groups.weightDecay(i)
            let correction2 = Float(1 - Foundation.pow(Double(beta2), Double(t)))
            let mu = momentum(at: t), muNext = momentum(at: t + 1)
            muProducts[i] *= Float(mu)
            let product = Double(muProducts[i])
            let gradStep = Float(-lr * (1 - mu) / (1 - product))
            let momentumStep = Float(-lr * muNext / (1 - product * muNext))
            let p = parameter.storage.pointer, g = grad.storage.pointer
            let m = slots.buffers[0][i]!.pointer, v = slots.buffers[1][i]!.pointer
            let coupled: Float = decoupledWeightDecay ? 0 : wd
            if decoupledWeightDecay && wd != 0 {
                let factor = Float(1 - lr * Double(wd))
                for j in 0..<parameter.count { p[j] *= factor }
            }
            for j in 0..<parameter.count {
                let d = coupled == 0 ? g[j] : g[j] + coupled * p[j]
                m[j] = OptimizerCheck.lerp(m[j], d, oneMinusBeta1)
                v[j] = v[j] * beta2 + oneMinusBeta2 * d * d
                let denom = (v[j] / correction2).squareRoot() + eps
                p[j] += gradStep * d / denom
                p[j] += momentumStep * m[j] / denom
            }
        }
    }

    private var options: [String: Double] {
        ["betas.0": Double(betas.0), "betas.1": Double(betas.1), "eps": Double(eps),
         "momentum_decay": Double(momentumDecay), "decoupled_weight_decay": decoupledWeightDecay ? 1 : 0]
    }

    /// The moment estimates (`exp_avg`, `exp_avg_sq`), step counts, and every group's
    /// hyperparameters.
    public var state: OptimizerState {
        OptimizerState(optimizer: "NAdam", learningRate: learningRate, parameters: slots.export(),
                       groups: groups.export(options))
    }

    /// Restores a state taken from ``state``; its groups' hyperparameters replace this
    /// optimizer's. See ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        let (settings, h) = try groups.restored(from: state, kind: "NAdam", known: Set(options.keys))
        let beta1 = try h.float("betas.0", or: betas.0, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let beta2 = try h.float("betas.1", or: betas.1, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let eps = try h.float("eps", or: eps, "≥ 0") { $0 >= 0 }
        let momentumDecay = try h.float("momentum_decay", or: momentumDecay, "≥ 0") { $0 >= 0 }
        let decoupled = try h.float("decoupled_weight_decay", or: decoupledWeightDecay ? 1 : 0, "0 or 1") { $0 == 0 || $0 == 1 }
        try slots.load(state, kind: "NAdam")
        groups.settings = settings
        (betas, self.eps, self.momentumDecay, decoupledWeightDecay) = ((beta1, beta2), eps, momentumDecay, decoupled == 1)
        muProducts = slots.steps.map { steps in
            var product: Float = 1
            for t in stride(from: 1, through: steps, by: 1) { product *= Float(momentum(at: t)) }
            return product
        }
    }
}
