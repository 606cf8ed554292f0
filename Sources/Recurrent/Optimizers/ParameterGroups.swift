import Foundation

/// A group of parameters with its own learning rate and weight decay: one entry of the list
/// PyTorch's optimizers take as `params` (`[{"params": ..., "lr": ...}, ...]`), kept as
/// `param_groups`.
///
/// ```swift
/// let optimizer = try Adam([
///     ParameterGroup(encoder.parameters(), lr: 1e-4),          // fine-tuned slowly
///     ParameterGroup(head.parameters(), weightDecay: 0.01),    // the optimizer's lr
/// ], lr: 1e-3)
/// ```
///
/// An option left `nil` takes the optimizer's value, as in PyTorch.
public struct ParameterGroup {
    /// The parameters of the group.
    public var parameters: [Parameter]
    /// The group's learning rate, or `nil` for the optimizer's `lr`.
    public var learningRate: Float?
    /// The group's weight decay, or `nil` for the optimizer's `weightDecay`.
    public var weightDecay: Float?

    /// A group of `parameters` with optional overrides of the optimizer's `lr` and `weightDecay`.
    public init(_ parameters: [Parameter], lr: Float? = nil, weightDecay: Float? = nil) {
        self.parameters = parameters
        self.learningRate = lr
        self.weightDecay = weightDecay
    }
}

/// The settings of one parameter group of an optimizer (an entry of PyTorch's
/// `optimizer.param_groups`).
public struct ParameterGroupSettings: Equatable, Sendable {
    /// The positions of the group's parameters in ``Optimizer/parameters`` (the groups
    /// follow each other in the order they were given).
    public let parameterIndices: Range<Int>
    /// The group's learning rate (what a scheduler changes).
    public var learningRate: Float
    /// The group's weight decay.
    public var weightDecay: Float
}

extension Optimizer {
    /// The learning rate of each parameter group; by default the one ``learningRate`` of an
    /// optimizer without groups. Schedulers read and write this.
    public var learningRates: [Float] {
        get { [learningRate] }
        set { if let first = newValue.first { learningRate = first } }
    }

    /// One group of every parameter, with ``learningRate`` and no weight decay: the groups
    /// of an optimizer that does not keep its own.
    public var parameterGroups: [ParameterGroupSettings] {
        [ParameterGroupSettings(parameterIndices: parameters.indices, learningRate: learningRate, weightDecay: 0)]
    }

    /// The first group's weight decay, or 0 without groups.
    public var weightDecay: Float { parameterGroups.first?.weightDecay ?? 0 }
}

/// The library's optimizers: their parameters, learning rates and weight decays live in a
/// ``GroupTable``, and these accessors read and write it, once for all of them.
protocol GroupedOptimizer: Optimizer {
    /// The parameter groups.
    var groups: GroupTable { get set }
}

extension GroupedOptimizer {
    /// The parameters of every group, in order.
    public var parameters: [Parameter] { groups.parameters }

    /// The first group's learning rate; setting it sets every group's.
    public var learningRate: Float {
        get { groups.learningRate }
        set { groups.learningRate = newValue }
    }

    /// Each group's learning rate; setting it needs one value per group.
    public var learningRates: [Float] {
        get { groups.learningRates }
        set { groups.learningRates = newValue }
    }

    /// Each group's parameters, learning rate and weight decay.
    public var parameterGroups: [ParameterGroupSettings] { groups.settings }

    /// The first group's weight decay (see the optimizer's description for how it applies).
    public var weightDecay: Float { groups.settings[0].weightDecay }
}

/// The parameter groups of an optimizer: the flat parameter list, the group of each
/// parameter, and each group's learning rate and weight decay.
struct GroupTable {
    /// The parameters of every group, in order.
    let parameters: [Parameter]
    /// The group of each parameter.
    let groupOf: [Int]
    /// The settings of each group.
    var settings: [ParameterGroupSettings]

    /// Flattens `groups`, filling the options they leave `nil` with `lr` and `weightDecay`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when there is no group, a group is
    ///   empty, a learning rate or weight decay is negative or not finite, or a parameter
    ///   appears twice (in one group or in two).
    init(_ groups: [ParameterGroup], lr: Float, weightDecay: Float, optimizer: String) throws {
        guard !groups.isEmpty else {
            throw TensorError.invalidArgument("\(optimizer): expected at least one parameter group, got none")
        }
        var parameters: [Parameter] = [], groupOf: [Int] = [], settings: [ParameterGroupSettings] = []
        for (k, group) in groups.enumerated() {
            let groupLR = group.learningRate ?? lr, groupDecay = group.weightDecay ?? weightDecay
            try OptimizerCheck.require(groupLR >= 0 && groupLR.isFinite, optimizer, "lr of group \(k)", expected: "≥ 0", groupLR)
            try OptimizerCheck.require(groupDecay >= 0 && groupDecay.isFinite, optimizer, "weightDecay of group \(k)",
                                       expected: "≥ 0", groupDecay)
            if groups.count > 1 && group.parameters.isEmpty {
                throw TensorError.invalidArgument("\(optimizer): expected parameters in every group, but group \(k) is empty")
            }
            let start = parameters.count
            parameters += group.parameters
            groupOf += Array(repeating: k, count: group.parameters.count)
            settings.append(ParameterGroupSettings(parameterIndices: start..<parameters.count,
                                                   learningRate: groupLR, weightDecay: groupDecay))
        }
        try OptimizerCheck.distinct(parameters, optimizer)
        self.parameters = parameters
        self.groupOf = groupOf
        self.settings = settings
    }

