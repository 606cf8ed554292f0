// Placeholder: the OneToOne example is being written (issue #7).
@main
struct OneToOne {
    static func main() {
        print("OneToOne: not written yet")
    }
}
