import Foundation
import LinearAlgebra

/// A training checkpoint: a model's parameters, an optimizer's state (momentum buffers,
/// moment estimates, step counts, learning rate) and the default random stream's state,
/// in one safetensors file written atomically.
///
/// Resuming from a checkpoint reproduces an uninterrupted run exactly: restore it into a
/// model and an optimizer of the same architecture and configuration, and the following
/// steps compute the same losses, bit for bit (dropout and any sampling drawn from
/// ``RandomState`` continue where they stopped).
///
/// ```swift
/// try Checkpoint(model: model, optimizer: optimizer, extra: ["epoch": "\(epoch)"]).write(to: url)
/// // … later, in a new process, with a freshly built model and optimizer:
/// let checkpoint = try Checkpoint(contentsOf: url)
/// try checkpoint.restore(model: model, optimizer: optimizer)
/// let epoch = Int(checkpoint.extra["epoch"] ?? "0")
/// ```
///
/// The file is an ordinary safetensors file (PyTorch can read it): the parameters under
/// `model.<name>` (the model's state dict keys), each optimizer buffer under
/// `optimizer.<parameter index>.<buffer>` (PyTorch's buffer names, one-dimensional), and
/// in `__metadata__`: `format` (``Checkpoint/format``), `optimizer.kind`,
/// `optimizer.learning_rate`, `optimizer.steps` (`index:count,…`), `optimizer.param_groups`
/// (JSON: each group's parameter indices and hyperparameters, see ``OptimizerState/Group``),
/// `scheduler.state` (JSON, see ``SchedulerState``), `data_loader.state` (JSON, see
/// ``DataLoaderState``), `random.state` (four hexadecimal words) and the ``extra`` strings
/// under `extra.<key>`.
///
/// Restoring follows PyTorch's `load_state_dict`: the checkpoint's hyperparameters (each
/// group's learning rate and weight decay, betas, eps, momentum, …) replace those the
/// optimizer was built with, so a run resumes with the settings it was saved with. Options
/// that decide which buffers an optimizer keeps (`amsgrad`, `centered`, a zero or non-zero
/// momentum) cannot be switched that way: restoring into an optimizer built otherwise throws.
public struct Checkpoint: @unchecked Sendable {
    /// The value of the `format` metadata key that marks a checkpoint file.
    public static let format = "recurrent-checkpoint-1"

    /// The model's parameters by state dict key (copies).
    public var model: [String: Tensor]
    /// The optimizer's state, or `nil` when the checkpoint has none.
    public var optimizer: OptimizerState?
    /// The default random stream's state, or `nil` when the checkpoint has none.
    public var randomState: SeededGenerator?
    /// Free-form strings saved with the checkpoint (an epoch number, a data position).
    public var extra: [String: String]
    /// A learning-rate scheduler's state (``LRScheduler/state``), or `nil`; restored with
    /// `restore(scheduler:)`.
    public var scheduler: SchedulerState?
    /// The position of a ``DataLoader``'s shuffling stream (``DataLoader/state``), or `nil`;
    /// restored with ``restore(dataLoader:)`` so that a resumed run draws the same orders.
    public var dataLoader: DataLoaderState?

    /// A checkpoint of the current state: copies of `model`'s parameters, `optimizer`'s
    /// state, `randomState` (by default the default stream's current state, see
    /// ``RandomState``) and, when given, a loader's shuffling stream (`loader.state`).
    public init(model: Module, optimizer: (any Optimizer)? = nil, dataLoader: DataLoaderState? = nil,
                randomState: SeededGenerator? = RandomState.state, extra: [String: String] = [:]) {
        self.model = model.stateDict()
        self.optimizer = optimizer?.state
        self.dataLoader = dataLoader
        self.randomState = randomState
        self.extra = extra
    }

    /// A checkpoint from its parts.
    public init(model: [String: Tensor], optimizer: OptimizerState?, randomState: SeededGenerator?,
                extra: [String: String] = [:]) {
        self.model = model
        self.optimizer = optimizer
        self.randomState = randomState
        self.extra = extra
    }

    /// Reads a checkpoint written by ``write(to:)``.
    ///
    /// - Throws: ``SafeTensorsError`` when the file cannot be read or is not valid
    ///   safetensors; ``CheckpointError`` when it is not a checkpoint or its optimizer or
    ///   random state entries are malformed (a negative step count, or one above ``OptimizerState/maximumStepCount``, among them).
    public init(contentsOf url: URL) throws {
        try self.init(file: try SafeTensorsFile(contentsOf: url))
    }

    /// Reads a checkpoint held in `data` (the bytes ``write(to:)`` writes).
    ///
    /// - Throws: ``SafeTensorsError`` when `data` is not valid safetensors;
    ///   ``CheckpointError`` as ``init(contentsOf:)``.
    public init(data: Data) throws {
        try self.init(file: try SafeTensorsFile(data: data))
    }

