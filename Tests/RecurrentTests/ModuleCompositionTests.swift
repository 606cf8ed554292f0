import Foundation
import XCTest
@testable import Recurrent

/// A model written the way the docs show: a plain `Module` subclass (no `Sendable`
/// restatement; the test target builds in the Swift 6 language mode, where the old design
/// warned), with a property renamed for the state dict, a `ModuleList` and a `ModuleDict`.
private final class Tagger: Module {
    let wordEmbeddings: Embedding
    let lstm: LSTM
    let blocks: ModuleList<Linear>
    let heads: ModuleDict<Linear>
    let norm: LayerNorm

    override var stateDictNames: [String: String] { ["wordEmbeddings": "word_embeddings"] }

    init(vocabulary: Int = 10) throws {
        wordEmbeddings = try Embedding(numEmbeddings: vocabulary, embeddingDim: 4)
        lstm = try LSTM(inputSize: 4, hiddenSize: 6, batchFirst: true)
        blocks = ModuleList([try Linear(inFeatures: 6, outFeatures: 6), try Linear(inFeatures: 6, outFeatures: 6, bias: false)])
        heads = try ModuleDict([("pos", try Linear(inFeatures: 6, outFeatures: 3)), ("ner", try Linear(inFeatures: 6, outFeatures: 2))])
        norm = try LayerNorm(6)
        super.init()
    }
}

final class ModuleCompositionTests: XCTestCase {
    func testStateDictNamesFollowPyTorch() throws {
        let model = try Tagger()
        XCTAssertEqual(model.stateDictKeys, [
            "word_embeddings.weight",
            "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
            "blocks.0.weight", "blocks.0.bias", "blocks.1.weight",
            "heads.pos.weight", "heads.pos.bias", "heads.ner.weight", "heads.ner.bias",
            "norm.weight", "norm.bias",
        ])
        XCTAssertEqual(model.blocks.count, 2)
        XCTAssertEqual(model.heads.keys, ["pos", "ner"])
        XCTAssertNotNil(model.heads["ner"])
        XCTAssertNil(model.heads["chunk"])
        model.blocks.append(try Linear(inFeatures: 6, outFeatures: 1))
        XCTAssertTrue(model.stateDictKeys.contains("blocks.2.bias"))
        XCTAssertThrowsError(try model.heads.insert(try Linear(inFeatures: 1, outFeatures: 1), forKey: "a.b"))
        XCTAssertThrowsError(try ModuleDict([("x", try Linear(inFeatures: 1, outFeatures: 1)), ("x", try Linear(inFeatures: 1, outFeatures: 1))]))
        XCTAssertEqual(model.heads.keys, ["pos", "ner"])
    }

    func testLoadUnderAPrefixAndNonStrictReport() throws {
        let source = try Tagger(), target = try Tagger()
        // A whole model's state dict, loaded into one sub-module under its prefix.
        let result = try target.lstm.loadStateDict(source.stateDict(), prefix: "lstm.")
        XCTAssertEqual(result, StateDictLoadResult(missingKeys: [], unexpectedKeys: []))
        XCTAssertEqual(target.lstm.parameters().map(\.scalars), source.lstm.parameters().map(\.scalars))
        // Non-strict: the matching keys load; the others are reported.
        var partial = source.stateDict()
        partial["norm.bias"] = nil
        partial["extra.weight"] = try Tensor.ones([1])
        let report = try target.loadStateDict(partial, strict: false)
        XCTAssertEqual(report.missingKeys, ["norm.bias"])
        XCTAssertEqual(report.unexpectedKeys, ["extra.weight"])
        XCTAssertEqual(target.wordEmbeddings.weight.scalars, source.wordEmbeddings.weight.scalars)
        // Strict: the same dict throws and changes nothing.
        let fresh = try Tagger(), before = fresh.stateDict()
        XCTAssertThrowsError(try fresh.loadStateDict(partial)) { error in
            XCTAssertEqual(error as? StateDictError, .keyMismatch(missing: ["norm.bias"], unexpected: ["extra.weight"]))
        }
        for (key, value) in fresh.stateDict() { XCTAssertEqual(value.scalars, before[key]!.scalars, key) }
        // Under a prefix, keys outside it are neither loaded nor reported.
        let sub = try fresh.heads.loadStateDict(partial, strict: false, prefix: "heads.")
        XCTAssertEqual(sub, StateDictLoadResult(missingKeys: [], unexpectedKeys: []))
    }

