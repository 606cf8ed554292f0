import Foundation
import Recurrent

extension DistributedDataParallel {
    /// Saves a ``Checkpoint`` of the model (and `optimizer`) from rank 0 only; every rank
    /// calls it, and it returns on every rank once the file is written.
    ///
    /// The file is the one a single process writes: the model's own state-dict keys (no
    /// `module.` prefix), so it loads into one process or into any number of ranks. Every
    /// replica holds the same parameters and optimizer state, so rank 0's stand for all.
    ///
    /// - Parameters:
    ///   - url: the file, written atomically by rank 0 (the other ranks need not see it).
    ///   - optimizer: the optimizer whose state to save, or `nil`.
    ///   - randomState: the random stream to save (rank 0's default stream by default).
    ///   - extra: free-form strings (an epoch number).
    /// - Throws: the write's error on rank 0 and ``DistributedError/rankFailed(ranks:message:)``
    ///   with its message on the other ranks, when rank 0 could not write the file;
    ///   ``DistributedError/mpi(call:code:message:)``.
    public func saveCheckpoint(to url: URL, optimizer: (any Optimizer)? = nil,
                               randomState: SeededGenerator? = RandomState.state,
                               extra: [String: String] = [:]) throws {
        var message: [UInt8] = []
        var failure: Error?
        if processGroup.rank == 0 {
            do {
                try Checkpoint(model: module, optimizer: optimizer, randomState: randomState, extra: extra).write(to: url)
            } catch {
                failure = error
                message = Array("\(error)".utf8)
            }
        }
        try processGroup.broadcast(&message)
        if let failure { throw failure }
        if !message.isEmpty {
            throw DistributedError.rankFailed(ranks: [0], message: "writing the checkpoint: " + String(decoding: message, as: UTF8.self))
        }
    }

    /// Loads a ``Checkpoint`` written by ``saveCheckpoint(to:optimizer:randomState:extra:)``
    /// or by a single process, whatever the number of ranks that wrote it, into the model
    /// (and `optimizer`) on every rank.
    ///
    /// Rank 0 reads the file and sends its bytes to the others, so only rank 0 needs to
    /// see it (no shared file system). Everything is checked on every rank before anything
    /// changes; if any rank fails, every rank throws and none has changed.
    ///
    /// - Parameters:
    ///   - url: the file, read on rank 0.
    ///   - optimizer: the optimizer to restore, or `nil`.
    ///   - restoreRandomState: whether to set the default random stream to the saved one
    ///     (on every rank).
    /// - Returns: the checkpoint (its ``Checkpoint/extra`` strings, for an epoch number).
    /// - Throws: the read, parse or restore error (``SafeTensorsError``, ``CheckpointError``,
    ///   ``StateDictError``, ``TensorError``) on the rank where it happened, and
    ///   ``DistributedError/rankFailed(ranks:message:)`` on the others;
    ///   ``DistributedError/mpi(call:code:message:)``.
    @discardableResult
    public func loadCheckpoint(from url: URL, optimizer: (any Optimizer)? = nil,
                               restoreRandomState: Bool = true) throws -> Checkpoint {
        // 1. Rank 0 reads the bytes; a failure there is every rank's.
        var bytes: [UInt8] = []
        var failure: Error?
        if processGroup.rank == 0 {
            do { bytes = Array(try Data(contentsOf: url)) } catch { failure = error }
        }
        try processGroup.agree(failure)
        try processGroup.broadcast(&bytes)

        // 2. Every rank parses them (through a private temporary file, since a checkpoint is
        //    read from a file) and restores; all or nothing across the ranks.
        var checkpoint: Checkpoint?
        let previousModel = module.stateDict()
        let previousOptimizer = optimizer?.state
        let previousRandom = RandomState.state
        failure = nil
        do {
            let parsed: Checkpoint
            if processGroup.rank == 0 {
                parsed = try Checkpoint(contentsOf: url)
            } else {
                let temporary = FileManager.default.temporaryDirectory
                    .appendingPathComponent("recurrent-checkpoint-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString).safetensors")
                try Data(bytes).write(to: temporary)
                defer { try? FileManager.default.removeItem(at: temporary) }
                parsed = try Checkpoint(contentsOf: temporary)
            }
            try parsed.restore(model: module, optimizer: optimizer, restoreRandomState: restoreRandomState)
            checkpoint = parsed
        } catch {
            failure = error
        }
        do {
            try processGroup.agree(failure)
        } catch {
            // Another rank failed (or this one did): put back whatever this rank restored.
            if checkpoint != nil {
                _ = try? module.loadStateDict(previousModel)
                if let optimizer, let previousOptimizer { try? optimizer.loadState(previousOptimizer) }
                RandomState.state = previousRandom
            }
            throw error
        }
        return checkpoint!
    }
}
