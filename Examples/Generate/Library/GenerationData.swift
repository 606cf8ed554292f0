import ExampleSupport
import NamesExample
import Foundation
import Recurrent

/// The token indices of the name generator: the 57 letters of ``NamesAlphabet`` (indices
/// 0–56) and one special index, 57, which is the start-of-name mark on the input side and
/// the end-of-name mark on the output side.
///
/// A name `l₀ l₁ … lₙ₋₁` is read as the inputs `SOS l₀ … lₙ₋₁` and the targets
/// `l₀ l₁ … EOS`: at every step the model predicts the next letter, or the end.
public enum GenerationTokens {
    /// The number of tokens on either side: the 57 letters and the special mark, 58.
    public static var count: Int { NamesAlphabet.count + 1 }
    /// The start-of-name input index, 57.
    public static var startOfName: Int { NamesAlphabet.count }
    /// The end-of-name output index, 57.
    public static var endOfName: Int { NamesAlphabet.count }
    /// The target index of padding, ignored by the loss (PyTorch's default `ignore_index`, −100).
    public static let padding = -100
}

/// One name as a teacher-forced sequence: the input token at every step and the token to
/// predict there.
public struct GenerationSequence: Sendable, Equatable {
    /// The language index (the conditioning of every step).
    public let language: Int
    /// The input tokens `SOS l₀ … lₙ₋₁`, `n + 1` of them.
    public let inputs: [Int]
    /// The targets `l₀ … lₙ₋₁ EOS`, `n + 1` of them.
    public let targets: [Int]

    /// The sequence of `sample` (its letters and language).
    public init(_ sample: NameSample) {
        language = sample.language
        inputs = [GenerationTokens.startOfName] + sample.letters
        targets = sample.letters + [GenerationTokens.endOfName]
    }

    /// The number of steps, `n + 1` (every step predicts one character, the last one EOS).
    public var count: Int { inputs.count }
}

/// A padded, batch-first mini-batch of names for the generator.
///
/// Each step's input is `cat(language one-hot, previous-token one-hot)`: `languageCount`
/// features, then ``GenerationTokens/count`` (58) features, one of them 1. Steps past a
/// name's end are zeros and their targets are ``GenerationTokens/padding``.
public struct GenerationBatch {
    /// The inputs `(B, T, languageCount + 58)`, `T` the longest sequence of the batch.
    public let input: Tensor
    /// The target token of every step, row-major over `(B, T)` (`B·T` of them), with
    /// ``GenerationTokens/padding`` past each sequence's end: the rows of the model's
    /// `(B·T, 58)` logits.
    public let targets: [Int]
    /// The length of each sequence (letters + 1).
    public let lengths: [Int]

    /// The number of predicted characters (targets that are not padding): `Σ lengths`.
    public var characterCount: Int { lengths.reduce(0, +) }

    /// The batch of `samples`, whose languages are indices in `0..<languageCount`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when `samples` is empty, a name has no
    ///   letter, or a language index is outside `0..<languageCount`.
    public init(_ samples: [NameSample], languageCount: Int) throws {
        guard !samples.isEmpty else { throw ExampleDataError.invalidData("a generation batch needs at least one name, got 0") }
        let sequences = samples.map(GenerationSequence.init)
        if let bad = samples.first(where: { $0.letters.isEmpty || !(0..<languageCount).contains($0.language) }) {
            throw ExampleDataError.invalidData(
                "expected a name with letters and a language in 0..<\(languageCount), got \"\(bad.name)\" of language \(bad.language)")
        }
        let steps = sequences.map(\.count).max()!
        let features = languageCount + GenerationTokens.count
        var scalars = [Float](repeating: 0, count: samples.count * steps * features)
        var targets = [Int](repeating: GenerationTokens.padding, count: samples.count * steps)
        for (b, sequence) in sequences.enumerated() {
            for t in 0..<sequence.count {
                let row = (b * steps + t) * features
                scalars[row + sequence.language] = 1
                scalars[row + languageCount + sequence.inputs[t]] = 1
                targets[b * steps + t] = sequence.targets[t]
            }
        }
        input = Tensor(shape: [samples.count, steps, features], scalars: scalars)
        self.targets = targets
        lengths = sequences.map(\.count)
    }
}

/// Why a generation request cannot be served.
public enum GenerationError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A language name that is not one of the data set's (the name, the known ones).
    case unknownLanguage(String, known: [String])
    /// A start letter outside ``NamesAlphabet``.
    case invalidStartLetter(Character)
    /// An option out of its range: the option, what was expected, what was given.
    case invalidOption(String, expected: String, got: String)

    /// The message, naming what was expected and what was given.
    public var description: String {
        switch self {
        case let .unknownLanguage(name, known):
            return "unknown language \"\(name)\"; expected one of \(known.joined(separator: ", "))"
        case let .invalidStartLetter(letter):
            return "invalid start letter \"\(letter)\"; expected letters a–z or A–Z"
        case let .invalidOption(option, expected, got):
            return "\(option): expected \(expected), got \(got)"
        }
    }
}

/// Parsing of the generator's user-facing choices.
public enum GenerationRequest {
    /// The indices in `known` of the comma-separated language names in `list`, matched
    /// without regard to case (`"russian, German"` → the indices of Russian and German),
    /// in the order given, duplicates kept once.
    ///
    /// - Throws: ``GenerationError/unknownLanguage(_:known:)`` for a name not in `known`,
    ///   ``GenerationError/invalidOption(_:expected:got:)`` for an empty list.
    public static func languages(_ list: String, known: [String]) throws -> [Int] {
        let names = list.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !names.isEmpty else {
            throw GenerationError.invalidOption("--languages", expected: "at least one language name", got: "\"\(list)\"")
        }
        var result: [Int] = []
        for name in names {
            guard let index = known.firstIndex(where: { $0.caseInsensitiveCompare(name) == .orderedSame }) else {
                throw GenerationError.unknownLanguage(name, known: known)
            }
            if !result.contains(index) { result.append(index) }
        }
        return result
    }

    /// The letter indices of the start letters in `letters`, one start per character,
    /// each upper-cased (every name of the data set starts with a capital).
    ///
    /// - Throws: ``GenerationError/invalidStartLetter(_:)`` for a character that is not an
    ///   ASCII letter, ``GenerationError/invalidOption(_:expected:got:)`` for an empty string.
    public static func startLetters(_ letters: String) throws -> [Int] {
        guard !letters.isEmpty else {
            throw GenerationError.invalidOption("--start-letters", expected: "at least one letter", got: "\"\"")
        }
        return try letters.map { character in
            guard character.isASCII, character.isLetter,
                  let scalar = character.uppercased().unicodeScalars.first,
                  let index = NamesAlphabet.index(of: scalar) else {
                throw GenerationError.invalidStartLetter(character)
            }
            return index
        }
    }
}
