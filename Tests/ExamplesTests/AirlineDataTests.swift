import ExampleSupport
import AirlineExample
import Foundation
import Recurrent
import XCTest

final class AirlineDataTests: XCTestCase {
    func testBundledSeries() throws {
        let series = try AirlineData.loadBundled()
        XCTAssertEqual(series.count, 144)
        XCTAssertEqual(series.labels.first, "1949-01")
        XCTAssertEqual(series.labels.last, "1960-12")
        XCTAssertEqual(series.values.first, 112)
        XCTAssertEqual(series.values.last, 432)
        XCTAssertEqual(series.position(6), 1949.5, accuracy: 1e-12)
    }

    func testBundledExtraSeries() throws {
        let co2 = try SeriesCSV.load(from: AirlineData.bundledURL("co2-mauna-loa-monthly.csv"), column: "co2", dateColumn: "month")
        XCTAssertEqual(co2.count, 526)
        XCTAssertEqual(co2.labels.first, "1958-03")
        XCTAssertEqual(co2.labels.last, "2001-12")
        let sst = try SeriesCSV.load(from: AirlineData.bundledURL("nino12-sst-monthly.csv"), column: "sst", dateColumn: "month")
        XCTAssertEqual(sst.count, 732)
        XCTAssertEqual(sst.values.first, 23.11)
    }

    /// The statsmodels figures: the RMSE written in the file is the RMSE of its forecasts.
    func testStatsmodelsBaselinesAreConsistent() throws {
        let baselines = try AirlineData.statsmodelsBaselines()
        let series = try AirlineData.loadBundled()
        XCTAssertEqual(baselines.trainingMonths, 120)
        XCTAssertEqual(baselines.testMonths, 24)
        XCTAssertEqual(baselines.models.map(\.name), ["SARIMA(0,1,1)(0,1,1)12 on logs", "ETS(M,A,M)"])
        for model in baselines.models {
            XCTAssertEqual(Metrics.rmse(model.forecast, Array(series.values[120...])), model.rmse, accuracy: 1e-9, model.name)
        }
        XCTAssertEqual(baselines.models[0].rmse, 15.28, accuracy: 0.005)
        XCTAssertEqual(baselines.models[1].rmse, 20.17, accuracy: 0.005)
    }

