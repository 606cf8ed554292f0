import ExampleSupport
import Foundation
import Recurrent

/// The recurrent layers of the `translate` example's encoder and decoder.
public enum TranslationModelKind: String, CaseIterable, Codable, Sendable {
    /// ``GRU`` encoder and decoder.
    case gru
    /// ``LSTM`` encoder and decoder (the decoder's cell state also starts from the encoder's).
    case lstm
}

/// The one-hot tensors of a batch of ``TranslationExample``s.
public enum TranslationBatch {
    /// The encoder's input: one-hot characters `(B, T, DateInputVocabulary.count)`, batch
    /// first, zero past each text's length (`T` the longest), and each text's length.
    ///
    /// - Throws: ``TranslationError/invalidOption(_:)`` for an empty batch or an empty text.
    public static func encoderInput(_ inputs: [[Int]]) throws -> (input: Tensor, lengths: [Int]) {
        guard !inputs.isEmpty else { throw TranslationError.invalidOption("expected at least one text to encode") }
        let lengths = inputs.map(\.count)
        guard let steps = lengths.max(), lengths.allSatisfy({ $0 >= 1 }) else {
            throw TranslationError.invalidOption("expected texts of at least one character")
        }
        let v = DateInputVocabulary.count
        var scalars = [Float](repeating: 0, count: inputs.count * steps * v)
        for (b, indices) in inputs.enumerated() {
            for (t, i) in indices.enumerated() { scalars[(b * steps + t) * v + i] = 1 }
        }
        return (Tensor(shape: [inputs.count, steps, v], scalars: scalars), lengths)
    }

    /// The decoder's teacher-forced input `(B, 10, ISOVocabulary.inputCount)`: at step 0 the
    /// start token, at step `t > 0` the target's character `t − 1`, one-hot.
    public static func teacherForcedInput(_ examples: [TranslationExample]) -> Tensor {
        let v = ISOVocabulary.inputCount, steps = ISOVocabulary.length
        var scalars = [Float](repeating: 0, count: examples.count * steps * v)
        for (b, example) in examples.enumerated() {
            scalars[(b * steps) * v + ISOVocabulary.startToken] = 1
            for t in 1..<steps { scalars[(b * steps + t) * v + example.targetClasses[t - 1]] = 1 }
        }
        return Tensor(shape: [examples.count, steps, v], scalars: scalars)
    }

    /// The target classes of every step of every example, example after example
    /// (`B · 10` values, the rows of the decoder's logits).
    public static func targets(_ examples: [TranslationExample]) -> [Int] {
        examples.flatMap(\.targetClasses)
    }
}

/// The encoder–decoder that translates written dates to ISO dates.
///
/// - The **encoder** is a bidirectional GRU or LSTM over the one-hot characters of the text
///   `(B, T, 68)`; its **summary** `s = [h_fwd; h_rev]` `(B, 2H)` joins the final states of
///   its two directions (the forward one at each text's own length).
/// - The **decoder**'s state starts from `h₀ = tanh(bridge(s))` (and, for an LSTM,
///   `c₀ = cellBridge([c_fwd; c_rev])`). At step `t` it reads the one-hot previous character
///   (the start token at step 0) joined with `s`, `(B, 12 + 2H)`; a `Linear(H, 11)` head
///   gives the logits of the next character.
///
/// Training feeds the target's own characters (teacher forcing) and runs the decoder fused
/// over the 10 steps (``logits(_:lengths:previous:)``); inference (``greedyDecode(_:)``)
/// feeds back its own most likely character, one step at a time through a
/// ``RecurrentStream`` over the same decoder weights.
public final class DateTranslator: Module, @unchecked Sendable {
    /// The recurrent layers' kind.
    public let kind: TranslationModelKind
    /// The hidden size `H` of the encoder (each direction) and the decoder.
    public let hiddenSize: Int
    /// The bidirectional encoder, `DateInputVocabulary.count → H` per direction.
    public let encoder: RecurrentBase
    /// `Linear(2H, H)`: the decoder's initial hidden state from the encoder's summary.
    public let bridge: Linear
    /// `Linear(2H, H)`: an LSTM decoder's initial cell state from the encoder's final cell
    /// states; `nil` for a GRU.
    public let cellBridge: Linear?
    /// The decoder, `ISOVocabulary.inputCount + 2H → H`, unidirectional.
    public let decoder: RecurrentBase
    /// `Linear(H, ISOVocabulary.classCount)`: the logits of each output character.
    public let head: Linear

