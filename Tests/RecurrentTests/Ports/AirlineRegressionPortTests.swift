// The port of a many-to-one LSTM regression with mini-batches (airline passengers, windows
// of 12 months predicting the next; TensorDataset + DataLoader; LSTM + Linear head; MSELoss;
// Adam + StepLR; clip_grad_norm_; a checkpoint after 20 epochs that a fresh model, optimizer,
// scheduler and loader resume from; the test error under no_grad), beside the PyTorch
// program Scripts/ports/airline_regression.py, which writes
// Fixtures/ports/airline_regression.{json,safetensors}. The batch order is PyTorch's: the
// loader draws from TorchGenerator, PyTorch's generator, seeded as the program seeds
// torch.Generator, and the checkpoint carries its state as torch.save carries
// generator.get_state(). From PyTorch's initial weights the test matches every epoch's
// loss and learning rate, the test error and the predictions.
//
// Lines (non-blank, non-comment, outside the fixture:begin/end regions; counted by
// Scripts/ports/count_lines.py): PyTorch 64, Swift 73 (ratio 1.14).
import XCTest
import Recurrent

private final class Forecaster: Module {
    let lstm: LSTM, head: Linear

    init(hiddenSize: Int = 32) throws {
        lstm = try LSTM(inputSize: 1, hiddenSize: hiddenSize, batchFirst: true)
        head = try Linear(inFeatures: hiddenSize, outFeatures: 1)
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (output, _) = try lstm(x)
        return try head(output[0..., -1])  // many-to-one: the last step's output
    }
}

final class AirlineRegressionPortTests: XCTestCase {
    func testAirlineRegressionMatchesPyTorch() throws {
        // fixture:begin
        let fixture = try PortFixture("airline_regression")
        let passengers = try fixture.floats("passengers")
        var epochLosses: [Float] = [], learningRates: [Float] = []
        // fixture:end
        RandomState.manualSeed(0)
        let (window, trainMonths, epochs) = (12, 108, 40)

        var series = Tensor(passengers)
        series = try (series - series[..<trainMonths].mean()) / series[..<trainMonths].std()
        let inputs = try Tensor.stack((0..<series.count - window).map { try series[$0..<$0 + window] }).unsqueeze(dim: -1)
        let targets = try series[window...].unsqueeze(dim: -1)
        let nTrain = trainMonths - window  // the windows whose target is in the first nine years
        let trainData = try TensorDataset(inputs[..<nTrain], targets[..<nTrain])
        let testData = try TensorDataset(inputs[nTrain...], targets[nTrain...])

        func makeRun(_ generator: TorchGenerator) throws -> (Forecaster, Adam, StepLR, DataLoader<TensorDataset>) {
            let model = try Forecaster()
            let optimizer = try Adam(model.parameters(), lr: 0.01)
            let scheduler = try StepLR(optimizer, stepSize: 10, gamma: 0.5)
            let loader = try DataLoader(trainData, batchSize: 20, shuffle: true, generator: generator)
            return (model, optimizer, scheduler, loader)
        }

        let criterion = MSELoss()

        func trainEpoch(_ model: Forecaster, _ optimizer: Adam, _ scheduler: StepLR, _ loader: DataLoader<TensorDataset>) throws -> Float {
            model.train()
            var total: Float = 0
            for batch in loader {
                let (x, y) = (batch[0], batch[1])
                optimizer.zeroGrad()
                let loss = try criterion(model(x), y)
                loss.backward()
                clipGradNorm(model.parameters(), maxNorm: 1.0)
                optimizer.step()
                total += loss.item * Float(x.shape[0])
            }
            try scheduler.step()
            return total / Float(trainData.count)
        }

        var (model, optimizer, scheduler, loader) = try makeRun(TorchGenerator(seed: 42))
        // fixture:begin
        try model.loadStateDict(try fixture.initialStateDict)
        // fixture:end
        for epoch in 0..<epochs / 2 {
            let loss = try trainEpoch(model, optimizer, scheduler, loader)
            print("epoch \(epoch): loss \(loss), lr \(scheduler.lastLearningRates[0])")
            // fixture:begin
            epochLosses.append(loss)
            learningRates.append(Float(scheduler.lastLearningRates[0]))
            // fixture:end
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("forecaster-\(UUID()).ckpt")
        defer { try? FileManager.default.removeItem(at: path) }
        try Checkpoint(model: model, optimizer: optimizer, scheduler: scheduler, dataLoader: loader.state).write(to: path)

        // A new process would start here: a fresh model, optimizer, scheduler and loader, resumed.
        (model, optimizer, scheduler, loader) = try makeRun(TorchGenerator(seed: 0))
        let checkpoint = try Checkpoint(contentsOf: path)
        try checkpoint.restore(model: model, optimizer: optimizer)
        try checkpoint.restore(scheduler: scheduler)
        try checkpoint.restore(dataLoader: loader)
        for epoch in epochs / 2..<epochs {
            let loss = try trainEpoch(model, optimizer, scheduler, loader)
            print("epoch \(epoch): loss \(loss), lr \(scheduler.lastLearningRates[0])")
            // fixture:begin
            epochLosses.append(loss)
            learningRates.append(Float(scheduler.lastLearningRates[0]))
            // fixture:end
        }

        model.eval()
        let (predictions, testLoss) = try withoutGradients {
            let (x, y) = (testData.tensors[0], testData.tensors[1])
            let predictions = try model(x)
            return (predictions, try criterion(predictions, y).item)
        }
        print("test MSE (standardised): \(testLoss)")
        // fixture:begin
        try fixture.assertMatches(epochLosses, "epoch_losses", rtol: 1e-5)
        try fixture.assertMatches(learningRates, "learning_rates", rtol: 1e-7)
        try fixture.assertMatches([testLoss], "test_loss", rtol: 1e-5)
        try fixture.assertMatches(predictions, "predictions", rtol: 1e-5, atol: 1e-6)
        // fixture:end
    }
}
