import Foundation

/// The `--json` output of the examples: the final metrics as one JSON object on one line,
/// the last line of the output, so that scripts can read it with `tail -n 1`.
public enum JSONReport {
    /// `value` encoded as compact JSON on a single line, keys sorted.
    ///
    /// - Throws: the encoder's error when `value` cannot be encoded (a non-finite
    ///   floating-point value is written as the strings `"nan"`, `"inf"`, `"-inf"`).
    public static func line<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let data = try encoder.encode(value)
        return String(decoding: data, as: UTF8.self)
    }

    /// Prints ``line(_:)`` of `value` to standard output.
    ///
    /// - Throws: what ``line(_:)`` throws.
    public static func print<T: Encodable>(_ value: T) throws {
        Swift.print(try line(value))
    }
}
