import Foundation
import XCTest
@testable import Recurrent

/// The optimizers and `clipGradNorm` against PyTorch (`optimizers.json`, plus trajectories
/// for the options the fixture does not cover), state save/restore, and validation.
final class OptimizerTests: XCTestCase {
    // MARK: Helpers

    /// Builds the optimizer a fixture run names, from PyTorch's option names.
    private func makeOptimizer(_ name: String, _ options: [String: Any], _ parameters: [Parameter]) throws -> any Optimizer {
        func float(_ key: String, _ fallback: Float) -> Float { (options[key] as? NSNumber)?.floatValue ?? fallback }
        func bool(_ key: String) -> Bool { (options[key] as? NSNumber)?.boolValue ?? false }
        let known: Set<String> = ["lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps",
                                  "amsgrad", "alpha", "centered"]
        for key in options.keys where !known.contains(key) { XCTFail("option \(key) of \(name) is not handled by the test") }
        let betas = (options["betas"] as? [NSNumber]).map { ($0[0].floatValue, $0[1].floatValue) } ?? (0.9, 0.999)
        switch name {
        case "SGD":
            return try SGD(parameters, lr: float("lr", 1e-3), momentum: float("momentum", 0), dampening: float("dampening", 0),
                           weightDecay: float("weight_decay", 0), nesterov: bool("nesterov"))
        case "Adam":
            return try Adam(parameters, lr: float("lr", 1e-3), betas: betas, eps: float("eps", 1e-8),
                            weightDecay: float("weight_decay", 0), amsgrad: bool("amsgrad"))
        case "AdamW":
            return try AdamW(parameters, lr: float("lr", 1e-3), betas: betas, eps: float("eps", 1e-8),
                             weightDecay: float("weight_decay", 1e-2), amsgrad: bool("amsgrad"))
        case "RMSprop":
            return try RMSprop(parameters, lr: float("lr", 1e-2), alpha: float("alpha", 0.99), eps: float("eps", 1e-8),
                               weightDecay: float("weight_decay", 0), momentum: float("momentum", 0), centered: bool("centered"))
        default:
            throw TensorError.invalidArgument("unknown optimizer \(name)")
        }
    }

    /// Steps an optimizer over a copy of `initial` with each gradient in turn and returns
    /// the parameter after each step.
    private func trajectory(_ name: String, _ options: [String: Any], initial: Tensor, grads: [Tensor]) throws -> [[Float]] {
        let p = Parameter(initial)
        let optimizer = try makeOptimizer(name, options, [p])
        return grads.map { g in
            p.grad = g.detached()
            optimizer.step()
            return p.scalars
        }
    }

    // MARK: PyTorch fixture

