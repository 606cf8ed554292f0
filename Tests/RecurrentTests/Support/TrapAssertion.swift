import Foundation
import XCTest

/// Asserts that `body` stops the process with a trap (a failed precondition), without
/// stopping the test run: the test binary runs itself again, filtered to the calling test,
/// with `RECURRENT_EXPECT_TRAP` naming it; in that child `body` runs and must end the
/// process by a signal.
///
/// Call it from a test method as `assertTraps(self) { … }`; only the first call in a test
/// method runs in the child (it traps there), so keep one call per test method.
func assertTraps(_ testCase: XCTestCase, function: String = #function, file: StaticString = #filePath,
                 line: UInt = #line, _ body: () -> Void) {
    let method = function.hasSuffix("()") ? String(function.dropLast(2)) : function
    let name = "RecurrentTests.\(type(of: testCase))/\(method)"
    if ProcessInfo.processInfo.environment["RECURRENT_EXPECT_TRAP"] == name {
        body()
        // Reaching this point means no trap: exit normally so that the parent fails.
        exit(0)
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: CommandLine.arguments[0])
    process.arguments = [name]
    var environment = ProcessInfo.processInfo.environment
    environment["RECURRENT_EXPECT_TRAP"] = name
    // The expected trap needs no backtrace; under ThreadSanitizer the backtracer never
    // returned, and the child hung instead of dying by its signal.
    environment["SWIFT_BACKTRACE"] = "enable=no"
    process.environment = environment
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do {
        try process.run()
    } catch {
        XCTFail("cannot run \(CommandLine.arguments[0]) for \(name): \(error)", file: file, line: line)
        return
    }
    process.waitUntilExit()
    XCTAssertEqual(process.terminationReason, .uncaughtSignal,
                   "expected \(name) to trap, it exited with status \(process.terminationStatus)", file: file, line: line)
}
