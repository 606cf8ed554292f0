// The tests of RecurrentDistributed that need several processes. CI runs them with
//
//     mpirun --allow-run-as-root --oversubscribe -np 2 .build/debug/recurrent-mpi-tests
//
// Every rank runs every test; a test passes when it passes on every rank (the ranks agree
// through an all-reduce after each test). Rank 0 prints one line per test and the closing
// "N passed, M failed"; the status is non-zero on every rank when a test failed.
//
// The reference for data parallelism is computed on every rank itself: one process's
// training on the whole global batch (a model built and trained without any communication),
// beside the data-parallel run where each rank trains on its share.
import Foundation
import Recurrent
import RecurrentDistributed

// One thread per rank: the ranks share the machine's cores (results do not depend on it).
ComputeThreads.set(1)

let group: ProcessGroup
do {
    group = try ProcessGroup.world()
} catch {
    FileHandle.standardError.write("recurrent-mpi-tests: \(error)\n".data(using: .utf8)!)
    exit(2)
}
guard group.size >= 2 else {
    FileHandle.standardError.write("recurrent-mpi-tests: run me with at least two ranks, e.g. mpirun -np 2 recurrent-mpi-tests (got \(group.size))\n".data(using: .utf8)!)
    exit(2)
}

// MARK: - A tiny harness

struct TestFailure: Error, CustomStringConvertible { let description: String }

nonisolated(unsafe) var passed = 0
nonisolated(unsafe) var failed = 0
nonisolated(unsafe) var failures: [String] = []

func expect(_ condition: @autoclosure () throws -> Bool, _ message: @autoclosure () -> String,
            line: Int = #line) rethrows {
    if try !condition() { failures.append("line \(line): \(message())") }
}

/// `max |a − b| ≤ tolerance · max |b|`: the error relative to the array's scale.
func close(_ a: [Float], _ b: [Float], relative tolerance: Float) -> (Bool, String) {
    guard a.count == b.count else { return (false, "lengths \(a.count) and \(b.count)") }
    guard !a.isEmpty else { return (true, "empty") }
    var worst: Float = 0
    var at = 0
    for i in a.indices where !(abs(a[i] - b[i]) <= worst) { worst = abs(a[i] - b[i]); at = i }
    let scale = b.reduce(Float(0)) { max($0, abs($1)) }
    return (worst <= tolerance * scale,
            "largest difference \(worst) (relative to the largest magnitude \(scale): \(worst / max(scale, .leastNormalMagnitude))) at \(at): \(a[at]) vs \(b[at])")
}

func test(_ name: String, _ body: () throws -> Void) {
    failures = []
    do { try body() } catch { failures.append("threw \(error)") }
    // A test passes when it passes on every rank.
    var flags = [failures.isEmpty ? 0 : 1]
    do { try group.allReduce(&flags) } catch {
        FileHandle.standardError.write("rank \(group.rank): all-reduce after \(name) failed: \(error)\n".data(using: .utf8)!)
        exit(3)
    }
    for failure in failures { print("rank \(group.rank): FAIL \(name): \(failure)") }
    if flags[0] == 0 {
        passed += 1
        if group.rank == 0 { print("ok   \(name)") }
    } else {
        failed += 1
        if group.rank == 0 { print("FAIL \(name) (on \(flags[0]) rank(s))") }
    }
    fflush(nil)
}

// MARK: - Models and data

enum Kind: String, CaseIterable { case rnn, lstm, gru }

/// A recurrent layer over a batch-first input and a linear head on the last time step.
final class Classifier: Module, @unchecked Sendable {
    let rnn: RecurrentBase
    let fc: Linear
    let kind: Kind

    init(_ kind: Kind, inputSize: Int = 5, hiddenSize: Int = 8, layers: Int = 2, classes: Int = 3, seed: UInt64) throws {
        self.kind = kind
        switch kind {
        case .rnn: rnn = try RNN(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, batchFirst: true, seed: seed)
        case .lstm: rnn = try LSTM(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, batchFirst: true, seed: seed)
        case .gru: rnn = try GRU(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: layers, batchFirst: true, seed: seed)
        }
        var generator = SeededGenerator(seed: seed &+ 1)
        fc = try Linear(inFeatures: hiddenSize, outFeatures: classes, using: &generator)
        super.init()
    }

