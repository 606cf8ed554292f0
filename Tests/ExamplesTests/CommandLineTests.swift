import ExampleSupport
import AirlineExample
import Foundation
import Recurrent
import XCTest

/// The example programs' command lines and outside files: every bad option or file ends
/// the program with a message naming what was expected and what came (exit status 1 or
/// 64), before any training, and never by a signal.
final class CommandLineTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("recurrent-cli-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    /// The built example program `name` (next to the test bundle; `swift test` builds every
    /// product).
    func program(_ name: String) -> URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Runs `name` with `arguments`; returns its exit status (a signal fails the test) and
    /// what it wrote to standard output and standard error.
    func run(_ name: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws
        -> (status: Int32, output: String) {
        let url = program(name)
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            XCTFail("\(url.path) was not built", file: file, line: line)
            return (-1, "")
        }
        let process = Process()
        process.executableURL = url
        // The plots go to the test folder unless `arguments` names another (the last one counts).
        process.arguments = ["--output", directory.appendingPathComponent("plots").path] + arguments
        process.currentDirectoryURL = directory
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "\(name) \(arguments) ended by a signal", file: file, line: line)
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    func assertFails(_ name: String, _ arguments: [String], saying fragments: [String],
                     file: StaticString = #filePath, line: UInt = #line) throws {
        let (status, output) = try run(name, arguments, file: file, line: line)
        XCTAssertNotEqual(status, 0, "\(name) \(arguments) succeeded:\n\(output)", file: file, line: line)
        for fragment in fragments where !output.contains(fragment) {
            XCTFail("\(name) \(arguments): the output does not contain \"\(fragment)\":\n\(output)", file: file, line: line)
        }
        XCTAssertFalse(output.contains("NSCocoaErrorDomain"), output, file: file, line: line)
    }

    func testNegativeNumbersAreParsedAndRejectedByName() throws {
        try assertFails("names", ["--epochs", "-1"], saying: ["--epochs must be at least 1, got -1"])
        try assertFails("airline", ["--hidden", "-5"], saying: ["--hidden"])
        try assertFails("tagging", ["--batch-size", "-2"], saying: ["--batch-size must be at least 1, got -2"])
    }

    func testThreadsAreBoundedByTheProcessors() throws {
        try assertFails("names", ["--threads", "100000"], saying: ["--threads", "100000", "processors"])
        try assertFails("airline", ["--threads", "0"], saying: ["--threads", "got 0"])
    }

    func testBadOutputFoldersFailBeforeTraining() throws {
        let file = directory.appendingPathComponent("a-file")
        try Data("x".utf8).write(to: file)
        try assertFails("airline", ["--output", file.path], saying: ["--output", "is a file"])
        try assertFails("names", ["--output", ""], saying: ["--output", "empty path"])
    }

    func testLoadOfFoldersEmptyPathsAndDevicesNamesTheProblem() throws {
        try assertFails("names", ["--load", directory.path], saying: ["--load", "is a folder"])
        try assertFails("names", ["--load", ""], saying: ["--load", "empty path"])
        try assertFails("names", ["--load", "/dev/zero"], saying: ["--load", "a device"])
        try assertFails("names", ["--load", directory.appendingPathComponent("none").path], saying: ["does not exist"])
        try assertFails("airline", ["--init-weights", directory.path], saying: ["--init-weights", "is a folder"])
    }

    func testLoadRejectsTrainingOptionsInsteadOfIgnoringThem() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        try Data().write(to: url)
        try assertFails("names", ["--load", url.path, "--model", "lstm", "--hidden", "64"],
                        saying: ["--load", "--model", "--hidden"])
        try assertFails("names", ["--load", url.path, "--class-weights", "balanced"], saying: ["--load", "--class-weights"])
        try assertFails("generate", ["--load", url.path, "--epochs", "2", "--dropout", "0.1"],
                        saying: ["--load", "--epochs", "--dropout"])
        try assertFails("tagging", ["--load", url.path, "--seed", "3", "--train-sentences", "10"],
                        saying: ["--load", "--seed", "--train-sentences"])
        try assertFails("translate", ["--load", url.path, "--test-size", "10", "--save", "x.safetensors"],
                        saying: ["--load", "--test-size", "--save"])
        // An empty file is no model: an error naming the file, before anything is trained.
        try assertFails("translate", ["--load", url.path], saying: [url.path, "expected a safetensors model file"])
    }

    func testDistributedNamesRefusesClassWeights() throws {
        try assertFails("names", ["--model", "lstm", "--distributed", "--class-weights", "balanced"],
                        saying: ["--distributed", "--class-weights balanced"])
        try assertFails("names", ["--class-weights", "inverse"], saying: ["--class-weights", "inverse"])
    }

    func testCraftedNamesMetadataIsAnErrorNotACrash() throws {
        for (model, hidden) in [("tutorial", "3037000500"), ("lstm", "200000"), ("gru", "\(Int.max)"), ("rnn", "-4")] {
            let url = directory.appendingPathComponent("\(model).safetensors")
            try SafeTensors.write([:], metadata: ["format": "pt", "model": model, "hidden_size": hidden, "languages": "Czech,Dutch"], to: url)
            try assertFails("names", ["--load", url.path], saying: ["invalid data", url.path])
        }
    }

    func testSizesBeyondMemoryFailNamingTheEstimateAndTheMemory() throws {
        // The weights alone (the library's bound), and what training adds (the examples').
        try assertFails("names", ["--model", "lstm", "--hidden", "1000000", "--per-language", "1"],
                        saying: ["LSTM", "hiddenSize: 1000000", "physical memory"])
        try assertFails("airline", ["--hidden", "3037000500"], saying: ["physical memory"])
        try assertFails("names", ["--model", "gru", "--batch-size", "100000000000", "--per-language", "1", "--epochs", "1"],
                        saying: ["training a gru names model", "would need", "physical memory"])
        try assertFails("long-range", ["--models", "lstm", "--lengths", "1000000000", "--probe-length", "1000000000",
                                       "--steps", "1", "--explode-steps", "0"], saying: ["physical memory"])
        try assertFails("tagging", ["--train-sentences", "1000000000000"], saying: ["--train-sentences", "physical memory"])
        try assertFails("translate", ["--train-size", "1000000000000"], saying: ["--train-size", "physical memory"])
        try assertFails("generate", ["--max-length", "1000000000000"], saying: ["--max-length", "physical memory"])
        try assertFails("one-to-one", ["--hidden", "1000000000"], saying: ["width 1000000000", "physical memory"])
    }

    func testADivergedRunFailsNamingTheValue() throws {
        try assertFails("airline", ["--lr", "1e30", "--epochs", "3"], saying: ["training diverged", "nan"])
    }

    func testAirlineCSVErrorsNameTheLineAndTheColumn() throws {
        let csv = directory.appendingPathComponent("series.csv")
        try "month,sales\n2000-01,5\n2000-02,oops\n".write(to: csv, atomically: true, encoding: .utf8)
        try assertFails("airline", ["--csv", csv.path, "--column", "sales"], saying: ["line 3", "column \"sales\"", "oops"])
        try assertFails("airline", ["--csv", csv.path, "--column", "units"], saying: ["line 1", "no column \"units\""])
        try assertFails("airline", ["--csv", csv.path], saying: ["--csv needs --column"])
        try "month,sales\n2000-01,5\n2000-03,6\n".write(to: csv, atomically: true, encoding: .utf8)
        try assertFails("airline", ["--csv", csv.path, "--column", "sales", "--date-column", "month"],
                        saying: ["line 3", "column \"month\"", "2000-03 does not follow 2000-01"])
        let short = (1...30).map { "\($0),\($0 + 10)" }.joined(separator: "\n")
        try "t,v\n\(short)\n".write(to: csv, atomically: true, encoding: .utf8)
        try assertFails("airline", ["--csv", csv.path, "--column", "v"], saying: ["30 values", "24 test values"])
        try assertFails("airline", ["--horizon", "30"], saying: ["--horizon must be in 1...--test (24), got 30"])
        try assertFails("airline", ["--folds", "49"], saying: ["--folds must be in 1...--validation (48), got 49"])
        try assertFails("airline", ["--validation", "6", "--folds", "0"], saying: ["--folds must be in 1...--validation (6), got 0"])
    }

    func testJSONSilencesProgressAndWritesNoStringsForNumbers() throws {
        let (status, output) = try run("airline", ["--epochs", "2", "--hidden", "4", "--json"])
        XCTAssertEqual(status, 0, output)
        XCTAssertFalse(output.contains("epoch 1/2"), output)
        let last = output.split(separator: "\n").last.map(String.init) ?? ""
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(last.utf8)), last)
    }
}

