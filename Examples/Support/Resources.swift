import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Recurrent

/// The data sets shipped with the examples, each in its example's resource bundle
/// (`Examples/<Name>/Library/Resources`, reached as that module's `Bundle.module`), so that
/// `swift run` works from any directory.
public enum ExampleResources {
    /// The URL of a resource under the `Resources/` folder copied into `bundle`, such as
    /// `url("airline-passengers.csv", in: .module)` from the airline example's library.
    ///
    /// - Throws: ``ExampleDataError/missingResource(_:)`` when the bundle does not hold it.
    public static func url(_ relativePath: String, in bundle: Bundle) throws -> URL {
        // The copied folder is `<bundle>/Resources`; Foundation reports the resource URL as
        // the bundle itself on some platforms and as its `Resources` folder on others.
        let roots = [bundle.bundleURL.appendingPathComponent("Resources"), bundle.resourceURL,
                     bundle.resourceURL?.appendingPathComponent("Resources")].compactMap { $0 }
        for root in roots {
            let url = root.appendingPathComponent(relativePath)
            if FileManager.default.fileExists(atPath: url.path) { return url }
        }
        throw ExampleDataError.missingResource("\(relativePath) in \(bundle.bundleURL.path)")
    }
}

/// Why an example's data could not be loaded.
public enum ExampleDataError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A bundled file or folder is not where it should be.
    case missingResource(String)
    /// A file could not be read, or is not UTF-8.
    case unreadable(path: String, reason: String)
    /// A CSV row that is not `month,passengers`: its 1-based line number, its text and why.
    case badRow(line: Int, content: String, reason: String)
    /// A data set that is too small or inconsistent for the protocol.
    case invalidData(String)

    /// The message, naming the line and its content for a bad row.
    public var description: String {
        switch self {
        case let .missingResource(what): return "missing resource: \(what)"
        case let .unreadable(path, reason): return "cannot read \(path): \(reason)"
        case let .badRow(line, content, reason): return "line \(line): \(reason): \"\(content)\""
        case let .invalidData(message): return "invalid data: \(message)"
        }
    }
}

/// Reads a whole UTF-8 text file.
///
/// Only a regular file is read (a folder, a device such as `/dev/zero` or a named pipe is
/// refused before reading: it would fail obscurely, never end or block), and only when its
/// size fits in the machine's memory. The file is read with `read(2)` from the descriptor
/// that was checked (not through `Data(contentsOf:)`, whose read of an empty file leaks a
/// buffer in swift-foundation).
/// - Throws: ``ExampleDataError/unreadable(path:reason:)`` when it cannot be read or decoded.
package func readText(_ url: URL) throws -> String {
    if let problem = fileProblem(url) { throw ExampleDataError.unreadable(path: url.path, reason: problem) }
    let descriptor = open(url.path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
    guard descriptor >= 0 else {
        throw ExampleDataError.unreadable(path: url.path, reason: String(cString: strerror(errno)))
    }
    defer { close(descriptor) }
    var info = stat()
    guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        throw ExampleDataError.unreadable(path: url.path, reason: "expected a regular file")
    }
    do {
        try MemoryLimit.check(bytes: Int(info.st_size), for: "reading \(url.path)")
    } catch {
        throw ExampleDataError.unreadable(path: url.path, reason: "\(error)")
    }
    // The size is taken once: a file that grows while it is read is read as it was.
    let size = Int(info.st_size)
    var data = Data(count: size)
    var done = 0
    try data.withUnsafeMutableBytes { raw in
        guard let base = raw.baseAddress else { return }
        while done < size {
            let n = read(descriptor, base + done, size - done)
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                throw ExampleDataError.unreadable(path: url.path, reason: String(cString: strerror(errno)))
            }
            if n == 0 { break }
            done += n
        }
    }
    data.count = done
    guard let text = String(data: data, encoding: .utf8) else {
        throw ExampleDataError.unreadable(path: url.path, reason: "not UTF-8")
    }
    return text
}
