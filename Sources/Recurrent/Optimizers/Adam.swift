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
public final class Adam: AdamFamily {
    /// The decay rates (β₁, β₂) of the first and second moment estimates.
    public internal(set) var betas: (Float, Float)
    /// The term added to the denominator for numerical stability.
    public internal(set) var eps: Float
    /// Whether to use the AMSGrad variant (the running maximum of `v`).
    public let amsgrad: Bool
    var groups: GroupTable
    let slots: OptimizerSlots

    /// An Adam optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// An Adam optimizer over parameter groups; `lr` and `weightDecay` are the defaults of
    /// the groups that do not set their own.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, `eps` or a weight
    ///   decay is negative or not finite, a beta is outside `[0, 1)`, a group is empty, or a
    ///   parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 0, amsgrad: Bool = false) throws {
        try AdamKernel.validate("Adam", lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "Adam")
        self.betas = betas
        self.eps = eps
        self.amsgrad = amsgrad
        slots = OptimizerSlots(names: AdamKernel.bufferNames(amsgrad: amsgrad), parameters: self.groups.parameters)
    }

    static let kind = "Adam", decoupled = false
}

/// AdamW (`torch.optim.AdamW`, Loshchilov & Hutter): ``Adam`` with decoupled weight decay —
/// before the Adam update, `p = p · (1 − lr · weightDecay)`, and the gradient itself is not
/// penalised. PyTorch's default `weightDecay` is 0.01.
public final class AdamW: AdamFamily {
    /// The decay rates (β₁, β₂) of the first and second moment estimates.
    public internal(set) var betas: (Float, Float)
    /// The term added to the denominator for numerical stability.
    public internal(set) var eps: Float
    /// Whether to use the AMSGrad variant.
    public let amsgrad: Bool
    var groups: GroupTable
    let slots: OptimizerSlots

    /// An AdamW optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                            eps: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, betas: betas, eps: eps, weightDecay: weightDecay, amsgrad: amsgrad)
    }

    /// An AdamW optimizer over parameter groups; `lr` and `weightDecay` are the defaults of
    /// the groups that do not set their own.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, `eps` or a weight
    ///   decay is negative or not finite, a beta is outside `[0, 1)`, a group is empty, or a
    ///   parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 1e-3, betas: (Float, Float) = (0.9, 0.999),
                eps: Float = 1e-8, weightDecay: Float = 1e-2, amsgrad: Bool = false) throws {
        try AdamKernel.validate("AdamW", lr: lr, betas: betas, eps: eps, weightDecay: weightDecay)
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "AdamW")
        self.betas = betas
        self.eps = eps
        self.amsgrad = amsgrad
        slots = OptimizerSlots(names: AdamKernel.bufferNames(amsgrad: amsgrad), parameters: self.groups.parameters)
    }

    static let kind = "AdamW", decoupled = true
}

/// ``Adam`` and ``AdamW``: one update, state and restore for both, which differ in how the
/// weight decay applies.
protocol AdamFamily: GroupedOptimizer {
    /// The optimizer's name in its ``OptimizerState``.
    static var kind: String { get }
    /// Whether the weight decay is decoupled (AdamW) rather than an L2 penalty (Adam).
    static var decoupled: Bool { get }
    var betas: (Float, Float) { get set }
    var eps: Float { get set }
    var amsgrad: Bool { get }
    var slots: OptimizerSlots { get }
}

extension AdamFamily {
    /// One update of every parameter that has a gradient.
    public func step() {
        AdamKernel.step(groups, slots, betas: betas, eps: eps, decoupled: Self.decoupled, amsgrad: amsgrad)
    }

    /// The moment estimates (`exp_avg`, `exp_avg_sq`, and `max_exp_avg_sq` with amsgrad),
    /// step counts, and every group's hyperparameters.
    public var state: OptimizerState {
        OptimizerState(optimizer: Self.kind, learningRate: learningRate, parameters: slots.export(),
                       groups: groups.export(AdamKernel.options(betas: betas, eps: eps, amsgrad: amsgrad)))
    }

    /// Restores a state taken from ``state``; its groups' hyperparameters replace this
    /// optimizer's. See ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``; also when the state's `amsgrad` differs
    ///   from this optimizer's (the buffers differ).
    public func loadState(_ state: OptimizerState) throws {
        (betas, eps) = try AdamKernel.load(state, Self.kind, &groups, slots, betas: betas, eps: eps, amsgrad: amsgrad)
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

    /// The optimizer-wide hyperparameters for ``OptimizerState/Group``.
    static func options(betas: (Float, Float), eps: Float, amsgrad: Bool) -> [String: Double] {
        ["betas.0": Double(betas.0), "betas.1": Double(betas.1), "eps": Double(eps), "amsgrad": amsgrad ? 1 : 0]
    }

    /// Checks and loads `state` into `groups` and `slots`; returns the betas and eps to use.
    static func load(_ state: OptimizerState, _ kind: String, _ groups: inout GroupTable, _ slots: OptimizerSlots,
                     betas: (Float, Float), eps: Float, amsgrad: Bool) throws -> ((Float, Float), Float) {
        let known = Set(options(betas: betas, eps: eps, amsgrad: amsgrad).keys)
        let (settings, h) = try groups.restored(from: state, kind: kind, known: known)
        let beta1 = try h.float("betas.0", or: betas.0, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let beta2 = try h.float("betas.1", or: betas.1, "in [0, 1)") { $0 >= 0 && $0 < 1 }
        let eps = try h.float("eps", or: eps, "≥ 0") { $0 >= 0 }
        try h.requireFlag("amsgrad", equals: amsgrad)
        try slots.load(state, kind: kind)
        groups.settings = settings
        return ((beta1, beta2), eps)
    }

    /// One step over every parameter with a gradient, with its group's learning rate and
    /// weight decay. The scalar factors are computed in `Double` and rounded to `Float`, as
    /// PyTorch does with its Python-float scalars.
    static func step(_ groups: GroupTable, _ slots: OptimizerSlots, betas: (Float, Float),
                     eps: Float, decoupled: Bool, amsgrad: Bool) {
        let beta1 = Double(betas.0), beta2 = Double(betas.1)
        let oneMinusBeta1 = Float(1 - beta1), beta2f = betas.1, oneMinusBeta2 = Float(1 - beta2)
        for (i, parameter) in groups.parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            let lr = groups.learningRate(i), weightDecay = groups.weightDecay(i)
            let coupledDecay = decoupled ? 0 : weightDecay
            let decayFactor = Float(1 - Double(lr) * Double(weightDecay))
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
