import ExampleSupport
import Foundation
import Recurrent

// One-to-one: one input row, one output, no recurrence. The same modules, losses and
// optimizers as the recurrent examples (Linear, an activation, Sequential, crossEntropy,
// Adam) on a small tabular task: the two interleaved half-moons.

/// A two-class tabular data set: `features` is `[count, 2]` (one row per point) and
/// `labels` holds each row's class, 0 or 1.
public struct MoonsDataset: Sendable {
    /// The points, row-major `[count, 2]`.
    public let features: [Float]
    /// The class of each point, 0 (upper moon) or 1 (lower moon).
    public let labels: [Int]

    /// The number of points.
    public var count: Int { labels.count }

    /// `count` points of the two half-moons (as scikit-learn's `make_moons`): class 0 on
    /// the upper half circle of radius 1 around (0, 0), class 1 on the lower half circle
    /// around (1, 0.5), half of each (class 0 gets the extra point of an odd count), each
    /// coordinate moved by Gaussian noise of standard deviation `noise`, drawn from
    /// `generator`.
    ///
    /// - Throws: ``OneToOneError/invalidConfiguration(_:)`` when `count` is below 2 or
    ///   `noise` is negative or not finite.
    public static func generate(count: Int, noise: Float, using generator: inout SeededGenerator) throws -> MoonsDataset {
        guard count >= 2 else { throw OneToOneError.invalidConfiguration("a data set needs at least 2 points, got \(count)") }
        guard noise >= 0, noise.isFinite else {
            throw OneToOneError.invalidConfiguration("the noise must be a finite number ≥ 0, got \(noise)")
        }
        var features: [Float] = []
        var labels: [Int] = []
        features.reserveCapacity(2 * count)
        let upper = (count + 1) / 2
        for i in 0..<count {
            let label = i < upper ? 0 : 1
            let k = label == 0 ? i : i - upper
            let n = label == 0 ? upper : count - upper
            let angle = Float.pi * Float(k) / Float(max(n - 1, 1))
            let x = label == 0 ? cos(angle) : 1 - cos(angle)
            let y = label == 0 ? sin(angle) : 0.5 - sin(angle)
            features.append(x + noise * generator.normal())
            features.append(y + noise * generator.normal())
            labels.append(label)
        }
        // Shuffle the rows so that mini-batches mix the classes.
        var order = Array(0..<count)
        for i in stride(from: count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        return try MoonsDataset(features: order.flatMap { [features[2 * $0], features[2 * $0 + 1]] },
                            labels: order.map { labels[$0] })
    }

    /// A data set of the given rows.
    ///
    /// - Throws: ``OneToOneError/invalidConfiguration(_:)`` when `features` does not hold two
    ///   values per label or a label is not 0 or 1.
    public init(features: [Float], labels: [Int]) throws {
        guard features.count == 2 * labels.count else {
            throw OneToOneError.invalidConfiguration("expected \(2 * labels.count) feature values (2 per label), got \(features.count)")
        }
        if let bad = labels.first(where: { $0 != 0 && $0 != 1 }) {
            throw OneToOneError.invalidConfiguration("labels must be 0 or 1, got \(bad)")
        }
        self.features = features
        self.labels = labels
    }

    /// The features as a `[count, 2]` tensor.
    public var tensor: Tensor { Tensor(shape: [count, 2], scalars: features) }
}

/// The errors of the one-to-one example's configuration and data.
public enum OneToOneError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A setting or a data set is out of range; the message names what was expected and
    /// what came.
    case invalidConfiguration(String)

    /// A sentence naming the problem.
    public var description: String {
        switch self {
        case .invalidConfiguration(let message): "one-to-one: \(message)"
        }
    }
}

/// The activation between the hidden layers of the one-to-one network.
public enum OneToOneActivation: String, CaseIterable, Sendable {
    /// `tanh`.
    case tanh
    /// `max(0, x)`.
    case relu
    /// `1 / (1 + e^-x)`.
    case sigmoid

    /// The activation as a module.
    public func module() -> any UnaryModule {
        switch self {
        case .tanh: Tanh()
        case .relu: ReLU()
        case .sigmoid: Sigmoid()
        }
    }
}

/// The settings of a one-to-one training run.
public struct OneToOneOptions: Sendable {
    /// The hidden width of each of the two hidden layers; 0 makes the network a single
    /// `Linear(2 → 2)` (logistic regression).
    public var hidden = 16
    /// The activation after each hidden layer.
    public var activation = OneToOneActivation.tanh
    /// The number of passes over the training rows.
    public var epochs = 200
    /// Adam's learning rate.
    public var learningRate: Float = 0.01
    /// The mini-batch size.
    public var batchSize = 32
    /// The seed of the data, the initialisation and the shuffles.
    public var seed: UInt64 = 0
    /// The number of training and test rows.
    public var trainCount = 400, testCount = 1000
    /// The standard deviation of the noise added to each coordinate.
    public var noise: Float = 0.2

    /// The defaults: two hidden layers of 16 with tanh, 200 epochs of Adam (lr 0.01) on
    /// 400 rows in batches of 32, tested on 1000 fresh rows, noise 0.2, seed 0.
    public init() {}

