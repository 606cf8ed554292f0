import XCTest
@testable import Recurrent

/// `padSequence`, `TensorDataset`, `SequenceDataset` and `DataLoader`: hand-computed
/// batches, seeded shuffling, `dropLast`, gradients, and argument checks.
final class DataLoaderTests: XCTestCase {
    private let a = Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
    private let b = Tensor(shape: [1, 2], scalars: [7, 8])
    private let c = Tensor(shape: [2, 2], scalars: [9, 10, 11, 12])

    func testPadSequenceBothLayouts() throws {
        let first = try padSequence([a, b, c], batchFirst: true)
        XCTAssertEqual(first.shape, [3, 3, 2])
        XCTAssertEqual(first.scalars, [1, 2, 3, 4, 5, 6,
                                       7, 8, 0, 0, 0, 0,
                                       9, 10, 11, 12, 0, 0])
        let timeFirst = try padSequence([a, b, c], paddingValue: -1)
        XCTAssertEqual(timeFirst.shape, [3, 3, 2])
        XCTAssertEqual(timeFirst.scalars, [1, 2, 7, 8, 9, 10,
                                           3, 4, -1, -1, 11, 12,
                                           5, 6, -1, -1, -1, -1])
        // Higher-rank steps and a one-dimensional sequence of scalars.
        XCTAssertEqual(try padSequence([Tensor(shape: [2], scalars: [1, 2]), Tensor(shape: [1], scalars: [3])], batchFirst: true).scalars,
                       [1, 2, 3, 0])
        XCTAssertEqual(try padSequence([Tensor(zeros: [2, 2, 3]), Tensor(zeros: [1, 2, 3])]).shape, [2, 2, 2, 3])
    }

    func testPadSequenceGradientGoesBackToEachSequence() throws {
        let x = a.detached(), y = b.detached()
        x.requiresGrad = true
        y.requiresGrad = true
        for batchFirst in [true, false] {
            x.grad = nil; y.grad = nil
            let padded = try padSequence([x, y], batchFirst: batchFirst)
            let weights = Tensor(shape: padded.shape, scalars: (0..<padded.count).map { Float($0) })
            (padded * weights).sum().backward()
            // Each element's gradient is the weight at its padded position.
            let expectedX: [Float] = batchFirst ? [0, 1, 2, 3, 4, 5] : [0, 1, 4, 5, 8, 9]
            let expectedY: [Float] = batchFirst ? [6, 7] : [2, 3]
            XCTAssertEqual(x.grad?.scalars, expectedX)
            XCTAssertEqual(y.grad?.scalars, expectedY)
        }
    }

    func testPadSequenceChecksItsInput() {
        XCTAssertThrowsError(try padSequence([]))
        XCTAssertThrowsError(try padSequence([a, Tensor(zeros: [2, 3])])) { error in
            XCTAssertTrue("\(error)".contains("position 1"), "\(error)")
        }
        XCTAssertThrowsError(try padSequence([Tensor(1)]))
    }

    func testTensorDatasetStacksRows() throws {
        let inputs = Tensor(shape: [4, 2], scalars: [0, 1, 10, 11, 20, 21, 30, 31])
        let labels = Tensor(shape: [4], scalars: [0, 1, 2, 3])
        let data = try TensorDataset(inputs, labels)
        XCTAssertEqual(data.count, 4)
        XCTAssertEqual(data[2][0].scalars, [20, 21])
        XCTAssertEqual(data[2][1].shape, [])
        let batch = data.batch([3, 0])
        XCTAssertEqual(batch[0].shape, [2, 2])
        XCTAssertEqual(batch[0].scalars, [30, 31, 0, 1])
        XCTAssertEqual(batch[1].scalars, [3, 0])
        XCTAssertThrowsError(try TensorDataset(inputs, Tensor(zeros: [3])))
        XCTAssertThrowsError(try TensorDataset([]))
    }

    func testLoaderBatchesInOrderAndDropsTheLastWhenAsked() throws {
        let data = try TensorDataset(Tensor(shape: [5], scalars: [0, 1, 2, 3, 4]))
        let loader = try DataLoader(data, batchSize: 2)
        XCTAssertEqual(loader.count, 3)
        XCTAssertEqual(loader.map { $0[0].scalars }, [[0, 1], [2, 3], [4]])
        let dropping = try DataLoader(data, batchSize: 2, dropLast: true)
        XCTAssertEqual(dropping.count, 2)
        XCTAssertEqual(dropping.map { $0[0].scalars }, [[0, 1], [2, 3]])
        XCTAssertEqual(try DataLoader(data, batchSize: 5, dropLast: true).map { $0[0].count }, [5])
        XCTAssertEqual(try DataLoader(data, batchSize: 6, dropLast: true).map { $0[0].count }, [])
        XCTAssertThrowsError(try DataLoader(data, batchSize: 0))
    }

