import ExampleSupport
import Foundation
import Recurrent

/// Turns tokens into the feature vectors the tagger reads, in a way that carries over to
/// words never seen in training.
///
/// Each token becomes a sparse vector of ``featureCount`` features, concatenated:
///
/// 1. **Word** (``vocabulary``.count features): a one-hot of the lowercased token in the
///    vocabulary of the training sentences — the words seen at least `minCount` times —
///    or of index 0, `<unk>`, for any other word. Only training sentences build it, so no
///    held-out surname can be in it.
/// 2. **Spelling** (`hashBuckets` features): the token's lowercased prefixes and suffixes
///    of 1 to 3 characters and its character trigrams (with `^` and `$` marking the word's
///    ends), each hashed (64-bit FNV-1a, the same on every run and platform) into one of
///    `hashBuckets` buckets; the values are scaled so that this part has unit length.
/// 3. **Shape** (``shapeFeatureNames``.count features): capitalised, all capitals, all
///    lowercase, contains a digit, all digits, four digits, one or two digits,
///    punctuation only, contains an apostrophe or a hyphen, ends with a period, and the
///    length (1–3, 4–6, 7 or more characters).
///
/// Unknown surnames thus reach the network as `<unk>` plus their spelling and shape, which
/// the training sentences' own rare surnames teach it to read.
public struct TokenEncoder: Sendable, Equatable {
    /// The known words, lowercased; index 0 is `"<unk>"`.
    public let vocabulary: [String]
    /// The number of buckets of the hashed spelling features.
    public let hashBuckets: Int
    private let index: [String: Int]

    /// The names of the shape features, in feature order.
    public static let shapeFeatureNames = [
        "capitalised", "all-capitals", "all-lowercase", "has-digit", "all-digits", "four-digits", "one-or-two-digits",
        "punctuation", "apostrophe-or-hyphen", "ends-with-period", "length-1-3", "length-4-6", "length-7+",
    ]

    /// An encoder whose vocabulary is every lowercased token occurring at least `minCount`
    /// times in `sentences`, in order of first occurrence after `<unk>`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `minCount` or `hashBuckets` is
    ///   below 1.
    public init(trainingSentences sentences: [[String]], minCount: Int = 2, hashBuckets: Int = 512) throws {
        guard minCount >= 1 else { throw ExampleDataError.invalidData("the minimum word count must be at least 1, got \(minCount)") }
        var counts: [String: Int] = [:]
        var order: [String] = []
        for sentence in sentences {
            for token in sentence {
                let word = token.lowercased()
                if counts[word] == nil { order.append(word) }
                counts[word, default: 0] += 1
            }
        }
        try self.init(vocabulary: ["<unk>"] + order.filter { counts[$0]! >= minCount && $0 != "<unk>" },
                      hashBuckets: hashBuckets)
    }

    /// An encoder with the given vocabulary (index 0 stands for unknown words, whatever it
    /// is spelt).
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when the vocabulary is empty or has a
    ///   word twice, or `hashBuckets` is below 1.
    public init(vocabulary: [String], hashBuckets: Int) throws {
        guard !vocabulary.isEmpty else { throw ExampleDataError.invalidData("the vocabulary needs at least the <unk> entry") }
        guard hashBuckets >= 1 else { throw ExampleDataError.invalidData("the number of hash buckets must be at least 1, got \(hashBuckets)") }
        var index: [String: Int] = [:]
        for (i, word) in vocabulary.enumerated() where i > 0 {
            guard index[word] == nil else { throw ExampleDataError.invalidData("the vocabulary has \"\(word)\" twice") }
            index[word] = i
        }
        self.vocabulary = vocabulary
        self.hashBuckets = hashBuckets
        self.index = index
    }

    /// The length of each token's feature vector.
    public var featureCount: Int { vocabulary.count + hashBuckets + Self.shapeFeatureNames.count }

    /// The vocabulary index of `token` (lowercased), 0 when it is unknown.
    public func wordIndex(_ token: String) -> Int { index[token.lowercased()] ?? 0 }

    /// The non-zero features of `token`: `(feature index, value)` pairs, indices in
    /// `0..<featureCount`, an index at most once.
    public func features(of token: String) -> [(index: Int, value: Float)] {
        var result: [(index: Int, value: Float)] = [(wordIndex(token), 1)]
        // Spelling: hashed prefixes, suffixes and trigrams, summed per bucket, unit length.
        let lower = Array(token.lowercased())
        var pieces: [String] = []
        for n in 1...3 where n <= lower.count {
            pieces.append("p:" + String(lower[..<n]))
            pieces.append("s:" + String(lower[(lower.count - n)...]))
        }
        let marked = ["^"] + lower + ["$"]
        if marked.count >= 3 {
            for i in 0...(marked.count - 3) { pieces.append("t:" + String(marked[i..<(i + 3)])) }
        }
        var buckets: [Int: Float] = [:]
        for piece in pieces { buckets[Int(Self.fnv1a(piece) % UInt64(hashBuckets)), default: 0] += 1 }
        let norm = buckets.values.reduce(0) { $0 + $1 * $1 }.squareRoot()
        let offset = vocabulary.count
        for (bucket, value) in buckets.sorted(by: { $0.key < $1.key }) {
            result.append((offset + bucket, value / norm))
        }
        // Shape.
        let shapeOffset = offset + hashBuckets
        for (k, on) in Self.shape(of: token).enumerated() where on { result.append((shapeOffset + k, 1)) }
        return result
    }

