import Dispatch
import Foundation
import XCTest
@testable import Recurrent

/// Using the library from several threads and tasks at once:
///
/// - a trained module runs inference from 8 threads (and 8 tasks) under `withoutGradients`,
///   each on its own inputs, with results bit-identical to single-threaded runs;
/// - recording forward + backward (and an optimizer step) on separate module instances at
///   once gives the same gradients and weights as running them one after the other;
/// - grad mode and anomaly mode are per task (and per thread): turning recording off in
///   one does not change another.
///
/// Assertions are collected on the worker threads and checked on the test's thread.
final class ConcurrencyTests: XCTestCase {
    /// Tasks (or threads) run at once.
    private let width = 8

    /// An LSTM classifier after a few SGD steps (so that its weights are not the initial
    /// ones), in evaluation mode.
    private func trainedModel(kind: CellKind = .lstm) throws -> SequenceClassifier {
        let model = try SequenceClassifier(kind: kind, seed: 7)
        let sgd = try SGD(model.parameters(), lr: 0.1, momentum: 0.9)
        var generator = SeededGenerator(seed: 1)
        for _ in 0..<4 {
            let (x, y) = syntheticBatch(&generator)
            try trainingStep(model, sgd, x, y)
        }
        model.zeroGrad()
        return model.eval()
    }

    /// One input per task, of different lengths and batch sizes.
    private func taskInputs(seed: UInt64 = 2) -> [Tensor] {
        var generator = SeededGenerator(seed: seed)
        return (0..<width).map { i in Tensor(normal: [5 + i, 1 + i % 3, 5], using: &generator) }
    }

    // MARK: - Inference

    /// 8 threads (`concurrentPerform`), 10 rounds each, on one shared trained module: every
    /// result is bit-identical to the single-threaded one, nothing is recorded, and the
    /// module's parameters and gradients are untouched.
    func testInferenceFromEightThreadsMatchesSingleThread() throws {
        let model = try trainedModel()
        let inputs = taskInputs()
        let before = model.parameters().map(\.scalars)
        let expected = try withoutGradients { try inputs.map { try model($0).scalars } }

        let results = Locked<[[[Float]]]>(Array(repeating: [], count: width))
        let failures = Locked<[String]>([])
        let rounds = 10
        DispatchQueue.concurrentPerform(iterations: width) { i in
            for _ in 0..<rounds {
                do {
                    let output = try withoutGradients { try model(inputs[i]) }
                    if !output.isLeaf || output.requiresGrad {
                        failures.withLock { $0.append("thread \(i): inference recorded a graph (\(output.gradFnName ?? "-"))") }
                    }
                    let scalars = output.scalars
                    results.withLock { $0[i].append(scalars) }
                } catch {
                    failures.withLock { $0.append("thread \(i): \(error)") }
                }
            }
        }

        XCTAssertEqual(failures.withLock { $0 }, [])
        let collected = results.withLock { $0 }
        for i in 0..<width {
            XCTAssertEqual(collected[i].count, rounds)
            for (round, scalars) in collected[i].enumerated() {
                assertBitIdentical(scalars, expected[i], "thread \(i), round \(round)")
            }
        }
        XCTAssertEqual(model.parameters().map(\.scalars), before, "inference changed the parameters")
        XCTAssertTrue(model.parameters().allSatisfy { $0.grad == nil }, "inference made gradients")
    }

    /// The same from 8 child tasks of a task group, for each recurrent kind.
    func testInferenceFromEightTasksMatchesSingleThread() async throws {
        for kind in [CellKind.lstm, .gru, .rnnTanh] {
            let model = try trainedModel(kind: kind)
            let inputs = taskInputs(seed: 3)
            let expected = try withoutGradients { try inputs.map { try model($0).scalars } }
            let width = self.width
            let outputs = try await withThrowingTaskGroup(of: (Int, [[Float]]).self) { group in
                for i in 0..<width {
                    group.addTask {
                        var rounds: [[Float]] = []
                        for _ in 0..<5 {
                            rounds.append(try withoutGradients { try model(inputs[i]).scalars })
                            await Task.yield()
                        }
                        return (i, rounds)
                    }
                }
                var outputs = [[[Float]]](repeating: [], count: width)
                for try await (i, rounds) in group { outputs[i] = rounds }
                return outputs
            }
            for i in 0..<width {
                XCTAssertEqual(outputs[i].count, 5)
                for scalars in outputs[i] { assertBitIdentical(scalars, expected[i], "\(kind), task \(i)") }
            }
        }
    }

