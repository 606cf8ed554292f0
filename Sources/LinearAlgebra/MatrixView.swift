/// A read-only, row-major, strided view of a matrix held elsewhere: `rows × columns`
/// elements, where row `i` starts `i · leadingDimension` elements after `base`.
///
/// Views let BLAS read a block of a larger buffer without a copy, for example the rows of
/// one time step in a `batch_first` `(B, T, F)` buffer: `base` at step `t`'s first feature,
/// `rows = B`, `columns = F`, `leadingDimension = T · F`.
/// A view does not own its memory: it is valid only while the buffer it points into is.
public struct MatrixView<Scalar>: @unchecked Sendable {
    /// The first element.
    public var base: UnsafePointer<Scalar>
    /// The number of rows.
    public var rows: Int
    /// The number of columns.
    public var columns: Int
    /// The distance, in elements, between the starts of consecutive rows (`>= columns`).
    public var leadingDimension: Int

    /// A view of `rows × columns` elements starting at `base`, rows `leadingDimension` apart
    /// (by default packed: `leadingDimension = columns`).
    @inlinable
    public init(_ base: UnsafePointer<Scalar>, rows: Int, columns: Int, leadingDimension: Int? = nil) {
        let ld = leadingDimension ?? columns
        require(rows >= 0 && columns >= 0 && ld >= max(1, columns), "MatrixView: bad extent")
        self.base = base
        self.rows = rows
        self.columns = columns
        self.leadingDimension = ld
    }

    /// The element at row `row`, column `column`.
    @inlinable public subscript(row: Int, column: Int) -> Scalar {
        base[row * leadingDimension + column]
    }

    /// The rows `range` of this view (the same columns and leading dimension), for example
    /// one worker's items of a time step.
    @inlinable public func rows(_ range: Range<Int>) -> MatrixView {
        require(range.lowerBound >= 0 && range.upperBound <= rows, "MatrixView.rows: \(range) outside 0..<\(rows)")
        return MatrixView(base + range.lowerBound * leadingDimension, rows: range.count, columns: columns, leadingDimension: leadingDimension)
    }
}

/// A writable, row-major, strided view of a matrix held elsewhere; see ``MatrixView``.
public struct MutableMatrixView<Scalar>: @unchecked Sendable {
    /// The first element.
    public var base: UnsafeMutablePointer<Scalar>
    /// The number of rows.
    public var rows: Int
    /// The number of columns.
    public var columns: Int
    /// The distance, in elements, between the starts of consecutive rows (`>= columns`).
    public var leadingDimension: Int

    /// A writable view of `rows × columns` elements starting at `base`, rows
    /// `leadingDimension` apart (by default packed).
    @inlinable
    public init(_ base: UnsafeMutablePointer<Scalar>, rows: Int, columns: Int, leadingDimension: Int? = nil) {
        let ld = leadingDimension ?? columns
        require(rows >= 0 && columns >= 0 && ld >= max(1, columns), "MutableMatrixView: bad extent")
        self.base = base
        self.rows = rows
        self.columns = columns
        self.leadingDimension = ld
    }

    /// The same elements, read-only.
    @inlinable public var readOnly: MatrixView<Scalar> {
        MatrixView(UnsafePointer(base), rows: rows, columns: columns, leadingDimension: leadingDimension)
    }

    /// The element at row `row`, column `column`.
    @inlinable public subscript(row: Int, column: Int) -> Scalar {
        get { base[row * leadingDimension + column] }
        nonmutating set { base[row * leadingDimension + column] = newValue }
    }

    /// The rows `range` of this view (the same columns and leading dimension).
    @inlinable public func rows(_ range: Range<Int>) -> MutableMatrixView {
        require(range.lowerBound >= 0 && range.upperBound <= rows, "MutableMatrixView.rows: \(range) outside 0..<\(rows)")
        return MutableMatrixView(base + range.lowerBound * leadingDimension, rows: range.count, columns: columns,
                                 leadingDimension: leadingDimension)
    }
}
