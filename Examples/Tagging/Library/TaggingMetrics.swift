import ExampleSupport
import Foundation

/// Entity-level counts and scores, CoNLL style: an entity counts as found only when a
/// predicted entity has exactly its first token, last token and type.
public struct EntityScores: Codable, Sendable, Equatable {
    /// The predicted entities that match a gold entity exactly.
    public var truePositives: Int
    /// The predicted entities.
    public var predicted: Int
    /// The gold entities.
    public var gold: Int
    /// `truePositives / predicted`, 0 when nothing is predicted.
    public var precision: Double
    /// `truePositives / gold`, 0 when there is no gold entity.
    public var recall: Double
    /// The harmonic mean of precision and recall, 0 when both are 0.
    public var f1: Double

    /// The scores of the given counts (as `conlleval`: a ratio with a zero denominator is 0).
    public init(truePositives: Int, predicted: Int, gold: Int) {
        self.truePositives = truePositives
        self.predicted = predicted
        self.gold = gold
        precision = predicted > 0 ? Double(truePositives) / Double(predicted) : 0
        recall = gold > 0 ? Double(truePositives) / Double(gold) : 0
        f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0
    }
}

/// The token accuracy and the entity scores (overall and per type) of predicted tags
/// against gold tags.
public struct TaggingEvaluation: Codable, Sendable, Equatable {
    /// The fraction of tokens whose predicted tag is the gold tag.
    public var tokenAccuracy: Double
    /// The number of tokens scored.
    public var tokenCount: Int
    /// The entity scores over all types.
    public var overall: EntityScores
    /// The entity scores of each type, keyed by its CoNLL name (`"PER"`, `"LOC"`, `"DATE"`).
    public var perType: [String: EntityScores]

    /// Scores `predicted` against `gold`, sentence by sentence: entities are read from
    /// both with ``EntitySpan/spans(in:)`` (so a stray `I-X` counts as an entity) and
    /// matched exactly on start, end and type.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when the numbers of sentences differ
    ///   or a sentence has a different number of gold and predicted tags.
    public init(gold: [[BIOTag]], predicted: [[BIOTag]]) throws {
        guard gold.count == predicted.count else {
            throw ExampleDataError.invalidData("expected as many predicted as gold sentences, got \(predicted.count) and \(gold.count)")
        }
        var correctTokens = 0, tokens = 0
        var counts: [EntityType: (tp: Int, predicted: Int, gold: Int)] = [:]
        for (s, (goldTags, predictedTags)) in zip(gold, predicted).enumerated() {
            guard goldTags.count == predictedTags.count else {
                throw ExampleDataError.invalidData("sentence \(s): expected \(goldTags.count) predicted tags (one per token), got \(predictedTags.count)")
            }
            tokens += goldTags.count
            correctTokens += zip(goldTags, predictedTags).filter { $0 == $1 }.count
            let goldSpans = Set(EntitySpan.spans(in: goldTags))
            let predictedSpans = EntitySpan.spans(in: predictedTags)
            for span in goldSpans { counts[span.type, default: (0, 0, 0)].gold += 1 }
            for span in predictedSpans {
                counts[span.type, default: (0, 0, 0)].predicted += 1
                if goldSpans.contains(span) { counts[span.type, default: (0, 0, 0)].tp += 1 }
            }
        }
        tokenAccuracy = tokens > 0 ? Double(correctTokens) / Double(tokens) : .nan
        tokenCount = tokens
        var perType: [String: EntityScores] = [:]
        for type in EntityType.allCases {
            let c = counts[type] ?? (0, 0, 0)
            perType[type.rawValue] = EntityScores(truePositives: c.tp, predicted: c.predicted, gold: c.gold)
        }
        self.perType = perType
        let all = counts.values
        overall = EntityScores(truePositives: all.map(\.tp).reduce(0, +), predicted: all.map(\.predicted).reduce(0, +),
                               gold: all.map(\.gold).reduce(0, +))
    }
}
