import Foundation

/// Multiplies each group's learning rate by `gamma` at every step
/// (`torch.optim.lr_scheduler.ExponentialLR`): `lr = base · gamma^epoch`.
public final class ExponentialLR: LRScheduler {
    /// The decay factor per step.
    public let gamma: Double
    override var kind: String { "ExponentialLR" }

    /// An exponential decay of `optimizer`'s learning rates; sets step 0.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `gamma` is negative or not finite.
    public init(_ optimizer: any Optimizer, gamma: Double) throws {
        try Self.require(gamma >= 0 && gamma.isFinite, "ExponentialLR", "gamma", expected: "≥ 0", gamma)
        self.gamma = gamma
        super.init(optimizer)
        initialStep()
    }

    override func chainedLearningRates() -> [Double] {
        isInitial ? currentLearningRates : currentLearningRates.map { $0 * gamma }
    }

    override func closedFormLearningRates() -> [Double]? {
        baseLearningRates.map { $0 * Foundation.pow(gamma, Double(lastEpoch)) }
    }

    override var configuration: [String: Double] { ["gamma": gamma] }
}
