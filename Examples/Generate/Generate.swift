// Placeholder: the Generate example is being written (issue #7).
@main
struct Generate {
    static func main() {
        print("Generate: not written yet")
    }
}
