/// Traps with `message` when `condition` is false — `precondition` that keeps its message in
/// release builds (Swift's `precondition` prints only "Illegal instruction" under `-O`).
/// For internal invariants and programming errors only; input from outside is rejected with
/// thrown errors.
@inlinable @inline(__always)
func require(_ condition: Bool, _ message: @autoclosure () -> String, file: StaticString = #fileID, line: UInt = #line) {
    if _slowPath(!condition) { fatalError(message(), file: file, line: line) }
}
