import Foundation
import XCTest
@testable import Recurrent

/// How the safetensors reader and the atomic writer treat the file system: files that are
/// not regular, symbolic links, permissions, and temporary files left by killed saves.
final class SafeTensorsFileSystemTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("st-fs-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    let tensors = ["w": Tensor(shape: [2, 2], scalars: [1, 2, 3, 4])]
    let other = ["w": Tensor(shape: [2, 2], scalars: [5, 6, 7, 8])]

    func assertIOError(_ fragment: String, file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
        XCTAssertThrowsError(try body(), file: file, line: line) { error in
            guard case let SafeTensorsError.io(_, message) = error else {
                return XCTFail("expected SafeTensorsError.io, got \(error)", file: file, line: line)
            }
            XCTAssertTrue(message.contains(fragment), "\"\(message)\" does not contain \"\(fragment)\"", file: file, line: line)
        }
    }

    // MARK: Files that are not regular

    func testDevicesAreRefusedBeforeAnyRead() {
        let zero = URL(fileURLWithPath: "/dev/zero")
        assertIOError("character device") { _ = try SafeTensors.readHeader(from: zero) }
        assertIOError("character device") { _ = try SafeTensorsFile(contentsOf: zero) }
        assertIOError("character device") { _ = try Checkpoint(contentsOf: zero) }
    }

    func testANamedPipeIsRefusedWithoutBlocking() throws {
        let fifo = directory.appendingPathComponent("pipe")
        XCTAssertEqual(mkfifo(fifo.path, 0o600), 0)
        assertIOError("named pipe") { _ = try SafeTensors.readHeader(from: fifo) }
        assertIOError("named pipe") { _ = try SafeTensors.read(from: fifo) }
    }

    func testDirectoriesAndEmptyPathsAreRefused() {
        assertIOError("directory") { _ = try SafeTensors.readHeader(from: directory) }
        assertIOError("directory") { _ = try Checkpoint(contentsOf: directory) }
        // An empty path names the current directory.
        assertIOError("directory") { _ = try SafeTensors.read(from: URL(fileURLWithPath: "")) }
    }

    func testShortFilesThrowFileTooShortFromTheHeaderReader() throws {
        for count in [0, 3, 7] {
            let url = directory.appendingPathComponent("short\(count)")
            try Data(repeating: 0, count: count).write(to: url)
            XCTAssertThrowsError(try SafeTensors.readHeader(from: url)) { error in
                XCTAssertEqual(error as? SafeTensorsError, .fileTooShort(byteCount: count))
            }
        }
    }

    // MARK: Symbolic links and permissions

    func testSavingThroughASymbolicLinkReplacesItsTarget() throws {
        let target = directory.appendingPathComponent("weights.safetensors")
        try SafeTensors.write(tensors, to: target)
        let link = directory.appendingPathComponent("latest.safetensors")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: "weights.safetensors")
        try SafeTensors.write(other, to: link)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: link.path), "weights.safetensors")
        XCTAssertEqual(try SafeTensors.read(from: target)["w"]?.scalars, [5, 6, 7, 8])
        XCTAssertEqual(try SafeTensors.read(from: link)["w"]?.scalars, [5, 6, 7, 8])

        // A chain of links, and a dangling one (its target is created).
        let second = directory.appendingPathComponent("second")
        try FileManager.default.createSymbolicLink(atPath: second.path, withDestinationPath: link.path)
        try SafeTensors.write(tensors, to: second)
        XCTAssertEqual(try SafeTensors.read(from: target)["w"]?.scalars, [1, 2, 3, 4])
        let dangling = directory.appendingPathComponent("dangling")
        try FileManager.default.createSymbolicLink(atPath: dangling.path, withDestinationPath: "new.safetensors")
        try SafeTensors.write(tensors, to: dangling)
        XCTAssertEqual(try SafeTensors.read(from: directory.appendingPathComponent("new.safetensors"))["w"]?.scalars, [1, 2, 3, 4])
        XCTAssertNotNil(try? FileManager.default.destinationOfSymbolicLink(atPath: dangling.path))

        // A loop is an error, and nothing is written.
        let a = directory.appendingPathComponent("loop-a"), b = directory.appendingPathComponent("loop-b")
        try FileManager.default.createSymbolicLink(atPath: a.path, withDestinationPath: "loop-b")
        try FileManager.default.createSymbolicLink(atPath: b.path, withDestinationPath: "loop-a")
        assertIOError("symbolic links") { try SafeTensors.write(tensors, to: a) }
    }

    func testSavingKeepsTheReplacedFilesPermissions() throws {
        let url = directory.appendingPathComponent("private.safetensors")
        try SafeTensors.write(tensors, to: url)
        for mode in [0o600, 0o640, 0o444] {
            XCTAssertEqual(chmod(url.path, mode_t(mode)), 0)
            try Checkpoint(model: other, optimizer: nil, randomState: nil).write(to: url)
            var info = stat()
            XCTAssertEqual(stat(url.path, &info), 0)
            XCTAssertEqual(Int(info.st_mode & 0o7777), mode, "mode \(String(mode, radix: 8))")
        }
        // A new file gets 0666 less the umask, like any file the process creates.
        let mask = umask(0o022)
        umask(mask)
        let fresh = directory.appendingPathComponent("fresh.safetensors")
        try SafeTensors.write(tensors, to: fresh)
        var info = stat()
        XCTAssertEqual(stat(fresh.path, &info), 0)
        XCTAssertEqual(Int(info.st_mode & 0o7777), 0o666 & ~Int(mask))
    }

    // MARK: Temporary files of killed saves

    func testASaveSweepsTheUnlockedTemporaryFilesOfItsTarget() throws {
        let url = directory.appendingPathComponent("model.safetensors")
        try SafeTensors.write(tensors, to: url)
        // What a save killed by SIGKILL leaves: a temporary file nobody holds.
        let stale = directory.appendingPathComponent(".model.safetensors.\(UUID().uuidString).tmp")
        try Data(repeating: 7, count: 1000).write(to: stale)
        // A temporary file a live writer holds locked, and one of another target.
        let live = directory.appendingPathComponent(".model.safetensors.\(UUID().uuidString).tmp")
        try Data(repeating: 8, count: 10).write(to: live)
        let descriptor = open(live.path, O_RDONLY)
        XCTAssertGreaterThanOrEqual(descriptor, 0)
        defer { close(descriptor) }
        XCTAssertEqual(flock(descriptor, LOCK_EX), 0)
        let unrelated = directory.appendingPathComponent(".other.safetensors.\(UUID().uuidString).tmp")
        try Data(repeating: 9, count: 10).write(to: unrelated)

        try SafeTensors.write(other, to: url)
        let names = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
        XCTAssertFalse(names.contains(stale.lastPathComponent), "the stale temporary file outlived the next save")
        XCTAssertTrue(names.contains(live.lastPathComponent), "a locked temporary file was removed")
        XCTAssertTrue(names.contains(unrelated.lastPathComponent), "another target's temporary file was removed")
        XCTAssertEqual(names, [url.lastPathComponent, live.lastPathComponent, unrelated.lastPathComponent])
        XCTAssertEqual(try SafeTensors.read(from: url)["w"]?.scalars, [5, 6, 7, 8])
    }
}