    /// Checks every setting.
    ///
    /// - Throws: ``OneToOneError/invalidConfiguration(_:)`` naming the first bad setting.
    public func validate() throws {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws {
            if !ok { throw OneToOneError.invalidConfiguration(message()) }
        }
        try check(hidden >= 0, "the hidden width must be ≥ 0, got \(hidden)")
        try check(epochs >= 1, "epochs must be ≥ 1, got \(epochs)")
        try check(learningRate > 0 && learningRate.isFinite, "the learning rate must be positive, got \(learningRate)")
        try check(batchSize >= 1, "the batch size must be ≥ 1, got \(batchSize)")
        try check(trainCount >= 2 && testCount >= 2, "the train and test sets need ≥ 2 rows, got \(trainCount) and \(testCount)")
        try check(noise >= 0 && noise.isFinite, "the noise must be a finite number ≥ 0, got \(noise)")
        // The network's weights (2 → H → H → 2), their gradients and Adam's two buffers,
        // bounded before the first layer is allocated.
        do {
            try MemoryLimit.check(floats: [[4, hidden, hidden], [4, 6, hidden]], for: "a one-to-one network of width \(hidden), trained with Adam")
        } catch {
            throw OneToOneError.invalidConfiguration("\(error)")
        }
    }
}

/// The outcome of a one-to-one run.
public struct OneToOneResult: Sendable, Encodable {
    /// The network, e.g. `Linear(2→16) Tanh Linear(16→16) Tanh Linear(16→2)`.
    public var architecture: String
    /// The number of trainable parameters.
    public var parameterCount: Int
    /// The mean training loss (cross-entropy) of each epoch.
    public var epochLosses: [Double]
    /// The fraction of training and of test rows classified correctly after training.
    public var trainAccuracy: Double, testAccuracy: Double
    /// The wall time of the training loop, in seconds.
    public var trainSeconds: Double

    /// The mean training loss of the last epoch.
    public var finalLoss: Double { epochLosses.last ?? .nan }

    private enum CodingKeys: String, CodingKey {
        case architecture, parameterCount, finalLoss, trainAccuracy, testAccuracy, trainSeconds
    }

    /// Encodes the summary (the per-epoch losses are left out of the one-line report).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(architecture, forKey: .architecture)
        try container.encode(parameterCount, forKey: .parameterCount)
        try container.encode(finalLoss, forKey: .finalLoss)
        try container.encode(trainAccuracy, forKey: .trainAccuracy)
        try container.encode(testAccuracy, forKey: .testAccuracy)
        try container.encode(trainSeconds, forKey: .trainSeconds)
    }
}

/// The one-to-one network: `Linear(2 → h)`, activation, `Linear(h → h)`, activation,
/// `Linear(h → 2)` giving the two class logits; with `hidden == 0`, one `Linear(2 → 2)`.
///
/// - Throws: ``OneToOneError/invalidConfiguration(_:)`` when `hidden` is negative.
public func makeOneToOneNetwork(hidden: Int, activation: OneToOneActivation,
                                using generator: inout SeededGenerator) throws -> Sequential {
    guard hidden >= 0 else { throw OneToOneError.invalidConfiguration("the hidden width must be ≥ 0, got \(hidden)") }
    if hidden == 0 { return try Sequential(Linear(inFeatures: 2, outFeatures: 2, using: &generator)) }
    return try Sequential(Linear(inFeatures: 2, outFeatures: hidden, using: &generator), activation.module(),
                          Linear(inFeatures: hidden, outFeatures: hidden, using: &generator), activation.module(),
                          Linear(inFeatures: hidden, outFeatures: 2, using: &generator))
}

/// The fraction of rows of `logits` (`[n, classes]`) whose largest logit is at the row's
/// label (ties go to the lower class).
///
/// - Throws: ``OneToOneError/invalidConfiguration(_:)`` when `logits` is not `[labels.count, c]`
///   with `c ≥ 1`.
public func classificationAccuracy(logits: Tensor, labels: [Int]) throws -> Double {
    guard logits.shape.count == 2, logits.shape[0] == labels.count, logits.shape[1] >= 1, !labels.isEmpty else {
        throw OneToOneError.invalidConfiguration("expected logits of shape [\(labels.count), classes], got \(logits.shape)")
    }
    let classes = logits.shape[1]
    let values = logits.scalars
    var correct = 0
    for (row, label) in labels.enumerated() {
        let slice = values[(row * classes)..<((row + 1) * classes)]
        let best = slice.indices.max { slice[$0] < slice[$1] || (slice[$0] == slice[$1] && $0 > $1) }! - row * classes
        if best == label { correct += 1 }
    }
    return Double(correct) / Double(labels.count)
}

/// The training points that ``trainOneToOne(_:onEpoch:)`` draws for `options` (the first
/// draw from a generator seeded with `options.seed`), for plotting them.
///
/// - Throws: ``OneToOneError/invalidConfiguration(_:)`` for a bad setting.
public func oneToOneTrainingSet(_ options: OneToOneOptions) throws -> MoonsDataset {
    var generator = SeededGenerator(seed: options.seed)
    return try oneToOneTrainingSet(options, using: &generator)
}

