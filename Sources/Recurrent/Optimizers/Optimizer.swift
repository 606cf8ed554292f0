/// An optimizer (`torch.optim.Optimizer`): it holds a list of parameters and, at each
/// ``step()``, updates them in place from their gradients.
///
/// Parameters whose `grad` is `nil` are skipped, as in PyTorch: they keep their value and
/// their optimizer state (no step is counted for them). The per-parameter state (momentum
/// buffers, moment estimates, step counts) is made on a parameter's first update and can
/// be saved and restored through ``state`` and ``loadState(_:)`` for checkpoints.
///
/// ```swift
/// let optimizer = try SGD(model.parameters(), lr: 0.01)
/// for _ in 0..<epochs {
///     optimizer.zeroGrad()
///     let loss = try criterion(model(input), target)
///     loss.backward()
///     optimizer.step()
/// }
/// ```
public protocol Optimizer: AnyObject {
    /// The parameters updated by ``step()``, in the order their state is keyed by.
    var parameters: [Parameter] { get }
    /// The learning rate (PyTorch's `lr`); a scheduler may change it between steps.
    var learningRate: Float { get set }
    /// The learning rate of each parameter group (see ``ParameterGroup``); what schedulers
    /// read and write. Setting it needs one value per group.
    var learningRates: [Float] { get set }
    /// Each parameter group's parameters, learning rate and weight decay (PyTorch's
    /// `param_groups`); by default one group of every parameter with ``learningRate`` and no
    /// weight decay.
    var parameterGroups: [ParameterGroupSettings] { get }
    /// The first group's weight decay (an L2 penalty added to the gradient, or decoupled,
    /// as the optimizer's description says); by default the first group's, or 0.
    var weightDecay: Float { get }
    /// Updates every parameter that has a gradient, in place, by one step of the algorithm.
    func step()
    /// A copy of the optimizer's state — its per-parameter buffers and step counts, keyed
    /// by parameter index, and the learning rate — to save in a checkpoint.
    var state: OptimizerState { get }
    /// Replaces the optimizer's state with `state` (from ``state`` of an optimizer of the
    /// same kind and configuration over parameters of the same shapes).
    ///
    /// The state's parameter groups, when it has them, replace the optimizer's learning
    /// rates, weight decays and other hyperparameters, as PyTorch's `load_state_dict` does
    /// with `param_groups`; the number of groups and their parameters must match, and the
    /// options that decide which buffers are kept (`amsgrad`, `centered`, a zero or non-zero
    /// momentum) must equal the optimizer's.
    ///
    /// Everything is checked before anything changes, so a failed load leaves the optimizer
    /// as it was.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the state comes from another kind
    ///   of optimizer, names a parameter index out of range, a negative step count or one above
    ///   ``OptimizerState/maximumStepCount``, or a buffer this optimizer does not use, or
    ///   lacks one it needs, or when its groups or hyperparameters do not fit as above;
    ///   ``TensorError/shapeMismatch(_:)`` when a buffer's length is not its parameter's
    ///   element count.
    func loadState(_ state: OptimizerState) throws
}

extension Optimizer {
    /// Clears the gradients of ``Optimizer/parameters`` — to `nil` by default, as PyTorch's
    /// `zero_grad(set_to_none=True)`, or to zeros with `setToNil: false`.
    ///
    /// - Parameter setToNil: whether the gradients become `nil` (the default) or zeros.
    public func zeroGrad(setToNil: Bool = true) {
        for p in parameters { p.zeroGrad(setToNil: setToNil) }
    }
}

/// The state of an ``Optimizer``, Codable for checkpoints; the counterpart of PyTorch's
/// optimizer `state_dict()`.
///
/// Buffers use PyTorch's names: `momentum_buffer` (SGD, RMSprop), `exp_avg`, `exp_avg_sq`,
/// `max_exp_avg_sq` (Adam, AdamW), `square_avg`, `grad_avg` (RMSprop).
public struct OptimizerState: Codable, Equatable, Sendable {
    /// The state of one parameter.
    public struct ParameterState: Codable, Equatable, Sendable {
        /// How many updates this parameter has received.
        public var step: Int
        /// The optimizer's buffers for this parameter, by name, each with the parameter's
        /// element count (row-major).
        public var buffers: [String: [Float]]

