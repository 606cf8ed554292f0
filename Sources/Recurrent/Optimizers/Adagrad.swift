import Foundation

/// Adagrad (`torch.optim.Adagrad`, Duchi et al.), with PyTorch's single-tensor update: at
/// step `t` of a parameter,
///
/// ```
/// d = g + weightDecay · p
/// clr = lr / (1 + (t − 1) · lrDecay)
/// s = s + d²                      (s starts at initialAccumulatorValue)
/// p = p − clr · d / (√s + eps)
/// ```
///
/// Parameter groups (``ParameterGroup``) may set their own `lr` and `weightDecay`.
public final class Adagrad: GroupedOptimizer {
    /// The decay of the learning rate with the step count.
    public private(set) var lrDecay: Float
    /// The starting value of the sum of squared gradients.
    public private(set) var initialAccumulatorValue: Float
    /// The term added to the denominator for numerical stability.
    public private(set) var eps: Float
    var groups: GroupTable
    let slots: OptimizerSlots

    /// An Adagrad optimizer over `parameters` (PyTorch's defaults).
    /// - Throws: what the initialiser over parameter groups throws.
    public convenience init(_ parameters: [Parameter], lr: Float = 1e-2, lrDecay: Float = 0, weightDecay: Float = 0,
                            initialAccumulatorValue: Float = 0, eps: Float = 1e-10) throws {
        try self.init([ParameterGroup(parameters)], lr: lr, lrDecay: lrDecay, weightDecay: weightDecay,
                      initialAccumulatorValue: initialAccumulatorValue, eps: eps)
    }

    /// An Adagrad optimizer over parameter groups; `lr` and `weightDecay` are the defaults of
    /// the groups that do not set their own.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a learning rate, `lrDecay`, a weight
    ///   decay, `initialAccumulatorValue` or `eps` is negative or not finite, a group is
    ///   empty, or a parameter appears twice.
    public init(_ groups: [ParameterGroup], lr: Float = 1e-2, lrDecay: Float = 0, weightDecay: Float = 0,
                initialAccumulatorValue: Float = 0, eps: Float = 1e-10) throws {
        try Self.validate(lrDecay: lrDecay, initialAccumulatorValue: initialAccumulatorValue, eps: eps)
        self.groups = try GroupTable(groups, lr: lr, weightDecay: weightDecay, optimizer: "Adagrad")
        self.lrDecay = lrDecay
        self.initialAccumulatorValue = initialAccumulatorValue
        self.eps = eps
        slots = OptimizerSlots(names: ["sum"], parameters: self.groups.parameters)
    }

    private static func validate(lrDecay: Float, initialAccumulatorValue: Float, eps: Float) throws {
        try OptimizerCheck.require(lrDecay >= 0 && lrDecay.isFinite, "Adagrad", "lrDecay", expected: "≥ 0", lrDecay)
        try OptimizerCheck.require(initialAccumulatorValue >= 0 && initialAccumulatorValue.isFinite, "Adagrad",
                                   "initialAccumulatorValue", expected: "≥ 0", initialAccumulatorValue)
        try OptimizerCheck.require(eps >= 0 && eps.isFinite, "Adagrad", "eps", expected: "≥ 0", eps)
    }

    /// One Adagrad update of every parameter that has a gradient.
    public func step() {
        for (i, parameter) in parameters.enumerated() {
            guard let grad = parameter.grad else { continue }
            if slots.prepare(i) {
                let sum = slots.buffers[0][i]!.pointer
                for j in 0..<parameter.count { sum[j] = initialAccumulatorValue }
            }
            slots.steps[i] += 1
            let lr = groups.learningRate(i), wd = groups.weightDecay(i), eps = eps
            let clr = Float(Double(lr) / (1 + Double(slots.steps[i] - 1) * Double(lrDecay)))
            let p = parameter.storage.pointer, g = grad.storage.pointer, sum = slots.buffers[0][i]!.pointer
            for j in 0..<parameter.count {
                let d = wd == 0 ? g[j] : g[j] + wd * p[j]
                sum[j] += d * d
                p[j] += -clr * d / (sum[j].squareRoot() + eps)
            }
        }
    }

    private var options: [String: Double] {
        ["lr_decay": Double(lrDecay), "initial_accumulator_value": Double(initialAccumulatorValue), "eps": Double(eps)]
    }

    /// The sums of squared gradients (`sum`), step counts, and every group's hyperparameters.
    public var state: OptimizerState {
        OptimizerState(optimizer: "Adagrad", learningRate: learningRate, parameters: slots.export(),
                       groups: groups.export(options))
    }

    /// Restores a state taken from ``state``; its groups' hyperparameters replace this
    /// optimizer's. See ``Optimizer/loadState(_:)``.
    /// - Throws: see ``Optimizer/loadState(_:)``.
    public func loadState(_ state: OptimizerState) throws {
        let (settings, h) = try groups.restored(from: state, kind: "Adagrad", known: Set(options.keys))
        let lrDecay = try h.float("lr_decay", or: lrDecay, "≥ 0") { $0 >= 0 }
        let initial = try h.float("initial_accumulator_value", or: initialAccumulatorValue, "≥ 0") { $0 >= 0 }
        let eps = try h.float("eps", or: eps, "≥ 0") { $0 >= 0 }
        try slots.load(state, kind: "Adagrad")
        groups.settings = settings
        (self.lrDecay, self.initialAccumulatorValue, self.eps) = (lrDecay, initial, eps)
    }
}
