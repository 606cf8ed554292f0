/// The state a recurrent cell carries from step to step, as a list of tensors of shape
/// `(N, features)` each (one for RNN and GRU cells, `h` and `c` for LSTM cells).
public protocol RecurrentState {
    /// The state's tensors, each `(N, features)`.
    var tensors: [Tensor] { get }
    /// A state made of `tensors`, in the order ``tensors`` lists them.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `tensors` does not hold as many
    ///   tensors as the state has.
    init(tensors: [Tensor]) throws
}

extension Tensor: RecurrentState {
    /// `[self]`.
    public var tensors: [Tensor] { [self] }
}

/// One step of a recurrent layer: the two requirements from which ``RecurrentLayer`` builds
/// sequences, stacks of layers, bidirectional layers and variable-length batches.
///
/// The library's cells conform; so can a user-defined cell:
///
/// ```swift
/// final class MinimalCell: Module, RecurrentCell {
///     let input: Linear, recurrent: Linear
///     let inputSize: Int, hiddenSize: Int
///     …
///     func zeroState(batchSize: Int) -> Tensor { Tensor(zeros: [batchSize, hiddenSize]) }
///     func step(_ x: Tensor, _ h: Tensor) throws -> (output: Tensor, state: Tensor) {
///         let next = (try input(x) + recurrent(h)).tanh()
///         return (next, next)
///     }
/// }
/// ```
public protocol RecurrentCell: Module {
    /// The state carried between steps.
    associatedtype State: RecurrentState
    /// The number of features of each input.
    var inputSize: Int { get }
    /// The number of features of each output.
    var hiddenSize: Int { get }
    /// The initial state for a batch of `batchSize`: zeros.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a negative `batchSize`.
    func zeroState(batchSize: Int) throws -> State
    /// One step: from an input `(N, inputSize)` and the state, the output `(N, hiddenSize)`
    /// and the next state.
    /// - Throws: ``TensorError`` when a shape does not fit.
    func step(_ input: Tensor, _ state: State) throws -> (output: Tensor, state: State)
}

/// A recurrent layer stack built from any ``RecurrentCell``, written once for all cells:
/// several layers, an optional reverse direction per layer, `batchFirst`, dropout between
/// layers and variable-length batches — what ``RNN``, ``LSTM`` and ``GRU`` do with fused
/// kernels, here step by step with the cell's own operations.
///
/// Shapes: input `(L, N, inputSize)` (or `(N, L, inputSize)` with `batchFirst`); output
/// `(L, N, D · hiddenSize)`; one final state per layer and direction, in the order
/// `layer · D + direction`.
public final class RecurrentLayer<Cell: RecurrentCell>: Module, @unchecked Sendable {
    /// The forward cells, one per layer.
    public let cells: [Cell]
    /// The reverse cells, one per layer, for a bidirectional stack (else empty).
    public let reverseCells: [Cell]
    /// Whether inputs and outputs are batch first.
    public let batchFirst: Bool
    /// The dropout probability between layers in training mode.
    public let dropout: Float

    /// A stack of `cells` (layer 0 first) and, for a bidirectional stack, `reverseCells`.
    ///
    /// - Throws: ``TensorError/invalidArgument(_:)`` when the cells' sizes do not chain
    ///   (each layer's input size is the previous layer's `D · hiddenSize`), or when there
    ///   are reverse cells but not one per layer.
    public init(cells: [Cell], reverseCells: [Cell] = [], batchFirst: Bool = false, dropout: Float = 0) throws {
        guard !cells.isEmpty else { throw TensorError.invalidArgument("RecurrentLayer: expected at least one cell") }
        guard reverseCells.isEmpty || reverseCells.count == cells.count else {
            throw TensorError.invalidArgument("RecurrentLayer: expected \(cells.count) reverse cells, got \(reverseCells.count)")
        }
        let D = reverseCells.isEmpty ? 1 : 2
        // A reverse cell reads what its forward twin reads and outputs as many features.
        for (l, (forward, reverse)) in zip(cells, reverseCells).enumerated()
        where reverse.inputSize != forward.inputSize || reverse.hiddenSize != forward.hiddenSize {
            throw TensorError.invalidArgument(
                "RecurrentLayer: expected the reverse cell of layer \(l) to have input size \(forward.inputSize) and hidden size \(forward.hiddenSize) like its forward cell, got \(reverse.inputSize) and \(reverse.hiddenSize)")
        }
        for l in 1..<max(cells.count, 1) where l < cells.count {
            let expected = D * cells[l - 1].hiddenSize
            let layer = [cells[l]] + (reverseCells.isEmpty ? [] : [reverseCells[l]])
            for c in layer where c.inputSize != expected {
                throw TensorError.invalidArgument("RecurrentLayer: layer \(l) expects input size \(expected), its cell has \(c.inputSize)")
            }
        }
        guard dropout >= 0 && dropout <= 1 else {
            throw TensorError.invalidArgument("RecurrentLayer: expected dropout in [0, 1], got \(dropout)")
        }
        self.cells = cells
        self.reverseCells = reverseCells
        self.batchFirst = batchFirst
        self.dropout = dropout
        super.init()
    }

