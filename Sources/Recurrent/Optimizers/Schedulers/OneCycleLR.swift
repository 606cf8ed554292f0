import Foundation

/// The 1cycle policy (`torch.optim.lr_scheduler.OneCycleLR`, Smith & Topin): each group's
/// learning rate rises from `maxLR / divFactor` to `maxLR` over the first `pctStart` of
/// `totalSteps`, then anneals to `maxLR / (divFactor · finalDivFactor)` (with `threePhase`,
/// it first comes back down to the initial rate, then anneals to the minimum). Step it
/// after every batch.
///
/// With `cycleMomentum` (the default, as in PyTorch) the momentum moves the other way: from
/// `maxMomentum` down to `baseMomentum` while the rate rises, and back up while it falls.
/// It is ``SGD``'s and ``RMSprop``'s `momentum`, or the first beta of ``Adam``, ``AdamW``,
/// ``Adamax``, ``NAdam`` and ``RAdam`` (one value for the whole optimizer).
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
    /// Whether the optimizer's momentum (or first beta) is cycled inversely to the rate.
    public let cycleMomentum: Bool
    /// The lowest momentum, at the peak learning rate.
    public let baseMomentum: Double
    /// The highest momentum, at the start and end of the cycle.
    public let maxMomentum: Double
    /// The phases: the step each ends at and its start and end rates as multiples of the
    /// group's initial (0), maximum (1) or minimum (2) rate.
    private let phases: [(end: Double, start: Int, finish: Int)]
    override var kind: String { "OneCycleLR" }

    /// A 1cycle schedule over `optimizer`'s groups, with one `maxLR` for all or one per
    /// group; sets step 0 (the initial rate `maxLR / divFactor`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `maxLR` has neither 1 nor one value
    ///   per group or a value that is negative or not finite, `totalSteps` is not positive,
    ///   `pctStart` is not in `[0, 1]`, a division factor is not positive and finite, or, with
    ///   `cycleMomentum`, the optimizer has no momentum to cycle (``Adagrad``, an ``SGD`` or
    ///   ``RMSprop`` built with momentum 0, whose buffers would be missing) or a momentum is
    ///   outside `[0, 1)`.
    public init(_ optimizer: any Optimizer, maxLR: [Double], totalSteps: Int, pctStart: Double = 0.3,
                annealStrategy: AnnealStrategy = .cos, cycleMomentum: Bool = true, baseMomentum: Double = 0.85,
                maxMomentum: Double = 0.95, divFactor: Double = 25, finalDivFactor: Double = 1e4,
                threePhase: Bool = false) throws {
        let groups = optimizer.learningRates.count
        try Self.require(maxLR.count == 1 || maxLR.count == groups, "OneCycleLR", "maxLR",
                         expected: "1 value or \(groups) (one per group)", maxLR)
        try Self.require(maxLR.allSatisfy { $0 >= 0 && $0.isFinite }, "OneCycleLR", "maxLR", expected: "≥ 0", maxLR)
        try Self.require(totalSteps > 0, "OneCycleLR", "totalSteps", expected: "> 0", totalSteps)
        try Self.require(pctStart >= 0 && pctStart <= 1, "OneCycleLR", "pctStart", expected: "in [0, 1]", pctStart)
        try Self.require(divFactor > 0 && divFactor.isFinite, "OneCycleLR", "divFactor", expected: "> 0", divFactor)
        try Self.require(finalDivFactor > 0 && finalDivFactor.isFinite, "OneCycleLR", "finalDivFactor", expected: "> 0", finalDivFactor)
        if cycleMomentum {
            guard let cycled = optimizer as? CycledMomentum, cycled.hasCycledMomentum else {
                throw TensorError.invalidArgument("OneCycleLR: expected an optimizer with a momentum or betas to cycle (SGD or RMSprop with a non-zero momentum, or an Adam-like optimizer), got \(type(of: optimizer)); pass cycleMomentum: false")
            }
            try Self.require(baseMomentum >= 0 && baseMomentum < 1 && maxMomentum >= 0 && maxMomentum < 1, "OneCycleLR",
                             "baseMomentum and maxMomentum", expected: "in [0, 1)", "\(baseMomentum), \(maxMomentum)")
        }
        maxLearningRates = maxLR.count == 1 ? Array(repeating: maxLR[0], count: groups) : maxLR
        self.totalSteps = totalSteps
        self.pctStart = pctStart
        self.annealStrategy = annealStrategy
        self.divFactor = divFactor
        self.finalDivFactor = finalDivFactor
        self.threePhase = threePhase
        self.cycleMomentum = cycleMomentum
        self.baseMomentum = baseMomentum
        self.maxMomentum = maxMomentum
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
                            annealStrategy: AnnealStrategy = .cos, cycleMomentum: Bool = true, baseMomentum: Double = 0.85,
                            maxMomentum: Double = 0.95, divFactor: Double = 25, finalDivFactor: Double = 1e4,
                            threePhase: Bool = false) throws {
        try self.init(optimizer, maxLR: [maxLR], totalSteps: totalSteps, pctStart: pctStart, annealStrategy: annealStrategy,
                      cycleMomentum: cycleMomentum, baseMomentum: baseMomentum, maxMomentum: maxMomentum,
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

    /// The phase of step `stepNumber` and the fraction of it done.
    private func phase(_ stepNumber: Double) -> (index: Int, pct: Double) {
        var start = 0.0
        for (i, phase) in phases.enumerated() {
            if stepNumber <= phase.end || i == phases.count - 1 { return (i, (stepNumber - start) / (phase.end - start)) }
            start = phase.end
        }
        return (phases.count - 1, 1)
    }

    override func chainedLearningRates() -> [Double] {
        let stepNumber = Double(lastEpoch)
        if cycleMomentum, let cycled = optimizer as? CycledMomentum {
            // Phase levels 0 (initial) and 2 (minimum) are the high momentum, 1 (peak) the low one.
            let (i, pct) = phase(stepNumber)
            let level = { (k: Int) in k == 1 ? self.baseMomentum : self.maxMomentum }
            cycled.cycledMomentum = Float(anneal(level(phases[i].start), level(phases[i].finish), pct))
        }
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
                      "anneal_linear": annealStrategy == .linear ? 1 : 0, "cycle_momentum": cycleMomentum ? 1 : 0,
                      "base_momentum": baseMomentum, "max_momentum": maxMomentum]
        for (k, m) in maxLearningRates.enumerated() { values["max_lr.\(k)"] = m }
        return values
    }
}

