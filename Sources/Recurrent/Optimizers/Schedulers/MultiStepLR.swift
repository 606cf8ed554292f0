import Foundation

/// Multiplies each group's learning rate by `gamma` at each milestone
/// (`torch.optim.lr_scheduler.MultiStepLR`); a milestone listed twice decays twice.
public final class MultiStepLR: LRScheduler {
    /// The steps at which the rate decays, sorted (repeats kept).
    public let milestones: [Int]
    /// The decay factor.
    public let gamma: Double
    override var kind: String { "MultiStepLR" }

    /// A decay at `milestones` of `optimizer`'s learning rates; sets step 0.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when a milestone is negative or
    ///   `gamma` is negative or not finite.
    public init(_ optimizer: any Optimizer, milestones: [Int], gamma: Double = 0.1) throws {
        try Self.require(milestones.allSatisfy { $0 >= 0 }, "MultiStepLR", "milestones", expected: "≥ 0", milestones)
        try Self.require(gamma >= 0 && gamma.isFinite, "MultiStepLR", "gamma", expected: "≥ 0", gamma)
        self.milestones = milestones.sorted()
        self.gamma = gamma
        super.init(optimizer)
        initialStep()
    }

    override func chainedLearningRates() -> [Double] {
        let count = milestones.filter { $0 == lastEpoch }.count
        if count == 0 { return currentLearningRates }
        return currentLearningRates.map { $0 * Foundation.pow(gamma, Double(count)) }
    }

    override func closedFormLearningRates() -> [Double]? {
        let passed = milestones.filter { $0 <= lastEpoch }.count
        return baseLearningRates.map { $0 * Foundation.pow(gamma, Double(passed)) }
    }

    override var configuration: [String: Double] {
        var values = ["gamma": gamma]
        for (k, m) in milestones.enumerated() { values["milestones.\(k)"] = Double(m) }
        return values
    }
}
