/// Scales each group's learning rate by a factor that changes linearly from `startFactor`
/// to `endFactor` over `totalIters` steps, then stays (`torch.optim.lr_scheduler.LinearLR`):
/// the usual warm-up.
public final class LinearLR: LRScheduler {
    /// The factor at step 0.
    public let startFactor: Double
    /// The factor from step `totalIters` on.
    public let endFactor: Double
    /// The number of steps of the ramp.
    public let totalIters: Int
    override var kind: String { "LinearLR" }

    /// A linear ramp of `optimizer`'s learning rates; sets step 0 (`base · startFactor`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `startFactor` is not in `(0, 1]`,
    ///   `endFactor` not in `[0, 1]`, or `totalIters` not positive (PyTorch's limits).
    public init(_ optimizer: any Optimizer, startFactor: Double = 1.0 / 3, endFactor: Double = 1, totalIters: Int = 5) throws {
        try Self.require(startFactor > 0 && startFactor <= 1, "LinearLR", "startFactor", expected: "in (0, 1]", startFactor)
        try Self.require(endFactor >= 0 && endFactor <= 1, "LinearLR", "endFactor", expected: "in [0, 1]", endFactor)
        try Self.require(totalIters > 0, "LinearLR", "totalIters", expected: "> 0", totalIters)
        self.startFactor = startFactor
        self.endFactor = endFactor
        self.totalIters = totalIters
        super.init(optimizer)
        initialStep()
    }

    override func chainedLearningRates() -> [Double] {
        let current = currentLearningRates
        if lastEpoch == 0 { return current.map { $0 * startFactor } }
        if isInitial || lastEpoch > totalIters { return current }
        let change = endFactor - startFactor
        let factor = 1 + change / (Double(totalIters) * startFactor + Double(lastEpoch - 1) * change)
        return current.map { $0 * factor }
    }

    override func closedFormLearningRates() -> [Double]? {
        let progress = Double(Swift.min(totalIters, lastEpoch)) / Double(totalIters)
        return baseLearningRates.map { $0 * (startFactor + (endFactor - startFactor) * progress) }
    }

    override var configuration: [String: Double] {
        ["start_factor": startFactor, "end_factor": endFactor, "total_iters": Double(totalIters)]
    }
}
