/// PyTorch's CPU random generator (`torch.Generator()`: a 32-bit Mersenne Twister, mt19937),
/// drawing the numbers PyTorch draws from the same seed. With it a ``DataLoader`` shuffles in
/// the order of PyTorch's `DataLoader(..., shuffle=True, generator=g)`, so a program ported
/// from PyTorch sees the same batches:
///
/// ```swift
/// // PyTorch: DataLoader(data, batch_size=16, shuffle=True, generator=torch.Generator().manual_seed(0))
/// let loader = try DataLoader(data, batchSize: 16, shuffle: true, generator: TorchGenerator(seed: 0))
/// ```
///
/// Only the integer draws a loader needs are provided (``random()``, ``random64()``,
/// ``randperm(_:)``); the library's own sampling (initialisers, dropout) uses
/// `SeededGenerator`. The state is Codable, for checkpoints (``DataLoaderState``).
public struct TorchGenerator: Codable, Equatable, Sendable {
    /// The words of the twister (624).
    private var words: [UInt32]
    /// The next word to temper; 624 when the words must be regenerated first.
    private var index: Int
    /// The seed the generator started from (PyTorch's `initial_seed()`).
    public let initialSeed: UInt64

    private static let n = 624, m = 397

    /// A generator seeded as `torch.Generator().manual_seed(seed)`: the twister's standard
    /// initialisation from the seed's low 32 bits (PyTorch ignores the high ones too).
    public init(seed: UInt64) {
        initialSeed = seed
        var words = [UInt32](repeating: 0, count: Self.n)
        words[0] = UInt32(truncatingIfNeeded: seed)
        for j in 1..<Self.n {
            let previous = words[j - 1]
            words[j] = 1_812_433_253 &* (previous ^ (previous >> 30)) &+ UInt32(j)
        }
        self.words = words
        index = Self.n
    }

    /// The next 32 random bits (PyTorch's `CPUGeneratorImpl::random()`).
    public mutating func random() -> UInt32 {
        if index >= Self.n { twist() }
        var y = words[index]
        index += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    /// The next 64 random bits: two 32-bit draws, the first as the high word (PyTorch's
    /// `random64()`).
    public mutating func random64() -> UInt64 {
        let high = UInt64(random()), low = UInt64(random())
        return high << 32 | low
    }

    /// A random permutation of `0..<n`, as `torch.randperm(n, generator=g)` on the CPU:
    /// PyTorch's swap loop with 32-bit draws below `2³² / 20` elements, its inside-out
    /// shuffle with 64-bit draws above.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `n` is negative; nothing is drawn then.
    public mutating func randperm(_ n: Int) throws -> [Int] {
        guard n >= 0 else { throw TensorError.invalidArgument("TorchGenerator.randperm: expected n ≥ 0, got \(n)") }
        var result = Array(0..<n)
        if n < Int(UInt32.max / 20) {
            for i in 0..<Swift.max(n - 1, 0) {
                let z = Int(random() % UInt32(n - i))
                result.swapAt(i, z + i)
            }
        } else {
            for i in 0..<n {
                let z = Int(random64() % UInt64(i + 1))
                result[i] = result[z]
                result[z] = i
            }
        }
        return result
    }

    /// Regenerates the 624 words (the twister's recurrence).
    private mutating func twist() {
        for k in 0..<Self.n {
            let y = (words[k] & 0x8000_0000) | (words[(k + 1) % Self.n] & 0x7FFF_FFFF)
            words[k] = words[(k + Self.m) % Self.n] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
        }
        index = 0
    }

    private enum CodingKeys: String, CodingKey { case initialSeed = "initial_seed", words = "state", index }

    /// Reads a state written by ``encode(to:)``.
    /// - Throws: `DecodingError.dataCorrupted` when there are not 624 words, the position
    ///   is outside `0...624`, or the seed is not a decimal `UInt64`.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let words = try c.decode([UInt32].self, forKey: .words)
        let index = try c.decode(Int.self, forKey: .index)
        let seedText = try c.decode(String.self, forKey: .initialSeed)
        guard words.count == Self.n, (0...Self.n).contains(index), let seed = UInt64(seedText) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "TorchGenerator: expected \(Self.n) words, a position in 0...\(Self.n) and a decimal seed, got \(words.count) words, position \(index), seed \"\(seedText)\""))
        }
        (self.words, self.index, initialSeed) = (words, index, seed)
    }

    /// Writes the complete state: the 624 words, the position and the seed (as a decimal
    /// string, so that JSON keeps every bit).
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(words, forKey: .words)
        try c.encode(index, forKey: .index)
        try c.encode(String(initialSeed), forKey: .initialSeed)
    }
}
