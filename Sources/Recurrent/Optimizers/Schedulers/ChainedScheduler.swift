/// Steps several schedulers together (`torch.optim.lr_scheduler.ChainedScheduler`): each
/// ``step()`` calls every scheduler's step in order, so their factors multiply — a cyclic
/// schedule under a decay, or a warm-up applied on top of a step decay.
///
/// ```swift
/// let warmUp = try LinearLR(optimizer, startFactor: 0.1, totalIters: 5)
/// let decay = try ExponentialLR(optimizer, gamma: 0.95)
/// let scheduler = try ChainedScheduler([warmUp, decay])
/// for epoch in 0..<epochs { train(epoch); try scheduler.step() }
/// ```
///
/// Unlike ``SequentialLR``, creating it changes nothing: each scheduler already took its
/// step 0 when it was created. Each scheduler continues from the rate the one before it set,
/// at full (`Double`) precision, as PyTorch's schedulers do on the Python floats of
/// `param_groups`.
public final class ChainedScheduler: LRScheduler {
    /// The schedulers, stepped in this order.
    public let schedulers: [LRScheduler]
    override var kind: String { "ChainedScheduler" }

    /// Chains `schedulers`, all over the same optimizer (`optimizer`, when given, must be it).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when there is no scheduler, or they are
    ///   not all over the same optimizer (or over another one than `optimizer`).
    public init(_ schedulers: [LRScheduler], optimizer: (any Optimizer)? = nil) throws {
        guard let first = schedulers.first else {
            throw TensorError.invalidArgument("ChainedScheduler: expected at least one scheduler, got none")
        }
        let target = optimizer ?? first.optimizer
        for (k, s) in schedulers.enumerated() where s.optimizer !== target {
            throw TensorError.invalidArgument("ChainedScheduler: expected every scheduler over \(optimizer == nil ? "the first scheduler's" : "the given") optimizer, but scheduler \(k) (\(s.kind)) has another")
        }
        self.schedulers = schedulers
        super.init(target)
        lastEpoch = 0
        stepCount = 1
        lastLearningRates = schedulers[schedulers.count - 1].currentLearningRates
    }

    /// Steps every scheduler, in order; each starts from the rates the previous one set.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a scheduler with a fixed length
    ///   (``OneCycleLR``) would step past its end; no scheduler steps then.
    public override func step() throws {
        for s in schedulers { try s.checkNextStep(s.lastEpoch + 1) }
        var rates = currentLearningRates
        for s in schedulers {
            // The optimizer holds `rates` rounded to Float; hand the scheduler the exact values.
            s.lastLearningRates = rates
            try s.step()   // checked above: cannot throw
            rates = s.lastLearningRates
        }
        lastEpoch += 1
        stepCount += 1
        lastLearningRates = rates
    }

    override var childSchedulers: [LRScheduler] { schedulers }
}