    /// A short run of the whole pipeline on the bundled series (small settings): the
    /// baselines' figures, a finite network forecast, an interval, the same result twice.
    func testShortAirlineRun() throws {
        let series = try AirlineData.loadBundled()
        var options = ForecastOptions()
        options.paths = 50
        options.settings.ensemble = 2
        options.settings.hidden = 4
        options.settings.maxEpochs = 20
        let baselines = try AirlineData.statsmodelsBaselines()
        let extra = baselines.models.map { (name: $0.name, source: "statsmodels", forecast: $0.forecast) }
        let result = try runForecast(series, options, extra: extra)
        let r = result.report
        XCTAssertEqual(r.training, 120)
        XCTAssertEqual(r.origins, 24)
        XCTAssertEqual(r.transform, "log")
        // The network's name says the combination the folds chose.
        XCTAssertTrue(r.methods[0].name.hasPrefix("RNN ensemble"), r.methods[0].name)
        XCTAssertEqual(r.combination == "none", r.methods[0].name == "RNN ensemble")
        XCTAssertEqual(r.methods.dropFirst().map(\.name), ["seasonal naive", "seasonal random walk with drift", "Holt-Winters (Swift)",
                                                           "SARIMA(0,1,1)(0,1,1)12 (Swift)", "SARIMA(0,1,1)(0,1,1)12 on logs", "ETS(M,A,M)"])
        XCTAssertEqual(r.methods[1].rmse, 49.99, accuracy: 0.005)
        XCTAssertEqual(r.methods[2].rmse, 19.71, accuracy: 0.005)
        XCTAssertEqual(r.methods[3].rmse, 14.94, accuracy: 0.01)
        XCTAssertEqual(r.methods[5].rmse, 15.28, accuracy: 0.005)
        XCTAssertEqual(r.methods[5].source, "statsmodels")
        // The Swift airline model (conditional sum of squares) is close to statsmodels' (exact likelihood).
        XCTAssertEqual(r.methods[4].rmse, r.methods[5].rmse, accuracy: 0.5)
        // The choice: the lowest validation score among every candidate base and combination,
        // and the validation curve is the chosen candidate's.
        let candidates = r.candidateValidation
        XCTAssertEqual(candidates.count, 4 * 7)
        let chosen = r.base + (r.combination == "none" ? "" : "+" + r.combination)
        XCTAssertEqual(candidates.min { $0.value < $1.value }?.key, chosen)
        XCTAssertEqual(try XCTUnwrap(candidates[chosen]), r.validationRMSE, accuracy: 1e-12)
        XCTAssertTrue(r.methods[0].rmse.isFinite && r.methods[0].rmse < 60, "\(r.methods[0].rmse)")
        XCTAssertTrue((1...20).contains(r.epochs))
        XCTAssertEqual(result.forecaster.validationCurve.map(\.epoch), [10, 20])
        // The default protocol: four one-year folds over 1955–1958, scored by their mean RMSE;
        // the seasonal random walk's score recomputed by hand.
        XCTAssertEqual(r.validation, 48)
        XCTAssertEqual(r.folds, 4)
        XCTAssertEqual(r.foldRMSEs.count, 4)
        XCTAssertEqual(r.foldRMSEs.reduce(0, +) / 4, r.validationRMSE, accuracy: 1e-9)
        let y = series.values
        let srw = (0..<4).map { f -> Double in
            let months = (72 + 12 * f)..<(84 + 12 * f)
            return Metrics.rmse(months.map { y[$0 - 1] * y[$0 - 12] / y[$0 - 13] }, months.map { y[$0] })
        }
        XCTAssertEqual(try XCTUnwrap(result.forecaster.baselineValidation["srw"]), srw.reduce(0, +) / 4, accuracy: 1e-9)
        XCTAssertEqual(result.forecaster.trainingLosses.count, r.epochs)
        let coverage = try XCTUnwrap(r.methods[0].coverage)
        XCTAssertTrue((0...1).contains(coverage))
        XCTAssertEqual(r.future.map(\.label), ["1961-01"])
        XCTAssertLessThan(r.future[0].lower, r.future[0].upper)
        // Paths that would not fit in memory are refused before anything is allocated.
        XCTAssertThrowsError(try result.forecaster.forecast(origins: [144], steps: 1 << 40, paths: 1 << 20, level: 0.9, seed: 0)) { error in
            XCTAssertTrue("\(error)".contains("physical memory"), "\(error)")
        }
        // Same seed, same forecasts.
        var again = try runForecast(series, options, extra: extra).report
        again.trainSeconds = r.trainSeconds
        XCTAssertEqual(again, r)
        // The plots draw.
        XCTAssertTrue(ForecastPlots.forecast(result, title: "t", yLabel: "y").svg().contains("Holt-Winters (Swift)"))
        XCTAssertTrue(ForecastPlots.training(result).validation.svg().hasPrefix("<svg"))
        XCTAssertTrue(ForecastPlots.errors(result, title: "t", yLabel: "e").svg().contains("seasonal naive"))
        let json = try JSONReport.line(r)
        XCTAssertEqual(try JSONDecoder().decode(ForecastReport.self, from: Data(json.utf8)), r)
    }

    /// Settings small enough for a test: networks of 4 hidden features.
    static func small(ensemble: Int, epochs: Int) -> ForecasterSettings {
        var settings = ForecasterSettings()
        settings.ensemble = ensemble
        settings.hidden = 4
        settings.maxEpochs = epochs
        return settings
    }

