import ExampleSupport
import GenerateExample
import NamesExample
import Foundation
import Recurrent
import XCTest

final class GenerationTests: XCTestCase {
    // Letter indices in NamesAlphabet: a 0, b 1, A 26, B 27, C 28; the special token is 57.

    func testSequenceOfAName() {
        let sequence = GenerationSequence(NameSample(name: "Ab", language: 1))
        XCTAssertEqual(sequence.language, 1)
        XCTAssertEqual(sequence.inputs, [57, 26, 1])     // SOS A b
        XCTAssertEqual(sequence.targets, [26, 1, 57])    // A b EOS
        XCTAssertEqual(sequence.count, 3)
    }

    func testPaddedBatch() throws {
        let batch = try GenerationBatch([NameSample(name: "Ab", language: 1), NameSample(name: "C", language: 0)],
                                        languageCount: 2)
        XCTAssertEqual(batch.input.shape, [2, 3, 60])     // 2 languages + 58 tokens
        XCTAssertEqual(batch.lengths, [3, 2])
        XCTAssertEqual(batch.characterCount, 5)
        XCTAssertEqual(batch.targets, [26, 1, 57, 28, 57, -100])
        // The positions of the ones, step by step: language, then 2 + token.
        let x = batch.input.scalars
        func ones(_ b: Int, _ t: Int) -> [Int] {
            (0..<60).filter { x[(b * 3 + t) * 60 + $0] == 1 }
        }
        XCTAssertEqual(ones(0, 0), [1, 2 + 57])
        XCTAssertEqual(ones(0, 1), [1, 2 + 26])
        XCTAssertEqual(ones(0, 2), [1, 2 + 1])
        XCTAssertEqual(ones(1, 0), [0, 2 + 57])
        XCTAssertEqual(ones(1, 1), [0, 2 + 28])
        XCTAssertEqual(ones(1, 2), [])                     // padding
        XCTAssertEqual(x.reduce(0, +), 10)
        XCTAssertThrowsError(try GenerationBatch([NameSample(name: "Ab", language: 2)], languageCount: 2))
        XCTAssertThrowsError(try GenerationBatch([], languageCount: 2))
    }

    /// A generator whose logits are `bias` at every step (head weights zero).
    private func constantModel(bias: [Float], languages: [String] = ["X", "Y"], hidden: Int = 4) throws -> NameGenerator {
        let model = try NameGenerator(kind: .gru, hiddenSize: hidden, languages: languages, seed: 1)
        try model.fc.loadStateDict(["weight": Tensor(zeros: [58, hidden]), "bias": Tensor(shape: [58], scalars: bias)])
        return model
    }

    func testMaskedLossOnAHandMadeCase() throws {
        var bias = [Float](repeating: 0, count: 58)
        bias[57] = 2
        bias[26] = 1
        let model = try constantModel(bias: bias)
        let samples = [NameSample(name: "Ab", language: 1), NameSample(name: "C", language: 0)]
        // Targets A b EOS | C EOS: −log p(t) = log Z − bias[t], Z = 56 + e + e².
        let logZ = Foundation.log(56 + M_E + M_E * M_E)
        let expected = logZ - (1 + 0 + 2 + 0 + 2) / 5.0
        XCTAssertEqual(try heldOutLoss(model, on: samples, batchSize: 2), expected, accuracy: 1e-5)   // with padding
        XCTAssertEqual(try heldOutLoss(model, on: samples, batchSize: 1), expected, accuracy: 1e-5)   // without
        let batch = try GenerationBatch(samples, languageCount: 2)
        XCTAssertEqual(Double(try model.loss(batch, reduction: .sum).item), 5 * expected, accuracy: 1e-4)
        XCTAssertEqual(Double(try model.loss(batch).item), expected, accuracy: 1e-5)
        XCTAssertTrue(try heldOutLoss(model, on: []).isNaN)
    }

