/// Reduces each group's learning rate by `factor` when a metric has stopped improving for
/// `patience` steps (`torch.optim.lr_scheduler.ReduceLROnPlateau`). Call ``step(_:)`` with
/// the validation metric after each epoch.
///
/// A metric improves when it is below `best · (1 − threshold)` (mode `.min`, threshold
/// mode `.relative`), below `best − threshold` (`.absolute`), or above `best · (1 +
/// threshold)` / `best + threshold` in mode `.max`. After a reduction, `cooldown` steps
/// pass before bad steps count again. A reduction smaller than `eps` is skipped, and no
/// rate goes below its group's `minLR`.
public final class ReduceLROnPlateau {
    /// Whether a lower or a higher metric is better.
    public enum Mode: String, Sendable { case min, max }
    /// Whether `threshold` is relative to the best value or absolute.
    public enum ThresholdMode: String, Sendable { case relative = "rel", absolute = "abs" }

    /// The optimizer whose learning rates are reduced.
    public let optimizer: any Optimizer
    /// Whether a lower or a higher metric is better.
    public let mode: Mode
    /// The factor a reduction multiplies the rate by.
    public let factor: Double
    /// How many steps without improvement are tolerated.
    public let patience: Int
    /// The least change that counts as an improvement.
    public let threshold: Double
    /// Whether `threshold` is relative or absolute.
    public let thresholdMode: ThresholdMode
    /// The steps to wait after a reduction.
    public let cooldown: Int
    /// Each group's smallest learning rate.
    public let minLearningRates: [Double]
    /// The smallest reduction applied.
    public let eps: Double
    /// The best metric so far (infinite before the first step).
    public private(set) var best: Double
    /// The steps since the last improvement.
    public private(set) var badSteps = 0
    /// The cooldown steps left.
    public private(set) var cooldownCounter = 0
    /// The index of the last step (0 after creation).
    public private(set) var lastEpoch = 0
    /// The learning rates after the last step, one per group.
    public private(set) var lastLearningRates: [Double]

    /// A plateau detector over `optimizer`, with PyTorch's defaults; `minLR` holds one value
    /// for all groups or one per group.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `factor` is not in `[0, 1)`,
    ///   `patience`, `cooldown`, `threshold`, `eps` or a minimum rate is negative (or not
    ///   finite), or `minLR` has neither 1 nor one value per group.
    public init(_ optimizer: any Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                minLR: [Double] = [0], eps: Double = 1e-8) throws {
        let groups = optimizer.learningRates.count
        try LRScheduler.require(factor >= 0 && factor < 1, "ReduceLROnPlateau", "factor", expected: "in [0, 1)", factor)
        try LRScheduler.require(patience >= 0, "ReduceLROnPlateau", "patience", expected: "≥ 0", patience)
        try LRScheduler.require(cooldown >= 0, "ReduceLROnPlateau", "cooldown", expected: "≥ 0", cooldown)
        try LRScheduler.require(threshold >= 0 && threshold.isFinite, "ReduceLROnPlateau", "threshold", expected: "≥ 0", threshold)
        try LRScheduler.require(eps >= 0 && eps.isFinite, "ReduceLROnPlateau", "eps", expected: "≥ 0", eps)
        try LRScheduler.require(minLR.count == 1 || minLR.count == groups, "ReduceLROnPlateau", "minLR",
                                expected: "1 value or \(groups) (one per group)", minLR)
        try LRScheduler.require(minLR.allSatisfy { $0 >= 0 && $0.isFinite }, "ReduceLROnPlateau", "minLR", expected: "≥ 0", minLR)
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = patience
        self.threshold = threshold
        self.thresholdMode = thresholdMode
        self.cooldown = cooldown
        minLearningRates = minLR.count == 1 ? Array(repeating: minLR[0], count: groups) : minLR
        self.eps = eps
        best = mode == .min ? .infinity : -.infinity
        lastLearningRates = optimizer.learningRates.map(Double.init)
    }

    /// A plateau detector with one minimum learning rate for every group.
    /// - Throws: what the initialiser with one `minLR` per group throws.
    public convenience init(_ optimizer: any Optimizer, mode: Mode = .min, factor: Double = 0.1, patience: Int = 10,
                            threshold: Double = 1e-4, thresholdMode: ThresholdMode = .relative, cooldown: Int = 0,
                            minLR: Double, eps: Double = 1e-8) throws {
        try self.init(optimizer, mode: mode, factor: factor, patience: patience, threshold: threshold,
                      thresholdMode: thresholdMode, cooldown: cooldown, minLR: [minLR], eps: eps)
    }

