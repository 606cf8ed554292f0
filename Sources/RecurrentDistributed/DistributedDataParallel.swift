import Foundation
import Recurrent

/// Data-parallel training over a ``ProcessGroup``, with the semantics of PyTorch's
/// `torch.nn.parallel.DistributedDataParallel`: every rank holds a replica of the model,
/// runs forward and backward on its own share of each batch, and the gradients are averaged
/// over the ranks before the optimizer's step, so the replicas take the same steps.
///
/// ```swift
/// let group = try ProcessGroup.world()
/// let model = try LSTMClassifier(…)                     // the same construction on every rank
/// let ddp = try DistributedDataParallel(model, processGroup: group)   // replicas now equal
/// let optimizer = try Adam(model.parameters(), lr: 1e-3)
/// var sampler = try DistributedSampler(count: data.count, processGroup: group, seed: 0)
/// for epoch in 0..<epochs {
///     sampler.epoch = epoch
///     for batch in try sampler.batches(size: 32) {      // this rank's share of each global batch
///         optimizer.zeroGrad()
///         let loss = try crossEntropy(model(input(batch)), target: targets(batch))
///         try ddp.backward(loss)                        // backward, then the gradients' mean
///         optimizer.step()
///     }
/// }
/// try ProcessGroup.finalize()
/// ```
///
/// - At construction, every rank's parameter names, shapes and `requiresGrad` are compared
///   (an error on every rank if any differ) and rank 0's values are broadcast to the others.
/// - ``backward(_:localCount:)`` (or `loss.backward()` then ``synchronizeGradients(localCount:)``)
///   averages the gradients of the parameters that require them, packed into buckets of at
///   most ``bucketCapacityBytes`` (PyTorch's `bucket_cap_mb`, 25 MB by default): one
///   all-reduce per bucket, not one per tensor. The buckets are laid out in reverse
///   parameter order, as PyTorch's (the order backward produces gradients). Communication
///   does not yet overlap the backward pass: it starts when backward has finished.
/// - Inside ``noSync(_:)``, backward accumulates gradients locally; the next synchronised
///   backward averages the accumulated gradients (gradient accumulation, as `no_sync()`).
/// - Any optimizer, gradient clipping and learning-rate schedule works unchanged: after
///   synchronisation every rank holds the same gradients, so every rank takes the same step.
/// - A parameter whose gradient is `nil` on every rank keeps a `nil` gradient (optimizers
///   skip it, as in PyTorch); one that has a gradient on some ranks only gets the mean with
///   zeros for the others.
///
/// Replicas stay bit-identical as long as the all-reduce hands every rank the same sums, as
/// Open MPI's algorithms do; ``countReplicaDifferences()`` checks it.
public final class DistributedDataParallel {
    /// The wrapped model; call it for the forward pass as usual.
    public let module: Module
    /// The ranks that train together.
    public let processGroup: ProcessGroup
    /// The largest bucket of gradients sent in one all-reduce, in bytes.
    public let bucketCapacityBytes: Int

    /// The parameters whose gradients are synchronised (those that require gradients), in
    /// ``Module/namedParameters()`` order.
    private let parameters: [(name: String, parameter: Parameter)]
    /// The gradient buckets (the first also carries the header: error flag, weighting flag,
    /// weight, and one presence count per parameter).
    private let buckets: [GradientBucket]
    private let headerCount: Int
    private var synchronizes = true

