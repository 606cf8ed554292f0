import Foundation

/// Anneals each group's learning rate along a cosine from its base to `etaMin` over `tMax`
/// steps (`torch.optim.lr_scheduler.CosineAnnealingLR`):
/// `lr = etaMin + (base − etaMin)(1 + cos(π · epoch / tMax)) / 2`, computed in PyTorch's
/// chainable form (so past `tMax` it rises again, as PyTorch's does).
public final class CosineAnnealingLR: LRScheduler {
    /// The number of steps of a half period.
    public let tMax: Int
    /// The smallest learning rate.
    public let etaMin: Double
    override var kind: String { "CosineAnnealingLR" }

    /// A cosine annealing of `optimizer`'s learning rates; sets step 0 (the rates unchanged).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `tMax` is not positive or `etaMin`
    ///   is negative or not finite.
    public init(_ optimizer: any Optimizer, tMax: Int, etaMin: Double = 0) throws {
        try Self.require(tMax > 0, "CosineAnnealingLR", "tMax", expected: "> 0", tMax)
        try Self.require(etaMin >= 0 && etaMin.isFinite, "CosineAnnealingLR", "etaMin", expected: "≥ 0", etaMin)
        self.tMax = tMax
        self.etaMin = etaMin
        super.init(optimizer)
        initialStep()
    }

    override func chainedLearningRates() -> [Double] {
        let current = currentLearningRates
        if isInitial { return current }
        let t = Double(lastEpoch), period = Double(tMax)
        if (lastEpoch - 1 - tMax) % (2 * tMax) == 0 {
            return zip(current, baseLearningRates).map { lr, base in
                lr + (base - etaMin) * (1 - Foundation.cos(Double.pi / period)) / 2
            }
        }
        return current.map { lr in
            (1 + Foundation.cos(Double.pi * t / period)) / (1 + Foundation.cos(Double.pi * (t - 1) / period)) * (lr - etaMin) + etaMin
        }
    }

    override func closedFormLearningRates() -> [Double]? {
        baseLearningRates.map { etaMin + ($0 - etaMin) * (1 + Foundation.cos(Double.pi * Double(lastEpoch) / Double(tMax))) / 2 }
    }

    override var configuration: [String: Double] { ["T_max": Double(tMax), "eta_min": etaMin] }
}
