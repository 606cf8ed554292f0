import LinearAlgebra

/// An N-dimensional, row-major array of `Float` that records the operations made on it,
/// so that ``backward(_:retainGraph:)`` can compute gradients — the Swift counterpart of
/// `torch.Tensor`.
///
/// Tensors have reference semantics, like PyTorch's: two variables can name the same
/// tensor, and optimizers update parameters in place. A tensor made by an operation on
/// tensors that require gradients records that operation (its `gradFn`) while gradient
/// recording is on (see ``withoutGradients(_:)``).
///
/// ```swift
/// let w = Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6], requiresGrad: true)
/// let loss = try (w * w).sum()
/// loss.backward()
/// print(w.grad!.scalars)   // [2, 4, 6, 8, 10, 12]
/// ```
public class Tensor: CustomStringConvertible, @unchecked Sendable {
    /// The size of each dimension; `[]` for a scalar.
    public final let shape: [Int]
    @usableFromInline final let storage: TensorBuffer
    /// Whether gradients flow to this tensor: set it on leaves (inputs, parameters);
    /// operation results inherit it from their inputs while recording is on.
    @exclusivity(unchecked) public final var requiresGrad: Bool
    /// The gradient accumulated by ``backward(_:retainGraph:)`` for a leaf tensor that
    /// requires gradients, with this tensor's shape; `nil` until the first backward pass
    /// and after ``zeroGrad(setToNil:)`` with `setToNil`.
    @exclusivity(unchecked) public final var grad: Tensor?
    /// The operation that produced this tensor, and which of its outputs this is.
    ///
    /// The autograd fields skip Swift's dynamic exclusivity checks (a runtime call per
    /// access, a fifth of the cost of a small recorded op): they are never accessed through
    /// overlapping `inout` accesses.
    @exclusivity(unchecked) @usableFromInline final var gradFn: Node?
    @exclusivity(unchecked) @usableFromInline final var outputIndex: Int = 0

    @usableFromInline
    init(shape: [Int], storage: TensorBuffer, requiresGrad: Bool = false) {
        self.shape = shape
        self.storage = storage
        self.requiresGrad = requiresGrad
    }

    /// A tensor of the given shape holding `scalars` in row-major order.
    ///
    /// - Precondition: `scalars.count` is the product of `shape` (a programming error, like
    ///   an array index out of range). Use ``init(validating:scalars:requiresGrad:)`` for
    ///   data that comes from outside.
    public convenience init(shape: [Int], scalars: [Float], requiresGrad: Bool = false) {
        require(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        require(shape.reduce(1, *) == scalars.count,
                     "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
        self.init(shape: shape, storage: TensorBuffer(copying: scalars), requiresGrad: requiresGrad)
    }

    /// A tensor of the given shape holding `scalars`, checking that they fit.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `scalars.count` is not the product of
    ///   `shape`, a dimension is negative, or the product overflows `Int`.
    public convenience init(validating shape: [Int], scalars: [Float], requiresGrad: Bool = false) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.shapeMismatch("expected non-negative dimensions in shape \(shape), got \(scalars.count) scalars")
        }
        // The product is taken with overflow checks: a shape read from outside must not trap.
        var expected = 1
        for dimension in shape {
            let (product, overflow) = expected.multipliedReportingOverflow(by: dimension)
            guard !overflow else {
                throw TensorError.shapeMismatch("the element count of shape \(shape) overflows Int, got \(scalars.count) scalars")
            }
            expected = product
        }
        guard expected == scalars.count else {
            throw TensorError.shapeMismatch("expected \(expected) scalars for shape \(shape), got \(scalars.count)")
        }
        self.init(shape: shape, storage: TensorBuffer(copying: scalars), requiresGrad: requiresGrad)
    }

