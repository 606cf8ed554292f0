// Elementwise arithmetic between matrices and with scalars, row-vector broadcasting, the
// elementwise functions (through the vectorised Elementwise kernels), and the BLAS level-1
// and level-2 operations on whole matrices.
//
// `*` between two matrices is the matrix product (see Matrix.swift); the elementwise
// (Hadamard) product and quotient are `.*` and `./`, like Swift's own pointwise SIMD
// operators (`.==`, `.<`), and `multipliedElementwise(by:)` / `dividedElementwise(by:)`.

/// The elementwise (Hadamard) product of two matrices of the same shape.
infix operator .* : MultiplicationPrecedence
/// The elementwise quotient of two matrices of the same shape.
infix operator ./ : MultiplicationPrecedence
/// In-place elementwise (Hadamard) product.
infix operator .*= : AssignmentPrecedence
/// In-place elementwise quotient.
infix operator ./= : AssignmentPrecedence

// MARK: - Helpers

extension Matrix {
    /// Checks that `other` has this matrix's shape; `operation` names the caller.
    @inlinable
    func checkSameShape(as other: Matrix, _ operation: StaticString) {
        require(rows == other.rows && columns == other.columns,
                           "Matrix \(operation): shapes \(rows)×\(columns) and \(other.rows)×\(other.columns) differ")
    }

    /// `self[i] = body(self[i], other[i])` over the buffers, through pointer kernels.
    @inlinable
    mutating func combine(
        with other: Matrix,
        _ kernel: (UnsafePointer<Scalar>, UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>, Int) -> Void
    ) {
        let n = count
        if n == 0 { return }
        other.storage.withUnsafeBufferPointer { b in
            storage.withUnsafeMutableBufferPointer { a in
                kernel(UnsafePointer(a.baseAddress!), b.baseAddress!, a.baseAddress!, n)
            }
        }
    }

    /// `self[i] = body(self[i])` over the buffer, through a pointer kernel (`x == y`).
    @inlinable
    mutating func apply(_ kernel: (UnsafePointer<Scalar>, UnsafeMutablePointer<Scalar>, Int) -> Void) {
        let n = count
        if n == 0 { return }
        storage.withUnsafeMutableBufferPointer { a in kernel(UnsafePointer(a.baseAddress!), a.baseAddress!, n) }
    }
}

// MARK: - Between matrices

extension Matrix {
    /// The elementwise sum of two matrices of the same shape.
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func + (lhs: Matrix, rhs: Matrix) -> Matrix {
        var result = lhs
        result += rhs
        return result
    }

    /// The elementwise difference of two matrices of the same shape.
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func - (lhs: Matrix, rhs: Matrix) -> Matrix {
        var result = lhs
        result -= rhs
        return result
    }

    /// Adds `rhs` to `lhs` elementwise.
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func += (lhs: inout Matrix, rhs: Matrix) {
        lhs.checkSameShape(as: rhs, "+")
        lhs.combine(with: rhs) { Elementwise.add($0, $1, into: $2, count: $3) }
    }

    /// Subtracts `rhs` from `lhs` elementwise.
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func -= (lhs: inout Matrix, rhs: Matrix) {
        lhs.checkSameShape(as: rhs, "-")
        lhs.combine(with: rhs) { Elementwise.subtract($0, $1, into: $2, count: $3) }
    }

    /// The elementwise (Hadamard) product `lhs ⊙ rhs`; same as
    /// `lhs.multipliedElementwise(by: rhs)`. (`lhs * rhs` is the matrix product.)
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func .* (lhs: Matrix, rhs: Matrix) -> Matrix { lhs.multipliedElementwise(by: rhs) }

    /// The elementwise quotient `lhs[i, j] / rhs[i, j]`; same as `lhs.dividedElementwise(by: rhs)`.
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func ./ (lhs: Matrix, rhs: Matrix) -> Matrix { lhs.dividedElementwise(by: rhs) }

