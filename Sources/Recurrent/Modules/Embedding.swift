import LinearAlgebra

/// A lookup table of learned vectors, one per token index (`torch.nn.Embedding`, without
/// `max_norm` and `sparse`): it turns integer indices into rows of `weight`.
///
/// Shapes: indices of any shape `S` give an output `S + [embeddingDim]`; `weight` is
/// `(numEmbeddings, embeddingDim)`, stored under the state-dict key `weight` as PyTorch
/// writes it. Initialised like PyTorch: every weight from N(0, 1), and the `paddingIdx` row
/// (if any) set to zeros; that row receives no gradient, so training leaves it as it is.
///
/// The output of a batch-first `(N, L)` batch of token indices is `(N, L, embeddingDim)`,
/// the input a recurrent layer built with `batchFirst: true` expects:
///
/// ```swift
/// let embedding = try Embedding(numEmbeddings: vocabulary.count, embeddingDim: 32, paddingIdx: 0)
/// let lstm = try LSTM(inputSize: 32, hiddenSize: 64, batchFirst: true)
/// let (output, _) = try lstm(try embedding([[5, 9, 2], [7, 3, 0]]))   // output (2, 3, 64)
/// ```
public final class Embedding: Module, @unchecked Sendable {
    /// The table, `(numEmbeddings, embeddingDim)`: row `i` is the vector of index `i`.
    public let weight: Parameter
    /// The number of rows of the table (the size of the vocabulary); indices are in
    /// `0..<numEmbeddings`.
    public let numEmbeddings: Int
    /// The length of each vector (the last dimension of the output).
    public let embeddingDim: Int
    /// The row that receives no gradient (and starts as zeros), made non-negative as PyTorch
    /// stores it (a `paddingIdx` of `-1` is kept as `numEmbeddings - 1`); `nil` for none.
    public let paddingIdx: Int?

    /// `numEmbeddings, embeddingDim` and the padding index, as PyTorch prints an embedding.
    public override var extraDescription: String {
        "\(numEmbeddings), \(embeddingDim)" + (paddingIdx.map { ", padding_idx=\($0)" } ?? "")
    }

    /// An embedding drawing its initial weights from the default random stream
    /// (``RandomState``).
    ///
    /// - Parameters:
    ///   - numEmbeddings: the number of rows (indices `0..<numEmbeddings`), at least 1.
    ///   - embeddingDim: the length of each vector, at least 1.
    ///   - paddingIdx: the row that starts as zeros and gets no gradient, in
    ///     `-numEmbeddings..<numEmbeddings` (negative values count from the end), or `nil`.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a size below 1 or a `paddingIdx` out
    ///   of range; nothing is drawn from the random stream then.
    public convenience init(numEmbeddings: Int, embeddingDim: Int, paddingIdx: Int? = nil) throws {
        let padding = try Embedding.validate(numEmbeddings: numEmbeddings, embeddingDim: embeddingDim, paddingIdx: paddingIdx)
        let weight = RandomState.withGenerator {
            Embedding.initialWeight(numEmbeddings, embeddingDim, padding, using: &$0)
        }
        self.init(weight: weight, paddingIdx: padding)
    }

    /// An embedding drawing its initial weights from `generator`.
    ///
    /// - Throws: like ``init(numEmbeddings:embeddingDim:paddingIdx:)``; nothing is drawn from
    ///   `generator` then.
    public convenience init(numEmbeddings: Int, embeddingDim: Int, paddingIdx: Int? = nil,
                            using generator: inout SeededGenerator) throws {
        let padding = try Embedding.validate(numEmbeddings: numEmbeddings, embeddingDim: embeddingDim, paddingIdx: paddingIdx)
        self.init(weight: Embedding.initialWeight(numEmbeddings, embeddingDim, padding, using: &generator),
                  paddingIdx: padding)
    }

    private init(weight: Parameter, paddingIdx: Int?) {
        self.weight = weight
        self.numEmbeddings = weight.shape[0]
        self.embeddingDim = weight.shape[1]
        self.paddingIdx = paddingIdx
        super.init()
    }

