/// Sub-modules in a list (`torch.nn.ModuleList`): registered under `0`, `1`, … so that their
/// parameters are named `layers.0.weight`, `layers.1.weight`, … as in PyTorch.
///
/// ```swift
/// let layers = ModuleList([try Linear(inFeatures: 8, outFeatures: 8), try Linear(inFeatures: 8, outFeatures: 8)])
/// var h = x
/// for layer in layers { h = try layer(h).relu() }
/// ```
///
/// `Element` is the modules' type (`Module` for a list of mixed types).
public final class ModuleList<Element: Module>: Module, RandomAccessCollection, @unchecked Sendable {
    /// The modules, in order.
    public private(set) var modules: [Element]

    /// A list of `modules` (none by default).
    public init(_ modules: [Element] = []) {
        self.modules = modules
        super.init()
    }

    /// Adds `module` at the end (`ModuleList.append`); it is registered under the next index.
    public func append(_ module: Element) { modules.append(module) }

    /// The sub-modules under `0`, `1`, …
    public override var children: [(name: String, module: Module)] {
        modules.enumerated().map { (String($0.offset), $0.element as Module) }
    }

    /// The first index, 0.
    public var startIndex: Int { 0 }
    /// One past the last index.
    public var endIndex: Int { modules.count }
    /// The module at `index`.
    /// - Precondition: `index` is in `0..<count`, as for an array.
    public subscript(index: Int) -> Element { modules[index] }
}

/// Sub-modules under string keys, in insertion order (`torch.nn.ModuleDict`): their
/// parameters are named `key.weight`, … as in PyTorch.
///
/// ```swift
/// let heads = try ModuleDict(["pos": try Linear(inFeatures: 32, outFeatures: 17),
///                             "ner": try Linear(inFeatures: 32, outFeatures: 9)].sorted { $0.key < $1.key })
/// let logits = try heads["ner"]!(features)
/// ```
public final class ModuleDict<Element: Module>: Module, @unchecked Sendable {
    /// The keys and modules, in insertion order.
    public private(set) var items: [(key: String, module: Element)] = []

    /// A dictionary of `items`, in their order.
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a key that is empty, contains `.`,
    ///   or repeats (the state-dict names would be ambiguous).
    public init(_ items: [(key: String, value: Element)] = []) throws {
        super.init()
        var seen = Set<String>()
        for (key, _) in items where !seen.insert(key).inserted {
            throw TensorError.invalidArgument("ModuleDict: key \"\(key)\" appears more than once")
        }
        for (key, module) in items { try insert(module, forKey: key) }
    }

    /// The keys, in insertion order.
    public var keys: [String] { items.map(\.key) }

    /// The module under `key`, or `nil`.
    public subscript(key: String) -> Element? { items.first { $0.key == key }?.module }

    /// Adds `module` under `key`, or replaces the module already there (keeping its place).
    /// - Throws: ``TensorError/invalidArgument(_:)`` for a key that is empty or contains `.`
    ///   (the dictionary is then unchanged).
    public func insert(_ module: Element, forKey key: String) throws {
        guard !key.isEmpty, !key.contains(".") else {
            throw TensorError.invalidArgument("ModuleDict: expected a non-empty key without \".\", got \"\(key)\"")
        }
        if let i = items.firstIndex(where: { $0.key == key }) {
            items[i].module = module
        } else {
            items.append((key, module))
        }
    }

    /// The sub-modules under their keys.
    public override var children: [(name: String, module: Module)] { items.map { ($0.key, $0.module as Module) } }
}
