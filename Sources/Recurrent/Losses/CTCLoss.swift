import Foundation

// Connectionist temporal classification (Graves et al. 2006), as `torch.nn.CTCLoss`.

/// The checked shape of a CTC input: `t` steps, `n` batch elements, `c` classes.
private struct CTCShape {
    let t: Int
    let n: Int
    let c: Int
    let batched: Bool

    /// Checks `logProbs` `(T, N, C)` or `(T, C)`, the input lengths and, when given, the targets.
    init(_ op: String, _ logProbs: Tensor, inputLengths: [Int], blank: Int, targets: [[Int]]?) throws {
        switch logProbs.rank {
        case 3: (t, n, c, batched) = (logProbs.shape[0], logProbs.shape[1], logProbs.shape[2], true)
        case 2: (t, n, c, batched) = (logProbs.shape[0], 1, logProbs.shape[1], false)
        default:
            throw TensorError.shapeMismatch("\(op): expected log-probabilities of shape (T, N, C) or (T, C), got \(logProbs.shape)")
        }
        guard (0..<c).contains(blank) else {
            throw TensorError.invalidArgument("\(op): expected blank in 0..<\(c) (the classes), got \(blank)")
        }
        guard inputLengths.count == n else {
            throw TensorError.shapeMismatch("\(op): expected \(n) input lengths (one per batch element), got \(inputLengths.count)")
        }
        for (b, length) in inputLengths.enumerated() where !(0...t).contains(length) {
            throw TensorError.invalidArgument("\(op): expected input lengths in 0...\(t), got \(length) for batch element \(b)")
        }
        guard let targets else { return }
        guard targets.count == n else {
            throw TensorError.shapeMismatch("\(op): expected \(n) target sequences (one per batch element), got \(targets.count)")
        }
        for (b, target) in targets.enumerated() {
            if let bad = target.first(where: { !(0..<c).contains($0) || $0 == blank }) {
                throw TensorError.invalidArgument("\(op): expected target labels in 0..<\(c) other than blank \(blank), got \(bad) in the target of batch element \(b)")
            }
        }
    }

    /// The position of class `k` at step `s` of batch element `b`.
    @inline(__always) func offset(_ s: Int, _ b: Int, _ k: Int) -> Int { (s * n + b) * c + k }
}

/// `log(exp(a) + exp(b))`, exact when either is −∞.
@inline(__always) private func logAdd(_ a: Double, _ b: Double) -> Double {
    if a == -.infinity { return b }
    if b == -.infinity { return a }
    let m = Swift.max(a, b)
    return Foundation.log(Foundation.exp(a - m) + Foundation.exp(b - m)) + m
}

/// The negative log-likelihood of `target` for batch element `b` and, when `gradient` is
/// given, PyTorch's gradient of it with respect to the log-probabilities of that element
/// (`exp(lp) − exp(log αβ + nll − lp)` for the first `length` steps), written there.
/// `alpha` and `beta` are scratch space of at least `length · (2S + 1)` values.
private func ctcElement(_ lp: UnsafePointer<Float>, _ shape: CTCShape, b: Int, length: Int, target: [Int], blank: Int,
                        alpha: inout [Double], beta: inout [Double], gradient: UnsafeMutablePointer<Float>?) -> Double {
    let s = 2 * target.count + 1
    if length == 0 { return target.isEmpty ? 0 : .infinity }
    @inline(__always) func label(_ i: Int) -> Int { i % 2 == 0 ? blank : target[i / 2] }
    @inline(__always) func logp(_ step: Int, _ k: Int) -> Double { Double(lp[shape.offset(step, b, k)]) }
    for i in 0..<s { alpha[i] = -.infinity }
    alpha[0] = logp(0, blank)
    if s > 1 { alpha[1] = logp(0, target[0]) }
    for step in 1..<Swift.max(length, 1) {
        let previous = (step - 1) * s, current = step * s
        for i in 0..<s {
            let k = label(i)
            var sum = alpha[previous + i]
            if i > 0 { sum = logAdd(sum, alpha[previous + i - 1]) }
            if i > 1 && label(i - 2) != k { sum = logAdd(sum, alpha[previous + i - 2]) }
            alpha[current + i] = sum == -.infinity ? -.infinity : sum + logp(step, k)
        }
    }
    let last = (length - 1) * s
    let likelihood = logAdd(alpha[last + s - 1], s > 1 ? alpha[last + s - 2] : -.infinity)
    let nll = -likelihood
    guard let gradient else { return nll }
    // β, accumulating log Σ αβ per class in `lcab` (−∞ to start), as PyTorch does.
    var lcab = [Double](repeating: -.infinity, count: shape.c)
    for step in stride(from: length - 1, through: 0, by: -1) {
        let current = step * s, next = (step + 1) * s
        for k in 0..<shape.c { lcab[k] = -.infinity }
        for i in 0..<s {
            let k = label(i)
            if step == length - 1 {
                beta[current + i] = i >= s - 2 ? logp(step, k) : -.infinity
            } else {
                var sum = beta[next + i]
                if i < s - 1 { sum = logAdd(sum, beta[next + i + 1]) }
                if i < s - 2 && label(i + 2) != k { sum = logAdd(sum, beta[next + i + 2]) }
                beta[current + i] = sum == -.infinity ? -.infinity : sum + logp(step, k)
            }
            lcab[k] = logAdd(lcab[k], alpha[current + i] + beta[current + i])
        }
        for k in 0..<shape.c {
            let l = logp(step, k)
            gradient[shape.offset(step, b, k)] = Float(Foundation.exp(l) - Foundation.exp(lcab[k] + nll - l))
        }
    }
    return nll
}

