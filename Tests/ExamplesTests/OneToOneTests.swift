import ExampleSupport
import OneToOneExample
import Recurrent
import XCTest

/// The one-to-one example: its data generator, its accuracy metric, its checks, and a short
/// training run.
final class OneToOneTests: XCTestCase {
    /// Without noise every point lies on its half circle: class 0 on x² + y² = 1 with y ≥ 0,
    /// class 1 on (x − 1)² + (y − 0.5)² = 1 with y ≤ 0.5; the classes split 4 / 3 for 7
    /// points, the ends of each arc are present, and the same seed gives the same rows.
    func testMoonsLieOnTheirArcs() throws {
        var generator = SeededGenerator(seed: 5)
        let data = try MoonsDataset.generate(count: 7, noise: 0, using: &generator)
        XCTAssertEqual(data.count, 7)
        XCTAssertEqual(data.labels.filter { $0 == 0 }.count, 4)
        var points: [(Float, Float, Int)] = []
        for i in 0..<7 {
            let (x, y) = (data.features[2 * i], data.features[2 * i + 1])
            points.append((x, y, data.labels[i]))
            if data.labels[i] == 0 {
                XCTAssertEqual(x * x + y * y, 1, accuracy: 1e-5)
                XCTAssertGreaterThanOrEqual(y, -1e-6)
            } else {
                XCTAssertEqual((x - 1) * (x - 1) + (y - 0.5) * (y - 0.5), 1, accuracy: 1e-5)
                XCTAssertLessThanOrEqual(y, 0.5 + 1e-6)
            }
        }
        // The arcs' end points: (1, 0) and (−1, 0) for class 0; (0, 0.5) and (2, 0.5) for class 1.
        for (x, y, label) in [(Float(1), Float(0), 0), (-1, 0, 0), (0, 0.5, 1), (2, 0.5, 1)] {
            XCTAssertTrue(points.contains { abs($0.0 - x) < 1e-5 && abs($0.1 - y) < 1e-5 && $0.2 == label }, "(\(x), \(y))")
        }
        var again = SeededGenerator(seed: 5)
        XCTAssertEqual(try MoonsDataset.generate(count: 7, noise: 0, using: &again).features, data.features)
    }

    /// The noise has the requested standard deviation: the distance of noisy points from
    /// their noise-free arc has the right spread.
    func testNoiseSpread() throws {
        var generator = SeededGenerator(seed: 1)
        let data = try MoonsDataset.generate(count: 4000, noise: 0.1, using: &generator)
        // Each coordinate's offset from the arc is N(0, 0.1²); the radial offset's variance is 0.01.
        var sum = 0.0, sumSquares = 0.0
        for i in 0..<data.count {
            let (x, y) = (Double(data.features[2 * i]), Double(data.features[2 * i + 1]))
            let r = data.labels[i] == 0 ? (x * x + y * y).squareRoot() : ((x - 1) * (x - 1) + (y - 0.5) * (y - 0.5)).squareRoot()
            sum += r - 1
            sumSquares += (r - 1) * (r - 1)
        }
        let mean = sum / Double(data.count)
        XCTAssertEqual(mean, 0.005, accuracy: 0.01)   // E[r] − 1 ≈ σ²/2 for small σ
        XCTAssertEqual((sumSquares / Double(data.count) - mean * mean).squareRoot(), 0.1, accuracy: 0.01)
    }

    /// Accuracy on hand-made logits, including a tie (which goes to the lower class).
    func testClassificationAccuracy() throws {
        let logits = Tensor(shape: [4, 2], scalars: [2, 1, 0, 3, 1, 1, -1, -2])
        XCTAssertEqual(try classificationAccuracy(logits: logits, labels: [0, 1, 0, 1]), 0.75)
        XCTAssertEqual(try classificationAccuracy(logits: logits, labels: [1, 0, 1, 0]), 0.25)
        XCTAssertThrowsError(try classificationAccuracy(logits: logits, labels: [0, 1])) { error in
            XCTAssertEqual(error as? OneToOneError, .invalidConfiguration("expected logits of shape [2, classes], got [4, 2]"))
        }
    }

    /// Bad settings and data are rejected with errors that name them.
    func testRejectsBadSettings() throws {
        var generator = SeededGenerator(seed: 0)
        XCTAssertThrowsError(try MoonsDataset.generate(count: 1, noise: 0, using: &generator))
        XCTAssertThrowsError(try MoonsDataset.generate(count: 10, noise: -1, using: &generator))
        XCTAssertThrowsError(try MoonsDataset(features: [0, 0, 1], labels: [0, 1]))
        XCTAssertThrowsError(try MoonsDataset(features: [0, 0], labels: [2])) { error in
            XCTAssertEqual(error as? OneToOneError, .invalidConfiguration("labels must be 0 or 1, got 2"))
        }
        var options = OneToOneOptions()
        options.batchSize = 0
        XCTAssertThrowsError(try trainOneToOne(options)) { error in
            XCTAssertEqual(error as? OneToOneError, .invalidConfiguration("the batch size must be ≥ 1, got 0"))
        }
    }

    /// A short run lowers the loss, and the network with an activation beats logistic
    /// regression on unseen points (a straight line cannot separate the moons).
    func testShortTrainingBeatsTheLinearBaseline() throws {
        var options = OneToOneOptions()
        options.epochs = 40
        options.trainCount = 200
        options.testCount = 400
        options.learningRate = 0.02
        let (network, result) = try trainOneToOne(options)
        XCTAssertLessThan(result.epochLosses.last!, 0.5 * result.epochLosses.first!)
        options.hidden = 0
        let (_, baseline) = try trainOneToOne(options)
        XCTAssertGreaterThan(result.testAccuracy, 0.93)
        XCTAssertLessThan(baseline.testAccuracy, 0.9)
        XCTAssertGreaterThan(result.testAccuracy, baseline.testAccuracy + 0.05)
        XCTAssertEqual(result.parameterCount, 2 * 16 + 16 + 16 * 16 + 16 + 16 * 2 + 2)
        let grid = try oneToOneProbabilityGrid(network, columns: 8, rows: 5)
        XCTAssertEqual(grid.values.count, 5)
        XCTAssertTrue(grid.values.allSatisfy { $0.count == 8 })
        XCTAssertTrue(grid.values.joined().allSatisfy { $0 >= 0 && $0 <= 1 })
        // The training points that the plot draws are the ones the network was trained on.
        let train = try oneToOneTrainingSet(options)
        XCTAssertEqual(train.count, 200)
        XCTAssertEqual(try oneToOneTrainingSet(options).features, train.features)
    }
}
