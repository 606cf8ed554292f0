import Foundation
import LinearAlgebra
import XCTest
@testable import Recurrent

/// A property of every public throwing entry point of the tensor API: for arbitrary
/// arguments (shapes of any sign and size, dimensions and indices far out of range, `Int.max`
/// and `Int.min`, probabilities that are NaN or infinite, tensors that need gradients or
/// not), the call returns a value or throws — it never traps — and a call that throws leaves
/// every argument as it was: each tensor's shape, values (bit for bit), `requiresGrad`,
/// gradient and place in the graph, and the random generator it was given.
///
/// The cases come from a seeded generator; `RECURRENT_PROPERTY_CASES` and
/// `RECURRENT_PROPERTY_SEED` in the environment run more of them or other ones (100,000 were
/// run by hand, see RELIABILITY.md).
final class TensorAPIPropertyTests: XCTestCase {
    /// What a tensor argument must still be after a failed call.
    struct Snapshot: Equatable {
        let shape: [Int]
        let bits: [UInt32]
        let requiresGrad: Bool
        let grad: [UInt32]?
        let gradFn: ObjectIdentifier?

        init(_ t: Tensor) {
            shape = t.shape
            bits = t.scalars.map(\.bitPattern)
            requiresGrad = t.requiresGrad
            grad = t.grad?.scalars.map(\.bitPattern)
            gradFn = t.gradFn.map(ObjectIdentifier.init)
        }
    }

    /// The seeded source of arbitrary arguments.
    struct Arbitrary {
        var g: SeededGenerator

        mutating func int(_ range: ClosedRange<Int>) -> Int { range.lowerBound + Int(g.next() % UInt64(range.count)) }
        mutating func bool() -> Bool { g.next() & 1 == 0 }

        /// A dimension, index or size: mostly small, sometimes negative or extreme.
        mutating func number() -> Int {
            switch int(0...9) {
            case 0: return [Int.max, Int.min, Int.max - 1, Int.min + 1, 1 << 40, -(1 << 40), 1 << 62][int(0...6)]
            case 1...2: return int(-6...(-1))
            default: return int(0...5)
            }
        }

        /// A shape a tensor can be made with (dimensions 0 to 4, rank 0 to 4).
        mutating func shape(maxRank: Int = 4) -> [Int] { (0..<int(0...maxRank)).map { _ in int(0...4) } }

        /// A shape as an argument: usually plausible, sometimes negative or huge (never one
        /// that fits in memory but is large, so nothing big is ever allocated).
        mutating func shapeArgument() -> [Int] {
            (0..<int(0...4)).map { _ in int(0...4) == 0 ? [-1, -2, 1 << 40, Int.max, Int.min, 0][int(0...5)] : int(0...4) }
        }

        mutating func tensor(_ shape: [Int]? = nil) -> Tensor {
            let s = shape ?? self.shape()
            let t = Tensor(normal: s, using: &g, requiresGrad: bool())
            if t.count > 0 && int(0...7) == 0 {
                t.withUnsafeMutableBufferPointer { $0[0] = [.nan, .infinity, -.infinity, 0][int(0...3)] }
            }
            // Sometimes a tensor with a gradient already, or one made by an operation.
            if t.requiresGrad && int(0...3) == 0 { t.grad = Tensor(zeros: s, value: 0.25) }
            if t.requiresGrad && int(0...3) == 0 { return t * 2 }
            return t
        }

        /// A shape like `s`, often the same, sometimes one dimension off.
        mutating func near(_ s: [Int]) -> [Int] {
            var r = s
            switch int(0...4) {
            case 0 where !r.isEmpty: r[int(0...(r.count - 1))] = int(0...4)
            case 1: r.insert(int(0...3), at: int(0...r.count))
            case 2 where !r.isEmpty: r.remove(at: int(0...(r.count - 1)))
            default: break
            }
            return r
        }

        mutating func probability() -> Float {
            int(0...5) == 0 ? [.nan, .infinity, -.infinity, -0.5, 1.5, -0.0][int(0...5)] : Float(int(0...10)) / 10
        }
    }

