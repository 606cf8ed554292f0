import ExampleSupport
import NamesExample
import Foundation

/// A count-based letter model of names, per language: the yardstick of the generator's
/// held-out loss. It predicts the same characters as the generator (every letter of a name
/// and the end, ``GenerationSequence/targets``) from the same context a bigram sees: the
/// language and the previous token (``GenerationTokens/startOfName`` before the first
/// letter).
///
/// - ``Order/unigram``: `P(c | language) = (N_ℓ(c) + 1) / (N_ℓ + 58)` (add-one smoothing),
///   ignoring the previous token.
/// - ``Order/bigram``: the per-language bigram with a Dirichlet prior centred on the
///   bigram of all languages together,
///   `P(c | p, ℓ) = (N_ℓ(p, c) + β · P_all(c | p)) / (N_ℓ(p) + β)`, with
///   `P_all(c | p) = (N(p, c) + 1) / (N(p) + 58)` (add-one smoothing). Rare contexts of a
///   small language fall back on the pooled counts.
///
/// Fitted on the training names only; ``loss(on:)`` is then measured on held-out names.
public struct LetterNGramModel: Sendable {
    /// Which context the model conditions on.
    public enum Order: String, Sendable, Codable {
        /// The language only.
        case unigram
        /// The language and the previous token.
        case bigram
    }

    /// The context the model conditions on.
    public let order: Order
    /// The number of languages.
    public let languageCount: Int
    /// The weight β of the pooled bigram in each language's bigram.
    public let priorWeight: Double
    /// `logProbabilities[(language · 58 + previous) · 58 + next]`: `log P(next | previous,
    /// language)` (the same for every `previous` in the unigram model).
    private let logProbabilities: [Double]

    /// Fits a model on `samples` (languages in `0..<languageCount`).
    ///
    /// - Parameters:
    ///   - priorWeight: β, the bigram's pull towards the pooled bigram (ignored by the unigram).
    /// - Throws: ``GenerationError/invalidOption(_:expected:got:)`` for a language count
    ///   below 1, a negative β, or a sample whose language is out of range.
    public init(fitting samples: [NameSample], languageCount: Int, order: Order, priorWeight: Double = 5) throws {
        guard languageCount >= 1 else {
            throw GenerationError.invalidOption("languageCount", expected: "at least 1", got: "\(languageCount)")
        }
        guard priorWeight >= 0, priorWeight.isFinite else {
            throw GenerationError.invalidOption("priorWeight", expected: "a finite value ≥ 0", got: "\(priorWeight)")
        }
        if let bad = samples.first(where: { !(0..<languageCount).contains($0.language) }) {
            throw GenerationError.invalidOption("sample language", expected: "an index in 0..<\(languageCount)",
                                                got: "\(bad.language) (\"\(bad.name)\")")
        }
        self.order = order
        self.languageCount = languageCount
        self.priorWeight = priorWeight
        let V = GenerationTokens.count
        // counts[(ℓ · V + p) · V + c]; the unigram keeps every count under p = 0.
        var counts = [Double](repeating: 0, count: languageCount * V * V)
        for sample in samples {
            let sequence = GenerationSequence(sample)
            for (p, c) in zip(sequence.inputs, sequence.targets) {
                counts[(sample.language * V + (order == .bigram ? p : 0)) * V + c] += 1
            }
        }
        var logp = [Double](repeating: 0, count: languageCount * V * V)
        switch order {
        case .unigram:
            for l in 0..<languageCount {
                let row = Array(counts[(l * V * V)..<(l * V * V + V)])
                let total = row.reduce(0, +)
                for p in 0..<V {
                    for c in 0..<V { logp[(l * V + p) * V + c] = Foundation.log((row[c] + 1) / (total + Double(V))) }
                }
            }
        case .bigram:
            var pooled = [Double](repeating: 0, count: V * V)
            for l in 0..<languageCount {
                for i in 0..<(V * V) { pooled[i] += counts[l * V * V + i] }
            }
            for p in 0..<V {
                let pooledTotal = pooled[(p * V)..<(p * V + V)].reduce(0, +)
                let prior = (0..<V).map { (pooled[p * V + $0] + 1) / (pooledTotal + Double(V)) }
                for l in 0..<languageCount {
                    let base = (l * V + p) * V
                    let total = counts[base..<(base + V)].reduce(0, +)
                    for c in 0..<V {
                        logp[base + c] = Foundation.log((counts[base + c] + priorWeight * prior[c]) / (total + priorWeight))
                    }
                }
            }
        }
        logProbabilities = logp
    }

    /// `log P(next | previous, language)` in nats.
    ///
    /// - Precondition: `language` in `0..<languageCount`, `previous` and `next` in
    ///   `0..<58` (indices from ``GenerationSequence``).
    public func logProbability(of next: Int, after previous: Int, language: Int) -> Double {
        let V = GenerationTokens.count
        return logProbabilities[(language * V + previous) * V + next]
    }

    /// The mean negative log-likelihood per predicted character (nats), over every letter
    /// and the end of each name of `samples` — the measure of ``heldOutLoss(_:on:batchSize:)``.
    /// NaN for no sample.
    ///
    /// - Throws: ``GenerationError/invalidOption(_:expected:got:)`` when a sample's
    ///   language is out of range.
    public func loss(on samples: [NameSample]) throws -> Double {
        var total = 0.0, count = 0
        for sample in samples {
            guard (0..<languageCount).contains(sample.language) else {
                throw GenerationError.invalidOption("sample language", expected: "an index in 0..<\(languageCount)",
                                                    got: "\(sample.language) (\"\(sample.name)\")")
            }
            let sequence = GenerationSequence(sample)
            for (p, c) in zip(sequence.inputs, sequence.targets) {
                total -= logProbability(of: c, after: p, language: sample.language)
            }
            count += sequence.count
        }
        return count > 0 ? total / Double(count) : .nan
    }
}
