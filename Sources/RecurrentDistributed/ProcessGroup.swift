import CMPI
import Foundation
import Recurrent

/// A reduction of ``ProcessGroup/allReduce(_:_:)``.
public enum ReduceOperation: Sendable {
    /// The elementwise sum over ranks.
    case sum
    /// The elementwise sum over ranks divided by the number of ranks (floating point only).
    case mean
    /// The elementwise maximum over ranks.
    case max
    /// The elementwise minimum over ranks.
    case min
}

/// The processes that `mpirun` started, and the collective operations among them — the
/// counterpart of PyTorch's `torch.distributed` process group, over Open MPI.
///
/// ```swift
/// let group = try ProcessGroup.world()          // MPI_Init on first use
/// print("rank \(group.rank) of \(group.size)")
/// try group.allReduce(tensor, .mean)            // in place, on every rank
/// try ProcessGroup.finalize()                   // before a successful exit
/// ```
///
/// Started without `mpirun`, a program is a world of one process (MPI's singleton
/// initialisation), where every collective returns its input.
///
/// **Collectives.** Every rank must make the same calls in the same order with matching
/// arguments (the same root, the same element counts); that is MPI's rule, and a rank that
/// skips a call leaves the others waiting in it. Calls may come from any thread, one at a
/// time (`MPI_THREAD_SERIALIZED`).
///
/// **Errors.** The group's communicator (a duplicate of `MPI_COMM_WORLD`, so that the
/// library's messages never meet a user's) and `MPI_COMM_WORLD` return errors instead of
/// aborting (`MPI_ERRORS_RETURN`); a failed call throws ``DistributedError/mpi(call:code:message:)``
/// with MPI's message.
///
/// **A rank that dies.** MPI (the standard, and Open MPI 4 from Debian) does not let the
/// survivors recover: once a process of the job has died, MPI's state is undefined and
/// a collective involving it may return an error, or may wait. What ends the job is
/// `mpirun`: when a process exits on a signal, or exits without having called
/// `MPI_Finalize` (a thrown error that ends `main`, `exit(1)`, a crash), `mpirun` prints which
/// rank ended and how ("mpirun noticed that process rank 1 … exited on signal 9", or
/// "… exited without calling finalize") and kills the other ranks, so the job ends with a
/// message and a non-zero status rather than hanging. Two cases MPI does not catch: a rank
/// that lives on but never makes the next collective call (an infinite loop, a deadlock
/// in user code) leaves the others waiting for ever, since MPI collectives have no
/// time-out; and a rank that calls ``finalize()`` and exits with status 0 while others still
/// expect it. So: call ``finalize()`` only on success, after the last collective of every
/// rank, and let errors end the process without it (or call ``abort(code:)``).
public final class ProcessGroup: @unchecked Sendable {
    /// This process's index in the group, `0..<size`; rank 0 writes checkpoints and reports.
    public let rank: Int
    /// The number of processes.
    public let size: Int
    /// This process's index among the group's processes on the same machine.
    public let localRank: Int
    /// The number of the group's processes on this machine.
    public let localSize: Int
    /// The MPI library's version string (for example "Open MPI v4.1.4, …").
    public let libraryVersion: String

    /// The communicator's Fortran handle (an `int` in every MPI implementation).
    let handle: Int32

    private static let lock = NSLock()
    nonisolated(unsafe) private static var worldGroup: ProcessGroup?

    /// Whether the package was built with Open MPI's headers (pkg-config `ompi-c`); when
    /// `false`, ``world()`` throws ``DistributedError/unavailable(_:)``.
    public static var isAvailable: Bool { cmpi_available() != 0 }

