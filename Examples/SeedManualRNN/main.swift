// The seed tutorial's first program, line for line: a hand-written recurrent cell
// (`i2h` over the concatenated input and hidden state, `i2o` and a log-softmax on the new
// hidden state) trained on one random 3-step sequence to predict class 1.
//
//     swift run -c release seed-manual-rnn
import Foundation
import Recurrent

// Hyper-parameters
let inputSize = 5
let hiddenSize = 10
let outputSize = 2

// Model, loss and optimizer
RandomState.manualSeed(42)
let rnn = try CombinedCell(inputSize: inputSize, hiddenSize: hiddenSize, outputSize: outputSize)
let criterion = NLLLoss()
let optimizer = try SGD(rnn.parameters(), lr: 0.01)

// A random input sequence of 3 steps, each (batch 1, inputSize), and its target class.
let inputSequence: [Tensor] = RandomState.withGenerator { generator in
    (0..<3).map { _ in Tensor(normal: [1, inputSize], using: &generator) }
}
let target = [1]

// Training loop
let epochs = 100
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
