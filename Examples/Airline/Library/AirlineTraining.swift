import ExampleSupport
import Foundation
import Recurrent

/// The airline model: a recurrent layer over the window and a `Linear(hidden, 1)` on the
/// output of the last step — PyTorch's
///
/// ```python
/// out, _ = self.rnn(x)            # nn.RNN(1, 32, batch_first=True)
/// return self.fc(out[:, -1, :])   # nn.Linear(32, 1)
/// ```
public final class AirlineModel: Module, @unchecked Sendable {
    /// The recurrent layer (`rnn.weight_ih_l0`, …).
    public let rnn: RecurrentBase
    /// The head on the last step (`fc.weight`, `fc.bias`).
    public let fc: Linear

    /// A model with a layer of `kind` and `hiddenSize` features; the layer draws from
    /// `seed`, the head from the default random stream.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a hidden size below 1.
    public init(kind: CellKindOption, hiddenSize: Int, seed: UInt64) throws {
        rnn = try kind.makeLayer(inputSize: 1, hiddenSize: hiddenSize, seed: seed)
        fc = try Linear(inFeatures: hiddenSize, outFeatures: 1)
        super.init()
    }

    /// The standardised prediction `(N, 1)` for windows `(N, L, 1)`.
    ///
    /// - Throws: ``TensorError`` when `input` is not `(N, L, 1)`.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        let (output, _) = try runRecurrent(rnn, input)
        return try fc(output.select(dim: 1, index: -1))
    }
}

/// The options of an airline run (the `airline` command's flags).
public struct AirlineOptions: Sendable {
    /// The recurrent layer.
    public var model: CellKindOption = .rnn
    /// The seed of the default random stream and of the layer's initialisation.
    public var seed: UInt64 = 0
    /// The number of full-batch epochs.
    public var epochs: Int = 200
    /// The hidden size.
    public var hidden: Int = 32
    /// Adam's learning rate.
    public var learningRate: Float = 0.01
    /// How training progress is shown.
    public var progress: ProgressLine.Style = .silent
    /// A safetensors state dict to start from instead of the seeded initialisation — for
    /// example the initial weights of a PyTorch run (`Scripts/airline_torch.py
    /// --save-init`), to compare the two trainings step by step.
    public var initialWeights: URL?

    /// The protocol's defaults: RNN, seed 0, 200 epochs, hidden 32, lr 0.01, no progress.
    public init() {}
}

/// The metrics of an airline run, as printed by `--json`.
public struct AirlineMetrics: Codable, Sendable, Equatable {
    /// `"rnn"`, `"lstm"` or `"gru"`.
    public var model: String
    /// The seed.
    public var seed: UInt64
    /// The number of epochs trained.
    public var epochs: Int
    /// The hidden size.
    public var hidden: Int
    /// The learning rate.
    public var learningRate: Float
    /// The training loss (standardised MSE) after the last epoch.
    public var finalTrainLoss: Double
    /// The model's test RMSE in passengers (thousands).
    public var rmse: Double
    /// The seasonal-naive forecast's test RMSE.
    public var seasonalNaiveRMSE: Double
    /// The last-value forecast's test RMSE.
    public var lastValueRMSE: Double
    /// The training time in seconds (the epochs only).
    public var trainSeconds: Double
}

/// Everything an airline run produces: the metrics, the loss of every epoch, and the
/// forecasts for the plots.
public struct AirlineResult: Sendable {
    /// The final metrics.
    public var metrics: AirlineMetrics
    /// The training loss after each epoch.
    public var losses: [Double]
    /// The month index of each test forecast.
    public var testTargets: [Int]
    /// The model's one-step-ahead forecast of each test month, in passengers.
    public var testForecast: [Double]
    /// The month index of each training forecast.
    public var trainTargets: [Int]
    /// The model's one-step-ahead forecast of each training month (in-sample fit).
    public var trainForecast: [Double]
}

