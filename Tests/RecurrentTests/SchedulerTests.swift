import Foundation
import XCTest
@testable import Recurrent

/// The learning-rate schedulers against PyTorch (`schedulers.json`: the learning rates of
/// two parameter groups after creation and after each of 100 steps), their states, and
/// argument checks.
final class SchedulerTests: XCTestCase {
    /// SGD over two groups with learning rates 0.1 and 0.02, as the fixture.
    private func makeOptimizer() throws -> SGD {
        try SGD([ParameterGroup([Parameter(Tensor(zeros: [1]))], lr: 0.1), ParameterGroup([Parameter(Tensor(zeros: [1]))], lr: 0.02)],
                lr: 0.1)
    }

    /// Builds the scheduler a fixture entry names, from PyTorch's option names.
    private func makeScheduler(_ spec: [String: Any], _ optimizer: any Optimizer) throws -> LRScheduler {
        let options = spec["options"] as? [String: Any] ?? [:]
        func double(_ key: String) -> Double? { (options[key] as? NSNumber)?.doubleValue }
        func int(_ key: String) -> Int? { (options[key] as? NSNumber)?.intValue }
        switch spec["scheduler"] as? String {
        case "StepLR": return try StepLR(optimizer, stepSize: int("step_size")!, gamma: double("gamma") ?? 0.1)
        case "MultiStepLR": return try MultiStepLR(optimizer, milestones: options["milestones"] as! [Int], gamma: double("gamma") ?? 0.1)
        case "ExponentialLR": return try ExponentialLR(optimizer, gamma: double("gamma")!)
        case "CosineAnnealingLR": return try CosineAnnealingLR(optimizer, tMax: int("T_max")!, etaMin: double("eta_min") ?? 0)
        case "LinearLR":
            return try LinearLR(optimizer, startFactor: double("start_factor") ?? 1.0 / 3, endFactor: double("end_factor") ?? 1,
                                totalIters: int("total_iters") ?? 5)
        case "OneCycleLR":
            let maxLR = (options["max_lr"] as? [NSNumber])?.map(\.doubleValue) ?? [double("max_lr")!]
            return try OneCycleLR(optimizer, maxLR: maxLR, totalSteps: int("total_steps")!, pctStart: double("pct_start") ?? 0.3,
                                  annealStrategy: (options["anneal_strategy"] as? String) == "linear" ? .linear : .cos,
                                  cycleMomentum: (options["cycle_momentum"] as? Bool) ?? true,
                                  baseMomentum: double("base_momentum") ?? 0.85, maxMomentum: double("max_momentum") ?? 0.95,
                                  divFactor: double("div_factor") ?? 25, finalDivFactor: double("final_div_factor") ?? 1e4,
                                  threePhase: (options["three_phase"] as? Bool) ?? false)
        case "SequentialLR":
            let children = try (spec["children"] as! [[String: Any]]).map { try makeScheduler($0, optimizer) }
            return try SequentialLR(optimizer, schedulers: children, milestones: options["milestones"] as! [Int])
        case "ChainedScheduler":
            return try ChainedScheduler(try (spec["children"] as! [[String: Any]]).map { try makeScheduler($0, optimizer) },
                                        optimizer: optimizer)
        default:
            throw TensorError.invalidArgument("the test does not know \(spec["scheduler"] ?? "")")
        }
    }

    private func makePlateau(_ spec: [String: Any], _ optimizer: any Optimizer) throws -> ReduceLROnPlateau {
        let options = spec["options"] as? [String: Any] ?? [:]
        func double(_ key: String) -> Double? { (options[key] as? NSNumber)?.doubleValue }
        return try ReduceLROnPlateau(optimizer, mode: (options["mode"] as? String) == "max" ? .max : .min,
                                     factor: double("factor") ?? 0.1, patience: (options["patience"] as? Int) ?? 10,
                                     threshold: double("threshold") ?? 1e-4,
                                     thresholdMode: (options["threshold_mode"] as? String) == "abs" ? .absolute : .relative,
                                     cooldown: (options["cooldown"] as? Int) ?? 0,
                                     minLR: (options["min_lr"] as? [NSNumber])?.map(\.doubleValue) ?? [0])
    }

