import Foundation

/// The `--json` output of the examples: the final metrics as one JSON object on one line,
/// the last line of the output, so that scripts can read it with `tail -n 1`.
public enum JSONReport {
    /// `value` encoded as compact JSON on a single line, keys sorted.
    ///
    /// A non-finite floating-point value (a metric of a class with no examples) is written
    /// as `null`: JSON has no NaN or infinity, and a string in a number's place would break
    /// the readers that expect a number.
    ///
    /// - Throws: the encoder's error when `value` cannot be encoded.
    public static func line<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: marker, negativeInfinity: marker, nan: marker)
        let data = try encoder.encode(value)
        return String(decoding: data, as: UTF8.self).replacingOccurrences(of: "\"\(marker)\"", with: "null")
    }

    /// What the encoder writes for a non-finite value before it becomes `null` (no metric
    /// is this string).
    private static let marker = "__recurrent_non_finite__"

    /// Prints ``line(_:)`` of `value` to standard output.
    ///
    /// - Throws: what ``line(_:)`` throws.
    public static func print<T: Encodable>(_ value: T) throws {
        Swift.print(try line(value))
    }
}
