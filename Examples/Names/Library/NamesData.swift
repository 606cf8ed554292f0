import ExampleSupport
import Foundation
import Recurrent

/// The 57 characters the names are written with after folding: `a`–`z`, `A`–`Z` and
/// `" .,;'"`, in that order (the tutorial's `string.ascii_letters + " .,;'"`).
public enum NamesAlphabet {
    /// The characters, in index order.
    public static let letters: [Character] = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ .,;'")

    /// The number of characters, 57.
    public static var count: Int { letters.count }

    /// The index of each ASCII byte in ``letters``, or −1.
    private static let table: [Int] = {
        var table = [Int](repeating: -1, count: 128)
        for (i, c) in letters.enumerated() { table[Int(c.asciiValue!)] = i }
        return table
    }()

    /// The index of `scalar` in ``letters``, or `nil` when it is not one of them.
    public static func index(of scalar: Unicode.Scalar) -> Int? {
        guard scalar.isASCII else { return nil }
        let i = table[Int(scalar.value)]
        return i >= 0 ? i : nil
    }

    /// `name` folded to the alphabet: Unicode canonical decomposition (`é` → `e` + `◌́`),
    /// combining marks dropped, and every character outside ``letters`` dropped
    /// (`Ślusàrski` → `Slusarski`, `Núñez` → `Nunez`; `ß`, which does not decompose, is
    /// dropped) — the tutorial's `unicodeToAscii`.
    public static func fold(_ name: String) -> String {
        var result = String.UnicodeScalarView()
        // Most names are ASCII already: no decomposition needed, only the filter.
        let scalars = name.utf8.allSatisfy { $0 < 0x80 } ? name.unicodeScalars
                                                        : name.decomposedStringWithCanonicalMapping.unicodeScalars
        for scalar in scalars {
            if scalar.properties.generalCategory == .nonspacingMark { continue }
            if index(of: scalar) != nil { result.append(scalar) }
        }
        return String(result)
    }

    /// The indices in ``letters`` of the characters of an already folded `name`
    /// (characters outside the alphabet are skipped).
    public static func indices(of name: String) -> [Int] {
        name.unicodeScalars.compactMap { index(of: $0) }
    }
}

/// One name of the data set: its folded spelling, its language and its letter indices.
public struct NameSample: Sendable, Equatable {
    /// The name folded to ``NamesAlphabet``.
    public let name: String
    /// The index of its language in ``NamesDataset/languages``.
    public let language: Int
    /// The index in ``NamesAlphabet/letters`` of each character.
    public let letters: [Int]

    /// A sample of `name` (folded here) in language `language`.
    public init(name: String, language: Int) {
        self.name = NamesAlphabet.fold(name)
        self.language = language
        self.letters = NamesAlphabet.indices(of: self.name)
    }
}

/// The names data set of the PyTorch tutorial: 20,074 surnames from 18 languages, one
/// file per language (`Arabic.txt` … `Vietnamese.txt`).
///
/// Languages are numbered in file-name order. Within each file, blank lines are skipped
/// and the name with index `i` (file order, from 0) goes to the test set when `i % 5 == 0`,
/// to the training set otherwise: 16,053 training and 4,021 test names. A name that
/// folds to nothing is dropped after the split (none does in the bundled files).
public struct NamesDataset: Sendable {
    /// The language names, in file-name order.
    public let languages: [String]
    /// The training names, by language then file order.
    public let train: [NameSample]
    /// The test names, by language then file order.
    public let test: [NameSample]

    /// The data set bundled with the examples (`Resources/names`).
    ///
    /// - Throws: ``ExampleDataError`` when the folder is missing or a file unreadable.
    public static func loadBundled() throws -> NamesDataset {
        try load(from: ExampleResources.url("names", in: .module))
    }