/// The connectionist temporal classification loss (`torch.nn.functional.ctc_loss`) of
/// per-step log-probabilities against unaligned label sequences: the negative log of the
/// total probability of every alignment (path of labels and blanks) that collapses to the
/// target, by the forward–backward recursion in `Double`.
///
/// `.mean` divides each element's loss by its target length (at least 1) and averages over
/// the batch, as PyTorch; `.sum` adds them; `.none` returns them. An impossible alignment
/// (a target longer than its input allows) gives an infinite loss, or 0 with
/// `zeroInfinity` (its gradient then is 0 too).
///
/// One recorded node. Its gradient is PyTorch's: `exp(lp) − exp(log Σ αβ + nll − lp)` per
/// step and class (the gradient through a log-softmax that produced `logProbs`, which
/// PyTorch's CTC returns), 0 past each input length.
///
/// - Parameters:
///   - logProbs: `(T, N, C)` log-probabilities (the output of `logSoftmax(dim: 2)`), or
///     `(T, C)` for one unbatched sequence.
///   - targets: one label sequence per batch element, labels in `0..<C` other than `blank`
///     (may be empty).
///   - inputLengths: the number of valid steps of each batch element, in `0...T`.
///   - blank: the blank class (PyTorch's default 0).
///   - reduction: ``Reduction/mean`` (default), ``Reduction/sum`` or ``Reduction/none``.
///   - zeroInfinity: whether infinite losses and their gradients become 0.
/// - Returns: a scalar for `.mean` and `.sum` (and unbatched `.none`), `(N)` for `.none`.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when `logProbs` is not of rank 2 or 3 or the
///   counts of `inputLengths` or `targets` are not `N`; ``TensorError/invalidArgument(_:)``
///   when `blank` is not a class, an input length is outside `0...T`, or a label is the
///   blank or not a class.
public func ctcLoss(_ logProbs: Tensor, targets: [[Int]], inputLengths: [Int], blank: Int = 0,
                    reduction: Reduction = .mean, zeroInfinity: Bool = false) throws -> Tensor {
    let shape = try CTCShape("ctcLoss", logProbs, inputLengths: inputLengths, blank: blank, targets: targets)
    let recording = Tensor.needsRecording(logProbs)
    let gradients = recording ? TensorBuffer(count: logProbs.count) : nil
    let longest = targets.map(\.count).max() ?? 0
    var alpha = [Double](repeating: 0, count: shape.t * (2 * longest + 1))
    var beta = alpha
    var losses = [Double](repeating: 0, count: shape.n)
    for b in 0..<shape.n {
        var nll = ctcElement(logProbs.storage.pointer, shape, b: b, length: inputLengths[b], target: targets[b], blank: blank,
                             alpha: &alpha, beta: &beta, gradient: gradients?.pointer)
        if zeroInfinity && nll == .infinity {
            nll = 0
            if let g = gradients?.pointer {
                for step in 0..<shape.t { (g + shape.offset(step, b, 0)).update(repeating: 0, count: shape.c) }
            }
        }
        losses[b] = nll
    }
    // Each element's weight in the reduced loss.
    let weights: [Double] = (0..<shape.n).map { b in
        reduction == .mean ? 1 / Double(Swift.max(targets[b].count, 1)) / Double(shape.n) : 1
    }
    let storage: TensorBuffer, outShape: [Int]
    if reduction == .none {
        storage = TensorBuffer(copying: losses.map { Float($0) })
        outShape = shape.batched ? [shape.n] : []
    } else {
        storage = TensorBuffer(count: 1)
        storage.pointer[0] = Float(zip(losses, weights).reduce(0) { $0 + $1.0 * $1.1 })
        outShape = []
    }
    return Tensor.result("CtcLossBackward", shape: outShape, storage: storage, inputs: [logProbs], recording: recording) { g, grads in
        guard let gx = grads[0], let unit = gradients?.pointer else { return }
        for b in 0..<shape.n {
            let scale = Float(Double(reduction == .none ? g[b] : g[0]) * weights[b])
            for step in 0..<inputLengths[b] {
                let o = shape.offset(step, b, 0)
                for k in 0..<shape.c { gx[o + k] += unit[o + k] * scale }
            }
        }
    }
}

