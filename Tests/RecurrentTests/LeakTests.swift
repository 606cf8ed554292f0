import Foundation
import XCTest
@testable import Recurrent

/// No leaks: the autograd graph of a training step is freed by `backward` and when its
/// tensors go out of scope; models, optimizers and their parameters hold no reference
/// cycles; and many training steps leave the number of live tensor buffers where one step
/// leaves them.
///
/// Live buffers are counted by `TensorBuffer.liveCount`, which exists in debug builds only
/// (the tests' build). The memory that is not a tensor buffer (nodes, closures, scratch) is
/// covered by the weak references here, by `valgrind --leak-check=full` on an example and
/// by the long names run under `/usr/bin/time -v` (RELIABILITY.md).
final class LeakTests: XCTestCase {
    private func model(_ kind: CellKind = .lstm) throws -> SequenceClassifier {
        try SequenceClassifier(kind: kind, hiddenSize: 16, numLayers: 2, seed: 3)
    }

    /// The live buffer count; the tests that need it are skipped in release builds of the
    /// tests, which have no counter.
    private func liveBuffers() throws -> Int {
        #if DEBUG
        return TensorBuffer.liveCount.load(ordering: .relaxed)
        #else
        throw XCTSkip("TensorBuffer.liveCount exists in debug builds only")
        #endif
    }

    // MARK: - The graph of a training step

    /// The intermediate tensors of a training step (the recurrent output and final state,
    /// the selected last-layer state, the logits) and their nodes are held by the graph
    /// until `backward`, freed by it while the loss is still alive, and the loss's own node
    /// goes with the loss.
    func testTrainingStepGraphIsFreedByBackward() throws {
        for kind in [CellKind.lstm, .gru, .rnnTanh] {
            let m = try model(kind)
            var generator = SeededGenerator(seed: 1)
            let (x, y) = syntheticBatch(&generator)
            weak var output: Tensor?, hN: Tensor?, last: Tensor?, logits: Tensor?
            weak var recurrentNode: Node?, selectNode: Node?, linearNode: Node?, lossNode: Node?
            var loss: Tensor? = try {
                let (o, h, _) = try m.rnn.forwardLayers(x, h0: nil, c0: nil, lengths: nil)
                let l = try m.rnn.finalState(h)
                let z = try m.head(l)
                output = o; hN = h; last = l; logits = z
                recurrentNode = o.gradFn; selectNode = l.gradFn; linearNode = z.gradFn
                let loss = try crossEntropy(z, target: y)
                lossNode = loss.gradFn
                return loss
            }()
            XCTAssertNotNil(hN, "\(kind): the graph holds the final state before backward")
            XCTAssertNotNil(last)
            XCTAssertNotNil(logits)
            XCTAssertNotNil(recurrentNode)
            XCTAssertNotNil(selectNode)
            XCTAssertNotNil(linearNode)
            // The output sequence is not on the loss's path (only hN is): nothing holds it.
            XCTAssertNil(output, "\(kind): an unused output is freed at once")

            loss!.backward()
            XCTAssertNil(hN, "\(kind): backward frees the intermediate tensors")
            XCTAssertNil(last)
            XCTAssertNil(logits)
            XCTAssertNil(recurrentNode, "\(kind): backward frees the nodes")
            XCTAssertNil(selectNode)
            XCTAssertNil(linearNode)
            XCTAssertNotNil(lossNode, "the loss keeps its (emptied) node while it lives")
            XCTAssertTrue(m.parameters().allSatisfy { $0.grad != nil }, "\(kind): every parameter got a gradient")

            loss = nil
            XCTAssertNil(lossNode, "\(kind): the loss's node goes with the loss")
        }
    }

    /// Without backward (an evaluation forward with recording left on, or a step abandoned
    /// because the loss threw), the graph is freed when its tensors go out of scope.
    func testGraphIsFreedWhenTensorsGoOutOfScope() throws {
        let m = try model()
        var generator = SeededGenerator(seed: 2)
        let (x, y) = syntheticBatch(&generator)
        weak var logits: Tensor?, node: Node?
        try {
            let z = try m(x)
            logits = z; node = z.gradFn
            XCTAssertNotNil(node)
        }()
        XCTAssertNil(logits)
        XCTAssertNil(node)

        // The loss throws (a class index out of range) after the forward recorded its graph:
        // the partial graph is freed, no gradient appears.
        let baseline = try liveBuffers()
        XCTAssertThrowsError(try {
            let z = try m(x)
            logits = z; node = z.gradFn
            _ = try crossEntropy(z, target: y.map { $0 + 100 })
        }())
        XCTAssertNil(logits)
        XCTAssertNil(node)
        XCTAssertEqual(try liveBuffers(), baseline, "a thrown loss leaves no buffer behind")
        XCTAssertTrue(m.parameters().allSatisfy { $0.grad == nil })
    }

