import Foundation
import LinearAlgebra

/// Constructors under PyTorch's names — `zeros`, `ones`, `full`, `arange`, `linspace`, `eye`,
/// `rand`, `randn` — and tensors from nested arrays (`Tensor([[1, 2], [3, 4]])`).
///
/// Every constructor checks its sizes before allocating and throws
/// ``TensorError/invalidArgument(_:)`` for a negative size, an element count that overflows,
/// or more bytes than the machine's physical memory.
extension Tensor {
    /// The element count of `shape`, checked: no negative size, no overflow.
    static func checkedCount(_ shape: [Int], _ op: String) throws -> Int {
        var total = 1
        for size in shape {
            guard size >= 0 else {
                throw TensorError.invalidArgument("\(op): expected non-negative sizes, got \(shape)")
            }
            let (product, overflow) = total.multipliedReportingOverflow(by: size)
            guard !overflow else {
                throw TensorError.invalidArgument("\(op): the element count of shape \(shape) overflows Int")
            }
            total = product
        }
        // Bounded before allocating: more bytes than the machine has cannot be allocated.
        let (bytes, overflow) = total.multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        guard !overflow, UInt64(bytes) <= ProcessInfo.processInfo.physicalMemory else {
            throw TensorError.invalidArgument("\(op): shape \(shape) needs \(total) elements, more than the machine's memory holds")
        }
        return total
    }