    /// The shape features of `token`, in the order of ``shapeFeatureNames``.
    public static func shape(of token: String) -> [Bool] {
        let letters = token.filter(\.isLetter)
        let digits = token.filter(\.isNumber)
        let count = token.count
        return [
            token.first?.isUppercase == true,
            letters.count >= 2 && letters.allSatisfy(\.isUppercase),
            !letters.isEmpty && letters.allSatisfy(\.isLowercase),
            !digits.isEmpty,
            count > 0 && digits.count == count,
            count == 4 && digits.count == 4,
            (1...2).contains(count) && digits.count == count,
            count > 0 && letters.isEmpty && digits.isEmpty,
            token.contains("'") || token.contains("-"),
            token.count > 1 && token.hasSuffix("."),
            (1...3).contains(count), (4...6).contains(count), count >= 7,
        ]
    }

    /// The 64-bit FNV-1a hash of the UTF-8 bytes of `text` (stable, unlike `Hasher`).
    public static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01b3
        }
        return hash
    }

    /// The features of every token of each sentence, computed once so that batches are
    /// cheap to assemble.
    public func encode(_ sentences: [[String]]) -> [EncodedSentence] {
        sentences.map { EncodedSentence(tokens: $0.map { features(of: $0) }) }
    }

    /// A padded batch-first input `(B, T, featureCount)` of encoded sentences (`T` the
    /// longest, zeros past each sentence's end) and their lengths, for a recurrent layer
    /// called with `lengths:`.
    ///
    /// - Parameters:
    ///   - wordDropout: the probability with which each token's word feature is replaced
    ///     by `<unk>` (its spelling and shape stay), for training: without it, every
    ///     training place and template word is known and the network learns that `<unk>`
    ///     means a surname. 0 (the default, for evaluation) draws nothing from `generator`.
    ///   - generator: the random stream of the word dropout.
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `sentences` is empty or a sentence
    ///   has no token (a recurrent layer needs lengths ≥ 1).
    public func batch(_ sentences: [EncodedSentence], wordDropout: Double = 0,
                      using generator: inout SeededGenerator) throws -> (input: Tensor, lengths: [Int]) {
        guard !sentences.isEmpty else { throw ExampleDataError.invalidData("a batch needs at least one sentence") }
        if let empty = sentences.firstIndex(where: { $0.tokens.isEmpty }) {
            throw ExampleDataError.invalidData("sentence \(empty) of the batch has no token")
        }
        let F = featureCount
        let steps = sentences.map(\.tokens.count).max()!
        var scalars = [Float](repeating: 0, count: sentences.count * steps * F)
        for (b, sentence) in sentences.enumerated() {
            for (t, features) in sentence.tokens.enumerated() {
                let base = (b * steps + t) * F
                for (i, value) in features { scalars[base + i] = value }
                // The word feature comes first; moving it to index 0 makes the word unknown.
                if wordDropout > 0, let word = features.first?.index, word > 0,
                   Double.random(in: 0..<1, using: &generator) < wordDropout {
                    scalars[base + word] = 0
                    scalars[base] = 1
                }
            }
        }
        return (Tensor(shape: [sentences.count, steps, F], scalars: scalars), sentences.map(\.tokens.count))
    }

    /// ``batch(_:wordDropout:using:)`` without word dropout.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `sentences` is empty or a sentence
    ///   has no token.
    public func batch(_ sentences: [EncodedSentence]) throws -> (input: Tensor, lengths: [Int]) {
        var unused = SeededGenerator(seed: 0)
        return try batch(sentences, wordDropout: 0, using: &unused)
    }
}

/// A sentence as the sparse features of its tokens (see ``TokenEncoder/features(of:)``).
public struct EncodedSentence: Sendable {
    /// The non-zero `(feature index, value)` pairs of each token.
    public var tokens: [[(index: Int, value: Float)]]

    /// A sentence of the given token features.
    public init(tokens: [[(index: Int, value: Float)]]) {
        self.tokens = tokens
    }
}

/// Splits text into the tokens of the corpus: at whitespace, with a final `.`, `,`, `?`,
/// `!`, `;` or `:` split off as its own token, except for the titles of
/// ``TaggingLexicon/titles`` (`Dr.`).
public enum TaggingTokenizer {
    /// The tokens of `text`: `"Dr. Kowalski flew to Paris."` → `Dr.`, `Kowalski`, `flew`, `to`, `Paris`, `.`.
    public static func tokens(of text: String) -> [String] {
        var tokens: [String] = []
        for word in text.split(whereSeparator: \.isWhitespace).map(String.init) {
            var trailing: [String] = []
            var body = word
            while let last = body.last, ".,?!;:".contains(last), body.count > 1,
                  !TaggingLexicon.titles.contains(body) {
                trailing.insert(String(last), at: 0)
                body.removeLast()
            }
            tokens.append(body)
            tokens += trailing
        }
        return tokens
    }
}
