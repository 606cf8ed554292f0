import ExampleSupport
import GenerateExample
import NamesExample
import TaggingExample
import TranslateExample
import Foundation
import Recurrent
import XCTest

/// `--save` then `--load` of `generate`, `tagging` and `translate`: the loaded model gives
/// the same predictions, bit for bit, and a missing file, a file of another example, a file
/// that is not safetensors, or metadata that disagrees with the tensors is an error naming
/// the file and what was expected.
final class ModelFileTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-models-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func url(_ name: String) -> URL { directory.appendingPathComponent(name) }

    /// Asserts that `body` throws an error whose description contains every fragment.
    func assertThrows<T>(_ body: @autoclosure () throws -> T, saying fragments: [String],
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            let text = "\(error)"
            for fragment in fragments where !text.contains(fragment) {
                XCTFail("\"\(text)\" does not contain \"\(fragment)\"", file: file, line: line)
            }
        }
    }

    func testGeneratorSaveThenLoadGivesTheSameModel() throws {
        let data = try NamesDataset.loadBundled().subset(perLanguage: 4)
        var options = GenerationOptions()
        options.model = .lstm
        options.hidden = 12
        options.epochs = 1
        options.batchSize = 16
        options.dropout = 0.1
        let (model, _) = try trainGenerator(data, options)
        try model.save(to: url("g.safetensors"))
        let loaded = try NameGenerator.load(from: url("g.safetensors"))
        XCTAssertEqual(loaded.kind, .lstm)
        XCTAssertEqual(loaded.hiddenSize, 12)
        XCTAssertEqual(loaded.languages, data.languages)
        XCTAssertEqual(loaded.dropout, 0.1)
        XCTAssertEqual(try heldOutLoss(loaded, on: data.test), try heldOutLoss(model, on: data.test))
        let sample = { (m: NameGenerator) in
            try sampleNames(m, languages: [0, 3], startLetters: GenerationRequest.startLetters("K"), count: 3,
                            temperature: 0.8, seed: 5).flatMap(\.names)
        }
        XCTAssertEqual(try sample(loaded), try sample(model))
    }

    func testTranslatorSaveThenLoadGivesTheSameTranslations() throws {
        let data = try TranslationDataset(trainSize: 128, testDates: 3, seed: 4)
        var options = TranslationOptions()
        options.model = .lstm
        options.epochs = 1
        options.hidden = 8
        options.batchSize = 32
        options.trainSize = 128
        options.testDates = 3
        options.seed = 4
        options.evaluateEveryEpoch = false
        let (model, metrics, evaluation) = try trainTranslator(data, options)
        try model.save(to: url("t.safetensors"), seed: 4, trainSize: 128, testDates: 3)
        let loaded = try DateTranslator.load(from: url("t.safetensors"))
        XCTAssertEqual(loaded.model.kind, .lstm)
        XCTAssertEqual(loaded.model.hiddenSize, 8)
        XCTAssertEqual([loaded.seed, UInt64(loaded.trainSize), UInt64(loaded.testDates)], [4, 128, 3])
        let texts = ["3 May 1979", "05/03/79", "Sunday, 1 January 2023"]
        XCTAssertEqual(try loaded.model.translate(texts), try model.translate(texts))
        // The held-out set rebuilt from the file's seed and sizes scores the same.
        let rebuilt = try TranslationDataset(trainSize: loaded.trainSize, testDates: loaded.testDates, seed: loaded.seed)
        XCTAssertEqual(rebuilt.testDates, data.testDates)
        let again = try TranslationEvaluation(model: loaded.model, examples: rebuilt.test)
        XCTAssertEqual(again.predictions, evaluation.predictions)
        XCTAssertEqual(again.overall.exactMatch, metrics.exactMatch)
    }

    func testTaggerSaveThenLoadGivesTheSameTags() throws {
        let names = ["Kowalski", "Nakamura", "Abernathy", "Ivanov", "Moreau", "Schmidt", "Rossi", "Novak", "Tanaka",
                     "Murphy", "Silva", "Dubois", "Jansen", "Papadopoulos", "Kim", "Nguyen", "Haddad", "Fraser"]
        let data = try TaggingDataset(names: names, trainCount: 40, testCount: 10, seed: 2)
        var options = TaggingOptions()
        options.model = .gru
        options.epochs = 1
        options.hidden = 6
        options.batchSize = 10
        options.hashBuckets = 16
        let (tagger, _) = try trainTagger(data, options)
        try tagger.save(to: url("tg.safetensors"), seed: 2, trainSentences: 40, testSentences: 10)
        let loaded = try EntityTagger.load(from: url("tg.safetensors"))
        XCTAssertEqual(loaded.tagger.kind, .gru)
        XCTAssertEqual(loaded.tagger.encoder, tagger.encoder)
        XCTAssertEqual([loaded.seed, UInt64(loaded.trainSentences), UInt64(loaded.testSentences)], [2, 40, 10])
        let encoded = tagger.encoder.encode(data.test.map(\.tokens))
        XCTAssertEqual(try loaded.tagger.logProbabilities(encoded), try tagger.logProbabilities(encoded))
        XCTAssertEqual(try loaded.tagger.tag(["Anna", "Kowalski", "flew", "to", "Lima", "."]),
                       try tagger.tag(["Anna", "Kowalski", "flew", "to", "Lima", "."]))
    }

    func testMissingForeignAndBrokenFilesAreErrors() throws {
        assertThrows(try NameGenerator.load(from: url("nothing.safetensors")), saying: ["nothing.safetensors", "does not exist"])
        try Data("not a safetensors file".utf8).write(to: url("text.safetensors"))
        assertThrows(try DateTranslator.load(from: url("text.safetensors")), saying: ["text.safetensors", "expected a safetensors model file"])
        // A names model (no task) and a generator are not translators or taggers.
        let names = try NamesDataset.loadBundled().subset(perLanguage: 2)
        var namesOptions = NamesOptions()
        namesOptions.epochs = 1
        namesOptions.hidden = 4
        try trainNames(names, namesOptions).model.save(to: url("names.safetensors"))
        assertThrows(try EntityTagger.load(from: url("names.safetensors")), saying: ["`tagging --save`", "no task in the metadata"])
        var options = GenerationOptions()
        options.hidden = 4
        options.epochs = 1
        let (generator, _) = try trainGenerator(names, options)
        try generator.save(to: url("g.safetensors"))
        assertThrows(try DateTranslator.load(from: url("g.safetensors")), saying: ["`translate --save`", "task \"generate\""])
        // Metadata that disagrees with the tensors: a hidden size the head does not have.
        try generator.saveStateDict(to: url("lying.safetensors"), metadata: [
            "task": "generate", "model": "gru", "hidden_size": "400", "languages": names.languages.joined(separator: ","),
            "dropout": "0",
        ])
        assertThrows(try NameGenerator.load(from: url("lying.safetensors")), saying: ["fc.weight", "[58, 400]", "[58, 4]"])
        // A kind that differs from the tensors' (an LSTM's metadata over a GRU's weights).
        try generator.saveStateDict(to: url("kind.safetensors"), metadata: [
            "task": "generate", "model": "lstm", "hidden_size": "4", "languages": names.languages.joined(separator: ","),
            "dropout": "0",
        ])
        XCTAssertThrowsError(try NameGenerator.load(from: url("kind.safetensors")))
        try generator.saveStateDict(to: url("nokind.safetensors"), metadata: ["task": "generate", "model": "transformer"])
        assertThrows(try NameGenerator.load(from: url("nokind.safetensors")), saying: ["\"model\"", "transformer"])
    }
}