    /// Multiplies `lhs` by `rhs` elementwise, in place.
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func .*= (lhs: inout Matrix, rhs: Matrix) { lhs.multiplyElementwise(by: rhs) }

    /// Divides `lhs` by `rhs` elementwise, in place.
    ///
    /// - Precondition: `lhs` and `rhs` have the same shape.
    @inlinable
    public static func ./= (lhs: inout Matrix, rhs: Matrix) { lhs.divideElementwise(by: rhs) }

    /// Multiplies every element by the corresponding element of `other` (Hadamard product).
    ///
    /// - Precondition: `other` has the same shape.
    @inlinable
    public mutating func multiplyElementwise(by other: Matrix) {
        checkSameShape(as: other, ".*")
        combine(with: other) { Elementwise.multiply($0, $1, into: $2, count: $3) }
    }

    /// The elementwise (Hadamard) product with `other`, a matrix of the same shape.
    ///
    /// - Precondition: `other` has the same shape.
    @inlinable
    public func multipliedElementwise(by other: Matrix) -> Matrix {
        var result = self
        result.multiplyElementwise(by: other)
        return result
    }

    /// Divides every element by the corresponding element of `other` (IEEE division: a zero
    /// divisor gives ±∞ or NaN).
    ///
    /// - Precondition: `other` has the same shape.
    @inlinable
    public mutating func divideElementwise(by other: Matrix) {
        checkSameShape(as: other, "./")
        combine(with: other) { a, b, y, n in
            for i in 0..<n { y[i] = a[i] / b[i] }
        }
    }

    /// The elementwise quotient by `other`, a matrix of the same shape.
    ///
    /// - Precondition: `other` has the same shape.
    @inlinable
    public func dividedElementwise(by other: Matrix) -> Matrix {
        var result = self
        result.divideElementwise(by: other)
        return result
    }

    /// Adds `alpha · other` to this matrix (BLAS `axpy`), e.g. a gradient-descent step
    /// `weights.add(gradient, scaledBy: -learningRate)`.
    ///
    /// - Precondition: `other` has the same shape.
    @inlinable
    public mutating func add(_ other: Matrix, scaledBy alpha: Scalar) {
        checkSameShape(as: other, "add(_:scaledBy:)")
        combine(with: other) { _, x, y, n in BLAS.axpy(count: n, alpha: alpha, x, y) }
    }
}

// MARK: - With scalars

extension Matrix {
    /// Every element plus `rhs`.
    @inlinable
    public static func + (lhs: Matrix, rhs: Scalar) -> Matrix {
        var result = lhs
        result += rhs
        return result
    }

    /// `lhs` plus every element.
    @inlinable
    public static func + (lhs: Scalar, rhs: Matrix) -> Matrix { rhs + lhs }

    /// Every element minus `rhs`.
    @inlinable
    public static func - (lhs: Matrix, rhs: Scalar) -> Matrix {
        var result = lhs
        result -= rhs
        return result
    }

    /// `lhs` minus every element.
    @inlinable
    public static func - (lhs: Scalar, rhs: Matrix) -> Matrix {
        var result = rhs
        result.apply { x, y, n in for i in 0..<n { y[i] = lhs - x[i] } }
        return result
    }

    /// Every element times `rhs`.
    @inlinable
    public static func * (lhs: Matrix, rhs: Scalar) -> Matrix {
        var result = lhs
        result *= rhs
        return result
    }

    /// `lhs` times every element.
    @inlinable
    public static func * (lhs: Scalar, rhs: Matrix) -> Matrix { rhs * lhs }

    /// Every element divided by `rhs` (IEEE division: dividing by zero gives ±∞ or NaN).
    @inlinable
    public static func / (lhs: Matrix, rhs: Scalar) -> Matrix {
        var result = lhs
        result /= rhs
        return result
    }