    /// A tensor of `shape` filled with `value` (`torch.full`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size or an overflowing count.
    public static func full(_ shape: [Int], _ value: Float, requiresGrad: Bool = false) throws -> Tensor {
        let n = try checkedCount(shape, "full")
        let storage = TensorBuffer(count: n)
        if value != 0 { storage.buffer.update(repeating: value) }
        return Tensor(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// A tensor of zeros (`torch.zeros`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size or an overflowing count.
    public static func zeros(_ shape: [Int], requiresGrad: Bool = false) throws -> Tensor {
        try full(shape, 0, requiresGrad: requiresGrad)
    }

    /// A tensor of ones (`torch.ones`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size or an overflowing count.
    public static func ones(_ shape: [Int], requiresGrad: Bool = false) throws -> Tensor {
        try full(shape, 1, requiresGrad: requiresGrad)
    }

    /// A tensor of zeros with `other`'s shape (`torch.zeros_like`).
    public static func zeros(like other: Tensor) -> Tensor {
        Tensor(shape: other.shape, storage: TensorBuffer(count: other.count))
    }

    /// A tensor of ones with `other`'s shape (`torch.ones_like`).
    public static func ones(like other: Tensor) -> Tensor {
        let storage = TensorBuffer(count: other.count)
        storage.buffer.update(repeating: 1)
        return Tensor(shape: other.shape, storage: storage)
    }

    /// `start, start + step, …` up to but excluding `end`, as a 1-D tensor (`torch.arange`);
    /// the values are computed in `Double` and rounded, as PyTorch does.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `step` is 0 or not finite, a bound
    ///   is not finite, or `step` points away from `end`.
    public static func arange(_ start: Double, _ end: Double, step: Double = 1,
                              requiresGrad: Bool = false) throws -> Tensor {
        guard step != 0, step.isFinite, start.isFinite, end.isFinite else {
            throw TensorError.invalidArgument("arange: expected finite bounds and a finite, non-zero step, got start \(start), end \(end), step \(step)")
        }
        guard (step > 0 && end >= start) || (step < 0 && end <= start) else {
            throw TensorError.invalidArgument("arange: step \(step) does not lead from \(start) to \(end)")
        }
        let size = ((end - start) / step).rounded(.up)
        guard size < Double(Int32.max) else {
            throw TensorError.invalidArgument("arange: \(size) elements from \(start) to \(end) by \(step) is too many")
        }
        let n = Int(size)
        let storage = TensorBuffer(count: n) { y in
            for i in 0..<n { y[i] = Float(start + step * Double(i)) }
        }
        return Tensor(shape: [n], storage: storage, requiresGrad: requiresGrad)
    }

    /// `0, 1, …` up to but excluding `end` (`torch.arange(end)`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `end` is negative or not finite.
    public static func arange(_ end: Double, requiresGrad: Bool = false) throws -> Tensor {
        try arange(0, end, requiresGrad: requiresGrad)
    }

    /// `steps` evenly spaced values from `start` to `end`, both included, as a 1-D tensor
    /// (`torch.linspace`), computed the way PyTorch does in `Float` (the first half counted
    /// from `start`, the second from `end`, so that both ends are exact).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `steps` or a bound that is
    ///   not finite.
    public static func linspace(_ start: Float, _ end: Float, steps: Int, requiresGrad: Bool = false) throws -> Tensor {
        guard steps >= 0 else { throw TensorError.invalidArgument("linspace: expected a non-negative number of steps, got \(steps)") }
        guard start.isFinite, end.isFinite else {
            throw TensorError.invalidArgument("linspace: expected finite bounds, got \(start) and \(end)")
        }
        let step = steps > 1 ? (end - start) / Float(steps - 1) : 0
        let halfway = steps / 2
        let storage = TensorBuffer(count: steps) { y in
            for i in 0..<steps {
                // One step gives `start`, as in PyTorch.
                y[i] = i < halfway || steps == 1 ? start + step * Float(i) : end - step * Float(steps - i - 1)
            }
        }
        return Tensor(shape: [steps], storage: storage, requiresGrad: requiresGrad)
    }

    /// The `n × m` matrix with ones on the diagonal and zeros elsewhere (`torch.eye`; `m`
    /// defaults to `n`).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size or an overflowing count.
    public static func eye(_ n: Int, _ m: Int? = nil, requiresGrad: Bool = false) throws -> Tensor {
        let columns = m ?? n
        let t = try zeros([n, columns], requiresGrad: requiresGrad)
        for i in 0..<Swift.min(n, columns) { t.storage.pointer[i * columns + i] = 1 }
        return t
    }

    /// Samples from U(0, 1) drawn from the default random stream ``RandomState``
    /// (`torch.rand`). The stream is PCG-based, so the values differ from PyTorch's.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size or an overflowing
    ///   count (nothing is drawn then).
    public static func rand(_ shape: [Int], requiresGrad: Bool = false) throws -> Tensor {
        let n = try checkedCount(shape, "rand")
        let storage = TensorBuffer(count: n)
        RandomState.withGenerator { g in
            for i in 0..<n { storage.pointer[i] = g.uniform(Float(0), Float(1)) }
        }
        return Tensor(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// Samples from N(0, 1) drawn from the default random stream ``RandomState``
    /// (`torch.randn`). The values differ from PyTorch's.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative size or an overflowing
    ///   count (nothing is drawn then).
    public static func randn(_ shape: [Int], requiresGrad: Bool = false) throws -> Tensor {
        let n = try checkedCount(shape, "randn")
        let storage = TensorBuffer(count: n)
        RandomState.withGenerator { g in
            for i in 0..<n { storage.pointer[i] = g.normal(mean: Float(0), standardDeviation: Float(1)) }
        }
        return Tensor(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// A 1-D tensor holding `scalars` (`torch.tensor([1, 2, 3])`).
    public convenience init(_ scalars: [Float], requiresGrad: Bool = false) {
        self.init(shape: [scalars.count], storage: TensorBuffer(copying: scalars), requiresGrad: requiresGrad)
    }

    /// A 2-D tensor from rows of equal length (`torch.tensor([[1, 2], [3, 4]])`); shape
    /// `[rows.count, rows[0].count]`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the rows differ in length (naming the
    ///   first that does).
    public convenience init(_ rows: [[Float]], requiresGrad: Bool = false) throws {
        let width = rows.first?.count ?? 0
        if let bad = rows.firstIndex(where: { $0.count != width }) {
            throw TensorError.shapeMismatch("Tensor: expected rows of \(width) elements like row 0, got \(rows[bad].count) in row \(bad)")
        }
        self.init(shape: [rows.count, width], storage: TensorBuffer(copying: rows.joined()), requiresGrad: requiresGrad)
    }

    /// A 3-D tensor from nested arrays of equal lengths (`torch.tensor([[[…]]])`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the nested arrays are ragged.
    public convenience init(_ blocks: [[[Float]]], requiresGrad: Bool = false) throws {
        let rows = blocks.first?.count ?? 0, width = blocks.first?.first?.count ?? 0
        for (b, block) in blocks.enumerated() {
            guard block.count == rows else {
                throw TensorError.shapeMismatch("Tensor: expected \(rows) rows in every block like block 0, got \(block.count) in block \(b)")
            }
            if let bad = block.firstIndex(where: { $0.count != width }) {
                throw TensorError.shapeMismatch("Tensor: expected rows of \(width) elements, got \(block[bad].count) in block \(b), row \(bad)")
            }
        }
        self.init(shape: [blocks.count, rows, width], storage: TensorBuffer(copying: blocks.joined().joined()),
                  requiresGrad: requiresGrad)
    }
}
