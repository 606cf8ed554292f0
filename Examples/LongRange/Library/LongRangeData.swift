import ExampleSupport
import Foundation
import Recurrent

/// Why a long-range experiment cannot run with the settings it was given (settings that come
/// from outside: the command line or a caller).
public enum LongRangeError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A setting is out of its range; the message names the setting, what was expected and
    /// what was given.
    case invalidSetting(String)

    /// The message.
    public var description: String {
        switch self {
        case let .invalidSetting(message): return message
        }
    }
}

/// The adding problem (Hochreiter & Schmidhuber 1997; Le, Jaitly & Hinton 2015): a sequence of
/// `length` steps with two channels — channel 0 a number drawn from U[0, 1), channel 1 a
/// marker that is 1 at exactly two steps and 0 elsewhere — whose target is the sum of the two
/// marked numbers.
///
/// The markers follow the usual convention: the first one is at a uniformly drawn step of the
/// first half, `0 ..< length / 2`, the second at a uniformly drawn step of the second half,
/// `length / 2 ..< length`. So at least one marked number lies `length / 2` or more steps
/// before the end, and the model must carry it that far.
///
/// The target, a sum of two independent U[0, 1) numbers, has mean 1 and variance
/// 1/12 + 1/12 = 1/6: a model that always predicts 1 has an expected MSE of
/// ``baselineMSE`` ≈ 0.167, and a model that learns nothing about the markers cannot do
/// better.
public struct AddingProblem: Sendable, Equatable {
    /// The number of steps of each sequence (at least 2).
    public let length: Int

    /// The expected MSE of always predicting the target's mean 1: its variance, 1/6.
    public static let baselineMSE = 1.0 / 6.0

    /// The number of input channels: the number and the marker.
    public static let inputSize = 2

    /// The adding problem over sequences of `length` steps.
    ///
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` when `length` is below 2 (two markers,
    ///   one per half, need two steps).
    public init(length: Int) throws {
        guard length >= 2 else {
            throw LongRangeError.invalidSetting("adding problem: expected a sequence length of at least 2, got \(length)")
        }
        self.length = length
    }

    /// The steps the first marker is drawn from: the first half, `0 ..< length / 2`.
    public var firstHalf: Range<Int> { 0 ..< length / 2 }
    /// The steps the second marker is drawn from: the second half, `length / 2 ..< length`.
    public var secondHalf: Range<Int> { length / 2 ..< length }

    /// A batch of `size` sequences drawn from `generator` (per sequence: the `length` numbers
    /// in order, then the first and the second marker's step).
    ///
    /// - Returns: inputs `(size, length, 2)` batch first, targets `(size, 1)`.
    /// - Throws: ``LongRangeError/invalidSetting(_:)`` when `size` is below 1.
    public func batch(size: Int, using generator: inout SeededGenerator) throws -> AddingBatch {
        guard size >= 1 else {
            throw LongRangeError.invalidSetting("adding problem: expected a batch size of at least 1, got \(size)")
        }
        // The inputs (and, in training, the activations over them) must fit in memory: a
        // length or a batch size from the command line can be anything.
        do {
            try MemoryLimit.check(floats: [[size, length, 2]], for: "an adding-problem batch of \(size) sequences of length \(length)")
        } catch {
            throw LongRangeError.invalidSetting("\(error)")
        }
        let T = length
        var inputs = [Float](repeating: 0, count: size * T * 2)
        var targets = [Float](repeating: 0, count: size)
        var markers: [[Int]] = []
        markers.reserveCapacity(size)
        for b in 0 ..< size {
            for t in 0 ..< T { inputs[(b * T + t) * 2] = generator.uniform(Float(0), Float(1)) }
            let first = firstHalf.lowerBound + Int(generator.next() % UInt64(firstHalf.count))
            let second = secondHalf.lowerBound + Int(generator.next() % UInt64(secondHalf.count))
            inputs[(b * T + first) * 2 + 1] = 1
            inputs[(b * T + second) * 2 + 1] = 1
            targets[b] = inputs[(b * T + first) * 2] + inputs[(b * T + second) * 2]
            markers.append([first, second])
        }
        return AddingBatch(length: T, inputs: Tensor(shape: [size, T, 2], scalars: inputs),
                           targets: Tensor(shape: [size, 1], scalars: targets), markers: markers)
    }
}

/// A batch of adding-problem sequences (``AddingProblem/batch(size:using:)``).
public struct AddingBatch: @unchecked Sendable {
    /// The number of steps of each sequence.
    public let length: Int
    /// The sequences, `(N, length, 2)` batch first: channel 0 the numbers, channel 1 the markers.
    public let inputs: Tensor
    /// The sums of the two marked numbers, `(N, 1)`.
    public let targets: Tensor
    /// The two marked steps of each sequence, `[first, second]`, first-half step first.
    public let markers: [[Int]]

    /// The number of sequences `N`.
    public var count: Int { targets.shape[0] }

    /// The MSE of predicting `prediction` for every sequence of the batch (1, the target's
    /// mean, gives the baseline ≈ 1/6).
    public func constantPredictionMSE(_ prediction: Double = 1) -> Double {
        let y = targets.scalars
        return y.reduce(0) { $0 + (Double($1) - prediction) * (Double($1) - prediction) } / Double(max(y.count, 1))
    }
}
