import Foundation

/// The base of the learning-rate schedulers (`torch.optim.lr_scheduler.LRScheduler`): it
/// changes the learning rate of every parameter group of an optimizer once per
/// ``step()``, which you call after the optimizer's step (usually once per epoch).
///
/// ```swift
/// let optimizer = try SGD(model.parameters(), lr: 0.1, momentum: 0.9)
/// let scheduler = try StepLR(optimizer, stepSize: 30, gamma: 0.1)
/// for epoch in 0..<100 {
///     train(epoch)                 // optimizer.step() for every batch
///     try scheduler.step()
/// }
/// ```
///
/// As in PyTorch, creating a scheduler already sets the learning rate of step 0 (for
/// example ``LinearLR`` scales it by its start factor), the base learning rates are the
/// optimizer's at creation, and each step computes the new rate from the group's current
/// one (PyTorch's chainable form), so schedulers can be combined (``SequentialLR``). The
/// rates are computed in `Double`, like PyTorch's Python floats, and kept in
/// ``lastLearningRates``; the optimizer receives them rounded to `Float`.
///
/// Subclasses are the schedulers of this library; this class is not meant to be
/// subclassed outside it.
public class LRScheduler {
    /// The optimizer whose learning rates are scheduled.
    public let optimizer: any Optimizer
    /// Each group's learning rate when the schedule started (PyTorch's `base_lrs`).
    public internal(set) var baseLearningRates: [Double]
    /// The index of the last step taken: 0 after creation (PyTorch's `last_epoch`).
    public internal(set) var lastEpoch: Int = -1
    /// The learning rates the last step set, one per group (PyTorch's `get_last_lr()`).
    public internal(set) var lastLearningRates: [Double] = []
    /// How many steps were taken, creation included (PyTorch's `_step_count`).
    var stepCount = 0
    /// Whether the creation's step is running (PyTorch's `_is_initial`).
    var isInitial = false

    /// The scheduler's name in its ``SchedulerState``.
    var kind: String { "LRScheduler" }

    /// A scheduler over `optimizer`'s current learning rates; the subclass runs
    /// ``initialStep()`` once its own properties are set.
    init(_ optimizer: any Optimizer) {
        self.optimizer = optimizer
        baseLearningRates = optimizer.learningRates.map(Double.init)
    }

    /// The creation's step (step 0).
    func initialStep() {
        stepCount = 0
        isInitial = true
        defer { isInitial = false }
        try? step()
    }

    /// Advances the schedule by one step and sets the optimizer's learning rates.
    /// - Throws: ``TensorError/invalidArgument(_:)`` from a schedule with a fixed length
    ///   (``OneCycleLR``) stepped past its end; nothing changes then.
    public func step() throws {
        try checkNextStep(lastEpoch + 1)
        stepCount += 1
        lastEpoch += 1
        apply(chainedLearningRates())
    }

    /// Sets `epoch` as the last one and applies the closed form (PyTorch's `step(epoch)`,
    /// which ``SequentialLR`` uses at its milestones).
    func jump(to epoch: Int) {
        lastEpoch = epoch
        apply(closedFormLearningRates() ?? chainedLearningRates())
    }

    /// Throws when step `epoch` is past the schedule's end; nothing by default.
    func checkNextStep(_ epoch: Int) throws {}

    /// The new learning rates from the current ones (PyTorch's `get_lr()`).
    func chainedLearningRates() -> [Double] { currentLearningRates }

    /// The learning rates of ``lastEpoch`` from the base ones, or `nil` when the schedule
    /// has no closed form.
    func closedFormLearningRates() -> [Double]? { nil }

    /// The optimizer's learning rates, as the `Double` values this scheduler set when the
    /// optimizer still holds them (rounded), else as the optimizer has them.
    var currentLearningRates: [Double] {
        let rates = optimizer.learningRates
        guard lastLearningRates.count == rates.count,
              zip(lastLearningRates, rates).allSatisfy({ Float($0) == $1 }) else { return rates.map(Double.init) }
        return lastLearningRates
    }

    /// Sets the optimizer's learning rates.
    func apply(_ rates: [Double]) {
        optimizer.learningRates = rates.map { Float($0) }
        lastLearningRates = rates
    }

    /// The scheduler's settings, compared on ``loadState(_:)``.
    var configuration: [String: Double] { [:] }

    /// The schedulers this one drives (``SequentialLR``, ``ChainedScheduler``); none by default.
    var childSchedulers: [LRScheduler] { [] }

