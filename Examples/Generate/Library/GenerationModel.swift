import ExampleSupport
import NamesExample
import Foundation
import Recurrent

/// A character-level name generator conditioned on the language — the model of PyTorch's
/// "generating names with a character-level RNN" tutorial, on the library's fused layers:
///
/// ```python
/// out, _ = self.rnn(x)      # x: (B, T, languages + 58), cat(language, previous token)
/// return self.fc(out)       # (B, T, 58): the next letter, or EOS
/// ```
///
/// Trained with teacher forcing on whole padded batches (``GenerationBatch``); sampled one
/// step at a time through a ``RecurrentStream`` (``generate(_:temperature:maxLength:using:)``).
public final class NameGenerator: Module, @unchecked Sendable {
    /// The recurrent layer (`rnn.weight_ih_l0`, …), batch first.
    public let rnn: RecurrentBase
    /// The head from the hidden state to the 58 token logits (`fc.weight`, `fc.bias`).
    public let fc: Linear
    /// The recurrent layer's kind.
    public let kind: CellKindOption
    /// The hidden size.
    public let hiddenSize: Int
    /// The language of each conditioning index.
    public let languages: [String]
    /// The dropout probability on the recurrent outputs before the head, in training mode
    /// only (``Module/train(_:)``); 0 for none.
    public let dropout: Float
    /// The source of the dropout masks.
    private var dropoutGenerator: SeededGenerator

    /// The number of input features per step: the languages and the 58 tokens.
    public var inputSize: Int { languages.count + GenerationTokens.count }

    /// A freshly initialised generator: the layer draws its weights from `seed`, the head
    /// from a generator seeded with `seed + 1`, the dropout masks from one seeded with `seed + 2`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a hidden size below 1,
    ///   ``GenerationError/invalidOption(_:expected:got:)`` for no language or a dropout
    ///   probability outside `[0, 1)`.
    public init(kind: CellKindOption, hiddenSize: Int, languages: [String], dropout: Float = 0, seed: UInt64) throws {
        guard !languages.isEmpty else {
            throw GenerationError.invalidOption("languages", expected: "at least one language", got: "none")
        }
        guard dropout >= 0, dropout < 1 else {
            throw GenerationError.invalidOption("dropout", expected: "a probability in [0, 1)", got: "\(dropout)")
        }
        self.dropout = dropout
        dropoutGenerator = SeededGenerator(seed: seed &+ 2)
        self.kind = kind
        self.hiddenSize = hiddenSize
        self.languages = languages
        rnn = try kind.makeLayer(inputSize: languages.count + GenerationTokens.count, hiddenSize: hiddenSize, seed: seed)
        var generator = SeededGenerator(seed: seed &+ 1)
        fc = try Linear(inFeatures: hiddenSize, outFeatures: GenerationTokens.count, using: &generator)
        super.init()
    }

    /// The logits `(B·T, 58)` of every step of a batch-first input `(B, T, inputSize)`,
    /// row `b·T + t` for step `t` of sequence `b` (the order of ``GenerationBatch/targets``).
    /// In training mode the recurrent outputs go through ``dropout`` first.
    ///
    /// - Throws: ``TensorError`` when the shapes or lengths do not fit.
    public func logits(_ input: Tensor, lengths: [Int]? = nil) throws -> Tensor {
        let (output, _) = try runRecurrent(rnn, input, lengths: lengths)
        let features = try output.reshaped([-1, hiddenSize])
            .dropout(p: dropout, training: isTraining, using: &dropoutGenerator)
        return try fc(features)
    }

    /// The masked cross-entropy of `batch`: the mean (or sum) over its predicted characters
    /// of `−log P(target)`, padding steps ignored. A scalar, recorded for gradients unless
    /// inside ``withoutGradients(_:)``.
    ///
    /// - Throws: ``TensorError`` when the batch does not fit the model (its feature count
    ///   is not ``inputSize``).
    public func loss(_ batch: GenerationBatch, reduction: Reduction = .mean) throws -> Tensor {
        try crossEntropy(logits(batch.input, lengths: batch.lengths), target: batch.targets,
                         ignoreIndex: GenerationTokens.padding, reduction: reduction)
    }