    func callAsFunction(_ input: Tensor) throws -> Tensor {
        let hN: Tensor
        switch rnn {
        case let layer as RNN: hN = try layer(input).hN
        case let layer as LSTM: hN = try layer(input).state.h
        case let layer as GRU: hN = try layer(input).hN
        default: throw TestFailure(description: "unknown layer")
        }
        // hN is (layers, B, H): the last layer's state.
        let layers = hN.shape[0]
        return try fc(hN.select(dim: 0, index: layers - 1))
    }
}

/// A synthetic classification set: `count` sequences of `steps` × `features`, labels from a
/// fixed rule, drawn from `seed` (the same on every rank).
struct DataSet {
    let inputs: [[Float]]
    let labels: [Int]
    let steps: Int, features: Int

    init(count: Int, steps: Int = 6, features: Int = 5, classes: Int = 3, seed: UInt64) {
        var generator = SeededGenerator(seed: seed)
        var inputs: [[Float]] = []
        var labels: [Int] = []
        for _ in 0..<count {
            let x = (0..<(steps * features)).map { _ in generator.uniform(Float(-1), Float(1)) }
            inputs.append(x)
            // The class whose feature has the largest sum over the time steps.
            let sums = (0..<classes).map { c in (0..<steps).reduce(Float(0)) { $0 + x[$1 * features + c] } }
            labels.append(sums.indices.max { sums[$0] < sums[$1] }!)
        }
        self.inputs = inputs
        self.labels = labels
        self.steps = steps
        self.features = features
    }

    func batch(_ indices: [Int]) -> (Tensor, [Int]) {
        (Tensor(shape: [indices.count, steps, features], scalars: indices.flatMap { inputs[$0] }), indices.map { labels[$0] })
    }
}

enum OptimizerKind { case sgd, adam, rmsprop, adamW }

func makeOptimizer(_ kind: OptimizerKind, _ parameters: [Parameter]) throws -> any Optimizer {
    switch kind {
    case .sgd: return try SGD(parameters, lr: 0.05, momentum: 0.9)
    case .adam: return try Adam(parameters, lr: 0.01)
    case .rmsprop: return try RMSprop(parameters, lr: 0.005)
    case .adamW: return try AdamW(parameters, lr: 0.01)
    }
}

func flatParameters(_ module: Module) -> [Float] { module.parameters().flatMap(\.scalars) }

