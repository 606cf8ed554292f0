/// A module that maps one tensor to one tensor, so that it can be chained in ``Sequential``.
public protocol UnaryModule: Module {
    /// The module applied to `input`.
    /// - Throws: a ``TensorError`` when `input` does not have the shape the module expects.
    func callAsFunction(_ input: Tensor) throws -> Tensor
}

/// Modules applied one after another (`torch.nn.Sequential`); parameters are named
/// `0.weight`, `1.bias`, … as in PyTorch.
public final class Sequential: Module, UnaryModule, @unchecked Sendable {
    /// The modules, in order.
    public let layers: [any UnaryModule]

    /// A chain of `layers`.
    public init(_ layers: [any UnaryModule]) {
        self.layers = layers
        super.init()
    }

    /// A chain of `layers`.
    public convenience init(_ layers: any UnaryModule...) { self.init(layers) }

    /// The sub-modules under `0`, `1`, …
    public override var children: [(name: String, module: Module)] {
        layers.enumerated().map { (String($0.offset), $0.element as Module) }
    }

    /// The layers applied in order.
    /// - Throws: what the first failing layer throws.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        try layers.reduce(input) { try $1($0) }
    }
}

/// `tanh` as a module (`torch.nn.Tanh`).
public final class Tanh: Module, UnaryModule, @unchecked Sendable {
    /// A tanh module.
    public override init() { super.init() }
    /// The elementwise tanh of `input` (any shape).
    public func callAsFunction(_ input: Tensor) throws -> Tensor { input.tanh() }
}

/// The logistic sigmoid as a module (`torch.nn.Sigmoid`).
public final class Sigmoid: Module, UnaryModule, @unchecked Sendable {
    /// A sigmoid module.
    public override init() { super.init() }
    /// The elementwise sigmoid of `input` (any shape).
    public func callAsFunction(_ input: Tensor) throws -> Tensor { input.sigmoid() }
}

/// The rectifier as a module (`torch.nn.ReLU`).
public final class ReLU: Module, UnaryModule, @unchecked Sendable {
    /// A ReLU module.
    public override init() { super.init() }
    /// The elementwise `max(0, x)` of `input` (any shape).
    public func callAsFunction(_ input: Tensor) throws -> Tensor { input.relu() }
}

/// Log-softmax along a dimension as a module (`torch.nn.LogSoftmax(dim=…)`).
public final class LogSoftmax: Module, UnaryModule, @unchecked Sendable {
    /// The dimension normalised over.
    public let dim: Int
    /// A log-softmax over `dim`.
    public init(dim: Int) { self.dim = dim; super.init() }
    /// `dim=…`, as PyTorch prints it.
    public override var extraDescription: String { "dim=\(dim)" }
    /// The log-softmax of `input` along ``dim``.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `dim` is out of range for `input`.
    public func callAsFunction(_ input: Tensor) throws -> Tensor { try input.logSoftmax(dim: dim) }
}

/// Dropout as a module (`torch.nn.Dropout`): active in training mode only, drawing from the
/// default random stream.
public final class Dropout: Module, UnaryModule, @unchecked Sendable {
    /// The probability of zeroing an element.
    public let p: Float
    /// A dropout module.
    /// - Throws: ``TensorError/invalidArgument(_:)`` when `p` is outside `[0, 1]`.
    public init(p: Float = 0.5) throws {
        guard p >= 0 && p <= 1 else { throw TensorError.invalidArgument("Dropout: expected p in [0, 1], got \(p)") }
        self.p = p
        super.init()
    }
    /// `p=…, inplace=False`, as PyTorch prints it.
    public override var extraDescription: String { "p=\(p), inplace=False" }
    /// `input` with dropout applied in training mode, or `input` itself in evaluation mode.
    public func callAsFunction(_ input: Tensor) throws -> Tensor {
        if !isTraining || p == 0 { return input }
        return try RandomState.withGenerator { try input.dropout(p: p, training: true, using: &$0) }
    }
}
