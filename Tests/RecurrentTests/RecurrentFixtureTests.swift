import XCTest
@testable import Recurrent

/// Every recurrent module and cell fixture made by PyTorch: outputs, final states, and the
/// gradients of `Σ output · seed` with respect to the input, the initial states and every
/// parameter.
final class RecurrentFixtureTests: XCTestCase {
    /// Builds the module a fixture describes, with the fixture's parameters loaded.
    static func makeModule(_ f: Fixture) throws -> Module {
        let c = f.config
        let input = c["input_size"] as! Int, hidden = c["hidden_size"] as! Int
        let layers = c["num_layers"] as? Int ?? 1
        let bias = c["bias"] as? Bool ?? true
        let batchFirst = c["batch_first"] as? Bool ?? false
        let bidirectional = c["bidirectional"] as? Bool ?? false
        let dropout = Float(c["dropout"] as? Double ?? 0)
        let module: Module
        switch f["module"] as! String {
        case "RNN":
            let nl: RNN.Nonlinearity = (c["nonlinearity"] as? String) == "relu" ? .relu : .tanh
            module = try RNN(inputSize: input, hiddenSize: hidden, numLayers: layers, nonlinearity: nl, bias: bias,
                             batchFirst: batchFirst, dropout: dropout, bidirectional: bidirectional)
        case "LSTM":
            module = try LSTM(inputSize: input, hiddenSize: hidden, numLayers: layers, bias: bias, batchFirst: batchFirst,
                              dropout: dropout, bidirectional: bidirectional, projSize: c["proj_size"] as? Int ?? 0)
        case "GRU":
            module = try GRU(inputSize: input, hiddenSize: hidden, numLayers: layers, bias: bias, batchFirst: batchFirst,
                             dropout: dropout, bidirectional: bidirectional)
        case "RNNCell":
            let nl: RNN.Nonlinearity = (c["nonlinearity"] as? String) == "relu" ? .relu : .tanh
            module = try RNNCell(inputSize: input, hiddenSize: hidden, bias: bias, nonlinearity: nl)
        case "LSTMCell":
            module = try LSTMCell(inputSize: input, hiddenSize: hidden, bias: bias)
        case "GRUCell":
            module = try GRUCell(inputSize: input, hiddenSize: hidden, bias: bias)
        default:
            throw XCTSkip("not a recurrent fixture")
        }
        try module.loadStateDict(f.tensors("parameters"))
        return module
    }

    /// Runs a fixture's module and returns its outputs by the fixture's output names.
    static func run(_ module: Module, _ f: Fixture, input: Tensor, h0: Tensor?, c0: Tensor?) throws -> [String: Tensor] {
        let lengths = (f.object("inputs")["lengths"] as? [Int])
        switch module {
        case let m as RNN:
            let (o, h) = try m(input, h0, lengths: lengths); return ["output": o, "h_n": h]
        case let m as GRU:
            let (o, h) = try m(input, h0, lengths: lengths); return ["output": o, "h_n": h]
        case let m as LSTM:
            let state: LSTMState? = h0.map { LSTMState(h: $0, c: c0!) }
            let (o, s) = try m(input, state, lengths: lengths); return ["output": o, "h_n": s.h, "c_n": s.c]
        case let m as RNNCell:
            return ["h_1": try m(input, h0)]
        case let m as GRUCell:
            return ["h_1": try m(input, h0)]
        case let m as LSTMCell:
            let s = try m(input, h0.map { LSTMState(h: $0, c: c0!) })
            return ["h_1": s.h, "c_1": s.c]
        default:
            fatalError()
        }
    }

    func check(_ name: String, shared: Bool, file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try Fixture(name, shared: shared)
        let module = try Self.makeModule(f)
        let inputs = f.tensors("inputs")
        let input = inputs["input"]!, h0 = inputs["h0"], c0 = inputs["c0"]
        for t in [input, h0, c0].compactMap({ $0 }) { t.requiresGrad = true }
        let outputs = try Self.run(module, f, input: input, h0: h0, c0: c0)
        let expected = f.tensors("outputs"), seeds = f.tensors("grad_seeds")
        var loss: Tensor?
        for (key, value) in expected {
            assertClose(outputs[key], value, rtol: 1e-5, atol: 2e-5, "\(name) \(key)", file: file, line: line)
            let term = (outputs[key]! * seeds[key]!).sum()
            loss = loss.map { $0 + term } ?? term
        }
        XCTAssertEqual(Double(loss!.item), f.number("loss")!, accuracy: 1e-4, "\(name) loss", file: file, line: line)
        loss!.backward()
        let grads = f.tensors("grads")
        let params = Dictionary(uniqueKeysWithValues: module.namedParameters().map { ($0.name, $0.parameter as Tensor) })
        for (key, g) in grads {
            let source: Tensor? = key == "input" ? input : key == "h0" ? h0 : key == "c0" ? c0 : params[key]
            XCTAssertNotNil(source, "\(name): no tensor for gradient \(key)", file: file, line: line)
            assertClose(source?.grad, g, rtol: 1e-4, atol: 5e-5, "\(name) grad \(key)", file: file, line: line)
        }
    }

    func testSharedFixtures() throws {
        let names = Fixture.names(shared: true).filter { !$0.hasPrefix("seed") && !["losses", "optimizers"].contains($0) }
        XCTAssertGreaterThanOrEqual(names.count, 15)
        for name in names { try check(name, shared: true) }
    }

    func testGeneratedFixtures() throws {
        let names = Fixture.names().filter { name in
            ["rnn", "lstm", "gru"].contains { name.hasPrefix($0) }
        }
        for name in names { try check(name, shared: false) }
    }
}