/// One process on whole global batches versus every rank on its share, for `epochs`: the
/// loss of every step and the final weights must agree to `tolerance` (relative).
func checkEquivalence(_ kind: Kind, optimizer: OptimizerKind, count: Int, globalBatch: Int, epochs: Int,
                      clip: Float? = nil, bucketCapMB: Double = 25, decay: Float = 1,
                      tolerance: Float = 1e-6) throws {
    let data = DataSet(count: count, seed: 7)
    let seed: UInt64 = 11

    // The reference: one process, whole batches, the same permutation per epoch.
    let reference = try Classifier(kind, seed: seed)
    let referenceOptimizer = try makeOptimizer(optimizer, reference.parameters())
    var referenceLosses: [Float] = []
    var oneProcess = try DistributedSampler(count: count, rank: 0, worldSize: 1, seed: 3)
    for epoch in 0..<epochs {
        oneProcess.epoch = epoch
        for batch in try oneProcess.batches(size: globalBatch) {
            let (x, y) = data.batch(batch)
            referenceOptimizer.zeroGrad()
            let loss = try crossEntropy(reference(x), target: y)
            loss.backward()
            if let clip { _ = clipGradNorm(reference.parameters(), maxNorm: clip) }
            referenceOptimizer.step()
            referenceLosses.append(loss.item)
        }
        referenceOptimizer.learningRate *= decay   // a step schedule, as a scheduler would set it
    }

    // Data parallel: rank 0's initialisation reaches every rank (the others start elsewhere).
    let model = try Classifier(kind, seed: group.rank == 0 ? seed : seed + 1000 + UInt64(group.rank))
    let ddp = try DistributedDataParallel(model, processGroup: group, bucketCapMB: bucketCapMB)
    let (same, detail) = close(flatParameters(model), flatParameters(try Classifier(kind, seed: seed)), relative: 0)
    expect(same, "after construction the parameters are not rank 0's: \(detail)")
    let modelOptimizer = try makeOptimizer(optimizer, model.parameters())
    var losses: [Float] = []
    precondition(globalBatch % group.size == 0)
    var sampler = try DistributedSampler(count: count, processGroup: group, seed: 3, remainder: .uneven)
    for epoch in 0..<epochs {
        sampler.epoch = epoch
        for batch in try sampler.batches(size: globalBatch / group.size) {
            modelOptimizer.zeroGrad()
            var sums: [Double] = [0, Double(batch.count)]
            if batch.isEmpty {
                try ddp.synchronizeGradients(localCount: 0)
            } else {
                let (x, y) = data.batch(batch)
                let loss = try crossEntropy(model(x), target: y)
                try ddp.backward(loss, localCount: batch.count)
                sums[0] = Double(loss.item) * Double(batch.count)
            }
            if let clip { _ = clipGradNorm(model.parameters(), maxNorm: clip) }
            modelOptimizer.step()
            try group.allReduce(&sums)
            losses.append(Float(sums[0] / sums[1]))
        }
        modelOptimizer.learningRate *= decay
    }
    let (lossesClose, lossDetail) = close(losses, referenceLosses, relative: tolerance)
    expect(lossesClose, "loss curve: \(lossDetail)")
    let (weightsClose, weightDetail) = close(flatParameters(model), flatParameters(reference), relative: tolerance)
    expect(weightsClose, "final weights: \(weightDetail)")
    let perEpoch = referenceLosses.count / epochs
    let firstEpoch = referenceLosses.prefix(perEpoch).reduce(0, +), lastEpoch = referenceLosses.suffix(perEpoch).reduce(0, +)
    expect(lastEpoch < firstEpoch, "the reference did not learn: epoch losses \(firstEpoch / Float(perEpoch)) → \(lastEpoch / Float(perEpoch))")
    try expect(try ddp.countReplicaDifferences() == 0, "replicas differ")
}

// MARK: - Process group

test("process group: rank, size, local rank") {
    expect((0..<group.size).contains(group.rank), "rank \(group.rank) of \(group.size)")
    expect((0..<group.localSize).contains(group.localRank), "local rank \(group.localRank) of \(group.localSize)")
    let ranks = try group.allGather(group.rank)
    expect(ranks == Array(0..<group.size), "allGather(rank) = \(ranks)")
    expect(group.libraryVersion.contains("MPI"), "library version \"\(group.libraryVersion)\"")
    expect(ProcessGroup.isAvailable, "isAvailable")
    try expect( ProcessGroup.world() === group, "world() returns the same group")
}

test("process group: allReduce sum, mean, max, min of tensors, buffers and arrays") {
    let n = group.size, r = Float(group.rank)
    let t = Tensor(shape: [2, 3], scalars: (0..<6).map { Float($0) + 10 * r })
    try group.allReduce(t, .sum)
    let rankSum = Float(n * (n - 1) / 2) * 10
    expect(t.scalars == (0..<6).map { Float(n) * Float($0) + rankSum }, "sum: \(t.scalars)")
    let m = Tensor(shape: [3], scalars: [r, 2 * r, -r])
    try group.allReduce(m, .mean)
    let meanRank = Float(n - 1) / 2
    expect(close(m.scalars, [meanRank, 2 * meanRank, -meanRank], relative: 1e-6).0, "mean: \(m.scalars)")
    var d: [Double] = [Double(group.rank), -Double(group.rank)]
    try group.allReduce(&d, .max)
    expect(d == [Double(n - 1), 0], "max: \(d)")
    var i = [group.rank + 1, 5]
    try group.allReduce(&i, .min)
    expect(i == [1, 5], "min: \(i)")
    var e: [Int] = []
    try group.allReduce(&e)
    expect(e.isEmpty, "empty")
    do {
        var bad = [1]
        try group.allReduce(&bad, .mean)
        expect(false, "an integer mean did not throw")
    } catch DistributedError.invalidArgument {}
    // A buffer larger than one bucket of the DDP, through the raw-buffer entry point.
    var big = [Float](repeating: r + 1, count: 3_000_001)
    try big.withUnsafeMutableBufferPointer { try group.allReduce($0) }
    expect(big.allSatisfy { $0 == Float(n * (n + 1) / 2) }, "large buffer")
}

