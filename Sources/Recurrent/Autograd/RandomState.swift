import LinearAlgebra

/// The library's default random stream, used by module initialisers and dropout, like
/// PyTorch's global generator: `RandomState.manualSeed(0)` makes a run reproducible.
///
/// It is shared by all threads and guarded by a lock. For independent streams, pass your
/// own `SeededGenerator` (see <doc:TheLinearAlgebraLayer>) to the initialisers that take one.
public enum RandomState {
    private static let generator = PThreadMutex(SeededGenerator(seed: 0x5EED))

    /// Restarts the default stream from `seed` (`torch.manual_seed`).
    public static func manualSeed(_ seed: UInt64) {
        generator.withLock { $0 = SeededGenerator(seed: seed) }
    }

    /// The default stream's complete state, to save in a checkpoint and restore later.
    public static var state: SeededGenerator {
        get { generator.withLock { $0 } }
        set { generator.withLock { $0 = newValue } }
    }

    /// Runs `body` with exclusive use of the default stream.
    public static func withGenerator<R>(_ body: (inout SeededGenerator) throws -> R) rethrows -> R {
        try generator.withLock { try body(&$0) }
    }
}
