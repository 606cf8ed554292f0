import ExampleSupport
import Foundation

/// The monthly totals of international airline passengers, January 1949 to December 1960
/// (Box & Jenkins), in thousands: 144 months.
public struct AirlineSeries: Sendable, Equatable {
    /// The months as written in the file, `YYYY-MM`.
    public let months: [String]
    /// The passengers of each month, in thousands.
    public let passengers: [Double]

    /// A series of `months` and their `passengers`.
    ///
    /// - Precondition: both have the same length.
    public init(months: [String], passengers: [Double]) {
        precondition(months.count == passengers.count, "AirlineSeries: \(months.count) months for \(passengers.count) values")
        self.months = months
        self.passengers = passengers
    }

    /// The number of months.
    public var count: Int { passengers.count }

    /// Month `index` as a fractional year (`1949-01` → 1949.0, `1949-07` → 1949.5), for plots;
    /// falls back to `index / 12` past a first parsable month when a month is not `YYYY-MM`.
    public func fractionalYear(_ index: Int) -> Double {
        let parts = months[index].split(separator: "-")
        if parts.count == 2, let year = Double(parts[0]), let month = Double(parts[1]) {
            return year + (month - 1) / 12
        }
        return Double(index) / 12
    }
}

/// Loads the airline passengers CSV (`month,passengers` with a header line).
public enum AirlineData {
    /// The series bundled with the examples (`Resources/airline-passengers.csv`).
    ///
    /// - Throws: ``ExampleDataError`` when the file is missing or has a bad row.
    public static func loadBundled() throws -> AirlineSeries {
        try load(from: ExampleResources.url("airline-passengers.csv", in: .module))
    }

    /// The series in the CSV file at `url`.
    ///
    /// - Throws: ``ExampleDataError/unreadable(path:reason:)`` when the file cannot be read,
    ///   ``ExampleDataError/badRow(line:content:reason:)`` for a malformed row.
    public static func load(from url: URL) throws -> AirlineSeries {
        try parse(readText(url))
    }

    /// Parses CSV text: an optional header line (`month,passengers`), then one
    /// `YYYY-MM,count` row per month; blank lines are skipped, `\r\n` line ends accepted.
    ///
    /// - Throws: ``ExampleDataError/badRow(line:content:reason:)`` naming the 1-based line
    ///   number and its content when a row does not have two fields, its month is not
    ///   `YYYY-MM`, or its count is not a positive finite number (the protocol takes
    ///   logarithms); ``ExampleDataError/invalidData(_:)`` when there are no rows.
    public static func parse(_ text: String) throws -> AirlineSeries {
        var months: [String] = []
        var values: [Double] = []
        // "\r\n" is one Character in Swift, so split on every kind of line end.
        let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" || $0 == "\r" }
        for (offset, line) in lines.enumerated() {
            let lineNumber = offset + 1
            if line.allSatisfy(\.isWhitespace) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            if lineNumber == 1, fields.first.map({ Double($0) == nil && !isMonth($0) }) == true {
                continue   // the header
            }
            guard fields.count == 2 else {
                throw ExampleDataError.badRow(line: lineNumber, content: String(line),
                                              reason: "expected 2 fields (month,passengers), got \(fields.count)")
            }
            guard isMonth(fields[0]) else {
                throw ExampleDataError.badRow(line: lineNumber, content: String(line),
                                              reason: "expected a month YYYY-MM, got \"\(fields[0])\"")
            }
            guard let value = Double(fields[1]), value.isFinite, value > 0 else {
                throw ExampleDataError.badRow(line: lineNumber, content: String(line),
                                              reason: "expected a positive number of passengers, got \"\(fields[1])\"")
            }
            months.append(fields[0])
            values.append(value)
        }
        guard !values.isEmpty else { throw ExampleDataError.invalidData("no rows in the CSV") }
        return AirlineSeries(months: months, passengers: values)
    }

    private static func isMonth(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              parts[0].allSatisfy(\.isASCII), parts[1].allSatisfy(\.isASCII),
              Int(parts[0]) != nil, let month = Int(parts[1]) else { return false }
        return (1...12).contains(month)
    }
}