test("process group: broadcast, allGather, barrier, errors") {
    let t = Tensor(shape: [4], scalars: [Float](repeating: Float(group.rank), count: 4))
    try group.broadcast(t, root: group.size - 1)
    expect(t.scalars == [Float](repeating: Float(group.size - 1), count: 4), "broadcast tensor: \(t.scalars)")
    var bytes: [UInt8] = group.rank == 0 ? Array("checkpoint bytes".utf8) : [1, 2, 3]
    try group.broadcast(&bytes)
    expect(String(decoding: bytes, as: UTF8.self) == "checkpoint bytes", "broadcast bytes: \(bytes)")
    let gathered = try group.allGather((0...group.rank).map(Double.init))
    expect(gathered == (0..<group.size).map { r in (0...r).map(Double.init) }, "allGather of uneven arrays: \(gathered)")
    try expect( group.allGather(Double(group.rank) * 0.5) == (0..<group.size).map { Double($0) * 0.5 }, "allGather(Double)")
    try group.barrier()
    do {
        try group.broadcast(t, root: group.size)
        expect(false, "a root out of range did not throw")
    } catch let error as DistributedError {
        expect("\(error)".contains("root"), "message: \(error)")
    }
}

// MARK: - Sampler

test("sampler: shards are disjoint, cover the epoch, and follow PyTorch's pad and drop_last") {
    for count in [0, 1, 2, 7, 10, 33] {
        for worldSize in [1, 2, 3, 4] {
            for remainder in [DistributedSampler.Remainder.pad, .dropLast, .uneven] {
                let samplers = try (0..<worldSize).map {
                    try DistributedSampler(count: count, rank: $0, worldSize: worldSize, seed: 5, remainder: remainder)
                }
                let shards = samplers.map { $0.indices() }
                let all = shards.flatMap { $0 }
                let perm = samplers[0].permutation()
                expect(perm.sorted() == Array(0..<count), "permutation of \(count)")
                switch remainder {
                case .pad:
                    let each = (count + worldSize - 1) / worldSize
                    expect(shards.allSatisfy { $0.count == each } || count == 0, "pad \(count)/\(worldSize): \(shards.map(\.count))")
                    expect(Set(all) == Set(0..<count), "pad covers \(count)/\(worldSize)")
                    // PyTorch: indices += indices[:padding]; rank r takes indices[r::N].
                    var padded = perm
                    while padded.count < each * worldSize && !perm.isEmpty { padded += perm.prefix(each * worldSize - padded.count) }
                    for r in 0..<worldSize where !perm.isEmpty {
                        expect(shards[r] == Array(stride(from: r, to: padded.count, by: worldSize).map { padded[$0] }), "pad order")
                    }
                case .dropLast:
                    expect(shards.allSatisfy { $0.count == count / worldSize }, "dropLast \(count)/\(worldSize): \(shards.map(\.count))")
                    expect(all.count == Set(all).count, "dropLast repeats an index")
                case .uneven:
                    expect(all.sorted() == Array(0..<count), "uneven \(count)/\(worldSize) is not a partition")
                    expect(shards.map(\.count) == (0..<worldSize).map { samplers[0].localCount(ofRank: $0) }, "uneven counts")
                }
                expect(zip(samplers, shards).allSatisfy { $0.localCount == $1.count }, "localCount")
            }
        }
    }
    // Every rank draws the same permutation; epochs draw different ones.
    var sampler = try DistributedSampler(count: 1000, processGroup: group, seed: 42)
    let first = sampler.permutation()
    sampler.epoch = 1
    let second = sampler.permutation()
    expect(first != second, "epochs 0 and 1 share a permutation")
    var hash: [Double] = [Double(first.enumerated().reduce(0) { $0 &+ $1.offset &* 31 &+ $1.element &* 7919 } % 1_000_003)]
    let gathered = try group.allGather(hash[0])
    expect(Set(gathered).count == 1, "ranks draw different permutations: \(gathered)")
    hash = []
    // Batches: the ranks' k-th batches together are one process's k-th batch.
    let global = try DistributedSampler(count: 29, rank: 0, worldSize: 1, seed: 9).batches(size: 8)
    let locals = try (0..<3).map { try DistributedSampler(count: 29, rank: $0, worldSize: 3, seed: 9, remainder: .uneven).batches(size: 8) }
    let unions = (0..<locals[0].count).map { k in Set(locals.flatMap { $0[k] }) }
    let globalBatches = try DistributedSampler(count: 29, rank: 0, worldSize: 1, seed: 9).batches(size: 24).map(Set.init)
    expect(unions == globalBatches, "local batches do not make the global ones")
    expect(global.count == 4 && global.last!.count == 5, "one process's batches: \(global.map(\.count))")
    do {
        _ = try DistributedSampler(count: 5, rank: 2, worldSize: 2)
        expect(false, "rank 2 of 2 accepted")
    } catch DistributedError.invalidArgument {}
    do {
        _ = try sampler.batches(size: 0)
        expect(false, "batch size 0 accepted")
    } catch DistributedError.invalidArgument {}
}

