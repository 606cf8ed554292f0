import ExampleSupport
import LongRangeExample
import Recurrent
import XCTest

final class LongRangeTests: XCTestCase {
    // MARK: Data

    func testGeneratorPlacesOneMarkerInEachHalfAndTargetsTheirSum() throws {
        for T in [2, 7, 10, 51] {
            let problem = try AddingProblem(length: T)
            var generator = SeededGenerator(seed: UInt64(T))
            let batch = try problem.batch(size: 300, using: &generator)
            XCTAssertEqual(batch.inputs.shape, [300, T, 2])
            XCTAssertEqual(batch.targets.shape, [300, 1])
            let x = batch.inputs.scalars, y = batch.targets.scalars
            for b in 0 ..< 300 {
                let numbers = (0 ..< T).map { x[(b * T + $0) * 2] }
                let marks = (0 ..< T).map { x[(b * T + $0) * 2 + 1] }
                XCTAssertTrue(numbers.allSatisfy { $0 >= 0 && $0 < 1 })
                XCTAssertTrue(marks.allSatisfy { $0 == 0 || $0 == 1 })
                let marked = marks.indices.filter { marks[$0] == 1 }
                XCTAssertEqual(marked.count, 2, "exactly two markers")
                XCTAssertEqual(marked, batch.markers[b])
                XCTAssertTrue(problem.firstHalf.contains(marked[0]), "first marker \(marked[0]) in \(problem.firstHalf)")
                XCTAssertTrue(problem.secondHalf.contains(marked[1]), "second marker \(marked[1]) in \(problem.secondHalf)")
                XCTAssertEqual(y[b], numbers[marked[0]] + numbers[marked[1]], accuracy: 1e-6)
            }
        }
    }

    func testPredictingOneScoresOneSixth() throws {
        var generator = SeededGenerator(seed: 1)
        let batch = try AddingProblem(length: 4).batch(size: 40_000, using: &generator)
        XCTAssertEqual(batch.constantPredictionMSE(1), 1.0 / 6.0, accuracy: 0.004)
        XCTAssertEqual(AddingProblem.baselineMSE, 1.0 / 6.0)
        // 1 is the best constant: the target's mean.
        XCTAssertGreaterThan(batch.constantPredictionMSE(0.9), batch.constantPredictionMSE(1))
        XCTAssertGreaterThan(batch.constantPredictionMSE(1.1), batch.constantPredictionMSE(1))
    }

    func testSettingsFromOutsideAreChecked() throws {
        XCTAssertThrowsError(try AddingProblem(length: 1)) { error in
            XCTAssertTrue("\(error)".contains("at least 2, got 1"), "\(error)")
        }
        var generator = SeededGenerator(seed: 0)
        XCTAssertThrowsError(try AddingProblem(length: 5).batch(size: 0, using: &generator))
        XCTAssertEqual(try LongRangeModelKind.parseList("lstm, rnn-orthogonal"), [.lstm, .rnnOrthogonal])
        XCTAssertThrowsError(try LongRangeModelKind.parseList("rnn,transformer")) { error in
            XCTAssertTrue("\(error)".contains("got \"transformer\""), "\(error)")
        }
        XCTAssertThrowsError(try LongRangeModelKind.parseList("gru,gru"))
        XCTAssertThrowsError(try LongRangeModelKind.parseList(""))
        var options = LongRangeOptions()
        options.steps = 0
        XCTAssertThrowsError(try trainAddingModel(options)) { error in
            XCTAssertEqual(error as? LongRangeError, .invalidSetting("steps: expected at least 1, got 0"))
        }
        options = LongRangeOptions()
        options.clipNorm = -1
        XCTAssertThrowsError(try options.validate())
        var exploding = ExplodingOptions()
        exploding.gain = .nan
        XCTAssertThrowsError(try exploding.validate())
        XCTAssertThrowsError(try AddingModel(layer: RNN(inputSize: 2, hiddenSize: 4, seed: 0), head: try Linear(inFeatures: 4, outFeatures: 1)),
                             "a sequence-first layer is refused")
    }

    // MARK: Gradient probe

