/// A dense, row-major matrix of `Float` or `Double`: a value type over a contiguous array,
/// with BLAS and LAPACK behind its arithmetic.
///
/// `Matrix` is deliberately thin: a shape and a buffer. Hot code reaches the buffer with
/// ``withUnsafeView(_:)`` / ``withUnsafeMutableView(_:)`` and calls ``BLAS`` directly.
public struct Matrix<Scalar: BLASScalar>: Equatable, Sendable {
    @usableFromInline var _rows: Int
    @usableFromInline var _columns: Int
    @usableFromInline var storage: [Scalar]

    /// The number of rows.
    @inlinable public var rows: Int { _rows }
    /// The number of columns.
    @inlinable public var columns: Int { _columns }
    /// The elements, row after row (`rows · columns` of them).
    ///
    /// Setting it keeps the shape, so the new array must have the same count.
    @inlinable public var scalars: [Scalar] {
        get { storage }
        set {
            require(newValue.count == storage.count,
                         "Matrix: \(newValue.count) scalars for shape \(rows)×\(columns)")
            storage = newValue
        }
        _modify { yield &storage }
    }

    /// A `rows × columns` matrix with every element equal to `value`.
    @inlinable
    public init(rows: Int, columns: Int, repeating value: Scalar = 0) {
        require(rows >= 0 && columns >= 0, "Matrix: negative shape \(rows)×\(columns)")
        self._rows = rows
        self._columns = columns
        self.storage = Array(repeating: value, count: rows * columns)
    }

    /// A `rows × columns` matrix holding `scalars` row after row.
    ///
    /// - Precondition: `scalars.count == rows · columns`.
    @inlinable
    public init(rows: Int, columns: Int, scalars: [Scalar]) {
        require(rows >= 0 && columns >= 0 && scalars.count == rows * columns,
                     "Matrix: \(scalars.count) scalars for shape \(rows)×\(columns)")
        self._rows = rows
        self._columns = columns
        self.storage = scalars
    }

    /// A matrix from nested rows, e.g. `Matrix([[1, 2], [3, 4]])`.
    ///
    /// - Precondition: every row has the same length.
    @inlinable
    public init(_ rowsOfScalars: [[Scalar]]) {
        let columns = rowsOfScalars.first?.count ?? 0
        require(rowsOfScalars.allSatisfy { $0.count == columns }, "Matrix: ragged rows")
        self.init(rows: rowsOfScalars.count, columns: columns, scalars: rowsOfScalars.flatMap { $0 })
    }

    /// The `n × n` identity matrix.
    @inlinable
    public static func identity(_ n: Int) -> Matrix {
        var m = Matrix(rows: n, columns: n)
        for i in 0..<n { m.storage[i * n + i] = 1 }
        return m
    }

    /// The shape as `(rows, columns)`.
    @inlinable public var shape: (rows: Int, columns: Int) { (rows, columns) }

    /// The number of elements.
    @inlinable public var count: Int { scalars.count }

    /// The element at `row`, `column`.
    @inlinable
    public subscript(row: Int, column: Int) -> Scalar {
        get {
            require(row >= 0 && row < rows && column >= 0 && column < columns,
                         "Matrix: index (\(row), \(column)) outside \(rows)×\(columns)")
            return storage[row * columns + column]
        }
        set {
            require(row >= 0 && row < rows && column >= 0 && column < columns,
                         "Matrix: index (\(row), \(column)) outside \(rows)×\(columns)")
            storage[row * columns + column] = newValue
        }
    }

    /// Calls `body` with a read-only strided view of the whole matrix.
    @inlinable
    public func withUnsafeView<R>(_ body: (MatrixView<Scalar>) throws -> R) rethrows -> R {
        try storage.withUnsafeBufferPointer { buffer in
            let base = buffer.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Scalar>.alignment)!
            return try body(MatrixView(base, rows: rows, columns: columns, leadingDimension: max(1, columns)))
        }
    }

    /// Calls `body` with a writable strided view of the whole matrix.
    @inlinable
    public mutating func withUnsafeMutableView<R>(_ body: (MutableMatrixView<Scalar>) throws -> R) rethrows -> R {
        let (r, c) = (rows, columns)
        return try storage.withUnsafeMutableBufferPointer { buffer in
            let base = buffer.baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Scalar>.alignment)!
            return try body(MutableMatrixView(base, rows: r, columns: c, leadingDimension: max(1, c)))
        }
    }

    /// Changes the shape in place, keeping the elements in row-major order (used by reshape).
    @usableFromInline
    mutating func setShape(rows: Int, columns: Int) {
        require(rows * columns == storage.count, "Matrix: \(rows) × \(columns) does not match \(storage.count) stored scalars")
        self._rows = rows
        self._columns = columns
    }
}

extension Matrix {
    /// The matrix product `self · other` through BLAS `gemm`.
    ///
    /// - Precondition: `self.columns == other.rows`.
    @inlinable
    public func matmul(_ other: Matrix, transposeSelf: Bool = false, transposeOther: Bool = false) -> Matrix {
        let m = transposeSelf ? columns : rows
        let n = transposeOther ? other.rows : other.columns
        var result = Matrix(rows: m, columns: n)
        withUnsafeView { a in
            other.withUnsafeView { b in
                result.withUnsafeMutableView { c in
                    BLAS.gemm(a, transposeSelf ? .transpose : .noTranspose,
                              b, transposeOther ? .transpose : .noTranspose, into: c)
                }
            }
        }
        return result
    }

    /// The matrix product `lhs · rhs`.
    @inlinable
    public static func * (lhs: Matrix, rhs: Matrix) -> Matrix { lhs.matmul(rhs) }

    /// The transpose.
    @inlinable
    public var transposed: Matrix {
        var result = Matrix(rows: columns, columns: rows)
        for i in 0..<rows {
            for j in 0..<columns { result.storage[j * rows + i] = storage[i * columns + j] }
        }
        return result
    }
}
