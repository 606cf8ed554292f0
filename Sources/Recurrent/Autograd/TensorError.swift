/// An error thrown when a tensor, a configuration or a file handed to the library does not
/// fit what was expected. The message names what was expected and what came.
public enum TensorError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A tensor's shape (or rank, or element count) is not the one expected.
    case shapeMismatch(String)
    /// An argument's value is outside its allowed range (a class index, a dimension, a length).
    case invalidArgument(String)
    /// A value is NaN or infinite where finite values are required.
    case nonFinite(String)

    /// The message.
    public var description: String {
        switch self {
        case .shapeMismatch(let message): return "shape mismatch: \(message)"
        case .invalidArgument(let message): return "invalid argument: \(message)"
        case .nonFinite(let message): return "non-finite value: \(message)"
        }
    }
}
