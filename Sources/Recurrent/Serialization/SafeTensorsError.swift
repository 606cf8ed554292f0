/// Why a safetensors file could not be read or written.
///
/// Reading never traps on malformed input: every problem with the bytes is one of these
/// cases, and each message names what was expected and what the file holds. Names are the
/// tensor names as written in the header.
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The input has fewer than the 8 bytes of the header-length field (an empty file has 0).
    case fileTooShort(byteCount: Int)
    /// The header-length field declares more than ``SafeTensors/maximumHeaderByteCount``
    /// bytes (the limit of the reference implementation).
    case headerTooLarge(declared: UInt64, limit: Int)
    /// The header-length field declares more bytes than the file has after the field.
    case headerLengthExceedsFile(declared: UInt64, available: Int)
    /// The header bytes are not valid UTF-8.
    case headerNotUTF8
    /// The header is not valid JSON; the message says what was expected, where (a byte
    /// offset in the header) and what came instead.
    case headerNotJSON(String)
    /// The header is valid JSON but not an object (`found` names what it is).
    case headerNotObject(found: String)
    /// A name appears more than once in the header (names are compared as Swift strings,
    /// so two spellings of the same canonical Unicode text count as one name).
    case duplicateName(String)
    /// The `__metadata__` entry is not an object whose values are all strings.
    case invalidMetadata(String)
    /// A tensor's header entry lacks a field or has one of the wrong type (`dtype` must be
    /// a string, `shape` an array of integers, `data_offsets` an array of two integers).
    case invalidEntry(name: String, problem: String)
    /// A tensor's `dtype` is not a safetensors dtype name.
    case unknownDtype(name: String, dtype: String)
    /// A tensor's `dtype` is a safetensors dtype this library cannot convert to `Float`
    /// (the sub-byte and exotic ones: `F4`, `F6_E2M3`, `F6_E3M2`, `F8_E8M0`, `C64`), or,
    /// when writing, a dtype other than `F32`, `F64`, `F16` or `BF16`.
    case unsupportedDtype(name: String, dtype: String)
    /// A tensor's shape has a negative dimension.
    case negativeDimension(name: String, shape: [Int])
    /// A tensor's element count or byte count does not fit in `Int`.
    case sizeOverflow(name: String, shape: [Int])
    /// A tensor's byte range does not hold `elements × dtype size` bytes.
    case byteCountMismatch(name: String, dtype: String, shape: [Int], expected: Int, actual: Int)
    /// A tensor's `data_offsets` begin after they end.
    case offsetsReversed(name: String, begin: Int, end: Int)
    /// A tensor's `data_offsets` reach past the end of the data that follows the header.
    case offsetsOutOfBounds(name: String, begin: Int, end: Int, dataByteCount: Int)
    /// Two tensors' byte ranges overlap.
    case overlappingOffsets(name: String, range: Range<Int>, other: String, otherRange: Range<Int>)
    /// Bytes between two tensors (or before the first) belong to no tensor; the format
    /// requires the tensors to tile the data exactly, as the reference loader does.
    case gapInData(name: String, expectedBegin: Int, begin: Int)
    /// The data after the header is longer than the tensors (the last one ends at `end`).
    case trailingBytes(end: Int, dataByteCount: Int)
    /// A tensor to write is named `__metadata__`, the key the format reserves.
    case reservedName(String)
    /// The file could not be read, written or renamed; or it is not a regular file (a
    /// directory, a named pipe, a device such as `/dev/zero`), which is refused before any
    /// read so that it can neither block nor read forever.
    case io(path: String, message: String)
    /// Reading the file would need more memory than the machine has: `needed` bytes (the
    /// file's bytes, or the `Float` tensors its header declares) against `physicalMemory`
    /// (``MemoryLimit/physicalMemory``).
    case exceedsMemory(what: String, needed: Int, physicalMemory: Int)

    /// The message.
    public var description: String {
        switch self {
        case let .fileTooShort(byteCount):
            return "safetensors: expected at least 8 bytes (the header length), got \(byteCount)"
        case let .headerTooLarge(declared, limit):
            return "safetensors: expected a header of at most \(limit) bytes, the length field declares \(declared)"
        case let .headerLengthExceedsFile(declared, available):
            return "safetensors: the length field declares a header of \(declared) bytes, but only \(available) bytes follow it"
        case .headerNotUTF8:
            return "safetensors: expected a UTF-8 JSON header, got bytes that are not valid UTF-8"
        case let .headerNotJSON(detail):
            return "safetensors: the header is not valid JSON: \(detail)"
        case let .headerNotObject(found):
            return "safetensors: expected the header to be a JSON object, got \(found)"
        case let .duplicateName(name):
            return "safetensors: the header names \(quoted(name)) more than once"
        case let .invalidMetadata(detail):
            return "safetensors: expected __metadata__ to be an object of strings: \(detail)"
        case let .invalidEntry(name, problem):
            return "safetensors: tensor \(quoted(name)): \(problem)"
        case let .unknownDtype(name, dtype):
            return "safetensors: tensor \(quoted(name)): unknown dtype \(quoted(dtype)) (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)"
        case let .unsupportedDtype(name, dtype):
            return name.isEmpty
                ? "safetensors: cannot write dtype \(dtype) (expected F32, F64, F16 or BF16)"
                : "safetensors: tensor \(quoted(name)): dtype \(dtype) is not supported (expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL, F8_E4M3, F8_E5M2)"
        case let .negativeDimension(name, shape):
            return "safetensors: tensor \(quoted(name)): expected non-negative dimensions, got shape \(shape)"
        case let .sizeOverflow(name, shape):
            return "safetensors: tensor \(quoted(name)): the size of shape \(shape) overflows"
        case let .byteCountMismatch(name, dtype, shape, expected, actual):
            return "safetensors: tensor \(quoted(name)): shape \(shape) of \(dtype) needs \(expected) bytes, but its data_offsets span \(actual)"
        case let .offsetsReversed(name, begin, end):
            return "safetensors: tensor \(quoted(name)): expected data_offsets [begin, end] with begin <= end, got [\(begin), \(end)]"
        case let .offsetsOutOfBounds(name, begin, end, count):
            return "safetensors: tensor \(quoted(name)): data_offsets [\(begin), \(end)] reach past the end of the data (\(count) bytes)"
        case let .overlappingOffsets(name, range, other, otherRange):
            return "safetensors: tensor \(quoted(name)) at bytes [\(range.lowerBound), \(range.upperBound)) overlaps tensor \(quoted(other)) at [\(otherRange.lowerBound), \(otherRange.upperBound))"
        case let .gapInData(name, expectedBegin, begin):
            return "safetensors: tensor \(quoted(name)): expected its data to begin at byte \(expectedBegin) (where the previous tensor ends), got \(begin)"
        case let .trailingBytes(end, count):
            return "safetensors: expected the tensors to cover all \(count) bytes of data, but they end at byte \(end)"
        case let .reservedName(name):
            return "safetensors: cannot write a tensor named \(quoted(name)), the key reserved for metadata"
        case let .io(path, message):
            return "safetensors: \(path): \(message)"
        case let .exceedsMemory(what, needed, physicalMemory):
            return "safetensors: \(what) would need \(MemoryLimit.describe(needed)), but the machine has \(MemoryLimit.describe(physicalMemory)) of physical memory"
        }
    }

    private func quoted(_ s: String) -> String {
        "\"" + s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : $0.escaped(asASCII: true) }.joined() + "\""
    }
}