/// Trains the airline model under ``AirlineProtocol``: Adam, full batch, MSE loss on the
/// standardised differences; then forecasts the test months and measures the RMSE.
///
/// - Parameters:
///   - series: the data; the bundled series when `nil`.
/// - Returns: the trained model and the result.
/// - Throws: ``ExampleDataError`` when the data cannot be loaded, ``TensorError`` on a
///   shape error (a bug), the library's ``SafeTensorsError`` or ``StateDictError`` when
///   `options.initialWeights` cannot be read or does not fit the model.
public func trainAirline(_ options: AirlineOptions, series: AirlineSeries? = nil) throws -> (model: AirlineModel, result: AirlineResult) {
    let data = try AirlineProtocol(series: series ?? AirlineData.loadBundled())
    RandomState.manualSeed(options.seed)
    let model = try AirlineModel(kind: options.model, hiddenSize: options.hidden, seed: options.seed)
    // Full batches of at most 144 windows of 12 months.
    try TrainingMemory.check(model, optimizerBuffers: 2, activations: [[144, 12, 8, options.hidden]],
                             what: "an airline \(options.model.rawValue) of hidden size \(options.hidden)")
    if let url = options.initialWeights { try model.loadStateDict(from: url) }
    let optimizer = try Adam(model.parameters(), lr: options.learningRate)

    let window = data.window
    let trainX = Tensor(shape: [data.trainTargets.count, window, 1], scalars: data.inputs(for: data.trainTargets))
    let trainY = Tensor(shape: [data.trainTargets.count, 1], scalars: data.targets(for: data.trainTargets))
    let testX = Tensor(shape: [data.testTargets.count, window, 1], scalars: data.inputs(for: data.testTargets))

    let progress = ProgressLine(totalEpochs: options.epochs, style: options.progress,
                                plainEvery: max(1, options.epochs / 10))
    var losses: [Double] = []
    losses.reserveCapacity(options.epochs)
    let start = Date()
    for epoch in stride(from: 1, through: options.epochs, by: 1) {
        optimizer.zeroGrad()
        let loss = try mseLoss(model(trainX), trainY)
        loss.backward()
        optimizer.step()
        losses.append(Double(loss.item))
        progress.update(epoch: epoch, loss: Double(loss.item))
    }
    let trainSeconds = Date().timeIntervalSince(start)
    progress.finish()

    let (testPredictions, trainPredictions) = try withoutGradients {
        (try model(testX).scalars, try model(trainX).scalars)
    }
    let testForecast = data.forecast(standardizedPredictions: testPredictions, targets: data.testTargets)
    let trainForecast = data.forecast(standardizedPredictions: trainPredictions, targets: data.trainTargets)
    let metrics = AirlineMetrics(
        model: options.model.rawValue, seed: options.seed, epochs: options.epochs, hidden: options.hidden,
        learningRate: options.learningRate, finalTrainLoss: losses.last ?? .nan,
        rmse: data.rmse(testForecast, targets: data.testTargets),
        seasonalNaiveRMSE: data.seasonalNaiveRMSE, lastValueRMSE: data.lastValueRMSE, trainSeconds: trainSeconds)
    let result = AirlineResult(metrics: metrics, losses: losses, testTargets: data.testTargets, testForecast: testForecast,
                               trainTargets: data.trainTargets, trainForecast: trainForecast)
    return (model, result)
}

/// The airline plots: the whole series with the test-period forecasts overlaid, and the
/// training loss per epoch (log scale).
public enum AirlinePlots {
    /// The series, the in-sample fit, the model's and the seasonal-naive test forecasts.
    public static func forecast(series: AirlineSeries, result: AirlineResult) -> LineChart {
        let years = (0..<series.count).map(series.fractionalYear)
        let m = result.metrics
        let seasonal = result.testTargets.map { series.passengers[$0 - 12] }
        let firstTest = result.testTargets.first ?? series.count
        return LineChart(
            title: "Airline passengers: one-step-ahead forecast of 1959–1960 (\(m.model.uppercased()), seed \(m.seed))",
            xLabel: "Year", yLabel: "Passengers (thousands)",
            series: [
                LineSeries(name: "Actual", x: years, y: series.passengers, color: "#222222", lineWidth: 1.8),
                LineSeries(name: "\(m.model.uppercased()) fit (training months)", x: result.trainTargets.map { years[$0] },
                           y: result.trainForecast, color: "#9ecae1", lineWidth: 1.5),
                LineSeries(name: String(format: "\(m.model.uppercased()) forecast (RMSE %.2f)", m.rmse),
                           x: result.testTargets.map { years[$0] }, y: result.testForecast, color: "#d62728",
                           lineWidth: 2.2, markers: true),
                LineSeries(name: String(format: "Seasonal naive y[t−12] (RMSE %.2f)", m.seasonalNaiveRMSE),
                           x: result.testTargets.map { years[$0] }, y: seasonal, color: "#2ca02c", dashed: true,
                           lineWidth: 1.6),
            ],
            band: (from: years[firstTest] - 0.5 / 12, to: years[series.count - 1] + 0.5 / 12, label: "test period"),
            xTickFormat: { String(Int($0.rounded())) })
    }

    /// The training loss per epoch, log scale.
    public static func loss(result: AirlineResult) -> LineChart {
        let m = result.metrics
        return LineChart(
            title: "Airline: training loss (\(m.model.uppercased()), Adam lr \(m.learningRate), seed \(m.seed))",
            xLabel: "Epoch", yLabel: "MSE (standardised log differences)",
            series: [LineSeries(name: "training loss", x: result.losses.indices.map { Double($0 + 1) }, y: result.losses)],
            yScale: .logarithmic)
    }
}