    /// The folds and the multi-fold score on a small case by hand.
    func testMultiFoldValidationArithmetic() {
        XCTAssertEqual(ResidualForecaster.validationFolds(end: 10, validation: 7, folds: 3), [3..<5, 5..<7, 7..<10])
        XCTAssertEqual(ResidualForecaster.validationFolds(end: 120, validation: 48, folds: 4), [72..<84, 84..<96, 96..<108, 108..<120])
        XCTAssertEqual(ResidualForecaster.validationFolds(end: 5, validation: 2, folds: 1), [3..<5])
        // Fold RMSEs √((0² + 2²)/2) = √2 and 3: the score is their mean, not the pooled RMSE √(13/3).
        XCTAssertEqual(ResidualForecaster.multiFoldScore(forecasts: [[1, 2], [3]], actuals: [[1, 4], [0]]),
                       (2.0.squareRoot() + 3) / 2, accuracy: 1e-12)
    }

    /// The combination with Holt-Winters is the geometric mean (the mean in logs) of the
    /// network's forecast and Holt-Winters', the same networks underneath.
    func testCombinationWithHoltWinters() throws {
        let series = try AirlineData.loadBundled()
        var settings = Self.small(ensemble: 2, epochs: 10)
        settings.bases = [.seasonalRandomWalk]
        settings.combineWithHoltWinters = false
        let alone = try ResidualForecaster(values: series.values, trainingEnd: 120, settings: settings)
        XCTAssertEqual(alone.combination, .none)
        XCTAssertEqual(Array(alone.candidateValidation.keys), ["srw"])
        settings.combineWithHoltWinters = true
        let combined = try ResidualForecaster(values: series.values, trainingEnd: 120, settings: settings)
        let hw = try HoltWinters.fit(Array(series.values[..<120]), period: 12)
        XCTAssertEqual(combined.holtWinters, hw)
        XCTAssertNil(alone.holtWinters)
        let targets = Array(120..<144)
        let network = try alone.oneStepForecasts(targets), both = try combined.oneStepForecasts(targets)
        let holtWinters = hw.oneStepForecasts(series.values)
        for (k, t) in targets.enumerated() {
            XCTAssertEqual(both[k], (network[k] * holtWinters[t]).squareRoot(), accuracy: 1e-9 * both[k])
        }
        // Its point forecast from an origin is the one-step forecast.
        let path = try combined.forecast(origins: [130], steps: 1, paths: 10, level: 0.9, seed: 1)
        XCTAssertEqual(path[0].point[0], both[10], accuracy: 1e-9 * both[10])
        // Holt-Winters needs positive values.
        XCTAssertThrowsError(try ResidualForecaster(values: series.values.map { $0 - 200 }, trainingEnd: 120, settings: settings))
        // A weighted combination with the airline model, fitted on the training span: the
        // weighted geometric mean, the same networks underneath.
        settings.combinations = [ForecastCombination(partner: .airlineModel, weight: 0.25)]
        let weighted = try ResidualForecaster(values: series.values, trainingEnd: 120, settings: settings)
        let logs = series.values.map { Foundation.log($0) }
        let arima = try AirlineARIMA.fit(Array(logs[..<120]), period: 12)
        XCTAssertEqual(weighted.airlineModel, arima)
        XCTAssertNil(weighted.holtWinters)
        let errors = arima.errors(logs), mixed = try weighted.oneStepForecasts(targets)
        for (k, t) in targets.enumerated() {
            let expected = Foundation.exp(0.75 * Foundation.log(network[k]) + 0.25 * arima.forecast(at: t, values: logs, errors: errors))
            XCTAssertEqual(mixed[k], expected, accuracy: 1e-9 * expected)
        }
        let step = try weighted.forecast(origins: [130], steps: 1, paths: 10, level: 0.9, seed: 1)
        XCTAssertEqual(step[0].point[0], mixed[10], accuracy: 1e-9 * mixed[10])
        // Without positive values, the choice leaves Holt-Winters out instead of failing.
        var open = Self.small(ensemble: 1, epochs: 10)
        open.transform = .none
        let shifted = try ResidualForecaster(values: series.values.map { $0 - 200 }, trainingEnd: 120, settings: open)
        XCTAssertFalse(shifted.candidateValidation.keys.contains { $0.contains("hw") })
        XCTAssertEqual(shifted.candidateValidation.count, 3 * 4)
    }

