// libFuzzer targets for the readers of outside input beyond the safetensors parser, one
// binary chosen by $FUZZ_TARGET, built and run by Scripts/fuzz_readers.sh:
//
//   checkpoint      Checkpoint(data:) and, when it reads, restore(model:optimizer:) into a
//                   fixed model and Adam: a value or a thrown CheckpointError /
//                   SafeTensorsError / StateDictError / TensorError; a failed restore leaves
//                   the model, the optimizer and the default random stream as they were.
//   header          SafeTensors.readHeader(from:) on the input written to a file: the same
//                   header, or the same SafeTensorsError, as SafeTensorsHeader(data:).
//   csv             SeriesCSV.parse (the airline command's --csv reader) on the columns
//                   passengers and month: a value or an ExampleDataError.
//   names           NamesDataset.load(from:) on a folder of files cut from the input at NUL
//                   bytes: a value (every sample's letters in the alphabet, every language
//                   index in range) or an ExampleDataError.
//   names-metadata  NamesModel.load(from:) (`names --load`) on the input as a file: a model
//                   whose sizes agree with its metadata, or a thrown error of the library or
//                   of the examples.
//   model-files     the other --load readers, on the input after its first byte as a file:
//                   NameGenerator.load (`generate`), EntityTagger.load (`tagging`) and
//                   DateTranslator.load (`translate`), chosen by that byte mod 3: a model
//                   whose sizes agree with its metadata, or a thrown error of the library or
//                   of the examples.
//
// Anything else — a trap, a sanitizer report, an error of another type, a broken invariant —
// is a crash libFuzzer records. $FUZZ_WRITE_SEEDS=<folder> writes the target's seed inputs
// there and exits (the committed corpora under Fuzz/corpus come from it).
import ExampleSupport
import AirlineExample
import GenerateExample
import NamesExample
import TaggingExample
import TranslateExample
import Foundation
import Recurrent

enum Target: String {
    case checkpoint, header, csv, names, namesMetadata = "names-metadata", modelFiles = "model-files"
}

let target: Target = {
    guard let name = ProcessInfo.processInfo.environment["FUZZ_TARGET"], let target = Target(rawValue: name) else {
        fatalError("set FUZZ_TARGET to checkpoint, header, csv, names, names-metadata or model-files")
    }
    return target
}()

/// A per-process scratch folder for targets that read files.
let scratch: URL = {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-fuzz-\(getpid())")
    try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}()

/// The model and optimizer checkpoints are restored into.
final class CheckpointRig: @unchecked Sendable {
    let model: Sequential
    let optimizer: Adam

    init() {
        do {
            var generator = SeededGenerator(seed: 7)
            model = Sequential([try Linear(inFeatures: 3, outFeatures: 2, using: &generator), Tanh(),
                                try Linear(inFeatures: 2, outFeatures: 1, using: &generator)])
            optimizer = try Adam(model.parameters(), lr: 0.01)
            for p in model.parameters() { p.grad = Tensor(zeros: p.shape, value: 0.5) }
            optimizer.step()
        } catch {
            fatalError("the checkpoint rig could not be built: \(error)")
        }
    }
}

let rig = CheckpointRig()

func fuzzCheckpoint(_ data: Data) {
    let checkpoint: Checkpoint
    do {
        checkpoint = try Checkpoint(data: data)
    } catch is CheckpointError {
        return
    } catch is SafeTensorsError {
        return
    } catch {
        fatalError("Checkpoint(data:) threw \(type(of: error)): \(error)")
    }
    let before = rig.model.stateDict()
    let parameters = before.mapValues(\.scalars)
    let state = rig.optimizer.state
    let stream = RandomState.state
    do {
        try checkpoint.restore(model: rig.model, optimizer: rig.optimizer)
    } catch is CheckpointError, is StateDictError, is TensorError {
        precondition(rig.model.stateDict().mapValues(\.scalars) == parameters, "a failed restore changed the model")
        precondition(rig.optimizer.state == state, "a failed restore changed the optimizer")
        precondition(RandomState.state == stream, "a failed restore changed the default random stream")
        return
    } catch {
        fatalError("restore threw \(type(of: error)): \(error)")
    }
    // Accepted: an optimizer step must run on what was restored, then the rig is put back.
    rig.optimizer.step()
    do {
        try rig.model.loadStateDict(before, strict: true)
        try rig.optimizer.loadState(state)
        RandomState.state = stream
    } catch {
        fatalError("putting the rig back failed: \(error)")
    }
}

