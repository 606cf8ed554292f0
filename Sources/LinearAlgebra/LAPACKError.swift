/// An error thrown by the LAPACK-backed operations on ``Matrix`` (``Matrix/qr()``,
/// ``Matrix/svd(full:)``, ``Matrix/eigenvalues()``, ``Matrix/solve(_:)``,
/// ``Matrix/leastSquares(_:)`` and friends).
///
/// Every case that comes from a LAPACK routine names the routine as LAPACK spells it, with
/// its precision prefix (`"sgesv"` for `Float`, `"dgesv"` for `Double`), so a message says
/// exactly which call failed. Shape errors are thrown before any routine is called.
public enum LAPACKError: Error, CustomStringConvertible, Equatable, Sendable {
    /// LAPACK rejected argument number `index` of `routine` (its `info` was `-index`).
    ///
    /// The index counts the arguments of the LAPACKE C call, starting at 1 with the matrix
    /// layout. The matrix operations on ``Matrix`` check shapes first, so this indicates a
    /// bug in the library rather than in the caller.
    case illegalArgument(routine: String, index: Int)

    /// The square matrix handed to `routine` (`gesv`) is singular: the diagonal element
    /// `pivot` (zero-based) of its LU factor `U` is exactly zero, or the solution overflowed
    /// to infinity or NaN because that element is tiny.
    case singular(routine: String, pivot: Int)

    /// `routine` (`gesdd`, `geev`) did not converge; `info` is LAPACK's positive `info` code
    /// (for `gesdd`, the number of superdiagonals that did not converge; for `geev`, one past
    /// the last eigenvalue that was not computed).
    case noConvergence(routine: String, info: Int)

    /// The matrix handed to `routine` (`gels`) does not have full rank: its numerical `rank`
    /// (the number of singular values above `max(m, n) · ε · σ_max`) is below `required`,
    /// which is `min(m, n)`.
    case rankDeficient(routine: String, rank: Int, required: Int)

    /// An operand of `routine` contains NaN or an infinity, which LAPACK cannot factor.
    case nonFiniteInput(routine: String)

    /// LAPACKE could not allocate its work or transposition buffers for `routine`.
    case outOfMemory(routine: String)

    /// The operands' shapes do not fit the operation: `expected` describes what was needed
    /// (e.g. `"a square A for solve(_:)"`), `actual` what came (e.g. `"A is 3×2"`).
    case shapeMismatch(expected: String, actual: String)

    /// A one-sentence message naming what was expected and what came.
    public var description: String {
        switch self {
        case let .illegalArgument(routine, index):
            return "\(routine): argument \(index) has an illegal value (info = \(-index))"
        case let .singular(routine, pivot):
            return "\(routine): the matrix is singular: expected a non-zero pivot, "
                + "but U[\(pivot), \(pivot)] of its LU factorisation is zero (or too small to divide by)"
        case let .noConvergence(routine, info):
            return "\(routine): the algorithm failed to converge (info = \(info))"
        case let .rankDeficient(routine, rank, required):
            return "\(routine): expected a matrix of full rank \(required), "
                + "but its numerical rank is \(rank)"
        case let .nonFiniteInput(routine):
            return "\(routine): expected finite operands, but an operand contains NaN or infinity"
        case let .outOfMemory(routine):
            return "\(routine): LAPACKE could not allocate its work space"
        case let .shapeMismatch(expected, actual):
            return "shape mismatch: expected \(expected), but \(actual)"
        }
    }
}