    /// Saves the parameters as a safetensors state dict, with the kind, hidden size and
    /// languages in its metadata.
    ///
    /// - Throws: ``SafeTensorsError`` when the file cannot be written, or the file
    ///   system's error when its folder cannot be made.
    public func save(to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try saveStateDict(to: url, metadata: [
            "format": "pt", "model": kind.rawValue, "hidden_size": String(hiddenSize),
            "languages": languages.joined(separator: ","), "dropout": String(dropout), "task": "generate",
        ])
    }
}

extension NameGenerator {
    /// A generator saved by ``save(to:)``, in evaluation mode.
    ///
    /// The metadata is checked against the file's tensors before the model is built: the
    /// head `fc.weight` must be `(58, hidden_size)` and the layer's `weight_ih_l0` must read
    /// the languages and the 58 tokens.
    ///
    /// - Throws: ``ExampleDataError`` when the file is missing, is not a generator saved by
    ///   `generate --save`, or its metadata disagrees with its tensors; the library's
    ///   ``SafeTensorsError`` or ``StateDictError`` when its tensors do not fit the model.
    public static func load(from url: URL) throws -> NameGenerator {
        let file = try ModelFile(url: url, task: "generate")
        let kind = try file.choice("model", as: CellKindOption.self)
        let hidden = try file.integer("hidden_size", in: 1...(1 << 20))
        let languages = try file.string("languages").split(separator: ",", omittingEmptySubsequences: false).map(String.init)
        guard !languages.isEmpty, !languages.contains(""), Set(languages).count == languages.count else {
            throw ExampleDataError.invalidData("\(url.path): expected distinct, non-empty languages in the metadata, got \(languages)")
        }
        let dropoutText = try file.string("dropout")
        guard let dropout = Float(dropoutText), dropout >= 0, dropout < 1 else {
            throw ExampleDataError.invalidData("\(url.path): expected \"dropout\" to be a probability in [0, 1), got \"\(dropoutText)\"")
        }
        try file.requireShape("fc.weight", [GenerationTokens.count, hidden])
        guard let input = file.header.entries.first(where: { $0.name == "rnn.weight_ih_l0" }), input.shape.count == 2,
              input.shape[1] == languages.count + GenerationTokens.count else {
            throw ExampleDataError.invalidData("\(url.path): expected rnn.weight_ih_l0 to read \(languages.count) languages + \(GenerationTokens.count) tokens")
        }
        let model = try NameGenerator(kind: kind, hiddenSize: hidden, languages: languages, dropout: dropout, seed: 0)
        try file.load(into: model)
        model.eval()
        return model
    }
}

/// The mean negative log-likelihood per predicted character (nats/char) of `model` on
/// `samples`: `Σ −log P(target)` over every letter and the end of every name, divided by
/// the number of those characters (padding excluded), computed in batches of `batchSize`
/// without recording gradients, in evaluation mode (no dropout). NaN for no sample.
///
/// - Throws: ``ExampleDataError/invalidData(_:)`` for a name without letters or a
///   language out of range; ``TensorError`` on a shape error (a bug).
public func heldOutLoss(_ model: NameGenerator, on samples: [NameSample], batchSize: Int = 512) throws -> Double {
    let wasTraining = model.isTraining
    model.eval()
    defer { model.train(wasTraining) }
    return try withoutGradients {
        var total = 0.0, count = 0
        var start = 0
        while start < samples.count {
            let batch = try GenerationBatch(Array(samples[start..<min(start + max(batchSize, 1), samples.count)]),
                                            languageCount: model.languages.count)
            total += Double(try model.loss(batch, reduction: .sum).item)
            count += batch.characterCount
            start += max(batchSize, 1)
        }
        return count > 0 ? total / Double(count) : .nan
    }
}

