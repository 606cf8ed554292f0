// Placeholder: the LongRange example is being written (issue #7).
@main
struct LongRange {
    static func main() {
        print("LongRange: not written yet")
    }
}
