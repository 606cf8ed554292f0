import ExampleSupport
import AirlineExample
import Foundation
import XCTest

/// The forecasting arithmetic on hand-computed cases, Holt-Winters against statsmodels, and
/// the CSV reader's errors.
final class ForecastMetricsTests: XCTestCase {
    func testMetricsByHand() {
        let forecast = [1.0, 2, 3], actual = [1.0, 4, 2]
        XCTAssertEqual(Metrics.rmse(forecast, actual), (5.0 / 3).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Metrics.mae(forecast, actual), 1, accuracy: 1e-12)
        // 200/3 · (0/2 + 2/6 + 1/5)
        XCTAssertEqual(Metrics.smape(forecast, actual), 200.0 / 3 * (2.0 / 6 + 1.0 / 5), accuracy: 1e-12)
        XCTAssertEqual(Metrics.smape([0], [0]), 0)
        // |4−1| + |3−2| + |5−4| + |7−3| over 4.
        XCTAssertEqual(Metrics.maseScale(inSample: [1, 2, 4, 3, 5, 7], period: 2), 2.25, accuracy: 1e-12)
        XCTAssertEqual(Metrics.mase(forecast, actual, scale: 2.25), 1 / 2.25, accuracy: 1e-12)
        XCTAssertEqual(Metrics.coverage(lower: [0, 3, 3], upper: [2, 5, 4], actual), 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(Metrics.quantile(sorted: [1, 2, 3, 4], 0.5), 2.5, accuracy: 1e-12)
        XCTAssertEqual(Metrics.quantile(sorted: [1, 2, 3, 4], 0.9), 3.7, accuracy: 1e-12)
        XCTAssertEqual(Metrics.quantile(sorted: [1, 2, 3, 4], 0), 1)
        XCTAssertEqual(Metrics.quantile(sorted: [1, 2, 3, 4], 1), 4)
    }

    func testSeasonalBaselinesByHand() {
        let y = [10.0, 20, 12, 24, 15]
        XCTAssertEqual(SeasonalBaselines.seasonalNaive(y, origin: 4, steps: 3, period: 2), [12, 24, 12])
        // 24·12/20 = 14.4, then 14.4·24/12 = 28.8 from its own forecast.
        let drift = SeasonalBaselines.seasonalRandomWalkWithDrift(y, origin: 4, steps: 2, period: 2)
        XCTAssertEqual(drift[0], 14.4, accuracy: 1e-12)
        XCTAssertEqual(drift[1], 28.8, accuracy: 1e-12)
        XCTAssertEqual(SeasonalBaselines.seasonalRandomWalkWithDrift(y, origin: 4, steps: 2, period: 2, multiplicative: false), [16, 28])
    }

    func testHoltWintersRecursionByHand() {
        let model = HoltWinters(period: 2, alpha: 0.5, beta: 0.5, gamma: 0.5, initialLevel: 10, initialTrend: 1, initialSeasonal: [1, 2])
        // ŷ0 = 11·1; after 11: ℓ 11, b 1, s [2, 1]; ŷ1 = 12·2 = 24; after 30: ℓ 13.5, b 1.75, s [1, 2.25].
        XCTAssertEqual(model.oneStepForecasts([11, 30]), [11, 24])
        XCTAssertEqual(model.sumOfSquaredErrors([11, 30]), 36)
        var state = model.initialState
        model.update(&state, with: 11)
        model.update(&state, with: 30)
        XCTAssertEqual(state.level, 13.5)
        XCTAssertEqual(state.trend, 1.75)
        XCTAssertEqual(state.seasonal, [1, 2.25])
        XCTAssertEqual(model.forecast(state), 15.25)
        XCTAssertEqual(model.forecast(state, steps: 2), 38.25)
        XCTAssertEqual(SeasonalBaselines.holtWinters(model, [11, 30], origin: 2, steps: 2), [15.25, 38.25])
    }

    func testNelderMeadFindsTheRosenbrockMinimum() {
        let result = NelderMead.minimize({ x in (1 - x[0]) * (1 - x[0]) + 100 * (x[1] - x[0] * x[0]) * (x[1] - x[0] * x[0]) },
                                         start: [-1.2, 1], step: 0.5, tolerance: 1e-14, maxEvaluations: 5_000)
        XCTAssertEqual(result.point[0], 1, accuracy: 1e-4)
        XCTAssertEqual(result.point[1], 1, accuracy: 1e-4)
    }

    /// Statsmodels 0.15.0, `ExponentialSmoothing(trend="add", seasonal="mul",
    /// seasonal_periods=12, initialization_method="known")` with the same simple initial
    /// states, `.fit()` (from `Scripts/airline_baselines.py`).
    func testHoltWintersMatchesStatsmodels() throws {
        let y = try AirlineData.loadBundled().values
        let model = try HoltWinters.fit(Array(y[..<120]), period: 12)
        XCTAssertEqual(model.initialLevel, 126.66666666666667, accuracy: 1e-9)
        let first = model.oneStepForecasts(Array(y[..<3]))
        for (a, b) in zip(first, [112.9578947368421, 119.688581801041, 134.38908790126223]) { XCTAssertEqual(a, b, accuracy: 2e-3) }
        XCTAssertEqual(model.alpha, 0.31670715070387084, accuracy: 2e-3)
        XCTAssertEqual(model.beta, 0.031959600219171866, accuracy: 2e-3)
        XCTAssertEqual(model.gamma, 0.6832928492961292, accuracy: 2e-3)
        // The minimum is at least as low as statsmodels'.
        XCTAssertLessThanOrEqual(model.sumOfSquaredErrors(Array(y[..<120])), 11641.071647056953 * (1 + 1e-6))
        let test = model.oneStepForecasts(y)
        XCTAssertEqual(Metrics.rmse(Array(test[120...]), Array(y[120...])), 14.94471213606771, accuracy: 0.01)

        // Fitted on 1949–1956 and run over 1957–1958 (the validation span): statsmodels'
        // α 0.8049, β 0.0103, γ 0.1951, RMSE 18.277.
        let early = try HoltWinters.fit(Array(y[..<96]), period: 12)
        XCTAssertEqual(early.alpha, 0.8049426496453056, accuracy: 2e-3)
        XCTAssertEqual(early.beta, 0.01025760116290748, accuracy: 2e-3)
        XCTAssertEqual(early.gamma, 0.1950573503546944, accuracy: 2e-3)
        XCTAssertEqual(Metrics.rmse(Array(early.oneStepForecasts(Array(y[..<120]))[96...]), Array(y[96..<120])), 18.276994593602865, accuracy: 0.01)
        // The seasonal random walk with drift over the same span.
        let drift = (96..<120).map { SeasonalBaselines.seasonalRandomWalkWithDrift(y, origin: $0, steps: 1, period: 12)[0] }
        XCTAssertEqual(Metrics.rmse(drift, Array(y[96..<120])), 9.969180123460212, accuracy: 1e-9)

        // On the first 36 months statsmodels' optimum is on the bounds (β = γ = 0).
        let short = try HoltWinters.fit(Array(y[..<36]), period: 12)
        XCTAssertEqual(short.alpha, 0.5639447989608068, accuracy: 2e-3)
        XCTAssertEqual(short.beta, 0, accuracy: 1e-3)
        XCTAssertEqual(short.gamma, 0, accuracy: 1e-3)
        XCTAssertLessThanOrEqual(short.sumOfSquaredErrors(Array(y[..<36])), 994.66312279776 * (1 + 1e-6))
        let shortTest = short.oneStepForecasts(Array(y[..<48]))
        XCTAssertEqual(Metrics.rmse(Array(shortTest[36...]), Array(y[36..<48])), 8.893574567286123, accuracy: 0.01)
    }

    func testHoltWintersRefusesShortOrNonPositiveSeries() {
        XCTAssertThrowsError(try HoltWinters.fit([1, 2, 3], period: 2))
        XCTAssertThrowsError(try HoltWinters.fit([1, 2, 0, 4], period: 2))
    }
}

final class SeriesCSVTests: XCTestCase {
    func assertBadRow(_ text: String, column: String = "v", dateColumn: String? = "month", line: Int, saying fragments: [String],
                      file: StaticString = #filePath, lineNumber: UInt = #line) {
        XCTAssertThrowsError(try SeriesCSV.parse(text, column: column, dateColumn: dateColumn), file: file, line: lineNumber) { error in
            guard case let ExampleDataError.badRow(l, _, _) = error else { return XCTFail("expected badRow, got \(error)", file: file, line: lineNumber) }
            XCTAssertEqual(l, line, "\(error)", file: file, line: lineNumber)
            for fragment in fragments {
                XCTAssertTrue("\(error)".contains(fragment), "\(error) does not say \(fragment)", file: file, line: lineNumber)
            }
        }
    }

