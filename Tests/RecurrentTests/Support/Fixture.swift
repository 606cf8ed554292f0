import Foundation
import XCTest
@testable import Recurrent

/// A PyTorch reference fixture (see `Fixtures/README.md`): a JSON object whose tensors are
/// `{"shape": [...], "data": [...]}`.
struct Fixture {
    let name: String
    let json: [String: Any]

    /// Loads `Fixtures/<name>.json` (the project's generated set) or, with `shared`,
    /// `Fixtures/shared/<name>.json` (the copies of the issue's ground truth).
    init(_ name: String, shared: Bool = false) throws {
        self.name = name
        let base = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
        let url = (shared ? base.appendingPathComponent("shared") : base).appendingPathComponent(name + ".json")
        let data = try Data(contentsOf: url)
        json = try JSONSerialization.jsonObject(with: data) as! [String: Any]
    }

    /// Every fixture file name (without extension) in the set.
    static func names(shared: Bool = false, prefix: String = "") -> [String] {
        let base = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
        let dir = shared ? base.appendingPathComponent("shared") : base
        let files = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        return files.filter { $0.hasSuffix(".json") && $0.hasPrefix(prefix) }.map { String($0.dropLast(5)) }.sorted()
    }

    subscript(key: String) -> Any? { json[key] }

    /// The object under `key`.
    func object(_ key: String) -> [String: Any] { json[key] as? [String: Any] ?? [:] }

    /// A tensor stored under `path` (nested keys).
    func tensor(_ path: String...) -> Tensor? {
        var node: Any? = json
        for key in path { node = (node as? [String: Any])?[key] }
        return (node as? [String: Any]).flatMap(Fixture.tensor(from:))
    }

    /// The tensors of the object under `key`, by name.
    func tensors(_ key: String) -> [String: Tensor] {
        object(key).compactMapValues { ($0 as? [String: Any]).flatMap(Fixture.tensor(from:)) }
    }

    static func tensor(from object: [String: Any]) -> Tensor? {
        guard let shape = object["shape"] as? [Int], let data = object["data"] as? [Any] else { return nil }
        // Non-finite values are written as the strings "nan", "inf" and "-inf".
        let scalars = data.map { ($0 as? NSNumber)?.floatValue ?? ($0 as? String).flatMap(Float.init) ?? .nan }
        return Tensor(shape: shape, scalars: scalars)
    }

    /// A number under `key`.
    func number(_ key: String) -> Double? { (json[key] as? NSNumber)?.doubleValue }

    /// The `config` object.
    var config: [String: Any] { object("config") }
}

/// Asserts that two float arrays match elementwise within `atol + rtol · |expected|`,
/// reporting the worst element and its index.
func assertClose(_ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-5,
                 _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard actual.count == expected.count else {
        XCTFail("count \(actual.count) != expected \(expected.count) \(message())", file: file, line: line)
        return
    }
    var worst = -1
    var worstExcess: Float = 0
    for i in actual.indices {
        let allowed = atol + rtol * abs(expected[i])
        let error = abs(actual[i] - expected[i])
        if !(error <= allowed) {
            let excess = error.isNaN ? .infinity : error - allowed
            if worst < 0 || excess > worstExcess { worst = i; worstExcess = excess }
        }
    }
    if worst >= 0 {
        XCTFail("not close at index \(worst): \(actual[worst]) vs expected \(expected[worst]) (|diff| \(abs(actual[worst] - expected[worst]))) \(message())",
                file: file, line: line)
    }
}

/// Asserts that a tensor has the expected shape and values.
func assertClose(_ actual: Tensor?, _ expected: Tensor?, rtol: Float = 1e-5, atol: Float = 1e-5,
                 _ message: @autoclosure () -> String = "", file: StaticString = #filePath, line: UInt = #line) {
    guard let actual, let expected else {
        XCTFail("missing tensor (actual \(actual == nil ? "nil" : "present"), expected \(expected == nil ? "nil" : "present")) \(message())",
                file: file, line: line)
        return
    }
    XCTAssertEqual(actual.shape, expected.shape, "shape \(message())", file: file, line: line)
    assertClose(actual.scalars, expected.scalars, rtol: rtol, atol: atol, message(), file: file, line: line)
}

/// Checks the gradient of `f` (a scalar function of the tensors in `inputs`) against
/// central finite differences, element by element. Float32 needs a large step; the
/// tolerances are set for that.
func assertGradientsMatchFiniteDifferences(
    _ inputs: [Tensor], step: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
    file: StaticString = #filePath, line: UInt = #line, _ f: () throws -> Tensor
) rethrows {
    for t in inputs { t.requiresGrad = true; t.grad = nil }
    let loss = try f()
    loss.backward()
    for (k, t) in inputs.enumerated() {
        let analytic = t.grad?.scalars ?? Array(repeating: 0, count: t.count)
        var numeric = [Float](repeating: 0, count: t.count)
        for i in 0..<t.count {
            let original = t.scalars[i]
            var s = t.scalars
            s[i] = original + step; t.scalars = s
            let plus = try withoutGradients { try f().item }
            s[i] = original - step; t.scalars = s
            let minus = try withoutGradients { try f().item }
            s[i] = original; t.scalars = s
            numeric[i] = (plus - minus) / (2 * step)
        }
        assertClose(analytic, numeric, rtol: rtol, atol: atol, "gradient of input \(k)", file: file, line: line)
    }
}
