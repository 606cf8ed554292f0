// The checkpoint saver of Scripts/kill_saves.sh: it saves checkpoints in a loop (to be killed
// with SIGKILL at a random moment) and checks what a killed loop left behind. Compiled by the
// script against the debug build of the package.
//
//     checkpoint-saver save  <file> <megabytes> <first generation>
//     checkpoint-saver check <file> <last generation reported saved>
//         (prints the generation it saved last, on the last line)
import Foundation
import Recurrent

/// A checkpoint of about `megabytes` MB whose every value is `generation`, with the
/// generation also in its metadata, so that a torn file is told from a whole one.
func checkpoint(generation: Int, megabytes: Int) -> Checkpoint {
    let count = max(1, megabytes * 1_000_000 / 4)
    let weight = Tensor(zeros: [count], value: Float(generation))
    return Checkpoint(model: ["weight": weight], optimizer: nil, randomState: nil,
                      extra: ["generation": String(generation), "megabytes": String(megabytes)])
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("checkpoint-saver: \(message)\n".utf8))
    exit(1)
}

@main
enum CheckpointSaver {
    static func main() {
        let arguments = CommandLine.arguments
        guard arguments.count == 5 || arguments.count == 4 else {
            fail("usage: checkpoint-saver save <file> <megabytes> <first generation> | check <file> <last saved>")
        }
        let url = URL(fileURLWithPath: arguments[2])
        switch arguments[1] {
        case "save":
            guard arguments.count == 5, let megabytes = Int(arguments[3]), let first = Int(arguments[4]) else { fail("bad arguments") }
            var generation = first
            while true {
                do {
                    try checkpoint(generation: generation, megabytes: megabytes).write(to: url)
                } catch {
                    fail("save \(generation) failed: \(error)")
                }
                // Reported only once the save has returned: the rename is done.
                FileHandle.standardOutput.write(Data("\(generation)\n".utf8))
                generation += 1
            }
        case "check":
            guard let lastSaved = Int(arguments[3]) else { fail("bad arguments") }
            let loaded: Checkpoint
            do {
                loaded = try Checkpoint(contentsOf: url)
            } catch {
                fail("the checkpoint does not load: \(error)")
            }
            guard let generation = loaded.extra["generation"].flatMap(Int.init),
                  let megabytes = loaded.extra["megabytes"].flatMap(Int.init),
                  let weight = loaded.model["weight"] else {
                fail("the checkpoint lacks its generation or its weight")
            }
            // The old checkpoint (the last save reported) or the new one (the save that was
            // killed after its rename, before it could report).
            guard generation == lastSaved || generation == lastSaved + 1 else {
                fail("the checkpoint holds generation \(generation), expected \(lastSaved) or \(lastSaved + 1)")
            }
            let expected = checkpoint(generation: generation, megabytes: megabytes).model["weight"]!
            guard weight.shape == expected.shape, weight.scalars.allSatisfy({ $0 == Float(generation) }) else {
                fail("the checkpoint of generation \(generation) has other values: a torn file")
            }
            // The next save sweeps what the killed one left.
            do {
                try checkpoint(generation: generation + 1, megabytes: megabytes).write(to: url)
            } catch {
                fail("the next save failed: \(error)")
            }
            let directory = url.deletingLastPathComponent()
            let prefix = "." + url.lastPathComponent + "."
            let left = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
                .filter { $0.hasPrefix(prefix) && $0.hasSuffix(".tmp") }
            guard left.isEmpty else { fail("temporary files outlived the next save: \(left)") }
            print("generation \(generation) whole (last reported \(lastSaved)); no temporary file after the next save")
            // The last line: the generation now on disk, for the next round.
            print(generation + 1)
        default:
            fail("unknown mode \(arguments[1])")
        }
    }
}