    /// `cells.0`, `cells.1`, …, then `reverseCells.0`, …
    public override var children: [(name: String, module: Module)] {
        cells.enumerated().map { ("cells.\($0.offset)", $0.element as Module) }
            + reverseCells.enumerated().map { ("reverseCells.\($0.offset)", $0.element as Module) }
    }

    /// Runs the stack over `input`.
    ///
    /// - Parameters:
    ///   - input: `(L, N, inputSize)` or, with `batchFirst`, `(N, L, inputSize)`.
    ///   - initialStates: one state per layer and direction (`layer · D + direction`); zeros when `nil`.
    ///   - lengths: each sequence's length, in any order: outputs past it are zero, the final
    ///     state is the one at the sequence's own last step, and the reverse direction
    ///     starts there.
    /// - Returns: the last layer's outputs and the final states.
    /// - Throws: ``TensorError`` when a shape or a length does not fit.
    public func callAsFunction(_ input: Tensor, initialStates: [Cell.State]? = nil, lengths: [Int]? = nil) throws
        -> (output: Tensor, finalStates: [Cell.State]) {
        guard input.rank == 3, input.shape[2] == cells[0].inputSize else {
            throw TensorError.shapeMismatch("RecurrentLayer: expected input of rank 3 with \(cells[0].inputSize) features, got \(input.shape)")
        }
        let timeDim = batchFirst ? 1 : 0
        let T = input.shape[timeDim], B = input.shape[1 - timeDim]
        guard T > 0 else {
            throw TensorError.shapeMismatch("RecurrentLayer: expected sequence length to be larger than 0, got input of shape \(input.shape)")
        }
        let D = reverseCells.isEmpty ? 1 : 2
        if let initialStates, initialStates.count != cells.count * D {
            throw TensorError.shapeMismatch("RecurrentLayer: expected \(cells.count * D) initial states, got \(initialStates.count)")
        }
        // Every state is checked against its cell before layer 0 runs: a failed call runs no
        // layer and draws no dropout mask from the default stream.
        var zeroStates: [Cell.State] = []
        zeroStates.reserveCapacity(cells.count * D)
        for l in 0..<cells.count {
            for d in 0..<D {
                let cell = d == 0 ? cells[l] : reverseCells[l]
                let zero = try cell.zeroState(batchSize: B)
                if let given = initialStates?[l * D + d] {
                    let expected = zero.tensors.map(\.shape), actual = given.tensors.map(\.shape)
                    guard expected == actual else {
                        throw TensorError.shapeMismatch("RecurrentLayer: expected initial state \(l * D + d) (layer \(l)\(d == 1 ? ", reverse" : "")) of shapes \(expected), got \(actual)")
                    }
                }
                zeroStates.append(zero)
            }
        }
        var masks: [Tensor]? = nil
        if let lengths {
            guard lengths.count == B else {
                throw TensorError.shapeMismatch("RecurrentLayer: expected \(B) lengths, got \(lengths.count)")
            }
            if let bad = lengths.first(where: { $0 < 1 || $0 > T }) {
                throw TensorError.invalidArgument("RecurrentLayer: every length must be in 1...\(T), got \(bad)")
            }
            masks = (0..<T).map { t in Tensor(shape: [B, 1], scalars: lengths.map { t < $0 ? 1 : 0 }) }
        }
        var x = input
        var finals: [Cell.State] = []
        for l in 0..<cells.count {
            var directionOutputs: [Tensor] = []
            for d in 0..<D {
                let cell = d == 0 ? cells[l] : reverseCells[l]
                var state = initialStates?[l * D + d] ?? zeroStates[l * D + d]
                var outputs = [Tensor?](repeating: nil, count: T)
                for s in 0..<T {
                    let t = d == 0 ? s : T - 1 - s
                    let xt = try x.select(dim: timeDim, index: t)
                    var (out, next) = try cell.step(xt, state)
                    if let m = masks?[t] {
                        let keep = 1 - m
                        next = try Cell.State(tensors: zip(next.tensors, state.tensors).map { $0 * m + $1 * keep })
                        out = out * m
                    }
                    state = next
                    outputs[t] = out
                }
                directionOutputs.append(try Tensor.stack(outputs.map { $0! }, dim: timeDim))
                finals.append(state)
            }
            x = D == 1 ? directionOutputs[0] : try Tensor.cat(directionOutputs, dim: -1)
            if l < cells.count - 1 && isTraining && dropout > 0 {
                x = try RandomState.withGenerator { try x.dropout(p: dropout, training: true, using: &$0) }
            }
        }
        return (x, finals)
    }
}