    /// The nodes made of several layers' or directions' parts (``WavefrontNode``,
    /// ``BidirectionalNode``) hold no reference to their own outputs: a recorded forward
    /// whose tensors go out of scope frees its node and every buffer (the wavefront's once
    /// kept its layers' output tensors in its backward, a cycle through their `gradFn`).
    func testMergedNodesAreFreedWithTheirTensors() throws {
        let savedThreads = ComputeThreads.count, savedWavefront = WavefrontRecurrence.override
        defer { ComputeThreads.set(savedThreads); WavefrontRecurrence.override = savedWavefront }
        ComputeThreads.set(2)
        WavefrontRecurrence.override = true
        let stack = try LSTM(inputSize: 8, hiddenSize: 32, numLayers: 2, batchFirst: true, seed: 1)
        let bidirectional = try GRU(inputSize: 8, hiddenSize: 32, numLayers: 1, batchFirst: true, bidirectional: true, seed: 1)
        var generator = SeededGenerator(seed: 4)
        let x = Tensor(uniform: [3, 12, 8], low: -1, high: 1, using: &generator)
        x.requiresGrad = true
        // The merged node: the stack's output's own; the bidirectional output's input (its
        // directions are concatenated).
        let runs: [(() throws -> Tensor, String, (Tensor) -> Node?)] = [
            // (Without the packed kernels, at the portable level, no wavefront: the top layer's node.)
            ({ try stack(x).output }, PackedGEMM.isAvailable ? "lstmWavefrontBackward" : "lstmBackward", { $0.gradFn }),
            ({ try bidirectional(x).output }, "gruBidirectionalBackward", { $0.gradFn?.inputs.first?.gradFn }),
        ]
        for (run, name, merged) in runs {
            let baseline = try liveBuffers()
            weak var output: Tensor?, node: Node?
            try {
                let y = try run()
                output = y; node = merged(y)
                XCTAssertEqual(node?.name, name)
            }()
            XCTAssertNil(output, name)
            XCTAssertNil(node, name)
            XCTAssertEqual(try liveBuffers(), baseline, "\(name): every buffer freed")
        }
    }

    /// A model, its optimizer and its parameters form no reference cycle: all are freed with
    /// the last outside reference, even after training steps (gradients, optimizer slots).
    func testModelAndOptimizerAreFreed() throws {
        weak var weakModel: SequenceClassifier?, weakRNN: Module?, weakParameter: Parameter?
        weak var weakGrad: Tensor?, weakOptimizer: Adam?
        let baseline = try liveBuffers()
        try {
            let m = try model()
            let adam = try Adam(m.parameters(), lr: 0.01)
            var generator = SeededGenerator(seed: 3)
            for _ in 0..<3 {
                let (x, y) = syntheticBatch(&generator)
                try trainingStep(m, adam, x, y)
            }
            weakModel = m; weakRNN = m.rnn; weakParameter = m.parameters().first
            weakGrad = m.parameters().first?.grad; weakOptimizer = adam
            XCTAssertNotNil(weakGrad)
        }()
        XCTAssertNil(weakModel)
        XCTAssertNil(weakRNN)
        XCTAssertNil(weakParameter)
        XCTAssertNil(weakGrad)
        XCTAssertNil(weakOptimizer)
        XCTAssertEqual(try liveBuffers(), baseline, "every buffer of the model, its gradients and Adam's slots is freed")
    }

    // MARK: - Many steps

    /// After a warm-up (gradients and Adam's slots exist), 200 more training steps of each
    /// kind leave exactly as many live tensor buffers.
    func testMemoryIsFlatOverManyTrainingSteps() throws {
        for kind in [CellKind.lstm, .gru, .rnnTanh] {
            let m = try model(kind)
            let adam = try Adam(m.parameters(), lr: 0.01)
            var generator = SeededGenerator(seed: 4)
            let batches = (0..<4).map { _ in syntheticBatch(&generator) }
            for i in 0..<5 { try trainingStep(m, adam, batches[i % 4].input, batches[i % 4].target) }

            let buffersBefore = try liveBuffers()
            for i in 0..<200 { try trainingStep(m, adam, batches[i % 4].input, batches[i % 4].target) }
            XCTAssertEqual(try liveBuffers(), buffersBefore, "\(kind): live tensor buffers grew over 200 steps")
        }
    }

    /// Inference under `withoutGradients` and evaluation with recording on both leave no
    /// buffer behind once their results are dropped.
    func testInferenceLeavesNothingBehind() throws {
        let m = try model().eval()
        var generator = SeededGenerator(seed: 5)
        let (x, _) = syntheticBatch(&generator)
        let baseline = try liveBuffers()
        for _ in 0..<50 { _ = try withoutGradients { try m(x) } }
        XCTAssertEqual(try liveBuffers(), baseline, "withoutGradients")
        for _ in 0..<50 { _ = try m(x) }
        XCTAssertEqual(try liveBuffers(), baseline, "recording, without backward")
    }

    /// `retainGraph: true` keeps the graph for a second backward; the graph is freed with
    /// the loss afterwards.
    func testRetainedGraphIsFreedWithTheLoss() throws {
        let m = try model()
        var generator = SeededGenerator(seed: 6)
        let (x, y) = syntheticBatch(&generator)
        weak var logitsNode: Node?
        var loss: Tensor? = try {
            let z = try m(x)
            logitsNode = z.gradFn
            return try crossEntropy(z, target: y)
        }()
        loss!.backward(retainGraph: true)
        XCTAssertNotNil(logitsNode, "retainGraph keeps the graph")
        let once = m.parameters().map { $0.grad!.scalars }
        loss!.backward()
        XCTAssertNil(logitsNode, "the second backward (without retainGraph) frees it")
        for (p, g) in zip(m.parameters(), once) { assertClose(p.grad!.scalars, g.map { 2 * $0 }, rtol: 1e-5, atol: 1e-6) }
        loss = nil
        XCTAssertNil(logitsNode)
    }
}