/// The evaluation protocol of the airline example, shared with `Scripts/airline_torch.py`
/// so that the Swift and PyTorch figures can be set side by side:
///
/// - features: the log differences `d[t] = log y[t] − log y[t−1]` (t = 1…n−1), standardised
///   `z[t] = (d[t] − μ) / σ` with the mean and the population standard deviation of the
///   *training* differences (those of months before the test period);
/// - samples: the window `z[t−12 ..< t]` predicts `z[t]`; a target month `t` needs
///   `t − 12 ≥ 1`, so the first is month 13;
/// - split: the last 24 months (1959–1960) are the test targets, the months 13…n−25 the
///   training targets (107 windows on the 144-month series);
/// - forecast: one step ahead with the true history, `ŷ[t] = y[t−1] · exp(μ + σ · ẑ[t])`;
/// - metric: the root mean squared error in passengers (thousands) over the test months.
public struct AirlineProtocol: Sendable {
    /// The number of past differences each sample sees.
    public let window: Int
    /// The number of months held out at the end.
    public let testMonths: Int
    /// The series.
    public let series: AirlineSeries
    /// `d[t]` at index `t` (index 0 is unused and holds 0).
    public let logDifferences: [Double]
    /// The mean of the training differences.
    public let mean: Double
    /// The population standard deviation of the training differences.
    public let standardDeviation: Double
    /// The month index of each training sample's target, in order.
    public let trainTargets: [Int]
    /// The month index of each test sample's target, in order (the last `testMonths`).
    public let testTargets: [Int]

    /// The protocol on `series`.
    ///
    /// - Throws: ``ExampleDataError/invalidData(_:)`` when the series is too short to leave
    ///   at least one training window before the test period.
    public init(series: AirlineSeries, window: Int = 12, testMonths: Int = 24) throws {
        let n = series.count
        guard window >= 1, testMonths >= 1, n - testMonths > window + 1 else {
            throw ExampleDataError.invalidData("a series of \(n) months is too short for windows of \(window) and \(testMonths) test months")
        }
        self.series = series
        self.window = window
        self.testMonths = testMonths
        var d = [Double](repeating: 0, count: n)
        for t in 1..<n { d[t] = Foundation.log(series.passengers[t]) - Foundation.log(series.passengers[t - 1]) }
        logDifferences = d
        let firstTest = n - testMonths
        let training = d[1..<firstTest]
        let mean = training.reduce(0, +) / Double(training.count)
        let variance = training.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(training.count)
        self.mean = mean
        standardDeviation = variance.squareRoot()
        trainTargets = Array((window + 1)..<firstTest)
        testTargets = Array(firstTest..<n)
    }

    /// The standardised difference `z[t]`.
    public func standardized(_ t: Int) -> Double { (logDifferences[t] - mean) / standardDeviation }

    /// The windows of the samples whose targets are `targets`, row-major `(N, window, 1)`,
    /// ready for a `batchFirst` recurrent layer.
    public func inputs(for targets: [Int]) -> [Float] {
        var result: [Float] = []
        result.reserveCapacity(targets.count * window)
        for t in targets {
            for s in (t - window)..<t { result.append(Float(standardized(s))) }
        }
        return result
    }

    /// The standardised targets `z[t]`, `(N, 1)` row-major.
    public func targets(for targets: [Int]) -> [Float] {
        targets.map { Float(standardized($0)) }
    }

    /// The one-step-ahead forecasts `y[t−1] · exp(μ + σ · ẑ)` in passengers, from the
    /// standardised predictions `predictions[i]` of month `targets[i]`.
    ///
    /// - Precondition: both arrays have the same length.
    public func forecast(standardizedPredictions predictions: [Float], targets: [Int]) -> [Double] {
        precondition(predictions.count == targets.count, "forecast: \(predictions.count) predictions for \(targets.count) months")
        return zip(predictions, targets).map { z, t in
            series.passengers[t - 1] * Foundation.exp(mean + standardDeviation * Double(z))
        }
    }

    /// The root mean squared error of `forecast[i]` against the true value of month
    /// `targets[i]`, in passengers.
    ///
    /// - Precondition: both arrays have the same, non-zero, length.
    public func rmse(_ forecast: [Double], targets: [Int]) -> Double {
        precondition(forecast.count == targets.count && !targets.isEmpty, "rmse: \(forecast.count) forecasts for \(targets.count) months")
        let total = zip(forecast, targets).reduce(0.0) { sum, pair in
            let e = pair.0 - series.passengers[pair.1]
            return sum + e * e
        }
        return (total / Double(targets.count)).squareRoot()
    }

    /// The seasonal-naive forecast of the test months, `ŷ[t] = y[t−12]`.
    public var seasonalNaiveForecast: [Double] { testTargets.map { series.passengers[$0 - 12] } }

    /// The last-value forecast of the test months, `ŷ[t] = y[t−1]`.
    public var lastValueForecast: [Double] { testTargets.map { series.passengers[$0 - 1] } }

    /// The test RMSE of the seasonal-naive forecast (49.99 on the bundled series).
    public var seasonalNaiveRMSE: Double { rmse(seasonalNaiveForecast, targets: testTargets) }

    /// The test RMSE of the last-value forecast (51.78 on the bundled series).
    public var lastValueRMSE: Double { rmse(lastValueForecast, targets: testTargets) }
}