    func testParsesQuotesCRLFAndBlankLines() throws {
        let series = try SeriesCSV.parse("\"month\",\"v\",other\r\n\"1949-12\",\"1.5\",x\r\n\r\n1950-01,2,y\r\n", column: "v", dateColumn: "month")
        XCTAssertEqual(series.labels, ["1949-12", "1950-01"])
        XCTAssertEqual(series.values, [1.5, 2])
        XCTAssertEqual(series.name, "v")
        let plain = try SeriesCSV.parse("v\n3\n4\n", column: "v")
        XCTAssertEqual(plain.labels, ["1", "2"])
        // Days are labels only: no gap check.
        XCTAssertEqual(try SeriesCSV.parse("month,v\n2000-01-01,1\n2000-01-08,2\n", column: "v", dateColumn: "month").count, 2)
    }

    func testErrorsNameTheLineAndTheColumn() {
        assertBadRow("month,v\n1949-01,1\n1949-02,\n", line: 3, saying: ["line 3", "column \"v\"", "missing value"])
        assertBadRow("month,v\n1949-01,1\n1949-02,NA\n", line: 3, saying: ["column \"v\"", "gap"])
        assertBadRow("month,v\n1949-01,1\n1949-02,12x\n", line: 3, saying: ["column \"v\"", "expected a finite number, got \"12x\""])
        assertBadRow("month,v\n1949-01,inf\n", line: 2, saying: ["expected a finite number"])
        assertBadRow("month,v\n1949-01,1\n1949-02,3,4\n", line: 3, saying: ["expected 2 fields", "got 3"])
        assertBadRow("month,v\n1949-01,1\n1949-03,2\n", line: 3, saying: ["column \"month\"", "1949-03 does not follow 1949-01"])
        assertBadRow("month,v\n1949-12,1\n1949-12,2\n", line: 3, saying: ["does not follow"])
        assertBadRow("year,v\n1990,1\n1992,2\n", dateColumn: "year", line: 3, saying: ["column \"year\"", "1992 does not follow 1990"])
        assertBadRow("month,v\n1949-01,1\n", column: "sales", line: 1, saying: ["line 1", "no column \"sales\"", "\"month\", \"v\""])
        assertBadRow("\n\nmonth,v\n1949-01,1\n", column: "v", dateColumn: "day", line: 3, saying: ["no column \"day\""])
        XCTAssertThrowsError(try SeriesCSV.parse("", column: "v"))
        XCTAssertThrowsError(try SeriesCSV.parse("month,v\n\n", column: "v"))
    }

