import Foundation
import XCTest

/// Every example command that README.md shows runs as written: each `swift run` in the
/// README's `sh` blocks (and each part of a `&&` chain) is run with the built debug
/// program and the README's own arguments, followed by small settings of that program
/// (fewer epochs, smaller sizes: for single-value options the last one given counts), in a
/// scratch folder that mirrors the package's top level, so that relative paths resolve and
/// the files the commands write stay out of the checkout. A command that stops with an
/// error — an option that no longer exists, or a combination the program refuses — fails
/// the test, so a claim of the README cannot silently break again.
///
/// Options suggested in a comment on such a line (`# --model lstm|gru, --seed N`) are not
/// run, but each must be one that the program's `--help` lists.
final class ReadmeCommandsTests: XCTestCase {
    /// The small settings of each program: `always` after every command, `training` only
    /// when the command does not `--load` a model (which rejects training options), and
    /// whether the program writes plots (and takes `--output`).
    static let smallSettings: [String: (always: [String], training: [String], plots: Bool)] = [
        "airline": ([], ["--epochs", "3", "--hidden", "4"], true),
        "names": (["--per-language", "6"], ["--epochs", "1", "--hidden", "8"], true),
        "one-to-one": ([], ["--epochs", "3"], true),
        "generate": ([], ["--epochs", "1", "--hidden", "8"], true),
        "tagging": ([], ["--epochs", "1", "--hidden", "8", "--train-sentences", "60", "--test-sentences", "20"], true),
        "translate": ([], ["--epochs", "1", "--hidden", "8", "--train-size", "200", "--test-size", "5"], true),
        "ctc": ([], ["--epochs", "2", "--hidden", "8", "--train-count", "16", "--test-count", "8"], true),
        "long-range": (["--steps", "3", "--hidden", "4", "--test-size", "16", "--probe-size", "4", "--explode-steps", "3"], [], true),
        "seed-manual-rnn": ([], [], false),
        "seed-nn-rnn": ([], [], false),
    ]

    /// The package's root folder.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One command of the README: the program and its arguments, and the README line.
    struct Command: CustomStringConvertible {
        var program: String
        var arguments: [String]
        var line: Int
        var description: String { "README.md:\(line): \(program) \(arguments.joined(separator: " "))" }
    }

    /// The words of a shell command line, with single and double quotes and backslash
    /// escapes removed, and whatever follows an unquoted `#` as the comment.
    static func words(_ line: String) -> (words: [String], comment: String?) {
        var words: [String] = [], current = "", inWord = false
        var quote: Character?
        var iterator = Array(line).makeIterator()
        while let c = iterator.next() {
            if let q = quote {
                if c == q { quote = nil } else if c == "\\" && q == "\"", let n = iterator.next() { current.append(n) } else { current.append(c) }
                continue
            }
            switch c {
            case "\"", "'": quote = c; inWord = true
            case "\\": if let n = iterator.next() { current.append(n); inWord = true }
            case " ", "\t":
                if inWord { words.append(current); current = ""; inWord = false }
            case "#" where !inWord:
                var rest = ""
                while let n = iterator.next() { rest.append(n) }
                return (words, rest)
            default: current.append(c); inWord = true
            }
        }
        if inWord { words.append(current) }
        return (words, nil)
    }

