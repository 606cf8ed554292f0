import ExampleSupport
import AirlineExample
import NamesExample
import Foundation
import XCTest

/// The example loaders on bad files and folders: each throws an `ExampleDataError` naming
/// the path and the reason, never traps (the CSV rows themselves are covered by
/// AirlineDataTests).
final class LoaderErrorTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("recurrent-loader-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func testNamesFolderThatDoesNotExist() {
        let missing = directory.appendingPathComponent("nowhere")
        XCTAssertThrowsError(try NamesDataset.load(from: missing)) { error in
            guard case let ExampleDataError.unreadable(path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, missing.path)
        }
    }

    func testNamesFolderWithoutTextFiles() throws {
        try Data("x".utf8).write(to: directory.appendingPathComponent("README.md"))
        XCTAssertThrowsError(try NamesDataset.load(from: directory)) { error in
            guard case ExampleDataError.invalidData(let message) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(message.contains("no .txt files"), message)
        }
    }

    func testNamesFileThatIsNotUTF8() throws {
        try Data("Smith\n".utf8).write(to: directory.appendingPathComponent("English.txt"))
        let bad = directory.appendingPathComponent("Latin1.txt")
        try Data([0x4D, 0xFC, 0x6C, 0x6C, 0x65, 0x72, 0x0A, 0xFF, 0xFE]).write(to: bad)   // "Müller" in Latin-1
        XCTAssertThrowsError(try NamesDataset.load(from: directory)) { error in
            guard case let ExampleDataError.unreadable(path, reason) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, bad.path)
            XCTAssertTrue(reason.contains("UTF-8"), reason)
        }
    }

    /// Names made only of characters outside the alphabet, blank lines and CRLF line ends
    /// are dropped or handled, not fatal.
    func testNamesFilesWithOddContent() throws {
        try Data("123\n\r\n!!!\n\n".utf8).write(to: directory.appendingPathComponent("Digits.txt"))
        try Data("Ab\r\nCd\r\nEf\r\nGh\r\nIj\r\nKl\r\n".utf8).write(to: directory.appendingPathComponent("Plain.txt"))
        let data = try NamesDataset.load(from: directory)
        XCTAssertEqual(data.languages, ["Digits", "Plain"])
        XCTAssertEqual(data.test.map(\.name), ["Ab", "Kl"])
        XCTAssertEqual(data.train.map(\.name), ["Cd", "Ef", "Gh", "Ij"])
    }

    func testAirlineFileThatDoesNotExistOrIsNotText() throws {
        let missing = directory.appendingPathComponent("none.csv")
        XCTAssertThrowsError(try AirlineData.load(from: missing)) { error in
            guard case let ExampleDataError.unreadable(path, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual(path, missing.path)
        }
        let binary = directory.appendingPathComponent("binary.csv")
        try Data([0xC3, 0x28, 0x00, 0xFF]).write(to: binary)
        XCTAssertThrowsError(try AirlineData.load(from: binary)) { error in
            XCTAssertEqual(error as? ExampleDataError, .unreadable(path: binary.path, reason: "not UTF-8"))
        }
        // Too short for the forecast's training span and test span.
        let short = try SeriesCSV.parse("month,passengers\n1949-01,112\n1949-02,118\n", column: "passengers", dateColumn: "month")
        XCTAssertThrowsError(try runForecast(short, ForecastOptions())) { error in
            guard case ExampleDataError.invalidData = error else { return XCTFail("\(error)") }
        }
    }

    func testMissingBundledResource() {
        XCTAssertThrowsError(try ExampleResources.url("no-such-file.csv", in: Bundle(for: Self.self))) { error in
            guard case ExampleDataError.missingResource(let what) = error else { return XCTFail("\(error)") }
            XCTAssertTrue(what.contains("no-such-file.csv"), what)
        }
    }
}
