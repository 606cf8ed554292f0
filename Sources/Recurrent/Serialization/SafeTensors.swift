import Foundation

/// Reading and writing the safetensors format, the common interchange format for PyTorch
/// weights (`safetensors.torch.save_file` / `load_file`), with Foundation only.
///
/// A file is an 8-byte little-endian length `N`, then `N` bytes of UTF-8 JSON mapping each
/// tensor name to `{"dtype", "shape", "data_offsets": [begin, end]}` (plus an optional
/// `"__metadata__"` object of strings), then the tensors' raw little-endian bytes, row-major,
/// with offsets counted from the first byte after the header.
///
/// Reading converts every tensor to `Float`: `F32` as it is; `F64`, `F16`, `BF16`,
/// `F8_E4M3` and `F8_E5M2` rounded to the nearest `Float` (exact for all but `F64`); the
/// integer dtypes (`I8`…`I64`, `U8`…`U64`) rounded to the nearest `Float` (exact up to
/// 2²⁴ in magnitude); `BOOL` as 0 or 1. Files are read (not memory-mapped, so that a file
/// truncated by another process mid-read is an error, not a `SIGBUS`) and each tensor is
/// converted from the read bytes into its own storage; ``readHeader(from:)`` reads only the
/// header. Names are kept exactly as written.
///
/// Reading is as strict as the reference loader (anything read here loads in Python) and
/// never traps: every malformation is a thrown ``SafeTensorsError``.
///
/// Writing produces `F32` (default), `F64`, `F16` or `BF16`, with the tensors ordered by
/// name and the header padded with spaces to a multiple of 8 bytes, as the Python library
/// writes them.
///
/// ```swift
/// try SafeTensors.write(["w": w, "b": b], metadata: ["format": "pt"], to: url)
/// let tensors = try SafeTensors.read(from: url)          // ["w": …, "b": …]
/// let file = try SafeTensorsFile(contentsOf: url)         // tensors, metadata, file order
/// ```
public enum SafeTensors {
    /// The largest header accepted, in bytes (100 MB, the reference implementation's limit).
    public static let maximumHeaderByteCount = 100_000_000

    /// The element types of the safetensors format that this library reads (all of them
    /// but the sub-byte and complex ones); ``f32``, ``f64``, ``f16`` and ``bf16`` can also
    /// be written. The raw value is the name used in headers.
    public enum DType: String, CaseIterable, Sendable {
        /// A boolean byte (read as 0 or 1).
        case bool = "BOOL"
        /// An unsigned byte.
        case u8 = "U8"
        /// A signed byte.
        case i8 = "I8"
        /// An 8-bit float with 5 exponent and 2 mantissa bits (`torch.float8_e5m2`).
        case f8E5M2 = "F8_E5M2"
        /// An 8-bit float with 4 exponent and 3 mantissa bits, no infinities
        /// (`torch.float8_e4m3fn`).
        case f8E4M3 = "F8_E4M3"
        /// A signed 16-bit integer.
        case i16 = "I16"
        /// An unsigned 16-bit integer.
        case u16 = "U16"
        /// An IEEE 754 half-precision float (`torch.float16`).
        case f16 = "F16"
        /// A bfloat16: a float's upper 16 bits (`torch.bfloat16`).
        case bf16 = "BF16"
        /// A signed 32-bit integer.
        case i32 = "I32"
        /// An unsigned 32-bit integer.
        case u32 = "U32"
        /// A single-precision float, the native type of ``Tensor``.
        case f32 = "F32"
        /// A double-precision float.
        case f64 = "F64"
        /// A signed 64-bit integer.
        case i64 = "I64"
        /// An unsigned 64-bit integer.
        case u64 = "U64"

        /// The size of one element in bytes.
        public var byteCount: Int {
            switch self {
            case .bool, .u8, .i8, .f8E5M2, .f8E4M3: return 1
            case .i16, .u16, .f16, .bf16: return 2
            case .i32, .u32, .f32: return 4
            case .f64, .i64, .u64: return 8
            }
        }

        /// Whether ``SafeTensors/write(_:metadata:dtype:to:)`` can write this dtype
        /// (`F32`, `F64`, `F16`, `BF16`).
        public var isWritable: Bool {
            switch self {
            case .f32, .f64, .f16, .bf16: return true
            default: return false
            }
        }

