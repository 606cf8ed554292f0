import Synchronization
import LinearAlgebra

/// Anomaly detection (`torch.autograd.detect_anomaly`): while on, every recorded operation
/// checks its output in the forward pass and the gradients it produces in the backward
/// pass, and the first NaN or infinity is reported by operation name and shape.
public enum AnomalyMode {
    /// Whether anomaly detection is on for the current task (off by default: it costs a
    /// pass over every buffer).
    @TaskLocal public static var isEnabled = false

    /// A NaN or infinity found by anomaly detection.
    public struct Anomaly: Error, CustomStringConvertible, Sendable {
        /// The operation whose output or input gradient was not finite.
        public let operation: String
        /// `"forward"` or `"backward"`.
        public let phase: String
        /// The shape of the offending tensor.
        public let shape: [Int]
        /// The index of the first non-finite element.
        public let index: Int
        /// The message.
        public var description: String {
            "anomaly: \(phase) of \(operation) produced a non-finite value at element \(index) of a tensor of shape \(shape)"
        }
    }

    /// Where a ``detect(_:)`` scope collects the first anomaly. Tasks started inside the
    /// scope (`Task {}` copies task locals) share it from other threads, hence the lock.
    final class Recorder: Sendable {
        private let state = PThreadMutex<Anomaly?>(nil)
        /// The first anomaly recorded, if any.
        var first: Anomaly? { state.withLock { $0 } }
        /// Keeps `anomaly` unless an earlier one was recorded.
        func record(_ anomaly: Anomaly) { state.withLock { if $0 == nil { $0 = anomaly } } }
    }
    @TaskLocal static var recorder: Recorder?
    /// How many ``detect(_:)`` scopes are running in the process: while none is, the checks
    /// return after one atomic load instead of two task-local lookups per operation.
    @usableFromInline static let activeScopes = Atomic<Int>(0)

    /// Runs `body` with anomaly detection on.
    ///
    /// - Throws: the first ``Anomaly`` found (after `body` ran), or what `body` throws.
    public static func detect<R>(_ body: () throws -> R) throws -> R {
        let recorder = Recorder()
        activeScopes.add(1, ordering: .relaxed)
        defer { activeScopes.subtract(1, ordering: .relaxed) }
        let result = try $isEnabled.withValue(true) {
            try $recorder.withValue(recorder) { try body() }
        }
        if let anomaly = recorder.first { throw anomaly }
        return result
    }

    @usableFromInline
    static func checkForward(name: String, output: Tensor) {
        guard activeScopes.load(ordering: .relaxed) != 0, isEnabled, let recorder, recorder.first == nil else { return }
        let p = output.storage.pointer
        for i in 0..<output.count where !p[i].isFinite {
            recorder.record(Anomaly(operation: name, phase: "forward", shape: output.shape, index: i))
            return
        }
    }

    @usableFromInline
    static func checkBackward(node: Node, gradInputs: [UnsafeMutablePointer<Float>?]) {
        guard activeScopes.load(ordering: .relaxed) != 0, isEnabled, let recorder, recorder.first == nil else { return }
        for (input, pointer) in zip(node.inputs, gradInputs) {
            guard let pointer else { continue }
            for i in 0..<input.count where !pointer[i].isFinite {
                recorder.record(Anomaly(operation: node.name, phase: "backward", shape: input.shape, index: i))
                return
            }
        }
    }
}
