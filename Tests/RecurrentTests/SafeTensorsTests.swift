import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

// MARK: - The PyTorch models of Scripts/export_safetensors_fixtures.py

/// `nn.LSTM(4, 8, num_layers=2, batch_first=True)` and `nn.Linear(8, 3)` on the last step.
final class SafeTensorsLSTMClassifier: Module, @unchecked Sendable {
    let lstm: LSTM
    let fc: Linear

    init(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed &+ 1)
        lstm = try LSTM(inputSize: 4, hiddenSize: 8, numLayers: 2, batchFirst: true, seed: seed)
        fc = try Linear(inFeatures: 8, outFeatures: 3, using: &generator)
        super.init()
    }

    /// `(N, L, 4)` → `(N, 3)`.
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (out, _) = try lstm(x)
        return try fc(out.select(dim: 1, index: out.shape[1] - 1))
    }
}

/// `nn.GRU(3, 5, num_layers=2, bidirectional=True)` (sequence first) and `nn.Linear(10, 2)`
/// on the last step.
final class SafeTensorsGRUClassifier: Module, @unchecked Sendable {
    let gru: GRU
    let fc: Linear

    init(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed &+ 1)
        gru = try GRU(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true, seed: seed)
        fc = try Linear(inFeatures: 10, outFeatures: 2, using: &generator)
        super.init()
    }

    /// `(L, N, 3)` → `(N, 2)`.
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (out, _) = try gru(x)
        return try fc(out.select(dim: 0, index: out.shape[0] - 1))
    }
}

/// `nn.RNN(4, 6, nonlinearity="relu", bias=False, batch_first=True)` and `nn.Linear(6, 1)`.
final class SafeTensorsRNNRegressor: Module, @unchecked Sendable {
    let rnn: RNN
    let fc: Linear

    init(seed: UInt64) throws {
        var generator = SeededGenerator(seed: seed &+ 1)
        rnn = try RNN(inputSize: 4, hiddenSize: 6, nonlinearity: .relu, bias: false, batchFirst: true, seed: seed)
        fc = try Linear(inFeatures: 6, outFeatures: 1, using: &generator)
        super.init()
    }

    /// `(N, L, 4)` → `(N, 1)`.
    func callAsFunction(_ x: Tensor) throws -> Tensor {
        let (out, _) = try rnn(x)
        return try fc(out.select(dim: 1, index: out.shape[1] - 1))
    }
}

/// The safetensors reader and writer: round trips in every writable dtype and shape, the
/// files PyTorch wrote (`Fixtures/safetensors`, from `Scripts/export_safetensors_fixtures.py`),
/// PyTorch-trained models, and every kind of malformed file.
final class SafeTensorsTests: XCTestCase {
    // MARK: Helpers

