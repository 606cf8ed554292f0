// The benchmark cases of issue 8 and their arithmetic: FLOPs, and the GEMM shapes whose
// `sgemm` speed is the roofline each case is measured against.

/// The kind of recurrent module a case runs.
enum ModuleKind: String {
    case rnn = "RNN", lstm = "LSTM", gru = "GRU"

    /// Gate blocks stacked in `W_ih` and `W_hh`.
    var gates: Int {
        switch self {
        case .rnn: return 1
        case .lstm: return 4
        case .gru: return 3
        }
    }
}

/// A module benchmark: `layers` stacked layers of `kind`, batch-first input `(batch, steps, input)`.
struct ModuleCase {
    let name: String
    let input: Int
    let hidden: Int
    let layers: Int
    let batch: Int
    let steps: Int
    let kind: ModuleKind

    /// FLOPs of one forward pass: per layer `2·T·B·G·(I·H + H·H)` (multiply-adds of the two
    /// matrix products; elementwise work is not counted, as in the issue).
    var forwardFLOPs: Double {
        var total = 0.0
        for layer in 0..<layers {
            let i = layer == 0 ? input : hidden
            total += 2 * Double(steps * batch * kind.gates) * Double(i * hidden + hidden * hidden)
        }
        return total
    }

    /// A training step (forward, backward) counts as three forward passes.
    var trainingFLOPs: Double { 3 * forwardFLOPs }

    /// The GEMMs of a forward pass as `(m, n, k)`: each layer's input projection
    /// `(T·B) × G·H × I` and its per-step recurrent product `B × G·H × H`.
    var gemmShapes: [GemmShape] {
        var shapes: [GemmShape] = []
        for layer in 0..<layers {
            let i = layer == 0 ? input : hidden
            shapes.append(GemmShape(m: steps * batch, n: kind.gates * hidden, k: i))
        }
        shapes.append(GemmShape(m: batch, n: kind.gates * hidden, k: hidden))
        return shapes
    }

    /// The largest GEMM of the case (by multiply-adds): the roofline shape.
    var largestGemm: GemmShape { gemmShapes.max { $0.flops < $1.flops }! }

    /// The per-step recurrent GEMM `B × G·H × H`, the shape the sequential part runs at.
    var stepGemm: GemmShape { GemmShape(m: batch, n: kind.gates * hidden, k: hidden) }
}

/// `C (m×n) = A (m×k) · Bᵀ` with `B` stored `n×k`, as the recurrent layers call it.
struct GemmShape: Hashable, CustomStringConvertible {
    let m: Int, n: Int, k: Int
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    var description: String { "\(m)x\(n)x\(k)" }
}

/// The cases of issue 8, in order (all batch first).
let moduleCases: [ModuleCase] = [
    ModuleCase(name: "seed-tiny", input: 10, hidden: 20, layers: 2, batch: 5, steps: 7, kind: .rnn),
    ModuleCase(name: "small", input: 32, hidden: 64, layers: 1, batch: 16, steps: 32, kind: .rnn),
    ModuleCase(name: "medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .rnn),
    ModuleCase(name: "large", input: 256, hidden: 512, layers: 1, batch: 64, steps: 100, kind: .rnn),
    ModuleCase(name: "deepbench", input: 1760, hidden: 1760, layers: 1, batch: 16, steps: 50, kind: .rnn),
    ModuleCase(name: "lstm-medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .lstm),
    ModuleCase(name: "gru-medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .gru),
]

/// The other cases: one streaming step, the cost of a small recorded autograd op, and one
/// epoch of the seed tutorial's names classifier.
let extraCases = ["stream-step", "autograd-op", "names-epoch"]

let allCaseNames = moduleCases.map(\.name) + extraCases