    func testEveryThrowingTensorEntryPointReturnsOrThrowsAndAThrowChangesNoArgument() throws {
        let environment = ProcessInfo.processInfo.environment
        let cases = environment["RECURRENT_PROPERTY_CASES"].flatMap(Int.init) ?? 4000
        let seed = environment["RECURRENT_PROPERTY_SEED"].flatMap { UInt64($0) } ?? 0x7E57
        var a = Arbitrary(g: SeededGenerator(seed: seed))
        var returned = [Int](repeating: 0, count: 26), threw = [Int](repeating: 0, count: 26)

        for index in 0..<cases {
            let entry = a.int(0...25)
            var tensors: [Tensor] = []
            func use(_ t: Tensor) -> Tensor { tensors.append(t); return t }
            var generator = SeededGenerator(seed: UInt64(index))
            let generatorBefore = generator
            let snapshotsBefore: () -> [Snapshot] = { tensors.map(Snapshot.init) }
            var before: [Snapshot] = []
            let call: () throws -> Void
            switch entry {
            case 0:
                let shape = a.shapeArgument(), count = a.int(0...20)
                call = { _ = try Tensor(validating: shape, scalars: [Float](repeating: 1, count: count)) }
            case 1:
                let shape = a.shapeArgument()
                call = { _ = try Tensor.validatedCount(of: shape) }
            case 2...5:
                let x = use(a.tensor()), y = use(a.tensor(a.bool() ? a.near(x.shape) : a.shape()))
                call = {
                    switch entry {
                    case 2: _ = try x.adding(y)
                    case 3: _ = try x.subtracting(y)
                    case 4: _ = try x.multiplying(y)
                    default: _ = try x.dividing(y)
                    }
                }
            case 6:
                let x = use(a.tensor(a.shape(maxRank: 3)))
                let y = use(a.tensor(a.bool() && x.rank > 0 ? a.near([x.shape.last!, a.int(0...3)]) : a.shape(maxRank: 3)))
                call = { _ = try x.matmul(y) }
            case 7:
                let x = use(a.tensor(a.shape(maxRank: 3)))
                let w = use(a.tensor(a.near([a.int(0...3), x.shape.last ?? 2])))
                let b: Tensor? = a.bool() ? use(a.tensor(a.near([w.shape.first ?? 1]))) : nil
                call = { _ = try Tensor.linear(x, weight: w, bias: b) }
            case 8:
                let x = use(a.tensor()), shape = a.bool() ? a.shapeArgument() : a.near(x.shape).map { a.int(0...5) == 0 ? -1 : $0 }
                call = { _ = try x.reshaped(shape) }
            case 9:
                let x = use(a.tensor())
                let dims = a.bool() ? (0..<a.int(0...5)).map { _ in a.number() } : Array(x.shape.indices).shuffled(using: &a.g)
                call = { _ = try x.permuted(dims) }
            case 10:
                let x = use(a.tensor()), d0 = a.number(), d1 = a.number()
                call = { _ = try x.transposed(d0, d1) }
            case 11:
                let x = use(a.tensor()), dim = a.number(), i = a.number()
                call = { _ = try x.select(dim: dim, index: i) }
            case 12:
                let x = use(a.tensor()), dim = a.number(), start = a.number(), length = a.number()
                call = { _ = try x.narrow(dim: dim, start: start, length: length) }
            case 13, 14:
                let first = a.tensor()
                let parts = [use(first)] + (0..<a.int(0...3)).map { _ in use(a.tensor(a.bool() ? first.shape : a.near(first.shape))) }
                let list = a.int(0...9) == 0 ? [] : parts
                let dim = a.number()
                call = { _ = entry == 13 ? try Tensor.cat(list, dim: dim) : try Tensor.stack(list, dim: dim) }
            case 15, 16:
                let x = use(a.tensor()), dim = a.number(), keep = a.bool()
                call = { _ = entry == 15 ? try x.sum(dim: dim, keepDim: keep) : try x.mean(dim: dim, keepDim: keep) }
            case 17, 18:
                let x = use(a.tensor()), dim = a.number()
                call = { _ = entry == 17 ? try x.softmax(dim: dim) : try x.logSoftmax(dim: dim) }
            case 19:
                let x = use(a.tensor()), p = a.probability(), training = a.bool()
                call = { _ = try x.dropout(p: p, training: training, using: &generator) }
            case 20:
                let w = use(a.tensor(a.bool() ? [a.int(0...4), a.int(0...3)] : a.shape()))
                let shape = a.bool() ? [a.int(0...3)] : a.shapeArgument()
                let indices = (0..<(shape.allSatisfy { (0...4).contains($0) } && a.bool() ? shape.reduce(1, *) : a.int(0...6))).map { _ in a.number() }
                let padding: Int? = a.bool() ? a.number() : nil
                call = { _ = try Tensor.embedding(w, indices: indices, shape: shape, paddingIdx: padding) }
            case 21:
                let x = use(a.tensor()), dim = a.number(), along = a.bool()
                call = { _ = along ? try x.argmax(dim: dim) : [try x.argmax()] }
            case 22:
                let x = use(a.tensor(a.shape(maxRank: 3)))
                if a.bool() { x.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] = abs($0[i]) } } }
                call = { _ = try x.multinomial(using: &generator) }
            case 23:
                let shape = a.shapeArgument(), bound = Float(a.int(0...3))
                call = { _ = try Parameter(uniform: shape, bound: bound, using: &generator) }
            case 24:
                let list = (0..<a.int(0...3)).map { _ in use(a.tensor()) }, plain = a.bool()
                call = { _ = plain ? try Tensor(tensors: list) : try Parameter(tensors: list) }
            default:
                let list = (0..<a.int(0...3)).map { _ in use(a.tensor()) }
                call = { _ = try LSTMState(tensors: list) }
            }
            before = snapshotsBefore()
            do {
                try call()
                returned[entry] += 1
            } catch is TensorError {
                threw[entry] += 1
                XCTAssertEqual(tensors.map(Snapshot.init), before, "case \(index) (entry point \(entry)) threw and changed an argument")
                XCTAssertEqual(generator, generatorBefore, "case \(index) (entry point \(entry)) threw and drew from the generator")
            } catch {
                XCTFail("case \(index) (entry point \(entry)) threw \(type(of: error)): \(error)")
            }
        }
        // Every entry point was reached, and both outcomes happen (else the generator is
        // too tame or too wild to test anything).
        for entry in 0..<26 where cases >= 2000 {
            XCTAssertGreaterThan(returned[entry] + threw[entry], 0, "entry point \(entry) was never called")
        }
        XCTAssertGreaterThan(returned.reduce(0, +), cases / 10)
        XCTAssertGreaterThan(threw.reduce(0, +), cases / 10)
        print("tensor API property: \(cases) cases, \(returned.reduce(0, +)) returned, \(threw.reduce(0, +)) threw, seed \(seed)")
    }
}