        /// The reference implementation's order (by alignment), used to sort tensors when writing.
        var alignmentRank: Int { Self.allCases.firstIndex(of: self) ?? 0 }

        /// Dtype names the format defines that this library cannot convert.
        static let unsupportedNames: Set<String> = ["F4", "F6_E2M3", "F6_E3M2", "F8_E8M0", "C64"]
    }

    /// Reads every tensor of the safetensors file at `url`, converted to `Float`, by name.
    ///
    /// - Throws: ``SafeTensorsError`` when the file cannot be read or is malformed (see
    ///   ``SafeTensorsFile/init(data:)`` for the checks).
    public static func read(from url: URL) throws -> [String: Tensor] {
        try SafeTensorsFile(contentsOf: url).tensors
    }

    /// Reads every tensor of a safetensors file held in `data`, converted to `Float`, by name.
    ///
    /// - Throws: ``SafeTensorsError`` when `data` is malformed.
    public static func read(from data: Data) throws -> [String: Tensor] {
        try SafeTensorsFile(data: data).tensors
    }

    /// Reads only the header of the safetensors file at `url`: names, dtypes, shapes, byte
    /// ranges and metadata, without converting any tensor.
    ///
    /// Only a regular file is read (see `RegularFile`): a directory, a named
    /// pipe or a device is an error before any read, so the call neither blocks nor reads
    /// forever. The file's size is taken once; a file that shrinks while it is read is an
    /// error, one that grows is read as it was.
    ///
    /// - Throws: ``SafeTensorsError`` when the file cannot be read or is malformed.
    public static func readHeader(from url: URL) throws -> SafeTensorsHeader {
        let file = try RegularFile(url)
        defer { file.closeFile() }
        let fileByteCount = file.byteCount
        guard fileByteCount >= 8 else { throw SafeTensorsError.fileTooShort(byteCount: fileByteCount) }
        var prefix = try file.read(count: 8, at: 0)
        let declared = prefix.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        // Only a declared length that the header checks would accept is read; the checks
        // themselves (and their errors) are those of a whole-file read.
        if declared <= UInt64(maximumHeaderByteCount), declared <= UInt64(fileByteCount - 8) {
            prefix.append(try file.read(count: Int(declared), at: 8))
        }
        return try prefix.withUnsafeBytes { try SafeTensorsHeader(prefix: $0, fileByteCount: fileByteCount) }
    }

    /// The tensors encoded as a safetensors file.
    ///
    /// - Parameters:
    ///   - tensors: the tensors by name; any shape, including `[]` (a scalar) and shapes
    ///     with a zero dimension.
    ///   - metadata: the `__metadata__` strings (omitted from the header when `nil`).
    ///   - dtype: the element type written for every tensor: ``DType/f32`` (exact),
    ///     ``DType/f64`` (exact), or ``DType/f16`` / ``DType/bf16`` (rounded to nearest,
    ///     ties to even, as PyTorch rounds).
    /// - Throws: ``SafeTensorsError/unsupportedDtype(name:dtype:)`` for a dtype that cannot
    ///   be written; ``SafeTensorsError/reservedName(_:)`` for a tensor named `__metadata__`.
    public static func encode(_ tensors: [String: Tensor], metadata: [String: String]? = nil,
                              dtype: DType = .f32) throws -> Data {
        let plan = try WritePlan(tensors, metadata: metadata, dtype: dtype)
        var data = Data(count: plan.header.count + plan.dataByteCount)
        data.withUnsafeMutableBytes { raw in
            guard let base = raw.baseAddress else { return }
            raw.copyBytes(from: plan.header)
            for item in plan.items {
                item.tensor.withUnsafeBufferPointer { source in
                    ScalarConversion.encode(source, as: dtype, into: base + plan.header.count + item.begin)
                }
            }
        }
        return data
    }

