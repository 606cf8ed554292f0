import Foundation
import LinearAlgebra

/// An internal override of one of the parallel policies (the wavefront, the batch split), for
/// measurement (A/B on a quiet machine) and tests: read once from the environment variable
/// `name` — `0` never, `1` wherever the strategy is supported and keeps the bits, unset (or
/// any other value) the policy decides by size — and settable by tests.
final class PolicyOverride: @unchecked Sendable {
    private let state: PThreadMutex<Bool?>

    init(environment name: String) {
        switch ProcessInfo.processInfo.environment[name] {
        case "0": state = PThreadMutex(false)
        case "1": state = PThreadMutex(true)
        default: state = PThreadMutex(nil)
        }
    }

    /// `false`: never; `true`: wherever supported; `nil`: the policy decides.
    var value: Bool? {
        get { state.withLock { $0 } }
        set { state.withLock { $0 = newValue } }
    }
}
