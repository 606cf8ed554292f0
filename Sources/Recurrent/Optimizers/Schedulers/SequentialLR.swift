/// Runs schedulers one after another (`torch.optim.lr_scheduler.SequentialLR`): the first
/// until the first milestone, the second from there (started from its step 0 in closed
/// form), and so on — the usual warm-up then decay.
///
/// ```swift
/// let warmUp = try LinearLR(optimizer, startFactor: 0.1, totalIters: 10)
/// let decay = try CosineAnnealingLR(optimizer, tMax: 90)
/// let scheduler = try SequentialLR(optimizer, schedulers: [warmUp, decay], milestones: [10])
/// ```
///
/// As in PyTorch, creating it puts the optimizer's learning rates back to the first
/// scheduler's base rates, gives every scheduler those base rates, and takes the first
/// scheduler's step 0 again.
public final class SequentialLR: LRScheduler {
    /// The schedulers, in order.
    public let schedulers: [LRScheduler]
    /// The steps at which the next scheduler takes over (one fewer than the schedulers).
    public let milestones: [Int]
    override var kind: String { "SequentialLR" }

    /// Chains `schedulers`, all over `optimizer`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when there is no scheduler, one is over
    ///   another optimizer, or `milestones` does not hold one fewer value than `schedulers`.
    public init(_ optimizer: any Optimizer, schedulers: [LRScheduler], milestones: [Int]) throws {
        try Self.require(!schedulers.isEmpty, "SequentialLR", "schedulers", expected: "at least one", "none")
        for (k, s) in schedulers.enumerated() where s.optimizer !== optimizer {
            throw TensorError.invalidArgument("SequentialLR: expected every scheduler over the given optimizer, but scheduler \(k) (\(s.kind)) has another")
        }
        try Self.require(milestones.count == schedulers.count - 1, "SequentialLR", "milestones",
                         expected: "\(schedulers.count - 1) values (one fewer than the schedulers)", milestones)
        self.schedulers = schedulers
        self.milestones = milestones
        super.init(optimizer)
        let base = schedulers[0].baseLearningRates
        baseLearningRates = base
        apply(base)
        for s in schedulers {
            s.baseLearningRates = base
            s.lastLearningRates = base
            s.lastEpoch -= 1
        }
        lastEpoch = 0
        let first = schedulers[milestones.filter { $0 <= 0 }.count]
        first.initialStep()
        lastLearningRates = first.lastLearningRates
        stepCount = 1
    }

    /// Advances the schedule by one step with the scheduler of the new step.
    /// - Throws: what that scheduler's step throws.
    public override func step() throws {
        let epoch = lastEpoch + 1
        let index = milestones.filter { $0 <= epoch }.count
        let scheduler = schedulers[index]
        if index > 0 && milestones[index - 1] == epoch {
            scheduler.jump(to: 0)
        } else {
            try scheduler.step()
        }
        lastEpoch = epoch
        stepCount += 1
        lastLearningRates = scheduler.lastLearningRates
    }

    override var configuration: [String: Double] {
        var values: [String: Double] = [:]
        for (k, m) in milestones.enumerated() { values["milestones.\(k)"] = Double(m) }
        return values
    }

    override var childSchedulers: [LRScheduler] { schedulers }
}