    /// Writes the tensors to `url` as a safetensors file, atomically: the bytes go to a
    /// temporary file in the same directory, which is flushed to disk and then renamed over
    /// `url`, so an interrupted write never leaves a damaged file at `url`.
    ///
    /// Tensors are streamed from their storage (converted in small chunks for the 16- and
    /// 64-bit dtypes), never copied whole. See ``encode(_:metadata:dtype:)`` for the
    /// parameters.
    /// - Throws: ``SafeTensorsError/unsupportedDtype(name:dtype:)``,
    ///   ``SafeTensorsError/reservedName(_:)``, or ``SafeTensorsError/io(path:message:)``
    ///   when the file cannot be written or renamed (the temporary file is then removed).
    public static func write(_ tensors: [String: Tensor], metadata: [String: String]? = nil,
                             dtype: DType = .f32, to url: URL) throws {
        let plan = try WritePlan(tensors, metadata: metadata, dtype: dtype)
        try writeAtomically(to: url) { handle in
            try handle.write(contentsOf: plan.header)
            let chunkElements = 1 << 16
            var scratch = [UInt8](repeating: 0, count: chunkElements * dtype.byteCount)
            for item in plan.items where item.tensor.count > 0 {
                try item.tensor.withUnsafeBufferPointer { source in
                    #if _endian(little)
                    if dtype == .f32, let base = source.baseAddress {
                        let bytes = Data(bytesNoCopy: UnsafeMutableRawPointer(mutating: base),
                                         count: source.count * 4, deallocator: .none)
                        try handle.write(contentsOf: bytes)
                        return
                    }
                    #endif
                    var start = 0
                    while start < source.count {
                        let end = min(start + chunkElements, source.count)
                        let byteCount = (end - start) * dtype.byteCount
                        try scratch.withUnsafeMutableBytes { raw in
                            guard let base = raw.baseAddress else { return }
                            ScalarConversion.encode(UnsafeBufferPointer(rebasing: source[start..<end]), as: dtype, into: base)
                            try handle.write(contentsOf: Data(bytesNoCopy: base, count: byteCount, deallocator: .none))
                        }
                        start = end
                    }
                }
            }
        }
    }

    /// Creates a temporary file next to `url`, lets `body` write it, flushes it to disk and
    /// renames it over `url`; removes the temporary file if anything fails.
    ///
    /// - A symbolic link at `url` is followed (up to 40 links, relative ones from the link's
    ///   own directory): its target is replaced, and the link stays a link.
    /// - The replaced file's permission bits (and, when the process may, its owner and
    ///   group) are given to the new file; a new file gets `0666` less the umask, as any
    ///   newly created file.
    /// - Temporary files are named `.<name>.<UUID>.tmp` and stay locked (`flock`) by their
    ///   writer until it has renamed or removed them. A save first removes the temporary
    ///   files of the same target that no process holds locked: those left by a writer that
    ///   was killed (a lock dies with its process, even after `SIGKILL`). So a killed save
    ///   leaves a temporary file only until the next save of the same file.
    ///
    /// - Throws: ``SafeTensorsError/io(path:message:)``, or what `body` throws.
    static func writeAtomically(to url: URL, _ body: (FileHandle) throws -> Void) throws {
        let target = try resolvedSymbolicLinks(url)
        let directory = target.deletingLastPathComponent()
        let name = target.lastPathComponent
        sweepStaleTemporaryFiles(of: name, in: directory)
        // The mode (and owner) of the file being replaced, if any.
        var existing = stat()
        let replacing = stat(target.path, &existing) == 0 && (existing.st_mode & S_IFMT) == S_IFREG

        var temporary = directory
        var descriptor: Int32 = -1
        for _ in 0..<8 {
            temporary = directory.appendingPathComponent(".\(name).\(UUID().uuidString).tmp")
            descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
            guard descriptor >= 0 else {
                throw SafeTensorsError.io(path: temporary.path, message: "cannot create a temporary file in \(directory.path): \(String(cString: strerror(errno)))")
            }
            // Locked for as long as it is written; a sweeper that removed it between the
            // creation and the lock leaves it with no link: then take another name.
            while flock(descriptor, LOCK_EX) != 0 && errno == EINTR {}
            var info = stat()
            if fstat(descriptor, &info) == 0 && info.st_nlink > 0 { break }
            _ = close(descriptor)
            descriptor = -1
        }
        guard descriptor >= 0 else {
            throw SafeTensorsError.io(path: directory.path, message: "cannot keep a temporary file in the directory (removed as soon as created, 8 times)")
        }
        defer { _ = close(descriptor) }
        do {
            let handle = FileHandle(fileDescriptor: descriptor, closeOnDealloc: false)
            try body(handle)
            if replacing {
                _ = fchown(descriptor, existing.st_uid, existing.st_gid)   // best effort: only root may give a file away
                guard fchmod(descriptor, existing.st_mode & 0o7777) == 0 else {
                    throw SafeTensorsError.io(path: temporary.path, message: "cannot give the new file the permissions of the old: \(String(cString: strerror(errno)))")
                }
            }
            try handle.synchronize()
            guard rename(temporary.path, target.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw SafeTensorsError.io(path: target.path, message: "cannot rename the temporary file into place: \(reason)")
            }
        } catch let error as SafeTensorsError {
            _ = unlink(temporary.path)
            throw error
        } catch {
            _ = unlink(temporary.path)
            throw SafeTensorsError.io(path: temporary.path, message: "cannot write: \(error.localizedDescription)")
        }
        // Make the rename itself durable (best effort: not every file system supports it).
        let directoryDescriptor = open(directory.path, O_RDONLY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            _ = fsync(directoryDescriptor)
            _ = close(directoryDescriptor)
        }
    }