    /// The world of processes that `mpirun` started (every rank of the job); initialises
    /// MPI on the first call, and returns the same group afterwards.
    ///
    /// - Throws: ``DistributedError/unavailable(_:)`` when the package was built without
    ///   MPI; ``DistributedError/finalized`` after ``finalize()``;
    ///   ``DistributedError/mpi(call:code:message:)`` when MPI fails to start.
    public static func world() throws -> ProcessGroup {
        lock.lock()
        defer { lock.unlock() }
        if let worldGroup { return worldGroup }
        guard isAvailable else {
            throw DistributedError.unavailable(
                "the package was built without Open MPI's headers (pkg-config ompi-c was not found); install them " +
                "(Debian: apt-get install libopenmpi-dev openmpi-bin; macOS: brew install open-mpi) and rebuild")
        }
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        try check(cmpi_state(&initialized, &finalized), "MPI_Initialized")
        if finalized != 0 { throw DistributedError.finalized }
        if initialized == 0 {
            var provided: Int32 = 0
            try check(cmpi_init(&provided), "MPI_Init_thread")
        }
        var handle: Int32 = 0
        try check(cmpi_dup_world(&handle), "MPI_Comm_dup")
        var rank: Int32 = 0, size: Int32 = 0, localRank: Int32 = 0, localSize: Int32 = 0
        try check(cmpi_rank_size(handle, &rank, &size), "MPI_Comm_rank")
        try check(cmpi_local_rank_size(handle, &localRank, &localSize), "MPI_Comm_split_type")
        var text = [CChar](repeating: 0, count: 4096)
        _ = cmpi_library_version(&text, Int32(text.count))
        let version = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let group = ProcessGroup(handle: handle, rank: Int(rank), size: Int(size), localRank: Int(localRank),
                                 localSize: Int(localSize), libraryVersion: version)
        worldGroup = group
        return group
    }

