// Placeholder: the Tagging example is being written (issue #7).
@main
struct Tagging {
    static func main() {
        print("Tagging: not written yet")
    }
}