    /// A freshly initialised translator; the recurrent layers draw from `seed`, the linear
    /// layers from the default random stream (seed it first for reproducible runs).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a hidden size below 1.
    public init(kind: TranslationModelKind, hiddenSize: Int, seed: UInt64) throws {
        self.kind = kind
        self.hiddenSize = hiddenSize
        let input = DateInputVocabulary.count, decoderInput = ISOVocabulary.inputCount + 2 * hiddenSize
        switch kind {
        case .gru:
            encoder = try GRU(inputSize: input, hiddenSize: hiddenSize, batchFirst: true, bidirectional: true, seed: seed)
            decoder = try GRU(inputSize: decoderInput, hiddenSize: hiddenSize, batchFirst: true, seed: seed &+ 1)
            cellBridge = nil
        case .lstm:
            encoder = try LSTM(inputSize: input, hiddenSize: hiddenSize, batchFirst: true, bidirectional: true, seed: seed)
            decoder = try LSTM(inputSize: decoderInput, hiddenSize: hiddenSize, batchFirst: true, seed: seed &+ 1)
            cellBridge = try Linear(inFeatures: 2 * hiddenSize, outFeatures: hiddenSize)
        }
        bridge = try Linear(inFeatures: 2 * hiddenSize, outFeatures: hiddenSize)
        head = try Linear(inFeatures: hiddenSize, outFeatures: ISOVocabulary.classCount)
        super.init()
    }

    /// The encoder's summary `(B, 2H)` and the decoder's initial state `h₀` `(1, B, H)`
    /// (and `c₀` `(1, B, H)` for an LSTM) for a one-hot input `(B, T, 68)`.
    ///
    /// - Throws: ``TensorError`` when the shapes or lengths do not fit.
    public func encode(_ input: Tensor, lengths: [Int]) throws -> (summary: Tensor, h0: Tensor, c0: Tensor?) {
        let batch = input.shape[0]
        let hN: Tensor, cN: Tensor?
        switch encoder {
        case let gru as GRU: (_, hN) = try gru(input, nil, lengths: lengths); cN = nil
        case let lstm as LSTM:
            let result = try lstm(input, nil, lengths: lengths)
            (hN, cN) = (result.state.h, result.state.c)
        default: throw TensorError.invalidArgument("DateTranslator: unsupported encoder \(type(of: encoder))")
        }
        func joined(_ state: Tensor) throws -> Tensor {
            try Tensor.cat([encoder.finalState(state, direction: .forward), encoder.finalState(state, direction: .reverse)], dim: 1)
        }
        let summary = try joined(hN)
        let h0 = try bridge(summary).tanh().reshaped([1, batch, hiddenSize])
        var c0: Tensor?
        if let cN, let cellBridge { c0 = try cellBridge(joined(cN)).reshaped([1, batch, hiddenSize]) }
        return (summary, h0, c0)
    }

    /// The logits `(B · 10, 11)` of every output step (rows example after example) for
    /// one-hot texts `(B, T, 68)` and the decoder's one-hot previous characters
    /// `(B, 10, 12)` (teacher forcing: ``TranslationBatch/teacherForcedInput(_:)``).
    ///
    /// - Throws: ``TensorError`` when the shapes or lengths do not fit.
    public func logits(_ input: Tensor, lengths: [Int], previous: Tensor) throws -> Tensor {
        let batch = input.shape[0], steps = previous.shape[1]
        let (summary, h0, c0) = try encode(input, lengths: lengths)
        let repeated = try summary.reshaped([batch, 1, 2 * hiddenSize]) + Tensor(zeros: [batch, steps, 2 * hiddenSize])
        let decoderInput = try Tensor.cat([previous, repeated], dim: 2)
        let output: Tensor
        switch decoder {
        case let gru as GRU: output = try gru(decoderInput, h0).output
        case let lstm as LSTM:
            guard let c0 else { throw TensorError.invalidArgument("DateTranslator: an LSTM decoder needs a cell state") }
            output = try lstm(decoderInput, LSTMState(h: h0, c: c0)).output
        default: throw TensorError.invalidArgument("DateTranslator: unsupported decoder \(type(of: decoder))")
        }
        return try head(output).reshaped([batch * steps, ISOVocabulary.classCount])
    }

    /// The greedy translation of each encoded text (``TranslationExample/input`` or
    /// ``DateInputVocabulary/encode(_:)``): 10 output classes each, every step feeding back
    /// the most likely character of the step before (no gradients recorded). Texts are
    /// decoded together, `batchSize` at a time.
    ///
    /// - Throws: ``TranslationError/invalidOption(_:)`` for an empty text; ``TensorError``
    ///   on a shape error (a bug).
    public func greedyDecode(_ inputs: [[Int]], batchSize: Int = 1024) throws -> [[Int]] {
        guard batchSize >= 1 else { throw TranslationError.invalidOption("expected a batch size of at least 1, got \(batchSize)") }
        return try withoutGradients {
            var result: [[Int]] = []
            result.reserveCapacity(inputs.count)
            var start = 0
            while start < inputs.count {
                let chunk = Array(inputs[start..<min(start + batchSize, inputs.count)])
                result += try decodeChunk(chunk)
                start += batchSize
            }
            return result
        }
    }