    /// The learning rate of parameter `i`.
    @inline(__always) func learningRate(_ i: Int) -> Float { settings[groupOf[i]].learningRate }
    /// The weight decay of parameter `i`.
    @inline(__always) func weightDecay(_ i: Int) -> Float { settings[groupOf[i]].weightDecay }

    /// The first group's learning rate; setting it sets every group's.
    var learningRate: Float {
        get { settings[0].learningRate }
        set { for k in settings.indices { settings[k].learningRate = newValue } }
    }

    /// Every group's learning rate. Setting needs one value per group (a scheduler sets what
    /// it read).
    var learningRates: [Float] {
        get { settings.map(\.learningRate) }
        set {
            precondition(newValue.count == settings.count,
                         "learningRates: expected \(settings.count) values (one per parameter group), got \(newValue.count)")
            for k in settings.indices { settings[k].learningRate = newValue[k] }
        }
    }

    /// The groups for ``OptimizerState``: their parameter indices, and `lr`, `weight_decay` and
    /// the optimizer-wide `options` as hyperparameters (repeated in each group, as PyTorch's
    /// `param_groups`).
    func export(_ options: [String: Double]) -> [OptimizerState.Group] {
        settings.map { s in
            var h = options
            h["lr"] = Double(s.learningRate)
            h["weight_decay"] = Double(s.weightDecay)
            return OptimizerState.Group(parameters: Array(s.parameterIndices), hyperparameters: h)
        }
    }

    /// The settings and optimizer-wide hyperparameters that `state` holds, checked: the same
    /// number of groups with the same parameters, a valid `lr` and `weight_decay` in each,
    /// only `known` names, and the same optimizer-wide values in every group. A state
    /// without groups (written before they were stored) gives every group its learning rate
    /// and no hyperparameters.
    /// - Throws: ``TensorError/invalidArgument(_:)`` naming the first difference.
    func restored(from state: OptimizerState, kind: String, known: Set<String>)
        throws -> (settings: [ParameterGroupSettings], options: Hyperparameters) {
        guard let groups = state.groups else {
            var settings = self.settings
            for k in settings.indices { settings[k].learningRate = state.learningRate }
            return (settings, Hyperparameters(values: [:], kind: kind))
        }
        guard groups.count == settings.count else {
            throw TensorError.invalidArgument("\(kind).loadState: expected \(settings.count) parameter groups, got \(groups.count)")
        }
        var restored = settings
        var shared: [String: Double]?
        for (k, group) in groups.enumerated() {
            guard group.parameters == Array(settings[k].parameterIndices) else {
                throw TensorError.invalidArgument("\(kind).loadState: expected group \(k) to hold parameters \(Array(settings[k].parameterIndices)), got \(group.parameters)")
            }
            if let unknown = group.hyperparameters.keys.sorted().first(where: { !known.contains($0) && $0 != "lr" && $0 != "weight_decay" }) {
                throw TensorError.invalidArgument("\(kind).loadState: group \(k) has a hyperparameter \"\(unknown)\" that \(kind) does not use")
            }
            let h = Hyperparameters(values: group.hyperparameters, kind: kind)
            restored[k].learningRate = try h.float("lr", "≥ 0") { $0 >= 0 }
            restored[k].weightDecay = try h.float("weight_decay", "≥ 0") { $0 >= 0 }
            var others = group.hyperparameters
            others["lr"] = nil
            others["weight_decay"] = nil
            if let shared, shared != others {
                throw TensorError.invalidArgument("\(kind).loadState: expected the same hyperparameters other than lr and weight_decay in every group, but group \(k) has \(others.sorted { $0.key < $1.key }) and group 0 \(shared.sorted { $0.key < $1.key })")
            }
            shared = others
        }
        return (restored, Hyperparameters(values: shared ?? [:], kind: kind))
    }
}

/// Named hyperparameters read back from a checkpoint, each checked before use.
struct Hyperparameters {
    let values: [String: Double]
    let kind: String

    /// Whether `key` is present (a state without groups has none).
    func has(_ key: String) -> Bool { values[key] != nil }

    /// The finite value of `key` that satisfies `check`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when it is missing, not finite or fails `check`.
    func float(_ key: String, _ expected: String, _ check: (Float) -> Bool) throws -> Float {
        guard let value = values[key] else {
            throw TensorError.invalidArgument("\(kind).loadState: expected the hyperparameter \"\(key)\" in every group")
        }
        let f = Float(value)
        guard f.isFinite && check(f) else {
            throw TensorError.invalidArgument("\(kind).loadState: expected \"\(key)\" \(expected), got \(value)")
        }
        return f
    }

    /// The value of `key`, or `current` when absent; checked like ``float(_:_:_:)``.
    func float(_ key: String, or current: Float, _ expected: String, _ check: (Float) -> Bool) throws -> Float {
        has(key) ? try float(key, expected, check) : current
    }

    /// Throws unless the flag `key` (0 or 1) is absent or equals `current`: such options
    /// change which buffers the optimizer keeps, so a checkpoint cannot switch them.
    func requireFlag(_ key: String, equals current: Bool) throws {
        guard let value = values[key] else { return }
        guard value == 0 || value == 1 else {
            throw TensorError.invalidArgument("\(kind).loadState: expected \"\(key)\" 0 or 1, got \(value)")
        }
        guard (value == 1) == current else {
            throw TensorError.invalidArgument("\(kind).loadState: the checkpoint was written with \(key) \(value == 1), but this \(kind) was built with \(key) \(current); build it with the checkpoint's setting")
        }
    }
}