    /// Wraps `module` for data-parallel training: checks that every rank holds the same
    /// parameters and copies rank 0's values to every rank.
    ///
    /// - Parameters:
    ///   - module: the model, built the same way on every rank.
    ///   - processGroup: the ranks that train together.
    ///   - bucketCapMB: the largest bucket of gradients, in megabytes (2^20 bytes), as
    ///     PyTorch's `bucket_cap_mb`; a parameter larger than that gets a bucket of its own.
    /// - Throws: ``DistributedError/invalidArgument(_:)`` for a bucket size that is not
    ///   positive and finite; ``DistributedError/parameterMismatch(_:)`` on every rank when
    ///   the ranks' parameter names, shapes or `requiresGrad` differ (saying how this rank's
    ///   differ from rank 0's); ``DistributedError/mpi(call:code:message:)``.
    public init(_ module: Module, processGroup: ProcessGroup, bucketCapMB: Double = 25) throws {
        guard bucketCapMB.isFinite, bucketCapMB > 0, bucketCapMB <= 1_048_576 else {
            throw DistributedError.invalidArgument("bucketCapMB: expected a positive number of megabytes up to 2^20, got \(bucketCapMB)")
        }
        self.module = module
        self.processGroup = processGroup
        bucketCapacityBytes = Swift.max(Int(bucketCapMB * 1_048_576), MemoryLayout<Float>.stride)
        let named = module.namedParameters()
        try Self.checkSameParameters(named, processGroup)
        parameters = named.filter { $0.parameter.requiresGrad }
        headerCount = 3 + parameters.count
        let capacity = bucketCapacityBytes / MemoryLayout<Float>.stride
        buckets = GradientBucket.plan(counts: parameters.map(\.parameter.count), capacity: capacity,
                                      headerCount: headerCount)
        try Self.broadcastParameters(named.map(\.parameter), processGroup, capacity: capacity)
    }

    /// The element count of each gradient bucket (the first includes its header of
    /// `3 + parameters` counters), in the order they are reduced.
    public var bucketElementCounts: [Int] { buckets.map(\.buffer.count) }

    /// The names of the parameters in each bucket, in the order they are reduced.
    public var bucketParameterNames: [[String]] {
        buckets.map { $0.members.map { parameters[$0.index].name } }
    }

    /// Runs `body` with gradient synchronisation off: ``backward(_:localCount:)`` inside
    /// only accumulates gradients locally, and the next backward outside synchronises the
    /// accumulated gradients (PyTorch's `no_sync()`).
    public func noSync<R>(_ body: () throws -> R) rethrows -> R {
        let previous = synchronizes
        synchronizes = false
        defer { synchronizes = previous }
        return try body()
    }

    /// Whether ``backward(_:localCount:)`` synchronises (`false` inside ``noSync(_:)``).
    public var synchronizesGradients: Bool { synchronizes }

    /// `loss.backward()`, then (outside ``noSync(_:)``) ``synchronizeGradients(localCount:)``.
    ///
    /// - Parameters:
    ///   - loss: a scalar loss on this rank's share of the batch.
    ///   - localCount: see ``synchronizeGradients(localCount:)``.
    /// - Throws: as ``synchronizeGradients(localCount:)``.
    public func backward(_ loss: Tensor, localCount: Int? = nil) throws {
        loss.backward()
        if synchronizes { try synchronizeGradients(localCount: localCount) }
    }

