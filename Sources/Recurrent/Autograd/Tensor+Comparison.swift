/// Comparisons that give masks, `where` and `maskedFill`.
///
/// The library's tensors hold `Float` only, so a mask (PyTorch's `torch.bool` tensor) is a
/// tensor of `1` (true) and `0` (false); any non-zero element counts as true where a mask is
/// read. Comparisons are not differentiable and record nothing, as in PyTorch.
extension Tensor {
    /// How two elements are compared.
    @usableFromInline
    enum Comparison: Sendable { case equal, notEqual, less, lessOrEqual, greater, greaterOrEqual }

    /// The mask of `op(self, other)` with broadcasting.
    func compare(_ other: Tensor, _ op: Comparison, _ name: String) throws -> Tensor {
        let outShape: [Int]
        if shape == other.shape { outShape = shape } else {
            guard let s = Broadcast.shape(shape, other.shape) else {
                throw TensorError.shapeMismatch("\(name): shapes \(shape) and \(other.shape) do not broadcast")
            }
            outShape = s
        }
        let sa = Broadcast.strides(of: shape, in: outShape), sb = Broadcast.strides(of: other.shape, in: outShape)
        let x = storage.pointer, y = other.storage.pointer
        let storage = TensorBuffer(count: outShape.reduce(1, *)) { z in
            switch op {
            case .equal: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] == y[j] ? 1 : 0 }
            case .notEqual: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] != y[j] ? 1 : 0 }
            case .less: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] < y[j] ? 1 : 0 }
            case .lessOrEqual: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] <= y[j] ? 1 : 0 }
            case .greater: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] > y[j] ? 1 : 0 }
            case .greaterOrEqual: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] >= y[j] ? 1 : 0 }
            }
        }
        return Tensor(shape: outShape, storage: storage)
    }

    /// The mask of `op(self, value)`.
    func compare(_ value: Float, _ op: Comparison) -> Tensor {
        let n = count, x = storage.pointer
        let storage = TensorBuffer(count: n) { z in
            switch op {
            case .equal: for i in 0..<n { z[i] = x[i] == value ? 1 : 0 }
            case .notEqual: for i in 0..<n { z[i] = x[i] != value ? 1 : 0 }
            case .less: for i in 0..<n { z[i] = x[i] < value ? 1 : 0 }
            case .lessOrEqual: for i in 0..<n { z[i] = x[i] <= value ? 1 : 0 }
            case .greater: for i in 0..<n { z[i] = x[i] > value ? 1 : 0 }
            case .greaterOrEqual: for i in 0..<n { z[i] = x[i] >= value ? 1 : 0 }
            }
        }
        return Tensor(shape: shape, storage: storage)
    }

    /// The mask of `self == other`, elementwise with broadcasting (`torch.eq`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func eq(_ other: Tensor) throws -> Tensor { try compare(other, .equal, "eq") }
    /// The mask of `self != other` with broadcasting (`torch.ne`); NaN is unequal to everything.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func ne(_ other: Tensor) throws -> Tensor { try compare(other, .notEqual, "ne") }
    /// The mask of `self < other` with broadcasting (`torch.lt`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func lt(_ other: Tensor) throws -> Tensor { try compare(other, .less, "lt") }
    /// The mask of `self <= other` with broadcasting (`torch.le`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func le(_ other: Tensor) throws -> Tensor { try compare(other, .lessOrEqual, "le") }
    /// The mask of `self > other` with broadcasting (`torch.gt`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func gt(_ other: Tensor) throws -> Tensor { try compare(other, .greater, "gt") }
    /// The mask of `self >= other` with broadcasting (`torch.ge`).
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public func ge(_ other: Tensor) throws -> Tensor { try compare(other, .greaterOrEqual, "ge") }

    /// The mask of `lhs == rhs` for every element (`x == 0` in PyTorch).
    public static func .== (lhs: Tensor, rhs: Float) -> Tensor { lhs.compare(rhs, .equal) }
    /// The mask of `lhs != rhs` for every element.
    public static func .!= (lhs: Tensor, rhs: Float) -> Tensor { lhs.compare(rhs, .notEqual) }
    /// The mask of `lhs < rhs` for every element.
    public static func .< (lhs: Tensor, rhs: Float) -> Tensor { lhs.compare(rhs, .less) }
    /// The mask of `lhs <= rhs` for every element.
    public static func .<= (lhs: Tensor, rhs: Float) -> Tensor { lhs.compare(rhs, .lessOrEqual) }
    /// The mask of `lhs > rhs` for every element.
    public static func .> (lhs: Tensor, rhs: Float) -> Tensor { lhs.compare(rhs, .greater) }
    /// The mask of `lhs >= rhs` for every element.
    public static func .>= (lhs: Tensor, rhs: Float) -> Tensor { lhs.compare(rhs, .greaterOrEqual) }

    /// The mask of `lhs == rhs`, elementwise with broadcasting; see ``eq(_:)``.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public static func .== (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.eq(rhs) }
    /// The mask of `lhs != rhs` with broadcasting; see ``ne(_:)``.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public static func .!= (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.ne(rhs) }
    /// The mask of `lhs < rhs` with broadcasting; see ``lt(_:)``.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public static func .< (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.lt(rhs) }
    /// The mask of `lhs <= rhs` with broadcasting; see ``le(_:)``.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public static func .<= (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.le(rhs) }
    /// The mask of `lhs > rhs` with broadcasting; see ``gt(_:)``.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public static func .> (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.gt(rhs) }
    /// The mask of `lhs >= rhs` with broadcasting; see ``ge(_:)``.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public static func .>= (lhs: Tensor, rhs: Tensor) throws -> Tensor { try lhs.ge(rhs) }

    /// The elements of `input` where `condition` is non-zero and of `other` elsewhere, with
    /// the three shapes broadcast together (`torch.where(condition, input, other)`). The
    /// gradient goes to `input` where the condition holds and to `other` elsewhere; the
    /// condition gets none.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the shapes do not broadcast.
    public static func `where`(_ condition: Tensor, _ input: Tensor, _ other: Tensor) throws -> Tensor {
        guard let partial = Broadcast.shape(condition.shape, input.shape),
              let outShape = Broadcast.shape(partial, other.shape) else {
            throw TensorError.shapeMismatch("where: shapes \(condition.shape), \(input.shape) and \(other.shape) do not broadcast")
        }
        let c = try withoutGradients { try condition.expand(outShape) }
        let a = try input.expand(outShape), b = try other.expand(outShape)
        let n = c.count, mask = c.storage.pointer, x = a.storage.pointer, y = b.storage.pointer
        let storage = TensorBuffer(count: n) { z in
            for i in 0..<n { z[i] = mask[i] != 0 ? x[i] : y[i] }
        }
        return result("WhereBackward", shape: outShape, storage: storage, inputs: [a, b, c],
                      recording: needsRecording(a, b)) { g, grads in
            if let ga = grads[0] { for i in 0..<n { ga[i] += mask[i] != 0 ? g[i] : 0 } }
            if let gb = grads[1] { for i in 0..<n { gb[i] += mask[i] != 0 ? 0 : g[i] } }
        }
    }

    /// The tensor with `value` wherever `mask` is non-zero (`torch.Tensor.masked_fill`): `mask`
    /// broadcasts to this tensor's shape, and the result has this tensor's shape. The gradient
    /// passes where the mask is zero.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `mask` does not broadcast to this
    ///   tensor's shape.
    public func maskedFill(_ mask: Tensor, value: Float) throws -> Tensor {
        guard Broadcast.shape(shape, mask.shape) == shape else {
            throw TensorError.shapeMismatch("maskedFill: mask of shape \(mask.shape) does not broadcast to the tensor's shape \(shape)")
        }
        let m = try withoutGradients { try mask.expand(shape) }
        let n = count, maskPointer = m.storage.pointer, x = storage.pointer
        let storage = TensorBuffer(count: n) { z in
            for i in 0..<n { z[i] = maskPointer[i] != 0 ? value : x[i] }
        }
        return Tensor.result("MaskedFillBackward", shape: shape, storage: storage, inputs: [self, m],
                             recording: Tensor.needsRecording(self)) { g, grads in
            if let gx = grads[0] { for i in 0..<n { gx[i] += maskPointer[i] != 0 ? 0 : g[i] } }
        }
    }
}