    private init(file: SafeTensorsFile) throws {
        let metadata = file.metadata
        guard metadata["format"] == Self.format else {
            throw CheckpointError.notACheckpoint(format: metadata["format"])
        }
        var model: [String: Tensor] = [:]
        var buffers: [Int: [String: [Float]]] = [:]
        for (name, tensor) in file.tensors {
            if name.hasPrefix("model.") {
                model[String(name.dropFirst("model.".count))] = tensor
            } else if name.hasPrefix("optimizer.") {
                let rest = name.dropFirst("optimizer.".count)
                guard let dot = rest.firstIndex(of: "."), let index = Int(rest[..<dot]), index >= 0,
                      rest.index(after: dot) < rest.endIndex else {
                    throw CheckpointError.invalidEntry(name, problem: "expected optimizer.<parameter index>.<buffer name>")
                }
                buffers[index, default: [:]][String(rest[rest.index(after: dot)...])] = tensor.scalars
            } else {
                throw CheckpointError.invalidEntry(name, problem: "expected a name starting with model. or optimizer.")
            }
        }
        var optimizer: OptimizerState?
        if let kind = metadata["optimizer.kind"] {
            guard let text = metadata["optimizer.learning_rate"], let learningRate = Float(text) else {
                throw CheckpointError.invalidEntry("optimizer.learning_rate", problem: "expected a number, got \(metadata["optimizer.learning_rate"].map { "\"\($0)\"" } ?? "nothing")")
            }
            var parameters: [Int: OptimizerState.ParameterState] = [:]
            for item in (metadata["optimizer.steps"] ?? "").split(separator: ",") {
                let parts = item.split(separator: ":")
                guard parts.count == 2, let index = Int(parts[0]), let step = Int(parts[1]), index >= 0 else {
                    throw CheckpointError.invalidEntry("optimizer.steps", problem: "expected index:count pairs separated by commas, got \"\(item)\"")
                }
                guard (0...OptimizerState.maximumStepCount).contains(step) else {
                    throw CheckpointError.invalidEntry("optimizer.steps", problem: "expected step counts in 0...\(OptimizerState.maximumStepCount), got \(step) for parameter \(index)")
                }
                guard parameters[index] == nil else {
                    throw CheckpointError.invalidEntry("optimizer.steps", problem: "parameter \(index) appears twice")
                }
                parameters[index] = OptimizerState.ParameterState(step: step, buffers: buffers[index] ?? [:])
            }
            if let stray = buffers.keys.sorted().first(where: { parameters[$0] == nil }) {
                throw CheckpointError.invalidEntry("optimizer.\(stray)", problem: "buffers of parameter \(stray), which has no step count in optimizer.steps")
            }
            var groups: [OptimizerState.Group]?
            if let text = metadata["optimizer.param_groups"] {
                do {
                    groups = try CheckpointJSON.decode([OptimizerState.Group].self, from: text)
                } catch {
                    throw CheckpointError.invalidEntry("optimizer.param_groups", problem: "expected a JSON list of {\"parameters\": [...], \"hyperparameters\": {...}}, got \"\(text.prefix(200))\"")
                }
            }
            optimizer = OptimizerState(optimizer: kind, learningRate: learningRate, parameters: parameters, groups: groups)
        } else if let stray = buffers.keys.min() {
            throw CheckpointError.invalidEntry("optimizer.\(stray)", problem: "an optimizer buffer without optimizer.kind in the metadata")
        }
        var randomState: SeededGenerator?
        if let text = metadata["random.state"] {
            let words = text.split(separator: ",").compactMap { UInt64($0, radix: 16) }
            guard words.count == 4, text.split(separator: ",").count == 4 else {
                throw CheckpointError.invalidEntry("random.state", problem: "expected four hexadecimal words separated by commas, got \"\(text)\"")
            }
            var generator = SeededGenerator(seed: 0)
            generator.state = (words[0], words[1], words[2], words[3])
            randomState = generator
        }
        var extra: [String: String] = [:]
        for (key, value) in metadata where key.hasPrefix("extra.") { extra[String(key.dropFirst("extra.".count))] = value }
        self.init(model: model, optimizer: optimizer, randomState: randomState, extra: extra)
        if let text = metadata["data_loader.state"] {
            do {
                dataLoader = try CheckpointJSON.decode(DataLoaderState.self, from: text)
            } catch {
                throw CheckpointError.invalidEntry("data_loader.state", problem: "expected a data loader state in JSON, got \"\(text.prefix(200))\"")
            }
        }
        if let text = metadata["scheduler.state"] {
            do {
                scheduler = try CheckpointJSON.decode(SchedulerState.self, from: text)
            } catch {
                throw CheckpointError.invalidEntry("scheduler.state", problem: "expected a scheduler state in JSON, got \"\(text.prefix(200))\"")
            }
        }
    }

    /// Writes the checkpoint to `url` atomically (a temporary file in the same directory,
    /// flushed, then renamed over `url`): an interrupted save leaves the previous file whole.
    ///
    /// - Throws: ``SafeTensorsError/io(path:message:)`` when the file cannot be written.
    public func write(to url: URL) throws {
        var tensors: [String: Tensor] = [:]
        for (name, tensor) in model { tensors["model." + name] = tensor }
        var metadata = ["format": Self.format]
        if let optimizer {
            metadata["optimizer.kind"] = optimizer.optimizer
            metadata["optimizer.learning_rate"] = "\(optimizer.learningRate)"
            metadata["optimizer.steps"] = optimizer.parameters.keys.sorted()
                .map { "\($0):\(optimizer.parameters[$0]?.step ?? 0)" }.joined(separator: ",")
            if let groups = optimizer.groups { metadata["optimizer.param_groups"] = CheckpointJSON.encode(groups) }
            for (index, state) in optimizer.parameters {
                for (buffer, values) in state.buffers {
                    tensors["optimizer.\(index).\(buffer)"] = Tensor(shape: [values.count], scalars: values)
                }
            }
        }
        if let randomState {
            let s = randomState.state
            metadata["random.state"] = [s.0, s.1, s.2, s.3].map { String($0, radix: 16) }.joined(separator: ",")
        }
        if let scheduler { metadata["scheduler.state"] = CheckpointJSON.encode(scheduler) }
        if let dataLoader { metadata["data_loader.state"] = CheckpointJSON.encode(dataLoader) }
        for (key, value) in extra { metadata["extra." + key] = value }
        try SafeTensors.write(tensors, metadata: metadata, to: url)
    }

    /// Restores the checkpoint: `model`'s parameters, `optimizer`'s state (when given) and,
    /// with `restoreRandomState`, the default random stream (``RandomState/state``).
    ///
    /// All or nothing: the model's keys and shapes and the optimizer's state are checked
    /// before the random stream changes; if the optimizer rejects its state, the model's
    /// parameters are put back as they were.
    /// - Throws: ``StateDictError`` when the parameters do not fit `model` (strict: same
    ///   keys, same shapes); ``CheckpointError/noOptimizerState`` when an optimizer is given
    ///   but the checkpoint has no optimizer state; the optimizer's
    ///   ``Optimizer/loadState(_:)`` errors (``TensorError``) when its state is of another
    ///   kind of optimizer or does not fit its parameters.
    public func restore(model: Module, optimizer: (any Optimizer)? = nil, restoreRandomState: Bool = true) throws {
        if optimizer != nil && self.optimizer == nil { throw CheckpointError.noOptimizerState }
        let previous = model.stateDict()
        try model.loadStateDict(self.model, strict: true)
        if let optimizer, let state = self.optimizer {
            do {
                try optimizer.loadState(state)
            } catch {
                _ = try? model.loadStateDict(previous, strict: true)
                throw error
            }
        }
        if restoreRandomState, let randomState { RandomState.state = randomState }
    }

    /// Puts `dataLoader`'s shuffling stream back where it was saved, so that the next epochs
    /// go through the examples in the orders the saved run would have used.
    /// - Throws: ``CheckpointError/invalidEntry(_:problem:)`` when the checkpoint holds no
    ///   loader state; what ``DataLoader/loadState(_:)`` throws when the loader draws from
    ///   another kind of stream.
    public func restore<D>(dataLoader: DataLoader<D>) throws {
        guard let state = self.dataLoader else {
            throw CheckpointError.invalidEntry("data_loader.state", problem: "a DataLoader was given, but the checkpoint holds no data loader state")
        }
        try dataLoader.loadState(state)
    }
}

/// Why a checkpoint could not be read or restored.
public enum CheckpointError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file is valid safetensors, but its `format` metadata is not ``Checkpoint/format``
    /// (`nil`: the file has none).
    case notACheckpoint(format: String?)
    /// A tensor name or metadata entry of the checkpoint is malformed.
    case invalidEntry(String, problem: String)
    /// An optimizer was given to ``Checkpoint/restore(model:optimizer:restoreRandomState:)``
    /// but the checkpoint holds no optimizer state.
    case noOptimizerState

    /// The message.
    public var description: String {
        switch self {
        case let .notACheckpoint(format):
            return "checkpoint: expected format \"\(Checkpoint.format)\" in the metadata, got \(format.map { "\"\($0)\"" } ?? "none")"
        case let .invalidEntry(name, problem):
            return "checkpoint: \(name): \(problem)"
        case .noOptimizerState:
            return "checkpoint: an optimizer was given, but the checkpoint holds no optimizer state"
        }
    }
}
