import ExampleSupport
import NamesExample
import Foundation
import Recurrent
import XCTest

final class NamesDataTests: XCTestCase {
    func testASCIIFolding() {
        XCTAssertEqual(NamesAlphabet.fold("Ślusàrski"), "Slusarski")
        XCTAssertEqual(NamesAlphabet.fold("Núñez"), "Nunez")
        XCTAssertEqual(NamesAlphabet.fold("Béringer"), "Beringer")
        XCTAssertEqual(NamesAlphabet.fold("O'Neal"), "O'Neal")
        XCTAssertEqual(NamesAlphabet.fold("Strauß-1"), "Strau")   // ß, - and digits are not in the alphabet
        XCTAssertEqual(NamesAlphabet.count, 57)
        XCTAssertEqual(NamesAlphabet.indices(of: "aZ'"), [0, 51, 56])
    }

    func testBundledSplit() throws {
        let data = try NamesDataset.loadBundled()
        XCTAssertEqual(data.languages, ["Arabic", "Chinese", "Czech", "Dutch", "English", "French", "German", "Greek",
                                        "Irish", "Italian", "Japanese", "Korean", "Polish", "Portuguese", "Russian",
                                        "Scottish", "Spanish", "Vietnamese"])
        XCTAssertEqual(data.train.count, 16_053)
        XCTAssertEqual(data.test.count, 4_021)
        // Index 0 of each language is a test name; index 1 a training name.
        XCTAssertEqual(data.test.first?.name, "Khoury")
        XCTAssertEqual(data.train.first?.name, "Nahas")
        XCTAssertTrue((data.train + data.test).allSatisfy { !$0.letters.isEmpty && $0.letters.allSatisfy { (0..<57).contains($0) } })
    }

    func testSplitOfSmallFiles() {
        let data = NamesDataset(files: [(language: "A", text: "a0\na1\r\n\na2\na3\na4\na5\n"), (language: "B", text: "b0")])
        XCTAssertEqual(data.test.map(\.name), ["a", "a", "b"])   // a0, a5 and b0 (digits dropped)
        XCTAssertEqual(data.train.count, 4)
        XCTAssertEqual(data.test.map(\.language), [0, 0, 1])
    }

    func testOneHotEncodings() {
        let rows = NamesEncoding.letterRows()
        XCTAssertEqual(rows.count, 57)
        XCTAssertEqual(rows[3].shape, [1, 57])
        XCTAssertEqual(rows[3].scalars.firstIndex(of: 1), 3)
        XCTAssertEqual(rows[3].scalars.reduce(0, +), 1)

        let ab = NameSample(name: "ab", language: 2), c = NameSample(name: "Cde", language: 0)
        let single = NamesEncoding.tensor(for: ab)
        XCTAssertEqual(single.shape, [2, 1, 57])
        XCTAssertEqual(single.scalars[1], 0)
        XCTAssertEqual(single.scalars[57 + 1], 1)

        let (batch, lengths) = NamesEncoding.batch([ab, c])
        XCTAssertEqual(batch.shape, [2, 3, 57])
        XCTAssertEqual(lengths, [2, 3])
        let s = batch.scalars
        XCTAssertEqual(s[0 * 57 + 0], 1)                  // a
        XCTAssertEqual(s[1 * 57 + 1], 1)                  // b
        XCTAssertEqual(s[(2 * 57)..<(3 * 57)].reduce(0, +), 0)   // padding
        XCTAssertEqual(s[(3 + 0) * 57 + 28], 1)           // C
    }

    func testShortTutorialRunLowersTheLoss() throws {
        let data = try NamesDataset.loadBundled().subset(perLanguage: 12)
        var options = NamesOptions()
        options.epochs = 3
        options.hidden = 32
        options.learningRate = 0.02
        let (model, result) = try trainNames(data, options)
        let losses = result.metrics.epochLosses
        XCTAssertEqual(losses.count, 3)
        XCTAssertLessThan(losses.last!, losses.first!)
        XCTAssertEqual(result.confusion.flatMap { $0 }.reduce(0, +), data.test.count)
        XCTAssertEqual(try model.predict("Nakamura").count, 3)
    }

    func testShortRecurrentRunsLowerTheLoss() throws {
        let data = try NamesDataset.loadBundled().subset(perLanguage: 12)
        for kind in [NamesModelKind.rnn, .lstm, .gru] {
            var options = NamesOptions()
            options.model = kind
            options.epochs = 4
            options.hidden = 16
            options.batchSize = 8
            options.learningRate = 0.01
            let (_, result) = try trainNames(data, options)
            let losses = result.metrics.epochLosses
            XCTAssertLessThan(losses.last!, losses.first!, "\(kind)")
        }
    }