    /// An embedding whose table is a copy of `weight` (`nn.Embedding.from_pretrained`).
    ///
    /// As in PyTorch, the `paddingIdx` row keeps the values it has in `weight` (it is not
    /// zeroed) and receives no gradient.
    ///
    /// - Parameters:
    ///   - weight: the table, `(numEmbeddings, embeddingDim)`, both at least 1.
    ///   - freeze: when `true` (the default), the table does not require gradients, so it
    ///     is not trained.
    ///   - paddingIdx: as in ``init(numEmbeddings:embeddingDim:paddingIdx:)``.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `weight` is not 2-D,
    ///   ``TensorError/invalidArgument(_:)`` for an empty dimension or a `paddingIdx` out of
    ///   range.
    public static func fromPretrained(_ weight: Tensor, freeze: Bool = true, paddingIdx: Int? = nil) throws -> Embedding {
        guard weight.rank == 2 else {
            throw TensorError.shapeMismatch("Embedding.fromPretrained: expected a 2-D weight (numEmbeddings, embeddingDim), got \(weight.shape)")
        }
        let padding = try validate(numEmbeddings: weight.shape[0], embeddingDim: weight.shape[1], paddingIdx: paddingIdx)
        return Embedding(weight: Parameter(weight, requiresGrad: !freeze), paddingIdx: padding)
    }

    /// Checks the sizes and returns `paddingIdx` made non-negative.
    private static func validate(numEmbeddings: Int, embeddingDim: Int, paddingIdx: Int?) throws -> Int? {
        guard numEmbeddings >= 1, embeddingDim >= 1 else {
            throw TensorError.invalidArgument("Embedding: expected numEmbeddings and embeddingDim >= 1, got \(numEmbeddings) and \(embeddingDim)")
        }
        let (_, overflow) = numEmbeddings.multipliedReportingOverflow(by: embeddingDim)
        guard !overflow else {
            throw TensorError.invalidArgument("Embedding: numEmbeddings \(numEmbeddings) × embeddingDim \(embeddingDim) overflows Int")
        }
        return try Tensor.normalizedPaddingIndex(paddingIdx, rows: numEmbeddings, "Embedding")
    }

    /// N(0, 1) weights with the padding row zeroed.
    private static func initialWeight(_ rows: Int, _ dim: Int, _ padding: Int?,
                                      using generator: inout SeededGenerator) -> Parameter {
        let weight = Parameter(Tensor(normal: [rows, dim], using: &generator))
        if let padding {
            weight.withUnsafeMutableBufferPointer { w in
                (w.baseAddress! + padding * dim).update(repeating: 0, count: dim)
            }
        }
        return weight
    }

    /// The vectors of `indices`, an index array of shape `shape` in row-major order.
    ///
    /// - Returns: `shape + [embeddingDim]`; a `(N, L)` batch gives `(N, L, embeddingDim)`.
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when `shape` does not hold
    ///   `indices.count` indices; ``TensorError/invalidArgument(_:)`` naming the first index
    ///   outside `0..<numEmbeddings` (and its position). The module is unchanged then.
    public func callAsFunction(_ indices: [Int], shape: [Int]) throws -> Tensor {
        try Tensor.embedding(weight, indices: indices, shape: shape, paddingIdx: paddingIdx)
    }

    /// The vectors of a sequence of indices: `(indices.count, embeddingDim)`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for an index outside `0..<numEmbeddings`.
    public func callAsFunction(_ indices: [Int]) throws -> Tensor {
        try self(indices, shape: [indices.count])
    }

    /// The vectors of a batch-first, already padded batch of sequences (every row the same
    /// length `L`, typically filled up with `paddingIdx`): `(batch.count, L, embeddingDim)`,
    /// the input of a recurrent layer built with `batchFirst: true`.
    ///
    /// - Throws: ``TensorError/shapeMismatch(_:)`` when the batch is empty or its rows differ
    ///   in length (naming the first row that does); ``TensorError/invalidArgument(_:)`` for
    ///   an index outside `0..<numEmbeddings`, at its flat position `row · L + column`.
    public func callAsFunction(_ batch: [[Int]]) throws -> Tensor {
        guard let length = batch.first?.count else {
            throw TensorError.shapeMismatch("Embedding: expected at least one sequence in the batch, got none")
        }
        if let row = batch.firstIndex(where: { $0.count != length }) {
            throw TensorError.shapeMismatch(
                "Embedding: expected every sequence of the batch to have length \(length) (pad them first), got \(batch[row].count) in row \(row)")
        }
        return try self(batch.flatMap { $0 }, shape: [batch.count, length])
    }
}
