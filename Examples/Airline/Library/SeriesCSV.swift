import ExampleSupport
import Foundation

/// A regularly spaced series: its values and, when the file had a date column, the label of
/// each (`1958-03`).
public struct TimeSeries: Sendable, Equatable {
    /// What the series is (the column's name).
    public let name: String
    /// The label of each value (a date as written, or its 1-based row number).
    public let labels: [String]
    /// The values.
    public let values: [Double]

    /// A series of `values` labelled `labels`.
    ///
    /// - Precondition: both have the same length.
    public init(name: String, labels: [String], values: [Double]) {
        precondition(labels.count == values.count, "TimeSeries: \(labels.count) labels for \(values.count) values")
        self.name = name
        self.labels = labels
        self.values = values
    }

    /// The number of values.
    public var count: Int { values.count }

    /// Value `index`'s position on a time axis: a fractional year for labels `YYYY-MM`
    /// (`1949-07` → 1949.5), `YYYY-MM-DD` or `YYYY`, else the index.
    public func position(_ index: Int) -> Double {
        SeriesCSV.date(labels[index]).map { $0.year + ($0.month.map { Double($0 - 1) / 12 } ?? 0) } ?? Double(index)
    }
}

/// Reads one column of a CSV file as a ``TimeSeries``.
///
/// The first line is the header; fields are separated by commas (a field may be wrapped in
/// double quotes, without commas inside); blank lines are skipped; `\r\n` line ends are
/// accepted. Every error names the 1-based line, the column and what was expected.
public enum SeriesCSV {
    /// The series in column `column` of the CSV file at `url`.
    ///
    /// - Throws: ``ExampleDataError/unreadable(path:reason:)`` when the file cannot be read,
    ///   what ``parse(_:column:dateColumn:)`` throws.
    public static func load(from url: URL, column: String, dateColumn: String? = nil) throws -> TimeSeries {
        try parse(readText(url), column: column, dateColumn: dateColumn)
    }

    /// The series in column `column` of the CSV `text`, labelled by `dateColumn`.
    ///
    /// - Throws: ``ExampleDataError/badRow(line:content:reason:)`` for a header without the
    ///   column, a row with another number of fields than the header, a missing value (an
    ///   empty cell, `NA` or `NaN`: a gap), a value that is not a finite number, or dates
    ///   (`YYYY`, `YYYY-MM`) that do not follow each other without a gap;
    ///   ``ExampleDataError/invalidData(_:)`` when there is no header or no row.
    public static func parse(_ text: String, column: String, dateColumn: String? = nil) throws -> TimeSeries {
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        guard let headerOffset = lines.firstIndex(where: { !$0.allSatisfy(\.isWhitespace) }) else {
            throw ExampleDataError.invalidData("the CSV is empty (expected a header line naming the columns)")
        }
        let header = fields(lines[headerOffset])
        func columnIndex(_ name: String) throws -> Int {
            guard let index = header.firstIndex(of: name) else {
                throw ExampleDataError.badRow(line: headerOffset + 1, content: String(lines[headerOffset]),
                                              reason: "no column \"\(name)\" in the header (it has \(header.map { "\"\($0)\"" }.joined(separator: ", ")))")
            }
            return index
        }
        let valueIndex = try columnIndex(column)
        let dateIndex = try dateColumn.map(columnIndex)
        var labels: [String] = [], values: [Double] = []
        var previousDate: (year: Double, month: Int?)?
        for offset in (headerOffset + 1)..<lines.count {
            let line = lines[offset], number = offset + 1
            if line.allSatisfy(\.isWhitespace) { continue }
            let cells = fields(line)
            func fail(_ reason: String) -> ExampleDataError { .badRow(line: number, content: String(line), reason: reason) }
            guard cells.count == header.count else {
                throw fail("expected \(header.count) fields like the header, got \(cells.count)")
            }
            let cell = cells[valueIndex]
            if cell.isEmpty || ["na", "nan", "null"].contains(cell.lowercased()) {
                throw fail("column \"\(column)\": missing value \"\(cell)\" (a gap in the series)")
            }
            guard let value = Double(cell), value.isFinite else {
                throw fail("column \"\(column)\": expected a finite number, got \"\(cell)\"")
            }
            var label = String(values.count + 1)
            if let dateIndex, let dateColumn {
                label = cells[dateIndex]
                if let date = date(label), label.split(separator: "-").count <= 2 {
                    if let previous = previousDate {
                        let step = date.month.map { m in (date.year - previous.year) * 12 + Double(m - (previous.month ?? m)) } ?? (date.year - previous.year)
                        guard step == 1, (date.month == nil) == (previous.month == nil) else {
                            throw fail("column \"\(dateColumn)\": \(label) does not follow \(labels.last ?? "") (expected the next \(date.month == nil ? "year" : "month"); a gap or a duplicate)")
                        }
                    }
                    previousDate = date
                } else if label.isEmpty {
                    throw fail("column \"\(dateColumn)\": missing date")
                }
            }
            labels.append(label)
            values.append(value)
        }
        guard !values.isEmpty else { throw ExampleDataError.invalidData("the CSV has a header but no rows") }
        return TimeSeries(name: column, labels: labels, values: values)
    }

    /// The fields of a line, trimmed, a surrounding pair of double quotes removed.
    static func fields(_ line: Substring) -> [String] {
        line.split(separator: ",", omittingEmptySubsequences: false).map { raw in
            var field = raw.trimmingCharacters(in: .whitespaces)
            if field.count >= 2, field.hasPrefix("\""), field.hasSuffix("\"") { field = String(field.dropFirst().dropLast()) }
            return field
        }
    }

    /// The year and month of `YYYY`, `YYYY-MM` or `YYYY-MM-DD` (the day is ignored), else `nil`.
    static func date(_ label: String) -> (year: Double, month: Int?)? {
        let parts = label.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), parts[0].count == 4, parts.allSatisfy({ $0.allSatisfy(\.isASCII) }),
              let year = Int(parts[0]) else { return nil }
        if parts.count == 1 { return (Double(year), nil) }
        guard parts[1].count == 2, let month = Int(parts[1]), (1...12).contains(month) else { return nil }
        if parts.count == 3 { guard parts[2].count == 2, let day = Int(parts[2]), (1...31).contains(day) else { return nil } }
        return (Double(year), month)
    }
}
