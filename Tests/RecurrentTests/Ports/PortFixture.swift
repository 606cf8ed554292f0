import Foundation
import XCTest
@testable import Recurrent

/// The fixture-loading boilerplate of the PyTorch ports (`Scripts/ports/*.py` write
/// `Fixtures/ports/<name>.json`): the initial weights, the recorded data and the numbers
/// to match, and one assertion that reports the largest relative deviation found.
struct PortFixture {
    let fixture: Fixture

    /// Reads `Fixtures/ports/<name>.json`.
    init(_ name: String) throws { fixture = try Fixture("ports/" + name) }

    /// The model's initial weights, by PyTorch's state-dict keys: `Fixtures/ports/<name>.safetensors`
    /// when the program wrote one (large weights), else the JSON's `initial_state_dict`.
    var initialStateDict: [String: Tensor] {
        get throws {
            let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/\(fixture.name).safetensors")
            guard FileManager.default.fileExists(atPath: url.path) else { return fixture.tensors("initial_state_dict") }
            return try SafeTensorsFile(contentsOf: url).tensors
        }
    }

    /// A tensor of the fixture.
    func tensor(_ key: String) throws -> Tensor { try XCTUnwrap(fixture.tensor(key), "fixture \(fixture.name): no tensor \(key)") }

    /// A list of numbers of the fixture.
    func floats(_ key: String) throws -> [Float] {
        try XCTUnwrap(fixture[key] as? [NSNumber], "fixture \(fixture.name): no numbers \(key)").map(\.floatValue)
    }

    /// Any other value of the fixture (strings, indices, nested lists).
    func value<T>(_ key: String, as type: T.Type = T.self) throws -> T {
        try XCTUnwrap(fixture[key] as? T, "fixture \(fixture.name): no \(T.self) under \(key)")
    }

    /// Asserts that `actual` matches the fixture's `key` (a tensor or a list of numbers)
    /// within `rtol` relative (and `atol` absolute) deviation, printing the largest relative
    /// deviation for the report.
    func assertMatches(_ actual: [Float], _ key: String, rtol: Float, atol: Float = 1e-6,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let expected = try fixture.tensor(key)?.scalars ?? floats(key)
        assertClose(actual, expected, rtol: rtol, atol: atol, "\(fixture.name).\(key)", file: file, line: line)
        let worst = zip(actual, expected).map { abs($0 - $1) / max(abs($1), 1e-30) }.max() ?? 0
        print("\(fixture.name).\(key): largest relative deviation from PyTorch \(worst)")
    }

    /// ``assertMatches(_:_:rtol:atol:file:line:)`` for a tensor, whose shape must be the fixture's too.
    func assertMatches(_ actual: Tensor, _ key: String, rtol: Float, atol: Float = 1e-6,
                       file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(actual.shape, try tensor(key).shape, "\(fixture.name).\(key)", file: file, line: line)
        try assertMatches(actual.scalars, key, rtol: rtol, atol: atol, file: file, line: line)
    }
}