    func testSeededShufflingIsReproducibleAndNewEachEpoch() throws {
        let data = try TensorDataset(Tensor(shape: [10], scalars: (0..<10).map(Float.init)))
        let loader = try DataLoader(data, batchSize: 3, shuffle: true, generator: SeededGenerator(seed: 7))
        let epoch1 = loader.flatMap { $0[0].scalars }, epoch2 = loader.flatMap { $0[0].scalars }
        XCTAssertEqual(epoch1.sorted(), (0..<10).map(Float.init))
        XCTAssertEqual(epoch2.sorted(), (0..<10).map(Float.init))
        XCTAssertNotEqual(epoch1, epoch2)
        XCTAssertNotEqual(epoch1, (0..<10).map(Float.init))
        let again = try DataLoader(data, batchSize: 3, shuffle: true, generator: SeededGenerator(seed: 7))
        XCTAssertEqual(again.flatMap { $0[0].scalars }, epoch1)
        XCTAssertEqual(again.flatMap { $0[0].scalars }, epoch2)
        // Without a generator the default stream decides, reproducibly from its seed.
        RandomState.manualSeed(3)
        let first = try DataLoader(data, batchSize: 4, shuffle: true).flatMap { $0[0].scalars }
        RandomState.manualSeed(3)
        XCTAssertEqual(try DataLoader(data, batchSize: 4, shuffle: true).flatMap { $0[0].scalars }, first)
    }

    func testSequenceDatasetPadsAndReturnsLengths() throws {
        let data = try SequenceDataset(sequences: [a, b, c], targets: [2, 0, 1])
        let loader = try DataLoader(data, batchSize: 2)
        let batches = Array(loader)
        XCTAssertEqual(batches.count, 2)
        XCTAssertEqual(batches[0].input.shape, [2, 3, 2])
        XCTAssertEqual(batches[0].input.scalars, [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0])
        XCTAssertEqual(batches[0].lengths, [3, 1])
        XCTAssertEqual(batches[0].targets, [2, 0])
        XCTAssertEqual(batches[1].input.shape, [1, 2, 2])
        XCTAssertEqual(batches[1].lengths, [2])
        // Time first, fed straight to a recurrent layer with its lengths.
        let timeFirst = try SequenceDataset(sequences: [a, b, c], targets: [2, 0, 1], batchFirst: false)
        let batch = timeFirst.batch([0, 1, 2])
        XCTAssertEqual(batch.input.shape, [3, 3, 2])
        let lstm = try LSTM(inputSize: 2, hiddenSize: 3)
        let (output, _) = try lstm(batch.input, lengths: batch.lengths)
        XCTAssertEqual(output.shape, [3, 3, 3])
        XCTAssertThrowsError(try SequenceDataset(sequences: [a, Tensor(zeros: [2, 3])], targets: [0, 1]))
        XCTAssertThrowsError(try SequenceDataset(sequences: [a], targets: [0, 1]))
        XCTAssertThrowsError(try SequenceDataset(sequences: [Tensor(zeros: [0, 2])], targets: [0]))
    }
}

/// A dataset of its own indices, to read a loader's order.
private struct Indices: Dataset {
    let count: Int
    subscript(index: Int) -> Int { index }
}

/// ``TorchGenerator``, the loader's PyTorch order and ``randomSplit(_:_:generator:)``
/// against `torch.Generator`, `torch.utils.data.DataLoader` and `random_split` (`Fixtures/ports/torch_generator.json`, from
/// `Scripts/ports/torch_generator.py`), and the loader's stream in checkpoints.
final class TorchOrderTests: XCTestCase {
    func testTorchGeneratorDrawsWhatPyTorchDraws() throws {
        let f = try Fixture("ports/torch_generator")
        let seeds = try XCTUnwrap(f["seeds"] as? [[String: Any]])
        XCTAssertEqual(seeds.count, 4)
        for s in seeds {
            var g = TorchGenerator(seed: UInt64(s["seed"] as! String)!)
            // DataLoader's base seed: `random_()` on an int64, the 64-bit draw modulo 2⁶³.
            let int64 = (s["int64"] as! [String]).map { UInt64($0)! }
            XCTAssertEqual((0..<3).map { _ in g.random64() % (1 << 63) }, int64, "seed \(s["seed"]!)")
            for (n, expected) in zip(s["randperm_sizes"] as! [Int], s["randperms"] as! [[Int]]) {
                XCTAssertEqual(try g.randperm(n), expected, "seed \(s["seed"]!), n \(n)")
            }
            XCTAssertEqual(try g.randperm(5), s["after"] as! [Int])
        }
        var g = TorchGenerator(seed: 1)
        let before = g
        XCTAssertThrowsError(try g.randperm(-1))
        XCTAssertEqual(g, before)
    }