    /// The probe's `∂L/∂h_t` (cells unrolled, a zero leaf added to each state) agrees with the
    /// fused layer's gradient with respect to its state at `t` and with central finite
    /// differences of the fused layer's loss.
    func testGradientProbeMatchesFusedLayerAndFiniteDifferences() throws {
        let T = 6, H = 3
        var generator = SeededGenerator(seed: 5)
        let batch = try AddingProblem(length: T).batch(size: 2, using: &generator)
        let models: [(String, AddingModel)] = [
            ("rnn", try AddingModel(kind: .rnn, hiddenSize: H, seed: 1)),
            ("rnn-orthogonal", try AddingModel(kind: .rnnOrthogonal, hiddenSize: H, seed: 2)),
            ("gru", try AddingModel(kind: .gru, hiddenSize: H, seed: 3)),
            ("lstm", try AddingModel(kind: .lstm, hiddenSize: H, seed: 4)),
            ("relu", try makeExplodingModel(hidden: H, gain: 1.2, seed: 6)),
        ]
        for (name, model) in models {
            let (loss, gradients) = try HiddenStateGradients.gradients(of: model, on: batch)
            XCTAssertEqual(gradients.count, T)
            XCTAssertEqual(loss, try model.meanSquaredError(on: batch), accuracy: 1e-5, "\(name): the probe's loss is the model's")
            XCTAssertNil(model.fc.weight.grad, "\(name): the model's own gradients are untouched")
            for t in 0 ..< T {
                let probe = gradients[t].scalars
                let (fusedLoss, fused) = try HiddenStateGradients.fusedGradient(of: model, on: batch, step: t)
                XCTAssertEqual(fusedLoss, loss, accuracy: 1e-5)
                for (a, b) in zip(probe, fused.scalars) {
                    XCTAssertEqual(a, b, accuracy: 1e-5 + 1e-4 * abs(b), "\(name) t=\(t): probe vs fused gradient")
                }
                // Central differences along a fixed direction d: (L(h+εd) − L(h−εd)) / 2ε ≈ ⟨∂L/∂h_t, d⟩
                // (for the smooth cells: a ReLU's kink within ε of a pre-activation spoils them).
                guard name != "relu" else { continue }
                let direction = (0 ..< 2 * H).map { Float(($0 * 7 + t) % 5) - 2 }
                let epsilon: Float = 1e-2
                let plus = try HiddenStateGradients.fusedLoss(of: model, on: batch, step: t,
                                                              shift: Tensor(shape: [2, H], scalars: direction.map { $0 * epsilon }))
                let minus = try HiddenStateGradients.fusedLoss(of: model, on: batch, step: t,
                                                               shift: Tensor(shape: [2, H], scalars: direction.map { -$0 * epsilon }))
                let numeric = (plus - minus) / (2 * Double(epsilon))
                let analytic = zip(probe, direction).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                XCTAssertEqual(numeric, analytic, accuracy: 2e-3 + 1e-2 * abs(analytic), "\(name) t=\(t): finite differences")
            }
            let (_, norms) = try HiddenStateGradients.norms(of: model, on: batch)
            XCTAssertEqual(norms[T - 1], HiddenStateGradients.frobeniusNorm(gradients[T - 1]), accuracy: 1e-9)
        }
        XCTAssertThrowsError(try HiddenStateGradients.fusedGradient(of: models[0].1, on: batch, step: T))
    }

    // MARK: Spectra

    func testSpectraOfKnownMatrices() throws {
        // Eigenvalues ±2 but largest singular value 4: the radius and the norm differ.
        let s = try RecurrentSpectra.spectrum(of: Matrix<Float>([[0, 4], [1, 0]]), name: "A")
        XCTAssertEqual(s.spectralRadius, 2, accuracy: 1e-5)
        XCTAssertEqual(s.largestSingularValue, 4, accuracy: 1e-5)
        // A rotation by 60° scaled by 0.9: complex eigenvalues of modulus 0.9.
        let c: Float = 0.45, d: Float = 0.9 * Float(3).squareRoot() / 2
        let rotation = try RecurrentSpectra.spectrum(of: Matrix<Float>([[c, -d], [d, c]]), name: "R")
        XCTAssertEqual(rotation.spectralRadius, 0.9, accuracy: 1e-5)
        XCTAssertEqual(rotation.largestSingularValue, 0.9, accuracy: 1e-5)
        XCTAssertThrowsError(try RecurrentSpectra.spectrum(of: Matrix<Float>([[1, .nan], [0, 1]]), name: "bad"))

        // Orthogonal × gain: every gate block has radius and norm `gain`.
        let relu = try makeExplodingModel(hidden: 8, gain: 1.5, seed: 0)
        XCTAssertEqual(try relu.rnn.spectralRadiusOfRecurrentWeights(), 1.5, accuracy: 1e-4)
        let lstm = try AddingModel(kind: .lstm, hiddenSize: 5, seed: 0)
        let spectra = try RecurrentSpectra.spectra(of: lstm.rnn)
        XCTAssertEqual(spectra.map(\.block), ["W_hi", "W_hf", "W_hg", "W_ho"])
        for block in spectra { XCTAssertGreaterThanOrEqual(block.largestSingularValue, block.spectralRadius - 1e-5) }
        let orthogonal = try AddingModel(kind: .rnnOrthogonal, hiddenSize: 6, seed: 0)
        let o = try RecurrentSpectra.spectra(of: orthogonal.rnn)
        XCTAssertEqual(o.map(\.block), ["W_hh"])
        XCTAssertEqual(o[0].spectralRadius, 1, accuracy: 1e-4)
        XCTAssertEqual(o[0].largestSingularValue, 1, accuracy: 1e-4)
    }

