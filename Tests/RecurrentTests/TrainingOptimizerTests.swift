import Foundation
import XCTest
@testable import Recurrent

/// Adagrad, Adamax, NAdam, RAdam and parameter groups of every optimizer against PyTorch
/// (`training_optimizers.json`: 100-step trajectories of two parameters), `clipGradValue`,
/// and hyperparameters in optimizer states.
final class TrainingOptimizerTests: XCTestCase {
    /// Builds the optimizer a fixture run names, from PyTorch's option names, over one group
    /// or one group per parameter with the run's overrides.
    static func makeOptimizer(_ name: String, _ options: [String: Any], _ groupOptions: [[String: Any]]?,
                              _ parameters: [Parameter]) throws -> any Optimizer {
        func float(_ key: String, _ fallback: Float) -> Float { (options[key] as? NSNumber)?.floatValue ?? fallback }
        func bool(_ key: String) -> Bool { (options[key] as? NSNumber)?.boolValue ?? false }
        let known: Set<String> = ["lr", "momentum", "weight_decay", "betas", "eps", "lr_decay", "initial_accumulator_value",
                                  "momentum_decay", "decoupled_weight_decay"]
        for key in options.keys where !known.contains(key) { XCTFail("option \(key) of \(name) is not handled by the test") }
        let betas = (options["betas"] as? [NSNumber]).map { ($0[0].floatValue, $0[1].floatValue) } ?? (0.9, 0.999)
        let groups: [ParameterGroup] = groupOptions.map { list in
            zip(parameters, list).map { p, g in
                ParameterGroup([p], lr: (g["lr"] as? NSNumber)?.floatValue, weightDecay: (g["weight_decay"] as? NSNumber)?.floatValue)
            }
        } ?? [ParameterGroup(parameters)]
        let wd = float("weight_decay", 0)
        switch name {
        case "SGD": return try SGD(groups, lr: float("lr", 1e-3), momentum: float("momentum", 0), weightDecay: wd)
        case "Adam": return try Adam(groups, lr: float("lr", 1e-3), betas: betas, eps: float("eps", 1e-8), weightDecay: wd)
        case "AdamW": return try AdamW(groups, lr: float("lr", 1e-3), betas: betas, eps: float("eps", 1e-8),
                                       weightDecay: float("weight_decay", 1e-2))
        case "RMSprop": return try RMSprop(groups, lr: float("lr", 1e-2), weightDecay: wd, momentum: float("momentum", 0))
        case "Adagrad":
            return try Adagrad(groups, lr: float("lr", 1e-2), lrDecay: float("lr_decay", 0), weightDecay: wd,
                               initialAccumulatorValue: float("initial_accumulator_value", 0), eps: float("eps", 1e-10))
        case "Adamax": return try Adamax(groups, lr: float("lr", 2e-3), betas: betas, eps: float("eps", 1e-8), weightDecay: wd)
        case "NAdam":
            return try NAdam(groups, lr: float("lr", 2e-3), betas: betas, eps: float("eps", 1e-8), weightDecay: wd,
                             momentumDecay: float("momentum_decay", 4e-3), decoupledWeightDecay: bool("decoupled_weight_decay"))
        case "RAdam":
            return try RAdam(groups, lr: float("lr", 1e-3), betas: betas, eps: float("eps", 1e-8), weightDecay: wd,
                             decoupledWeightDecay: bool("decoupled_weight_decay"))
        default: throw TensorError.invalidArgument("unknown optimizer \(name)")
        }
    }