    /// Averages the gradients over the ranks, in place; every rank must call it, at the
    /// same point.
    ///
    /// Without `localCount`, every rank's gradient counts the same: the result is
    /// `Σ grad_r / size`, PyTorch's DDP. With it, the mean is weighted by each rank's count
    /// of samples, `Σ n_r · grad_r / Σ n_r`: with a loss that is a mean over the rank's
    /// samples, this is the gradient of the mean over the whole global batch even when the
    /// ranks' shares differ (an uneven last batch), and a rank with no sample in the batch
    /// calls this with `localCount: 0` (its gradients are ignored) instead of a backward.
    ///
    /// - Throws: ``DistributedError/invalidArgument(_:)`` on every rank when a rank passed a
    ///   negative count, when some ranks passed a count and others did not, or when every
    ///   count is 0; the gradients are then left as they were.
    ///   ``DistributedError/mpi(call:code:message:)`` when MPI fails.
    public func synchronizeGradients(localCount: Int? = nil) throws {
        let size = processGroup.size
        let weight: Float
        var invalid = false
        if let localCount {
            invalid = localCount < 0 || localCount > 1 << 24
            weight = invalid ? 0 : Float(localCount)
        } else {
            weight = 1
        }
        // The header bucket goes first, so that every rank learns of an error before any
        // gradient changes.
        for (k, bucket) in buckets.enumerated() {
            bucket.pack(parameters, weight: weight)
            if k == 0 {
                let header = bucket.buffer.baseAddress!
                header[0] = invalid ? 1 : 0
                header[1] = localCount == nil ? 0 : 1
                header[2] = weight
                for i in parameters.indices { header[3 + i] = parameters[i].parameter.grad == nil ? 0 : 1 }
            }
            try processGroup.allReduce(bucket.buffer)
            if k == 0 {
                let header = bucket.buffer.baseAddress!
                if header[0] != 0 {
                    throw DistributedError.invalidArgument("synchronizeGradients: \(Int(header[0])) rank(s) passed a localCount outside 0...2^24" + (invalid ? " (this rank: \(localCount ?? 0))" : ""))
                }
                if header[1] != 0 && Int(header[1]) != size {
                    throw DistributedError.invalidArgument("synchronizeGradients: expected a localCount on every rank or on none, got one on \(Int(header[1])) of \(size) ranks")
                }
                if header[2] <= 0 {
                    throw DistributedError.invalidArgument("synchronizeGradients: every rank passed localCount 0; there is no gradient to average")
                }
            }
        }
        let header = buckets[0].buffer.baseAddress!
        let scale = 1 / header[2]
        for bucket in buckets {
            bucket.unpack(parameters, scale: scale, presence: header + 3)
        }
    }

    /// The number of parameter elements that differ, bit for bit, from rank 0's, summed over
    /// every rank (0 when the replicas are identical).
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``.
    public func countReplicaDifferences() throws -> Int {
        var differences = 0
        for (_, p) in module.namedParameters() {
            let reference = p.detached()
            try processGroup.broadcast(reference)
            p.withUnsafeBufferPointer { mine in
                reference.withUnsafeBufferPointer { theirs in
                    for i in mine.indices where mine[i].bitPattern != theirs[i].bitPattern { differences += 1 }
                }
            }
        }
        var total = [differences]
        try processGroup.allReduce(&total)
        return total[0]
    }

    // MARK: - Construction

    /// A line per parameter: name, shape, whether it requires gradients.
    static func signature(_ named: [(name: String, parameter: Parameter)]) -> [String] {
        named.map { "\($0.name) \($0.parameter.shape) requiresGrad: \($0.parameter.requiresGrad)" }
    }

    private static func checkSameParameters(_ named: [(name: String, parameter: Parameter)], _ group: ProcessGroup) throws {
        let lines = signature(named)
        let text = lines.joined(separator: "\n")
        // FNV-1a over the signature; equal hashes and counts on every rank mean equal models
        // (up to a 2^-64 collision, which the text comparison below would not catch either
        // way: ranks whose hashes differ compare their texts).
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        let gathered = try group.gatherInt64([Int64(bitPattern: hash), Int64(named.count)])
        let differing = (0..<group.size).filter {
            gathered[2 * $0] != gathered[0] || gathered[2 * $0 + 1] != gathered[1]
        }
        guard !differing.isEmpty else { return }
        var reference = Array(text.utf8)
        try group.broadcast(&reference)
        let referenceLines = String(decoding: reference, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var detail: String
        if group.rank == 0 || !differing.contains(group.rank) {
            detail = "this rank's parameters are rank 0's"
        } else if let k = (0..<Swift.min(lines.count, referenceLines.count)).first(where: { lines[$0] != referenceLines[$0] }) {
            detail = "this rank (\(group.rank)) has \(lines[k]) where rank 0 has \(referenceLines[k])"
        } else if lines.count < referenceLines.count {
            detail = "this rank (\(group.rank)) lacks \(referenceLines[lines.count]) (\(lines.count) parameters, rank 0 has \(referenceLines.count))"
        } else {
            detail = "this rank (\(group.rank)) has an extra \(lines[referenceLines.count]) (\(lines.count) parameters, rank 0 has \(referenceLines.count))"
        }
        let ranks = differing.map(String.init).joined(separator: ", ")
        throw DistributedError.parameterMismatch(
            "rank\(differing.count == 1 ? "" : "s") \(ranks) hold\(differing.count == 1 ? "s" : "") other parameters than rank 0; \(detail)")
    }

    /// Copies rank 0's parameters to every rank, packed into messages of at most `capacity` elements.
    private static func broadcastParameters(_ parameters: [Parameter], _ group: ProcessGroup, capacity: Int) throws {
        guard group.size > 1 else { return }
        let plan = GradientBucket.plan(counts: parameters.map(\.count), capacity: capacity, headerCount: 0)
        for bucket in plan {
            for member in bucket.members {
                parameters[member.index].withUnsafeBufferPointer {
                    _ = UnsafeMutableBufferPointer(rebasing: bucket.buffer[member.offset..<(member.offset + member.count)])
                        .update(fromContentsOf: $0)
                }
            }
            try group.broadcast(bucket.buffer)
            for member in bucket.members {
                parameters[member.index].withUnsafeMutableBufferPointer {
                    _ = $0.update(fromContentsOf: bucket.buffer[member.offset..<(member.offset + member.count)])
                }
            }
        }
    }
}

/// A contiguous buffer holding several parameters' gradients for one all-reduce.
final class GradientBucket {
    /// Each parameter in the bucket: its index among the synchronised parameters, its
    /// offset in the buffer and its element count.
    let members: [(index: Int, offset: Int, count: Int)]
    /// The buffer (header first in the first bucket).
    let buffer: UnsafeMutableBufferPointer<Float>