// MARK: - Data parallelism against one process

for kind in Kind.allCases {
    test("\(kind.rawValue): two ranks on halves give one process's loss curve and weights (SGD momentum, clipping)") {
        try checkEquivalence(kind, optimizer: .sgd, count: 64, globalBatch: 16, epochs: 3, clip: 0.5)
    }
}
test("lstm: Adam with a step learning-rate schedule, uneven last batches (29 samples, global batch 8)") {
    try checkEquivalence(.lstm, optimizer: .adam, count: 29, globalBatch: 8, epochs: 3, decay: 0.5)
}
test("gru: RMSprop, a last batch of one sample (a rank with none), many small buckets") {
    try checkEquivalence(.gru, optimizer: .rmsprop, count: 25, globalBatch: 8, epochs: 2, bucketCapMB: 0.001)
}
test("rnn: AdamW, buckets of one parameter each") {
    try checkEquivalence(.rnn, optimizer: .adamW, count: 40, globalBatch: 8, epochs: 2, bucketCapMB: 1e-9)
}

test("buckets: one ~25 MB bucket for a small model, several when capped, every gradient once") {
    let model = try Classifier(.lstm, hiddenSize: 16, seed: 1)
    let parameterCount = model.parameters().count
    let elements = model.parameters().reduce(0) { $0 + $1.count }
    let ddp = try DistributedDataParallel(model, processGroup: group)
    expect(ddp.bucketElementCounts == [3 + parameterCount + elements], "default buckets: \(ddp.bucketElementCounts)")
    expect(ddp.bucketCapacityBytes == 25 * 1_048_576, "capacity \(ddp.bucketCapacityBytes)")
    let capped = try DistributedDataParallel(model, processGroup: group, bucketCapMB: 4096.0 / 1_048_576)
    let names = capped.bucketParameterNames.flatMap { $0 }
    expect(names.sorted() == model.namedParameters().map(\.name).sorted(), "every parameter once: \(names)")
    expect(names.first == "fc.bias", "reverse order: \(names)")
    expect(capped.bucketElementCounts.count > 1, "capped buckets: \(capped.bucketElementCounts)")
    expect(capped.bucketElementCounts.allSatisfy { $0 <= 1024 } || capped.bucketElementCounts.count == parameterCount,
           "bucket sizes: \(capped.bucketElementCounts)")
    do {
        _ = try DistributedDataParallel(model, processGroup: group, bucketCapMB: 0)
        expect(false, "a bucket of 0 MB accepted")
    } catch DistributedError.invalidArgument {}
}

test("replicas stay bit-identical after 300 steps on different data") {
    let data = DataSet(count: 64, seed: 100 + UInt64(group.rank))   // each rank its own data
    let model = try Classifier(.lstm, hiddenSize: 12, seed: 5)
    let ddp = try DistributedDataParallel(model, processGroup: group)
    let optimizer = try Adam(model.parameters(), lr: 0.003)
    var generator = SeededGenerator(seed: 77 + UInt64(group.rank))
    for _ in 0..<300 {
        let batch = (0..<4).map { _ in Int(generator.next() % 64) }
        let (x, y) = data.batch(batch)
        optimizer.zeroGrad()
        try ddp.backward(try crossEntropy(model(x), target: y))
        _ = clipGradNorm(model.parameters(), maxNorm: 1)
        optimizer.step()
    }
    try expect( ddp.countReplicaDifferences() == 0, "replicas differ after 300 steps")
    // And they did train on different data: a gradient before synchronisation differs.
    let (x, y) = data.batch([0, 1, 2, 3])
    optimizer.zeroGrad()
    try crossEntropy(model(x), target: y).backward()
    let local = model.parameters().flatMap { $0.grad!.scalars }
    let gathered = try group.allGather(local.prefix(8).map(Double.init))
    expect(Set(gathered.map { $0.description }).count > 1, "the ranks' local gradients are equal")
}