    /// `url` with every symbolic link of its last component followed; a link whose target
    /// does not exist yet resolves to that target (the save creates it).
    ///
    /// - Throws: ``SafeTensorsError/io(path:message:)`` for more than 40 links in a chain.
    static func resolvedSymbolicLinks(_ url: URL) throws -> URL {
        var current = url.standardizedFileURL
        for _ in 0..<40 {
            var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
            let n = readlink(current.path, &buffer, buffer.count - 1)
            guard n > 0 else { return current }
            let destination = String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
            current = destination.hasPrefix("/")
                ? URL(fileURLWithPath: destination).standardizedFileURL
                : current.deletingLastPathComponent().appendingPathComponent(destination).standardizedFileURL
        }
        throw SafeTensorsError.io(path: url.path, message: "expected a file or a chain of at most 40 symbolic links, got a longer chain or a loop")
    }

    /// Removes the temporary files `.<name>.*.tmp` in `directory` that no writer holds
    /// locked (left by a process that was killed during a save). Best effort: a file that
    /// cannot be opened or removed is left.
    static func sweepStaleTemporaryFiles(of name: String, in directory: URL) {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        let prefix = "." + name + "."
        for entry in entries where entry.hasPrefix(prefix) && entry.hasSuffix(".tmp") && entry.count > prefix.count + 4 {
            let path = directory.appendingPathComponent(entry).path
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            defer { _ = close(fd) }
            var opened = stat(), named = stat()
            guard fstat(fd, &opened) == 0, (opened.st_mode & S_IFMT) == S_IFREG,
                  flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            // Locked by nobody else: its writer is gone. Remove it if the name still refers
            // to the file we locked (not to one a writer has just created under it).
            if lstat(path, &named) == 0, named.st_ino == opened.st_ino, named.st_dev == opened.st_dev {
                _ = unlink(path)
            }
        }
    }

    /// The contents of `url`, read into memory. The file is read, not memory-mapped, so that
    /// another process truncating it mid-read yields a short read (and a thrown error), never
    /// a `SIGBUS` in the host process; only a regular file is read, and only when its size
    /// fits in the machine's memory.
    static func contents(of url: URL) throws -> Data {
        let file = try RegularFile(url)
        defer { file.closeFile() }
        let physical = MemoryLimit.physicalMemory
        guard file.byteCount <= physical else {
            throw SafeTensorsError.exceedsMemory(what: "reading \(url.path)", needed: file.byteCount, physicalMemory: physical)
        }
        return try file.read(count: file.byteCount, at: 0)
    }

    /// A regular file open for reading, with its size at the time it was opened.
    ///
    /// The file is opened without blocking (`O_NONBLOCK`, so a named pipe without a writer
    /// does not wait) and refused unless `fstat` says it is a regular file: a directory, a
    /// named pipe, a socket or a device (`/dev/zero`, `/dev/stdin`) would fail late, block
    /// or never end.
    struct RegularFile {
        let descriptor: Int32
        let byteCount: Int
        let path: String