/// ``ctcLoss(_:targets:inputLengths:blank:reduction:zeroInfinity:)`` with the targets as
/// PyTorch passes them: all label sequences concatenated, with their lengths.
/// - Throws: ``TensorError/shapeMismatch(_:)`` when the target lengths do not add up to
///   the number of labels or are not one per batch element; otherwise what the other form throws.
public func ctcLoss(_ logProbs: Tensor, targets: [Int], inputLengths: [Int], targetLengths: [Int], blank: Int = 0,
                    reduction: Reduction = .mean, zeroInfinity: Bool = false) throws -> Tensor {
    guard targetLengths.allSatisfy({ $0 >= 0 }), targetLengths.reduce(0, +) == targets.count else {
        throw TensorError.shapeMismatch("ctcLoss: expected target lengths ≥ 0 that add up to the \(targets.count) labels, got \(targetLengths)")
    }
    var split: [[Int]] = [], start = 0
    for length in targetLengths {
        split.append(Array(targets[start..<start + length]))
        start += length
    }
    return try ctcLoss(logProbs, targets: split, inputLengths: inputLengths, blank: blank, reduction: reduction,
                       zeroInfinity: zeroInfinity)
}

/// The CTC loss as a module (`torch.nn.CTCLoss`): applies
/// ``ctcLoss(_:targets:inputLengths:blank:reduction:zeroInfinity:)``.
public final class CTCLoss: Module, @unchecked Sendable {
    /// The blank class.
    public let blank: Int
    /// How the sequence losses are combined.
    public let reduction: Reduction
    /// Whether infinite losses and their gradients become 0.
    public let zeroInfinity: Bool

    /// A criterion with PyTorch's defaults (blank 0, mean, infinite losses kept).
    public init(blank: Int = 0, reduction: Reduction = .mean, zeroInfinity: Bool = false) {
        self.blank = blank
        self.reduction = reduction
        self.zeroInfinity = zeroInfinity
        super.init()
    }

    /// The loss of `logProbs` `(T, N, C)` against `targets` with the given input lengths.
    /// - Throws: what ``ctcLoss(_:targets:inputLengths:blank:reduction:zeroInfinity:)`` throws.
    public func callAsFunction(_ logProbs: Tensor, targets: [[Int]], inputLengths: [Int]) throws -> Tensor {
        try ctcLoss(logProbs, targets: targets, inputLengths: inputLengths, blank: blank, reduction: reduction,
                    zeroInfinity: zeroInfinity)
    }
}

// MARK: - Decoding