test("noSync accumulates locally; the next backward averages the accumulated gradients") {
    let data = DataSet(count: 16, seed: 200 + UInt64(group.rank))
    let model = try Classifier(.gru, seed: 4)
    let ddp = try DistributedDataParallel(model, processGroup: group)
    model.zeroGrad()
    try ddp.noSync {
        let (x, y) = data.batch([0, 1, 2, 3])
        try ddp.backward(try crossEntropy(model(x), target: y))
        expect(!ddp.synchronizesGradients, "inside noSync")
    }
    expect(ddp.synchronizesGradients, "after noSync")
    // Nothing was communicated: the gradient is this rank's own.
    let reference = try Classifier(.gru, seed: 4)
    try reference.loadStateDict(model.stateDict())
    let (x1, y1) = data.batch([0, 1, 2, 3])
    try crossEntropy(reference(x1), target: y1).backward()
    let localAfterFirst = reference.parameters().flatMap { $0.grad!.scalars }
    let (x2, y2) = data.batch([4, 5, 6, 7])
    try crossEntropy(reference(x2), target: y2).backward()
    let accumulated = reference.parameters().map { $0.grad!.detached() }
    let afterNoSync = model.parameters().flatMap { $0.grad!.scalars }
    expect(afterNoSync == localAfterFirst, "inside noSync the gradient is not this rank's own")
    try ddp.backward(try crossEntropy(model(x2), target: y2))
    // Expected: the mean over ranks of each rank's accumulated gradient.
    for (k, p) in model.parameters().enumerated() {
        let expected = accumulated[k]
        try group.allReduce(expected, .mean)
        let (ok, detail) = close(p.grad!.scalars, expected.scalars, relative: 1e-6)
        expect(ok, "parameter \(k): \(detail)")
    }
}

test("a rank with a different model is rejected with an error on every rank") {
    // Another hidden size on the last rank.
    let hidden = group.rank == group.size - 1 ? 9 : 8
    do {
        _ = try DistributedDataParallel(try Classifier(.lstm, hiddenSize: hidden, seed: 1), processGroup: group)
        expect(false, "no error")
    } catch let DistributedError.parameterMismatch(message) {
        expect(message.contains("rank \(group.size - 1) holds other parameters"), "message: \(message)")
        if group.rank == group.size - 1 { expect(message.contains("rnn.weight_ih_l0 [36, 5]"), "message: \(message)") }
    }
    // Another kind of layer (other names) on rank 0.
    do {
        _ = try DistributedDataParallel(try Classifier(group.rank == 0 ? .gru : .lstm, seed: 1), processGroup: group)
        expect(false, "no error")
    } catch DistributedError.parameterMismatch {}
    // A parameter frozen on one rank only.
    do {
        let model = try Classifier(.rnn, seed: 1)
        if group.rank == 1 { model.fc.bias?.requiresGrad = false }
        _ = try DistributedDataParallel(model, processGroup: group)
        expect(false, "no error")
    } catch DistributedError.parameterMismatch {}
    // The group still works afterwards.
    var one = [1]
    try group.allReduce(&one)
    expect(one == [group.size], "the group after the errors")
}

test("invalid counts are rejected on every rank and leave the gradients as they were") {
    let data = DataSet(count: 8, seed: 1)
    let model = try Classifier(.rnn, seed: 2)
    let ddp = try DistributedDataParallel(model, processGroup: group)
    let (x, y) = data.batch([0, 1, 2])
    try crossEntropy(model(x), target: y).backward()
    let before = model.parameters().map { $0.grad!.scalars }
    for (count, what) in [(group.rank == 1 ? -1 : 3, "negative"), (group.rank == 0 ? nil : 3, "mixed"), (0, "zero")] as [(Int?, String)] {
        do {
            try ddp.synchronizeGradients(localCount: count)
            expect(false, "\(what): no error")
        } catch DistributedError.invalidArgument {}
        expect(model.parameters().map { $0.grad!.scalars } == before, "\(what): the gradients changed")
    }
}

