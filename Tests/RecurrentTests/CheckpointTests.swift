import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// An LSTM classifier with dropout between its layers, so that training draws from the
/// default random stream (``RandomState``).
final class CheckpointTestModel: Module, @unchecked Sendable {
    let lstm: LSTM
    let fc: Linear

    init(seed: UInt64, hidden: Int = 8) throws {
        var generator = SeededGenerator(seed: seed &+ 1)
        lstm = try LSTM(inputSize: 4, hiddenSize: hidden, numLayers: 2, batchFirst: true, dropout: 0.3, seed: seed)
        fc = try Linear(inFeatures: hidden, outFeatures: 3, using: &generator)
        super.init()
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (out, _) = try lstm(x)
        return try fc(out.select(dim: 1, index: out.shape[1] - 1))
    }
}

/// Checkpoints: resuming reproduces the uninterrupted run's losses exactly, and failed
/// saves and restores change nothing.
final class CheckpointTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("CheckpointTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    static let steps = 6, features = 4, examples = 24, batch = 6

    /// A fixed data set: 24 sequences of 5 steps, 3 classes.
    static let data: (inputs: [[Float]], labels: [Int]) = {
        var g = SeededGenerator(seed: 5)
        var inputs: [[Float]] = [], labels: [Int] = []
        for i in 0..<examples {
            let label = i % 3
            inputs.append((0..<(steps * features)).map { k in
                Float(sin(Double(k / features) * (0.5 + Double(label)))) + g.normal(mean: 0, standardDeviation: 0.3)
            })
            labels.append(label)
        }
        return (inputs, labels)
    }()

    /// Trains for `count` steps, each on a batch drawn from the default random stream, with
    /// dropout; returns the losses.
    func train(_ model: CheckpointTestModel, _ optimizer: any Optimizer, count: Int) throws -> [Float] {
        model.train()
        var losses: [Float] = []
        for _ in 0..<count {
            let indices = RandomState.withGenerator { g in (0..<Self.batch).map { _ in Int(g.next() % UInt64(Self.examples)) } }
            let x = Tensor(shape: [Self.batch, Self.steps, Self.features], scalars: indices.flatMap { Self.data.inputs[$0] })
            optimizer.zeroGrad()
            let loss = try crossEntropy(try model(x), target: indices.map { Self.data.labels[$0] })
            loss.backward()
            optimizer.step()
            losses.append(loss.item)
        }
        return losses
    }

    static let optimizers: [(String, @Sendable ([Parameter]) throws -> any Optimizer)] = [
        ("Adam", { try Adam($0, lr: 0.01, amsgrad: true) }),
        ("SGD", { try SGD($0, lr: 0.05, momentum: 0.9, nesterov: true) }),
        ("RMSprop", { try RMSprop($0, lr: 0.005, momentum: 0.5, centered: true) }),
    ]

    func testResumingReproducesTheUninterruptedLossesExactly() throws {
        for (name, make) in Self.optimizers {
            // The uninterrupted run: 12 steps.
            RandomState.manualSeed(42)
            let reference = try CheckpointTestModel(seed: 1)
            let full = try train(reference, try make(reference.parameters()), count: 12)

            // The same run, stopped after 6 steps and checkpointed.
            RandomState.manualSeed(42)
            let first = try CheckpointTestModel(seed: 1)
            let firstOptimizer = try make(first.parameters())
            XCTAssertEqual(try train(first, firstOptimizer, count: 6), Array(full[..<6]), name)
            let url = directory.appendingPathComponent("\(name).safetensors")
            let stream = RandomState.state
            try Checkpoint(model: first, optimizer: firstOptimizer, extra: ["step": "6"]).write(to: url)

            // A new process: another random stream, another initialisation, then the checkpoint.
            RandomState.manualSeed(999)
            let resumed = try CheckpointTestModel(seed: 77)
            let resumedOptimizer = try make(resumed.parameters())
            let checkpoint = try Checkpoint(contentsOf: url)
            XCTAssertEqual(checkpoint.extra, ["step": "6"])
            XCTAssertEqual(checkpoint.optimizer, firstOptimizer.state, name)
            XCTAssertEqual(checkpoint.randomState, stream)
            try checkpoint.restore(model: resumed, optimizer: resumedOptimizer)
            let rest = try train(resumed, resumedOptimizer, count: 6)
            XCTAssertEqual(rest.map(\.bitPattern), full[6...].map(\.bitPattern), "\(name): losses after resuming")

            // Without the random state, dropout and batches differ: the state is what makes it exact.
            let again = try CheckpointTestModel(seed: 77)
            let againOptimizer = try make(again.parameters())
            RandomState.manualSeed(999)
            try checkpoint.restore(model: again, optimizer: againOptimizer, restoreRandomState: false)
            XCTAssertNotEqual(try train(again, againOptimizer, count: 6), Array(full[6...]), name)
        }
    }

    func testCheckpointFileLayout() throws {
        RandomState.manualSeed(3)
        let model = try CheckpointTestModel(seed: 1)
        let optimizer = try Adam(model.parameters(), lr: 0.01)
        _ = try train(model, optimizer, count: 2)
        let url = directory.appendingPathComponent("layout.safetensors")
        try Checkpoint(model: model, optimizer: optimizer).write(to: url)
        let file = try SafeTensorsFile(contentsOf: url)
        XCTAssertEqual(file.metadata["format"], Checkpoint.format)
        XCTAssertEqual(file.metadata["optimizer.kind"], "Adam")
        XCTAssertEqual(file.metadata["optimizer.learning_rate"], "0.01")
        XCTAssertEqual(file.metadata["optimizer.steps"], (0..<10).map { "\($0):2" }.joined(separator: ","))
        XCTAssertEqual(file.tensors["model.fc.weight"]?.scalars, model.fc.weight.scalars)
        XCTAssertEqual(file.tensors["optimizer.9.exp_avg"]?.shape, [3])
        XCTAssertEqual(file.names.count, 10 + 2 * 10)
        let s = RandomState.state.state
        XCTAssertEqual(file.metadata["random.state"], [s.0, s.1, s.2, s.3].map { String($0, radix: 16) }.joined(separator: ","))
    }

    func testFailedRestoresChangeNothing() throws {
        RandomState.manualSeed(8)
        let model = try CheckpointTestModel(seed: 1)
        let adam = try Adam(model.parameters(), lr: 0.01)
        _ = try train(model, adam, count: 2)
        let url = directory.appendingPathComponent("adam.safetensors")
        try Checkpoint(model: model, optimizer: adam).write(to: url)
        let checkpoint = try Checkpoint(contentsOf: url)

        // The wrong kind of optimizer: the model is put back, the optimizer and the stream kept.
        let other = try CheckpointTestModel(seed: 2)
        let sgd = try SGD(other.parameters(), lr: 0.1, momentum: 0.9)
        _ = try train(other, sgd, count: 1)
        let parameters = other.parameters().map(\.scalars)
        let sgdState = sgd.state
        let stream = RandomState.state
        XCTAssertThrowsError(try checkpoint.restore(model: other, optimizer: sgd)) { error in
            XCTAssertTrue(error is TensorError, "\(error)")
        }
        XCTAssertEqual(other.parameters().map(\.scalars), parameters)
        XCTAssertEqual(sgd.state, sgdState)
        XCTAssertEqual(RandomState.state, stream)

        // Another architecture.
        let wider = try CheckpointTestModel(seed: 3, hidden: 9)
        let widerParameters = wider.parameters().map(\.scalars)
        XCTAssertThrowsError(try checkpoint.restore(model: wider)) { error in
            XCTAssertTrue(error is StateDictError, "\(error)")
        }
        XCTAssertEqual(wider.parameters().map(\.scalars), widerParameters)

        // An optimizer but no optimizer state; a file that is not a checkpoint.
        let noOptimizer = directory.appendingPathComponent("model-only.safetensors")
        try Checkpoint(model: model, optimizer: nil).write(to: noOptimizer)
        XCTAssertThrowsError(try Checkpoint(contentsOf: noOptimizer).restore(model: other, optimizer: sgd)) { error in
            XCTAssertEqual(error as? CheckpointError, .noOptimizerState)
        }
        let stateDict = directory.appendingPathComponent("state-dict.safetensors")
        try model.saveStateDict(to: stateDict)
        XCTAssertThrowsError(try Checkpoint(contentsOf: stateDict)) { error in
            XCTAssertEqual(error as? CheckpointError, .notACheckpoint(format: "pt"))
        }
        // Malformed entries.
        try SafeTensors.write(["model.a": Tensor(1)], metadata: ["format": Checkpoint.format, "random.state": "1,2,3"], to: stateDict)
        XCTAssertThrowsError(try Checkpoint(contentsOf: stateDict)) { error in
            XCTAssertEqual(error as? CheckpointError, .invalidEntry("random.state", problem: "expected four hexadecimal words separated by commas, got \"1,2,3\""))
        }
        try SafeTensors.write(["optimizer.x.exp_avg": Tensor(1)], metadata: ["format": Checkpoint.format], to: stateDict)
        XCTAssertThrowsError(try Checkpoint(contentsOf: stateDict)) { error in
            XCTAssertEqual(error as? CheckpointError, .invalidEntry("optimizer.x.exp_avg", problem: "expected optimizer.<parameter index>.<buffer name>"))
        }
    }

    /// A save that fails half-way leaves the previous checkpoint whole and no temporary file.
    func testInterruptedSaveLeavesThePreviousCheckpoint() throws {
        struct Interrupted: Error {}
        let model = try CheckpointTestModel(seed: 1)
        let url = directory.appendingPathComponent("checkpoint.safetensors")
        try Checkpoint(model: model).write(to: url)
        let before = try Data(contentsOf: url)
        XCTAssertThrowsError(try SafeTensors.writeAtomically(to: url) { handle in
            try handle.write(contentsOf: before.prefix(100))
            throw Interrupted()
        })
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["checkpoint.safetensors"])
        XCTAssertNoThrow(try Checkpoint(contentsOf: url).restore(model: model))
    }
}
