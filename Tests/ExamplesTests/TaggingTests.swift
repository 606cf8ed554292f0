import ExampleSupport
import NamesExample
import TaggingExample
import Foundation
import Recurrent
import XCTest

final class TaggingTests: XCTestCase {
    private func tags(_ labels: String) -> [BIOTag] {
        labels.split(separator: " ").map { BIOTag(String($0))! }
    }

    func testBIOTagIndicesAndLabels() {
        XCTAssertEqual(BIOTag.all.map(\.description), ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-DATE", "I-DATE"])
        for (i, tag) in BIOTag.all.enumerated() {
            XCTAssertEqual(tag.index, i)
            XCTAssertEqual(BIOTag(index: i), tag)
            XCTAssertEqual(BIOTag(tag.description), tag)
        }
        XCTAssertNil(BIOTag(index: 7))
        XCTAssertNil(BIOTag("B-ORG"))
        XCTAssertEqual(BIOTag.inside(.date).entityType, .date)
        XCTAssertNil(BIOTag.outside.entityType)
    }

    func testEntitySpansFromBIOTags() throws {
        XCTAssertEqual(EntitySpan.spans(in: tags("B-PER I-PER O B-LOC")),
                       [EntitySpan(type: .person, start: 0, end: 2), EntitySpan(type: .location, start: 3, end: 4)])
        // I- without B- starts an entity (conlleval); at the start of the sentence too.
        XCTAssertEqual(EntitySpan.spans(in: tags("O I-LOC I-LOC O")), [EntitySpan(type: .location, start: 1, end: 3)])
        XCTAssertEqual(EntitySpan.spans(in: tags("I-DATE I-DATE")), [EntitySpan(type: .date, start: 0, end: 2)])
        // A change of type ends the entity; B- after B- starts a new one.
        XCTAssertEqual(EntitySpan.spans(in: tags("B-PER I-LOC I-LOC")),
                       [EntitySpan(type: .person, start: 0, end: 1), EntitySpan(type: .location, start: 1, end: 3)])
        XCTAssertEqual(EntitySpan.spans(in: tags("B-PER B-PER I-PER")),
                       [EntitySpan(type: .person, start: 0, end: 1), EntitySpan(type: .person, start: 1, end: 3)])
        XCTAssertEqual(EntitySpan.spans(in: tags("O O")), [])
        XCTAssertEqual(EntitySpan.spans(in: []), [])

        // And back: spans to tags.
        XCTAssertEqual(try EntitySpan.tags(of: [EntitySpan(type: .date, start: 1, end: 3)], count: 4), tags("O B-DATE I-DATE O"))
        XCTAssertThrowsError(try EntitySpan.tags(of: [EntitySpan(type: .date, start: 3, end: 5)], count: 4))
        XCTAssertThrowsError(try EntitySpan.tags(of: [EntitySpan(type: .date, start: 0, end: 2),
                                                      EntitySpan(type: .person, start: 1, end: 2)], count: 4))
    }

    func testEntityScoresOnHandMadeCases() throws {
        let gold = [tags("B-PER I-PER O B-LOC O B-DATE I-DATE"), tags("O B-LOC I-LOC O B-PER")]
        let predicted = [
            // PER cut short (partial overlap: a false positive and a miss), LOC typed as PER, DATE right.
            tags("B-PER O O B-PER O B-DATE I-DATE"),
            // I-LOC without B-LOC still reads as the gold span (conlleval); PER missed.
            tags("O I-LOC I-LOC O O"),
        ]
        let e = try TaggingEvaluation(gold: gold, predicted: predicted)
        XCTAssertEqual(e.tokenCount, 12)
        XCTAssertEqual(e.tokenAccuracy, 8.0 / 12.0, accuracy: 1e-12)   // wrong: I-PER, B-LOC, B-LOC, B-PER
        XCTAssertEqual(e.overall.gold, 5)
        XCTAssertEqual(e.overall.predicted, 4)
        XCTAssertEqual(e.overall.truePositives, 2)
        XCTAssertEqual(e.overall.precision, 0.5, accuracy: 1e-12)
        XCTAssertEqual(e.overall.recall, 0.4, accuracy: 1e-12)
        XCTAssertEqual(e.overall.f1, 2 * 0.5 * 0.4 / 0.9, accuracy: 1e-12)
        XCTAssertEqual(e.perType["PER"], EntityScores(truePositives: 0, predicted: 2, gold: 2))
        XCTAssertEqual(e.perType["PER"]?.f1, 0)
        XCTAssertEqual(e.perType["LOC"], EntityScores(truePositives: 1, predicted: 1, gold: 2))
        XCTAssertEqual(e.perType["LOC"]!.f1, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(e.perType["DATE"]!.f1, 1)

        // Perfect predictions, and none at all.
        let perfect = try TaggingEvaluation(gold: gold, predicted: gold)
        XCTAssertEqual(perfect.overall.f1, 1)
        XCTAssertEqual(perfect.tokenAccuracy, 1)
        let nothing = try TaggingEvaluation(gold: gold, predicted: gold.map { $0.map { _ in .outside } })
        XCTAssertEqual(nothing.overall.precision, 0)
        XCTAssertEqual(nothing.overall.recall, 0)
        XCTAssertEqual(nothing.overall.f1, 0)

        XCTAssertThrowsError(try TaggingEvaluation(gold: gold, predicted: [gold[0]]))
        XCTAssertThrowsError(try TaggingEvaluation(gold: gold, predicted: [gold[0], tags("O")]))
    }

    func testConstrainedDecodingKeepsValidBIOSequences() {
        let log = { (p: [Float]) in p.map { Foundation.log($0) } }
        // Greedy: O then I-LOC (an entity without B-). Constrained: the best valid sequence.
        let rows = [log([0.6, 0.01, 0.01, 0.36, 0.01, 0.005, 0.005]), log([0.1, 0.01, 0.01, 0.01, 0.85, 0.01, 0.01])]
        XCTAssertEqual(EntityTagger.decode(rows, constrained: false), tags("O I-LOC"))
        XCTAssertEqual(EntityTagger.decode(rows, constrained: true), tags("B-LOC I-LOC"))   // 0.36·0.85 > 0.6·0.1
        XCTAssertEqual(EntityTagger.decode([log([0.1, 0.2, 0.5, 0.1, 0.05, 0.03, 0.02])], constrained: true), tags("B-PER"))
        XCTAssertEqual(EntityTagger.decode([], constrained: true), [])
    }

    func testGeneratedSentencesCarryTheTagsOfTheirFilledSpans() throws {
        let surnames = ["Kowalski", "Nakamura", "Ter Avest", "O'Neal"]
        let generator = try TaggingCorpusGenerator(surnames: surnames)
        let sentences = generator.sentences(count: 300, seed: 7)
        XCTAssertEqual(sentences, generator.sentences(count: 300, seed: 7))   // seeded
        var seenTypes = Set<EntityType>()
        for sentence in sentences {
            XCTAssertEqual(sentence.tags.count, sentence.tokens.count)
            XCTAssertEqual(sentence.tags, try EntitySpan.tags(of: sentence.entities, count: sentence.tokens.count))
            XCTAssertEqual(EntitySpan.spans(in: sentence.tags), sentence.entities, sentence.text)
            XCTAssertFalse(sentence.tokens.contains { $0.contains("{") || $0.isEmpty }, sentence.text)
            var persons = 0
            for span in sentence.entities {
                seenTypes.insert(span.type)
                let words = sentence.tokens[span.start..<span.end].joined(separator: " ")
                switch span.type {
                case .person:
                    // The surname is the end of the span, after at most a first name.
                    XCTAssertTrue(surnames.contains { surname in
                        words == surname || TaggingLexicon.firstNames.contains { words == $0 + " " + surname }
                    }, words)
                    persons += 1
                case .location:
                    XCTAssertTrue(TaggingLexicon.places.contains { $0 == words || $0 == "the " + words }, words)
                case .date:
                    let parts = words.split(separator: " ").map(String.init)
                    XCTAssertTrue(parts.allSatisfy { Int($0) != nil || TaggingLexicon.months.contains($0) }, words)
                }
            }
            XCTAssertEqual(sentence.surnames.count, persons, sentence.text)
        }
        XCTAssertEqual(seenTypes, Set(EntityType.allCases))

        // One template filled: a title is outside the person, the date's preposition outside the date.
        var random = SeededGenerator(seed: 1)
        let one = try TaggingCorpusGenerator(surnames: ["Kowalski"], places: ["New York"])
        for _ in 0..<20 {
            let s = one.fill("{PER} was born in {LOC} {ON_DATE} .", using: &random)
            let loc = s.tokens.firstIndex(of: "New")!
            XCTAssertEqual(Array(s.tags[loc...(loc + 2)]), [.begin(.location), .inside(.location), .outside])
            XCTAssertTrue(["on", "in"].contains(s.tokens[loc + 2]))
            XCTAssertEqual(s.tags.last, .outside)
            if TaggingLexicon.titles.contains(s.tokens[0]) { XCTAssertEqual(Array(s.tags.prefix(2)), [.outside, .begin(.person)]) }
        }
        XCTAssertThrowsError(try TaggingCorpusGenerator(surnames: ["A"], templates: ["{ORG} is here ."]))
        XCTAssertThrowsError(try TaggingCorpusGenerator(surnames: []))
    }

    func testHeldOutSentencesUseOnlyUnseenSurnamesAndPlaces() throws {
        let data = try TaggingDataset.bundled(trainCount: 400, testCount: 100, seed: 0)
        let trainNames = Set(data.surnames.train), testNames = Set(data.surnames.test)
        XCTAssertTrue(trainNames.isDisjoint(with: testNames))
        XCTAssertGreaterThan(trainNames.count, 10_000)
        XCTAssertEqual(Double(testNames.count) / Double(trainNames.count + testNames.count), 0.2, accuracy: 0.001)
        XCTAssertTrue(Set(data.places.train).isDisjoint(with: data.places.test))
        XCTAssertEqual(Set(data.places.train + data.places.test), Set(TaggingLexicon.places))
        // No usable surname collides with a word of the lexicon.
        XCTAssertFalse((trainNames.union(testNames)).contains { name in
            name.split(separator: " ").contains { TaggingLexicon.reservedWords.contains($0.lowercased()) }
        })
        for sentence in data.test {
            XCTAssertTrue(sentence.surnames.allSatisfy { testNames.contains($0) && !trainNames.contains($0) })
        }
        for sentence in data.train { XCTAssertTrue(sentence.surnames.allSatisfy(trainNames.contains)) }
        // The held-out surnames and places never reach the vocabulary.
        let encoder = try TokenEncoder(trainingSentences: data.train.map(\.tokens), minCount: 1)
        let known = Set(encoder.vocabulary)
        XCTAssertFalse(data.surnames.test.contains { !$0.contains(" ") && known.contains($0.lowercased()) })
        XCTAssertFalse(data.places.test.contains { !$0.contains(" ") && known.contains($0.lowercased()) })
        // Seeded: the same seed, the same corpus; another seed, another split.
        let again = try TaggingDataset.bundled(trainCount: 400, testCount: 100, seed: 0)
        XCTAssertEqual(again.train, data.train)
        XCTAssertEqual(again.surnames, data.surnames)
        XCTAssertNotEqual(try TaggingDataset.bundled(trainCount: 10, testCount: 10, seed: 1).surnames, data.surnames)
        XCTAssertThrowsError(try TaggingDataset(names: ["Kowalski", "Nakamura"], trainCount: 0, testCount: 1, seed: 0))
        XCTAssertThrowsError(try SurnameSplit(names: ["Kowalski"], testFraction: 0.2, seed: 0))
    }

    func testEncodingOfASmallSentence() throws {
        let encoder = try TokenEncoder(trainingSentences: [["Anna", "flew", "to", "Paris", "."], ["Bob", "flew", "."]],
                                       minCount: 2, hashBuckets: 32)
        XCTAssertEqual(encoder.vocabulary, ["<unk>", "flew", "."])
        XCTAssertEqual(encoder.featureCount, 3 + 32 + TokenEncoder.shapeFeatureNames.count)
        XCTAssertEqual(encoder.wordIndex("FLEW"), 1)
        XCTAssertEqual(encoder.wordIndex("Paris"), 0)
        XCTAssertEqual(TokenEncoder.fnv1a("a"), 0xaf63_dc4c_8601_ec8c)   // the published FNV-1a test vector

        let paris = encoder.features(of: "Paris")
        XCTAssertEqual(paris.first?.index, 0)                     // <unk>
        let spelling = paris.filter { (3..<35).contains($0.index) }.map(\.value)
        XCTAssertEqual(spelling.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)   // unit length
        XCTAssertEqual(Set(paris.map(\.index)).count, paris.count)
        let shape = Set(paris.filter { $0.index >= 35 }.map { TokenEncoder.shapeFeatureNames[$0.index - 35] })
        XCTAssertEqual(shape, ["capitalised", "length-4-6"])
        XCTAssertEqual(TokenEncoder.shape(of: "1979").enumerated().filter(\.element).map { TokenEncoder.shapeFeatureNames[$0.offset] },
                       ["has-digit", "all-digits", "four-digits", "length-4-6"])
        XCTAssertEqual(encoder.features(of: "Paris").map(\.index), paris.map(\.index))   // deterministic

        let encoded = encoder.encode([["Nakamura", "flew", "."], ["flew"]])
        let (input, lengths) = try encoder.batch(encoded)
        let F = encoder.featureCount
        XCTAssertEqual(input.shape, [2, 3, F])
        XCTAssertEqual(lengths, [3, 1])
        let s = input.scalars
        XCTAssertEqual(s[0], 1)                                   // Nakamura: <unk>
        XCTAssertEqual(s[F + 1], 1)                               // flew
        XCTAssertEqual(s[2 * F + 2], 1)                           // .
        XCTAssertEqual(s[(3 * F + 1)], 1)                         // flew, second sentence
        XCTAssertEqual(s[(4 * F)..<(6 * F)].reduce(0, +), 0)      // padding
        // Word dropout only moves known words to <unk>.
        var random = SeededGenerator(seed: 3)
        let (dropped, _) = try encoder.batch(encoded, wordDropout: 0.999_999, using: &random)
        XCTAssertEqual(dropped.scalars[F + 1], 0)
        XCTAssertEqual(dropped.scalars[F], 1)
        XCTAssertThrowsError(try encoder.batch([]))
        XCTAssertThrowsError(try encoder.batch(encoder.encode([[]])))
        XCTAssertThrowsError(try TokenEncoder(vocabulary: ["<unk>", "a", "a"], hashBuckets: 4))

        XCTAssertEqual(TaggingTokenizer.tokens(of: "Dr. Kowalski flew to Paris, then home."),
                       ["Dr.", "Kowalski", "flew", "to", "Paris", ",", "then", "home", "."])
    }

    func testShortTrainingRunLowersTheLoss() throws {
        let names = ["Kowalski", "Nakamura", "Abernathy", "Ivanov", "Moreau", "Schmidt", "Rossi", "Novak", "Tanaka",
                     "Murphy", "Silva", "Dubois", "Jansen", "Papadopoulos", "Kim", "Nguyen", "Haddad", "Fraser"]
        let data = try TaggingDataset(names: names, trainCount: 48, testCount: 12, seed: 0)
        for kind in CellKindOption.allCases {
            var options = TaggingOptions()
            options.model = kind
            options.epochs = 4
            options.hidden = 8
            options.batchSize = 12
            options.hashBuckets = 32
            options.learningRate = 0.02
            let (tagger, result) = try trainTagger(data, options)
            let losses = result.metrics.epochLosses
            XCTAssertEqual(losses.count, 4)
            XCTAssertLessThan(losses.last!, losses.first!, "\(kind)")
            XCTAssertEqual(result.metrics.epochEntityF1.count, 4)
            XCTAssertEqual(result.predictions.map(\.count), data.test.map(\.tokens.count))
            let probabilities = try tagger.logProbabilities(tagger.encoder.encode([data.test[0].tokens]))[0]
            XCTAssertEqual(probabilities.count, data.test[0].tokens.count)
            for row in probabilities { XCTAssertEqual(row.map { Foundation.exp(Double($0)) }.reduce(0, +), 1, accuracy: 1e-4) }
            XCTAssertEqual(try tagger.tag(["Dr.", "Kowalski", "flew", "."]).count, 4)
            _ = try JSONReport.line(result.metrics)
        }
        var bad = TaggingOptions()
        bad.wordDropout = 1
        XCTAssertThrowsError(try trainTagger(data, bad))
    }
}