    func testLoaderShufflesInPyTorchsOrder() throws {
        let f = try Fixture("ports/torch_generator")
        let runs = try XCTUnwrap(f["loaders"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 5)
        for run in runs {
            let loader = try DataLoader(Indices(count: run["count"] as! Int), batchSize: run["batch_size"] as! Int,
                                        shuffle: run["shuffle"] as! Bool, dropLast: run["drop_last"] as! Bool,
                                        generator: TorchGenerator(seed: UInt64(run["seed"] as! Int)))
            let expected = run["epochs"] as! [[[Int]]]
            var iterator = loader.makeIterator()
            XCTAssertEqual(Array(IteratorSequence(iterator)), expected[0], "\(run)")
            XCTAssertEqual(Array(loader), expected[1], "\(run)")
            iterator = loader.makeIterator()
            XCTAssertEqual(iterator.next(), expected[2][0], "\(run)")   // an epoch left early
            XCTAssertEqual(Array(loader), expected[3], "\(run)")
        }
    }

    func testRandomSplitMatchesPyTorch() throws {
        let f = try Fixture("ports/torch_generator")
        let runs = try XCTUnwrap(f["splits"] as? [[String: Any]])
        XCTAssertEqual(runs.count, 4)
        for run in runs {
            var g = TorchGenerator(seed: UInt64(run["seed"] as! Int))
            let parts = try randomSplit(Indices(count: run["count"] as! Int), (run["lengths"] as! [NSNumber]).map(\.doubleValue),
                                        generator: &g)
            XCTAssertEqual(parts.map(\.indices), run["subsets"] as! [[Int]], "\(run)")
            XCTAssertEqual(try g.randperm(4), run["after"] as! [Int])
            // A subset's examples and batches are the dataset's at its indices.
            XCTAssertEqual(parts[0].batch([1, 0]), [parts[0].indices[1], parts[0].indices[0]])
            XCTAssertEqual(parts[0][0], parts[0].indices[0])
        }
        var g = TorchGenerator(seed: 1)
        let before = g
        for bad in [[3.0, 4], [0.5, 0.6], [-1, 11], [1.5, 8.5], [], [.nan]] {
            XCTAssertThrowsError(try randomSplit(Indices(count: 10), bad, generator: &g), "\(bad)")
        }
        XCTAssertEqual(g, before)
        XCTAssertThrowsError(try Subset(Indices(count: 3), indices: [0, 3]))
    }

    func testCheckpointCarriesTheLoadersStream() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("loader-\(UUID().uuidString).ckpt")
        defer { try? FileManager.default.removeItem(at: url) }
        let model = try Linear(inFeatures: 1, outFeatures: 1)
        for (make, other) in [({ try DataLoader(Indices(count: 10), batchSize: 3, shuffle: true, generator: TorchGenerator(seed: 5)) },
                               { try DataLoader(Indices(count: 10), batchSize: 3, shuffle: true, generator: SeededGenerator(seed: 5)) }),
                              ({ try DataLoader(Indices(count: 10), batchSize: 3, shuffle: true, generator: SeededGenerator(seed: 5)) },
                               { try DataLoader(Indices(count: 10), batchSize: 3, shuffle: true) })] {
            let loader = try make()
            for _ in loader {}
            try Checkpoint(model: model, dataLoader: loader.state).write(to: url)
            let next = Array(loader), afterNext = Array(loader)
            let resumed = try make()
            try Checkpoint(contentsOf: url).restore(dataLoader: resumed)
            XCTAssertEqual(Array(resumed), next)
            XCTAssertEqual(Array(resumed), afterNext)
            // Another kind of stream is refused and left as it was.
            let mismatched = try other()
            let state = mismatched.state
            XCTAssertThrowsError(try Checkpoint(contentsOf: url).restore(dataLoader: mismatched))
            XCTAssertEqual(mismatched.state, state)
        }
        try Checkpoint(model: model).write(to: url)
        XCTAssertThrowsError(try Checkpoint(contentsOf: url).restore(dataLoader: try DataLoader(Indices(count: 3))))
        // A malformed stream in the metadata is an error naming the entry.
        for bad in [#"{"generator":"1,2,3"}"#, #"{"torch_generator":{"state":[1],"index":0,"initial_seed":"1"}}"#,
                    #"{"generator":"1,2,3,4","torch_generator":{"state":[],"index":0,"initial_seed":"1"}}"#] {
            try SafeTensors.write(["model.weight": Tensor(zeros: [1, 1]), "model.bias": Tensor(zeros: [1])],
                                  metadata: ["format": Checkpoint.format, "data_loader.state": bad], to: url)
            XCTAssertThrowsError(try Checkpoint(contentsOf: url)) { error in
                XCTAssertTrue("\(error)".contains("data_loader.state"), "\(error)")
            }
        }
    }
}