    func testPrintListsTheTreeLikePyTorch() throws {
        let model = try Tagger()
        XCTAssertEqual(model.description, """
            Tagger(
              (word_embeddings): Embedding(10, 4)  # 40 parameters
              (lstm): LSTM(4, 6, batch_first=True)  # 288 parameters
              (blocks): ModuleList(
                (0): Linear(in_features=6, out_features=6, bias=True)  # 42 parameters
                (1): Linear(in_features=6, out_features=6, bias=False)  # 36 parameters
              )  # 78 parameters
              (heads): ModuleDict(
                (pos): Linear(in_features=6, out_features=3, bias=True)  # 21 parameters
                (ner): Linear(in_features=6, out_features=2, bias=True)  # 14 parameters
              )  # 35 parameters
              (norm): LayerNorm((6,), eps=1e-05, elementwise_affine=True)  # 12 parameters
            )  # 453 parameters
            """)
        XCTAssertEqual(try Sequential(Tanh(), Dropout(p: 0.25)).description, """
            Sequential(
              (0): Tanh()
              (1): Dropout(p=0.25, inplace=False)
            )
            """)
        XCTAssertEqual(try GRU(inputSize: 3, hiddenSize: 5, numLayers: 2, bidirectional: true).description,
                       "GRU(3, 5, num_layers=2, bidirectional=True)  # 810 parameters")
        XCTAssertEqual(try RNNCell(inputSize: 2, hiddenSize: 3, bias: false, nonlinearity: .relu).description,
                       "RNNCell(2, 3, bias=False, nonlinearity=relu)  # 15 parameters")
        XCTAssertEqual(Module.grouped(1_234_567), "1,234,567")
        XCTAssertEqual(Module.grouped(999), "999")
    }

    func testOneCallThroughTheCommonBase() throws {
        let x = try Tensor.randn([2, 5, 3])
        let rnn = try RNN(inputSize: 3, hiddenSize: 4, batchFirst: true, seed: 1)
        let gru = try GRU(inputSize: 3, hiddenSize: 4, batchFirst: true, seed: 2)
        let lstm = try LSTM(inputSize: 3, hiddenSize: 4, numLayers: 2, batchFirst: true, seed: 3)
        let layers: [RecurrentBase] = [rnn, gru, lstm]
        for layer in layers {
            let (output, hN, cN) = try layer.forward(x, lengths: [5, 3])
            XCTAssertEqual(output.shape, [2, 5, 4])
            XCTAssertEqual(hN.shape, [layer.numLayers, 2, 4])
            XCTAssertEqual(cN == nil, !(layer is LSTM))
        }
        // The same numbers as the layers' own calls.
        XCTAssertEqual(try rnn.forward(x).output.scalars, try rnn(x).output.scalars)
        let h0 = try Tensor.randn([2, 2, 4]), c0 = try Tensor.randn([2, 2, 4])
        let direct = try lstm(x, LSTMState(h: h0, c: c0))
        let common = try lstm.forward(x, h0: h0, c0: c0)
        XCTAssertEqual(common.output.scalars, direct.output.scalars)
        XCTAssertEqual(common.hN.scalars, direct.state.h.scalars)
        XCTAssertEqual(common.cN?.scalars, direct.state.c.scalars)
        XCTAssertThrowsError(try gru.forward(x, c0: c0)) { error in
            XCTAssertTrue("\(error)".contains("cell state"), "\(error)")
        }
        // One LSTM state type for the layer, the cell and the cell protocol.
        let cell = try LSTMCell(inputSize: 3, hiddenSize: 4, seed: 4)
        let state: LSTMState = try cell(try x.select(dim: 1, index: 0))
        let (output, next) = try cell.step(try x.select(dim: 1, index: 1), state)
        XCTAssertEqual(output.scalars, next.h.scalars)
    }
}
