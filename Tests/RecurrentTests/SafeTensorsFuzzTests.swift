import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// Seeded random mutations of valid safetensors files: the reader must return or throw a
/// ``SafeTensorsError`` on every input, never trap or throw anything else.
///
/// The iteration count and seed come from `SAFETENSORS_FUZZ_ITERATIONS` and
/// `SAFETENSORS_FUZZ_SEED` (defaults: a CI-sized run, about 2 s in a debug build). For a long
/// campaign use `Scripts/fuzz_safetensors.sh`, which also runs a libFuzzer harness
/// (`Fuzz/SafeTensorsFuzzer`).
final class SafeTensorsFuzzTests: XCTestCase {
    /// Valid files to mutate: every written dtype, metadata, zero-sized and scalar tensors,
    /// odd names, and the PyTorch-written fixtures.
    static func corpus() throws -> [[UInt8]] {
        var generator = SeededGenerator(seed: 99)
        var files: [[UInt8]] = []
        let tensors: [String: Tensor] = [
            "weight": Tensor(uniform: [3, 4], low: -2, high: 2, using: &generator),
            "bias": Tensor(uniform: [4], low: -2, high: 2, using: &generator),
            "empty": Tensor(zeros: [0, 5]),
            "scalar": Tensor(1.5),
            "naïve \"name\"\n": Tensor(shape: [2, 1], scalars: [.nan, -.infinity]),
        ]
        for dtype in SafeTensors.DType.allCases where dtype.isWritable {
            files.append(Array(try SafeTensors.encode(tensors, metadata: ["format": "pt", "k\u{1}": "v\\\""], dtype: dtype)))
        }
        files.append(Array(try SafeTensors.encode(["only": Tensor(zeros: [1])])))
        files.append(Array(try SafeTensors.encode([:])))
        let directory = SafeTensorsTests.fixtureDirectory
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            where name.hasSuffix(".safetensors") && !name.hasPrefix("lstm") {
            files.append(Array(try Data(contentsOf: directory.appendingPathComponent(name))))
        }
        return files
    }

    /// JSON fragments and numbers that reach the reader's checks.
    static let tokens: [String] = [
        "{", "}", "[", "]", ",", ":", "\"", "\\", "\\u", "\\ud800", "\\udc00", "null", "true", "-", "0", "1",
        "-1", "1e3", "0.5", "18446744073709551616", "9223372036854775807", "-9223372036854775808",
        "4294967296", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "\"F32\"", "\"F16\"",
        "\"BF16\"", "\"F64\"", "\"I64\"", "\"BOOL\"", "\"F8_E4M3\"", "\"F4\"", "\"X\"", "[]", "{}", "[0,0]",
        "[0,4]", "[4,0]", "[1,1,1]", " ", "\n", "\u{0}", "\u{FF}",
    ]

