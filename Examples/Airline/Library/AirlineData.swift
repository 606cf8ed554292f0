import ExampleSupport
import Foundation

/// The monthly totals of international airline passengers, January 1949 to December 1960
/// (Box & Jenkins), in thousands: 144 months, and the figures of the statsmodels baselines
/// on it.
public enum AirlineData {
    /// The series bundled with the example (`Resources/airline-passengers.csv`, columns
    /// `month,passengers`).
    ///
    /// - Throws: ``ExampleDataError`` when the file is missing or has a bad row.
    public static func loadBundled() throws -> TimeSeries {
        try SeriesCSV.load(from: ExampleResources.url("airline-passengers.csv", in: .module), column: "passengers", dateColumn: "month")
    }

    /// The series in a CSV file of the bundled series' format (columns `month,passengers`).
    ///
    /// - Throws: ``ExampleDataError/unreadable(path:reason:)`` when the file cannot be read,
    ///   what ``SeriesCSV/parse(_:column:dateColumn:)`` throws.
    public static func load(from url: URL) throws -> TimeSeries {
        try SeriesCSV.load(from: url, column: "passengers", dateColumn: "month")
    }

    /// A series bundled with the example, by file name: `airline-passengers.csv`,
    /// `co2-mauna-loa-monthly.csv` (column `co2`), `nino12-sst-monthly.csv` (column `sst`);
    /// see `Resources/README.md`.
    ///
    /// - Throws: ``ExampleDataError`` when the file is missing or has a bad row.
    public static func bundledURL(_ file: String) throws -> URL { try ExampleResources.url(file, in: .module) }

    /// The statsmodels baselines of the airline protocol (`Resources/airline-statsmodels.json`,
    /// written by `Scripts/airline_baselines.py`).
    ///
    /// - Throws: ``ExampleDataError`` when the file is missing or malformed.
    public static func statsmodelsBaselines() throws -> StatsmodelsBaselines {
        let url = try ExampleResources.url("airline-statsmodels.json", in: .module)
        do {
            return try JSONDecoder().decode(StatsmodelsBaselines.self, from: Data(readText(url).utf8))
        } catch let error as ExampleDataError {
            throw error
        } catch {
            throw ExampleDataError.invalidData("\(url.path): \(error)")
        }
    }
}

/// The one-step-ahead forecasts of the airline test months by statsmodels' models, fitted
/// on the training months with `Scripts/airline_baselines.py`.
public struct StatsmodelsBaselines: Codable, Sendable, Equatable {
    /// One model's figures.
    public struct Model: Codable, Sendable, Equatable {
        /// Its name (`SARIMA(0,1,1)(0,1,1)12 on logs`).
        public var name: String
        /// Its test RMSE.
        public var rmse: Double
        /// Its forecast of each test month.
        public var forecast: [Double]
        /// Its fitted parameters, by statsmodels' names.
        public var parameters: [String: Double]
    }
    /// The statsmodels version that computed them.
    public var statsmodels: String
    /// The number of training months (from the start).
    public var trainingMonths: Int
    /// The number of test months (at the end).
    public var testMonths: Int
    /// The models.
    public var models: [Model]
}