func fuzzHeader(_ data: Data) {
    let url = scratch.appendingPathComponent("header.safetensors")
    do { try data.write(to: url) } catch { fatalError("cannot write \(url.path): \(error)") }
    let fromFile: Result<SafeTensorsHeader, SafeTensorsError>
    let fromData: Result<SafeTensorsHeader, SafeTensorsError>
    do { fromFile = .success(try SafeTensors.readHeader(from: url)) } catch let error as SafeTensorsError {
        fromFile = .failure(error)
    } catch { fatalError("readHeader threw \(type(of: error)): \(error)") }
    do { fromData = .success(try SafeTensorsHeader(data: data)) } catch let error as SafeTensorsError {
        fromData = .failure(error)
    } catch { fatalError("SafeTensorsHeader(data:) threw \(type(of: error)): \(error)") }
    switch (fromFile, fromData) {
    case let (.success(a), .success(b)): precondition(a == b, "readHeader and SafeTensorsHeader(data:) disagree")
    case let (.failure(a), .failure(b)): precondition(a == b, "readHeader threw \(a), SafeTensorsHeader(data:) \(b)")
    default: fatalError("readHeader gave \(fromFile), SafeTensorsHeader(data:) \(fromData)")
    }
}

func fuzzCSV(_ data: Data) {
    let text = String(decoding: data, as: UTF8.self)
    do {
        let series = try SeriesCSV.parse(text, column: "passengers", dateColumn: "month")
        precondition(series.count > 0 && series.labels.count == series.values.count, "an empty or ragged series")
        precondition(series.values.allSatisfy(\.isFinite), "a value that is not finite")
    } catch is ExampleDataError {
        return
    } catch {
        fatalError("the CSV loader threw \(type(of: error)): \(error)")
    }
}

func fuzzNames(_ data: Data) {
    let folder = scratch.appendingPathComponent("names")
    try? FileManager.default.removeItem(at: folder)
    do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (i, chunk) in data.split(separator: 0, omittingEmptySubsequences: false).prefix(20).enumerated() {
            try Data(chunk).write(to: folder.appendingPathComponent("L\(i).txt"))
        }
    } catch { fatalError("cannot write the names folder: \(error)") }
    do {
        let dataset = try NamesDataset.load(from: folder)
        for sample in dataset.train + dataset.test {
            precondition(dataset.languages.indices.contains(sample.language), "a language index out of range")
            precondition(!sample.letters.isEmpty && sample.letters.allSatisfy { (0..<NamesAlphabet.count).contains($0) },
                         "a letter outside the alphabet")
        }
    } catch is ExampleDataError {
        return
    } catch {
        fatalError("the names loader threw \(type(of: error)): \(error)")
    }
}

func fuzzNamesMetadata(_ data: Data) {
    let url = scratch.appendingPathComponent("model.safetensors")
    do { try data.write(to: url) } catch { fatalError("cannot write \(url.path): \(error)") }
    do {
        let model = try NamesModel.load(from: url)
        let head = model.kind == .tutorial ? "i2o.weight" : "fc.weight"
        precondition(model.module.stateDict()[head]?.shape == [model.languages.count, model.hiddenSize],
                     "the loaded model's head does not match its metadata")
    } catch is SafeTensorsError, is ExampleDataError, is StateDictError, is TensorError {
        return
    } catch {
        fatalError("NamesModel.load threw \(type(of: error)): \(error)")
    }
}

/// The loaders of `generate --load`, `tagging --load` and `translate --load`, in the order
/// the first byte of a `model-files` input chooses them.
let modelFileReaders = ["generate", "tagging", "translate"]

func fuzzModelFiles(_ data: Data) {
    guard let first = data.first else { return }
    let url = scratch.appendingPathComponent("model.safetensors")
    do { try data.dropFirst().write(to: url) } catch { fatalError("cannot write \(url.path): \(error)") }
    do {
        switch modelFileReaders[Int(first) % modelFileReaders.count] {
        case "generate":
            let generator = try NameGenerator.load(from: url)
            precondition(generator.stateDict()["fc.weight"]?.shape.last == generator.hiddenSize,
                         "the loaded generator's head does not match its metadata")
        case "tagging":
            let (tagger, _, train, test) = try EntityTagger.load(from: url)
            precondition(train >= 1 && test >= 1, "sentence counts below 1")
            precondition(tagger.network.rnn.inputSize == tagger.encoder.featureCount,
                         "the loaded tagger's layer does not read its encoder's features")
        default:
            let (model, _, train, test) = try DateTranslator.load(from: url)
            precondition(train >= 1 && test >= 1, "data set sizes below 1")
            precondition(model.stateDict()["head.weight"]?.shape.last == model.hiddenSize,
                         "the loaded translator's head does not match its metadata")
        }
    } catch is SafeTensorsError, is ExampleDataError, is StateDictError, is TensorError {
        return
    } catch {
        fatalError("a model-file loader threw \(type(of: error)): \(error)")
    }
}