    /// Ends MPI in this process (`MPI_Finalize`); call it once, on success, after every
    /// rank's last collective. Further calls on any group throw ``DistributedError/finalized``.
    /// Does nothing when MPI was never initialised or is already finalized.
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)`` when MPI reports an error.
    public static func finalize() throws {
        lock.lock()
        defer { lock.unlock() }
        guard isAvailable else { return }
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        try check(cmpi_state(&initialized, &finalized), "MPI_Initialized")
        guard initialized != 0, finalized == 0 else { return }
        if let worldGroup { _ = cmpi_free(worldGroup.handle) }
        worldGroup = nil
        try check(cmpi_finalize(), "MPI_Finalize")
    }

    private init(handle: Int32, rank: Int, size: Int, localRank: Int, localSize: Int, libraryVersion: String) {
        self.handle = handle
        self.rank = rank
        self.size = size
        self.localRank = localRank
        self.localSize = localSize
        self.libraryVersion = libraryVersion
    }

    /// Ends every process of the job with `code` (`MPI_Abort`): for a failure on one rank
    /// that the others cannot learn of through a collective call.
    public func abort(code: Int32 = 1) -> Never {
        _ = cmpi_abort(handle, code)
        exit(code)
    }

    // MARK: - Errors

    static func check(_ code: Int32, _ call: String) throws {
        guard code != 0 else { return }
        if code == CMPI_ERR_UNAVAILABLE {
            throw DistributedError.unavailable("the package was built without Open MPI's headers")
        }
        var text = [CChar](repeating: 0, count: 1024)
        _ = cmpi_error_string(code, &text, Int32(text.count))
        let message = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        throw DistributedError.mpi(call: call, code: code, message: message.isEmpty ? "unknown error" : message)
    }

    private func ensureLive() throws {
        var initialized: Int32 = 0
        var finalized: Int32 = 0
        try Self.check(cmpi_state(&initialized, &finalized), "MPI_Finalized")
        if finalized != 0 { throw DistributedError.finalized }
    }

    /// The largest element count of one MPI call (MPI counts are `int`); longer buffers go in
    /// several calls.
    static let maximumCount = 1 << 30

    private func chunks(_ count: Int, _ body: (Int, Int32) throws -> Void) throws {
        var start = 0
        repeat {
            let n = Swift.min(count - start, Self.maximumCount)
            try body(start, Int32(n))
            start += n
        } while start < count
    }

    private func mpiOperation(_ op: ReduceOperation) -> Int32 {
        switch op {
        case .sum, .mean: return Int32(CMPI_OP_SUM.rawValue)
        case .max: return Int32(CMPI_OP_MAX.rawValue)
        case .min: return Int32(CMPI_OP_MIN.rawValue)
        }
    }

    // MARK: - All-reduce

    /// Reduces `buffer` elementwise over every rank, in place: afterwards every rank holds
    /// the sum (or mean, maximum, minimum) of all ranks' buffers. Every rank passes a buffer
    /// of the same length.
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ op: ReduceOperation = .sum) throws {
        try reduceInPlace(buffer.baseAddress, count: buffer.count, type: Int32(CMPI_TYPE_FLOAT.rawValue), op: op)
        if op == .mean, size > 1, let base = buffer.baseAddress {
            BLAS.scal(count: buffer.count, alpha: 1 / Float(size), base)
        }
    }

    /// Reduces `buffer` elementwise over every rank, in place (see the `Float` overload).
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>, _ op: ReduceOperation = .sum) throws {
        try reduceInPlace(buffer.baseAddress, count: buffer.count, type: Int32(CMPI_TYPE_DOUBLE.rawValue), op: op)
        if op == .mean, size > 1, let base = buffer.baseAddress {
            BLAS.scal(count: buffer.count, alpha: 1 / Double(size), base)
        }
    }

    /// Reduces a tensor's elements over every rank, in place (any shape; every rank's
    /// tensor has the same number of elements). Records nothing for autograd.
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func allReduce(_ tensor: Tensor, _ op: ReduceOperation = .sum) throws {
        try tensor.withUnsafeMutableBufferPointer { try allReduce($0, op) }
    }

    /// Reduces an array over every rank, in place (for metrics: losses, counts).
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func allReduce(_ values: inout [Double], _ op: ReduceOperation = .sum) throws {
        try values.withUnsafeMutableBufferPointer { try allReduce($0, op) }
    }

    /// Reduces an array of integers over every rank, in place (`.sum`, `.max` or `.min`).
    ///
    /// - Throws: ``DistributedError/invalidArgument(_:)`` for `.mean` (an integer mean is
    ///   not an integer), on every rank; ``DistributedError/mpi(call:code:message:)``.
    public func allReduce(_ values: inout [Int], _ op: ReduceOperation = .sum) throws {
        guard op != .mean else {
            throw DistributedError.invalidArgument("expected .sum, .max or .min for integers, got .mean")
        }
        var wide = values.map(Int64.init)
        try wide.withUnsafeMutableBufferPointer {
            try reduceInPlace($0.baseAddress, count: $0.count, type: Int32(CMPI_TYPE_INT64.rawValue), op: op)
        }
        values = wide.map { Int($0) }
    }

    private func reduceInPlace(_ base: UnsafeMutableRawPointer?, count: Int, type: Int32, op: ReduceOperation) throws {
        try ensureLive()
        guard count > 0, let base else { return }
        let stride = type == Int32(CMPI_TYPE_FLOAT.rawValue) ? 4 : 8
        try chunks(count) { start, n in
            try Self.check(cmpi_allreduce(handle, base + start * stride, n, type, mpiOperation(op)), "MPI_Allreduce")
        }
    }

    // MARK: - Broadcast

    /// Copies rank `root`'s `buffer` into every rank's `buffer` (the same length on every rank).
    ///
    /// - Throws: ``DistributedError/invalidArgument(_:)`` when `root` is not a rank;
    ///   ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int = 0) throws {
        try broadcastRaw(UnsafeMutableRawPointer(buffer.baseAddress), count: buffer.count,
                         type: Int32(CMPI_TYPE_FLOAT.rawValue), root: root)
    }

    /// Copies rank `root`'s tensor elements into every rank's `tensor` (the same element
    /// count on every rank); records nothing for autograd.
    ///
    /// - Throws: as the buffer overload: ``DistributedError/invalidArgument(_:)`` when `root` is not
    ///   a rank; ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func broadcast(_ tensor: Tensor, root: Int = 0) throws {
        try tensor.withUnsafeMutableBufferPointer { try broadcast($0, root: root) }
    }

    /// Rank `root`'s bytes, on every rank: the other ranks' `bytes` are replaced, whatever
    /// their length (the length goes first).
    ///
    /// - Throws: ``DistributedError/invalidArgument(_:)`` when `root` is not a rank;
    ///   ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func broadcast(_ bytes: inout [UInt8], root: Int = 0) throws {
        var length = [Int64(bytes.count)]
        try length.withUnsafeMutableBytes {
            try broadcastRaw($0.baseAddress, count: 1, type: Int32(CMPI_TYPE_INT64.rawValue), root: root)
        }
        guard length[0] >= 0, length[0] <= Int64(Int.max) else {
            throw DistributedError.invalidArgument("broadcast: rank \(root) sent a length of \(length[0]) bytes")
        }
        if rank != root { bytes = [UInt8](repeating: 0, count: Int(length[0])) }
        try bytes.withUnsafeMutableBytes {
            try broadcastRaw($0.baseAddress, count: $0.count, type: Int32(CMPI_TYPE_BYTE.rawValue), root: root)
        }
    }

    private func broadcastRaw(_ base: UnsafeMutableRawPointer?, count: Int, type: Int32, root: Int) throws {
        guard (0..<size).contains(root) else {
            throw DistributedError.invalidArgument("broadcast: expected a root in 0..<\(size), got \(root)")
        }
        try ensureLive()
        guard count > 0, let base else { return }
        let stride = type == Int32(CMPI_TYPE_BYTE.rawValue) ? 1 : (type == Int32(CMPI_TYPE_FLOAT.rawValue) ? 4 : 8)
        try chunks(count) { start, n in
            try Self.check(cmpi_bcast(handle, base + start * stride, n, type, Int32(root)), "MPI_Bcast")
        }
    }

    // MARK: - Barrier and all-gather

    /// Waits until every rank has reached the barrier.
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func barrier() throws {
        try ensureLive()
        try Self.check(cmpi_barrier(handle), "MPI_Barrier")
    }

    /// Every rank's `values`, in rank order (for metrics and small checks). The ranks may
    /// pass arrays of different lengths.
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func allGather(_ values: [Double]) throws -> [[Double]] {
        let counts = try gatherInt64([Int64(values.count)]).map { Int($0) }
        let width = counts.max() ?? 0
        var send = values.map(\.bitPattern) + [UInt64](repeating: 0, count: width - values.count)
        var receive = [UInt64](repeating: 0, count: width * size)
        if width > 0 {
            try ensureLive()
            try send.withUnsafeMutableBytes { s in
                try receive.withUnsafeMutableBytes { r in
                    try Self.check(cmpi_allgather(handle, s.baseAddress, r.baseAddress, Int32(width),
                                                  Int32(CMPI_TYPE_INT64.rawValue)), "MPI_Allgather")
                }
            }
        }
        return (0..<size).map { r in (0..<counts[r]).map { Double(bitPattern: receive[r * width + $0]) } }
    }

    /// Every rank's `value`, in rank order.
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func allGather(_ value: Double) throws -> [Double] {
        try allGather([value]).map { $0[0] }
    }

    /// Every rank's `value`, in rank order.
    ///
    /// - Throws: ``DistributedError/mpi(call:code:message:)``, ``DistributedError/finalized``.
    public func allGather(_ value: Int) throws -> [Int] {
        try gatherInt64([Int64(value)]).map { Int($0) }
    }

    /// One `Int64` from each rank, in rank order.
    func gatherInt64(_ values: [Int64]) throws -> [Int64] {
        try ensureLive()
        var send = values
        var receive = [Int64](repeating: 0, count: values.count * size)
        try send.withUnsafeMutableBytes { s in
            try receive.withUnsafeMutableBytes { r in
                try Self.check(cmpi_allgather(handle, s.baseAddress, r.baseAddress, Int32(values.count),
                                              Int32(CMPI_TYPE_INT64.rawValue)), "MPI_Allgather")
            }
        }
        return receive
    }

    /// Throws on every rank when `failure` is non-nil on any rank: a collective check that
    /// turns one rank's error into an error everywhere. `failure` is this rank's message.
    ///
    /// - Throws: `failure` itself on the failing ranks, ``DistributedError/rankFailed(ranks:message:)``
    ///   naming the failing ranks on the others.
    func agree(_ failure: Error?) throws {
        let flags = try gatherInt64([failure == nil ? 0 : 1])
        let failed = flags.indices.filter { flags[$0] != 0 }
        guard !failed.isEmpty else { return }
        if let failure { throw failure }
        throw DistributedError.rankFailed(ranks: failed, message: "an error on \(failed.count == 1 ? "that rank" : "those ranks") (see its output)")
    }
}
