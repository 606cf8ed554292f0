import XCTest
@testable import Recurrent

/// The inputs and masks of one check of a regularised recurrent layer against a reference
/// built step by step (``RegulariserTests``, ``LayerNormRegulariserTests``): one layer, one
/// direction, sequence first; input `(T, B, I)`, states `(B, H)`, a recurrent-dropout mask
/// `(B, H)` (values 0 or `1 / 0.7`), zoneout masks `(T, B, H)` of 0/1 (or, for zoneout's
/// expectation, `(B, H)` of the probability), and the weights of the loss on the output.
struct RegularisedLayerCase {
    let steps: Int, batch: Int, hidden: Int
    let x: Tensor, h0: Tensor, c0: Tensor, outputWeights: Tensor
    let stateMask: Tensor?, zoneoutH: Tensor?, zoneoutC: Tensor?

    /// Draws everything from one seeded stream, in a fixed order.
    init(steps T: Int, batch B: Int, inputSize I: Int, hiddenSize H: Int, lstm: Bool, dropout: Bool, zoneoutH: Bool,
         zoneoutC: Bool, zoneoutExpectation: Float?) {
        var generator = SeededGenerator(seed: 21)
        (steps, batch, hidden) = (T, B, H)
        x = Tensor(uniform: [T, B, I], low: -1, high: 1, using: &generator)
        h0 = Tensor(uniform: [B, H], low: -0.5, high: 0.5, using: &generator)
        c0 = Tensor(uniform: [B, H], low: -0.5, high: 0.5, using: &generator)
        stateMask = dropout
            ? Tensor(shape: [B, H], scalars: Self.mask([B, H], keepPrevious: 0.7, using: &generator).scalars.map { $0 / 0.7 }) : nil
        func zoneout(_ on: Bool) -> Tensor? {
            guard on else { return nil }
            if let p = zoneoutExpectation { return Tensor(shape: [B, H], scalars: [Float](repeating: p, count: B * H)) }
            return Self.mask([T, B, H], keepPrevious: 0.4, using: &generator)
        }
        self.zoneoutH = zoneout(zoneoutH)
        self.zoneoutC = lstm ? zoneout(zoneoutC) : nil
        outputWeights = Tensor(uniform: [T, B, H], low: -1, high: 1, using: &generator)
    }

    /// Random 0/1 values, 1 with probability `p`.
    static func mask(_ shape: [Int], keepPrevious p: Float, using generator: inout SeededGenerator) -> Tensor {
        Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in generator.uniform(Float(0), Float(1)) < p ? 1 : 0 })
    }

    /// Step `t`'s zoneout mask: its slice of a per-step mask, or the every-step one.
    static func zoneout(_ mask: Tensor?, step t: Int) throws -> Tensor? {
        guard let mask else { return nil }
        return mask.rank == 3 ? try mask.select(dim: 0, index: t) : mask
    }

    /// `base` with these masks, as the fused layers take them.
    func variant(_ base: CellVariant) throws -> CellVariant {
        func zoneoutMask(_ m: Tensor?) throws -> ZoneoutMask? {
            try m.map { ZoneoutMask(values: $0.rank == 3 ? try $0.reshaped([steps * batch, hidden]) : $0, perStep: $0.rank == 3) }
        }
        var variant = base
        variant.stateMask = stateMask
        variant.zoneoutH = try zoneoutMask(zoneoutH)
        variant.zoneoutC = try zoneoutMask(zoneoutC)
        return variant
    }

    /// Asserts that `fused` and `reference` agree (`rtol` 1e-4, `atol` 1e-5) in every result
    /// (``results(parameters:_:)``), none of which is all zeros unless the reference's is.
    func assertAgreement(parameters: [Tensor], _ what: String, file: StaticString, line: UInt,
                         fused: () throws -> (Tensor, Tensor, Tensor?), reference: () throws -> (Tensor, Tensor, Tensor?)) throws {
        let actual = try results(parameters: parameters, fused)
        let expected = try results(parameters: parameters, reference)
        XCTAssertEqual(actual.count, expected.count, file: file, line: line)
        for (i, (a, e)) in zip(actual, expected).enumerated() {
            XCTAssertTrue(a.contains { $0 != 0 } || e.allSatisfy { $0 == 0 }, "\(what) result \(i) is all zeros", file: file, line: line)
            assertClose(a, e, rtol: 1e-4, atol: 1e-5, "\(what) result \(i)", file: file, line: line)
        }
    }

    /// The output, final states and the gradients of `x`, `h0`, `c0` and `parameters` of
    /// `body`'s results under the loss `Σ y·w + Σ h² + Σ c²`.
    func results(parameters: [Tensor], _ body: () throws -> (Tensor, Tensor, Tensor?)) throws -> [[Float]] {
        let inputs = [x, h0, c0] + parameters
        for t in inputs { t.requiresGrad = true; t.grad = nil }
        let (y, h, c) = try body()
        var loss = (y * outputWeights).sum() + (h * h).sum()
        if let c { loss = loss + (c * c).sum() }
        loss.backward()
        return [y.scalars, h.scalars, c?.scalars ?? []] + inputs.map { $0.grad?.scalars ?? [] }
    }
}

/// Asserts that masks drawn from a seed repeat and change from call to call: two modules made
/// alike by `make` (each returned as its forward call's output) give the same outputs call
/// for call, and a module's second call gives other outputs than its first.
func assertMasksRepeatFromASeed(_ x: Tensor, file: StaticString = #filePath, line: UInt = #line,
                                make: () throws -> (Tensor) throws -> Tensor) throws {
    let first = try make(), second = try make()
    let a1 = try first(x).scalars, a2 = try first(x).scalars
    XCTAssertEqual(a1, try second(x).scalars, file: file, line: line)
    XCTAssertEqual(a2, try second(x).scalars, file: file, line: line)
    XCTAssertNotEqual(a1, a2, file: file, line: line)
}
