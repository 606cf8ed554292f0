import Foundation
import XCTest
@testable import Recurrent

/// The code of the DocC article "Training a Model", compiled and run as written (a user's
/// `Module` subclass must compile without warnings, and the loop must learn).
private final class Classifier: Module {
    let lstm: LSTM
    let norm: LayerNorm
    let head: Linear

    init(features: Int, hidden: Int, classes: Int) throws {
        lstm = try LSTM(inputSize: features, hiddenSize: hidden, batchFirst: true)
        norm = try LayerNorm(hidden)
        head = try Linear(inFeatures: hidden, outFeatures: classes)
        super.init()
    }

    func callAsFunction(_ input: Tensor, lengths: [Int]) throws -> Tensor {
        let (_, state) = try lstm(input, lengths: lengths)
        let last = try lstm.finalState(state.h)
        return try head(try norm(last))
    }
}

final class TrainingArticleTests: XCTestCase {
    func testTheArticlesProgramLearnsAndSaves() throws {
        RandomState.manualSeed(0)
        let model = try Classifier(features: 3, hidden: 16, classes: 4)
        let optimizer = try Adam(model.parameters(), lr: 1e-2)
        // One batch: the class is the index of the feature that is largest on average.
        let lengths = [5, 3, 4, 2, 5, 1, 3, 4]
        let labels = [0, 1, 2, 0, 1, 2, 0, 1]
        let noise = try Tensor.rand([8, 5, 3])
        let signal = try Tensor.stack(labels.map { try Tensor.eye(3).select(dim: 0, index: $0) }).unsqueeze(dim: 1)
        let input = noise + signal * 2
        let batches = [(input, lengths, labels)]
        var losses: [Float] = []
        for _ in 0..<30 {
            for (input, lengths, labels) in batches {
                optimizer.zeroGrad()
                let loss = try crossEntropy(try model(input, lengths: lengths), target: labels)
                losses.append(loss.item)
                loss.backward()
                clipGradNorm(model.parameters(), maxNorm: 1)
                optimizer.step()
            }
            optimizer.learningRate *= 0.99
        }
        XCTAssertLessThan(losses.last!, losses.first! / 4)

        model.eval()
        let logits = try withoutGradients { try model(input, lengths: lengths) }
        XCTAssertFalse(logits.requiresGrad)
        XCTAssertEqual(try logits.argmax(dim: -1), labels)

        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("training-article-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try model.saveStateDict(to: directory.appendingPathComponent("model.safetensors"))
        let copy = try Classifier(features: 3, hidden: 16, classes: 4)
        try copy.loadStateDict(from: directory.appendingPathComponent("model.safetensors"))
        copy.eval()
        XCTAssertEqual(try copy(input, lengths: lengths).scalars, logits.scalars)
        try Checkpoint(model: model, optimizer: optimizer).write(to: directory.appendingPathComponent("run.ckpt"))
        try Checkpoint(contentsOf: directory.appendingPathComponent("run.ckpt")).restore(model: copy, optimizer: optimizer)
        XCTAssertEqual(copy.stateDictKeys.first, "lstm.weight_ih_l0")
    }
}
