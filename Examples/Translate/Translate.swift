// Placeholder: the Translate example is being written (issue #7).
@main
struct Translate {
    static func main() {
        print("Translate: not written yet")
    }
}
