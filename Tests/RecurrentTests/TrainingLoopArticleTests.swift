import Foundation
import XCTest
@testable import Recurrent

/// The code of the DocC articles "The Training Loop" and "Batching Variable-Length Data",
/// compiled and run as written: a tagger trained from a loader of padded sequences with
/// parameter groups, a warm-up then cosine schedule and clipping, checkpointed and resumed.

/// The article's own dataset.
private struct Windows: Dataset {
    let series: [Float]
    let width: Int
    var count: Int { series.count - width }
    subscript(index: Int) -> [Float] { Array(series[index..<index + width]) }
    func batch(_ indices: [Int]) -> Tensor {
        Tensor(shape: [indices.count, width], scalars: indices.flatMap { self[$0] })
    }
}

private final class Tagger: Module {
    let lstm: LSTM
    let head: Linear

    init(hidden: Int) throws {
        lstm = try LSTM(inputSize: 2, hiddenSize: hidden, batchFirst: true)
        head = try Linear(inFeatures: hidden, outFeatures: 3)
        super.init()
    }

    func callAsFunction(_ input: Tensor, lengths: [Int]) throws -> Tensor {
        let (_, state) = try lstm(input, lengths: lengths)
        return try head(try lstm.finalState(state.h))
    }
}

final class TrainingLoopArticleTests: XCTestCase {
    /// Sequences whose class is the sign pattern of their first feature's sum.
    private func data() throws -> SequenceDataset<Int> {
        var generator = SeededGenerator(seed: 5)
        var sequences: [Tensor] = [], targets: [Int] = []
        for _ in 0..<48 {
            let length = Int.random(in: 2...7, using: &generator)
            let values: [Float] = (0..<length * 2).map { _ in generator.normal() }
            let sum = stride(from: 0, to: values.count, by: 2).map { values[$0] }.reduce(0, +)
            sequences.append(Tensor(shape: [length, 2], scalars: values))
            targets.append(sum > 1 ? 2 : (sum < -1 ? 0 : 1))
        }
        return try SequenceDataset(sequences: sequences, targets: targets)
    }

    /// `epochs` epochs of the article's loop; returns each epoch's mean loss.
    private func train(_ model: Tagger, _ optimizer: any Optimizer, _ scheduler: LRScheduler,
                       _ loader: DataLoader<SequenceDataset<Int>>, epochs: Range<Int>, checkpoint: URL?) throws -> [Float] {
        var means: [Float] = []
        for epoch in epochs {
            _ = model.train()
            var total: Float = 0
            for batch in loader {
                optimizer.zeroGrad()
                let loss = try crossEntropy(try model(batch.input, lengths: batch.lengths), target: batch.targets)
                loss.backward()
                clipGradNorm(model.parameters(), maxNorm: 1)
                optimizer.step()
                total += loss.item
            }
            try scheduler.step()
            means.append(total / Float(loader.count))
            if let checkpoint {
                try Checkpoint(model: model, optimizer: optimizer, scheduler: scheduler,
                               extra: ["epoch": "\(epoch)"]).write(to: checkpoint)
            }
        }
        return means
    }

    private func setUp(_ seed: UInt64) throws -> (Tagger, AdamW, SequentialLR) {
        RandomState.manualSeed(seed)
        let model = try Tagger(hidden: 8)
        let optimizer = try AdamW([
            ParameterGroup(model.lstm.parameters(), lr: 5e-3),
            ParameterGroup(model.head.parameters()),
        ], lr: 2e-2, weightDecay: 0.01)
        let warmUp = try LinearLR(optimizer, startFactor: 0.1, totalIters: 2)
        let decay = try CosineAnnealingLR(optimizer, tMax: 10)
        return (model, optimizer, try SequentialLR(optimizer, schedulers: [warmUp, decay], milestones: [2]))
    }

    func testTheLoopLearnsAndResumesExactly() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loop-\(UUID().uuidString).ckpt")
        defer { try? FileManager.default.removeItem(at: url) }
        let (model, optimizer, scheduler) = try setUp(1)
        let loader = try DataLoader(try data(), batchSize: 8, shuffle: true, generator: SeededGenerator(seed: 0))
        let losses = try train(model, optimizer, scheduler, loader, epochs: 0..<4, checkpoint: url)
        let generatorAfter4 = loader.generator
        let rest = try train(model, optimizer, scheduler, loader, epochs: 4..<8, checkpoint: nil)
        XCTAssertLessThan(rest.last!, losses.first!)

        // A new process: the same construction, then the checkpoint.
        let (model2, optimizer2, scheduler2) = try setUp(99)
        let checkpoint = try Checkpoint(contentsOf: url)
        try checkpoint.restore(model: model2, optimizer: optimizer2)
        try checkpoint.restore(scheduler: scheduler2)
        XCTAssertEqual(Int(checkpoint.extra["epoch"] ?? "-1")! + 1, 4)
        let loader2 = try DataLoader(try data(), batchSize: 8, shuffle: true, generator: generatorAfter4)
        XCTAssertEqual(try train(model2, optimizer2, scheduler2, loader2, epochs: 4..<8, checkpoint: nil), rest)
        XCTAssertEqual(optimizer2.learningRates, optimizer.learningRates)
    }

    func testTheArticlesOwnDataset() throws {
        let windows = Windows(series: (0..<10).map(Float.init), width: 3)
        let batches = Array(try DataLoader(windows, batchSize: 4))
        XCTAssertEqual(batches.map(\.shape), [[4, 3], [3, 3]])
        XCTAssertEqual(batches[1].scalars, [4, 5, 6, 5, 6, 7, 6, 7, 8])
    }
}