/// The training set of `options` drawn from `generator`.
func oneToOneTrainingSet(_ options: OneToOneOptions, using generator: inout SeededGenerator) throws -> MoonsDataset {
    try MoonsDataset.generate(count: options.trainCount, noise: options.noise, using: &generator)
}

/// Trains the one-to-one network of `options` on fresh two-moons data and tests it on
/// another fresh draw; returns the network and the result. `onEpoch` is called after each
/// epoch with its number (from 1) and mean loss.
///
/// - Throws: ``OneToOneError/invalidConfiguration(_:)`` for a bad setting; the library's
///   errors otherwise (none are expected with valid settings).
public func trainOneToOne(_ options: OneToOneOptions,
                          onEpoch: (Int, Double) -> Void = { _, _ in }) throws -> (network: Sequential, result: OneToOneResult) {
    try options.validate()
    var generator = SeededGenerator(seed: options.seed)
    let train = try oneToOneTrainingSet(options, using: &generator)
    let test = try MoonsDataset.generate(count: options.testCount, noise: options.noise, using: &generator)
    let network = try makeOneToOneNetwork(hidden: options.hidden, activation: options.activation, using: &generator)
    try TrainingMemory.check(network, optimizerBuffers: 2, activations: [[options.batchSize, 4, options.hidden]],
                             what: "a one-to-one network of width \(options.hidden) on batches of \(options.batchSize)")
    let optimizer = try Adam(network.parameters(), lr: options.learningRate)

    var losses: [Double] = []
    let start = Date()
    var order = Array(0..<train.count)
    for epoch in 1...options.epochs {
        for i in stride(from: order.count - 1, to: 0, by: -1) {
            order.swapAt(i, Int(generator.next() % UInt64(i + 1)))
        }
        var total = 0.0
        for begin in stride(from: 0, to: order.count, by: options.batchSize) {
            let rows = order[begin..<min(begin + options.batchSize, order.count)]
            let x = Tensor(shape: [rows.count, 2], scalars: rows.flatMap { [train.features[2 * $0], train.features[2 * $0 + 1]] })
            let loss = try crossEntropy(try network(x), target: rows.map { train.labels[$0] })
            optimizer.zeroGrad()
            loss.backward()
            optimizer.step()
            total += Double(loss.item) * Double(rows.count)
        }
        losses.append(total / Double(train.count))
        onEpoch(epoch, losses[losses.count - 1])
    }
    let seconds = Date().timeIntervalSince(start)
    let (trainAccuracy, testAccuracy) = try withoutGradients {
        (try classificationAccuracy(logits: try network(train.tensor), labels: train.labels),
         try classificationAccuracy(logits: try network(test.tensor), labels: test.labels))
    }
    let architecture = options.hidden == 0
        ? "Linear(2→2)"
        : "Linear(2→\(options.hidden)) \(options.activation.rawValue) Linear(\(options.hidden)→\(options.hidden)) "
            + "\(options.activation.rawValue) Linear(\(options.hidden)→2)"
    let result = OneToOneResult(architecture: architecture,
                                parameterCount: network.parameters().reduce(0) { $0 + $1.shape.reduce(1, *) },
                                epochLosses: losses, trainAccuracy: trainAccuracy, testAccuracy: testAccuracy,
                                trainSeconds: seconds)
    return (network, result)
}

/// The probability of class 1 that `network` gives at the centres of a `columns × rows`
/// grid of cells covering x in −1.5…2.5 and y in −1…1.5, top row first (largest y), for a
/// decision-boundary map; and the two ranges.
///
/// - Throws: ``OneToOneError/invalidConfiguration(_:)`` when `columns` or `rows` is below 2
///   or above 2,000; the network's errors.
public func oneToOneProbabilityGrid(_ network: Sequential, columns: Int, rows: Int) throws
    -> (values: [[Double]], xRange: ClosedRange<Double>, yRange: ClosedRange<Double>) {
    guard (2...2000).contains(columns), (2...2000).contains(rows) else {
        throw OneToOneError.invalidConfiguration("the grid needs 2…2000 cells a side, got \(columns) × \(rows)")
    }
    let xRange = -1.5...2.5, yRange = -1.0...1.5
    let xs = (0..<columns).map { xRange.lowerBound + (xRange.upperBound - xRange.lowerBound) * (Double($0) + 0.5) / Double(columns) }
    let ys = (0..<rows).map { yRange.upperBound - (yRange.upperBound - yRange.lowerBound) * (Double($0) + 0.5) / Double(rows) }
    var points: [Float] = []
    points.reserveCapacity(2 * rows * columns)
    for y in ys { for x in xs { points += [Float(x), Float(y)] } }
    let probabilities = try withoutGradients {
        try network(Tensor(shape: [rows * columns, 2], scalars: points)).softmax(dim: 1).scalars
    }
    let values = (0..<rows).map { row in
        (0..<columns).map { column in Double(probabilities[2 * (row * columns + column) + 1]) }
    }
    return (values, xRange, yRange)
}