    func testEveryScheduleMatchesPyTorchOver100Steps() throws {
        let f = try Fixture("schedulers")
        let runs = try XCTUnwrap(f["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 15)
        for run in runs {
            let label = "\(run["scheduler"] ?? "") \(run["options"] ?? "")"
            let expected = try XCTUnwrap(run["learning_rates"] as? [[Double]])
            XCTAssertEqual(expected.count, 101)
            let optimizer = try makeOptimizer()
            var actual: [[Double]] = []
            if let metrics = run["metrics"] as? [Double] {
                let plateau = try makePlateau(run, optimizer)
                actual.append(plateau.lastLearningRates)
                for m in metrics { plateau.step(m); actual.append(plateau.lastLearningRates) }
            } else {
                let scheduler = try makeScheduler(run, optimizer)
                actual.append(scheduler.lastLearningRates)
                for _ in 0..<100 {
                    try scheduler.step()
                    actual.append(scheduler.lastLearningRates)
                    XCTAssertEqual(optimizer.learningRates, scheduler.lastLearningRates.map { Float($0) }, label)
                }
            }
            for (k, (a, e)) in zip(actual, expected).enumerated() {
                for (x, y) in zip(a, e) where !(abs(x - y) <= 1e-12 + 2e-7 * abs(y)) {
                    XCTFail("\(label) step \(k): \(a) vs expected \(e)")
                    break
                }
            }
        }
    }

    func testOneCycleCyclesTheMomentumAsPyTorch() throws {
        let f = try Fixture("schedulers")
        let runs = try XCTUnwrap(f["momentum_runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 2)
        for run in runs {
            let p = Parameter(Tensor(zeros: [1]))
            let name = try XCTUnwrap(run["optimizer"] as? String)
            let options = run["optimizer_options"] as? [String: Any] ?? [:]
            let lr = try XCTUnwrap(options["lr"] as? Double)
            let optimizer: any Optimizer = name == "SGD"
                ? try SGD([p], lr: Float(lr), momentum: Float(try XCTUnwrap(options["momentum"] as? Double)))
                : try Adam([p], lr: Float(lr))
            let scheduler = try makeScheduler(["scheduler": "OneCycleLR", "options": run["options"] ?? [:]], optimizer)
            let momentum = { () -> Float in (optimizer as? SGD)?.momentum ?? (optimizer as! Adam).betas.0 }
            let expected = try XCTUnwrap(run["trajectory"] as? [[Double]])
            for k in 0...100 {
                if k > 0 { try scheduler.step() }
                XCTAssertEqual(scheduler.lastLearningRates[0], expected[k][0], accuracy: 1e-12 + 2e-7 * expected[k][0], "\(name) step \(k)")
                XCTAssertEqual(momentum(), Float(expected[k][1]), accuracy: 1e-6, "\(name) momentum at step \(k)")
            }
        }
    }

    func testStatesResumeTheSchedule() throws {
        let f = try Fixture("schedulers")
        let runs = try XCTUnwrap(f["runs"] as? [[String: Any]])
        for run in runs where run["metrics"] == nil {
            let label = "\(run["scheduler"] ?? "")"
            let first = try makeOptimizer(), firstScheduler = try makeScheduler(run, first)
            for _ in 0..<37 { try firstScheduler.step() }
            let state = try JSONDecoder().decode(SchedulerState.self, from: JSONEncoder().encode(firstScheduler.state))
            let second = try makeOptimizer(), secondScheduler = try makeScheduler(run, second)
            try secondScheduler.loadState(state)
            XCTAssertEqual(second.learningRates, first.learningRates, label)
            for _ in 0..<40 {
                try firstScheduler.step()
                try secondScheduler.step()
                XCTAssertEqual(secondScheduler.lastLearningRates, firstScheduler.lastLearningRates, label)
            }
        }
        // ReduceLROnPlateau keeps its counters.
        let metrics = [1.0, 0.9, 0.95, 0.97, 0.99, 0.8, 0.85, 0.9, 0.92]
        let a = try makeOptimizer(), b = try makeOptimizer()
        let p = try ReduceLROnPlateau(a, patience: 1, cooldown: 1), q = try ReduceLROnPlateau(b, patience: 1, cooldown: 1)
        for m in metrics.prefix(4) { p.step(m) }
        try q.loadState(p.state)
        for m in metrics.dropFirst(4) { p.step(m); q.step(m); XCTAssertEqual(q.lastLearningRates, p.lastLearningRates) }
        XCTAssertThrowsError(try ReduceLROnPlateau(b, patience: 2).loadState(p.state))
    }

    func testArgumentsAndMismatchedStatesThrow() throws {
        let optimizer = try makeOptimizer()
        XCTAssertThrowsError(try StepLR(optimizer, stepSize: 0))
        XCTAssertThrowsError(try ExponentialLR(optimizer, gamma: -1))
        XCTAssertThrowsError(try CosineAnnealingLR(optimizer, tMax: 0))
        XCTAssertThrowsError(try LinearLR(optimizer, startFactor: 0))
        XCTAssertThrowsError(try OneCycleLR(optimizer, maxLR: [0.1, 0.2, 0.3], totalSteps: 10))
        XCTAssertThrowsError(try ReduceLROnPlateau(optimizer, factor: 1))
        XCTAssertThrowsError(try SequentialLR(optimizer, schedulers: [try StepLR(optimizer, stepSize: 2)], milestones: [3]))
        XCTAssertThrowsError(try SequentialLR(optimizer, schedulers: [try StepLR(try makeOptimizer(), stepSize: 2)], milestones: []))
        // A 1cycle schedule cannot go past its end; the failed step changes nothing.
        XCTAssertThrowsError(try OneCycleLR(optimizer, maxLR: 0.1, totalSteps: 3)) { error in   // SGD without momentum
            XCTAssertTrue("\(error)".contains("cycleMomentum: false"), "\(error)")
        }
        XCTAssertThrowsError(try OneCycleLR(try Adagrad([Parameter(Tensor(zeros: [1]))]), maxLR: 0.1, totalSteps: 3))
        XCTAssertThrowsError(try OneCycleLR(try Adam([Parameter(Tensor(zeros: [1]))]), maxLR: 0.1, totalSteps: 3, maxMomentum: 1))
        let cycle = try OneCycleLR(optimizer, maxLR: 0.1, totalSteps: 3, cycleMomentum: false)
        for _ in 0..<3 { try cycle.step() }
        let before = optimizer.learningRates
        XCTAssertThrowsError(try cycle.step())
        XCTAssertEqual(cycle.lastEpoch, 3)
        XCTAssertEqual(optimizer.learningRates, before)
        // Another kind or other settings.
        let step = try StepLR(optimizer, stepSize: 3)
        XCTAssertThrowsError(try step.loadState(cycle.state))
        XCTAssertThrowsError(try StepLR(optimizer, stepSize: 4).loadState(step.state))
    }

    func testOneCycleEndsAtTheMinimum() throws {
        let optimizer = try SGD([Parameter(Tensor(zeros: [1]))], lr: 1)
        let cycle = try OneCycleLR(optimizer, maxLR: 1, totalSteps: 10, pctStart: 0.5, annealStrategy: .linear, cycleMomentum: false)
        XCTAssertEqual(cycle.lastLearningRates[0], 1.0 / 25, accuracy: 1e-15)
        for _ in 0..<4 { try cycle.step() }
        XCTAssertEqual(cycle.lastLearningRates[0], 1, accuracy: 1e-12)   // the peak at step pctStart · total − 1
        for _ in 0..<5 { try cycle.step() }
        XCTAssertEqual(cycle.lastLearningRates[0], 1.0 / 25 / 1e4, accuracy: 1e-15)
    }
}

/// ``ChainedScheduler``'s checks and state.
final class ChainedSchedulerTests: XCTestCase {
    func testChainedSchedulerChecksAndResumes() throws {
        let optimizer = try SGD([Parameter(Tensor(zeros: [1]))], lr: 0.1)
        let other = try SGD([Parameter(Tensor(zeros: [1]))], lr: 0.1)
        XCTAssertThrowsError(try ChainedScheduler([]))
        XCTAssertThrowsError(try ChainedScheduler([try StepLR(optimizer, stepSize: 2), try StepLR(other, stepSize: 2)]))
        XCTAssertThrowsError(try ChainedScheduler([try StepLR(optimizer, stepSize: 2)], optimizer: other))
        // A OneCycleLR at its end stops the chain before anything steps.
        let cycle = try OneCycleLR(optimizer, maxLR: [0.5], totalSteps: 3, cycleMomentum: false)
        let decay = try ExponentialLR(optimizer, gamma: 0.5)
        let chained = try ChainedScheduler([decay, cycle])
        var failed = false
        for _ in 0..<6 where !failed {
            let before = (chained.state, optimizer.learningRates)
            do { try chained.step() } catch {
                failed = true
                XCTAssertEqual(chained.state, before.0)
                XCTAssertEqual(optimizer.learningRates, before.1)
            }
        }
        XCTAssertTrue(failed)

        let make = { (o: SGD) in try ChainedScheduler([try LinearLR(o, startFactor: 0.2, totalIters: 4), try ExponentialLR(o, gamma: 0.9)]) }
        let first = try make(optimizer)
        for _ in 0..<3 { try first.step() }
        let resumedOptimizer = try SGD([Parameter(Tensor(zeros: [1]))], lr: 0.1)
        let resumed = try make(resumedOptimizer)
        try resumed.loadState(first.state)
        for _ in 0..<3 {
            try first.step()
            try resumed.step()
            XCTAssertEqual(resumed.lastLearningRates, first.lastLearningRates)
        }
        var wrong = first.state
        wrong.children.removeLast()
        XCTAssertThrowsError(try resumed.loadState(wrong))
    }
}

/// A scheduler's state travels in a checkpoint file.
final class SchedulerCheckpointTests: XCTestCase {
    func testCheckpointCarriesTheSchedulerState() throws {
        let model = try Linear(inFeatures: 2, outFeatures: 1)
        let optimizer = try SGD(model.parameters(), lr: 0.1)
        let warmUp = try LinearLR(optimizer, startFactor: 0.1, totalIters: 4)
        let scheduler = try SequentialLR(optimizer, schedulers: [warmUp, try ExponentialLR(optimizer, gamma: 0.9)], milestones: [4])
        for _ in 0..<6 { try scheduler.step() }
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sched-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try Checkpoint(model: model, optimizer: optimizer, scheduler: scheduler).write(to: url)
        let read = try Checkpoint(contentsOf: url)
        XCTAssertEqual(read.scheduler, scheduler.state)
        let optimizer2 = try SGD(model.parameters().map { Parameter($0) }, lr: 0.1)
        let resumed = try SequentialLR(optimizer2, schedulers: [try LinearLR(optimizer2, startFactor: 0.1, totalIters: 4),
                                                                try ExponentialLR(optimizer2, gamma: 0.9)], milestones: [4])
        try read.restore(scheduler: resumed)
        try scheduler.step()
        try resumed.step()
        XCTAssertEqual(resumed.lastLearningRates, scheduler.lastLearningRates)
        XCTAssertEqual(optimizer2.learningRate, optimizer.learningRate)
        XCTAssertThrowsError(try Checkpoint(model: model, optimizer: optimizer).restore(scheduler: resumed))
        // A plateau detector before its first step has an infinite best value.
        let plateau = try ReduceLROnPlateau(optimizer, patience: 2)
        try Checkpoint(model: model, optimizer: optimizer, scheduler: plateau).write(to: url)
        let again = try Checkpoint(contentsOf: url)
        XCTAssertEqual(again.scheduler?.values["best"], .infinity)
        let plateau2 = try ReduceLROnPlateau(optimizer2, patience: 2)
        try again.restore(scheduler: plateau2)
        XCTAssertEqual(plateau2.best, .infinity)
    }
}
