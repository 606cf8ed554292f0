import Foundation

/// Multiplies each group's learning rate by `gamma` every `stepSize` steps
/// (`torch.optim.lr_scheduler.StepLR`): `lr = base · gamma^⌊epoch / stepSize⌋`.
public final class StepLR: LRScheduler {
    /// The number of steps between two decays.
    public let stepSize: Int
    /// The decay factor.
    public let gamma: Double
    override var kind: String { "StepLR" }

    /// A step decay of `optimizer`'s learning rates; sets step 0 (the rates unchanged).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `stepSize` is not positive or
    ///   `gamma` is negative or not finite.
    public init(_ optimizer: any Optimizer, stepSize: Int, gamma: Double = 0.1) throws {
        try Self.require(stepSize > 0, "StepLR", "stepSize", expected: "> 0", stepSize)
        try Self.require(gamma >= 0 && gamma.isFinite, "StepLR", "gamma", expected: "≥ 0", gamma)
        self.stepSize = stepSize
        self.gamma = gamma
        super.init(optimizer)
        initialStep()
    }

    override func chainedLearningRates() -> [Double] {
        if lastEpoch == 0 || lastEpoch % stepSize != 0 { return currentLearningRates }
        return currentLearningRates.map { $0 * gamma }
    }

    override func closedFormLearningRates() -> [Double]? {
        baseLearningRates.map { $0 * Foundation.pow(gamma, Double(lastEpoch / stepSize)) }
    }

    override var configuration: [String: Double] { ["step_size": Double(stepSize), "gamma": gamma] }
}