test("checkpoints: written by rank 0 only, loaded by every rank and by one process") {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-mpi-tests-\(getpid())")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    let data = DataSet(count: 16, seed: 3)
    let model = try Classifier(.lstm, seed: 6)
    let ddp = try DistributedDataParallel(model, processGroup: group)
    let optimizer = try Adam(model.parameters(), lr: 0.01)
    var sampler = try DistributedSampler(count: 16, processGroup: group)
    sampler.epoch = 0
    for batch in try sampler.batches(size: 4) {
        optimizer.zeroGrad()
        let (x, y) = data.batch(batch)
        try ddp.backward(try crossEntropy(model(x), target: y))
        optimizer.step()
    }
    // Each rank names its own file: only rank 0's may exist afterwards.
    let mine = folder.appendingPathComponent("rank\(group.rank).safetensors")
    try ddp.saveCheckpoint(to: mine, optimizer: optimizer, extra: ["epoch": "1"])
    expect(FileManager.default.fileExists(atPath: mine.path) == (group.rank == 0), "rank \(group.rank) wrote a file: \(FileManager.default.fileExists(atPath: mine.path))")
    let rank0File = folder.appendingPathComponent("rank0.safetensors")

    // Every rank loads it (only rank 0 reads the file) into a fresh model and optimizer.
    let fresh = try Classifier(.lstm, seed: 99)
    let freshDDP = try DistributedDataParallel(fresh, processGroup: group)
    let freshOptimizer = try Adam(fresh.parameters(), lr: 0.01)
    let checkpoint = try freshDDP.loadCheckpoint(from: group.rank == 0 ? rank0File : mine, optimizer: freshOptimizer)
    expect(checkpoint.extra["epoch"] == "1", "extra: \(checkpoint.extra)")
    expect(flatParameters(fresh) == flatParameters(model), "the loaded parameters differ")
    expect(freshOptimizer.state == optimizer.state, "the loaded optimizer state differs")

    // One process (world size 1) reads the same file with the plain API.
    if group.rank == 0 {
        let single = try Classifier(.lstm, seed: 123)
        try Checkpoint(contentsOf: rank0File).restore(model: single)
        expect(flatParameters(single) == flatParameters(model), "one process's load differs")
        try expect(Set(single.stateDictKeys) == Set(try Checkpoint(contentsOf: rank0File).model.keys), "keys have a prefix")
    }

    // A missing file on rank 0 is an error on every rank, and nothing changes.
    let other = try Classifier(.lstm, seed: 5)
    let otherDDP = try DistributedDataParallel(other, processGroup: group)
    let beforeLoad = flatParameters(other)
    do {
        try otherDDP.loadCheckpoint(from: folder.appendingPathComponent("missing.safetensors"))
        expect(false, "a missing file loaded")
    } catch {
        if group.rank != 0 { expect(error is DistributedError, "rank \(group.rank) threw \(error)") }
    }
    expect(flatParameters(other) == beforeLoad, "a failed load changed the model")
    // A file for another model is an error on every rank, and nothing changes.
    let gru = try Classifier(.gru, seed: 5)
    let gruDDP = try DistributedDataParallel(gru, processGroup: group)
    let gruBefore = flatParameters(gru)
    do {
        try gruDDP.loadCheckpoint(from: rank0File)
        expect(false, "an LSTM checkpoint loaded into a GRU")
    } catch {}
    expect(flatParameters(gru) == gruBefore, "a failed load changed the model")
    // An unwritable path: rank 0's error reaches every rank.
    do {
        try ddp.saveCheckpoint(to: folder.appendingPathComponent("no/such/folder/x.safetensors"))
        expect(false, "an unwritable path did not throw")
    } catch {}
}

if group.rank == 0 {
    print("\(passed) passed, \(failed) failed")
}
fflush(nil)
try? ProcessGroup.finalize()
exit(failed == 0 ? 0 : 1)
