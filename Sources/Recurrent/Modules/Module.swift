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
///     init(classes: Int) throws {
///         rnn = try RNN(inputSize: 57, hiddenSize: 128)
///         head = try Linear(inFeatures: 128, outFeatures: classes)
///         super.init()
///     }
/// }
/// ```
///
/// A property whose state-dict name differs from its Swift name is renamed by overriding
/// ``stateDictNames``; for lists and dictionaries of modules use ``ModuleList`` and
/// ``ModuleDict``. Modules that name their parameters otherwise (the recurrent layers)
/// override ``localParameters`` and ``children``.
///
/// `print(model)` lists the module tree as PyTorch's `repr` does, with parameter counts.
///
/// `Module` is not `Sendable`: a module is mutable state (its parameters change in place, its
/// training flag switches), and a base class conforming to `Sendable` made every subclass a
/// user writes warn under Swift 6 ("must restate inherited '@unchecked Sendable'
/// conformance"). The library's own final modules are `@unchecked Sendable` (they are used
/// from one task at a time, or read-only); a subclass of yours that you hand to another task
/// may declare the same.
open class Module: CustomStringConvertible {
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

    /// The state-dict names of the stored properties whose Swift names differ from them,
    /// keyed by the Swift name — to read a PyTorch checkpoint whose keys follow Python's
    /// naming. Empty by default.
    ///
    /// ```swift
    /// final class Tagger: Module {
    ///     let wordEmbeddings: Embedding
    ///     let hiddenToTag: Linear
    ///     override var stateDictNames: [String: String] {
    ///         ["wordEmbeddings": "word_embeddings", "hiddenToTag": "hidden2tag"]
    ///     }
    ///     // keys: word_embeddings.weight, hidden2tag.weight, hidden2tag.bias
    ///     …
    /// }
    /// ```
    open var stateDictNames: [String: String] { [:] }

    private func forEachStoredProperty(_ body: (String, Any) -> Void) {
        let renamed = stateDictNames
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
                label = renamed[label] ?? label
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

    /// Copies the tensors of `stateDict` into the parameters with the same names
    /// (`torch.nn.Module.load_state_dict`).
    ///
    /// Everything is checked before anything is copied, so a failed load leaves the module
    /// as it was.
    /// - Parameters:
    ///   - stateDict: PyTorch names to tensors, as ``stateDict()`` gives them.
    ///   - strict: when `true` (the default), every parameter must be present and no other key
    ///     may be; when `false`, missing and unexpected keys are reported in the result and the
    ///     matching keys are loaded.
    ///   - prefix: only the keys that start with `prefix` are read, with `prefix` removed (to
    ///     load a sub-module from a whole model's state dict: `prefix: "encoder."`); the other
    ///     keys are neither loaded nor reported.
    /// - Returns: the parameters the state dict lacked and the keys it had that the module does
    ///   not (both empty after a strict load), like PyTorch's `missing_keys` and
    ///   `unexpected_keys`; both are full keys of `stateDict`, `prefix` included.
    /// - Throws: ``StateDictError`` naming the missing, unexpected or mis-shaped keys.
    @discardableResult
    public final func loadStateDict(_ stateDict: [String: Tensor], strict: Bool = true,
                                    prefix: String = "") throws -> StateDictLoadResult {
        let named = namedParameters()
        var mismatched: [String] = []
        var missing: [String] = []
        for (name, p) in named {
            guard let t = stateDict[prefix + name] else { missing.append(name); continue }
            if t.shape != p.shape { mismatched.append("\(prefix + name): expected \(p.shape), got \(t.shape)") }
        }
        let known = Set(named.map { prefix + $0.name })
        let unexpected = stateDict.keys.filter { $0.hasPrefix(prefix) && !known.contains($0) }.sorted()
        if !mismatched.isEmpty { throw StateDictError.shapeMismatch(mismatched) }
        if strict && (!missing.isEmpty || !unexpected.isEmpty) {
            throw StateDictError.keyMismatch(missing: missing.map { prefix + $0 }, unexpected: unexpected)
        }
        for (name, p) in named {
            guard let t = stateDict[prefix + name] else { continue }
            p.withUnsafeMutableBufferPointer { destination in
                t.withUnsafeBufferPointer { source in
                    _ = destination.update(fromContentsOf: source)
                }
            }
        }
        return StateDictLoadResult(missingKeys: missing.map { prefix + $0 }, unexpectedKeys: unexpected)
    }

    // MARK: - Description

    /// What goes between the parentheses of this module's line in ``description``
    /// (PyTorch's `extra_repr`): the configuration, such as `in_features=4, out_features=2,
    /// bias=True`. Empty by default; override it in your modules.
    open var extraDescription: String { "" }

    /// The module tree as PyTorch's `repr` prints it — each module's type and configuration,
    /// each sub-module indented under its name — with each line's parameter count:
    ///
    /// ```
    /// Tagger(
    ///   (embedding): Embedding(100, 16)  # 1,600 parameters
    ///   (lstm): LSTM(16, 32, batch_first=True)  # 6,400 parameters
    /// )  # 8,000 parameters
    /// ```
    public var description: String { describe(indent: 0) }

    private func describe(indent: Int) -> String {
        var typeName = String(describing: type(of: self))
        if let generic = typeName.firstIndex(of: "<") { typeName = String(typeName[..<generic]) }
        let count = parameters().reduce(0) { $0 + $1.count }
        let countNote = count > 0 ? "  # \(Module.grouped(count)) parameter\(count == 1 ? "" : "s")" : ""
        let kids = children
        if kids.isEmpty { return "\(typeName)(\(extraDescription))\(countNote)" }
        let pad = String(repeating: " ", count: indent + 2)
        var lines = ["\(typeName)(" + (extraDescription.isEmpty ? "" : "\n\(pad)\(extraDescription)")]
        for (name, child) in kids { lines.append("\(pad)(\(name)): \(child.describe(indent: indent + 2))") }
        lines.append(String(repeating: " ", count: indent) + ")" + countNote)
        return lines.joined(separator: "\n")
    }

    /// `n` with thousands separators (`12,345`), independent of the locale.
    static func grouped(_ n: Int) -> String {
        var digits = Array(String(n)), result: [Character] = []
        while digits.count > 3 {
            result.insert(contentsOf: [","] + digits.suffix(3), at: 0)
            digits.removeLast(3)
        }
        return String(digits + result)
    }
}

/// The keys a ``Module/loadStateDict(_:strict:prefix:)`` could not match
/// (`torch.nn.modules.module._IncompatibleKeys`).
public struct StateDictLoadResult: Equatable, Sendable {
    /// The module's parameters that the state dict did not hold.
    public var missingKeys: [String]
    /// The state dict's keys that name no parameter of the module.
    public var unexpectedKeys: [String]
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