    private func decodeChunk(_ inputs: [[Int]]) throws -> [[Int]] {
        let (input, lengths) = try TranslationBatch.encoderInput(inputs)
        let batch = inputs.count, width = 2 * hiddenSize, v = ISOVocabulary.inputCount, classes = ISOVocabulary.classCount
        let (summary, h0, c0) = try encode(input, lengths: lengths)
        let stream = try RecurrentStream(decoder, batchSize: batch)
        try stream.setState(hidden: h0, cell: c0)
        let context = summary.scalars
        // Each row: the one-hot previous character, then the summary (which never changes).
        var rows = [Float](repeating: 0, count: batch * (v + width))
        for b in 0..<batch {
            rows[b * (v + width) + ISOVocabulary.startToken] = 1
            for k in 0..<width { rows[b * (v + width) + v + k] = context[b * width + k] }
        }
        var previous = [Int](repeating: ISOVocabulary.startToken, count: batch)
        var output = [[Int]](repeating: [], count: batch)
        for _ in 0..<ISOVocabulary.length {
            let hidden = try stream.step(Tensor(shape: [batch, v + width], scalars: rows))
            let scores = try head(hidden).scalars
            for b in 0..<batch {
                var best = 0
                for k in 1..<classes where scores[b * classes + k] > scores[b * classes + best] { best = k }
                output[b].append(best)
                rows[b * (v + width) + previous[b]] = 0
                rows[b * (v + width) + best] = 1
                previous[b] = best
            }
        }
        return output
    }

    /// The ISO translation of each text, by greedy decoding.
    ///
    /// - Throws: ``TranslationError/unknownCharacter(_:text:)`` when a text has a character
    ///   outside ``DateInputVocabulary``, ``TranslationError/invalidOption(_:)`` for an
    ///   empty text.
    public func translate(_ texts: [String]) throws -> [String] {
        let inputs = try texts.map { text -> [Int] in
            guard !text.isEmpty else { throw TranslationError.invalidOption("expected a date to translate, got an empty string") }
            return try DateInputVocabulary.encode(text)
        }
        return try greedyDecode(inputs).map(ISOVocabulary.decode)
    }

    /// Saves the parameters as a safetensors state dict, with the kind, the hidden size and
    /// the data set's `seed`, `trainSize` and `testDates` in its metadata, so that
    /// ``load(from:)`` rebuilds the model and the loader can rebuild the same held-out dates.
    ///
    /// - Throws: ``SafeTensorsError`` when the file cannot be written, or the file system's
    ///   error when its folder cannot be made.
    public func save(to url: URL, seed: UInt64, trainSize: Int, testDates: Int) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try saveStateDict(to: url, metadata: [
            "format": "pt", "task": "translate", "model": kind.rawValue, "hidden_size": String(hiddenSize),
            "seed": String(seed), "train_size": String(trainSize), "test_dates": String(testDates),
        ])
    }

    /// A translator saved by ``save(to:seed:trainSize:testDates:)`` and the data set it was
    /// trained on (its seed and sizes).
    ///
    /// The metadata is checked against the file's tensors before the model is built: the
    /// head `head.weight` must be `(classes, hidden_size)`.
    ///
    /// - Throws: ``ExampleDataError`` when the file is missing, is not a translator saved by
    ///   `translate --save`, or its metadata disagrees with its tensors; the library's
    ///   ``SafeTensorsError`` or ``StateDictError`` when its tensors do not fit the model.
    public static func load(from url: URL) throws -> (model: DateTranslator, seed: UInt64, trainSize: Int, testDates: Int) {
        let file = try ModelFile(url: url, task: "translate")
        let kind = try file.choice("model", as: TranslationModelKind.self)
        let hidden = try file.integer("hidden_size", in: 1...(1 << 20))
        let seedText = try file.string("seed")
        guard let seed = UInt64(seedText) else {
            throw ExampleDataError.invalidData("\(url.path): expected \"seed\" to be a whole number ≥ 0, got \"\(seedText)\"")
        }
        let trainSize = try file.integer("train_size", in: 1...Int.max)
        let testDates = try file.integer("test_dates", in: 1...(TranslationDataset.dayCount - 1))
        try file.requireShape("head.weight", [ISOVocabulary.classCount, hidden])
        let model = try DateTranslator(kind: kind, hiddenSize: hidden, seed: 0)
        try file.load(into: model)
        return (model, seed, trainSize, testDates)
    }
}