        /// A parameter state.
        public init(step: Int, buffers: [String: [Float]]) {
            self.step = step
            self.buffers = buffers
        }
    }

    /// The largest step count an optimizer accepts, 2⁵³: the largest count up to which every
    /// integer is exact in the `Double` the bias corrections are computed in (PyTorch keeps
    /// the count in a floating-point tensor). A state with a larger count is rejected by
    /// ``Optimizer/loadState(_:)``, so ``Optimizer/step()`` can never overflow it: at one
    /// step per nanosecond, 2⁵³ steps take 104 days, and the count keeps growing past it.
    public static let maximumStepCount = 1 << 53

    /// The kind of optimizer that made this state (`"SGD"`, `"Adam"`, `"AdamW"`, `"RMSprop"`).
    public var optimizer: String
    /// The learning rate at the time the state was taken.
    public var learningRate: Float
    /// The state of every parameter updated at least once, keyed by its index in
    /// ``Optimizer/parameters``.
    public var parameters: [Int: ParameterState]

    /// One parameter group, as an entry of PyTorch's `param_groups`.
    public struct Group: Codable, Equatable, Sendable {
        /// The indices of the group's parameters in ``Optimizer/parameters``.
        public var parameters: [Int]
        /// The group's hyperparameters by PyTorch's names (`lr`, `weight_decay`, `momentum`,
        /// `betas.0`, `betas.1`, `eps`, …; flags such as `amsgrad` as 0 or 1).
        public var hyperparameters: [String: Double]

        /// A group.
        public init(parameters: [Int], hyperparameters: [String: Double]) {
            self.parameters = parameters
            self.hyperparameters = hyperparameters
        }
    }

    /// The parameter groups with every hyperparameter, or `nil` in a state written before
    /// they were stored (then a restore sets only the learning rate). On
    /// ``Optimizer/loadState(_:)`` they replace the optimizer's, as PyTorch's
    /// `load_state_dict` does with `param_groups`.
    public var groups: [Group]?

    /// An optimizer state.
    public init(optimizer: String, learningRate: Float, parameters: [Int: ParameterState], groups: [Group]? = nil) {
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.parameters = parameters
        self.groups = groups
    }
}

/// The per-parameter storage shared by the optimizers: a step count and a fixed set of
/// named buffers for each parameter, allocated (zeros) on the parameter's first update, at
/// stable addresses so that ``Optimizer/step()`` runs tight loops on raw pointers.
final class OptimizerSlots {
    /// The buffer names this optimizer keeps (in a fixed order).
    let names: [String]
    // The fields skip Swift's dynamic exclusivity checks (they are read in every `step()`;
    // an optimizer is used from one thread at a time).
    /// Whether each parameter has state yet (it had a gradient at some step).
    @exclusivity(unchecked) var initialized: [Bool]
    /// The step count of each parameter.
    @exclusivity(unchecked) var steps: [Int]
    /// `buffers[k][i]`: buffer `names[k]` of parameter `i`, or `nil` before its first update.
    @exclusivity(unchecked) var buffers: [[TensorBuffer?]]
    let counts: [Int]

    init(names: [String], parameters: [Parameter]) {
        self.names = names
        counts = parameters.map(\.count)
        initialized = Array(repeating: false, count: parameters.count)
        steps = Array(repeating: 0, count: parameters.count)
        buffers = Array(repeating: Array(repeating: nil, count: parameters.count), count: names.count)
    }

    /// Makes the zero buffers of parameter `i` if it has none yet; returns whether they were new.
    @discardableResult
    func prepare(_ i: Int) -> Bool {
        if initialized[i] { return false }
        initialized[i] = true
        for k in names.indices { buffers[k][i] = TensorBuffer(count: counts[i]) }
        return true
    }