    /// The schedule's position and settings, with those of the schedulers it drives,
    /// Codable for checkpoints (PyTorch's `state_dict()`).
    public var state: SchedulerState {
        SchedulerState(kind: kind, lastEpoch: lastEpoch, stepCount: stepCount, baseLearningRates: baseLearningRates,
                       lastLearningRates: lastLearningRates, values: configuration, children: childSchedulers.map(\.state))
    }

    /// Restores a state taken from ``state`` of a scheduler of the same kind and settings
    /// over an optimizer with as many groups (and the states of the schedulers it drives),
    /// and sets the optimizer's learning rates to the state's last ones.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the state is of another kind, has
    ///   other settings (they are not replaced: build the scheduler with the saved ones) or
    ///   another number of groups, a step below −1 or a negative rate, or when the number
    ///   of driven schedulers differs or one of their states does not fit; nothing changes then.
    public func loadState(_ state: SchedulerState) throws {
        try check(state)
        let children = childSchedulers
        guard state.children.count == children.count else {
            throw TensorError.invalidArgument("\(kind).loadState: expected the states of \(children.count) schedulers, got \(state.children.count)")
        }
        for (s, child) in zip(children, state.children) { try s.check(child) }
        for (s, child) in zip(children, state.children) { s.restore(child) }
        restore(state)
    }

    /// Throws unless `state` fits this scheduler.
    func check(_ state: SchedulerState) throws {
        guard state.kind == kind else {
            throw TensorError.invalidArgument("\(kind).loadState: expected the state of a \(kind), got one of \(state.kind)")
        }
        let groups = optimizer.learningRates.count
        guard state.baseLearningRates.count == groups && state.lastLearningRates.count == groups else {
            throw TensorError.invalidArgument("\(kind).loadState: expected \(groups) learning rates (one per group), got \(state.baseLearningRates.count) base and \(state.lastLearningRates.count) last")
        }
        // −1: a scheduler of a ``SequentialLR`` that has not started yet.
        guard state.lastEpoch >= -1 && state.stepCount >= 0,
              (state.baseLearningRates + state.lastLearningRates).allSatisfy({ $0.isFinite && $0 >= 0 }) else {
            throw TensorError.invalidArgument("\(kind).loadState: expected a step ≥ −1 and learning rates ≥ 0, got step \(state.lastEpoch) and rates \(state.baseLearningRates), \(state.lastLearningRates)")
        }
        guard state.values == configuration else {
            throw TensorError.invalidArgument("\(kind).loadState: the state was saved with the settings \(state.values.sorted { $0.key < $1.key }), this scheduler has \(configuration.sorted { $0.key < $1.key }); build it with the saved ones")
        }
    }

    /// Replaces the position with `state`'s (checked).
    func restore(_ state: SchedulerState) {
        lastEpoch = state.lastEpoch
        stepCount = state.stepCount
        baseLearningRates = state.baseLearningRates
        apply(state.lastLearningRates)
    }

    /// Throws unless `condition`, naming the scheduler, the option and the value.
    static func require(_ condition: Bool, _ scheduler: String, _ option: String, expected: String, _ value: Any) throws {
        guard condition else {
            throw TensorError.invalidArgument("\(scheduler): expected \(option) \(expected), got \(value)")
        }
    }
}

/// The state of a learning-rate scheduler, Codable for checkpoints (PyTorch's scheduler
/// `state_dict()`).
public struct SchedulerState: Codable, Equatable, Sendable {
    /// The scheduler's class name (`"StepLR"`, …).
    public var kind: String
    /// The index of the last step (PyTorch's `last_epoch`).
    public var lastEpoch: Int
    /// How many steps were taken, creation included.
    public var stepCount: Int
    /// Each group's base learning rate.
    public var baseLearningRates: [Double]
    /// Each group's last learning rate.
    public var lastLearningRates: [Double]
    /// The scheduler's settings and, for ``ReduceLROnPlateau``, its counters, by PyTorch's names.
    public var values: [String: Double]
    /// The states of the schedulers a ``SequentialLR`` or ``ChainedScheduler`` drives.
    public var children: [SchedulerState]

    /// A scheduler state.
    public init(kind: String, lastEpoch: Int, stepCount: Int, baseLearningRates: [Double], lastLearningRates: [Double],
                values: [String: Double], children: [SchedulerState]) {
        self.kind = kind
        self.lastEpoch = lastEpoch
        self.stepCount = stepCount
        self.baseLearningRates = baseLearningRates
        self.lastLearningRates = lastLearningRates
        self.values = values
        self.children = children
    }
}