    /// The data set in the `*.txt` files of `directory`, one language per file.
    ///
    /// - Throws: ``ExampleDataError/unreadable(path:reason:)`` when the folder or a file
    ///   cannot be read, ``ExampleDataError/invalidData(_:)`` when it holds no `.txt` file.
    public static func load(from directory: URL) throws -> NamesDataset {
        let files: [String]
        do {
            files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
                .filter { $0.hasSuffix(".txt") }
                .sorted()
        } catch {
            throw ExampleDataError.unreadable(path: directory.path, reason: error.localizedDescription)
        }
        guard !files.isEmpty else { throw ExampleDataError.invalidData("no .txt files in \(directory.path)") }
        let contents = try files.map { file in
            (language: String(file.dropLast(4)), text: try readText(directory.appendingPathComponent(file)))
        }
        return NamesDataset(files: contents)
    }

    /// The data set of the given files: `(language, file text)` in language order.
    public init(files: [(language: String, text: String)]) {
        var train: [NameSample] = [], test: [NameSample] = []
        for (language, file) in files.enumerated() {
            let names = file.text.split(whereSeparator: \.isNewline)
                .map { line in   // trimming is slow in Foundation; most lines need none
                    line.first?.isWhitespace == true || line.last?.isWhitespace == true
                        ? line.trimmingCharacters(in: .whitespaces) : String(line)
                }
                .filter { !$0.isEmpty }
            for (i, name) in names.enumerated() {
                let sample = NameSample(name: name, language: language)
                if sample.letters.isEmpty { continue }
                if i % 5 == 0 { test.append(sample) } else { train.append(sample) }
            }
        }
        languages = files.map(\.language)
        self.train = train
        self.test = test
    }

    /// The data set with at most `perLanguage` training and test names of each language
    /// (the first ones), for quick runs and tests.
    public func subset(perLanguage: Int) -> NamesDataset {
        NamesDataset(languages: languages, train: Self.firstOfEach(train, perLanguage), test: Self.firstOfEach(test, perLanguage))
    }

    private init(languages: [String], train: [NameSample], test: [NameSample]) {
        self.languages = languages
        self.train = train
        self.test = test
    }

    private static func firstOfEach(_ samples: [NameSample], _ limit: Int) -> [NameSample] {
        var seen: [Int: Int] = [:]
        return samples.filter { s in
            seen[s.language, default: 0] += 1
            return seen[s.language]! <= limit
        }
    }
}

/// One-hot encodings of names over ``NamesAlphabet``.
public enum NamesEncoding {
    /// The 57 one-hot rows, each a `(1, 57)` tensor, built once and shared: the tutorial
    /// cell's inputs, with no per-character allocation.
    public static func letterRows() -> [Tensor] {
        (0..<NamesAlphabet.count).map { i in
            var row = [Float](repeating: 0, count: NamesAlphabet.count)
            row[i] = 1
            return Tensor(shape: [1, NamesAlphabet.count], scalars: row)
        }
    }

    /// The one-hot encoding of one name, `(length, 1, 57)` (the tutorial's `lineToTensor`).
    public static func tensor(for sample: NameSample) -> Tensor {
        let c = NamesAlphabet.count
        var scalars = [Float](repeating: 0, count: sample.letters.count * c)
        for (t, letter) in sample.letters.enumerated() { scalars[t * c + letter] = 1 }
        return Tensor(shape: [sample.letters.count, 1, c], scalars: scalars)
    }

    /// A padded batch `(B, T, 57)` (batch first, `T` the longest length, zeros past each
    /// name's end) and each name's length, for a recurrent layer called with `lengths:`.
    public static func batch(_ samples: [NameSample]) -> (input: Tensor, lengths: [Int]) {
        let c = NamesAlphabet.count
        let steps = samples.map(\.letters.count).max() ?? 0
        var scalars = [Float](repeating: 0, count: samples.count * steps * c)
        for (b, sample) in samples.enumerated() {
            for (t, letter) in sample.letters.enumerated() { scalars[(b * steps + t) * c + letter] = 1 }
        }
        return (Tensor(shape: [samples.count, steps, c], scalars: scalars), samples.map(\.letters.count))
    }
}
