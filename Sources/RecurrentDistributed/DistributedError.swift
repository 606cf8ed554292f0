/// Why a distributed operation failed.
///
/// Errors that come from a collective call (a model that differs between ranks, a
/// checkpoint that rank 0 could not write, an invalid count on one rank) are thrown on every
/// rank, so that no rank is left waiting in a collective that the others have abandoned.
public enum DistributedError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The package was built without Open MPI's headers (pkg-config `ompi-c` was not found),
    /// so there is no MPI to call; the message says what to install.
    case unavailable(String)
    /// An MPI call returned an error: the call, MPI's error code and MPI's message.
    case mpi(call: String, code: Int32, message: String)
    /// An argument was out of range (named with what was expected and what came).
    case invalidArgument(String)
    /// The ranks hold models with different parameters (names, shapes or `requiresGrad`).
    case parameterMismatch(String)
    /// One or more ranks failed in a collective operation; the others report it here.
    case rankFailed(ranks: [Int], message: String)
    /// MPI has been finalized in this process; no further communication is possible.
    case finalized

    /// The message.
    public var description: String {
        switch self {
        case let .unavailable(message): return "MPI is not available: \(message)"
        case let .mpi(call, code, message): return "\(call) failed with MPI error \(code): \(message)"
        case let .invalidArgument(message): return "invalid argument: \(message)"
        case let .parameterMismatch(message): return "the ranks' models differ: \(message)"
        case let .rankFailed(ranks, message):
            return "rank\(ranks.count == 1 ? "" : "s") \(ranks.map(String.init).joined(separator: ", ")) failed: \(message)"
        case .finalized: return "MPI has been finalized in this process"
        }
    }
}