    /// The `swift run` commands of the `sh` blocks of `readme`, and the comments on their lines.
    static func commands(in readme: String) -> (commands: [Command], comments: [(line: Int, text: String)]) {
        var commands: [Command] = [], comments: [(Int, String)] = []
        var inShell = false
        for (index, line) in readme.components(separatedBy: "\n").enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("```") { inShell = !inShell && trimmed == "```sh"; continue }
            guard inShell, trimmed.contains("swift run") else { continue }
            let (all, comment) = words(trimmed)
            if let comment { comments.append((index + 1, comment)) }
            // Each part of a `&&` chain on its own.
            var part: [String] = []
            for word in all + ["&&"] {
                guard word == "&&" else { part.append(word); continue }
                defer { part = [] }
                guard let run = part.firstIndex(of: "run"), run > 0, part[run - 1] == "swift" else { continue }
                var rest = Array(part[(run + 1)...])
                if rest.first == "-c", rest.count >= 2 { rest.removeFirst(2) }
                guard let program = rest.first else { continue }
                commands.append(Command(program: program, arguments: Array(rest.dropFirst()), line: index + 1))
            }
        }
        return (commands, comments)
    }

    /// A scratch folder whose top-level entries are links to the package's.
    func mirror() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("recurrent-readme-\(UUID().uuidString)", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: Self.root.path) where !name.hasPrefix(".build") && name != "output" {
            try FileManager.default.createSymbolicLink(at: folder.appendingPathComponent(name),
                                                       withDestinationURL: Self.root.appendingPathComponent(name))
        }
        return folder
    }

    func testTheParserReadsChainsQuotesAndComments() {
        let (commands, comments) = Self.commands(in: """
        ```sh
        apt-get install -y x && swift run -c release names --save a.safetensors && swift run names --load a.safetensors --predict "O'Brien" Nakamura   # two runs
        swift run seed-nn-rnn
        ```
        ```swift
        swift run not-a-command
        ```
        """)
        XCTAssertEqual(commands.map(\.program), ["names", "names", "seed-nn-rnn"])
        XCTAssertEqual(commands[1].arguments, ["--load", "a.safetensors", "--predict", "O'Brien", "Nakamura"])
        XCTAssertEqual(commands.map(\.line), [2, 2, 3])
        XCTAssertEqual(comments.map(\.text), [" two runs"])
    }

    func testEveryReadmeCommandRuns() throws {
        let readme = try String(contentsOf: Self.root.appendingPathComponent("README.md"), encoding: .utf8)
        let (commands, comments) = Self.commands(in: readme)
        XCTAssertGreaterThanOrEqual(commands.count, 10, "the README's example commands were not found")
        let folder = try mirror()
        defer { try? FileManager.default.removeItem(at: folder) }
        let programs = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for (line, text) in comments {
            guard let program = commands.last(where: { $0.line == line })?.program else { continue }
            let suggested = Self.words(text.replacingOccurrences(of: ",", with: " ")).words.filter { $0.hasPrefix("--") }
            guard !suggested.isEmpty else { continue }
            let help = try run(programs.appendingPathComponent(program), ["--help"], in: folder).output
            for option in suggested where !help.contains(option + " ") && !help.contains(option + "\n") {
                XCTFail("README.md:\(line): the comment suggests \(option), which `\(program) --help` does not list")
            }
        }
        for command in commands {
            guard let settings = Self.smallSettings[command.program] else {
                XCTFail("\(command): no small settings for \(command.program) in ReadmeCommandsTests.smallSettings")
                continue
            }
            let url = programs.appendingPathComponent(command.program)
            guard FileManager.default.isExecutableFile(atPath: url.path) else {
                XCTFail("\(command): \(url.path) was not built")
                continue
            }
            var arguments = command.arguments + settings.always
            if !command.arguments.contains("--load") { arguments += settings.training }
            if settings.plots { arguments += ["--output", folder.appendingPathComponent("plots").path] }
            let (status, output) = try run(url, arguments, in: folder)
            XCTAssertEqual(status, 0, "\(command) (run with \(arguments)) failed:\n\(output)")
        }
    }

    /// Every example program answers `--help` with its description and usage, and runs
    /// nothing (the seed programs used to train on `--help`).
    func testEveryProgramDescribesItselfWithHelp() throws {
        let programs = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let folder = FileManager.default.temporaryDirectory
        for program in Self.smallSettings.keys.sorted() {
            let url = programs.appendingPathComponent(program)
            guard FileManager.default.isExecutableFile(atPath: url.path) else {
                XCTFail("\(url.path) was not built")
                continue
            }
            let (status, output) = try run(url, ["--help"], in: folder)
            XCTAssertEqual(status, 0, "\(program) --help:\n\(output)")
            XCTAssertTrue(output.contains("OVERVIEW:") && output.contains("USAGE: \(program)"), "\(program) --help:\n\(output)")
            XCTAssertFalse(output.contains("Epoch") || output.contains("Output shape"), "\(program) --help ran the program:\n\(output)")
        }
    }

    /// Runs the program at `url` with `arguments` in `folder`; its exit status (a signal
    /// fails the test) and everything it wrote.
    func run(_ url: URL, _ arguments: [String], in folder: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = url
        process.arguments = arguments
        process.currentDirectoryURL = folder
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit, "\(url.lastPathComponent) \(arguments) ended by a signal:\n\(output)")
        return (process.terminationStatus, output)
    }
}
