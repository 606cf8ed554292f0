// The port of PyTorch's tutorial "NLP From Scratch: Classifying Names with a Character-Level
// RNN" in its current version (CharRNN = nn.RNN + Linear h2o + LogSoftmax on the final
// hidden state, NamesDataset, random_split, mini-batches of summed NLLLoss clipped to norm 3,
// SGD, a confusion matrix), beside the PyTorch program Scripts/ports/char_rnn_names.py,
// which says what it changes from the tutorial (a 150-name subset, sorted labels, batches
// from a DataLoader with a seeded torch.Generator, 10 epochs, no plot) and writes
// Fixtures/ports/char_rnn_names.{json,safetensors}. The batches are PyTorch's: the split and
// the loader draw from TorchGenerator, PyTorch's generator, seeded as the program seeds it.
// From PyTorch's initial weights the test matches every step's loss, the epoch averages,
// the test outputs, guesses and confusion matrix.
//
// Lines (non-blank, non-comment, outside the fixture:begin/end regions; counted by
// Scripts/ports/count_lines.py): PyTorch 107, Swift 112 (ratio 1.05).
import XCTest
import Recurrent

// We can use "_" to represent an out-of-vocabulary character, that is, any character we are not handling in our model
private let allowedCharacters = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'_".unicodeScalars)
private let nLetters = allowedCharacters.count

// Find letter index from allowedCharacters, e.g. "a" = 0;
// return our out-of-vocabulary character if we encounter a letter unknown to our model
private func letterToIndex(_ letter: Unicode.Scalar) -> Int {
    allowedCharacters.firstIndex(of: letter) ?? allowedCharacters.firstIndex(of: "_")!
}

// Turn a line into a <line_length x 1 x n_letters>, or an array of one-hot letter vectors
private func lineToTensor(_ line: String) throws -> Tensor {
    try Tensor.oneHot(line.unicodeScalars.map(letterToIndex), shape: [line.unicodeScalars.count, 1], numClasses: nLetters)
}

private struct NamesDataset: Dataset {
    var data: [String] = [], dataTensors: [Tensor] = [], labels: [String] = [], labelsTensors: [[Int]] = []
    let labelsUniq: [String]

    init(_ namesByLabel: [(String, [String])]) throws {
        var labelsSet = Set<String>()  // set of all classes
        for (label, lines) in namesByLabel {
            labelsSet.insert(label)
            for name in lines {
                data.append(name)
                dataTensors.append(try lineToTensor(name))
                labels.append(label)
            }
        }
        // Cache the tensor representation of the labels
        labelsUniq = labelsSet.sorted()
        labelsTensors = labels.map { [labelsUniq.firstIndex(of: $0)!] }
    }

    var count: Int { data.count }

    subscript(idx: Int) -> (labelTensor: [Int], dataTensor: Tensor, label: String, text: String) {
        (labelsTensors[idx], dataTensors[idx], labels[idx], data[idx])
    }
}

private final class CharRNN: Module {
    let rnn: RNN, h2o: Linear, softmax = LogSoftmax(dim: 1)

    init(inputSize: Int, hiddenSize: Int, outputSize: Int) throws {
        rnn = try RNN(inputSize: inputSize, hiddenSize: hiddenSize)
        h2o = try Linear(inFeatures: hiddenSize, outFeatures: outputSize)
    }

    func callAsFunction(_ lineTensor: Tensor) throws -> Tensor {
        let (_, hidden) = try rnn(lineTensor)
        let output = try h2o(hidden[0])
        return try softmax(output)
    }
}

private func labelFromOutput(_ output: Tensor, _ outputLabels: [String]) throws -> (String, Int) {
    let labelI = try output.argmax(dim: 1)[0]  // output.topk(1)
    return (outputLabels[labelI], labelI)
}

