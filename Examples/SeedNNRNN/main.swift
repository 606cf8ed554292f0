// The seed tutorial's second program, line for line: an `nn.RNN` with two layers,
// `batch_first`, a zero initial state, and a Linear head on the last time step.
//
//     class RNNModel(nn.Module):
//         def __init__(self, input_size, hidden_size, output_size, num_layers=1):
//             super().__init__()
//             self.rnn = nn.RNN(input_size, hidden_size, num_layers, batch_first=True)
//             self.fc = nn.Linear(hidden_size, output_size)
//         def forward(self, x):
//             h0 = torch.zeros(self.num_layers, x.size(0), self.hidden_size)
//             out, _ = self.rnn(x, h0)
//             return self.fc(out[:, -1, :])
import ArgumentParser
import Recurrent

final class RNNModel: Module, @unchecked Sendable {
    let rnn: RNN
    let fc: Linear
    let hiddenSize: Int
    let numLayers: Int

    init(inputSize: Int, hiddenSize: Int, outputSize: Int, numLayers: Int = 1) throws {
        rnn = try RNN(inputSize: inputSize, hiddenSize: hiddenSize, numLayers: numLayers, batchFirst: true)
        fc = try Linear(inFeatures: hiddenSize, outFeatures: outputSize)
        self.hiddenSize = hiddenSize
        self.numLayers = numLayers
    }

    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let h0 = Tensor(zeros: [numLayers, x.shape[0], hiddenSize])
        let (out, _) = try rnn(x, h0)
        return try fc(out.select(dim: 1, index: -1))      // out[:, -1, :]
    }
}

/// The `seed-nn-rnn` command: builds the model and runs one batch through it.
struct SeedNNRNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-nn-rnn",
        abstract: "The tutorial's nn.RNN model: two RNN layers (batch first) and a Linear head on the last step.",
        discussion: """
        Runs a random batch of 5 sequences of 7 steps of 10 features through RNN(10 → 20, 2 layers) + \
        Linear(20 → 1) and prints the output's shape, [5, 1], and the parameters' PyTorch names.
        """)

    @Option(parsing: .unconditional, help: "The seed of the weights and the input.")
    var seed: UInt64 = 0

    func run() throws {
        RandomState.manualSeed(seed)
        let model = try RNNModel(inputSize: 10, hiddenSize: 20, outputSize: 1, numLayers: 2)
        var generator = SeededGenerator(seed: seed)
        let x = Tensor(normal: [5, 7, 10], using: &generator)      // batch 5, 7 steps, 10 features
        let output = try model(x)
        print("Output shape: \(output.shape)")
        print("Parameters: \(model.namedParameters().map(\.name).joined(separator: ", "))")
    }
}

SeedNNRNN.main()