/// The optimizers whose momentum (or first beta) ``OneCycleLR`` can cycle.
protocol CycledMomentum: AnyObject {
    /// Whether the optimizer keeps what a momentum needs (SGD and RMSprop built with momentum 0 do not).
    var hasCycledMomentum: Bool { get }
    /// The momentum, or the first beta.
    var cycledMomentum: Float { get set }
}

/// Optimizers whose cycled momentum is their `momentum` (needed non-zero from the start).
protocol MomentumFactor: CycledMomentum {
    var momentum: Float { get set }
}

extension MomentumFactor {
    var hasCycledMomentum: Bool { momentum != 0 }
    var cycledMomentum: Float {
        get { momentum }
        set { momentum = newValue }
    }
}

/// Optimizers whose cycled momentum is their first beta.
protocol FirstBeta: CycledMomentum {
    var betas: (Float, Float) { get set }
}

extension FirstBeta {
    var hasCycledMomentum: Bool { true }
    var cycledMomentum: Float {
        get { betas.0 }
        set { betas.0 = newValue }
    }
}

extension SGD: MomentumFactor {}
extension RMSprop: MomentumFactor {}
extension Adam: FirstBeta {}
extension AdamW: FirstBeta {}
extension Adamax: FirstBeta {}
extension NAdam: FirstBeta {}
extension RAdam: FirstBeta {}
