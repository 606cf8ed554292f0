import Foundation

/// Adam (`torch.optim.Adam`, Kingma & Ba), with PyTorch's single-tensor update: at step `t`,
///
/// ```
/// d = g + weightDecay · p                      (L2 penalty, coupled)
/// m = lerp(m, d, 1 − β₁)                       (= β₁ m + (1 − β₁) d)
/// v = β₂ v + (1 − β₂) d²
/// v̂ = amsgrad ? (vmax = max(vmax, v)) : v
/// denom = √v̂ / √(1 − β₂ᵗ) + eps
/// p = p − (lr / (1 − β₁ᵗ)) · m / denom
/// ```
///
/// Note where `eps` sits: it is added *after* the bias correction of `√v`, as in PyTorch.
/// ``AdamW`` is the same with decoupled weight decay.
public final class Adam: Optimizer {
    /// The parameters updated by ``step()``.
    public let parameters: [Parameter]
    /// The learning rate.
    public var learningRate: Float
    /// The decay rates (β₁, β₂) of the first and second moment estimates.
    public let betas: (Float, Float)
    /// The term added to the denominator for numerical stability.
    public let eps: Float
    /// The L2 penalty added to the gradient, `weightDecay · p`.
    public let weightDecay: Float
    /// Whether to use the AMSGrad variant (the running maximum of `v`).
    public let amsgrad: Bool
    let slots: OptimizerSlots

    /// An Adam optimizer over `parameters` (PyTorch's defaults).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `lr`, `eps` or `weightDecay` is
    ///   negative or not finite, a beta is outside `[0, 1)`, or a parameter appears twice.
    public init(_ parameters: [Parameter], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false) throws {
        try AdamKernel.validate("Adam", lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        try OptimizerCheck.distinct(parameters, "Adam")
        self.parameters = parameters
        self.learningRate = lr
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        slots = OptimizerSlots(names: AdamKernel.bufferNames(amsgrad: amsgrad), parameters: parameters)
    }

    /// One Adam update of every parameter that has a gradient.
    public func step() {
        AdamKernel.step(parameters, slots, lr: learningRate, betas: betas, eps: eps,
                        weightDecay: weightDecay, decoupled: false, amsgrad: amsgrad)
    }

    /// The moment estimates (`exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with amsgrad)
    /// and step counts.
    public var state: OptimizerState {
        OptimizerState(optimizer: "Adam", learningRate: learningRate, parameters: slots.export())
    }

    /// Restores a state taken from ``state``; see ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        try slots.load(state, kind: "Adam")
        learningRate = state.learningRate
    }
}

/// AdamW (`torch.optim.AdamW`, Loshchilov & Hutter): ``Adam`` with decoupled weight decay —
/// before the Adam update, `p = p · (1 − lr · weightDecay)`, and the gradient itself is not
/// penalised. PyTorch's default `weightDecay` is 0.01.
public final class AdamW: Optimizer {
    /// The parameters updated by ``step()``.
    public let parameters: [Parameter]
    /// The learning rate.
    public var learningRate: Float
    /// The decay rates (β₁, β₂) of the first and second moment estimates.
    public let betas: (Float, Float)
    /// The term added to the denominator for numerical stability.
    public let eps: Float
    /// The decoupled weight decay coefficient.
    public let weightDecay: Float
    /// Whether to use the AMSGrad variant.
    public let amsgrad: Bool
    let slots: OptimizerSlots

    /// An AdamW optimizer over `parameters` (PyTorch's defaults).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `lr`, `eps` or `weightDecay` is
    ///   negative or not finite, a beta is outside `[0, 1)`, or a parameter appears twice.
    public init(_ parameters: [Parameter], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false) throws {
        try AdamKernel.validate("AdamW", lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        try OptimizerCheck.distinct(parameters, "AdamW")
        self.parameters = parameters
        self.learningRate = lr
        self.betas = betas
        self.eps = eps
        self.weightDecay = weightDecay
        self.amsgrad = amsgrad
        slots = OptimizerSlots(names: AdamKernel.bufferNames(amsgrad: amsgrad), parameters: parameters)
    }

    /// One AdamW update of every parameter that has a gradient.
    public func step() {
        AdamKernel.step(parameters, slots, lr: learningRate, betas: betas, eps: eps,
                        weightDecay: weightDecay, decoupled: true, amsgrad: amsgrad)
    }

    /// The moment estimates (`exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with amsgrad)
    /// and step counts.
    public var state: OptimizerState {
        OptimizerState(optimizer: "AdamW", learningRate: learningRate, parameters: slots.export())
    }

    /// Restores a state taken from ``state``; see ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        try slots.load(state, kind: "AdamW")
        learningRate = state.learningRate
    }
}

/// The update shared by ``Adam`` and ``AdamW``.
enum AdamKernel {
    static func bufferNames(amsgrad: Bool) -> [String] {
        amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"]
    }

    static func validate(_ name: String, lr: Float, betas: (Float, Float), eps: Float, weightDecay: Float) throws {
        try OptimizerCheck.require(lr >= 0 && lr.isFinite, name, "lr", expected: "≥ 0", lr)
        try OptimizerCheck.require(eps >= 0 && eps.isFinite, name, "eps", expected: "≥ 0", eps)
        try OptimizerCheck.require(betas.0 >= 0 && betas.0 < 1, name, "betas.0", expected: "in [0, 1)", betas.0)
        try OptimizerCheck.require(betas.1 >= 0 && betas.1 < 1, name, "betas.1", expected: "in [0, 1)", betas.1)
        try OptimizerCheck.require(weightDecay >= 0 && weightDecay.isFinite, name, "weightDecay", expected: "≥ 0", weightDecay)
    }

    /// One step over every parameter with a gradient. The scalar factors are computed in
    /// `Double` and rounded to `Float`, as PyTorch does with its Python-float scalars.
    static func step(_ parameters: [Parameter], _ slots: OptimizerSlots, lr: Float, betas: (Float, Float),
                     eps: Float, weightDecay: Float, decoupled: Bool, amsgrad: Bool) {
        let beta1 = Double(betas.0), beta2 = Double(betas.1)
        let oneMinusBeta1 = Float(1 - beta1), beta2f = betas.1, oneMinusBeta2 = Float(1 - beta2)
        let coupledDecay = decoupled ? 0 : weightDecay
        let decayFactor = Float(1 - Double(lr) * Double(weightDecay))
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            slots.prepare(i)
            slots.steps[i] += 1
            let t = Double(slots.steps[i])
            let stepSize = Float(Double(lr) / (1 - Foundation.pow(beta1, t)))
            let correction2 = Float((1 - Foundation.pow(beta2, t)).squareRoot())
            let p = parameter.storage.pointer, g = grad.storage.pointer, n = parameter.count
            let m = slots.buffers[0][i]!.pointer, v = slots.buffers[1][i]!.pointer
            let vmax = amsgrad ? slots.buffers[2][i]!.pointer : v
            if decoupled && weightDecay != 0 {
                for j in 0..<n { p[j] *= decayFactor }
            }
            for j in 0..<n {
                let d = coupledDecay == 0 ? g[j] : g[j] + coupledDecay * p[j]
                m[j] = OptimizerCheck.lerp(m[j], d, oneMinusBeta1)
                v[j] = v[j] * beta2f + oneMinusBeta2 * d * d
                var second = v[j]
                if amsgrad {
                    vmax[j] = Swift.max(vmax[j], v[j])
                    second = vmax[j]
                }
                let denom = second.squareRoot() / correction2 + eps
                p[j] += -stepSize * m[j] / denom
            }
        }
    }
}
