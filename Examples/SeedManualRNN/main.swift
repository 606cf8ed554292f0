// The seed tutorial's first program, line for line: a hand-written recurrent cell
// (`i2h` over the concatenated input and hidden state, `i2o` and a log-softmax on the new
// hidden state) trained on one random 3-step sequence to predict class 1.
//
//     swift run -c release seed-manual-rnn              # --epochs 100 --lr 0.01 --seed 42
import ArgumentParser
import Foundation
import Recurrent

/// The `seed-manual-rnn` command: the tutorial's loop, with its constants as options.
struct SeedManualRNN: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "seed-manual-rnn",
        abstract: "The tutorial's hand-written recurrent cell, trained on one random 3-step sequence to predict class 1.",
        discussion: """
        The cell: i2h = Linear(input + hidden → hidden) over cat(input, hidden), then i2o = Linear(hidden → output) \
        on the new hidden state and a log-softmax; NLLLoss and SGD, one sequence of 3 random steps (input size 5, hidden 10, 2 classes). \
        Prints the loss every 10 epochs, as the tutorial does.
        """)

    @Option(parsing: .unconditional, help: "The number of SGD steps on the sequence.")
    var epochs: Int = 100

    @Option(parsing: .unconditional, help: "SGD's learning rate.")
    var lr: Float = 0.01

    @Option(parsing: .unconditional, help: "The seed of the weights and the sequence.")
    var seed: UInt64 = 42

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs: expected at least 1, got \(epochs)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr: expected a positive number, got \(lr)") }
    }

    func run() throws {
        // Hyper-parameters
        let inputSize = 5
        let hiddenSize = 10
        let outputSize = 2

        // Model, loss and optimizer
        RandomState.manualSeed(seed)
        let rnn = try CombinedCell(inputSize: inputSize, hiddenSize: hiddenSize, outputSize: outputSize)
        let criterion = NLLLoss()
        let optimizer = try SGD(rnn.parameters(), lr: lr)

        // A random input sequence of 3 steps, each (batch 1, inputSize), and its target class.
        let inputSequence: [Tensor] = RandomState.withGenerator { generator in
            (0..<3).map { _ in Tensor(normal: [1, inputSize], using: &generator) }
        }
        let target = [1]

        // Training loop
        for epoch in 0..<epochs {
            var hidden = try rnn.initHidden()
            optimizer.zeroGrad()

            var output = Tensor(zeros: [1, outputSize])
            for input in inputSequence {
                (output, hidden) = try rnn(input, hidden)
            }

            let loss = try criterion(output, target)
            loss.backward()
            optimizer.step()

            if (epoch + 1) % 10 == 0 {
                print("Epoch \(epoch + 1)/\(epochs), Loss: \(String(format: "%.4f", loss.item))")
            }
        }
    }
}

SeedManualRNN.main()
