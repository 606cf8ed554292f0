// Building matrices (seeded random initialisers, concatenation, reshaping), taking them apart
// (rows, columns, slices), reducing them (sums) and printing them.
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Seeded random initialisers

extension Matrix {
    /// A `rows × columns` matrix of independent samples from the uniform distribution on
    /// `range`, drawn row after row from `generator`.
    ///
    /// Every sample lies in `range.lowerBound ..< range.upperBound` (PyTorch's `uniform_`
    /// convention) unless the bounds are equal. Each element consumes one 64-bit draw, so the
    /// matrix is a pure function of the generator's state: the same seed gives the same matrix.
    ///
    /// - Parameters:
    ///   - rows: The number of rows, `≥ 0`.
    ///   - columns: The number of columns, `≥ 0`.
    ///   - range: The interval, with finite bounds; e.g. `-k...k` for PyTorch's `U(-k, k)`.
    ///   - generator: The random stream, advanced by `rows · columns` draws.
    /// - Returns: A `rows × columns` matrix.
    @inlinable
    public static func uniform(
        rows: Int, columns: Int, in range: ClosedRange<Scalar>, using generator: inout SeededGenerator
    ) -> Matrix {
        require(rows >= 0 && columns >= 0, "Matrix.uniform: negative shape \(rows)×\(columns)")
        require(range.lowerBound.isFinite && range.upperBound.isFinite,
                     "Matrix.uniform: bounds must be finite, got \(range)")
        var result = Matrix(rows: rows, columns: columns)
        for index in result.storage.indices {
            result.storage[index] = generator.uniform(range.lowerBound, range.upperBound)
        }
        return result
    }

    /// A `rows × columns` matrix of independent samples from the normal distribution with the
    /// given mean and standard deviation, drawn row after row from `generator` (Box–Muller,
    /// two 64-bit draws per element).
    ///
    /// - Parameters:
    ///   - rows: The number of rows, `≥ 0`.
    ///   - columns: The number of columns, `≥ 0`.
    ///   - mean: The mean, 0 by default.
    ///   - standardDeviation: The standard deviation, `≥ 0`, 1 by default.
    ///   - generator: The random stream, advanced by `2 · rows · columns` draws.
    /// - Returns: A `rows × columns` matrix.
    @inlinable
    public static func normal(
        rows: Int, columns: Int, mean: Scalar = 0, standardDeviation: Scalar = 1,
        using generator: inout SeededGenerator
    ) -> Matrix {
        require(rows >= 0 && columns >= 0, "Matrix.normal: negative shape \(rows)×\(columns)")
        require(standardDeviation >= 0, "Matrix.normal: negative standard deviation \(standardDeviation)")
        var result = Matrix(rows: rows, columns: columns)
        for index in result.storage.indices {
            result.storage[index] = generator.normal(mean: mean, standardDeviation: standardDeviation)
        }
        return result
    }
}

// MARK: - Rows, columns and slices

extension Matrix {
    /// The elements of row `index` (`columns` of them).
    ///
    /// - Precondition: `0 ≤ index < rows`.
    @inlinable
    public func row(_ index: Int) -> [Scalar] {
        require(index >= 0 && index < rows, "Matrix.row: index \(index) outside 0..<\(rows)")
        return Array(storage[(index * columns)..<((index + 1) * columns)])
    }

    /// The elements of column `index` (`rows` of them), top to bottom.
    ///
    /// - Precondition: `0 ≤ index < columns`.
    @inlinable
    public func column(_ index: Int) -> [Scalar] {
        require(index >= 0 && index < columns, "Matrix.column: index \(index) outside 0..<\(columns)")
        return (0..<rows).map { storage[$0 * columns + index] }
    }

    /// A copy of the rows in `range`, e.g. `m.rows(2..<5)` or `m.rows(1...)`: a
    /// `range.count × columns` matrix.
    ///
    /// - Precondition: `range` lies within `0..<rows`.
    @inlinable
    public func rows<R: RangeExpression>(_ range: R) -> Matrix where R.Bound == Int {
        let r = range.relative(to: 0..<rows)
        require(r.lowerBound >= 0 && r.upperBound <= rows,
                     "Matrix.rows: range \(r) outside 0..<\(rows)")
        return Matrix(rows: r.count, columns: columns,
                      scalars: Array(storage[(r.lowerBound * columns)..<(r.upperBound * columns)]))
    }

    /// A copy of the columns in `range`, e.g. `m.columns(0..<3)`: a `rows × range.count`
    /// matrix.
    ///
    /// - Precondition: `range` lies within `0..<columns`.
    @inlinable
    public func columns<R: RangeExpression>(_ range: R) -> Matrix where R.Bound == Int {
        let c = range.relative(to: 0..<columns)
        require(c.lowerBound >= 0 && c.upperBound <= columns,
                     "Matrix.columns: range \(c) outside 0..<\(columns)")
        var scalars: [Scalar] = []
        scalars.reserveCapacity(rows * c.count)
        for i in 0..<rows {
            scalars.append(contentsOf: storage[(i * columns + c.lowerBound)..<(i * columns + c.upperBound)])
        }
        return Matrix(rows: rows, columns: c.count, scalars: scalars)
    }

    /// The same elements, in the same row-major order, as a `rows × columns` matrix.
    ///
    /// - Precondition: `rows · columns == count`, both non-negative.
    @inlinable
    public func reshaped(rows: Int, columns: Int) -> Matrix {
        require(rows >= 0 && columns >= 0 && rows * columns == count,
                     "Matrix.reshaped: \(self.rows)×\(self.columns) (\(count) elements) cannot become \(rows)×\(columns)")
        var result = self
        result.setShape(rows: rows, columns: columns)
        return result
    }
}