    /// A tensor of the given shape filled with `value` (zeros by default).
    public convenience init(zeros shape: [Int], value: Float = 0, requiresGrad: Bool = false) {
        require(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in \(shape)")
        let storage = TensorBuffer(count: shape.reduce(1, *))
        if value != 0 { storage.buffer.update(repeating: value) }
        self.init(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// The same tensor as `tensors[0]`: the same storage and the same place in the graph
    /// (for single-tensor recurrent states, ``RecurrentState``).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` unless `tensors` holds exactly one tensor.
    public required convenience init(tensors: [Tensor]) throws {
        guard tensors.count == 1 else {
            throw TensorError.invalidArgument("Tensor(tensors:): expected one tensor (a single-tensor recurrent state), got \(tensors.count)")
        }
        let t = tensors[0]
        self.init(shape: t.shape, storage: t.storage, requiresGrad: t.requiresGrad)
        self.gradFn = t.gradFn
        self.outputIndex = t.outputIndex
    }

    /// A scalar (0-dimensional) tensor.
    public convenience init(_ value: Float, requiresGrad: Bool = false) {
        self.init(shape: [], scalars: [value], requiresGrad: requiresGrad)
    }

    /// A tensor filled with samples from U(`low`, `high`), drawn from `generator`.
    ///
    /// - Precondition: the dimensions are not negative and their product fits in `Int`
    ///   (a programming error, as for ``init(zeros:value:requiresGrad:)``). Check a shape
    ///   that comes from outside with ``validatedCount(of:)`` first.
    public convenience init(uniform shape: [Int], low: Float, high: Float,
                            using generator: inout SeededGenerator, requiresGrad: Bool = false) {
        let count = Tensor.preconditionedCount(of: shape, "Tensor(uniform:)")
        let storage = TensorBuffer(count: count)
        for i in 0..<count { storage.pointer[i] = generator.uniform(low, high) }
        self.init(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// A tensor filled with samples from N(`mean`, `standardDeviation`²), drawn from `generator`.
    ///
    /// - Precondition: the dimensions are not negative and their product fits in `Int`;
    ///   check a shape that comes from outside with ``validatedCount(of:)`` first.
    public convenience init(normal shape: [Int], mean: Float = 0, standardDeviation: Float = 1,
                            using generator: inout SeededGenerator, requiresGrad: Bool = false) {
        let count = Tensor.preconditionedCount(of: shape, "Tensor(normal:)")
        let storage = TensorBuffer(count: count)
        for i in 0..<count { storage.pointer[i] = generator.normal(mean: mean, standardDeviation: standardDeviation) }
        self.init(shape: shape, storage: storage, requiresGrad: requiresGrad)
    }

    /// The element count of `shape`, checked: non-negative dimensions whose product fits in
    /// `Int` and whose `Float` elements fit in the machine's memory (``MemoryLimit``).
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` naming the shape (and, when it is too
    ///   large, the bytes it needs and the machine's physical memory).
    public static func validatedCount(of shape: [Int]) throws -> Int {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw TensorError.invalidArgument("expected non-negative dimensions, got shape \(shape)")
        }
        try MemoryLimit.check(floats: [shape], for: "a tensor of shape \(shape)")
        return MemoryLimit.elementCount([shape]) ?? 0
    }

    /// The element count of `shape`; traps, naming `caller`, for a negative dimension or an
    /// overflowing product.
    static func preconditionedCount(of shape: [Int], _ caller: String) -> Int {
        precondition(shape.allSatisfy { $0 >= 0 }, "\(caller): negative dimension in \(shape)")
        guard let count = MemoryLimit.elementCount([shape]) else {
            preconditionFailure("\(caller): the element count of shape \(shape) overflows Int")
        }
        return count
    }

    /// A tensor holding the elements of a matrix, with shape `[rows, columns]`.
    public convenience init(_ matrix: Matrix<Float>, requiresGrad: Bool = false) {
        self.init(shape: [matrix.rows, matrix.columns], scalars: matrix.scalars, requiresGrad: requiresGrad)
    }

    /// The number of elements (the product of ``shape``).
    @inlinable public final var count: Int { storage.count }

    /// The number of dimensions.
    @inlinable public final var rank: Int { shape.count }

    /// The elements in row-major order. Setting them writes into this tensor in place
    /// (every tensor sharing its storage sees the change) and records nothing.
    ///
    /// - Precondition: a new value has ``count`` elements.
    public final var scalars: [Float] {
        get { storage.array }
        set {
            require(newValue.count == count, "Tensor: \(newValue.count) scalars for shape \(shape)")
            _ = storage.buffer.update(fromContentsOf: newValue)
        }
    }

    /// The single element of a one-element tensor (a loss, for example).
    ///
    /// - Precondition: ``count`` is 1.
    public final var item: Float {
        require(count == 1, "Tensor.item: tensor of shape \(shape) has \(count) elements")
        return storage.pointer[0]
    }

    /// Whether this tensor was made by a recorded operation (it is not a leaf).
    public final var isLeaf: Bool { gradFn == nil }

    /// The name of the operation that made this tensor, like PyTorch's `grad_fn`; `nil` for leaves.
    public final var gradFnName: String? { gradFn?.name }

    /// A new tensor sharing no storage with this one: the same values, not recording, no gradient.
    public final func detached() -> Tensor {
        Tensor(shape: shape, storage: TensorBuffer(copying: storage.buffer))
    }

    /// The same storage, cut from the graph: gradients do not flow through the result
    /// (`torch.Tensor.detach`). Writing into one writes into the other.
    public final func detach() -> Tensor {
        Tensor(shape: shape, storage: storage)
    }

    /// Calls `body` with the elements, read-only.
    @inlinable
    public final func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(UnsafeBufferPointer(storage.buffer))
    }

    /// Calls `body` with the elements, writable in place; records nothing (like `torch.no_grad`
    /// writes into `.data`).
    @inlinable
    public final func withUnsafeMutableBufferPointer<R>(_ body: (UnsafeMutableBufferPointer<Float>) throws -> R) rethrows -> R {
        try body(storage.buffer)
    }

    /// Sets the gradient to zeros (or to `nil` with `setToNil`, PyTorch's default).
    public final func zeroGrad(setToNil: Bool = true) {
        if setToNil {
            grad = nil
        } else if let grad {
            grad.storage.buffer.update(repeating: 0)
        }
    }

    /// The tensor as PyTorch prints it: every value of a small tensor, a summary with `...`
    /// for one of more than 1000 elements, and the operation that made it (see
    /// `Tensor+Description.swift`).
    public var description: String { pytorchDescription }
}

/// A tensor that is a module's learnable parameter (`torch.nn.Parameter`): it requires
/// gradients by default, and ``Module`` finds it among a module's stored properties.
public final class Parameter: Tensor, @unchecked Sendable {
    /// A parameter holding a copy of `tensor`'s values.
    public init(_ tensor: Tensor, requiresGrad: Bool = true) {
        super.init(shape: tensor.shape, storage: TensorBuffer(copying: tensor.storage.buffer), requiresGrad: requiresGrad)
    }

    /// `Parameter containing:` and the tensor, as PyTorch prints a parameter.
    public override var description: String { "Parameter containing:\n" + super.description }

    /// A parameter holding a copy of `tensors[0]`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` unless `tensors` holds exactly one tensor.
    public required convenience init(tensors: [Tensor]) throws {
        guard tensors.count == 1 else {
            throw TensorError.invalidArgument("Parameter(tensors:): expected one tensor, got \(tensors.count)")
        }
        self.init(tensors[0])
    }

    /// A parameter of the given shape drawn from U(−`bound`, `bound`) — PyTorch's default
    /// initialisation for linear and recurrent layers uses `±1/√fanIn`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative dimension, or a shape
    ///   whose elements do not fit in the machine's memory (see ``Tensor/validatedCount(of:)``);
    ///   `generator` is then left as it was.
    public init(uniform shape: [Int], bound: Float, using generator: inout SeededGenerator) throws {
        let count = try Tensor.validatedCount(of: shape)
        let storage = TensorBuffer(count: count)
        for i in 0..<count { storage.pointer[i] = generator.uniform(-bound, bound) }
        super.init(shape: shape, storage: storage, requiresGrad: true)
    }
}

import Foundation
