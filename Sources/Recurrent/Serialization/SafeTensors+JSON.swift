/// A JSON value as the safetensors header reader sees it: objects keep their keys in file
/// order, and integers are exact (never routed through `Double`).
enum HeaderJSON {
    case object([(key: String, value: HeaderJSON)])
    case array([HeaderJSON])
    case string(String)
    /// An integer literal that fits in `Int`.
    case integer(Int)
    /// Any other number literal (a fraction, an exponent, or an integer too large for
    /// `Int`), as written.
    case number(String)
    case bool(Bool)
    case null

    /// What this value is, for messages: `an array`, `the string "F32"`, `the number 1.5`.
    var summary: String {
        switch self {
        case .object: return "an object"
        case .array(let a): return "an array of \(a.count) element\(a.count == 1 ? "" : "s")"
        case .string(let s): return "the string \"\(s.count > 40 ? String(s.prefix(40)) + "…" : s)\""
        case .integer(let i): return "the integer \(i)"
        case .number(let n): return "the number \(n.count > 40 ? String(n.prefix(40)) + "…" : n)"
        case .bool(let b): return "\(b)"
        case .null: return "null"
        }
    }
}

/// A strict RFC 8259 JSON reader over raw bytes, for safetensors headers.
///
/// It never traps: every malformation (including nesting deeper than ``maximumDepth`` and
/// lone UTF-16 surrogates in `\u` escapes) is a thrown ``SafeTensorsError``. A key that
/// appears twice in the top-level object is ``SafeTensorsError/duplicateName(_:)``; twice
/// in a nested object, ``SafeTensorsError/headerNotJSON(_:)``.
struct HeaderJSONParser {
    /// Deeper nesting is rejected (a safetensors header needs three levels).
    static let maximumDepth = 64

    private let bytes: UnsafeRawBufferPointer
    private var position = 0

    /// Parses `bytes` (already known to be UTF-8) as one JSON value, optionally surrounded
    /// by whitespace.
    static func parse(_ bytes: UnsafeRawBufferPointer) throws -> HeaderJSON {
        var parser = HeaderJSONParser(bytes: bytes)
        parser.skipWhitespace()
        let value = try parser.parseValue(depth: 0)
        parser.skipWhitespace()
        if parser.position < bytes.count {
            throw parser.error("expected the end of the header", found: parser.describeCurrent())
        }
        return value
    }

    private init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    private func error(_ expected: String, found: String) -> SafeTensorsError {
        .headerNotJSON("\(expected) at byte \(position), got \(found)")
    }