/// The seed inputs of each target (written by $FUZZ_WRITE_SEEDS).
func seeds() throws -> [String: Data] {
    switch target {
    case .checkpoint:
        var result: [String: Data] = [:]
        for (name, optimizer) in [("with-adam", rig.optimizer as Optimizer?), ("model-only", nil)] {
            let url = scratch.appendingPathComponent("seed.safetensors")
            try Checkpoint(model: rig.model, optimizer: optimizer, extra: ["epoch": "3"]).write(to: url)
            result[name + ".safetensors"] = try Data(contentsOf: url)
        }
        return result
    case .header:
        let url = scratch.appendingPathComponent("seed.safetensors")
        try SafeTensors.write(["a": Tensor(shape: [2], scalars: [1, 2]), "b": Tensor(zeros: [0, 3])],
                              metadata: ["format": "pt"], dtype: .f16, to: url)
        return ["two-tensors.safetensors": try Data(contentsOf: url)]
    case .csv:
        return ["short.csv": Data("month,passengers\n1949-01,112\n1949-02,118\r\n\n1949-03,132\n".utf8),
                "bundled.csv": try Data(contentsOf: AirlineData.bundledURL("airline-passengers.csv"))]
    case .names:
        return ["three-languages.txt": Data("Abe\nBéla\n\nO'Neil\u{0}Ng\nZhang\u{0}Müller\nSchmidt Jr\n".utf8)]
    case .modelFiles:
        var result: [String: Data] = [:]
        let url = scratch.appendingPathComponent("seed.safetensors")
        try NameGenerator(kind: .gru, hiddenSize: 3, languages: ["Czech", "Dutch"], seed: 1).save(to: url)
        result["generate.safetensors"] = Data([0]) + (try Data(contentsOf: url))
        let encoder = try TokenEncoder(vocabulary: ["in", "Paris"], hashBuckets: 4)
        let network = try BidirectionalTagger(kind: .lstm, inputSize: encoder.featureCount, hiddenSize: 3, seed: 1)
        try EntityTagger(encoder: encoder, network: network).save(to: url, seed: 1, trainSentences: 10, testSentences: 5)
        result["tagging.safetensors"] = Data([1]) + (try Data(contentsOf: url))
        try DateTranslator(kind: .gru, hiddenSize: 3, seed: 1).save(to: url, seed: 1, trainSize: 10, testDates: 5)
        result["translate.safetensors"] = Data([2]) + (try Data(contentsOf: url))
        return result
    case .namesMetadata:
        var result: [String: Data] = [:]
        for kind in [NamesModelKind.tutorial, .lstm] {
            RandomState.manualSeed(1)
            let model = try NamesModel(kind: kind, hiddenSize: 3, languages: ["Czech", "Dutch"], seed: 1)
            let url = scratch.appendingPathComponent("seed.safetensors")
            try model.save(to: url)
            result["\(kind.rawValue).safetensors"] = try Data(contentsOf: url)
        }
        return result
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func readersFuzzerInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    _ = target
    if let folder = ProcessInfo.processInfo.environment["FUZZ_WRITE_SEEDS"] {
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for (name, data) in try seeds() { try data.write(to: URL(fileURLWithPath: folder).appendingPathComponent(name)) }
        } catch {
            fatalError("cannot write the seeds: \(error)")
        }
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func readersFuzzerTestOneInput(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
    let data = start.map { Data(bytes: $0, count: count) } ?? Data()
    switch target {
    case .checkpoint: fuzzCheckpoint(data)
    case .header: fuzzHeader(data)
    case .csv: fuzzCSV(data)
    case .names: fuzzNames(data)
    case .namesMetadata: fuzzNamesMetadata(data)
    case .modelFiles: fuzzModelFiles(data)
    }
    return 0
}