    func testEveryFixtureRunMatchesPyTorchTrajectory() throws {
        let f = try Fixture("optimizers", shared: true)
        let initial = try XCTUnwrap(f.tensor("param0"))
        let grads = try XCTUnwrap(f["grads"] as? [[String: Any]]).compactMap(Fixture.tensor(from:))
        XCTAssertEqual(grads.count, 3)
        let runs = try XCTUnwrap(f["runs"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 7)
        for run in runs {
            let name = try XCTUnwrap(run["optimizer"] as? String)
            let options = run["options"] as? [String: Any] ?? [:]
            let expected = try XCTUnwrap(run["params_after_each_step"] as? [[String: Any]]).compactMap(Fixture.tensor(from:))
            XCTAssertEqual(expected.count, grads.count)
            let actual = try trajectory(name, options, initial: initial, grads: grads)
            for (k, e) in expected.enumerated() {
                assertClose(actual[k], e.scalars, rtol: 1e-5, atol: 1e-5, "\(name) \(options) step \(k + 1)")
            }
        }
    }

    func testClipGradNormMatchesPyTorch() throws {
        let f = try Fixture("optimizers", shared: true)
        let clip = f.object("clip")
        let grads = try XCTUnwrap(clip["grads"] as? [[String: Any]]).compactMap(Fixture.tensor(from:))
        let clipped = try XCTUnwrap(clip["clipped"] as? [[String: Any]]).compactMap(Fixture.tensor(from:))
        let maxNorm = try XCTUnwrap(clip["max_norm"] as? NSNumber).floatValue
        let expectedTotal = try XCTUnwrap(clip["total_norm"] as? NSNumber).floatValue
        let parameters = grads.map { g -> Parameter in
            let p = Parameter(Tensor(zeros: g.shape))
            p.grad = g.detached()
            return p
        }
        let withoutGrad = Parameter(Tensor(zeros: [2]))
        // The norm alone (get_total_norm) is the same, and leaves the gradients as they are.
        let measured = totalGradNorm(parameters + [withoutGrad])
        assertClose([measured], [expectedTotal], rtol: 1e-6, atol: 1e-6)
        for (p, g) in zip(parameters, grads) { XCTAssertEqual(p.grad?.scalars, g.scalars) }
        let total = clipGradNorm(parameters + [withoutGrad], maxNorm: maxNorm)
        assertClose([total], [expectedTotal], rtol: 1e-6, atol: 1e-6)
        for (p, e) in zip(parameters, clipped) { assertClose(p.grad, e, rtol: 1e-5, atol: 1e-6) }
        XCTAssertNil(withoutGrad.grad)
    }

    func testClipGradNormLeavesSmallGradientsAndOtherNorms() {
        let p = Parameter(Tensor(zeros: [3]))
        p.grad = Tensor(shape: [3], scalars: [3, -4, 0])
        XCTAssertEqual(clipGradNorm([p], maxNorm: 10), 5, accuracy: 1e-6)
        XCTAssertEqual(p.grad?.scalars, [3, -4, 0])
        XCTAssertEqual(clipGradNorm([p], maxNorm: 10, normType: 1), 7, accuracy: 1e-6)
        XCTAssertEqual(clipGradNorm([p], maxNorm: 10, normType: .infinity), 4)
        XCTAssertEqual(clipGradNorm([p], maxNorm: 2, normType: .infinity), 4)
        assertClose(p.grad?.scalars ?? [], [1.5, -2, 0], rtol: 1e-6, atol: 1e-6)
        XCTAssertEqual(clipGradNorm([Parameter(Tensor(zeros: [2]))], maxNorm: 1), 0)
    }

    func testTotalGradNormByHand() {
        let a = Parameter(Tensor(zeros: [2])), b = Parameter(Tensor(zeros: [1])), none = Parameter(Tensor(zeros: [1]))
        a.grad = Tensor(shape: [2], scalars: [3, 0])
        b.grad = Tensor(shape: [1], scalars: [-4])
        XCTAssertEqual(totalGradNorm([a, b, none]), 5, accuracy: 1e-6)
        XCTAssertEqual(totalGradNorm([a, b], normType: 1), 7, accuracy: 1e-6)
        XCTAssertEqual(totalGradNorm([a, b], normType: .infinity), 4)
        XCTAssertEqual(totalGradNorm([a, b], normType: -.infinity), 0)
        XCTAssertEqual(totalGradNorm([a, b], normType: 0), 2)
        XCTAssertEqual(totalGradNorm([a, b], normType: 3), Float(pow(27.0 + 64.0, 1.0 / 3)), accuracy: 1e-5)
        XCTAssertEqual(a.grad?.scalars, [3, 0])
        XCTAssertEqual(totalGradNorm([none]), 0)
        b.grad = Tensor(shape: [1], scalars: [.infinity])
        XCTAssertEqual(totalGradNorm([a, b]), .infinity)
        b.grad = Tensor(shape: [1], scalars: [.nan])
        XCTAssertTrue(totalGradNorm([a, b]).isNaN)
    }

    // MARK: Options the fixture does not cover

    /// Produced by (PyTorch 2.15, CPU):
    /// ```python
    /// p0 = torch.tensor([[0.5, -1.0], [2.0, 0.25]])
    /// grads = [torch.tensor([[0.1, -0.2], [0.3, 0.05]]), torch.tensor([[-0.4, 0.1], [0.2, -0.3]]),
    ///          torch.tensor([[0.05, 0.5], [-0.1, 0.2]])]
    /// p = torch.nn.Parameter(p0.clone()); opt = getattr(torch.optim, name)([p], **opts)
    /// for g in grads: p.grad = g.clone(); opt.step(); print(p.detach().flatten().tolist())
    /// ```
    func testMoreOptionsMatchPyTorchTrajectories() throws {
        let initial = Tensor(shape: [2, 2], scalars: [0.5, -1.0, 2.0, 0.25])
        let grads = [Tensor(shape: [2, 2], scalars: [0.1, -0.2, 0.3, 0.05]),
                     Tensor(shape: [2, 2], scalars: [-0.4, 0.1, 0.2, -0.3]),
                     Tensor(shape: [2, 2], scalars: [0.05, 0.5, -0.1, 0.2])]
        let cases: [(String, [String: Any], [[Float]])] = [
            ("SGD", ["lr": 0.1, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.05], [
                [0.487500012, -0.975000024, 1.96000004, 0.243750006],
                [0.502543747, -0.95608753, 1.90314007, 0.258271873],
                [0.510824203, -0.970719993, 1.85230505, 0.2564376]]),
            ("Adam", ["lr": 0.05, "amsgrad": true, "weight_decay": 0.02], [
                [0.450000018, -0.949999988, 1.95000005, 0.200000018],
                [0.476748824, -0.931423128, 1.90119195, 0.230463862],
                [0.492572308, -0.953861654, 1.86859143, 0.231977195]]),
            ("AdamW", ["lr": 0.05, "amsgrad": true, "betas": [0.7, 0.9]], [
                [0.449750006, -0.949499965, 1.949, 0.199874997],
                [0.482068926, -0.941464245, 1.90024078, 0.235147133],
                [0.498375893, -0.973856509, 1.87908554, 0.233475789]]),
            ("RMSprop", ["lr": 0.01, "alpha": 0.9, "weight_decay": 0.1, "momentum": 0.8, "centered": true], [
                [0.466666669, -0.966666698, 1.9666667, 0.216666684],
                [0.469827265, -0.940387785, 1.91749477, 0.221497536],
                [0.464129776, -0.945848882, 1.87267065, 0.205374196]]),
            ("RMSprop", ["lr": 0.02, "momentum": 0.5], [
                [0.300000191, -0.800000072, 1.80000007, 0.0500003844],
                [0.394085824, -0.78980273, 1.58867407, 0.147305965],
                [0.416924924, -0.96755147, 1.53688657, 0.0856743827]]),
            ("RMSprop", ["lr": 0.02, "centered": true, "eps": 1e-3], [
                [0.317349494, -0.808610141, 1.80550814, 0.0826342106],
                [0.507333159, -0.894633532, 1.69617403, 0.274288595],
                [0.483659744, -1.0746783, 1.74892354, 0.1669541]]),
        ]
        for (name, options, expected) in cases {
            let actual = try trajectory(name, options, initial: initial, grads: grads)
            for k in expected.indices {
                assertClose(actual[k], expected[k], rtol: 1e-5, atol: 1e-5, "\(name) \(options) step \(k + 1)")
            }
        }
    }

    func testParametersWithoutGradientAreSkipped() throws {
        let a = Parameter(Tensor(shape: [2], scalars: [1, 2])), b = Parameter(Tensor(shape: [2], scalars: [3, 4]))
        let optimizer = try Adam([a, b], lr: 0.1)
        a.grad = Tensor(shape: [2], scalars: [1, -1])
        optimizer.step()
        XCTAssertEqual(b.scalars, [3, 4])
        XCTAssertEqual(Array(optimizer.state.parameters.keys), [0])
        XCTAssertEqual(optimizer.state.parameters[0]?.step, 1)
        optimizer.zeroGrad()
        XCTAssertNil(a.grad)
        a.grad = Tensor(shape: [2], scalars: [1, 1])
        optimizer.zeroGrad(setToNil: false)
        XCTAssertEqual(a.grad?.scalars, [0, 0])
    }

    // MARK: State

    /// Two steps, then the state goes through JSON into a fresh optimizer over a copy of the
    /// parameters: the next steps must be identical to the uninterrupted run's.
    func testStateSaveAndRestoreGivesIdenticalSteps() throws {
        let configurations: [(String, [String: Any])] = [
            ("SGD", ["lr": 0.1]), ("SGD", ["lr": 0.1, "momentum": 0.9, "nesterov": true, "weight_decay": 0.01]),
            ("Adam", ["lr": 0.01]), ("Adam", ["lr": 0.01, "amsgrad": true]), ("AdamW", ["lr": 0.01]),
            ("RMSprop", ["lr": 0.01, "momentum": 0.5, "centered": true]),
        ]
        var generator = SeededGenerator(seed: 11)
        let initial = [Tensor(normal: [3, 2], using: &generator), Tensor(normal: [4], using: &generator)]
        let grads = (0..<4).map { _ in [Tensor(normal: [3, 2], using: &generator), Tensor(normal: [4], using: &generator)] }
        for (name, options) in configurations {
            let original = initial.map { Parameter($0) }
            let optimizer = try makeOptimizer(name, options, original)
            func step(_ o: any Optimizer, _ ps: [Parameter], _ k: Int) {
                for (p, g) in zip(ps, grads[k]) { p.grad = g.detached() }
                o.step()
            }
            step(optimizer, original, 0)
            step(optimizer, original, 1)
            let data = try JSONEncoder().encode(optimizer.state)
            let restoredState = try JSONDecoder().decode(OptimizerState.self, from: data)
            XCTAssertEqual(restoredState, optimizer.state, name)
            XCTAssertEqual(restoredState.parameters[0]?.step, 2)

            let copy = original.map { Parameter($0) }
            let resumed = try makeOptimizer(name, options.merging(["lr": 123.0]) { $1 }, copy)
            try resumed.loadState(restoredState)
            XCTAssertEqual(resumed.learningRate, optimizer.learningRate)
            for k in 2..<4 {
                step(optimizer, original, k)
                step(resumed, copy, k)
                for (a, b) in zip(original, copy) { XCTAssertEqual(a.scalars, b.scalars, "\(name) \(options) step \(k + 1)") }
            }
        }
    }

    func testBadStatesThrowAndLeaveTheOptimizerUnchanged() throws {
        let p = Parameter(Tensor(shape: [3], scalars: [1, 2, 3]))
        let adam = try Adam([p], lr: 0.1)
        p.grad = Tensor(shape: [3], scalars: [1, 1, 1])
        adam.step()
        let good = adam.state
        var wrongKind = good; wrongKind.optimizer = "SGD"
        var wrongIndex = good; wrongIndex.parameters[5] = good.parameters[0]
        var wrongLength = good; wrongLength.parameters[0]?.buffers["exp_avg"] = [1, 2]
        var missing = good; missing.parameters[0]?.buffers["exp_avg_sq"] = nil
        var unknown = good; unknown.parameters[0]?.buffers["momentum_buffer"] = [0, 0, 0]
        var negativeStep = good; negativeStep.parameters[0]?.step = -1
        var negativeLR = good; negativeLR.learningRate = -1
        for bad in [wrongKind, wrongIndex, wrongLength, missing, unknown, negativeStep, negativeLR] {
            XCTAssertThrowsError(try adam.loadState(bad)) { XCTAssertTrue($0 is TensorError) }
            XCTAssertEqual(adam.state, good)
        }
        XCTAssertThrowsError(try adam.loadState(wrongLength)) { error in
            XCTAssertEqual("\(error)", "shape mismatch: Adam.loadState: expected 3 values in \"exp_avg\" of parameter 0, got 2")
        }
        // An empty state resets the optimizer.
        try adam.loadState(OptimizerState(optimizer: "Adam", learningRate: 0.5, parameters: [:]))
        XCTAssertTrue(adam.state.parameters.isEmpty)
        XCTAssertEqual(adam.learningRate, 0.5)
    }

    // MARK: Validation

    func testInvalidHyperparametersThrow() {
        let ps = [Parameter(Tensor(zeros: [2]))]
        func invalid(_ body: @autoclosure () throws -> Any, line: UInt = #line) {
            XCTAssertThrowsError(try body(), line: line) { error in
                guard case .invalidArgument = error as? TensorError else { return XCTFail("\(error)", line: line) }
            }
        }
        invalid(try SGD(ps, lr: -0.1))
        invalid(try SGD(ps, lr: .nan))
        invalid(try SGD(ps, momentum: -0.5))
        invalid(try SGD(ps, weightDecay: -1))
        invalid(try SGD(ps, nesterov: true))
        invalid(try SGD(ps, momentum: 0.9, dampening: 0.1, nesterov: true))
        invalid(try SGD(ps + ps))
        invalid(try Adam(ps, lr: -1))
        invalid(try Adam(ps, betas: (1, 0.999)))
        invalid(try Adam(ps, betas: (0.9, -0.1)))
        invalid(try Adam(ps, eps: -1e-8))
        invalid(try AdamW(ps, weightDecay: -0.01))
        invalid(try RMSprop(ps, alpha: -0.9))
        invalid(try RMSprop(ps, momentum: -1))
        invalid(try RMSprop(ps, eps: -1))
        XCTAssertThrowsError(try SGD(ps, lr: -0.1)) { error in
            XCTAssertEqual("\(error)", "invalid argument: SGD: expected lr ≥ 0, got -0.1")
        }
        XCTAssertNoThrow(try SGD(ps, lr: 0.1, momentum: 0.9, nesterov: true))
    }
}