    private func describeCurrent() -> String {
        guard position < bytes.count else { return "the end of the header" }
        let b = bytes[position]
        if b >= 0x20 && b < 0x7F { return "'\(Character(Unicode.Scalar(b)))'" }
        return "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x09, 0x0A, 0x0D: position += 1
            default: return
            }
        }
    }

    private mutating func expect(_ byte: UInt8, _ what: String) throws {
        guard position < bytes.count, bytes[position] == byte else { throw error("expected \(what)", found: describeCurrent()) }
        position += 1
    }

    private mutating func parseValue(depth: Int) throws -> HeaderJSON {
        guard position < bytes.count else { throw error("expected a value", found: "the end of the header") }
        switch bytes[position] {
        case UInt8(ascii: "{"): return try parseObject(depth: depth + 1)
        case UInt8(ascii: "["): return try parseArray(depth: depth + 1)
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return try parseNumber()
        case UInt8(ascii: "t"): try parseLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try parseLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try parseLiteral("null"); return .null
        default: throw error("expected a value", found: describeCurrent())
        }
    }

    private mutating func parseLiteral(_ word: StaticString) throws {
        let start = position
        for i in 0..<word.utf8CodeUnitCount {
            guard position < bytes.count, bytes[position] == word.utf8Start[i] else {
                position = start
                throw error("expected a value", found: describeCurrent())
            }
            position += 1
        }
    }

    private mutating func parseObject(depth: Int) throws -> HeaderJSON {
        guard depth <= Self.maximumDepth else { throw error("expected at most \(Self.maximumDepth) levels of nesting", found: "more") }
        position += 1  // {
        var pairs: [(key: String, value: HeaderJSON)] = []
        var keys = Set<String>()
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "}") {
            position += 1
            return .object(pairs)
        }
        while true {
            skipWhitespace()
            guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
                throw error("expected a string key", found: describeCurrent())
            }
            let keyStart = position
            let key = try parseString()
            guard keys.insert(key).inserted else {
                if depth == 1 { throw SafeTensorsError.duplicateName(key) }
                position = keyStart
                throw error("expected distinct keys in an object", found: "a second \"\(key)\"")
            }
            skipWhitespace()
            try expect(UInt8(ascii: ":"), "':' after a key")
            skipWhitespace()
            let value = try parseValue(depth: depth)
            pairs.append((key, value))
            skipWhitespace()
            guard position < bytes.count else { throw error("expected ',' or '}'", found: "the end of the header") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "}") { position += 1; return .object(pairs) }
            throw error("expected ',' or '}'", found: describeCurrent())
        }
    }

    private mutating func parseArray(depth: Int) throws -> HeaderJSON {
        guard depth <= Self.maximumDepth else { throw error("expected at most \(Self.maximumDepth) levels of nesting", found: "more") }
        position += 1  // [
        var elements: [HeaderJSON] = []
        skipWhitespace()
        if position < bytes.count, bytes[position] == UInt8(ascii: "]") {
            position += 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue(depth: depth))
            skipWhitespace()
            guard position < bytes.count else { throw error("expected ',' or ']'", found: "the end of the header") }
            if bytes[position] == UInt8(ascii: ",") { position += 1; continue }
            if bytes[position] == UInt8(ascii: "]") { position += 1; return .array(elements) }
            throw error("expected ',' or ']'", found: describeCurrent())
        }
    }

    private mutating func parseHex4() throws -> UInt32 {
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard position < bytes.count else { throw error("expected 4 hexadecimal digits after \\u", found: "the end of the header") }
            let b = bytes[position]
            let digit: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw error("expected a hexadecimal digit after \\u", found: describeCurrent())
            }
            value = value << 4 | digit
            position += 1
        }
        return value
    }

    /// Parses a string starting at its opening quote. The bytes between escapes are copied
    /// as they are (the whole header was validated as UTF-8 beforehand).
    private mutating func parseString() throws -> String {
        position += 1  // "
        var utf8: [UInt8] = []
        while true {
            let runStart = position
            while position < bytes.count {
                let b = bytes[position]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                position += 1
            }
            if position > runStart { utf8.append(contentsOf: bytes[runStart..<position]) }
            guard position < bytes.count else { throw error("expected '\"' to close the string", found: "the end of the header") }
            let b = bytes[position]
            if b == UInt8(ascii: "\"") {
                position += 1
                return String(decoding: utf8, as: UTF8.self)
            }
            if b < 0x20 { throw error("expected no control characters inside a string", found: describeCurrent()) }
            // A backslash escape.
            position += 1
            guard position < bytes.count else { throw error("expected an escape after '\\'", found: "the end of the header") }
            let e = bytes[position]
            position += 1
            switch e {
            case UInt8(ascii: "\""): utf8.append(0x22)
            case UInt8(ascii: "\\"): utf8.append(0x5C)
            case UInt8(ascii: "/"): utf8.append(0x2F)
            case UInt8(ascii: "b"): utf8.append(0x08)
            case UInt8(ascii: "f"): utf8.append(0x0C)
            case UInt8(ascii: "n"): utf8.append(0x0A)
            case UInt8(ascii: "r"): utf8.append(0x0D)
            case UInt8(ascii: "t"): utf8.append(0x09)
            case UInt8(ascii: "u"):
                var code = try parseHex4()
                if (0xDC00...0xDFFF).contains(code) {
                    position -= 6
                    throw error("expected a high surrogate before a low one", found: "a lone low surrogate \\u\(String(code, radix: 16))")
                }
                if (0xD800...0xDBFF).contains(code) {
                    let highAt = position - 6
                    guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"), bytes[position + 1] == UInt8(ascii: "u") else {
                        position = highAt
                        throw error("expected a low surrogate after a high one", found: "a lone high surrogate \\u\(String(code, radix: 16))")
                    }
                    position += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else {
                        position = highAt
                        throw error("expected a low surrogate after a high one", found: "\\u\(String(low, radix: 16))")
                    }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                }
                // Not a surrogate any more, so always a valid scalar.
                guard let scalar = Unicode.Scalar(code) else {
                    throw error("expected a Unicode scalar", found: "\\u\(String(code, radix: 16))")
                }
                var encoded = ""
                encoded.unicodeScalars.append(scalar)
                utf8.append(contentsOf: encoded.utf8)
            default:
                position -= 1
                throw error("expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u", found: describeCurrent())
            }
        }
    }

    private func isDigit(_ i: Int) -> Bool {
        i < bytes.count && bytes[i] >= UInt8(ascii: "0") && bytes[i] <= UInt8(ascii: "9")
    }

    private mutating func parseNumber() throws -> HeaderJSON {
        let start = position
        let negative = bytes[position] == UInt8(ascii: "-")
        if negative { position += 1 }
        guard isDigit(position) else { throw error("expected a digit", found: describeCurrent()) }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
            if isDigit(position) { throw error("expected no leading zeros", found: describeCurrent()) }
        } else {
            while isDigit(position) { position += 1 }
        }
        let integerEnd = position
        var isInteger = true
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            isInteger = false
            position += 1
            guard isDigit(position) else { throw error("expected a digit after '.'", found: describeCurrent()) }
            while isDigit(position) { position += 1 }
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: "e") || bytes[position] == UInt8(ascii: "E") {
            isInteger = false
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") { position += 1 }
            guard isDigit(position) else { throw error("expected a digit in the exponent", found: describeCurrent()) }
            while isDigit(position) { position += 1 }
        }
        let text = String(decoding: bytes[start..<position], as: UTF8.self)
        guard isInteger else { return .number(text) }
        var value = 0
        for i in (negative ? start + 1 : start)..<integerEnd {
            let digit = Int(bytes[i] - UInt8(ascii: "0"))
            let (scaled, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? scaled.subtractingReportingOverflow(digit) : scaled.addingReportingOverflow(digit)
            if o1 || o2 { return .number(text) }
            value = next
        }
        return .integer(value)
    }
}

/// Writes the JSON of a safetensors header.
enum HeaderJSONWriter {
    /// Appends `s` as a JSON string literal (quotes, backslashes and control characters escaped).
    static func appendString(_ s: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x0A: out += [0x5C, UInt8(ascii: "n")]
            case 0x0D: out += [0x5C, UInt8(ascii: "r")]
            case 0x09: out += [0x5C, UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += Array("\\u00".utf8) + [hex[Int(b >> 4)], hex[Int(b & 0xF)]]
            default: out.append(b)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    static func appendInt(_ i: Int, to out: inout [UInt8]) {
        out += Array(String(i).utf8)
    }
}