/// What to generate: a language and the letters the name starts with.
public struct GenerationPrompt: Sendable, Equatable {
    /// The language index.
    public var language: Int
    /// The letter indices the name starts with (forced, then continued by sampling); may be
    /// empty, then the first letter is sampled too.
    public var prefix: [Int]

    /// A prompt for `language` starting with the letters `prefix`.
    public init(language: Int, prefix: [Int]) {
        self.language = language
        self.prefix = prefix
    }
}

extension NameGenerator {
    /// Generates one name per prompt, all prompts advanced together as one batch through a
    /// ``RecurrentStream`` over ``rnn``.
    ///
    /// Each row starts from the start-of-name token; its prefix letters are fed in turn
    /// (teacher-forced), then each next token is drawn from `softmax(logits / temperature)`
    /// (the argmax when `temperature` is 0) until the end-of-name token or `maxLength`
    /// letters. The draws come from `generator`, in row order, so the result is a function
    /// of the weights, the prompts, the temperature and the generator's state.
    ///
    /// - Parameters:
    ///   - prompts: the languages and start letters, one name each.
    ///   - temperature: ≥ 0; below 1 sharpens the distribution, above 1 flattens it, 0
    ///     takes the most likely token.
    ///   - maxLength: the longest name in letters, prefix included (≥ the longest prefix).
    /// - Returns: the names, in the order of `prompts` (prefix included).
    /// - Throws: ``GenerationError/invalidOption(_:expected:got:)`` for a negative or
    ///   non-finite temperature, a `maxLength` shorter than a prefix or below 1, or a prompt
    ///   whose language or letters are out of range.
    public func generate(_ prompts: [GenerationPrompt], temperature: Float, maxLength: Int = 20,
                         using generator: inout SeededGenerator) throws -> [String] {
        guard temperature >= 0, temperature.isFinite else {
            throw GenerationError.invalidOption("temperature", expected: "a finite value ≥ 0", got: "\(temperature)")
        }
        let longestPrefix = prompts.map(\.prefix.count).max() ?? 0
        guard maxLength >= max(1, longestPrefix) else {
            throw GenerationError.invalidOption("maxLength", expected: "at least \(max(1, longestPrefix))", got: "\(maxLength)")
        }
        for prompt in prompts {
            guard languages.indices.contains(prompt.language),
                  prompt.prefix.allSatisfy({ (0..<NamesAlphabet.count).contains($0) }) else {
                throw GenerationError.invalidOption(
                    "prompt", expected: "a language in 0..<\(languages.count) and letters in 0..<\(NamesAlphabet.count)",
                    got: "language \(prompt.language), letters \(prompt.prefix)")
            }
        }
        if prompts.isEmpty { return [] }

        return try withoutGradients {
            let B = prompts.count, L = languages.count, features = inputSize
            let stream = try RecurrentStream(rnn, batchSize: B)
            var letters = [[Int]](repeating: [], count: B)
            var done = [Bool](repeating: false, count: B)
            var previous = [Int](repeating: GenerationTokens.startOfName, count: B)
            var step = 0
            while done.contains(false) {
                var input = [Float](repeating: 0, count: B * features)
                for b in 0..<B {
                    input[b * features + prompts[b].language] = 1
                    input[b * features + L + previous[b]] = 1
                }
                let hidden = try stream.step(Tensor(shape: [B, features], scalars: input))
                let logits = try fc(hidden)
                // The temperature acts on the whole batch at once; only the draw is per row.
                let choices = temperature > 0
                    ? try (logits * (1 / temperature)).softmax(dim: 1).multinomial(using: &generator)
                    : try logits.argmax(dim: 1)
                for b in 0..<B where !done[b] {
                    let next = step < prompts[b].prefix.count ? prompts[b].prefix[step] : choices[b]
                    if next == GenerationTokens.endOfName {
                        done[b] = true
                    } else {
                        letters[b].append(next)
                        previous[b] = next
                        if letters[b].count >= maxLength { done[b] = true }
                    }
                }
                step += 1
            }
            return letters.map { String($0.map { NamesAlphabet.letters[$0] }) }
        }
    }
}
