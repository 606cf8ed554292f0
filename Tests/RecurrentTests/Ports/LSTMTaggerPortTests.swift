// The port of PyTorch's tutorial "Sequence Models and Long Short-Term Memory Networks" (the
// LSTM part-of-speech tagger), beside the PyTorch program Scripts/ports/lstm_tagger.py,
// which writes Fixtures/ports/lstm_tagger.json (initial weights, tag scores before and after
// training, the loss of every step). The test starts from PyTorch's initial weights and
// matches PyTorch's numbers.
//
// Lines (non-blank, non-comment, outside the fixture:begin/end regions; counted by
// Scripts/ports/count_lines.py): PyTorch 54, Swift 51 (ratio 0.94).
import XCTest
import Recurrent

private func prepareSequence(_ seq: [String], _ toIx: [String: Int]) -> [Int] { seq.map { toIx[$0]! } }

private final class LSTMTagger: Module {
    let wordEmbeddings: Embedding, lstm: LSTM, hidden2tag: Linear
    override var stateDictNames: [String: String] { ["wordEmbeddings": "word_embeddings"] }

    init(embeddingDim: Int, hiddenDim: Int, vocabSize: Int, tagsetSize: Int) throws {
        wordEmbeddings = try Embedding(numEmbeddings: vocabSize, embeddingDim: embeddingDim)
        // The LSTM takes word embeddings as inputs, and outputs hidden states
        // with dimensionality hiddenDim.
        lstm = try LSTM(inputSize: embeddingDim, hiddenSize: hiddenDim)
        // The linear layer that maps from hidden state space to tag space
        hidden2tag = try Linear(inFeatures: hiddenDim, outFeatures: tagsetSize)
    }

    func callAsFunction(_ sentence: [Int]) throws -> Tensor {
        let embeds = try wordEmbeddings(sentence)
        let (lstmOut, _) = try lstm(embeds.view(sentence.count, 1, -1))
        let tagSpace = try hidden2tag(lstmOut.view(sentence.count, -1))
        return try tagSpace.logSoftmax(dim: 1)
    }
}

final class LSTMTaggerPortTests: XCTestCase {
    func testLSTMTaggerMatchesPyTorch() throws {
        let trainingData = [
            // Tags are: DET - determiner; NN - noun; V - verb
            ("The dog ate the apple".split(separator: " ").map(String.init), ["DET", "NN", "V", "DET", "NN"]),
            ("Everybody read that book".split(separator: " ").map(String.init), ["NN", "V", "DET", "NN"]),
        ]
        var wordToIx: [String: Int] = [:]
        for (sent, _) in trainingData {
            for word in sent where wordToIx[word] == nil { wordToIx[word] = wordToIx.count }
        }
        print(wordToIx)
        let tagToIx = ["DET": 0, "NN": 1, "V": 2]
        let embeddingDim = 6, hiddenDim = 6

        let model = try LSTMTagger(embeddingDim: embeddingDim, hiddenDim: hiddenDim, vocabSize: wordToIx.count, tagsetSize: tagToIx.count)
        let lossFunction = NLLLoss()
        let optimizer = try SGD(model.parameters(), lr: 0.1)
        // fixture:begin
        let fixture = try PortFixture("lstm_tagger")
        try model.loadStateDict(try fixture.initialStateDict)
        var losses: [Float] = []
        // fixture:end

        // See what the scores are before training (no gradients needed).
        var tagScores = try withoutGradients { try model(prepareSequence(trainingData[0].0, wordToIx)) }
        print(tagScores)
        // fixture:begin
        try fixture.assertMatches(tagScores, "tag_scores_before", rtol: 1e-5)
        // fixture:end

        for _ in 0..<300 {  // again, normally you would NOT do 300 epochs, it is toy data
            for (sentence, tags) in trainingData {
                // Step 1. Clear the gradients accumulated by the previous step.
                model.zeroGrad()
                // Step 2. Get our inputs ready for the network: lists of word indices.
                let sentenceIn = prepareSequence(sentence, wordToIx)
                let targets = prepareSequence(tags, tagToIx)
                // Step 3. Run our forward pass.
                tagScores = try model(sentenceIn)
                // Step 4. Compute the loss, gradients, and update the parameters.
                let loss = try lossFunction(tagScores, targets)
                loss.backward()
                optimizer.step()
                // fixture:begin
                losses.append(loss.item)
                // fixture:end
            }
        }

        // See what the scores are after training
        tagScores = try withoutGradients { try model(prepareSequence(trainingData[0].0, wordToIx)) }
        print(tagScores)
        // fixture:begin
        try fixture.assertMatches(losses, "losses", rtol: 1e-5)
        try fixture.assertMatches(tagScores, "tag_scores_after", rtol: 1e-5)
        // fixture:end
    }
}
