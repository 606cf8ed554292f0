/// The base class of every layer and model (`torch.nn.Module`): it finds its parameters and
/// sub-modules, names them the way PyTorch does (`i2h.weight`, `rnn.weight_ih_l0`), switches
/// between training and evaluation, and reads and writes state dicts.
///
/// Subclasses declare their parameters as stored ``Parameter`` properties and their
/// sub-modules as stored `Module` properties (or arrays of them, named `name.0`,
/// `name.1`, … like `nn.ModuleList`); they are found by reflection, in declaration order:
///
/// ```swift
/// final class Classifier: Module {
///     let rnn: RNN
///     let head: Linear
///     init() throws {
///         rnn = try RNN(inputSize: 57, hiddenSize: 128)
///         head = try Linear(inFeatures: 128, outFeatures: 18)
///         super.init()
///     }
/// }
/// ```
///
/// Modules that name their parameters otherwise (the recurrent layers) override
/// ``localParameters`` and ``children``.
open class Module: @unchecked Sendable {
    /// Whether the module is in training mode (dropout active); see ``train(_:)`` and ``eval()``.
    public private(set) var isTraining = true

    /// A module in training mode.
    public init() {}

    /// This module's own parameters under their local names, in registration order.
    /// By default, the stored ``Parameter`` properties (and arrays of them).
    open var localParameters: [(name: String, parameter: Parameter)] {
        var result: [(String, Parameter)] = []
        forEachStoredProperty { label, value in
            if let p = value as? Parameter { result.append((label, p)) }
            if let ps = value as? [Parameter] {
                for (i, p) in ps.enumerated() { result.append(("\(label).\(i)", p)) }
            }
        }
        return result
    }

    /// This module's direct sub-modules under their names, in registration order. By default,
    /// the stored `Module` properties (and arrays of them, named `name.index`).
    open var children: [(name: String, module: Module)] {
        var result: [(String, Module)] = []
        forEachStoredProperty { label, value in
            if let m = value as? Module { result.append((label, m)) }
            if let ms = value as? [Module] {
                for (i, m) in ms.enumerated() { result.append(("\(label).\(i)", m)) }
            }
        }
        return result
    }

    private func forEachStoredProperty(_ body: (String, Any) -> Void) {
        var mirror: Mirror? = Mirror(reflecting: self)
        var levels: [Mirror] = []
        while let m = mirror, m.subjectType != Module.self {
            levels.append(m)
            mirror = m.superclassMirror
        }
        for level in levels.reversed() {
            for child in level.children {
                guard var label = child.label else { continue }
                if label.hasPrefix("$__lazy_storage_$_") { label.removeFirst("$__lazy_storage_$_".count) }
                if label.hasPrefix("_") { label.removeFirst() }
                var value = child.value
                // Unwrap optionals (`let bias: Parameter?`).
                let optional = Mirror(reflecting: value)
                if optional.displayStyle == .optional {
                    guard let wrapped = optional.children.first?.value else { continue }
                    value = wrapped
                }
                body(label, value)
            }
        }
    }

    /// Every parameter of this module and its sub-modules with its dotted PyTorch name.
    public final func namedParameters() -> [(name: String, parameter: Parameter)] {
        var result: [(String, Parameter)] = []
        var seen = Set<ObjectIdentifier>()
        func visit(_ module: Module, prefix: String) {
            for (name, p) in module.localParameters where seen.insert(ObjectIdentifier(p)).inserted {
                result.append((prefix + name, p))
            }
            for (name, child) in module.children { visit(child, prefix: prefix + name + ".") }
        }
        visit(self, prefix: "")
        return result
    }

    /// Every parameter of this module and its sub-modules, in ``namedParameters()`` order.
    public final func parameters() -> [Parameter] { namedParameters().map(\.parameter) }

    /// Every sub-module (and this module first, under `""`), with its dotted name.
    public final func namedModules() -> [(name: String, module: Module)] {
        var result: [(String, Module)] = [("", self)]
        for (name, child) in children {
            result += child.namedModules().map { ($0.name.isEmpty ? name : name + "." + $0.name, $0.module) }
        }
        return result
    }

    /// Clears the gradient of every parameter (to `nil` by default, as PyTorch does).
    public final func zeroGrad(setToNil: Bool = true) {
        for p in parameters() { p.zeroGrad(setToNil: setToNil) }
    }

    /// Sets training mode on this module and every sub-module; returns `self`.
    @discardableResult
    public final func train(_ mode: Bool = true) -> Self {
        for (_, m) in namedModules() { m.isTraining = mode }
        return self
    }

    /// Sets evaluation mode (dropout off) on this module and every sub-module; returns `self`.
    @discardableResult
    public final func eval() -> Self { train(false) }

    /// The parameters as a state dict: PyTorch names to tensors (copies, so later training
    /// does not change them).
    public final func stateDict() -> [String: Tensor] {
        var result: [String: Tensor] = [:]
        for (name, p) in namedParameters() { result[name] = p.detached() }
        return result
    }

    /// The state dict's keys in registration order (the order PyTorch writes them).
    public final var stateDictKeys: [String] { namedParameters().map(\.name) }

    /// Copies the tensors of `stateDict` into the parameters with the same names.
    ///
    /// Everything is checked before anything is copied, so a failed load leaves the module
    /// as it was.
    /// - Parameter strict: when `true` (the default), every parameter must be present and
    ///   no other key may be; when `false`, missing and unexpected keys are ignored.
    /// - Throws: ``StateDictError`` naming the missing, unexpected or mis-shaped keys.
    public final func loadStateDict(_ stateDict: [String: Tensor], strict: Bool = true) throws {
        let named = namedParameters()
        var mismatched: [String] = []
        var missing: [String] = []
        for (name, p) in named {
            guard let t = stateDict[name] else { missing.append(name); continue }
            if t.shape != p.shape { mismatched.append("\(name): expected \(p.shape), got \(t.shape)") }
        }
        let known = Set(named.map(\.name))
        let unexpected = stateDict.keys.filter { !known.contains($0) }.sorted()
        if !mismatched.isEmpty { throw StateDictError.shapeMismatch(mismatched) }
        if strict && (!missing.isEmpty || !unexpected.isEmpty) {
            throw StateDictError.keyMismatch(missing: missing, unexpected: unexpected)
        }
        for (name, p) in named {
            guard let t = stateDict[name] else { continue }
            p.withUnsafeMutableBufferPointer { destination in
                t.withUnsafeBufferPointer { source in
                    _ = destination.update(fromContentsOf: source)
                }
            }
        }
    }
}

/// Why a state dict could not be loaded into a module.
public enum StateDictError: Error, CustomStringConvertible, Equatable, Sendable {
    /// Keys the module has but the state dict lacks, and keys the state dict has but the
    /// module does not.
    case keyMismatch(missing: [String], unexpected: [String])
    /// Keys whose tensors have another shape than the module's parameter (each entry names
    /// the key, the expected and the actual shape).
    case shapeMismatch([String])

    /// The message.
    public var description: String {
        switch self {
        case let .keyMismatch(missing, unexpected):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing keys: \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { parts.append("unexpected keys: \(unexpected.joined(separator: ", "))") }
            return "state dict does not match the module: " + parts.joined(separator: "; ")
        case let .shapeMismatch(entries):
            return "state dict has tensors of the wrong shape: " + entries.joined(separator: "; ")
        }
    }
}