    /// The state for ``OptimizerState``.
    func export() -> [Int: OptimizerState.ParameterState] {
        var result: [Int: OptimizerState.ParameterState] = [:]
        for i in initialized.indices where initialized[i] {
            var named: [String: [Float]] = [:]
            for (k, name) in names.enumerated() { named[name] = buffers[k][i]?.array }
            result[i] = OptimizerState.ParameterState(step: steps[i], buffers: named)
        }
        return result
    }

    /// Checks `state` against this optimizer, then replaces the slots with its contents.
    func load(_ state: OptimizerState, kind: String) throws {
        guard state.optimizer == kind else {
            throw TensorError.invalidArgument("\(kind).loadState: expected the state of a \(kind) optimizer, got one of \(state.optimizer)")
        }
        guard state.learningRate >= 0 && state.learningRate.isFinite else {
            throw TensorError.invalidArgument("\(kind).loadState: expected a learning rate ≥ 0, got \(state.learningRate)")
        }
        let known = Set(names)
        for (i, s) in state.parameters {
            guard counts.indices.contains(i) else {
                throw TensorError.invalidArgument("\(kind).loadState: expected parameter indices in 0..<\(counts.count), got \(i)")
            }
            guard s.step >= 0 && s.step <= OptimizerState.maximumStepCount else {
                throw TensorError.invalidArgument("\(kind).loadState: expected a step count in 0...\(OptimizerState.maximumStepCount) for parameter \(i), got \(s.step)")
            }
            if let unknown = s.buffers.keys.sorted().first(where: { !known.contains($0) }) {
                throw TensorError.invalidArgument("\(kind).loadState: parameter \(i) has a buffer \"\(unknown)\" that this optimizer does not use (it uses \(names))")
            }
            for name in names {
                guard let values = s.buffers[name] else {
                    throw TensorError.invalidArgument("\(kind).loadState: expected a buffer \"\(name)\" for parameter \(i)")
                }
                guard values.count == counts[i] else {
                    throw TensorError.shapeMismatch("\(kind).loadState: expected \(counts[i]) values in \"\(name)\" of parameter \(i), got \(values.count)")
                }
            }
        }
        for i in counts.indices {
            if let s = state.parameters[i] {
                initialized[i] = true
                steps[i] = s.step
                for (k, name) in names.enumerated() { buffers[k][i] = TensorBuffer(copying: s.buffers[name]!) }
            } else {
                initialized[i] = false
                steps[i] = 0
                for k in names.indices { buffers[k][i] = nil }
            }
        }
    }
}

/// Shared validation for the optimizers' initialisers.
enum OptimizerCheck {
    /// Throws unless `value` satisfies `condition`, naming the optimizer, the option and the value.
    static func require(_ condition: Bool, _ optimizer: String, _ option: String, expected: String, _ value: Any) throws {
        guard condition else {
            throw TensorError.invalidArgument("\(optimizer): expected \(option) \(expected), got \(value)")
        }
    }

    /// Throws when a parameter appears twice in `parameters` (it would be updated twice per step).
    static func distinct(_ parameters: [Parameter], _ optimizer: String) throws {
        var seen = Set<ObjectIdentifier>()
        for (i, p) in parameters.enumerated() where !seen.insert(ObjectIdentifier(p)).inserted {
            throw TensorError.invalidArgument("\(optimizer): expected distinct parameters, but parameter \(i) (shape \(p.shape)) appears earlier in the list too")
        }
    }

    /// PyTorch's `lerp`: `start + weight · (end − start)` for `|weight| < 0.5`, else
    /// `end − (end − start) · (1 − weight)`, for the same rounding.
    @inline(__always)
    static func lerp(_ start: Float, _ end: Float, _ weight: Float) -> Float {
        abs(weight) < 0.5 ? start + weight * (end - start) : end - (end - start) * (1 - weight)
    }
}