    private func isBetter(_ a: Double) -> Bool {
        switch (mode, thresholdMode) {
        case (.min, .relative): return a < best * (1 - threshold)
        case (.min, .absolute): return a < best - threshold
        case (.max, .relative): return a > best * (threshold + 1)
        case (.max, .absolute): return a > best + threshold
        }
    }

    /// Records `metric` for the step and reduces the learning rates when it has not
    /// improved for more than `patience` steps. A NaN metric counts as no improvement.
    public func step(_ metric: Double) {
        lastEpoch += 1
        if isBetter(metric) {
            best = metric
            badSteps = 0
        } else {
            badSteps += 1
        }
        if cooldownCounter > 0 {
            cooldownCounter -= 1
            badSteps = 0
        }
        var rates = currentLearningRates
        if badSteps > patience {
            for i in rates.indices {
                let reduced = Swift.max(rates[i] * factor, minLearningRates[i])
                if rates[i] - reduced > eps { rates[i] = reduced }
            }
            cooldownCounter = cooldown
            badSteps = 0
        }
        optimizer.learningRates = rates.map { Float($0) }
        lastLearningRates = rates
    }

    /// The optimizer's rates, as the `Double` values last set when it still holds them.
    private var currentLearningRates: [Double] {
        let rates = optimizer.learningRates
        guard lastLearningRates.count == rates.count,
              zip(lastLearningRates, rates).allSatisfy({ Float($0) == $1 }) else { return rates.map(Double.init) }
        return lastLearningRates
    }

    private var configuration: [String: Double] {
        var values = ["mode_max": mode == .max ? 1 : 0, "factor": factor, "patience": Double(patience),
                      "threshold": threshold, "threshold_abs": thresholdMode == .absolute ? 1 : 0,
                      "cooldown": Double(cooldown), "eps": eps]
        for (k, m) in minLearningRates.enumerated() { values["min_lrs.\(k)"] = m }
        return values
    }

    /// The detector's counters and settings, Codable for checkpoints (`best`,
    /// `num_bad_epochs` and `cooldown_counter` among the values).
    public var state: SchedulerState {
        var values = configuration
        values["best"] = best
        values["num_bad_epochs"] = Double(badSteps)
        values["cooldown_counter"] = Double(cooldownCounter)
        return SchedulerState(kind: "ReduceLROnPlateau", lastEpoch: lastEpoch, stepCount: lastEpoch,
                              baseLearningRates: lastLearningRates, lastLearningRates: lastLearningRates,
                              values: values, children: [])
    }

    /// Restores a state taken from ``state`` and sets the optimizer's learning rates to its
    /// last ones.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the state is of another kind, has
    ///   other settings or another number of groups, or invalid counters; nothing changes then.
    public func loadState(_ state: SchedulerState) throws {
        guard state.kind == "ReduceLROnPlateau" else {
            throw TensorError.invalidArgument("ReduceLROnPlateau.loadState: expected the state of a ReduceLROnPlateau, got one of \(state.kind)")
        }
        var settings = state.values
        let best = settings.removeValue(forKey: "best"), bad = settings.removeValue(forKey: "num_bad_epochs")
        let counter = settings.removeValue(forKey: "cooldown_counter")
        guard settings == configuration else {
            throw TensorError.invalidArgument("ReduceLROnPlateau.loadState: the state was saved with the settings \(settings.sorted { $0.key < $1.key }), this scheduler has \(configuration.sorted { $0.key < $1.key }); build it with the saved ones")
        }
        guard let best, !best.isNaN, let bad, let counter, bad >= 0, counter >= 0, bad.isFinite, counter.isFinite,
              state.lastEpoch >= 0, state.lastLearningRates.count == optimizer.learningRates.count,
              state.lastLearningRates.allSatisfy({ $0 >= 0 && $0.isFinite }) else {
            throw TensorError.invalidArgument("ReduceLROnPlateau.loadState: expected best, num_bad_epochs ≥ 0, cooldown_counter ≥ 0, a step ≥ 0 and \(optimizer.learningRates.count) learning rates ≥ 0")
        }
        self.best = best
        badSteps = Int(bad)
        cooldownCounter = Int(counter)
        lastEpoch = state.lastEpoch
        optimizer.learningRates = state.lastLearningRates.map { Float($0) }
        lastLearningRates = state.lastLearningRates
    }
}