    func testEveryRunMatchesPyTorchOver100Steps() throws {
        let f = try Fixture("training_optimizers")
        let a0 = try XCTUnwrap(f.tensor("a0")), b0 = try XCTUnwrap(f.tensor("b0"))
        let gradsA = try XCTUnwrap(f.tensor("grads_a")).scalars, gradsB = try XCTUnwrap(f.tensor("grads_b")).scalars
        let runs = try XCTUnwrap(f["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 18)
        var names = Set<String>()
        for run in runs {
            let name = try XCTUnwrap(run["optimizer"] as? String)
            names.insert(name)
            let options = run["options"] as? [String: Any] ?? [:], groups = run["groups"] as? [[String: Any]]
            let expected = try XCTUnwrap((run["trajectory"] as? [String: Any]).flatMap(Fixture.tensor(from:)))
            XCTAssertEqual(expected.shape, [100, 10])
            let a = Parameter(a0), b = Parameter(b0)
            let optimizer = try Self.makeOptimizer(name, options, groups, [a, b])
            XCTAssertEqual(optimizer.learningRates.count, groups?.count ?? 1)
            var actual: [Float] = []
            for step in 0..<100 {
                a.grad = Tensor(shape: [3, 2], scalars: Array(gradsA[step * 6..<(step + 1) * 6]))
                b.grad = Tensor(shape: [4], scalars: Array(gradsB[step * 4..<(step + 1) * 4]))
                optimizer.step()
                actual += a.scalars + b.scalars
            }
            assertClose(actual, expected.scalars, rtol: 1e-4, atol: 2e-5, "\(name) \(options) groups \(groups.map { "\($0)" } ?? "none")")
        }
        XCTAssertEqual(names, ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adamax", "NAdam", "RAdam"])
    }

    func testClipGradValueMatchesPyTorch() throws {
        let f = try Fixture("training_optimizers")
        let clip = f.object("clip_value")
        let grads = try XCTUnwrap(clip["grads"] as? [[String: Any]]).compactMap(Fixture.tensor(from:))
        let clipped = try XCTUnwrap(clip["clipped"] as? [[String: Any]]).compactMap(Fixture.tensor(from:))
        let value = try XCTUnwrap(clip["clip_value"] as? NSNumber).floatValue
        var parameters = grads.map { g -> Parameter in
            let p = Parameter(Tensor(zeros: g.shape))
            p.grad = g.detached()
            return p
        }
        parameters.append(Parameter(Tensor(zeros: [2])))   // no gradient: skipped
        try clipGradValue(parameters, clipValue: value)
        for (p, e) in zip(parameters, clipped) { XCTAssertEqual(p.grad?.scalars, e.scalars) }
        XCTAssertNil(parameters.last?.grad)
        XCTAssertThrowsError(try clipGradValue(parameters, clipValue: -1))
        XCTAssertThrowsError(try clipGradValue(parameters, clipValue: .nan))
    }

    // MARK: Parameter groups and hyperparameters in states

    func testGroupsTakeTheOptimizerDefaultsAndAreChecked() throws {
        let a = Parameter(Tensor(zeros: [2])), b = Parameter(Tensor(zeros: [3])), c = Parameter(Tensor(zeros: [1]))
        let sgd = try SGD([ParameterGroup([a, b], lr: 0.5), ParameterGroup([c], weightDecay: 0.1)], lr: 0.1, weightDecay: 0.01)
        XCTAssertEqual(sgd.parameterGroups, [ParameterGroupSettings(parameterIndices: 0..<2, learningRate: 0.5, weightDecay: 0.01),
                                             ParameterGroupSettings(parameterIndices: 2..<3, learningRate: 0.1, weightDecay: 0.1)])
        XCTAssertEqual(sgd.parameters.count, 3)
        sgd.learningRates = [1, 2]
        XCTAssertEqual(sgd.learningRates, [1, 2])
        sgd.learningRate = 3
        XCTAssertEqual(sgd.learningRates, [3, 3])
        XCTAssertThrowsError(try Adam([ParameterGroup([a]), ParameterGroup([a])])) { error in
            XCTAssertTrue("\(error)".contains("distinct"), "\(error)")
        }
        XCTAssertThrowsError(try RAdam([ParameterGroup([a]), ParameterGroup([])]))
        XCTAssertThrowsError(try NAdam([ParameterGroup([a], lr: -1)]))
        XCTAssertThrowsError(try Adagrad([ParameterGroup([a], weightDecay: .nan)]))
        XCTAssertThrowsError(try Adamax([ParameterGroup]()))
    }

    /// Two steps on `optimizer` with fixed gradients.
    private func twoSteps(_ optimizer: any Optimizer) {
        for k in 0..<2 {
            for (i, p) in optimizer.parameters.enumerated() {
                p.grad = Tensor(shape: p.shape, scalars: (0..<p.count).map { Float($0 + i + k) * 0.1 - 0.2 })
            }
            optimizer.step()
        }
    }

    func testRestoringReplacesHyperparametersAsPyTorch() throws {
        let a = Parameter(Tensor(shape: [3], scalars: [1, 2, 3])), b = Parameter(Tensor(shape: [2], scalars: [-1, 0.5]))
        let saved = try Adam([ParameterGroup([a], lr: 0.01), ParameterGroup([b], weightDecay: 0.2)], lr: 0.05, betas: (0.8, 0.99), eps: 1e-6)
        twoSteps(saved)
        let state = saved.state
        XCTAssertEqual(state.groups?.count, 2)
        XCTAssertEqual(state.groups?[1].hyperparameters["betas.0"], Double(Float(0.8)))
        // Through JSON (what a checkpoint holds) into an Adam built with other hyperparameters.
        let decoded = try JSONDecoder().decode(OptimizerState.self, from: JSONEncoder().encode(state))
        XCTAssertEqual(decoded, state)
        let a2 = Parameter(a), b2 = Parameter(b)
        let restored = try Adam([ParameterGroup([a2]), ParameterGroup([b2])], lr: 1, betas: (0.5, 0.5), eps: 1)
        try restored.loadState(decoded)
        XCTAssertEqual(restored.betas.0, 0.8)
        XCTAssertEqual(restored.betas.1, 0.99)
        XCTAssertEqual(restored.eps, 1e-6)
        XCTAssertEqual(restored.parameterGroups, saved.parameterGroups)
        XCTAssertEqual(restored.state, state)
        // The next steps are the same.
        twoSteps(saved)
        twoSteps(restored)
        XCTAssertEqual(a2.scalars, a.scalars)
        XCTAssertEqual(b2.scalars, b.scalars)
    }

    func testRestoringThatCannotMatchThrowsAndChangesNothing() throws {
        let a = Parameter(Tensor(shape: [3], scalars: [1, 2, 3])), b = Parameter(Tensor(shape: [2], scalars: [-1, 0.5]))
        let saved = try Adam([a, b], lr: 0.05, amsgrad: true)
        twoSteps(saved)
        let state = saved.state
        let plain = try Adam([Parameter(a), Parameter(b)], lr: 0.3, betas: (0.5, 0.6))
        let before = plain.state
        XCTAssertThrowsError(try plain.loadState(state)) { error in XCTAssertTrue("\(error)".contains("amsgrad"), "\(error)") }
        XCTAssertEqual(plain.state, before)
        XCTAssertEqual(plain.betas.0, 0.5)
        // Another grouping of the same parameters.
        let twoGroups = try Adam([ParameterGroup([Parameter(a)]), ParameterGroup([Parameter(b)])], amsgrad: true)
        XCTAssertThrowsError(try twoGroups.loadState(state)) { error in XCTAssertTrue("\(error)".contains("2 parameter groups"), "\(error)") }
        // A hyperparameter that is out of range or unknown.
        var bad = state
        bad.groups?[0].hyperparameters["betas.1"] = 1.5
        XCTAssertThrowsError(try Adam([Parameter(a), Parameter(b)], amsgrad: true).loadState(bad))
        bad = state
        bad.groups?[0].hyperparameters["momentum"] = 0.9
        XCTAssertThrowsError(try Adam([Parameter(a), Parameter(b)], amsgrad: true).loadState(bad))
        // SGD with and without momentum keep different buffers.
        let sgd = try SGD([a, b], lr: 0.1, momentum: 0.9)
        twoSteps(sgd)
        XCTAssertThrowsError(try SGD([Parameter(a), Parameter(b)], lr: 0.1).loadState(sgd.state))
        // A state written before the groups were stored sets the learning rate only.
        var old = sgd.state
        old.groups = nil
        let resumed = try SGD([Parameter(a), Parameter(b)], lr: 0.7, momentum: 0.5)
        try resumed.loadState(old)
        XCTAssertEqual(resumed.learningRate, 0.1)
        XCTAssertEqual(resumed.momentum, 0.5)
    }

    func testEveryNewOptimizerResumesExactly() throws {
        let makers: [(String, ([Parameter]) throws -> any Optimizer)] = [
            ("Adagrad", { try Adagrad($0, lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1) }),
            ("Adamax", { try Adamax($0, betas: (0.8, 0.9)) }),
            ("NAdam", { try NAdam($0, momentumDecay: 0.01, decoupledWeightDecay: true) }),
            ("RAdam", { try RAdam($0, weightDecay: 0.1) }),
            ("RMSprop", { try RMSprop($0, momentum: 0.3, centered: true) }),
        ]
        for (name, make) in makers {
            let a = Parameter(Tensor(shape: [3], scalars: [1, 2, 3])), b = Parameter(Tensor(shape: [2], scalars: [-1, 0.5]))
            let first = try make([a, b])
            for _ in 0..<4 { twoSteps(first) }
            let a2 = Parameter(a), b2 = Parameter(b)
            let second = try make([a2, b2])
            try second.loadState(JSONDecoder().decode(OptimizerState.self, from: JSONEncoder().encode(first.state)))
            XCTAssertEqual(second.state, first.state, name)
            for _ in 0..<3 { twoSteps(first); twoSteps(second) }
            XCTAssertEqual(a2.scalars, a.scalars, name)
            XCTAssertEqual(b2.scalars, b.scalars, name)
            XCTAssertThrowsError(try second.loadState(OptimizerState(optimizer: "SGD", learningRate: 0.1, parameters: [:])), name)
        }
    }

    func testCheckpointFilesCarryTheHyperparameters() throws {
        let model = try Linear(inFeatures: 3, outFeatures: 2)
        let optimizer = try RAdam([ParameterGroup([model.weight], lr: 0.02), ParameterGroup(Array(model.parameters().dropFirst()))],
                                  lr: 0.01, betas: (0.7, 0.95))
        twoSteps(optimizer)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("groups-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try Checkpoint(model: model, optimizer: optimizer).write(to: url)
        let read = try Checkpoint(contentsOf: url)
        XCTAssertEqual(read.optimizer, optimizer.state)
        let other = try RAdam([ParameterGroup([model.weight]), ParameterGroup(Array(model.parameters().dropFirst()))])
        try read.restore(model: model, optimizer: other, restoreRandomState: false)
        XCTAssertEqual(other.learningRates, [0.02, 0.01])
        XCTAssertEqual(other.betas.0, 0.7)
        // Malformed groups are rejected when the file is read.
        var metadata = try SafeTensorsFile(contentsOf: url).metadata
        metadata["optimizer.param_groups"] = "[{]"
        try SafeTensors.write(try SafeTensorsFile(contentsOf: url).tensors, metadata: metadata, to: url)
        XCTAssertThrowsError(try Checkpoint(contentsOf: url)) { error in
            guard case CheckpointError.invalidEntry("optimizer.param_groups", _) = error else { return XCTFail("\(error)") }
        }
    }
}