    /// Applies one random mutation to `bytes`.
    static func mutate(_ bytes: inout [UInt8], _ g: inout SeededGenerator) {
        func random(_ n: Int) -> Int { n <= 0 ? 0 : Int(g.next() % UInt64(n)) }
        let interesting: [UInt8] = [0, 1, 0x7F, 0x80, 0xFF, 0x20, 0x22, 0x2C, 0x2D, 0x30, 0x31, 0x39, 0x3A, 0x5B, 0x5C, 0x5D, 0x65, 0x7B, 0x7D]
        switch random(12) {
        case 0 where !bytes.isEmpty:  // flip a bit
            bytes[random(bytes.count)] ^= UInt8(1) << UInt8(random(8))
        case 1 where !bytes.isEmpty:  // a random or interesting byte
            bytes[random(bytes.count)] = random(2) == 0 ? UInt8(truncatingIfNeeded: g.next()) : interesting[random(interesting.count)]
        case 2:  // truncate
            bytes.removeLast(random(bytes.count + 1))
        case 3:  // append random bytes
            bytes += (0..<random(64)).map { _ in UInt8(truncatingIfNeeded: g.next()) }
        case 4 where !bytes.isEmpty:  // delete a span
            let start = random(bytes.count)
            bytes.removeSubrange(start..<min(bytes.count, start + 1 + random(16)))
        case 5 where !bytes.isEmpty:  // duplicate a span somewhere
            let start = random(bytes.count)
            let span = Array(bytes[start..<min(bytes.count, start + 1 + random(32))])
            bytes.insert(contentsOf: span, at: random(bytes.count + 1))
        case 6 where bytes.count >= 8:  // rewrite the length field
            let current = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            let choices: [UInt64] = [0, 1, 2, current &+ 1, current &- 1, current &+ UInt64(random(64)), current &- UInt64(random(64)),
                                     UInt64(bytes.count - 8), UInt64(bytes.count), 100_000_000, 100_000_001, .max, 1 << 63, g.next()]
            let value = choices[random(choices.count)].littleEndian
            withUnsafeBytes(of: value) { for i in 0..<8 { bytes[i] = $0[i] } }
        default:  // edit the header text and fix the length field so the edit reaches the parser
            guard bytes.count >= 8 else { bytes += [UInt8](repeating: 0, count: 8 - bytes.count); return }
            let declared = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
            let length = Int(min(declared, UInt64(bytes.count - 8)))
            var header = Array(bytes[8..<(8 + length)])
            let data = Array(bytes[(8 + length)...])
            let token = Array(tokens[random(tokens.count)].utf8)
            switch random(4) {
            case 0:  // insert a token
                header.insert(contentsOf: token, at: random(header.count + 1))
            case 1 where !header.isEmpty:  // replace a span with a token
                let start = random(header.count)
                header.replaceSubrange(start..<min(header.count, start + 1 + random(8)), with: token)
            case 2:  // change a number
                let digits = header.indices.filter { header[$0] >= 0x30 && header[$0] <= 0x39 }
                guard let at = digits.isEmpty ? nil : digits[random(digits.count)] else { break }
                var end = at
                while end < header.count, header[end] >= 0x30 && header[end] <= 0x39 { end += 1 }
                let numbers = ["0", "1", "\(random(1 << 20))", "-\(random(100))", "99999999999999999999", "\(Int.max)", "1.0"]
                header.replaceSubrange(at..<end, with: Array(numbers[random(numbers.count)].utf8))
            default:  // swap two spans
                guard header.count > 4 else { break }
                let a = random(header.count - 2), b = random(header.count - 2)
                header.swapAt(a, b)
            }
            var rebuilt: [UInt8] = []
            withUnsafeBytes(of: UInt64(header.count).littleEndian) { rebuilt += $0 }
            bytes = rebuilt + header + (random(4) == 0 ? Array(data.prefix(random(data.count + 1))) : data)
        }
    }

    /// Reads `bytes`; returns whether they were accepted, or `nil` for any error that is not
    /// a `SafeTensorsError` or an accepted file that does not survive a write-and-read round
    /// trip with the same names, shapes, values and metadata (a trap would end the process).
    static func exercise(_ bytes: [UInt8]) -> Bool? {
        do {
            let file = try SafeTensorsFile(data: Data(bytes))
            let copy = try SafeTensorsFile(data: try SafeTensors.encode(file.tensors, metadata: file.metadata))
            guard copy.metadata == file.metadata, Set(copy.names) == Set(file.names) else { return nil }
            for (name, t) in file.tensors {
                guard let other = copy.tensors[name], other.shape == t.shape,
                      zip(other.scalars, t.scalars).allSatisfy({ $0.bitPattern == $1.bitPattern }) else { return nil }
            }
            return true
        } catch is SafeTensorsError {
            return false
        } catch {
            return nil
        }
    }

    func testRandomMutationsOnlyReturnOrThrow() throws {
        let environment = ProcessInfo.processInfo.environment
        let iterations = environment["SAFETENSORS_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 5_000
        let seed = environment["SAFETENSORS_FUZZ_SEED"].flatMap(UInt64.init) ?? 0x5AFE_7E45
        var g = SeededGenerator(seed: seed)
        let corpus = try Self.corpus()
        for file in corpus { XCTAssertEqual(Self.exercise(file), true, "the unmutated corpus is valid") }
        var accepted = 0, rejected = 0
        let start = Date()
        for iteration in 0..<iterations {
            var bytes = corpus[Int(g.next() % UInt64(corpus.count))]
            for _ in 0...(g.next() % 4) { Self.mutate(&bytes, &g) }
            switch Self.exercise(bytes) {
            case true?: accepted += 1
            case false?: rejected += 1
            case nil: XCTFail("iteration \(iteration) (seed \(seed)): an error that is not a SafeTensorsError, or a failed round trip")
            }
        }
        let seconds = Date().timeIntervalSince(start)
        print("safetensors fuzz: seed \(seed), \(iterations) inputs in \(String(format: "%.2f", seconds)) s: \(accepted) accepted, \(rejected) rejected, 0 crashes")
        XCTAssertGreaterThan(rejected, iterations / 4, "most mutations should be caught")
    }
}