    /// The airline model's recursion by hand, and its fit: the parameters of a simulated
    /// series recovered, and near statsmodels' on the airline series' logs.
    func testAirlineModel() throws {
        let model = AirlineARIMA(period: 2, theta: -0.5, seasonalTheta: 0.25)
        let v = [1.0, 2, 4, 3, 7, 6]
        let e = model.errors(v)
        // t = 3: v̂ = v2 + v1 − v0 + θ·e2 + Θ·e1 + θΘ·e0 = 4 + 2 − 1 = 5 (errors 0 before 3).
        XCTAssertEqual(Array(e[..<3]), [0, 0, 0])
        XCTAssertEqual(e[3], 3 - 5)
        // t = 4: v̂ = 3 + 4 − 2 − 0.5·(−2) = 6.
        XCTAssertEqual(e[4], 7 - 6, accuracy: 1e-12)
        // t = 5: v̂ = 7 + 3 − 4 − 0.5·1 + 0.25·(−2) = 5.
        XCTAssertEqual(e[5], 6 - 5, accuracy: 1e-12)
        XCTAssertEqual(model.sumOfSquaredErrors(v), 4 + 1 + 1, accuracy: 1e-12)
        // Forecasts past the origin use errors of 0: from origin 6, v̂6 = 6 + 7 − 3 − 0.5·1 + 0.25·1 + (−0.125)·(−2).
        XCTAssertEqual(model.forecasts(v, origin: 6, steps: 1)[0], 10 - 0.5 + 0.25 + 0.25, accuracy: 1e-12)
        // A simulated series: θ −0.4, Θ −0.6, season 4, 2000 values.
        var generator = SeededGenerator(seed: 7)
        let m = 4, theta = -0.4, seasonal = -0.6
        var w: [Double] = [], noise = [Double](repeating: 0, count: m + 1)
        var series = [Double](repeating: 0, count: m + 1)
        for t in (m + 1)..<2000 {
            let u1 = Double.random(in: Double.ulpOfOne..<1, using: &generator), u2 = Double.random(in: 0..<1, using: &generator)
            let n = (-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2)
            noise.append(n)
            let d = n + theta * noise[t - 1] + seasonal * noise[t - m] + theta * seasonal * noise[t - m - 1]
            w.append(d)
            series.append(series[t - 1] + series[t - m] - series[t - m - 1] + d)
        }
        let fitted = try AirlineARIMA.fit(series, period: m)
        XCTAssertEqual(fitted.theta, theta, accuracy: 0.05)
        XCTAssertEqual(fitted.seasonalTheta, seasonal, accuracy: 0.05)
        // The airline series' first 120 months in logs: statsmodels' exact likelihood gives
        // ma.L1 −0.3425, ma.S.L12 −0.5406; the conditional sum of squares is close.
        let logs = try AirlineData.loadBundled().values.prefix(120).map { Foundation.log($0) }
        let airline = try AirlineARIMA.fit(logs, period: 12)
        XCTAssertEqual(airline.theta, -0.3425, accuracy: 0.05)
        XCTAssertEqual(airline.seasonalTheta, -0.5406, accuracy: 0.05)
        XCTAssertThrowsError(try AirlineARIMA.fit(Array(logs.prefix(25)), period: 12))
    }

    func testInitialWeightsReplaceTheSeededInitialisation() throws {
        let series = try AirlineData.loadBundled()
        var settings = Self.small(ensemble: 1, epochs: 3)
        settings.seed = 5
        let seeded = try ResidualForecaster(values: series.values, trainingEnd: 120, settings: settings)
        // The same initial weights, written to a file, then loaded into a run with another seed.
        RandomState.manualSeed(5)
        let initial = try AirlineModel(kind: .rnn, hiddenSize: 4, seed: 5)
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("airline-\(UUID().uuidString).safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try initial.saveStateDict(to: url)
        settings.seed = 0
        settings.initialWeights = url
        let loaded = try ResidualForecaster(values: series.values, trainingEnd: 120, settings: settings)
        XCTAssertEqual(loaded.trainingLosses, seeded.trainingLosses)
    }
}
