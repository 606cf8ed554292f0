import Foundation
import XCTest
@testable import Recurrent

// Shared by ConcurrencyTests, DeterminismTests and LeakTests: a small sequence classifier
// (a stacked RNN, LSTM or GRU, then a Linear head on the last layer's final state), seeded
// batches, one training step, and a bit-exact comparison.

/// A recurrent layer stack and a linear head on its last layer's final hidden state.
final class SequenceClassifier: Module, @unchecked Sendable {
    let rnn: RecurrentBase
    let head: Linear

    /// A classifier drawing its initial weights from `seed`, or from the default random
    /// stream (``RandomState``) when `seed` is `nil`.
    init(kind: CellKind, inputSize: Int = 5, hiddenSize: Int = 12, numLayers: Int = 2,
         dropout: Float = 0, classes: Int = 3, seed: UInt64? = nil) throws {
        switch kind {
        case .rnnTanh, .rnnReLU:
            rnn = try RNN(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers,
                          nonlinearity: kind == .rnnTanh ? .tanh : .relu, dropout: dropout, seed: seed)
        case .lstm:
            rnn = try LSTM(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout, seed: seed)
        case .gru:
            rnn = try GRU(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, dropout: dropout, seed: seed)
        }
        if let seed {
            var generator = SeededGenerator(seed: seed &+ 1)
            head = try Linear(inFeatures: hiddenSize, outFeatures: classes, using: &generator)
        } else {
            head = try Linear(inFeatures: hiddenSize, outFeatures: classes)
        }
        super.init()
    }

    /// The logits `(B, classes)` of a `(T, B, inputSize)` batch.
    func callAsFunction(_ input: Tensor) throws -> Tensor {
        let (_, hN, _) = try rnn.forwardLayers(input, h0: nil, c0: nil, lengths: nil)
        return try head(rnn.finalState(hN))
    }
}

/// A seeded batch: inputs `(steps, batch, features)` from N(0, 1) and class targets.
func syntheticBatch(_ generator: inout SeededGenerator, steps: Int = 6, batch: Int = 4, features: Int = 5,
                    classes: Int = 3) -> (input: Tensor, target: [Int]) {
    let input = Tensor(normal: [steps, batch, features], using: &generator)
    let target = (0..<batch).map { _ in Int(generator.next() % UInt64(classes)) }
    return (input, target)
}

/// One training step (zero the gradients, forward, cross-entropy, backward, update); returns the loss.
@discardableResult
func trainingStep(_ model: SequenceClassifier, _ optimizer: any Optimizer, _ input: Tensor, _ target: [Int]) throws -> Float {
    optimizer.zeroGrad()
    let loss = try crossEntropy(model(input), target: target)
    loss.backward()
    optimizer.step()
    return loss.item
}

/// The bit patterns of `values`, for comparisons that must be exact (and treat NaNs alike).
func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

/// Fails unless `actual` and `expected` are identical bit for bit, naming the first difference.
func assertBitIdentical(_ actual: [Float], _ expected: [Float], _ message: @autoclosure () -> String = "",
                        file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        return XCTFail("\(message()): \(actual.count) values, expected \(expected.count)", file: file, line: line)
    }
    if let i = actual.indices.first(where: { actual[$0].bitPattern != expected[$0].bitPattern }) {
        XCTFail("\(message()): element \(i) is \(actual[i]) (0x\(String(actual[i].bitPattern, radix: 16))), expected \(expected[i]) (0x\(String(expected[i].bitPattern, radix: 16)))",
                file: file, line: line)
    }
}

/// A value behind an `NSLock`, for collecting results from worker threads in tests.
///
/// Not `Synchronization.Mutex`: its contended path is invisible to ThreadSanitizer (see
/// Scripts/tsan-suppressions.txt), which would report the collected values as racing.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let lock = NSLock()

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
