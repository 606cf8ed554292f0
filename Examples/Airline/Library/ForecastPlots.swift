import ExampleSupport
import Foundation

/// The plots of a forecast run.
public enum ForecastPlots {
    /// The colours and dash patterns of the methods, in the order of the report.
    static let styles: [(color: String, dashed: Bool)] = [
        ("#d62728", false), ("#2ca02c", true), ("#9467bd", true), ("#ff7f0e", true), ("#1f77b4", true), ("#8c564b", true),
        ("#17becf", true), ("#7f7f7f", true),
    ]

    /// A tick on a time axis in fractional years: `1959` on a whole year, `Jul 1959` within one.
    @Sendable static func yearTick(_ value: Double) -> String {
        let year = value.rounded(.down), month = Int(((value - year) * 12).rounded())
        guard month > 0 && month < 12 else { return String(Int(value.rounded())) }
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        return "\(names[month]) \(Int(year))"
    }

    /// The end of the series with the backtest's forecasts of every method (for a horizon
    /// of 1, the one-step forecasts; else the forecasts from the first origin), the network's
    /// interval, and its forecast past the end; the legend under the plot.
    public static func forecast(_ result: ForecastResult, title: String, yLabel: String, seasonsShown: Int = 1) -> LineChart {
        let series = result.series, report = result.report
        let n = series.count, m = report.season
        let first = max(0, report.training - seasonsShown * m)
        let x = (0..<n).map(series.position)
        let step = n > 1 ? x[n - 1] - x[n - 2] : 1
        let futureX = (1...report.horizon).map { x[n - 1] + Double($0) * step }
        let origin = result.origins[0], h = report.horizon
        let testX = report.horizon == 1 ? result.origins.map { x[$0] } : (0..<h).map { x[origin + $0] }
        func path(_ forecasts: [[Double]]) -> [Double] { report.horizon == 1 ? forecasts.map { $0[0] } : forecasts[0] }
        let percent = Int((report.level * 100).rounded())
        var lines: [LineSeries] = [
            LineSeries(name: "actual", x: Array(x[first...]), y: Array(series.values[first...]), color: "#222222", lineWidth: 1.6),
        ]
        let intervalName = "\(report.model.uppercased()) \(percent) % interval (bootstrap)"
        // Both bounds in one series (a non-finite point breaks the line), one legend entry.
        lines.append(LineSeries(name: intervalName, x: testX + [.nan] + testX,
                                y: path(result.lower) + [.nan] + path(result.upper),
                                color: "#f08080", dashed: true, lineWidth: 1.2))
        // Past the end: the bounds as lines, or as a vertical bar for a single step.
        let (barX, barY) = report.horizon == 1 ? ([futureX[0], futureX[0]], [result.futureLower[0], result.futureUpper[0]])
            : (futureX + [.nan] + futureX, result.futureLower + [.nan] + result.futureUpper)
        lines.append(LineSeries(name: "\(intervalName), past the end", x: barX, y: barY, color: "#f08080", lineWidth: 2))
        for (k, method) in report.methods.enumerated() {
            guard let forecasts = result.backtest[method.name] else { continue }
            let style = styles[k % styles.count]
            lines.append(LineSeries(name: String(format: "%@ (RMSE %.2f)", method.name, method.rmse), x: testX, y: path(forecasts),
                                    color: style.color, dashed: style.dashed, lineWidth: k == 0 ? 2.4 : 1.5, markers: k == 0))
        }
        // The network drawn last, on top.
        if let network = lines.firstIndex(where: { $0.name.hasPrefix(report.methods[0].name) }) { lines.append(lines.remove(at: network)) }
        // One step of room after the last point (an x with no y widens the axis, draws nothing).
        lines.append(LineSeries(name: "\(report.methods[0].name): forecast past the end", x: futureX + [futureX[futureX.count - 1] + step],
                                y: result.futurePoint + [.nan],
                                color: "#7f0000", lineWidth: 2, markers: true))
        let testFrom = x[report.training] - step / 2, testTo = x[n - 1] + step / 2
        var chart = LineChart(title: title, xLabel: "Year", yLabel: yLabel, series: lines,
                              band: (from: testFrom, to: testTo, label: "test: \(report.origins) origin\(report.origins == 1 ? "" : "s"), \(h) step\(h == 1 ? "" : "s") ahead"),
                              xTickFormat: yearTick)
        chart.legend = .below
        return chart
    }

    /// The one-step errors (forecast − actual) of every method over the test span, for a
    /// horizon of 1; for a longer horizon, the errors of the forecasts from the first origin.
    public static func errors(_ result: ForecastResult, title: String, yLabel: String) -> LineChart {
        let series = result.series, report = result.report
        let h = report.horizon
        let targets = h == 1 ? result.origins : (0..<h).map { result.origins[0] + $0 }
        let x = targets.map(series.position)
        var lines = [LineSeries(name: "zero", x: [x[0], x[x.count - 1]], y: [0, 0], color: "#222222", lineWidth: 1)]
        for (k, method) in report.methods.enumerated() {
            guard let forecasts = result.backtest[method.name] else { continue }
            let f = h == 1 ? forecasts.map { $0[0] } : forecasts[0]
            let style = styles[k % styles.count]
            lines.append(LineSeries(name: String(format: "%@ (RMSE %.2f)", method.name, method.rmse), x: x,
                                    y: zip(f, targets).map { $0 - series.values[$1] }, color: style.color, dashed: style.dashed,
                                    lineWidth: k == 0 ? 2.4 : 1.5, markers: true))
        }
        lines.append(lines.remove(at: 1))   // the network on top
        var chart = LineChart(title: title, xLabel: "Year", yLabel: yLabel, series: lines, xTickFormat: yearTick)
        chart.legend = .below
        return chart
    }

    /// The mean training loss of the final fit per epoch, and the validation score of the
    /// base and combination chosen (the mean of the folds' one-step RMSEs) along the epochs of
    /// the validation fits (the minimum marks the epochs chosen).
    public static func training(_ result: ForecastResult) -> (loss: LineChart, validation: LineChart) {
        let f = result.forecaster, r = result.report
        var loss = LineChart(title: "Training loss of the final fit (\(r.model.uppercased()) ensemble of \(r.ensemble), \(r.epochs) epochs)",
                             xLabel: "Epoch", yLabel: "MSE (standardised residuals)",
                             series: [LineSeries(name: "mean over the members", x: f.trainingLosses.indices.map { Double($0 + 1) },
                                                 y: f.trainingLosses)])
        loss.legend = .below
        var validation = LineChart(title: "Validation score of the ensemble: the mean RMSE of \(r.folds) folds, each fitted before it",
                                   xLabel: "Epoch", yLabel: "Mean fold RMSE (\(r.series))",
                                   series: [LineSeries(name: String(format: "mean fold RMSE of the candidate chosen, base %@, combination %@ (best %.2f at epoch %d)",
                                                                          r.base, r.combination, r.validationRMSE, r.epochs),
                                                       x: f.validationCurve.map { Double($0.epoch) }, y: f.validationCurve.map(\.rmse), markers: true)])
        validation.legend = .below
        return (loss, validation)
    }
}