    init(members: [(index: Int, offset: Int, count: Int)], count: Int) {
        self.members = members
        buffer = .allocate(capacity: count)
        buffer.initialize(repeating: 0)
    }

    deinit { buffer.deallocate() }

    /// Buckets of at most `capacity` elements (a parameter larger than that alone), filled
    /// in reverse parameter order; the first has `headerCount` leading elements.
    static func plan(counts: [Int], capacity: Int, headerCount: Int) -> [GradientBucket] {
        var result: [GradientBucket] = []
        var members: [(index: Int, offset: Int, count: Int)] = []
        var used = headerCount
        for index in counts.indices.reversed() {
            let count = counts[index]
            if !members.isEmpty && used + count > capacity {
                result.append(GradientBucket(members: members, count: used))
                members = []
                used = 0
            }
            members.append((index, used, count))
            used += count
        }
        if !members.isEmpty || result.isEmpty { result.append(GradientBucket(members: members, count: used)) }
        return result
    }

    /// Copies each member's gradient times `weight` (zeros for a `nil` gradient) into the buffer.
    func pack(_ parameters: [(name: String, parameter: Parameter)], weight: Float) {
        for member in members {
            let slice = UnsafeMutableBufferPointer(rebasing: buffer[member.offset..<(member.offset + member.count)])
            if let grad = parameters[member.index].parameter.grad {
                precondition(grad.count == member.count, "DistributedDataParallel: a gradient of \(grad.count) elements for a parameter of \(member.count)")
                grad.withUnsafeBufferPointer { _ = slice.update(fromContentsOf: $0) }
                if weight != 1 { BLAS.scal(count: member.count, alpha: weight, slice.baseAddress!) }
            } else {
                slice.update(repeating: 0)
            }
        }
    }

    /// Writes each member's reduced gradient times `scale` into its `grad` (made when `nil`)
    /// when some rank had a gradient for it (`presence[index] > 0`).
    func unpack(_ parameters: [(name: String, parameter: Parameter)], scale: Float, presence: UnsafePointer<Float>) {
        for member in members where presence[member.index] > 0 {
            let parameter = parameters[member.index].parameter
            let grad = parameter.grad ?? Tensor(zeros: parameter.shape)
            grad.withUnsafeMutableBufferPointer {
                _ = $0.update(fromContentsOf: buffer[member.offset..<(member.offset + member.count)])
                if scale != 1 { BLAS.scal(count: member.count, alpha: scale, $0.baseAddress!) }
            }
            parameter.grad = grad
        }
    }
}