    static var fixtureDirectory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Fixtures").appendingPathComponent("safetensors")
    }

    static func fixtureURL(_ name: String) -> URL {
        fixtureDirectory.appendingPathComponent(name)
    }

    static func json(_ name: String) throws -> [String: Any] {
        let data = try Data(contentsOf: fixtureURL(name))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// A fixture tensor `{"shape", "data"}` whose data may hold "nan", "inf", "-inf".
    static func tensor(_ object: Any?) throws -> Tensor {
        let object = try XCTUnwrap(object as? [String: Any])
        let shape = try XCTUnwrap(object["shape"] as? [Int])
        let data = try XCTUnwrap(object["data"] as? [Any])
        let scalars: [Float] = try data.map {
            if let n = $0 as? NSNumber { return n.floatValue }
            switch $0 as? String {
            case "nan": return .nan
            case "inf": return .infinity
            case "-inf": return -.infinity
            default: throw TensorError.invalidArgument("bad fixture value \($0)")
            }
        }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// Same bits, or both NaN.
    func assertIdentical(_ actual: [Float], _ expected: [Float], _ message: String,
                         file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, message, file: file, line: line)
        let sameBits = actual.count == expected.count && actual.withUnsafeBytes { a in
            expected.withUnsafeBytes { e in a.count == 0 || memcmp(a.baseAddress!, e.baseAddress!, a.count) == 0 }
        }
        if sameBits { return }
        for (i, (a, e)) in zip(actual, expected).enumerated() where !(a.isNaN && e.isNaN) && a.bitPattern != e.bitPattern {
            XCTFail("\(message): element \(i) is \(a), expected \(e)", file: file, line: line)
            return
        }
    }

    var temporaryDirectory: URL!

    override func setUpWithError() throws {
        temporaryDirectory = FileManager.default.temporaryDirectory
            .appendingPathComponent("SafeTensorsTests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: temporaryDirectory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: temporaryDirectory)
    }

    /// Values with every kind of float: random, signed zeros, infinities, NaN, extremes,
    /// subnormals, and ties for the 16-bit formats.
    static func interestingValues(count: Int, generator: inout SeededGenerator) -> [Float] {
        let specials: [Float] = [0, -0.0, 1, -1, .infinity, -.infinity, .nan, 65504, 65519, 65520, 1e-8, 5.9604645e-08,
                                 2.9802322e-08, 1.00048828125, 1.00146484375, 1.0009765625, .greatestFiniteMagnitude,
                                 -.leastNonzeroMagnitude, .leastNormalMagnitude, 3.3895314e38, 0.1, -123456.789]
        return (0..<count).map { i in
            i < specials.count ? specials[i] : Float(bitPattern: UInt32(truncatingIfNeeded: generator.next()))
        }
    }

    /// What a value reads back as after being stored in `dtype`.
    static func stored(_ v: Float, _ dtype: SafeTensors.DType) -> Float {
        switch dtype {
        case .f16: return ScalarConversion.float(fromHalf: ScalarConversion.half(from: v))
        case .bf16: return ScalarConversion.float(fromBFloat16: ScalarConversion.bfloat16(from: v))
        default: return v
        }
    }

    // MARK: Round trips

    func testRoundTripEveryWritableDtypeAndShape() throws {
        var generator = SeededGenerator(seed: 7)
        let shapes: [[Int]] = [[], [0], [0, 3], [3, 0, 2], [1], [5], [2, 3], [2, 3, 4], [1, 1, 1, 40]]
        var tensors: [String: Tensor] = [:]
        for (i, shape) in shapes.enumerated() {
            let count = shape.reduce(1, *)
            tensors["t\(i).shape\(shape)"] = Tensor(shape: shape, scalars: Self.interestingValues(count: count, generator: &generator))
        }
        tensors["naïve \"name\"\n\\with/odd:chars ✓"] = Tensor(shape: [2], scalars: [1.5, -2])
        tensors[""] = Tensor(4.25)
        let metadata = ["format": "pt", "ünïcode": "line\nbreak \"quoted\" \\ \u{1}", "": ""]
        for dtype in SafeTensors.DType.allCases where dtype.isWritable {
            let data = try SafeTensors.encode(tensors, metadata: metadata, dtype: dtype)
            let headerLength = data.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
            XCTAssertEqual(headerLength % 8, 0, "header padded to 8 bytes")
            let url = temporaryDirectory.appendingPathComponent("roundtrip_\(dtype.rawValue).safetensors")
            try SafeTensors.write(tensors, metadata: metadata, dtype: dtype, to: url)
            XCTAssertEqual(try Data(contentsOf: url), data, "write and encode give the same bytes (\(dtype))")
            if let directory = ProcessInfo.processInfo.environment["SAFETENSORS_EXPORT_DIR"] {  // for checking in Python
                try data.write(to: URL(fileURLWithPath: directory).appendingPathComponent(url.lastPathComponent))
            }
            for file in [try SafeTensorsFile(data: data), try SafeTensorsFile(contentsOf: url)] {
                XCTAssertEqual(file.metadata, metadata)
                XCTAssertEqual(Set(file.tensors.keys), Set(tensors.keys))
                XCTAssertEqual(file.names, tensors.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) })
                XCTAssertTrue(file.header.entries.allSatisfy { $0.dtype == dtype })
                for (name, original) in tensors {
                    let read = try XCTUnwrap(file.tensors[name], name)
                    XCTAssertEqual(read.shape, original.shape, name)
                    assertIdentical(read.scalars, original.scalars.map { Self.stored($0, dtype) }, "\(dtype) \(name)")
                }
            }
        }
        // No metadata: no __metadata__ key at all.
        let plain = try SafeTensors.encode(["a": Tensor(1)])
        XCTAssertFalse(String(decoding: plain, as: UTF8.self).contains("__metadata__"))
        XCTAssertEqual(try SafeTensorsFile(data: plain).metadata, [:])
        // An empty dictionary is a valid file too ({} and padding).
        XCTAssertEqual(Array(try SafeTensors.encode([:])), [8, 0, 0, 0, 0, 0, 0, 0] + Array("{}      ".utf8))
        XCTAssertEqual(try SafeTensors.read(from: try SafeTensors.encode([:])).count, 0)
    }

    func testLargeFileRoundTrip() throws {
        var generator = SeededGenerator(seed: 3)
        let big = Tensor(uniform: [500, 1000], low: -1, high: 1, using: &generator)
        let small = Tensor(uniform: [7], low: -1, high: 1, using: &generator)
        let url = temporaryDirectory.appendingPathComponent("big.safetensors")
        for dtype in [SafeTensors.DType.f32, .bf16] {
            try SafeTensors.write(["big": big, "small": small], dtype: dtype, to: url)
            let read = try SafeTensors.read(from: url)
            assertIdentical(try XCTUnwrap(read["big"]).scalars, big.scalars.map { Self.stored($0, dtype) }, "big \(dtype)")
            assertIdentical(try XCTUnwrap(read["small"]).scalars, small.scalars.map { Self.stored($0, dtype) }, "small \(dtype)")
        }
        let header = try SafeTensors.readHeader(from: url)
        XCTAssertEqual(header.names, ["big", "small"])
        XCTAssertEqual(header.entries[0].byteRange, 0..<1_000_000)
    }

    /// `readHeader(from:)` reads only the length field and the header, yet accepts and
    /// rejects exactly what a whole-file read does, with the same errors: an empty file, a
    /// short one, a header longer than the file or the limit, data shorter or longer than the
    /// header's byte ranges.
    func testHeaderOnlyReadAgreesWithWholeFileRead() throws {
        let valid = try SafeTensors.encode(["a": Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6]),
                                            "b": Tensor(shape: [1], scalars: [7])])
        func withLength(_ length: UInt64, _ rest: Data) -> Data {
            withUnsafeBytes(of: length.littleEndian) { Data($0) } + rest
        }
        let cases: [(String, Data)] = [
            ("empty", Data()),
            ("three bytes", Data([1, 2, 3])),
            ("valid", valid),
            ("one byte of data missing", valid.dropLast()),
            ("one byte of data too many", valid + Data([0])),
            ("header longer than the file", withLength(UInt64(valid.count), valid.dropFirst(8))),
            ("header longer than the limit", withLength(UInt64(SafeTensors.maximumHeaderByteCount) + 1, Data(count: 16))),
            ("length only", withLength(0, Data())),
        ]
        for (name, bytes) in cases {
            let url = temporaryDirectory.appendingPathComponent("case.safetensors")
            try bytes.write(to: url)
            let whole = Result { try SafeTensorsFile(data: bytes).header }
            let headerOnly = Result { try SafeTensors.readHeader(from: url) }
            switch (whole, headerOnly) {
            case let (.success(a), .success(b)):
                XCTAssertEqual(a, b, name)
            case let (.failure(a), .failure(b)):
                XCTAssertEqual(a as? SafeTensorsError, b as? SafeTensorsError, name)
            default:
                XCTFail("\(name): whole-file read \(whole), header-only read \(headerOnly)")
            }
        }
        XCTAssertThrowsError(try SafeTensors.readHeader(from: temporaryDirectory.appendingPathComponent("missing.safetensors"))) {
            guard case .io = $0 as? SafeTensorsError else { return XCTFail("\($0)") }
        }
    }

    func testAtomicWriteReplacesTheFileAndLeavesNoTemporaryFiles() throws {
        let url = temporaryDirectory.appendingPathComponent("model.safetensors")
        try SafeTensors.write(["a": Tensor(shape: [2], scalars: [1, 2])], to: url)
        try SafeTensors.write(["b": Tensor(shape: [1], scalars: [3])], to: url)
        XCTAssertEqual(try SafeTensorsFile(contentsOf: url).names, ["b"])
        // A failed write leaves the previous file as it was.
        let before = try Data(contentsOf: url)
        XCTAssertThrowsError(try SafeTensors.write(["c": Tensor(1)], dtype: .i32, to: url)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .unsupportedDtype(name: "", dtype: "I32"))
        }
        XCTAssertThrowsError(try SafeTensors.write(["__metadata__": Tensor(1)], to: url)) { error in
            XCTAssertEqual(error as? SafeTensorsError, .reservedName("__metadata__"))
        }
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: temporaryDirectory.path), ["model.safetensors"])
        // An unwritable place is an io error naming the path.
        let nowhere = temporaryDirectory.appendingPathComponent("missing/dir/x.safetensors")
        XCTAssertThrowsError(try SafeTensors.write(["a": Tensor(1)], to: nowhere)) { error in
            guard case .io? = error as? SafeTensorsError else { return XCTFail("expected an io error, got \(error)") }
            XCTAssertTrue("\(error)".contains("missing/dir"), "\(error)")
        }
        XCTAssertThrowsError(try SafeTensors.read(from: nowhere)) { error in
            guard case .io? = error as? SafeTensorsError else { return XCTFail("expected an io error, got \(error)") }
        }
    }

    // MARK: Conversions

    func testHalfAndBFloat16ConversionsRoundLikeIEEEAndPyTorch() {
        // Half → float, every bit pattern, against the hardware conversion.
        #if !(os(macOS) && arch(x86_64))
        for bits in 0...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = ScalarConversion.float(fromHalf: bits)
            if expected.isNaN { XCTAssertTrue(actual.isNaN); continue }
            XCTAssertEqual(actual.bitPattern, expected.bitPattern, "half \(bits)")
        }
        // Float → half, random bit patterns and every boundary, against Float16(Float).
        var generator = SeededGenerator(seed: 11)
        var patterns: [UInt32] = (0..<200_000).map { _ in UInt32(truncatingIfNeeded: generator.next()) }
        for e: UInt32 in 100...145 {  // around the half range, with ties and near-ties
            for m: UInt32 in [0, 1, 0xFFF, 0x1000, 0x1001, 0x2000, 0x3000, 0x7F_FFFF, 0x40_0000, 0x3F_F000] {
                patterns += [e << 23 | m, 1 << 31 | e << 23 | m]
            }
        }
        for bits in patterns {
            let value = Float(bitPattern: bits)
            let half = ScalarConversion.half(from: value)
            if value.isNaN {
                XCTAssertEqual(half & 0x7FFF, 0x7E00, "NaN becomes the canonical quiet NaN")
                continue
            }
            XCTAssertEqual(half, Float16(value).bitPattern, "float \(value) (0x\(String(bits, radix: 16)))")
        }
        #endif
        // bfloat16: ties to even, NaN canonical.
        XCTAssertEqual(ScalarConversion.bfloat16(from: 1.0), 0x3F80)
        XCTAssertEqual(ScalarConversion.bfloat16(from: Float(bitPattern: 0x3F80_8000)), 0x3F80)  // tie, even stays
        XCTAssertEqual(ScalarConversion.bfloat16(from: Float(bitPattern: 0x3F81_8000)), 0x3F82)  // tie, odd rounds up
        XCTAssertEqual(ScalarConversion.bfloat16(from: Float(bitPattern: 0x3F80_8001)), 0x3F81)
        XCTAssertEqual(ScalarConversion.bfloat16(from: .nan), 0x7FC0)
        XCTAssertEqual(ScalarConversion.bfloat16(from: .greatestFiniteMagnitude), 0x7F80)  // rounds to infinity
        XCTAssertEqual(ScalarConversion.float(fromBFloat16: 0xC040), -3)
        // 8-bit floats.
        XCTAssertEqual(ScalarConversion.float(fromE4M3: 0x7E), 448)
        XCTAssertTrue(ScalarConversion.float(fromE4M3: 0xFF).isNaN)
        XCTAssertEqual(ScalarConversion.float(fromE4M3: 0x01), 0x1p-9)
        XCTAssertEqual(ScalarConversion.float(fromE5M2: 0x7B), 57344)
        XCTAssertEqual(ScalarConversion.float(fromE5M2: 0x7C), .infinity)
    }

    // MARK: Files written by PyTorch

    func testPyTorchWrittenFilesLoadWithIdenticalValues() throws {
        let expected = try Self.json("values.json")
        let files = expected.keys.filter { !$0.contains(".") }.sorted()
        XCTAssertEqual(files, ["metadata", "mixed_dtypes", "values_bf16", "values_f16", "values_f32", "values_f64"])
        for name in files {
            let file = try SafeTensorsFile(contentsOf: Self.fixtureURL(name + ".safetensors"))
            let tensors = try XCTUnwrap(expected[name] as? [String: Any])
            XCTAssertEqual(Set(file.tensors.keys), Set(tensors.keys), name)
            for (key, value) in tensors {
                let want = try Self.tensor(value)
                let got = try XCTUnwrap(file.tensors[key], "\(name): \(key)")
                XCTAssertEqual(got.shape, want.shape, "\(name): \(key)")
                assertIdentical(got.scalars, want.scalars, "\(name): \(key)")
            }
        }
        let dtypes = try SafeTensorsFile(contentsOf: Self.fixtureURL("mixed_dtypes.safetensors")).header.entries
        XCTAssertEqual(Set(dtypes.map(\.dtype)), [.i64, .i32, .i16, .i8, .u8, .bool, .f8E4M3, .f8E5M2])
        for (file, dtype) in [("values_f64", SafeTensors.DType.f64), ("values_f16", .f16), ("values_bf16", .bf16)] {
            XCTAssertTrue(try SafeTensors.readHeader(from: Self.fixtureURL(file + ".safetensors")).entries.allSatisfy { $0.dtype == dtype })
        }

        // Metadata, a zero-sized tensor, a scalar, names kept exactly.
        let corners = try SafeTensorsFile(contentsOf: Self.fixtureURL("metadata.safetensors"))
        XCTAssertEqual(corners.metadata, try XCTUnwrap(expected["metadata.__metadata__"] as? [String: String]))
        XCTAssertEqual(corners.metadata["note"], "written by export_safetensors_fixtures.py ✓ \"quoted\"\n")
        XCTAssertEqual(corners.tensors["empty"]?.shape, [0, 3])
        XCTAssertEqual(corners.tensors["scalar"]?.shape, [])
        XCTAssertEqual(corners.tensors["scalar"]?.item, 3.5)
        XCTAssertEqual(corners.tensors["layer.0/weight:ü\"quoted\""]?.scalars, [1.25, -0.5])
    }

    /// Our F64, F16 and BF16 encoders give the same bytes as PyTorch's `.double()`, `.half()`
    /// and `.bfloat16()` on the same float32 values (rounding, overflow, NaN, subnormals).
    func testEncodingMatchesPyTorchBytes() throws {
        let source = try SafeTensors.read(from: Self.fixtureURL("values_f32.safetensors"))
        let subset = ["x": try XCTUnwrap(source["x"]), "special": try XCTUnwrap(source["special"])]
        for (file, dtype) in [("values_f64", SafeTensors.DType.f64), ("values_f16", .f16), ("values_bf16", .bf16)] {
            let theirs = try Data(contentsOf: Self.fixtureURL(file + ".safetensors"))
            let theirHeader = try SafeTensorsHeader(data: theirs)
            let ours = try SafeTensors.encode(subset, dtype: dtype)
            let ourHeader = try SafeTensorsHeader(data: ours)
            for name in subset.keys {
                let a = try XCTUnwrap(ourHeader.entries.first { $0.name == name })
                let b = try XCTUnwrap(theirHeader.entries.first { $0.name == name })
                XCTAssertEqual(a.shape, b.shape)
                let ourBytes = ours[(ourHeader.dataOffset + a.byteRange.lowerBound)..<(ourHeader.dataOffset + a.byteRange.upperBound)]
                let theirBytes = theirs[(theirHeader.dataOffset + b.byteRange.lowerBound)..<(theirHeader.dataOffset + b.byteRange.upperBound)]
                // NaN bits may differ: PyTorch's vectorised bfloat16 conversion writes 0xFFFF,
                // its scalar one (c10::BFloat16, which we follow) 0x7FC0.
                let ourElements = SafeTensorsFile.decodeForComparison(Array(ourBytes), dtype: dtype)
                let theirElements = SafeTensorsFile.decodeForComparison(Array(theirBytes), dtype: dtype)
                XCTAssertEqual(ourElements.count, theirElements.count, "\(file): \(name)")
                for (i, (a, b)) in zip(ourElements, theirElements).enumerated() where a.bits != b.bits && !(a.isNaN && b.isNaN) {
                    XCTFail("\(file): \(name): element \(i) encodes as 0x\(String(a.bits, radix: 16)), PyTorch wrote 0x\(String(b.bits, radix: 16))")
                }
            }
        }
    }

    /// The header we write for a state dict has PyTorch's layout: same keys, dtypes, shapes
    /// and offsets as `safetensors.torch.save_file` writes for the same tensors.
    func testHeaderLayoutMatchesPyTorch() throws {
        let theirs = try SafeTensors.readHeader(from: Self.fixtureURL("lstm_classifier.safetensors"))
        let tensors = try SafeTensors.read(from: Self.fixtureURL("lstm_classifier.safetensors"))
        let ours = try SafeTensorsHeader(data: try SafeTensors.encode(tensors))
        XCTAssertEqual(ours.entries, theirs.entries)
        XCTAssertEqual(ours.dataOffset, theirs.dataOffset)
    }

    // MARK: Models

    func testPyTorchTrainedModelsGiveTheSameOutputs() throws {
        let cases: [(String, Module, (Tensor) throws -> Tensor)] = try {
            let lstm = try SafeTensorsLSTMClassifier(seed: 1)
            let gru = try SafeTensorsGRUClassifier(seed: 2)
            let rnn = try SafeTensorsRNNRegressor(seed: 3)
            return [("lstm_classifier", lstm, { try lstm($0) }),
                    ("gru_classifier", gru, { try gru($0) }),
                    ("rnn_regressor", rnn, { try rnn($0) })]
        }()
        for (name, model, forward) in cases {
            let fixture = try Self.json(name + ".json")
            XCTAssertEqual(model.stateDictKeys, fixture["state_dict_keys"] as? [String], name)
            try model.loadStateDict(from: Self.fixtureURL(name + ".safetensors"))
            model.eval()
            let input = try Self.tensor(fixture["input"])
            let expected = try Self.tensor(fixture["output"])
            let output = try withoutGradients { try forward(input) }
            assertClose(output, expected, rtol: 0, atol: 1e-5, name)
        }
    }

    func testModelSavedAndLoadedGivesIdenticalOutputs() throws {
        var generator = SeededGenerator(seed: 21)
        let input = Tensor(normal: [3, 6, 4], using: &generator)
        let original = try SafeTensorsLSTMClassifier(seed: 100)
        let url = temporaryDirectory.appendingPathComponent("lstm.safetensors")
        try original.saveStateDict(to: url)
        XCTAssertEqual(try SafeTensors.readHeader(from: url).metadata, ["format": "pt"])
        let copy = try SafeTensorsLSTMClassifier(seed: 200)
        XCTAssertNotEqual(try copy(input).scalars, try original(input).scalars)
        try copy.loadStateDict(from: url)
        assertIdentical(try copy(input).scalars, try original(input).scalars, "outputs after a round trip")
        for (name, p) in original.namedParameters() {
            assertIdentical(try XCTUnwrap(copy.stateDict()[name]).scalars, p.scalars, name)
        }

        // Bidirectional GRU, and a half-precision file (outputs close, not identical).
        let gru = try SafeTensorsGRUClassifier(seed: 5)
        let gruCopy = try SafeTensorsGRUClassifier(seed: 6)
        let sequence = Tensor(normal: [7, 2, 3], using: &generator)
        try gru.saveStateDict(to: url)
        try gruCopy.loadStateDict(from: url)
        assertIdentical(try gruCopy(sequence).scalars, try gru(sequence).scalars, "GRU outputs after a round trip")
        try gru.saveStateDict(to: url, dtype: .f16)
        try gruCopy.loadStateDict(from: url)
        assertClose(try gruCopy(sequence), try gru(sequence), rtol: 0, atol: 5e-3, "GRU through F16")

        // For checking by hand that PyTorch loads what we write (strict=True):
        //   SAFETENSORS_EXPORT_DIR=/tmp/x swift test --filter SafeTensorsTests
        //   python3 Scripts/export_safetensors_fixtures.py --verify-swift /tmp/x/swift_lstm_classifier.safetensors /tmp/x/swift_lstm_classifier.json
        if let directory = ProcessInfo.processInfo.environment["SAFETENSORS_EXPORT_DIR"] {
            let base = URL(fileURLWithPath: directory)
            try original.saveStateDict(to: base.appendingPathComponent("swift_lstm_classifier.safetensors"))
            let output = try original(input)
            let json: [String: Any] = ["input": ["shape": input.shape, "data": input.scalars.map(Double.init)],
                                       "output": ["shape": output.shape, "data": output.scalars.map(Double.init)]]
            try JSONSerialization.data(withJSONObject: json).write(to: base.appendingPathComponent("swift_lstm_classifier.json"))
        }
    }

    func testNonStrictLoadIgnoresMissingAndUnexpectedKeys() throws {
        let model = try SafeTensorsLSTMClassifier(seed: 1)
        let url = temporaryDirectory.appendingPathComponent("partial.safetensors")
        let newBias = Tensor(shape: [3], scalars: [7, 8, 9])
        try SafeTensors.write(["fc.bias": newBias, "extra": Tensor(1)], to: url)
        try model.loadStateDict(from: url, strict: false)
        XCTAssertEqual(model.fc.bias?.scalars, [7, 8, 9])
    }

    // MARK: Bad files

    /// A file from its header text and data bytes; `length` overrides the length field.
    static func file(_ header: String, data: [UInt8] = [], length: UInt64? = nil) -> Data {
        let json = Array(header.utf8)
        var bytes: [UInt8] = []
        withUnsafeBytes(of: (length ?? UInt64(json.count)).littleEndian) { bytes += $0 }
        return Data(bytes + json + data)
    }

    static func entry(_ name: String, _ dtype: String = "F32", shape: String, offsets: String) -> String {
        "\"\(name)\":{\"dtype\":\"\(dtype)\",\"shape\":\(shape),\"data_offsets\":\(offsets)}"
    }

    /// Asserts that loading `data` into a fresh classifier throws `expected` (a
    /// `SafeTensorsError` or `StateDictError`) and leaves every parameter as it was.
    func assertRejected(_ data: Data, _ expected: any Error & Equatable, file: StaticString = #filePath, line: UInt = #line) throws {
        let model = try SafeTensorsLSTMClassifier(seed: 9)
        let before = model.namedParameters().map { ($0.name, $0.parameter.scalars) }
        let url = temporaryDirectory.appendingPathComponent("bad-\(UUID().uuidString).safetensors")
        try data.write(to: url)
        XCTAssertThrowsError(try model.loadStateDict(from: url), file: file, line: line) { error in
            XCTAssertEqual("\(error)", "\(expected)", file: file, line: line)
            XCTAssertEqual(String(reflecting: type(of: error)), String(reflecting: type(of: expected)), file: file, line: line)
        }
        for ((name, values), (_, p)) in zip(before, model.namedParameters()) {
            XCTAssertEqual(p.scalars, values, "\(name) changed by a failed load", file: file, line: line)
        }
    }

    func testBadFilesThrowNamedErrorsAndLeaveTheModelUntouched() throws {
        let good = try Data(contentsOf: Self.fixtureURL("lstm_classifier.safetensors"))
        let goodHeader = try SafeTensorsHeader(data: good)
        let goodTensors = try SafeTensors.read(from: good)

        try assertRejected(Data(), SafeTensorsError.fileTooShort(byteCount: 0))
        try assertRejected(Data([1, 0, 0]), SafeTensorsError.fileTooShort(byteCount: 3))
        try assertRejected(good.prefix(100), SafeTensorsError.headerLengthExceedsFile(
            declared: UInt64(goodHeader.dataOffset - 8), available: 92))
        try assertRejected(Self.file("{}", length: 1 << 40), SafeTensorsError.headerTooLarge(declared: 1 << 40, limit: 100_000_000))
        try assertRejected(Self.file("{\"a\": [1, 2"), SafeTensorsError.headerNotJSON("expected ',' or ']' at byte 11, got the end of the header"))
        try assertRejected(Self.file("not json"), SafeTensorsError.headerNotJSON("expected a value at byte 0, got 'n'"))
        try assertRejected(Self.file("[1, 2]"), SafeTensorsError.headerNotObject(found: "an array of 2 elements"))
        try assertRejected(Self.file("{\"a\":1} x"), SafeTensorsError.headerNotJSON("expected the end of the header at byte 8, got 'x'"))
        try assertRejected(Self.file("{\"\u{FF}\":1}").replacingByte(at: 10, with: 0xFF), SafeTensorsError.headerNotUTF8)
        try assertRejected(Self.file("{" + Self.entry("w", "F33", shape: "[1]", offsets: "[0,4]") + "}", data: [0, 0, 0, 0]),
                           SafeTensorsError.unknownDtype(name: "w", dtype: "F33"))
        try assertRejected(Self.file("{" + Self.entry("w", "F8_E8M0", shape: "[1]", offsets: "[0,1]") + "}", data: [0]),
                           SafeTensorsError.unsupportedDtype(name: "w", dtype: "F8_E8M0"))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[2]", offsets: "[0,8]") + "}", data: [0, 0, 0, 0]),
                           SafeTensorsError.offsetsOutOfBounds(name: "w", begin: 0, end: 8, dataByteCount: 4))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[2]", offsets: "[8,0]") + "}", data: [UInt8](repeating: 0, count: 8)),
                           SafeTensorsError.offsetsReversed(name: "w", begin: 8, end: 0))
        try assertRejected(Self.file("{" + Self.entry("a", shape: "[2]", offsets: "[0,8]") + "," + Self.entry("b", shape: "[2]", offsets: "[4,12]") + "}",
                                     data: [UInt8](repeating: 0, count: 12)),
                           SafeTensorsError.overlappingOffsets(name: "b", range: 4..<12, other: "a", otherRange: 0..<8))
        try assertRejected(Self.file("{" + Self.entry("a", shape: "[1]", offsets: "[0,4]") + "," + Self.entry("b", shape: "[1]", offsets: "[8,12]") + "}",
                                     data: [UInt8](repeating: 0, count: 12)),
                           SafeTensorsError.gapInData(name: "b", expectedBegin: 4, begin: 8))
        try assertRejected(Self.file("{" + Self.entry("a", shape: "[1]", offsets: "[0,4]") + "}", data: [UInt8](repeating: 0, count: 6)),
                           SafeTensorsError.trailingBytes(end: 4, dataByteCount: 6))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[2,3]", offsets: "[0,16]") + "}", data: [UInt8](repeating: 0, count: 16)),
                           SafeTensorsError.byteCountMismatch(name: "w", dtype: "F32", shape: [2, 3], expected: 24, actual: 16))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[2,-3]", offsets: "[0,0]") + "}"),
                           SafeTensorsError.negativeDimension(name: "w", shape: [2, -3]))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[4294967296,4294967296]", offsets: "[0,0]") + "}"),
                           SafeTensorsError.sizeOverflow(name: "w", shape: [4294967296, 4294967296]))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[1.5]", offsets: "[0,4]") + "}", data: [0, 0, 0, 0]),
                           SafeTensorsError.invalidEntry(name: "w", problem: "expected shape to be an array of integers, got an element that is the number 1.5"))
        try assertRejected(Self.file("{\"w\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
                           SafeTensorsError.invalidEntry(name: "w", problem: "expected a field \"shape\", found only \"dtype\", \"data_offsets\""))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[1]", offsets: "[0]") + "}", data: [0, 0, 0, 0]),
                           SafeTensorsError.invalidEntry(name: "w", problem: "expected data_offsets to be an array of two non-negative integers, got an array of 1 element (the integer 0)"))
        try assertRejected(Self.file("{\"w\":{\"dtype\":4,\"shape\":[],\"data_offsets\":[0,4]}}", data: [0, 0, 0, 0]),
                           SafeTensorsError.invalidEntry(name: "w", problem: "expected dtype to be a string, got the integer 4"))
        try assertRejected(Self.file("{\"w\":[]}"),
                           SafeTensorsError.invalidEntry(name: "w", problem: "expected an object with dtype, shape and data_offsets, got an array of 0 elements"))
        try assertRejected(Self.file("{" + Self.entry("w", shape: "[]", offsets: "[0,4]") + "," + Self.entry("w", shape: "[]", offsets: "[4,8]") + "}",
                                     data: [UInt8](repeating: 0, count: 8)),
                           SafeTensorsError.duplicateName("w"))
        try assertRejected(Self.file("{\"__metadata__\":{\"epoch\":3}}"),
                           SafeTensorsError.invalidMetadata("expected a string for key \"epoch\", got the integer 3"))
        try assertRejected(Self.file(String(repeating: "[", count: 100) + String(repeating: "]", count: 100)),
                           SafeTensorsError.headerNotJSON("expected at most 64 levels of nesting at byte 64, got more"))
        try assertRejected(Self.file("{\"\\ud800\":1}"),
                           SafeTensorsError.headerNotJSON("expected a low surrogate after a high one at byte 2, got a lone high surrogate \\ud800"))

        // Valid files that do not fit the module: missing, unexpected and mis-shaped keys.
        var missing = goodTensors
        missing["fc.bias"] = nil
        try assertRejected(try SafeTensors.encode(missing), StateDictError.keyMismatch(missing: ["fc.bias"], unexpected: []))
        var unexpected = goodTensors
        unexpected["fc.scale"] = Tensor(1)
        try assertRejected(try SafeTensors.encode(unexpected), StateDictError.keyMismatch(missing: [], unexpected: ["fc.scale"]))
        var misshaped = goodTensors
        misshaped["fc.weight"] = Tensor(zeros: [8, 3])
        try assertRejected(try SafeTensors.encode(misshaped), StateDictError.shapeMismatch(["fc.weight: expected [3, 8], got [8, 3]"]))
    }

    func testErrorMessagesNameWhatWasExpectedAndWhatCame() {
        let messages = [
            SafeTensorsError.fileTooShort(byteCount: 0).description,
            SafeTensorsError.headerLengthExceedsFile(declared: 500, available: 20).description,
            SafeTensorsError.byteCountMismatch(name: "w", dtype: "F32", shape: [2, 3], expected: 24, actual: 16).description,
            SafeTensorsError.unknownDtype(name: "w", dtype: "F33").description,
        ]
        XCTAssertEqual(messages[0], "safetensors: expected at least 8 bytes (the header length), got 0")
        XCTAssertEqual(messages[1], "safetensors: the length field declares a header of 500 bytes, but only 20 bytes follow it")
        XCTAssertEqual(messages[2], "safetensors: tensor \"w\": shape [2, 3] of F32 needs 24 bytes, but its data_offsets span 16")
        XCTAssertTrue(messages[3].contains("unknown dtype \"F33\""))
    }

    func testHeaderParserAcceptsWhatTheReferenceAccepts() throws {
        // Whitespace, escapes, key order, extra fields, null metadata, spaces as padding.
        let header = " {\n \"__metadata__\" : null, \"b\\u00e9\\n\" : {\"data_offsets\":[4,8], \"extra\":{\"x\":[true,false,null,-1.5e3]}, \"shape\":[1], \"dtype\":\"I32\"},"
            + Self.entry("a", "U8", shape: "[2,2]", offsets: "[0,4]") + "}   "
        let file = try SafeTensorsFile(data: Self.file(header, data: [1, 2, 3, 255, 0xFE, 0xFF, 0xFF, 0xFF]))
        XCTAssertEqual(file.names, ["a", "bé\n"])
        XCTAssertEqual(file.tensors["a"]?.scalars, [1, 2, 3, 255])
        XCTAssertEqual(file.tensors["bé\n"]?.scalars, [-2])
        XCTAssertEqual(file.metadata, [:])
    }
}

private extension SafeTensorsFile {
    /// The raw elements of a 2-, 4- or 8-byte dtype, with whether each is a NaN.
    static func decodeForComparison(_ bytes: [UInt8], dtype: SafeTensors.DType) -> [(bits: UInt64, isNaN: Bool)] {
        let size = dtype.byteCount
        return stride(from: 0, to: bytes.count, by: size).map { start in
            var bits: UInt64 = 0
            for k in 0..<size { bits |= UInt64(bytes[start + k]) << (8 * k) }
            let isNaN: Bool
            switch dtype {
            case .f16: isNaN = ScalarConversion.float(fromHalf: UInt16(bits)).isNaN
            case .bf16: isNaN = ScalarConversion.float(fromBFloat16: UInt16(bits)).isNaN
            default: isNaN = Double(bitPattern: bits).isNaN
            }
            return (bits, isNaN)
        }
    }
}

private extension Data {
    func replacingByte(at index: Int, with value: UInt8) -> Data {
        var copy = self
        copy[copy.startIndex + index] = value
        return copy
    }
}