    func testBaselinesOnATinyCorpus() throws {
        let train = [NameSample(name: "Ab", language: 0), NameSample(name: "Aa", language: 0),
                     NameSample(name: "B", language: 1)]
        // Unigram, language 0: targets A b EOS A a EOS → A 2, a 1, b 1, EOS 2 of 6; add-one over 58.
        let unigram = try LetterNGramModel(fitting: train, languageCount: 2, order: .unigram)
        XCTAssertEqual(unigram.logProbability(of: 26, after: 57, language: 0), Foundation.log(3.0 / 64), accuracy: 1e-12)
        XCTAssertEqual(unigram.logProbability(of: 57, after: 0, language: 0), Foundation.log(3.0 / 64), accuracy: 1e-12)
        XCTAssertEqual(unigram.logProbability(of: 27, after: 57, language: 0), Foundation.log(1.0 / 64), accuracy: 1e-12)
        let test = [NameSample(name: "Ab", language: 0)]
        XCTAssertEqual(try unigram.loss(on: test), -(Foundation.log(3.0 / 64) * 2 + Foundation.log(2.0 / 64)) / 3,
                       accuracy: 1e-12)

        // Bigram, β = 5: pooled SOS → A 2, B 1; A → a 1, b 1; a, b, B → EOS 1 each.
        let bigram = try LetterNGramModel(fitting: train, languageCount: 2, order: .bigram, priorWeight: 5)
        let pooledSOSA = 3.0 / 61            // (2 + 1) / (3 + 58)
        XCTAssertEqual(bigram.logProbability(of: 26, after: 57, language: 0),
                       Foundation.log((2 + 5 * pooledSOSA) / (2 + 5)), accuracy: 1e-12)
        XCTAssertEqual(bigram.logProbability(of: 26, after: 57, language: 1),
                       Foundation.log((0 + 5 * pooledSOSA) / (1 + 5)), accuracy: 1e-12)
        // A context language 1 never saw falls back on the pooled bigram: P(EOS | A) = 1 / 60.
        XCTAssertEqual(bigram.logProbability(of: 57, after: 26, language: 1), Foundation.log(1.0 / 60), accuracy: 1e-12)
        // Each conditional distribution sums to 1.
        let sum = (0..<58).reduce(0.0) { $0 + Foundation.exp(bigram.logProbability(of: $1, after: 26, language: 0)) }
        XCTAssertEqual(sum, 1, accuracy: 1e-12)
        let pA = (1 + 5 * (2.0 / 60)) / (2 + 5)               // A → b: language 1 of 2, pooled (1 + 1) / (2 + 58)
        let pEnd = (1 + 5 * (2.0 / 59)) / (1 + 5)             // b → EOS: language 1 of 1, pooled (1 + 1) / (1 + 58)
        XCTAssertEqual(try bigram.loss(on: test),
                       -(Foundation.log((2 + 5 * pooledSOSA) / 7) + Foundation.log(pA) + Foundation.log(pEnd)) / 3,
                       accuracy: 1e-12)
        XCTAssertLessThan(try bigram.loss(on: test), try unigram.loss(on: test))
        XCTAssertThrowsError(try LetterNGramModel(fitting: train, languageCount: 1, order: .bigram))
    }

    func testSamplerFollowsTheLogits() throws {
        var bias = [Float](repeating: 0, count: 58)
        bias[57] = 3                          // EOS most likely: greedy names stop after the prefix
        var generator = SeededGenerator(seed: 0)
        let stop = try constantModel(bias: bias)
        let prompts = [GenerationPrompt(language: 0, prefix: [26]), GenerationPrompt(language: 1, prefix: [27, 0]),
                       GenerationPrompt(language: 1, prefix: [])]
        XCTAssertEqual(try stop.generate(prompts, temperature: 0, using: &generator), ["A", "Ba", ""])
        XCTAssertEqual(try stop.generate(prompts, temperature: 1e-3, using: &generator), ["A", "Ba", ""])

        bias[57] = 0
        bias[1] = 3                           // b most likely: greedy names run to the length limit
        let babble = try constantModel(bias: bias)
        XCTAssertEqual(try babble.generate(prompts, temperature: 0, maxLength: 5, using: &generator),
                       ["Abbbb", "Babbb", "bbbbb"])
        // A high temperature flattens the distribution: many different letters appear.
        let hot = try babble.generate([GenerationPrompt](repeating: GenerationPrompt(language: 0, prefix: []), count: 20),
                                      temperature: 50, maxLength: 10, using: &generator)
        XCTAssertGreaterThan(Set(hot.joined()).count, 15)

        XCTAssertThrowsError(try babble.generate(prompts, temperature: -1, using: &generator))
        XCTAssertThrowsError(try babble.generate(prompts, temperature: 1, maxLength: 1, using: &generator))
        XCTAssertThrowsError(try babble.generate([GenerationPrompt(language: 2, prefix: [])], temperature: 1, using: &generator))
    }

