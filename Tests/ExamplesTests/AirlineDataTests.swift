import ExampleSupport
import AirlineExample
import Foundation
import Recurrent
import XCTest

final class AirlineDataTests: XCTestCase {
    func testParsesHeaderRowsAndCRLF() throws {
        let series = try AirlineData.parse("month,passengers\r\n1949-01,112\r\n1949-02,118\r\n\r\n")
        XCTAssertEqual(series.months, ["1949-01", "1949-02"])
        XCTAssertEqual(series.passengers, [112, 118])
        XCTAssertEqual(series.fractionalYear(1), 1949 + 1.0 / 12, accuracy: 1e-12)
    }

    func testBadRowNamesTheLineAndItsContent() {
        let text = "month,passengers\n1949-01,112\n1949-02,11x8\n1949-03,132\n"
        XCTAssertThrowsError(try AirlineData.parse(text)) { error in
            guard case let ExampleDataError.badRow(line, content, _) = error else {
                return XCTFail("expected badRow, got \(error)")
            }
            XCTAssertEqual(line, 3)
            XCTAssertEqual(content, "1949-02,11x8")
            let message = String(describing: error)
            XCTAssertTrue(message.contains("line 3") && message.contains("1949-02,11x8"), message)
        }
    }

    func testOtherBadRows() {
        for (text, line) in [("1949-01,112\n1949-02\n", 2),           // one field
                             ("1949-01,112,7\n", 1),                    // three fields
                             ("month,passengers\n1949-13,112\n", 2),    // no such month
                             ("month,passengers\n1949-01,-5\n", 2),     // not positive
                             ("month,passengers\n1949-01,112\nJan,3\n", 3)] {
            XCTAssertThrowsError(try AirlineData.parse(text), text) { error in
                guard case let ExampleDataError.badRow(l, _, _) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(l, line, text)
            }
        }
        XCTAssertThrowsError(try AirlineData.parse("month,passengers\n"))
    }

    func testBundledSeries() throws {
        let series = try AirlineData.loadBundled()
        XCTAssertEqual(series.count, 144)
        XCTAssertEqual(series.months.first, "1949-01")
        XCTAssertEqual(series.months.last, "1960-12")
        XCTAssertEqual(series.passengers.first, 112)
        XCTAssertEqual(series.passengers.last, 432)
    }

    func testProtocolSplitAndBaselines() throws {
        let data = try AirlineProtocol(series: AirlineData.loadBundled())
        XCTAssertEqual(data.trainTargets.count, 107)
        XCTAssertEqual(data.trainTargets.first, 13)
        XCTAssertEqual(data.trainTargets.last, 119)
        XCTAssertEqual(data.testTargets, Array(120..<144))
        XCTAssertEqual(data.seasonalNaiveRMSE, 49.99, accuracy: 0.01)
        XCTAssertEqual(data.lastValueRMSE, 51.78, accuracy: 0.01)
        // The training differences are standardised: mean 0, variance 1.
        let z = (1..<120).map(data.standardized)
        XCTAssertEqual(z.reduce(0, +) / Double(z.count), 0, accuracy: 1e-12)
        XCTAssertEqual(z.map { $0 * $0 }.reduce(0, +) / Double(z.count), 1, accuracy: 1e-12)
        // A window holds the 12 differences before its target.
        let x = data.inputs(for: [120])
        XCTAssertEqual(x.count, 12)
        XCTAssertEqual(Double(x[11]), data.standardized(119), accuracy: 1e-6)
        // Predicting the true difference gives back the true value.
        let exact = data.forecast(standardizedPredictions: data.targets(for: data.testTargets), targets: data.testTargets)
        XCTAssertEqual(data.rmse(exact, targets: data.testTargets), 0, accuracy: 1e-3)
    }

    func testShortAirlineRunLowersTheLoss() throws {
        var options = AirlineOptions()
        options.epochs = 15
        options.hidden = 8
        let (_, result) = try trainAirline(options)
        XCTAssertEqual(result.losses.count, 15)
        XCTAssertLessThan(result.losses.last!, result.losses.first! * 0.9)
        XCTAssertEqual(result.testForecast.count, 24)
        XCTAssertTrue(result.metrics.rmse.isFinite)
        // Same seed, same run.
        let (_, again) = try trainAirline(options)
        XCTAssertEqual(again.losses, result.losses)
    }

    func testInitialWeightsReplaceTheSeededInitialisation() throws {
        var options = AirlineOptions()
        options.epochs = 3
        options.hidden = 8
        options.seed = 5
        let (_, seeded) = try trainAirline(options)
        // The same initial weights, written to a file, then loaded into a run with another seed.
        RandomState.manualSeed(5)
        let initial = try AirlineModel(kind: .rnn, hiddenSize: 8, seed: 5)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("airline-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try initial.saveStateDict(to: url)
        options.seed = 0
        options.initialWeights = url
        let (_, loaded) = try trainAirline(options)
        XCTAssertEqual(loaded.losses, seeded.losses)
    }

    func testPlotsAreSVG() throws {
        var options = AirlineOptions()
        options.epochs = 2
        options.hidden = 4
        let series = try AirlineData.loadBundled()
        let (_, result) = try trainAirline(options, series: series)
        let forecast = AirlinePlots.forecast(series: series, result: result).svg()
        XCTAssertTrue(forecast.hasPrefix("<svg"))
        XCTAssertTrue(forecast.contains("Seasonal naive"))
        XCTAssertTrue(forecast.hasSuffix("</svg>\n"))
        XCTAssertTrue(AirlinePlots.loss(result: result).svg().contains("polyline"))
        let json = try JSONReport.line(result.metrics)
        XCTAssertFalse(json.contains("\n"))
        XCTAssertEqual(try JSONDecoder().decode(AirlineMetrics.self, from: Data(json.utf8)), result.metrics)
    }
}