    /// Inference large enough for the fused layers to reuse pooled scratch blocks (the
    /// input projection of 64 steps × 16 × 4·64 gates is over the pool's 64 Ki-float
    /// threshold): 8 threads take and give back the shared blocks at once, and every result
    /// is still bit-identical to one thread (with one BLAS thread; see below).
    func testLargeInferenceFromEightThreadsSharesScratchSafely() throws {
        // One BLAS thread, as OpenBLAS recommends for applications that are multi-threaded
        // themselves: the fused layers switch the process-wide BLAS thread count to 1 around
        // their small per-step products, so with more threads a call's large products run
        // on 1 or N threads depending on what other calls are doing at that moment, and
        // OpenBLAS rounds differently with another thread count (RELIABILITY.md).
        let savedThreads = ComputeThreads.count
        ComputeThreads.set(1)
        defer { ComputeThreads.set(savedThreads) }
        let model = try SequenceClassifier(kind: .lstm, inputSize: 8, hiddenSize: 64, numLayers: 2, seed: 11).eval()
        var generator = SeededGenerator(seed: 12)
        let inputs = (0..<width).map { _ in Tensor(normal: [64, 16, 8], using: &generator) }
        let expected = try withoutGradients { try inputs.map { try model($0).scalars } }
        let results = Locked<[[[Float]]]>(Array(repeating: [], count: width))
        let failures = Locked<[String]>([])
        DispatchQueue.concurrentPerform(iterations: width) { i in
            for _ in 0..<3 {
                do {
                    let scalars = try withoutGradients { try model(inputs[i]).scalars }
                    results.withLock { $0[i].append(scalars) }
                } catch {
                    failures.withLock { $0.append("thread \(i): \(error)") }
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let collected = results.withLock { $0 }
        for i in 0..<width {
            XCTAssertEqual(collected[i].count, 3)
            for scalars in collected[i] { assertBitIdentical(scalars, expected[i], "thread \(i)") }
        }
    }

    // MARK: - Training on separate instances

    /// Forward, backward and an SGD step on 8 separate copies of a module at once give the
    /// loss, every parameter gradient and the updated weights bit-identical to running the
    /// same 8 steps one after the other.
    func testRecordingOnSeparateInstancesMatchesSequential() throws {
        for kind in [CellKind.lstm, .gru, .rnnTanh] {
            let state = try trainedModel(kind: kind).stateDict()
            func copies() throws -> [SequenceClassifier] {
                try (0..<width).map { _ in
                    let m = try SequenceClassifier(kind: kind, seed: 99)
                    try m.loadStateDict(state)
                    return m
                }
            }
            var generator = SeededGenerator(seed: 5)
            let batches: [(input: Tensor, target: [Int])] = (0..<width).map { i in syntheticBatch(&generator, steps: 4 + i, batch: 1 + i % 4) }

            /// The loss, the gradients and the weights after one step of copy `i`.
            @Sendable func step(_ model: SequenceClassifier, _ i: Int) throws -> [[Float]] {
                let sgd = try SGD(model.parameters(), lr: 0.05, momentum: 0.5)
                let loss = try trainingStep(model, sgd, batches[i].input, batches[i].target)
                return [[loss]] + model.parameters().map { $0.grad!.scalars } + model.parameters().map(\.scalars)
            }

            let sequentialModels = try copies()
            let expected = try (0..<width).map { try step(sequentialModels[$0], $0) }

            let concurrentModels = try copies()
            let results = Locked<[[[Float]]]>(Array(repeating: [], count: width))
            let failures = Locked<[String]>([])
            DispatchQueue.concurrentPerform(iterations: width) { i in
                do {
                    let r = try step(concurrentModels[i], i)
                    results.withLock { $0[i] = r }
                } catch {
                    failures.withLock { $0.append("\(kind), thread \(i): \(error)") }
                }
            }
            XCTAssertEqual(failures.withLock { $0 }, [])
            let actual = results.withLock { $0 }
            for i in 0..<width {
                XCTAssertEqual(actual[i].count, expected[i].count, "\(kind), copy \(i)")
                for (k, values) in zip(actual[i], expected[i]).map({ $0 }).enumerated() {
                    assertBitIdentical(values.0, values.1, "\(kind), copy \(i), value set \(k)")
                }
            }
        }
    }

    // MARK: - Grad mode and anomaly mode are per task

    /// Two threads at the same time: while one is inside `withoutGradients`, the other
    /// records (its results have a `gradFn`), and vice versa the first records nothing.
    func testWithoutGradientsOnOneThreadDoesNotAffectAnother() {
        let x = Tensor(shape: [3], scalars: [1, 2, 3], requiresGrad: true)
        let insideNoGrad = DispatchSemaphore(value: 0)
        let otherRecorded = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let report = Locked<[String: String]>([:])

        let quiet = Thread {
            withoutGradients {
                insideNoGrad.signal()
                // Wait until the other thread has recorded while this one is in no-grad.
                let waited = otherRecorded.wait(timeout: .now() + 30)
                let y = x * 2
                report.withLock {
                    $0["quiet.waited"] = waited == .success ? "yes" : "timed out"
                    $0["quiet.enabled"] = "\(GradMode.isEnabled)"
                    $0["quiet.isLeaf"] = "\(y.isLeaf)"
                }
            }
            report.withLock { $0["quiet.enabledAfter"] = "\(GradMode.isEnabled)" }
            finished.signal()
        }
        let recording = Thread {
            let waited = insideNoGrad.wait(timeout: .now() + 30)
            let y = x * 2
            report.withLock {
                $0["recording.waited"] = waited == .success ? "yes" : "timed out"
                $0["recording.enabled"] = "\(GradMode.isEnabled)"
                $0["recording.gradFn"] = y.gradFnName ?? "none"
            }
            otherRecorded.signal()
            finished.signal()
        }
        quiet.start()
        recording.start()
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success)
        XCTAssertEqual(finished.wait(timeout: .now() + 60), .success)
        let r = report.withLock { $0 }
        XCTAssertEqual(r["quiet.waited"], "yes")
        XCTAssertEqual(r["recording.waited"], "yes")
        XCTAssertEqual(r["quiet.enabled"], "false")
        XCTAssertEqual(r["quiet.isLeaf"], "true")
        XCTAssertEqual(r["quiet.enabledAfter"], "true")
        XCTAssertEqual(r["recording.enabled"], "true")
        XCTAssertNotEqual(r["recording.gradFn"], "none")
        XCTAssertTrue(GradMode.isEnabled)
    }

    /// 8 interleaved tasks, half of them with recording off: each sees its own grad mode
    /// on every one of 50 operations, across suspension points.
    func testGradModeIsPerTask() async {
        let x = Tensor(shape: [2, 2], scalars: [1, 2, 3, 4], requiresGrad: true)
        let width = self.width
        let problems = await withTaskGroup(of: [String].self) { group in
            for i in 0..<width {
                let recordingOff = i % 2 == 0
                group.addTask {
                    func run() async -> [String] {
                        var problems: [String] = []
                        for k in 0..<50 {
                            let y = (x * x).tanh()
                            if GradMode.isEnabled == recordingOff {
                                problems.append("task \(i), op \(k): GradMode.isEnabled is \(GradMode.isEnabled)")
                            }
                            if y.isLeaf != recordingOff {
                                problems.append("task \(i), op \(k): recorded \(y.gradFnName ?? "nothing") with recording \(recordingOff ? "off" : "on")")
                            }
                            await Task.yield()
                        }
                        return problems
                    }
                    if recordingOff {
                        return await GradMode.$isEnabled.withValue(false) { await run() }
                    }
                    return await run()
                }
            }
            var all: [String] = []
            for await p in group { all += p }
            return all
        }
        XCTAssertEqual(problems, [])
        XCTAssertTrue(GradMode.isEnabled)
    }

    /// An anomaly found in one task is reported there only: 8 tasks run training steps at
    /// once under `AnomalyMode.detect`, one of them with a non-finite input; only that one
    /// throws, naming the operation.
    func testAnomalyModeIsPerTask() async throws {
        let state = try trainedModel().stateDict()
        let width = self.width
        let outcomes = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for i in 0..<width {
                group.addTask {
                    let model = try SequenceClassifier(kind: .lstm, seed: 99)
                    try model.loadStateDict(state)
                    var generator = SeededGenerator(seed: UInt64(10 + i))
                    let (x, y) = syntheticBatch(&generator)
                    if i == 3 { x.withUnsafeMutableBufferPointer { $0[7] = .nan } }
                    do {
                        try AnomalyMode.detect {
                            let loss = try crossEntropy(model(x), target: y)
                            loss.backward()
                        }
                        return (i, "clean")
                    } catch let anomaly as AnomalyMode.Anomaly {
                        return (i, "\(anomaly.phase) \(anomaly.operation)")
                    }
                }
            }
            var outcomes = [String](repeating: "", count: width)
            for try await (i, outcome) in group { outcomes[i] = outcome }
            return outcomes
        }
        for i in 0..<width where i != 3 { XCTAssertEqual(outcomes[i], "clean", "task \(i)") }
        XCTAssertTrue(outcomes[3].hasPrefix("forward "), outcomes[3])
        XCTAssertFalse(AnomalyMode.isEnabled)
    }

    /// Unstructured tasks started inside `AnomalyMode.detect` inherit its detection (task
    /// locals are copied into `Task {}`) and report into its one recorder from other
    /// threads at once: the recorder is locked, and the scope throws the anomaly.
    func testAnomalyRecorderSharedByUnstructuredTasks() {
        let x = Tensor(shape: [64], scalars: (0..<64).map { -Float($0) - 1 }, requiresGrad: true)
        let done = DispatchSemaphore(value: 0)
        XCTAssertThrowsError(try AnomalyMode.detect {
            for _ in 0..<width {
                Task {
                    for _ in 0..<20 { _ = x.log() }    // log of negatives: NaN
                    done.signal()
                }
            }
            for _ in 0..<width { XCTAssertEqual(done.wait(timeout: .now() + 60), .success) }
        }) { error in
            XCTAssertEqual((error as? AnomalyMode.Anomaly)?.operation, "LogBackward", "\(error)")
        }
    }

    /// The default random stream is shared and locked: 8 threads drawing 1,000 numbers each
    /// draw 8,000 distinct values of one stream (no draw is lost or repeated), and the stream
    /// ends where 8,000 sequential draws end.
    func testDefaultRandomStreamIsLockedAcrossThreads() {
        RandomState.manualSeed(1234)
        let draws = Locked<[UInt64]>([])
        DispatchQueue.concurrentPerform(iterations: width) { _ in
            var mine: [UInt64] = []
            for _ in 0..<1000 { mine.append(RandomState.withGenerator { $0.next() }) }
            draws.withLock { $0 += mine }
        }
        let concurrent = draws.withLock { $0 }
        let after = RandomState.withGenerator { $0.next() }

        RandomState.manualSeed(1234)
        var sequential: [UInt64] = []
        for _ in 0..<(1000 * width) { sequential.append(RandomState.withGenerator { $0.next() }) }
        XCTAssertEqual(Set(concurrent), Set(sequential))
        XCTAssertEqual(concurrent.count, sequential.count)
        XCTAssertEqual(after, RandomState.withGenerator { $0.next() })
    }
}