// MARK: - Concatenation

extension Matrix {
    /// The rows of `matrices`, one matrix after the other (NumPy's `vstack`, PyTorch's
    /// `cat(dim: 0)`): a `Σ rows × columns` matrix.
    ///
    /// An empty list gives a `0 × 0` matrix.
    ///
    /// - Precondition: every matrix has the same number of columns.
    @inlinable
    public init(concatenatingRowsOf matrices: [Matrix]) {
        let columns = matrices.first?.columns ?? 0
        require(matrices.allSatisfy { $0.columns == columns },
                     "Matrix(concatenatingRowsOf:): column counts \(matrices.map(\.columns)) differ")
        var scalars: [Scalar] = []
        scalars.reserveCapacity(matrices.reduce(0) { $0 + $1.count })
        for m in matrices { scalars.append(contentsOf: m.storage) }
        self.init(rows: matrices.reduce(0) { $0 + $1.rows }, columns: columns, scalars: scalars)
    }

    /// The columns of `matrices`, side by side (NumPy's `hstack`, PyTorch's `cat(dim: 1)`): a
    /// `rows × Σ columns` matrix.
    ///
    /// An empty list gives a `0 × 0` matrix.
    ///
    /// - Precondition: every matrix has the same number of rows.
    @inlinable
    public init(concatenatingColumnsOf matrices: [Matrix]) {
        let rows = matrices.first?.rows ?? 0
        require(matrices.allSatisfy { $0.rows == rows },
                     "Matrix(concatenatingColumnsOf:): row counts \(matrices.map(\.rows)) differ")
        let columns = matrices.reduce(0) { $0 + $1.columns }
        var scalars: [Scalar] = []
        scalars.reserveCapacity(rows * columns)
        for i in 0..<rows {
            for m in matrices {
                scalars.append(contentsOf: m.storage[(i * m.columns)..<((i + 1) * m.columns)])
            }
        }
        self.init(rows: rows, columns: columns, scalars: scalars)
    }
}

// MARK: - Sums

extension Matrix {
    /// The sum of all elements (0 for an empty matrix).
    ///
    /// `Float` elements are accumulated in `Double`, so the result is the correctly rounded
    /// sum for all but enormous matrices.
    @inlinable
    public func sum() -> Scalar {
        var total: Double = 0
        for x in storage { total += Double(x) }
        return Scalar(total)
    }

    /// The sum of each column (PyTorch's `sum(dim: 0, keepdim: true)`): a `1 × columns`
    /// matrix, zeros when there are no rows.
    @inlinable
    public func columnSums() -> Matrix {
        var result = Matrix(rows: 1, columns: columns)
        if rows == 0 || columns == 0 { return result }
        withUnsafeView { view in
            result.storage.withUnsafeMutableBufferPointer { sums in
                Elementwise.accumulateColumnSums(of: view, into: sums.baseAddress!)
            }
        }
        return result
    }

    /// The sum of each row (PyTorch's `sum(dim: 1, keepdim: true)`): a `rows × 1` matrix,
    /// zeros when there are no columns.
    @inlinable
    public func rowSums() -> Matrix {
        var result = Matrix(rows: rows, columns: 1)
        for i in 0..<rows {
            var total: Scalar = 0
            for j in 0..<columns { total += storage[i * columns + j] }
            result.storage[i] = total
        }
        return result
    }
}

// MARK: - Printing

extension Matrix: CustomStringConvertible {
    /// A compact, NumPy-like rendering: nested brackets, one row per line, elements with six
    /// significant digits right-aligned in columns, and `...` in place of the middle rows and
    /// columns when there are more than ten of either. For example
    /// `Matrix([[1, -2.5], [3, 4]]).description` is
    ///
    /// ```
    /// [[   1, -2.5],
    ///  [   3,    4]]
    /// ```
    ///
    /// An empty matrix prints as `[]` followed by its shape, e.g. `[] (0×3)`.
    public var description: String {
        if count == 0 { return "[] (\(rows)×\(columns))" }
        let edge = 3, limit = 10
        let rowIndices: [Int?] = rows > limit
            ? Array(0..<edge) + [nil] + Array((rows - edge)..<rows) : Array(0..<rows)
        let columnIndices: [Int?] = columns > limit
            ? Array(0..<edge) + [nil] + Array((columns - edge)..<columns) : Array(0..<columns)
        let cells: [[String]] = rowIndices.map { i in
            columnIndices.map { j in
                guard let i, let j else { return "..." }
                return Self.format(storage[i * columns + j])
            }
        }
        let width = cells.joined().map(\.count).max() ?? 0
        let lines = cells.enumerated().map { index, row -> String in
            if rowIndices[index] == nil { return " ..." }
            let padded = row.map { String(repeating: " ", count: width - $0.count) + $0 }
            return (index == 0 ? "[[" : " [") + padded.joined(separator: ", ") + "]"
        }
        return lines.joined(separator: ",\n") + "]"
    }

    /// One element with six significant digits (C's `%g`): `1`, `-2.5`, `1e-07`, `inf`, `nan`.
    static func format(_ x: Scalar) -> String {
        var buffer = [CChar](repeating: 0, count: 32)
        _ = withVaList([Double(x)]) { arguments in
            buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%g", arguments) }
        }
        return buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }
}
