import Foundation

extension Checkpoint {
    /// A checkpoint of the current state with `scheduler`'s state as well: the model's
    /// parameters, the optimizer's state, the loader's stream and the random state, as the
    /// initialiser that takes a module and an optimizer writes them.
    public init(model: Module, optimizer: (any Optimizer)?, scheduler: LRScheduler, dataLoader: DataLoaderState? = nil,
                randomState: SeededGenerator? = RandomState.state, extra: [String: String] = [:]) {
        self.init(model: model, optimizer: optimizer, dataLoader: dataLoader, randomState: randomState, extra: extra)
        self.scheduler = scheduler.state
    }

    /// A checkpoint of the current state with a ``ReduceLROnPlateau``'s state as well.
    public init(model: Module, optimizer: (any Optimizer)?, scheduler: ReduceLROnPlateau, dataLoader: DataLoaderState? = nil,
                randomState: SeededGenerator? = RandomState.state, extra: [String: String] = [:]) {
        self.init(model: model, optimizer: optimizer, dataLoader: dataLoader, randomState: randomState, extra: extra)
        self.scheduler = scheduler.state
    }

    /// Restores the saved scheduler state into `scheduler` (after
    /// ``restore(model:optimizer:restoreRandomState:)``, which restores the optimizer the
    /// scheduler drives).
    /// - Throws: ``CheckpointError/invalidEntry(_:problem:)`` when the checkpoint has none; what
    ///   ``LRScheduler/loadState(_:)`` throws when the state does not fit.
    public func restore(scheduler: LRScheduler) throws {
        guard let state = self.scheduler else { throw CheckpointError.invalidEntry("scheduler.state", problem: "an LRScheduler was given, but the checkpoint holds no scheduler state") }
        try scheduler.loadState(state)
    }

    /// Restores the saved scheduler state into a ``ReduceLROnPlateau``.
    /// - Throws: ``CheckpointError/invalidEntry(_:problem:)`` when the checkpoint has none;
    ///   what ``ReduceLROnPlateau/loadState(_:)`` throws when the state does not fit.
    public func restore(scheduler: ReduceLROnPlateau) throws {
        guard let state = self.scheduler else { throw CheckpointError.invalidEntry("scheduler.state", problem: "a ReduceLROnPlateau was given, but the checkpoint holds no scheduler state") }
        try scheduler.loadState(state)
    }
}

/// The JSON of the optimizer groups and scheduler states in a checkpoint's metadata:
/// sorted keys, and infinities and NaN as the strings `"inf"`, `"-inf"`, `"nan"` (a
/// ``ReduceLROnPlateau`` starts with an infinite best value).
enum CheckpointJSON {
    static func encode<T: Encodable>(_ value: T) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        // Plain structs of numbers, strings and arrays: encoding cannot fail.
        return String(decoding: try! encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return try decoder.decode(type, from: Data(text.utf8))
    }
}