final class CharRNNNamesPortTests: XCTestCase {
    func testCharRNNNamesMatchesPyTorch() throws {
        // fixture:begin
        let fixture = try PortFixture("char_rnn_names")
        let namesByLabel = try fixture.value("names_by_label", as: [[Any]].self).map { ($0[0] as! String, $0[1] as! [String]) }
        var stepLosses: [Float] = [], outputs: [Tensor] = [], guesses: [Int] = []
        // fixture:end
        RandomState.manualSeed(0)
        let alldata = try NamesDataset(namesByLabel)
        print("loaded \(alldata.count) items of data")
        var generator = TorchGenerator(seed: 2024)
        let split = try randomSplit(alldata, [0.85, 0.15], generator: &generator)
        let (trainSet, testSet) = (split[0], split[1])
        print("train examples = \(trainSet.count), validation examples = \(testSet.count)")

        let nHidden = 128
        let rnn = try CharRNN(inputSize: nLetters, hiddenSize: nHidden, outputSize: alldata.labelsUniq.count)
        // fixture:begin
        try rnn.loadStateDict(try fixture.initialStateDict)
        // fixture:end

        func train(_ rnn: CharRNN, _ trainingData: Subset<NamesDataset>, nEpoch: Int = 10, nBatchSize: Int = 64,
                   reportEvery: Int = 50, learningRate: Float = 0.2, criterion: NLLLoss = NLLLoss()) throws -> [Float] {
            // Keep track of losses for plotting
            var currentLoss: Float = 0
            var allLosses: [Float] = []
            rnn.train()
            let optimizer = try SGD(rnn.parameters(), lr: learningRate)
            print("training on data set with n = \(trainingData.count)")
            let loader = try DataLoader(trainingData, batchSize: nBatchSize, shuffle: true, generator: TorchGenerator(seed: 17))
            for iter in 1...nEpoch {
                rnn.zeroGrad()  // clear the gradients
                for batch in loader {
                    var batchLoss = Tensor(0)
                    for (labelTensor, textTensor, _, _) in batch {  // for each example in this batch
                        let output = try rnn(textTensor)
                        let loss = try criterion(output, labelTensor)
                        batchLoss = batchLoss + loss
                    }
                    // optimize parameters
                    batchLoss.backward()
                    clipGradNorm(rnn.parameters(), maxNorm: 3)
                    optimizer.step()
                    optimizer.zeroGrad()
                    currentLoss += batchLoss.item / Float(batch.count)
                    // fixture:begin
                    stepLosses.append(batchLoss.item)
                    // fixture:end
                }
                allLosses.append(currentLoss / Float(loader.count))
                if iter % reportEvery == 0 {
                    print("\(iter) (\(100 * iter / nEpoch)%): \t average batch loss = \(allLosses.last!)")
                }
                currentLoss = 0
            }
            return allLosses
        }

        let allLosses = try train(rnn, trainSet, nEpoch: 10, reportEvery: 5, learningRate: 0.15)

        func evaluate(_ rnn: CharRNN, _ testingData: Subset<NamesDataset>, classes: [String]) throws -> [[Float]] {
            var confusion = [[Float]](repeating: [Float](repeating: 0, count: classes.count), count: classes.count)
            rnn.eval()  // set to eval mode
            try withoutGradients {  // do not record the gradients during eval phase
                for i in 0..<testingData.count {
                    let (_, textTensor, label, _) = testingData[i]
                    let output = try rnn(textTensor)
                    let (_, guessI) = try labelFromOutput(output, classes)
                    let labelI = classes.firstIndex(of: label)!
                    confusion[labelI][guessI] += 1
                    // fixture:begin
                    outputs.append(try output[0])
                    guesses.append(guessI)
                    // fixture:end
                }
            }
            // Normalize by dividing every row by its sum
            for i in 0..<classes.count {
                let denom = confusion[i].reduce(0, +)
                if denom > 0 { confusion[i] = confusion[i].map { $0 / denom } }
            }
            return confusion
        }

        let confusion = try evaluate(rnn, testSet, classes: alldata.labelsUniq)
        print(confusion)
        // fixture:begin
        XCTAssertEqual(trainSet.indices, try fixture.value("train_indices", as: [Int].self))
        try fixture.assertMatches(stepLosses, "step_losses", rtol: 1e-5)
        try fixture.assertMatches(allLosses, "all_losses", rtol: 1e-5)
        try fixture.assertMatches(try Tensor.stack(outputs), "test_outputs", rtol: 1e-5, atol: 1e-6)
        XCTAssertEqual(guesses, try fixture.value("guesses", as: [Int].self))
        try fixture.assertMatches(confusion.flatMap { $0 }, "confusion", rtol: 1e-6)
        // fixture:end
    }
}
