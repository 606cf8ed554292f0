// `names --distributed`: the rnn, lstm and gru models trained data-parallel on every rank
// that mpirun started (RecurrentDistributed), e.g.
//
//     mpirun -np 2 .build/release/names --model lstm --distributed
//
// Each rank trains on its share of every global batch of --batch-size names
// (DistributedSampler, the same shuffle on every rank) and DistributedDataParallel averages
// the gradients, weighted by each rank's count, so the steps are those of one process on the
// whole batch. Rank 0 evaluates (the replicas are identical) and reports.
import ArgumentParser
import ExampleSupport
import NamesExample
import Foundation
import Recurrent
import RecurrentDistributed

extension Names {
    /// Trains with every rank of the MPI job and reports from rank 0.
    func runDistributed() throws {
        var options = NamesOptions()
        options.model = self.model ?? options.model
        options.epochs = self.epochs ?? options.epochs
        options.hidden = self.hidden ?? options.hidden
        options.learningRate = lr
        options.batchSize = self.batchSize ?? options.batchSize
        options.seed = self.seed ?? options.seed
        let (model, hidden, epochs, batchSize, seed) = (options.model, options.hidden, options.epochs, options.batchSize, options.seed)
        guard let cellKind = model.cellKind else {
            throw ValidationError("--distributed trains the rnn, lstm or gru models on mini-batches; got --model \(model.rawValue)")
        }
        guard load == nil else { throw ValidationError("--distributed trains a model; it does not take --load") }
        // Each rank's weighted mean divides by its own names' weights, and the ranks' gradients
        // are averaged by their counts: that is not the global weighted mean, so refuse it.
        guard classWeights == nil || classWeights == .unweighted else {
            throw ValidationError("--distributed trains with the unweighted loss; --class-weights balanced runs on one process")
        }
        let group = try ProcessGroup.world()
        guard batchSize % group.size == 0 else {
            throw ValidationError("--batch-size (\(batchSize)) must be a multiple of the number of ranks (\(group.size)) with --distributed")
        }
        let all = try NamesDataset.loadBundled()
        let dataset = perLanguage.map { all.subset(perLanguage: $0) } ?? all
        let learningRate = options.effectiveLearningRate
        let localBatch = batchSize / group.size
        let isReporter = group.rank == 0
        if isReporter {
            print("names: \(model.rawValue.uppercased())(57 → \(hidden)) + Linear(\(hidden) → 18), Adam lr \(learningRate), " +
                  "global batch \(batchSize) = \(group.size) ranks × \(localBatch), \(epochs) epochs over " +
                  "\(dataset.train.count) names, seed \(seed)")
        }

        RandomState.manualSeed(seed)
        let namesModel = try NamesModel(kind: model, hiddenSize: hidden, languages: dataset.languages, seed: seed)
        guard let classifier = namesModel.module as? SequenceClassifier else {
            throw ValidationError("--distributed: unsupported model \(cellKind.rawValue)")
        }
        let ddp = try DistributedDataParallel(classifier, processGroup: group)
        let optimizer = try Adam(classifier.parameters(), lr: learningRate)
        var sampler = try DistributedSampler(count: dataset.train.count, processGroup: group, seed: seed, remainder: .uneven)
        let progress = ProgressLine(totalEpochs: epochs, style: isReporter ? ProgressLine.defaultStyle : .silent,
                                    itemUnit: "names/s")
        var epochLosses: [Double] = []
        var trainSeconds = 0.0
        let cpuStart = processCPUSeconds()
        for epoch in 1...epochs {
            sampler.epoch = epoch - 1
            let start = Date()
            let batches = try sampler.batches(size: localBatch)
            var sums: [Double] = [0, 0]   // this rank's loss × names, names
            for (b, indices) in batches.enumerated() {
                optimizer.zeroGrad()
                if indices.isEmpty {
                    try ddp.synchronizeGradients(localCount: 0)
                } else {
                    let samples = indices.map { dataset.train[$0] }
                    let (input, lengths) = NamesEncoding.batch(samples)
                    let loss = try crossEntropy(classifier(input, lengths: lengths), target: samples.map(\.language))
                    try ddp.backward(loss, localCount: samples.count)
                    sums[0] += Double(loss.item) * Double(samples.count)
                    sums[1] += Double(samples.count)
                }
                optimizer.step()
                if isReporter {
                    progress.update(epoch: epoch, fraction: Double(b + 1) / Double(batches.count),
                                    loss: sums[0] / max(sums[1], 1), items: indices.count * group.size)
                }
            }
            try group.allReduce(&sums)
            trainSeconds += Date().timeIntervalSince(start)
            epochLosses.append(sums[0] / max(sums[1], 1))
        }
        let cpuSeconds = processCPUSeconds() - cpuStart
        progress.finish()

        let identical = try ddp.countReplicaDifferences() == 0
        if isReporter {
            // The replicas are identical, so rank 0 evaluates for all.
            let (accuracy, perLanguage, confusion) = try evaluateNames(namesModel, dataset.test)
            report(accuracy: accuracy, perLanguage: perLanguage, languages: dataset.languages,
                   secondsPerEpoch: trainSeconds / Double(epochs), cpuSecondsPerEpoch: cpuSeconds / Double(epochs))
            print("Ranks: \(group.size) (\(group.localSize) on this machine), replicas \(identical ? "identical" : "DIFFER")")
            try writeConfusion(confusion, languages: dataset.languages, accuracy: accuracy, kind: model)
            if let save {
                try namesModel.save(to: URL(fileURLWithPath: save))
                print("Saved the model to \(save)")
            }
            if !predict.isEmpty { try printPredictions(namesModel) }
            if common.json {
                try JSONReport.print(DistributedNamesMetrics(
                    model: model.rawValue, ranks: group.size, batchSize: batchSize, epochs: epochs, seed: seed,
                    learningRate: learningRate, testAccuracy: accuracy, macroAccuracy: macroAccuracy(perLanguage),
                    perLanguageAccuracy: Dictionary(uniqueKeysWithValues: zip(dataset.languages, perLanguage)),
                    epochLosses: epochLosses,
                    secondsPerEpoch: trainSeconds / Double(epochs), replicasIdentical: identical))
            }
        }
        try group.barrier()
        try ProcessGroup.finalize()
    }
}

/// The `--json` metrics of `names --distributed`.
struct DistributedNamesMetrics: Codable {
    /// The model kind.
    var model: String
    /// The number of ranks.
    var ranks: Int
    /// The global batch size.
    var batchSize: Int
    /// The number of epochs.
    var epochs: Int
    /// The seed.
    var seed: UInt64
    /// Adam's learning rate.
    var learningRate: Float
    /// The fraction of test names classified correctly.
    var testAccuracy: Double
    /// The mean of the languages' test accuracies.
    var macroAccuracy: Double
    /// The test accuracy of each language.
    var perLanguageAccuracy: [String: Double]
    /// The mean training loss of each epoch, over every rank's names.
    var epochLosses: [Double]
    /// Training seconds per epoch (rank 0's wall clock).
    var secondsPerEpoch: Double
    /// Whether every rank's parameters equal rank 0's, bit for bit, after training.
    var replicasIdentical: Bool
}