        init(_ url: URL) throws {
            path = url.path
            guard !path.isEmpty else { throw SafeTensorsError.io(path: path, message: "expected a file, got an empty path") }
            let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else {
                throw SafeTensorsError.io(path: path, message: "cannot open: \(String(cString: strerror(errno)))")
            }
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let reason = String(cString: strerror(errno))
                _ = close(fd)
                throw SafeTensorsError.io(path: path, message: "cannot read its status: \(reason)")
            }
            guard (info.st_mode & S_IFMT) == S_IFREG else {
                _ = close(fd)
                throw SafeTensorsError.io(path: path, message: "expected a regular file, got \(Self.kind(info.st_mode))")
            }
            descriptor = fd
            byteCount = Int(info.st_size)
        }

        /// `count` bytes from `offset`.
        /// - Throws: ``SafeTensorsError/io(path:message:)`` when the file ends first (it shrank).
        func read(count: Int, at offset: Int) throws -> Data {
            var data = Data(count: count)
            var done = 0
            try data.withUnsafeMutableBytes { raw in
                guard let base = raw.baseAddress else { return }
                while done < count {
                    let n = pread(descriptor, base + done, Swift.min(count - done, 1 << 30), off_t(offset + done))
                    if n < 0 {
                        if errno == EINTR || errno == EAGAIN { continue }
                        throw SafeTensorsError.io(path: path, message: "cannot read: \(String(cString: strerror(errno)))")
                    }
                    if n == 0 {
                        throw SafeTensorsError.io(path: path, message: "the file shrank while it was read (expected \(offset + count) bytes, it ends at \(offset + done))")
                    }
                    done += n
                }
            }
            return data
        }

        func closeFile() { _ = close(descriptor) }