    /// The negated matrix.
    @inlinable
    public static prefix func - (operand: Matrix) -> Matrix {
        var result = operand
        result.apply { x, y, n in for i in 0..<n { y[i] = -x[i] } }
        return result
    }

    /// Adds `rhs` to every element.
    @inlinable
    public static func += (lhs: inout Matrix, rhs: Scalar) {
        lhs.apply { x, y, n in for i in 0..<n { y[i] = x[i] + rhs } }
    }

    /// Subtracts `rhs` from every element.
    @inlinable
    public static func -= (lhs: inout Matrix, rhs: Scalar) {
        lhs.apply { x, y, n in for i in 0..<n { y[i] = x[i] - rhs } }
    }

    /// Multiplies every element by `rhs` (BLAS `scal`; multiplying by 0 gives exact zeros,
    /// even where the elements are NaN or infinite, as BLAS does).
    @inlinable
    public static func *= (lhs: inout Matrix, rhs: Scalar) {
        lhs.apply { _, y, n in BLAS.scal(count: n, alpha: rhs, y) }
    }

    /// Divides every element by `rhs`.
    @inlinable
    public static func /= (lhs: inout Matrix, rhs: Scalar) {
        lhs.apply { x, y, n in for i in 0..<n { y[i] = x[i] / rhs } }
    }
}

// MARK: - Broadcasting a row vector

extension Matrix {
    /// Adds `vector` to every row: `self[i, j] += vector[j]` (a bias added to a batch).
    ///
    /// - Precondition: `vector.count == columns`.
    @inlinable
    public mutating func add(rowVector vector: [Scalar]) {
        require(vector.count == columns,
                           "Matrix.add(rowVector:): \(vector.count) elements for \(columns) columns")
        if count == 0 { return }
        vector.withUnsafeBufferPointer { bias in
            withUnsafeMutableView { Elementwise.addBias(bias.baseAddress!, to: $0) }
        }
    }

    /// Adds the `1 × columns` matrix `vector` to every row.
    ///
    /// - Precondition: `vector` is `1 × columns`.
    @inlinable
    public mutating func add(rowVector vector: Matrix) {
        require(vector.rows == 1 && vector.columns == columns,
                           "Matrix.add(rowVector:): a \(vector.rows)×\(vector.columns) matrix for \(columns) columns")
        add(rowVector: vector.storage)
    }

    /// This matrix with `vector` added to every row: `result[i, j] = self[i, j] + vector[j]`.
    ///
    /// - Precondition: `vector.count == columns`.
    @inlinable
    public func adding(rowVector vector: [Scalar]) -> Matrix {
        var result = self
        result.add(rowVector: vector)
        return result
    }

    /// This matrix with the `1 × columns` matrix `vector` added to every row.
    ///
    /// - Precondition: `vector` is `1 × columns`.
    @inlinable
    public func adding(rowVector vector: Matrix) -> Matrix {
        var result = self
        result.add(rowVector: vector)
        return result
    }
}

// MARK: - Elementwise functions

extension Matrix {
    /// A matrix of the same shape with `transform` applied to every element.
    ///
    /// - Throws: Whatever `transform` throws (the first error stops the mapping).
    @inlinable
    public func map(_ transform: (Scalar) throws -> Scalar) rethrows -> Matrix {
        Matrix(rows: rows, columns: columns, scalars: try storage.map(transform))
    }

    /// `tanh` of every element (vectorised; see ``Elementwise``).
    @inlinable
    public func tanh() -> Matrix {
        var result = self
        result.apply { Elementwise.tanh($0, $1, count: $2) }
        return result
    }

    /// The logistic sigmoid `1 / (1 + e⁻ˣ)` of every element (vectorised).
    @inlinable
    public func sigmoid() -> Matrix {
        var result = self
        result.apply { Elementwise.sigmoid($0, $1, count: $2) }
        return result
    }