    func testSaveLoadAndPredict() throws {
        let data = try NamesDataset.loadBundled().subset(perLanguage: 3)
        var options = NamesOptions()
        options.model = .gru
        options.epochs = 1
        options.hidden = 8
        let (model, _) = try trainNames(data, options)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("names-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url)
        let loaded = try NamesModel.load(from: url)
        XCTAssertEqual(loaded.kind, .gru)
        XCTAssertEqual(loaded.hiddenSize, 8)
        XCTAssertEqual(loaded.languages, data.languages)
        let a = try model.predict("Schmidt"), b = try loaded.predict("Schmidt")
        XCTAssertEqual(a.map(\.language), b.map(\.language))
        XCTAssertEqual(a[0].probability, b[0].probability, accuracy: 1e-6)
        XCTAssertGreaterThanOrEqual(a[0].probability, a[1].probability)
        XCTAssertThrowsError(try model.predict("123"))
    }

    func testConfusionHeatMap() {
        let map = NamesPlots.confusion([[3, 1], [0, 4]], languages: ["A", "B"], title: "t")
        XCTAssertEqual(map.values, [[0.75, 0.25], [0, 1]])
        let svg = map.svg()
        XCTAssertTrue(svg.contains("0.75") && svg.contains("Predicted language") && svg.contains(">B<"))
    }

    /// Per-class accuracy is each row's diagonal over its total; macro accuracy their mean
    /// over the classes that have samples; micro accuracy (the trace over the total) differs
    /// when the classes are unbalanced.
    func testPerLanguageAndMacroAccuracy() {
        // Class 0: 8 of 10 right; class 1: 1 of 2; class 2: no sample; class 3: 0 of 3.
        let confusion = [[8, 1, 0, 1], [1, 1, 0, 0], [0, 0, 0, 0], [2, 1, 0, 0]]
        let perClass = perClassAccuracy(confusion)
        XCTAssertEqual(perClass[0], 0.8)
        XCTAssertEqual(perClass[1], 0.5)
        XCTAssertTrue(perClass[2].isNaN)
        XCTAssertEqual(perClass[3], 0)
        XCTAssertEqual(macroAccuracy(perClass), (0.8 + 0.5 + 0) / 3, accuracy: 1e-15)
        XCTAssertTrue(macroAccuracy([.nan, .nan]).isNaN)
        // Micro: 9 right of 15.
        let trace = (0..<4).map { confusion[$0][$0] }.reduce(0, +)
        XCTAssertEqual(Double(trace) / 15, 0.6)
    }

    /// Balanced weights are N / (C · n_c): 4 names, 2 classes, 3 of class 0 and 1 of class 1.
    func testBalancedClassWeights() throws {
        XCTAssertNil(try NamesClassWeights.unweighted.weights(labels: [0, 0, 1], classes: 2))
        let weights = try XCTUnwrap(NamesClassWeights.balanced.weights(labels: [0, 1, 0, 0], classes: 2))
        XCTAssertEqual(weights[0], 4.0 / 6.0, accuracy: 1e-7)
        XCTAssertEqual(weights[1], 2, accuracy: 1e-7)
        // Every class's weights sum to N / C over its names.
        XCTAssertEqual(3 * weights[0], 1 * weights[1], accuracy: 1e-6)
        XCTAssertThrowsError(try NamesClassWeights.balanced.weights(labels: [0, 0], classes: 2))   // class 1 has none
        XCTAssertThrowsError(try NamesClassWeights.balanced.weights(labels: [0, 2], classes: 2))   // label out of range
    }

    /// The weighted loss the names training uses: PyTorch's weighted mean, Σ w_y·(−log p_y) / Σ w_y.
    func testWeightedCrossEntropyIsPyTorchsWeightedMean() throws {
        let logits = Tensor(shape: [2, 2], scalars: [0, 0, 0, Float(log(3.0))])   // p = (1/2, 1/2), (1/4, 3/4)
        let weight = Tensor(shape: [2], scalars: [Float(4.0 / 6.0), 2])
        let loss = try crossEntropy(logits, target: [0, 1], weight: weight).item
        let expected = (4.0 / 6.0 * log(2.0) + 2 * -log(0.75)) / (4.0 / 6.0 + 2)
        XCTAssertEqual(Double(loss), expected, accuracy: 1e-6)
    }

    /// A balanced run reports its weighting, and the macro accuracy is the mean of the
    /// per-language accuracies it reports; the tutorial cell (one name per step, where a
    /// weighted mean would cancel the weight) trains with the weighted sum.
    func testBalancedRunsReportMacroAccuracy() throws {
        let data = try NamesDataset.loadBundled().subset(perLanguage: 6)
        for kind in [NamesModelKind.tutorial, .lstm] {
            var options = NamesOptions()
            options.model = kind
            options.epochs = 2
            options.hidden = 8
            options.batchSize = 8
            options.classWeights = .balanced
            let (_, result) = try trainNames(data, options)
            let m = result.metrics
            XCTAssertEqual(m.classWeights, "balanced")
            let perLanguage = data.languages.map { m.perLanguageAccuracy[$0]! }
            XCTAssertEqual(m.macroAccuracy, perLanguage.reduce(0, +) / Double(perLanguage.count), accuracy: 1e-12)
            XCTAssertEqual(perLanguage, perClassAccuracy(result.confusion))
        }
        // Weighted and unweighted tutorial runs differ when the languages are unbalanced
        // (the weights reach the gradients); with equal counts every weight is 1.
        let full = try NamesDataset.loadBundled()
        let files = full.languages.prefix(3).enumerated().map { k, language in
            (language: language, text: full.train.filter { $0.language == k }.prefix(5 + 10 * k).map(\.name).joined(separator: "\n"))
        }
        let unbalanced = NamesDataset(files: files)
        var options = NamesOptions()
        options.epochs = 1
        options.hidden = 8
        XCTAssertEqual(try NamesClassWeights.balanced.weights(labels: data.train.map(\.language), classes: data.languages.count),
                       [Float](repeating: 1, count: data.languages.count))
        let plain = try trainNames(unbalanced, options).result.metrics.epochLosses
        options.classWeights = .balanced
        let weighted = try trainNames(unbalanced, options).result.metrics.epochLosses
        XCTAssertNotEqual(plain, weighted)
    }
}