    func testTooShortSeriesAreRefused() throws {
        let series = TimeSeries(name: "v", labels: (1...40).map(String.init), values: (1...40).map { Double($0) })
        XCTAssertThrowsError(try runForecast(series, ForecastOptions())) { error in
            XCTAssertTrue("\(error)".contains("16 for training before 24 test values"), "\(error)")
        }
        var options = ForecastOptions()
        options.test = 4
        XCTAssertThrowsError(try runForecast(series, options)) { error in
            XCTAssertTrue("\(error)".contains("training windows, at least 8 are needed"), "\(error)")
        }
    }
}

final class BacktestTests: XCTestCase {
    /// A rolling-origin backtest on a small seasonal series: the origins, the baselines'
    /// forecasts and their MASE and sMAPE recomputed by hand.
    func testRollingOriginBacktest() throws {
        let pattern = [10.0, -10, 20, -20]
        let y: [Double] = (0..<80).map { (t: Int) -> Double in
            let noise = Double((t * 7) % 5) - 2
            return 100 + Double(t) + pattern[t % 4] + noise
        }
        let series = TimeSeries(name: "toy", labels: (1...80).map(String.init), values: y)
        var options = ForecastOptions()
        options.test = 8
        options.horizon = 3
        options.paths = 40
        options.settings.period = 4
        options.settings.window = 5
        options.settings.validation = 8
        options.settings.hidden = 2
        options.settings.ensemble = 1
        options.settings.maxEpochs = 3
        let result = try runForecast(series, options)
        XCTAssertEqual(result.origins, Array(72...77))
        XCTAssertEqual(result.report.origins, 6)
        let naive = try XCTUnwrap(result.backtest["seasonal naive"])
        XCTAssertEqual(naive[0], [y[68], y[69], y[70]])
        XCTAssertEqual(naive[5], [y[73], y[74], y[75]])
        // MASE and sMAPE of the seasonal naive forecast, by hand.
        var absolute = 0.0, symmetric = 0.0, count = 0.0
        for (k, o) in result.origins.enumerated() {
            for s in 0..<3 {
                let f = y[o - 4 + s], a = y[o + s]
                absolute += abs(f - a)
                symmetric += abs(f - a) / (abs(f) + abs(a))
                count += 1
                XCTAssertEqual(naive[k][s], f)
            }
        }
        var scale = 0.0
        for t in 4..<72 { scale += abs(y[t] - y[t - 4]) }
        scale /= 68
        let score = try XCTUnwrap(result.report.methods.first { $0.name == "seasonal naive" })
        XCTAssertEqual(try XCTUnwrap(score.mase), absolute / count / scale, accuracy: 1e-12)
        XCTAssertEqual(try XCTUnwrap(score.smape), 200 * symmetric / count, accuracy: 1e-12)
        // The network's interval per origin and step, and the future past the end.
        XCTAssertEqual(result.lower.map(\.count), [3, 3, 3, 3, 3, 3])
        XCTAssertTrue(zip(result.lower.joined(), result.upper.joined()).allSatisfy { $0 <= $1 })
        XCTAssertEqual(result.report.future.map(\.label), ["+1", "+2", "+3"])
        XCTAssertNotNil(result.report.methods[0].coverage)
    }
}
