/// Elementwise arithmetic with broadcasting, each with its backward.
extension Tensor {
    @usableFromInline
    enum BinaryOp: Sendable { case add, subtract, multiply, divide }

    /// The node name of each operation.
    @usableFromInline
    static func name(of op: BinaryOp) -> String {
        switch op {
        case .add: return "AddBackward"
        case .subtract: return "SubBackward"
        case .multiply: return "MulBackward"
        case .divide: return "DivBackward"
        }
    }

    /// The broadcast elementwise operation `op(a, b)`.
    @usableFromInline
    static func binary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
        if a.shape == b.shape { return sameShapeBinary(op, a, b) }
        guard let outShape = Broadcast.shape(a.shape, b.shape) else {
            fatalError("Tensor \(op): shapes \(a.shape) and \(b.shape) do not broadcast")
        }
        let sa = Broadcast.strides(of: a.shape, in: outShape)
        let sb = Broadcast.strides(of: b.shape, in: outShape)
        let count = outShape.reduce(1, *)
        let x = a.storage.pointer, y = b.storage.pointer
        let storage = TensorBuffer(count: count) { z in
            switch op {
            case .add: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] + y[j] }
            case .subtract: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] - y[j] }
            case .multiply: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] * y[j] }
            case .divide: Broadcast.forEach(outShape, sa, sb) { o, i, j in z[o] = x[i] / y[j] }
            }
        }
        return result(name(of: op), shape: outShape, storage: storage, inputs: [a, b],
                      recording: needsRecording(a, b)) { g, grads in
            let ga = grads[0], gb = grads[1]
            switch op {
            case .add:
                Broadcast.forEach(outShape, sa, sb) { o, i, j in
                    ga?[i] += g[o]; gb?[j] += g[o]
                }
            case .subtract:
                Broadcast.forEach(outShape, sa, sb) { o, i, j in
                    ga?[i] += g[o]; gb?[j] -= g[o]
                }
            case .multiply:
                Broadcast.forEach(outShape, sa, sb) { o, i, j in
                    ga?[i] += g[o] * y[j]; gb?[j] += g[o] * x[i]
                }
            case .divide:
                Broadcast.forEach(outShape, sa, sb) { o, i, j in
                    ga?[i] += g[o] / y[j]; gb?[j] -= g[o] * x[i] / (y[j] * y[j])
                }
            }
        }
    }

    /// `op(a, b)` for operands of the same shape: plain loops, no broadcast bookkeeping.
    @usableFromInline
    static func sameShapeBinary(_ op: BinaryOp, _ a: Tensor, _ b: Tensor) -> Tensor {
        let n = a.count, x = a.storage.pointer, y = b.storage.pointer
        let storage = TensorBuffer(count: n) { z in
            switch op {
            case .add: for i in 0..<n { z[i] = x[i] + y[i] }
            case .subtract: for i in 0..<n { z[i] = x[i] - y[i] }
            case .multiply: for i in 0..<n { z[i] = x[i] * y[i] }
            case .divide: for i in 0..<n { z[i] = x[i] / y[i] }
            }
        }
        return result(name(of: op), shape: a.shape, storage: storage, inputs: [a, b],
                      recording: needsRecording(a, b)) { g, grads in
            let ga = grads[0], gb = grads[1]
            switch op {
            case .add:
                if let ga { for i in 0..<n { ga[i] += g[i] } }
                if let gb { for i in 0..<n { gb[i] += g[i] } }
            case .subtract:
                if let ga { for i in 0..<n { ga[i] += g[i] } }
                if let gb { for i in 0..<n { gb[i] -= g[i] } }
            case .multiply:
                if let ga { for i in 0..<n { ga[i] += g[i] * y[i] } }
                if let gb { for i in 0..<n { gb[i] += g[i] * x[i] } }
            case .divide:
                if let ga { for i in 0..<n { ga[i] += g[i] / y[i] } }
                if let gb { for i in 0..<n { gb[i] -= g[i] * x[i] / (y[i] * y[i]) } }
            }
        }
    }

    /// Elementwise sum with broadcasting.
    /// - Precondition: the shapes broadcast.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor { binary(.add, lhs, rhs) }
    /// Elementwise difference with broadcasting.
    /// - Precondition: the shapes broadcast.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor { binary(.subtract, lhs, rhs) }
    /// Elementwise product with broadcasting.
    /// - Precondition: the shapes broadcast.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor { binary(.multiply, lhs, rhs) }
    /// Elementwise quotient with broadcasting.
    /// - Precondition: the shapes broadcast.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor { binary(.divide, lhs, rhs) }

    /// Adds `rhs` with broadcasting, throwing instead of trapping when the shapes do not
    /// broadcast.
    /// - Throws: ``TensorError/shapeMismatch(_:)``.
    public func adding(_ rhs: Tensor) throws -> Tensor {
        try checkBroadcast(rhs, "add"); return self + rhs
    }
    /// Subtracts `rhs` with broadcasting. - Throws: ``TensorError/shapeMismatch(_:)``.
    public func subtracting(_ rhs: Tensor) throws -> Tensor {
        try checkBroadcast(rhs, "subtract"); return self - rhs
    }
    /// Multiplies by `rhs` elementwise with broadcasting. - Throws: ``TensorError/shapeMismatch(_:)``.
    public func multiplying(_ rhs: Tensor) throws -> Tensor {
        try checkBroadcast(rhs, "multiply"); return self * rhs
    }
    /// Divides by `rhs` elementwise with broadcasting. - Throws: ``TensorError/shapeMismatch(_:)``.
    public func dividing(_ rhs: Tensor) throws -> Tensor {
        try checkBroadcast(rhs, "divide"); return self / rhs
    }

    private func checkBroadcast(_ other: Tensor, _ op: String) throws {
        guard Broadcast.shape(shape, other.shape) != nil else {
            throw TensorError.shapeMismatch("\(op): shapes \(shape) and \(other.shape) do not broadcast")
        }
    }

    /// `self · scale + shift`, elementwise, with its backward (the scalar forms of + - * /).
    public func affine(scale: Float, shift: Float = 0) -> Tensor {
        let n = count, x = storage.pointer
        let storage = TensorBuffer(count: n) { y in for i in 0..<n { y[i] = x[i] * scale + shift } }
        return Tensor.result("AffineBackward", shape: shape, storage: storage, inputs: [self],
                             recording: Tensor.needsRecording(self)) { g, grads in
            if let gx = grads[0] { for i in 0..<n { gx[i] += g[i] * scale } }
        }
    }

    /// Adds a scalar to every element.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor { lhs.affine(scale: 1, shift: rhs) }
    /// Adds a scalar to every element.
    public static func + (lhs: Float, rhs: Tensor) -> Tensor { rhs.affine(scale: 1, shift: lhs) }
    /// Subtracts a scalar from every element.
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { lhs.affine(scale: 1, shift: -rhs) }
    /// Subtracts every element from a scalar.
    public static func - (lhs: Float, rhs: Tensor) -> Tensor { rhs.affine(scale: -1, shift: lhs) }
    /// Multiplies every element by a scalar.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor { lhs.affine(scale: rhs) }
    /// Multiplies every element by a scalar.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs.affine(scale: lhs) }
    /// Divides every element by a scalar.
    public static func / (lhs: Tensor, rhs: Float) -> Tensor { lhs.affine(scale: 1 / rhs) }
    /// The elementwise negation.
    public static prefix func - (operand: Tensor) -> Tensor { operand.affine(scale: -1) }
}