    /// `max(x, 0)` of every element (vectorised; NaN stays NaN).
    @inlinable
    public func relu() -> Matrix {
        var result = self
        result.apply { Elementwise.relu($0, $1, count: $2) }
        return result
    }

    /// `eˣ` of every element (vectorised).
    @inlinable
    public func exp() -> Matrix {
        var result = self
        result.apply { Elementwise.exp($0, $1, count: $2) }
        return result
    }

    /// The natural logarithm of every element (vectorised; `-∞` at 0, NaN below).
    @inlinable
    public func log() -> Matrix {
        var result = self
        result.apply { Elementwise.log($0, $1, count: $2) }
        return result
    }
}

// MARK: - BLAS on whole matrices

extension Matrix {
    /// The Frobenius inner product `Σᵢⱼ self[i, j] · other[i, j]` (BLAS `dot` over the
    /// elements); 0 for empty matrices.
    ///
    /// - Precondition: `other` has the same shape.
    @inlinable
    public func dot(_ other: Matrix) -> Scalar {
        checkSameShape(as: other, "dot")
        return storage.withUnsafeBufferPointer { a in
            other.storage.withUnsafeBufferPointer { b in
                guard let x = a.baseAddress, let y = b.baseAddress else { return 0 }
                return BLAS.dot(count: a.count, x, y)
            }
        }
    }

    /// The Frobenius norm `√(Σᵢⱼ self[i, j]²)` (BLAS `nrm2`, which avoids overflow and
    /// underflow); 0 for an empty matrix. O(`count`).
    @inlinable
    public var norm: Scalar {
        storage.withUnsafeBufferPointer { a in
            guard let x = a.baseAddress else { return 0 }
            return BLAS.nrm2(count: a.count, x)
        }
    }

    /// The matrix–vector product `self · vector` (BLAS `gemv`), or `selfᵀ · vector` when
    /// `transposeSelf` is true.
    ///
    /// - Parameters:
    ///   - vector: `columns` elements (`rows` when `transposeSelf`).
    ///   - transposeSelf: Whether to multiply by the transpose.
    /// - Returns: `rows` elements (`columns` when `transposeSelf`).
    @inlinable
    public func matvec(_ vector: [Scalar], transposeSelf: Bool = false) -> [Scalar] {
        let inputCount = transposeSelf ? rows : columns
        let outputCount = transposeSelf ? columns : rows
        require(vector.count == inputCount,
                           "Matrix.matvec: \(vector.count) elements for a \(rows)×\(columns) matrix\(transposeSelf ? " transposed" : "")")
        var result = [Scalar](repeating: 0, count: outputCount)
        if outputCount == 0 { return result }
        withUnsafeView { a in
            vector.withUnsafeBufferPointer { x in
                result.withUnsafeMutableBufferPointer { y in
                    // With nothing to sum over, x may be empty; any valid pointer will do.
                    let xBase = x.baseAddress ?? UnsafePointer(y.baseAddress!)
                    BLAS.gemv(a, transposeSelf ? .transpose : .noTranspose, xBase, into: y.baseAddress!)
                }
            }
        }
        return result
    }

    /// Adds the scaled outer product `alpha · x · yᵀ` to this matrix (BLAS `ger`).
    ///
    /// - Precondition: `x.count == rows` and `y.count == columns`.
    @inlinable
    public mutating func addOuterProduct(_ x: [Scalar], _ y: [Scalar], scaledBy alpha: Scalar = 1) {
        require(x.count == rows && y.count == columns,
                           "Matrix.addOuterProduct: \(x.count)·\(y.count) for a \(rows)×\(columns) matrix")
        if count == 0 { return }
        x.withUnsafeBufferPointer { xs in
            y.withUnsafeBufferPointer { ys in
                withUnsafeMutableView { BLAS.ger(xs.baseAddress!, ys.baseAddress!, into: $0, alpha: alpha) }
            }
        }
    }
}