        static func kind(_ mode: mode_t) -> String {
            switch mode & S_IFMT {
            case S_IFDIR: return "a directory"
            case S_IFIFO: return "a named pipe"
            case S_IFCHR: return "a character device"
            case S_IFBLK: return "a block device"
            case S_IFSOCK: return "a socket"
            default: return "a file that is not regular"
            }
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafeTensorsEntry: Equatable, Sendable {
    /// The tensor's name, exactly as written.
    public let name: String
    /// The element type the tensor is stored as.
    public let dtype: SafeTensors.DType
    /// The tensor's shape (`[]` for a scalar).
    public let shape: [Int]
    /// The tensor's bytes, counted from the first byte after the header.
    public let byteRange: Range<Int>
    /// The number of elements (the product of ``shape``).
    public let count: Int
}

/// The parsed and validated header of a safetensors file.
public struct SafeTensorsHeader: Equatable, Sendable {
    /// The tensors' entries in file order (by ``SafeTensorsEntry/byteRange``).
    public let entries: [SafeTensorsEntry]
    /// The `__metadata__` strings (empty when the file has none).
    public let metadata: [String: String]
    /// The byte offset of the data (8 plus the header length).
    public let dataOffset: Int

    /// The tensor names in file order.
    public var names: [String] { entries.map(\.name) }

    /// Parses and validates the header of the safetensors file in `data`.
    ///
    /// Checks, each failure a ``SafeTensorsError``: at least 8 bytes; a header length of at
    /// most ``SafeTensors/maximumHeaderByteCount`` that fits in the file; UTF-8 JSON whose
    /// top level is an object with distinct keys; `__metadata__`, if present, an object of
    /// strings; every other entry an object with a known `dtype` string, a `shape` of
    /// non-negative integers and `data_offsets` of two integers `begin <= end` inside the
    /// data; `elements × dtype size == end − begin` without overflow; and the byte ranges,
    /// sorted, tiling the data exactly (no overlaps, gaps or trailing bytes).
    public init(data: Data) throws {
        self = try data.withUnsafeBytes { try SafeTensorsHeader(bytes: $0) }
    }

    init(bytes: UnsafeRawBufferPointer) throws {
        try self.init(prefix: bytes, fileByteCount: bytes.count)
    }

    /// The header of a file of `fileByteCount` bytes whose first bytes are `bytes`: at least
    /// the 8-byte length and, when that length passes the checks, the whole header.
    init(prefix bytes: UnsafeRawBufferPointer, fileByteCount: Int) throws {
        guard fileByteCount >= 8, bytes.count >= 8 else {
            throw SafeTensorsError.fileTooShort(byteCount: min(fileByteCount, bytes.count))
        }
        let declared = UInt64(littleEndian: bytes.loadUnaligned(as: UInt64.self))
        guard declared <= UInt64(SafeTensors.maximumHeaderByteCount) else {
            throw SafeTensorsError.headerTooLarge(declared: declared, limit: SafeTensors.maximumHeaderByteCount)
        }
        let headerCount = Int(declared)
        guard headerCount <= fileByteCount - 8 else {
            throw SafeTensorsError.headerLengthExceedsFile(declared: declared, available: fileByteCount - 8)
        }
        precondition(bytes.count >= 8 + headerCount, "the caller reads the whole header")
        let headerBytes = UnsafeRawBufferPointer(rebasing: bytes[8..<(8 + headerCount)])
        guard Self.isValidUTF8(headerBytes) else { throw SafeTensorsError.headerNotUTF8 }
        let json = try HeaderJSONParser.parse(headerBytes)
        guard case let .object(pairs) = json else { throw SafeTensorsError.headerNotObject(found: json.summary) }

        let dataCount = fileByteCount - 8 - headerCount
        var metadata: [String: String] = [:]
        var entries: [SafeTensorsEntry] = []
        for (name, value) in pairs {
            if name == "__metadata__" {
                metadata = try Self.metadata(from: value)
            } else {
                entries.append(try Self.entry(name: name, value: value, dataCount: dataCount))
            }
        }
        entries.sort {
            ($0.byteRange.lowerBound, $0.byteRange.upperBound) < ($1.byteRange.lowerBound, $1.byteRange.upperBound)
                || ($0.byteRange == $1.byteRange && Array($0.name.utf8).lexicographicallyPrecedes(Array($1.name.utf8)))
        }
        var end = 0
        var previous: SafeTensorsEntry?
        for entry in entries {
            if entry.byteRange.lowerBound < end, let previous {
                throw SafeTensorsError.overlappingOffsets(name: entry.name, range: entry.byteRange,
                                                          other: previous.name, otherRange: previous.byteRange)
            }
            if entry.byteRange.lowerBound > end {
                throw SafeTensorsError.gapInData(name: entry.name, expectedBegin: end, begin: entry.byteRange.lowerBound)
            }
            end = entry.byteRange.upperBound
            previous = entry
        }
        guard end == dataCount else { throw SafeTensorsError.trailingBytes(end: end, dataByteCount: dataCount) }
        self.entries = entries
        self.metadata = metadata
        self.dataOffset = 8 + headerCount
    }

    /// Whether `bytes` are well-formed UTF-8 (no overlong forms, surrogates or truncated
    /// sequences).
    static func isValidUTF8(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var iterator = bytes.makeIterator()
        var decoder = UTF8()
        while true {
            switch decoder.decode(&iterator) {
            case .scalarValue: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }

    private static func metadata(from value: HeaderJSON) throws -> [String: String] {
        switch value {
        case .null:
            return [:]
        case let .object(pairs):
            var result: [String: String] = [:]
            for (key, v) in pairs {
                guard case let .string(s) = v else {
                    throw SafeTensorsError.invalidMetadata("expected a string for key \"\(key)\", got \(v.summary)")
                }
                result[key] = s
            }
            return result
        default:
            throw SafeTensorsError.invalidMetadata("got \(value.summary)")
        }
    }

    private static func entry(name: String, value: HeaderJSON, dataCount: Int) throws -> SafeTensorsEntry {
        guard case let .object(fields) = value else {
            throw SafeTensorsError.invalidEntry(name: name, problem: "expected an object with dtype, shape and data_offsets, got \(value.summary)")
        }
        func field(_ key: String) throws -> HeaderJSON {
            guard let v = fields.first(where: { $0.key == key })?.value else {
                throw SafeTensorsError.invalidEntry(name: name, problem: "expected a field \"\(key)\", found only \(fields.map { "\"\($0.key)\"" }.joined(separator: ", ").nonEmpty ?? "none")")
            }
            return v
        }
        guard case let .string(dtypeName) = try field("dtype") else {
            throw SafeTensorsError.invalidEntry(name: name, problem: "expected dtype to be a string, got \(try field("dtype").summary)")
        }
        guard let dtype = SafeTensors.DType(rawValue: dtypeName) else {
            if SafeTensors.DType.unsupportedNames.contains(dtypeName) {
                throw SafeTensorsError.unsupportedDtype(name: name, dtype: dtypeName)
            }
            throw SafeTensorsError.unknownDtype(name: name, dtype: dtypeName)
        }
        let shapeValue = try field("shape")
        guard case let .array(dims) = shapeValue else {
            throw SafeTensorsError.invalidEntry(name: name, problem: "expected shape to be an array of integers, got \(shapeValue.summary)")
        }
        var shape: [Int] = []
        shape.reserveCapacity(dims.count)
        for d in dims {
            guard case let .integer(i) = d else {
                throw SafeTensorsError.invalidEntry(name: name, problem: "expected shape to be an array of integers, got an element that is \(d.summary)")
            }
            shape.append(i)
        }
        if shape.contains(where: { $0 < 0 }) { throw SafeTensorsError.negativeDimension(name: name, shape: shape) }
        let offsetsValue = try field("data_offsets")
        guard case let .array(offsets) = offsetsValue, offsets.count == 2,
              case let .integer(begin) = offsets[0], case let .integer(end) = offsets[1], begin >= 0, end >= 0 else {
            throw SafeTensorsError.invalidEntry(name: name, problem: "expected data_offsets to be an array of two non-negative integers, got \(offsetsValue.summary)\(Self.elementsSummary(offsetsValue))")
        }
        guard begin <= end else { throw SafeTensorsError.offsetsReversed(name: name, begin: begin, end: end) }
        guard end <= dataCount else {
            throw SafeTensorsError.offsetsOutOfBounds(name: name, begin: begin, end: end, dataByteCount: dataCount)
        }
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            if overflow { throw SafeTensorsError.sizeOverflow(name: name, shape: shape) }
            count = product
        }
        let (byteCount, overflow) = count.multipliedReportingOverflow(by: dtype.byteCount)
        if overflow { throw SafeTensorsError.sizeOverflow(name: name, shape: shape) }
        guard byteCount == end - begin else {
            throw SafeTensorsError.byteCountMismatch(name: name, dtype: dtypeName, shape: shape, expected: byteCount, actual: end - begin)
        }
        return SafeTensorsEntry(name: name, dtype: dtype, shape: shape, byteRange: begin..<end, count: count)
    }

    private static func elementsSummary(_ value: HeaderJSON) -> String {
        guard case let .array(elements) = value, !elements.isEmpty, elements.count <= 4 else { return "" }
        return " (" + elements.map(\.summary).joined(separator: ", ") + ")"
    }
}

private extension String {
    var nonEmpty: String? { isEmpty ? nil : self }
}

/// The contents of a safetensors file: its tensors converted to `Float`, its metadata and
/// its header.
public struct SafeTensorsFile: @unchecked Sendable {
    /// The validated header: entries in file order, metadata.
    public let header: SafeTensorsHeader
    /// Every tensor by name, converted to `Float` (see ``SafeTensors`` for the conversions).
    public let tensors: [String: Tensor]

    /// The `__metadata__` strings (empty when the file has none).
    public var metadata: [String: String] { header.metadata }
    /// The tensor names in file order.
    public var names: [String] { header.names }

    /// Reads the safetensors file at `url`, converting each tensor from the read bytes into
    /// its storage.
    ///
    /// - Throws: ``SafeTensorsError/io(path:message:)`` when the file cannot be read, and
    ///   the errors of ``init(data:)``.
    public init(contentsOf url: URL) throws {
        try self.init(data: try SafeTensors.contents(of: url))
    }

    /// Reads a safetensors file held in `data`.
    ///
    /// - Throws: ``SafeTensorsError`` for any malformation (see
    ///   ``SafeTensorsHeader/init(data:)`` for the checks).
    public init(data: Data) throws {
        (header, tensors) = try data.withUnsafeBytes { bytes in
            let header = try SafeTensorsHeader(bytes: bytes)
            // The tensors are converted to Float: a file of 1-byte elements needs four times
            // its size. Bounded before the first is allocated.
            let floats = MemoryLimit.elementCount(header.entries.map { [$0.count, MemoryLayout<Float>.stride] })
            let physical = MemoryLimit.physicalMemory
            if floats == nil || floats! > physical {
                throw SafeTensorsError.exceedsMemory(what: "the file's \(header.entries.count) tensors as Float", needed: floats ?? Int.max, physicalMemory: physical)
            }
            var tensors: [String: Tensor] = [:]
            tensors.reserveCapacity(header.entries.count)
            for entry in header.entries {
                let start = header.dataOffset + entry.byteRange.lowerBound
                let source = UnsafeRawBufferPointer(rebasing: bytes[start..<(header.dataOffset + entry.byteRange.upperBound)])
                let storage = TensorBuffer(count: entry.count) { destination in
                    ScalarConversion.decode(source, dtype: entry.dtype, count: entry.count, into: destination)
                }
                tensors[entry.name] = Tensor(shape: entry.shape, storage: storage)
            }
            return (header, tensors)
        }
    }
}

/// The layout of a file to write: the padded header (with its length prefix) and where
/// each tensor's bytes go.
struct WritePlan {
    struct Item {
        let name: String
        let tensor: Tensor
        let begin: Int
    }

    let header: [UInt8]
    let items: [Item]
    let dataByteCount: Int

    init(_ tensors: [String: Tensor], metadata: [String: String]?, dtype: SafeTensors.DType) throws {
        guard dtype.isWritable else { throw SafeTensorsError.unsupportedDtype(name: "", dtype: dtype.rawValue) }
        if tensors["__metadata__"] != nil { throw SafeTensorsError.reservedName("__metadata__") }
        // One dtype for all: the reference order (alignment, then name) is the name order,
        // compared bytewise as Rust compares strings.
        let names = tensors.keys.map { ($0, Array($0.utf8)) }.sorted { $0.1.lexicographicallyPrecedes($1.1) }.map(\.0)
        var json: [UInt8] = [UInt8(ascii: "{")]
        var first = true
        if let metadata {
            json += Array("\"__metadata__\":{".utf8)
            let keys = metadata.keys.map { ($0, Array($0.utf8)) }.sorted { $0.1.lexicographicallyPrecedes($1.1) }.map(\.0)
            for (i, key) in keys.enumerated() {
                if i > 0 { json.append(UInt8(ascii: ",")) }
                HeaderJSONWriter.appendString(key, to: &json)
                json.append(UInt8(ascii: ":"))
                HeaderJSONWriter.appendString(metadata[key] ?? "", to: &json)
            }
            json.append(UInt8(ascii: "}"))
            first = false
        }
        var items: [Item] = []
        var offset = 0
        for name in names {
            guard let tensor = tensors[name] else { continue }
            let byteCount = tensor.count * dtype.byteCount
            if !first { json.append(UInt8(ascii: ",")) }
            first = false
            HeaderJSONWriter.appendString(name, to: &json)
            json += Array(":{\"dtype\":\"\(dtype.rawValue)\",\"shape\":[".utf8)
            for (i, d) in tensor.shape.enumerated() {
                if i > 0 { json.append(UInt8(ascii: ",")) }
                HeaderJSONWriter.appendInt(d, to: &json)
            }
            json += Array("],\"data_offsets\":[".utf8)
            HeaderJSONWriter.appendInt(offset, to: &json)
            json.append(UInt8(ascii: ","))
            HeaderJSONWriter.appendInt(offset + byteCount, to: &json)
            json += Array("]}".utf8)
            items.append(Item(name: name, tensor: tensor, begin: offset))
            offset += byteCount
        }
        json.append(UInt8(ascii: "}"))
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var header: [UInt8] = []
        header.reserveCapacity(8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { header += $0 }
        header += json
        self.header = header
        self.items = items
        self.dataByteCount = offset
    }
}
