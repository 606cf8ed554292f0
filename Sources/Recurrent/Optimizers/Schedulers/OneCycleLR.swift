import Foundation

/// The 1cycle policy (`torch.optim.lr_scheduler.OneCycleLR`, Smith & Topin): each group's
/// learning rate rises from `maxLR / divFactor` to `maxLR` over the first `pctStart` of
/// `totalSteps`, then anneals to `maxLR / (divFactor · finalDivFactor)` (with `threePhase`,
/// it first comes back down to the initial rate, then anneals to the minimum). Step it
/// after every batch.
///
/// The momentum is not cycled (PyTorch's `cycle_momentum=False`): the optimizer's
/// momentum or betas stay as they are.
public final class OneCycleLR: LRScheduler {
    /// How the rate moves within a phase.
    public enum AnnealStrategy: String, Sendable {
        /// Along a half cosine.
        case cos
        /// Along a straight line.
        case linear
    }

    /// The peak learning rate of each group.
    public let maxLearningRates: [Double]
    /// The number of steps of the cycle; stepping past it throws.
    public let totalSteps: Int
    /// The fraction of the cycle spent increasing the rate.
    public let pctStart: Double
    /// How the rate moves within a phase.
    public let annealStrategy: AnnealStrategy
    /// `maxLR / initial rate`.
    public let divFactor: Double
    /// `initial rate / final rate`.
    public let finalDivFactor: Double
    /// Whether to use three phases (up, down to the initial rate, down to the minimum).
    public let threePhase: Bool
    /// The phases: the step each ends at and its start and end rates as multiples of the
    /// group's initial (0), maximum (1) or minimum (2) rate.
    private let phases: [(end: Double, start: Int, finish: Int)]
    override var kind: String { "OneCycleLR" }

    /// A 1cycle schedule over `optimizer`'s groups, with one `maxLR` for all or one per
    /// group; sets step 0 (the initial rate `maxLR / divFactor`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `maxLR` has neither 1 nor one value
    ///   per group or a value that is negative or not finite, `totalSteps` is not positive,
    ///   `pctStart` is not in `[0, 1]`, or a division factor is not positive and finite.
    public init(_ optimizer: any Optimizer, maxLR: [Double], totalSteps: Int, pctStart: Double = 0.3,
                annealStrategy: AnnealStrategy = .cos, divFactor: Double = 25, finalDivFactor: Double = 1e4,
                threePhase: Bool = false) throws {
        let groups = optimizer.learningRates.count
        try Self.require(maxLR.count == 1 || maxLR.count == groups, "OneCycleLR", "maxLR",
                         expected: "1 value or \(groups) (one per group)", maxLR)
        try Self.require(maxLR.allSatisfy { $0 >= 0 && $0.isFinite }, "OneCycleLR", "maxLR", expected: "≥ 0", maxLR)
        try Self.require(totalSteps > 0, "OneCycleLR", "totalSteps", expected: "> 0", totalSteps)
        try Self.require(pctStart >= 0 && pctStart <= 1, "OneCycleLR", "pctStart", expected: "in [0, 1]", pctStart)
        try Self.require(divFactor > 0 && divFactor.isFinite, "OneCycleLR", "divFactor", expected: "> 0", divFactor)
        try Self.require(finalDivFactor > 0 && finalDivFactor.isFinite, "OneCycleLR", "finalDivFactor", expected: "> 0", finalDivFactor)
        maxLearningRates = maxLR.count == 1 ? Array(repeating: maxLR[0], count: groups) : maxLR
        self.totalSteps = totalSteps
        self.pctStart = pctStart
        self.annealStrategy = annealStrategy
        self.divFactor = divFactor
        self.finalDivFactor = finalDivFactor
        self.threePhase = threePhase
        let total = Double(totalSteps)
        phases = threePhase
            ? [(pctStart * total - 1, 0, 1), (2 * pctStart * total - 2, 1, 0), (total - 1, 0, 2)]
            : [(pctStart * total - 1, 0, 1), (total - 1, 1, 2)]
        super.init(optimizer)
        baseLearningRates = maxLearningRates.map { $0 / divFactor }
        initialStep()
    }

    /// A 1cycle schedule with one peak learning rate for every group.
    /// - Throws: what the initialiser with one `maxLR` per group throws.
    public convenience init(_ optimizer: any Optimizer, maxLR: Double, totalSteps: Int, pctStart: Double = 0.3,
                            annealStrategy: AnnealStrategy = .cos, divFactor: Double = 25, finalDivFactor: Double = 1e4,
                            threePhase: Bool = false) throws {
        try self.init(optimizer, maxLR: [maxLR], totalSteps: totalSteps, pctStart: pctStart, annealStrategy: annealStrategy,
                      divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase)
    }

    override func checkNextStep(_ epoch: Int) throws {
        guard epoch <= totalSteps else {
            throw TensorError.invalidArgument("OneCycleLR.step: tried to step \(epoch) times, but the cycle has \(totalSteps) steps")
        }
    }

    private func anneal(_ start: Double, _ end: Double, _ pct: Double) -> Double {
        switch annealStrategy {
        case .cos: return end + (start - end) / 2 * (Foundation.cos(Double.pi * pct) + 1)
        case .linear: return (end - start) * pct + start
        }
    }

    override func chainedLearningRates() -> [Double] {
        let stepNumber = Double(lastEpoch)
        return maxLearningRates.map { maxLR in
            let initial = maxLR / divFactor
            let levels = [initial, maxLR, initial / finalDivFactor]
            var start = 0.0
            for (i, phase) in phases.enumerated() {
                if stepNumber <= phase.end || i == phases.count - 1 {
                    return anneal(levels[phase.start], levels[phase.finish], (stepNumber - start) / (phase.end - start))
                }
                start = phase.end
            }
            return initial
        }
    }

    override var configuration: [String: Double] {
        var values = ["total_steps": Double(totalSteps), "pct_start": pctStart, "div_factor": divFactor,
                      "final_div_factor": finalDivFactor, "three_phase": threePhase ? 1 : 0,
                      "anneal_linear": annealStrategy == .linear ? 1 : 0]
        for (k, m) in maxLearningRates.enumerated() { values["max_lr.\(k)"] = m }
        return values
    }
}
