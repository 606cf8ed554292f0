import Foundation
import Recurrent

/// Reading back the safetensors files that the examples' `--save` writes: the metadata
/// names the example (`task`) and the sizes needed to rebuild the model, and is checked
/// against the tensors' shapes in the same file before any model is built, so that a file
/// of another example, a hand-edited header or a truncated file is an error naming what
/// was expected and what came, never a crash or a huge allocation.
public struct ModelFile: Sendable {
    /// The file.
    public let url: URL
    /// Its header: the tensors' names, types and shapes, and the metadata.
    public let header: SafeTensorsHeader

    /// The header of `url`, checked to be a model saved by the example `task`.
    ///
    /// - Throws: ``ExampleDataError/unreadable(path:reason:)`` when the file is missing or
    ///   not a regular file; ``ExampleDataError/invalidData(_:)`` naming the file and the
    ///   library's ``SafeTensorsError`` when it is not a valid safetensors file, or when its
    ///   metadata's `task` is not `task`.
    public init(url: URL, task: String) throws {
        if let problem = fileProblem(url) { throw ExampleDataError.unreadable(path: url.path, reason: problem) }
        self.url = url
        do {
            header = try SafeTensors.readHeader(from: url)
        } catch {
            throw ExampleDataError.invalidData("\(url.path): expected a safetensors model file: \(error)")
        }
        let found = header.metadata["task"]
        guard found == task else {
            throw ExampleDataError.invalidData("\(url.path): expected a model saved by `\(task) --save` (metadata task \"\(task)\"), "
                                               + "got " + (found.map { "task \"\($0)\"" } ?? "no task in the metadata"))
        }
    }

    /// The metadata value `key`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when it is missing.
    public func string(_ key: String) throws -> String {
        guard let value = header.metadata[key] else {
            throw ExampleDataError.invalidData("\(url.path): expected \"\(key)\" in the metadata, got only \(header.metadata.keys.sorted())")
        }
        return value
    }

    /// The metadata value `key` as a whole number in `range`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when it is missing, not a whole number
    ///   or outside `range`.
    public func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int {
        let text = try string(key)
        guard let value = Int(text), range.contains(value) else {
            throw ExampleDataError.invalidData("\(url.path): expected \"\(key)\" to be a whole number in \(range.lowerBound)...\(range.upperBound), got \"\(text)\"")
        }
        return value
    }

    /// The metadata value `key` as one of `T`'s cases.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when it is missing or not a case.
    public func choice<T: RawRepresentable & CaseIterable>(_ key: String, as type: T.Type) throws -> T where T.RawValue == String {
        let text = try string(key)
        guard let value = T(rawValue: text) else {
            throw ExampleDataError.invalidData("\(url.path): expected \"\(key)\" to be one of \(T.allCases.map(\.rawValue)), got \"\(text)\"")
        }
        return value
    }

    /// Checks that the file holds a tensor `name` of shape `shape`, so that sizes read from
    /// the metadata agree with what the file holds (and are bounded by its size).
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when the tensor is missing or has
    ///   another shape.
    public func requireShape(_ name: String, _ shape: [Int]) throws {
        guard let entry = header.entries.first(where: { $0.name == name }) else {
            throw ExampleDataError.invalidData("\(url.path): expected a tensor \(name), the file has only \(header.names)")
        }
        guard entry.shape == shape else {
            throw ExampleDataError.invalidData("\(url.path): the metadata implies \(name) of shape \(shape), but the file's has \(entry.shape)")
        }
    }

    /// Loads the file's tensors into `module` (strictly: every parameter present with its
    /// shape, no extra tensor).
    ///
    /// - Throws: the library's ``StateDictError`` or ``SafeTensorsError`` when they do not fit.
    public func load(into module: Module) throws {
        try module.loadStateDict(from: url)
    }
}