    func testSamplerIsDeterministicForASeed() throws {
        let model = try NameGenerator(kind: .lstm, hiddenSize: 8, languages: ["X", "Y", "Z"], seed: 3)
        let prompts = (0..<12).map { GenerationPrompt(language: $0 % 3, prefix: [26 + $0 % 4]) }
        func run(seed: UInt64, temperature: Float) throws -> [String] {
            var generator = SeededGenerator(seed: seed)
            return try model.generate(prompts, temperature: temperature, maxLength: 12, using: &generator)
        }
        XCTAssertEqual(try run(seed: 7, temperature: 1), try run(seed: 7, temperature: 1))
        XCTAssertNotEqual(try run(seed: 7, temperature: 1), try run(seed: 8, temperature: 1))
        // As the temperature goes to 0 sampling becomes the argmax, whatever the seed.
        XCTAssertEqual(try run(seed: 7, temperature: 1e-4), try run(seed: 0, temperature: 0))
        XCTAssertEqual(try run(seed: 8, temperature: 1e-4), try run(seed: 0, temperature: 0))
        XCTAssertTrue(try run(seed: 7, temperature: 1).allSatisfy { $0.count <= 12 && !$0.isEmpty })

        let groups = try sampleNames(model, languages: [2, 0], startLetters: [27, 28], count: 3, temperature: 0.5, seed: 1)
        XCTAssertEqual(groups.map(\.language), ["Z", "Z", "X", "X"])
        XCTAssertEqual(groups.map(\.start), ["B", "C", "B", "C"])
        XCTAssertTrue(groups.allSatisfy { $0.names.count == 3 })
        XCTAssertTrue(zip(groups.map(\.start), groups.map(\.names)).allSatisfy { start, names in names.allSatisfy { $0.first == start } })
    }

    func testRequests() throws {
        let known = ["Chinese", "German", "Russian"]
        XCTAssertEqual(try GenerationRequest.languages("russian, German,russian", known: known), [2, 1])
        XCTAssertThrowsError(try GenerationRequest.languages("Klingon", known: known)) { error in
            XCTAssertEqual("\(error)", "unknown language \"Klingon\"; expected one of Chinese, German, Russian")
        }
        XCTAssertThrowsError(try GenerationRequest.languages(" , ", known: known))
        XCTAssertEqual(try GenerationRequest.startLetters("aBz"), [26, 27, 51])
        XCTAssertThrowsError(try GenerationRequest.startLetters("A1")) { error in
            XCTAssertEqual(error as? GenerationError, .invalidStartLetter("1"))
        }
        XCTAssertThrowsError(try GenerationRequest.startLetters(""))
    }

    func testLearningRateSchedule() {
        var options = GenerationOptions()
        options.epochs = 12
        options.learningRate = 0.008
        XCTAssertEqual((1...12).map { options.learningRate(atEpoch: $0) }, [Float](repeating: 0.008, count: 8) + [Float](repeating: 0.002, count: 4))
        options.epochs = 1
        XCTAssertEqual(options.learningRate(atEpoch: 1), 0.008)
    }

    func testShortTrainingRunLowersTheLoss() throws {
        let data = try NamesDataset.loadBundled().subset(perLanguage: 8)
        var options = GenerationOptions()
        options.hidden = 24
        options.batchSize = 16
        options.epochs = 4
        options.learningRate = 0.01
        let (model, metrics) = try trainGenerator(data, options)
        XCTAssertEqual(metrics.trainCount, 8 * 18)
        XCTAssertEqual(metrics.trainLosses.count, 4)
        XCTAssertEqual(metrics.testLosses.count, 4)
        XCTAssertLessThan(metrics.trainLosses.last!, metrics.trainLosses.first! - 0.3)
        XCTAssertLessThan(metrics.testLosses.last!, metrics.testLosses.first!)
        XCTAssertEqual(metrics.testLoss, try heldOutLoss(model, on: data.test), accuracy: 1e-9)
        XCTAssertEqual(metrics.testCharacters, data.test.reduce(0) { $0 + $1.name.count + 1 })
        XCTAssertLessThan(metrics.bigramLoss, metrics.unigramLoss)
        // Before any training the model is close to uniform over the 58 tokens.
        XCTAssertLessThan(metrics.trainLosses.first!, Foundation.log(58.0) + 0.2)
        let svg = GenerationPlots.loss(metrics).svg()
        XCTAssertTrue(svg.contains("held-out") && svg.contains("bigram baseline"))

        // Evaluation mode: no dropout, the same loss twice.
        XCTAssertFalse(model.isTraining)
        XCTAssertEqual(try heldOutLoss(model, on: data.test), try heldOutLoss(model, on: data.test))

        var bad = options
        bad.batchSize = 0
        XCTAssertThrowsError(try trainGenerator(data, bad)) { error in
            XCTAssertEqual("\(error)", "--batch-size: expected at least 1, got 0")
        }
    }
}