/// The shared pieces the command lines are made of, tested directly.
final class CommandLineSupportTests: XCTestCase {
    struct Values: Encodable {
        var finite = 1.5
        var nan = Double.nan
        var infinite = -Double.infinity
        var list = [0.5, .infinity]
    }

    func testJSONWritesNonFiniteNumbersAsNull() throws {
        let line = try JSONReport.line(Values())
        XCTAssertEqual(line, #"{"finite":1.5,"infinite":null,"list":[0.5,null],"nan":null}"#)
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)))
    }

    func testCommonOptionsValidateThreadsAndOutput() throws {
        XCTAssertThrowsError(try CommonOptions.parse(["--threads", "100000"]))
        XCTAssertThrowsError(try CommonOptions.parse(["--threads", "-1"]))
        XCTAssertThrowsError(try CommonOptions.parse(["--output", "/etc/passwd"]))
        XCTAssertEqual(try CommonOptions.parse(["--threads", "1"]).threads, 1)
        XCTAssertTrue(try CommonOptions.parse(["--json"]).progressStyle == .silent)
    }

    func testDivergenceCheck() {
        XCTAssertNoThrow(try TrainingDiverged.check(["loss": 0.5]))
        XCTAssertThrowsError(try TrainingDiverged.check(["loss": 0.5, "RMSE": .nan])) { error in
            XCTAssertTrue("\(error)".contains("RMSE is nan"), "\(error)")
        }
    }

    func testTextLoadersRefuseDevicesAndPipes() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-pipe-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = directory.appendingPathComponent("pipe.csv")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        for url in [URL(fileURLWithPath: "/dev/zero"), fifo] {
            XCTAssertThrowsError(try AirlineData.load(from: url)) { error in
                guard case let ExampleDataError.unreadable(path, reason) = error else { return XCTFail("\(error)") }
                XCTAssertEqual(path, url.path)
                XCTAssertTrue(reason.contains("expected a regular file"), reason)
            }
        }
    }
}