/// The most likely label sequence of each batch element by best path (greedy) decoding:
/// the most probable class at every step, repeats merged, blanks removed.
///
/// - Parameters:
///   - logProbs: `(T, N, C)` log-probabilities (or probabilities, or scores: only the
///     largest per step counts), or `(T, C)` unbatched.
///   - inputLengths: each element's number of valid steps (all `T` by default).
///   - blank: the blank class.
/// - Returns: one label sequence per batch element (one for an unbatched input).
/// - Throws: ``TensorError/shapeMismatch(_:)`` for a wrong rank or length count;
///   ``TensorError/invalidArgument(_:)`` for a blank outside the classes or a length
///   outside `0...T`.
public func ctcGreedyDecode(_ logProbs: Tensor, inputLengths: [Int]? = nil, blank: Int = 0) throws -> [[Int]] {
    let n = logProbs.rank == 3 ? logProbs.shape[1] : 1
    let lengths = inputLengths ?? Array(repeating: logProbs.rank >= 2 ? logProbs.shape[0] : 0, count: n)
    let shape = try CTCShape("ctcGreedyDecode", logProbs, inputLengths: lengths, blank: blank, targets: nil)
    let lp = logProbs.storage.pointer
    return (0..<shape.n).map { b in
        var labels: [Int] = [], previous = blank
        for step in 0..<lengths[b] {
            let row = lp + shape.offset(step, b, 0)
            var best = 0
            for k in 1..<shape.c where row[k] > row[best] { best = k }
            if best != blank && best != previous { labels.append(best) }
            previous = best
        }
        return labels
    }
}

/// The most likely label sequence of each batch element by CTC prefix beam search: it
/// keeps the `beamWidth` most probable label prefixes, each with the probabilities of its
/// paths ending in a blank and in a label, merging the paths that collapse to the same
/// prefix (so unlike greedy decoding it sums over alignments).
///
/// - Parameters:
///   - logProbs: `(T, N, C)` log-probabilities, or `(T, C)` unbatched.
///   - inputLengths: each element's number of valid steps (all `T` by default).
///   - blank: the blank class.
///   - beamWidth: the number of prefixes kept per step, ≥ 1.
/// - Returns: per batch element, the best label sequence and its log-probability (the
///   negative of its CTC loss when the beam kept every prefix that mattered).
/// - Throws: as ``ctcGreedyDecode(_:inputLengths:blank:)``, and
///   ``TensorError/invalidArgument(_:)`` when `beamWidth` is below 1.
public func ctcBeamSearchDecode(_ logProbs: Tensor, inputLengths: [Int]? = nil, blank: Int = 0,
                                beamWidth: Int = 10) throws -> [(labels: [Int], logProbability: Double)] {
    guard beamWidth >= 1 else {
        throw TensorError.invalidArgument("ctcBeamSearchDecode: expected beamWidth ≥ 1, got \(beamWidth)")
    }
    let n = logProbs.rank == 3 ? logProbs.shape[1] : 1
    let lengths = inputLengths ?? Array(repeating: logProbs.rank >= 2 ? logProbs.shape[0] : 0, count: n)
    let shape = try CTCShape("ctcBeamSearchDecode", logProbs, inputLengths: lengths, blank: blank, targets: nil)
    let lp = logProbs.storage.pointer
    /// A prefix's log-probabilities of paths ending in a blank and in its last label.
    struct Score { var blank = -Double.infinity, label = -Double.infinity; var total: Double { logAdd(blank, label) } }
    return (0..<shape.n).map { b in
        var beams: [[Int]: Score] = [[]: Score(blank: 0, label: -.infinity)]
        for step in 0..<lengths[b] {
            let row = lp + shape.offset(step, b, 0)
            var next: [[Int]: Score] = [:]
            for (prefix, score) in beams {
                for k in 0..<shape.c {
                    let p = Double(row[k])
                    if k == blank {
                        next[prefix, default: Score()].blank = logAdd(next[prefix, default: Score()].blank, score.total + p)
                    } else if k == prefix.last {
                        // A repeat extends only across a blank; otherwise it stays the same prefix.
                        next[prefix + [k], default: Score()].label = logAdd(next[prefix + [k], default: Score()].label, score.blank + p)
                        next[prefix, default: Score()].label = logAdd(next[prefix, default: Score()].label, score.label + p)
                    } else {
                        next[prefix + [k], default: Score()].label = logAdd(next[prefix + [k], default: Score()].label, score.total + p)
                    }
                }
            }
            let ranked = next.sorted { $0.value.total != $1.value.total ? $0.value.total > $1.value.total : $0.key.lexicographicallyPrecedes($1.key) }
            beams = Dictionary(uniqueKeysWithValues: ranked.prefix(beamWidth).map { ($0.key, $0.value) })
        }
        let best = beams.max { $0.value.total != $1.value.total ? $0.value.total < $1.value.total : $1.key.lexicographicallyPrecedes($0.key) }!
        return (best.key, best.value.total)
    }
}