    // MARK: Clipping and training

    func testClipGradNormCapsTheTotalNorm() throws {
        let model = try makeExplodingModel(hidden: 16, gain: 2, seed: 0)
        var generator = SeededGenerator(seed: 2)
        let batch = try AddingProblem(length: 20).batch(size: 16, using: &generator)
        try mseLoss(model(batch.inputs), batch.targets).backward()
        let before = Double(totalGradNorm(model.parameters()))
        XCTAssertGreaterThan(before, 10, "ρ(W_hh) = 2 over 20 ReLU steps: a large gradient")
        let reported = clipGradNorm(model.parameters(), maxNorm: 0.5)
        XCTAssertEqual(Double(reported), before, accuracy: before * 1e-4, "clipGradNorm returns the norm before clipping")
        XCTAssertEqual(Double(totalGradNorm(model.parameters())), 0.5, accuracy: 1e-3)
    }

    func testExplodingRunDivergesWithoutClippingAndNotWith() throws {
        var options = ExplodingOptions()
        options.length = 30
        options.hidden = 32
        options.gain = 2
        options.steps = 25
        options.learningRate = 0.05
        options.batchSize = 16
        options.testSize = 64
        let (unclipped, clipped) = try runExplodingExperiment(options)
        XCTAssertNotNil(unclipped.metrics.divergedAtStep, "without clipping the loss becomes non-finite: \(unclipped.losses)")
        XCTAssertFalse(unclipped.metrics.maxLoss.isFinite, "the unclipped loss overflows")
        XCTAssertGreaterThan(unclipped.metrics.firstGradNorm, 1e3, "a huge first gradient")
        XCTAssertNil(clipped.metrics.divergedAtStep, "with clipping it stays finite: \(clipped.losses)")
        XCTAssertEqual(clipped.metrics.steps, 25)
        XCTAssertTrue(clipped.metrics.testMSE.isFinite)
        XCTAssertEqual(clipped.metrics.spectralRadiusBefore, 2, accuracy: 1e-4)
        XCTAssertLessThan(clipped.metrics.finalLoss, clipped.metrics.initialLoss)
    }

    func testShortTrainingRunLowersTheLoss() throws {
        var options = LongRangeOptions()
        options.model = .gru
        options.length = 10
        options.steps = 80
        options.hidden = 16
        options.batchSize = 32
        options.learningRate = 0.01
        options.testSize = 256
        let run = try trainAddingModel(options)
        XCTAssertEqual(run.losses.count, 80)
        XCTAssertNil(run.metrics.divergedAtStep)
        let first = run.losses.prefix(10).reduce(0, +) / 10, last = run.losses.suffix(10).reduce(0, +) / 10
        XCTAssertLessThan(last, first * 0.7, "the training loss falls: \(first) → \(last)")
        XCTAssertLessThan(run.metrics.testMSE, run.metrics.initialTestMSE)
        XCTAssertLessThan(run.metrics.testMSE, AddingProblem.baselineMSE, "better than predicting 1")
        XCTAssertNotNil(run.metrics.spectraAfter)
        XCTAssertLessThanOrEqual(run.gradNorms.count, 80)

        let chart = LongRangePlots.mse(runs: [run.metrics], models: [.gru], lengths: [10]).svg()
        XCTAssertTrue(chart.contains("GRU") && chart.contains("always predict 1"))
    }
}
