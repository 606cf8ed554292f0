// The benchmark cases (issues 8 and 15) and their arithmetic: FLOPs, and the GEMM shapes at
// which `sgemm` and the packed kernel are timed for reference.

/// The kind of recurrent module a case runs.
enum ModuleKind: String {
    case rnn = "RNN", lstm = "LSTM", gru = "GRU"
    /// ``LayerNormLSTM`` (PyTorch's reference `LayerNormLSTMCell`, fused).
    case layerNormLSTM = "LayerNormLSTM"

    /// Gate blocks stacked in `W_ih` and `W_hh`.
    var gates: Int {
        switch self {
        case .rnn: return 1
        case .lstm, .layerNormLSTM: return 4
        case .gru: return 3
        }
    }
}

/// A module benchmark: `layers` stacked layers of `kind`, batch-first input `(batch, steps, input)`,
/// bidirectional or not; `forwardOnly` cases time no training step.
struct ModuleCase {
    let name: String
    let input: Int
    let hidden: Int
    let layers: Int
    let batch: Int
    let steps: Int
    let kind: ModuleKind
    /// Both directions in every layer (`bidirectional: true`): layer `l > 0` then reads the
    /// two directions' outputs, `2·hidden` features.
    var bidirectional = false
    /// Only the forward pass is timed (a latency case: one sequence, as a live service runs it).
    var forwardOnly = false
    /// A cell beyond PyTorch's (issue 20): the same products, so the same FLOPs as the plain
    /// cell of the case's size, to which its speed is compared.
    var variant = CellOption.plain

    /// The cell options of issue 20's cases.
    enum CellOption {
        /// PyTorch's cell.
        case plain
        /// A GRU with the reset gate before the recurrent product (`resetAfter: false`).
        case resetBefore
        /// An LSTM with peepholes (`peepholes: true`).
        case peepholes
    }

    /// Directions per layer: 1, or 2 when bidirectional.
    var directions: Int { bidirectional ? 2 : 1 }

    /// Input features of layer `layer`: `input` for the first, `directions · hidden` above.
    func layerInput(_ layer: Int) -> Int { layer == 0 ? input : directions * hidden }

    /// FLOPs of one forward pass: per layer and direction `2·T·B·G·(I_l·H + H·H)` (multiply-adds
    /// of the two matrix products; elementwise work is not counted, as in the issue), with
    /// `I_l` from ``layerInput(_:)``. A bidirectional case counts both directions: twice a
    /// one-direction layer's work, and more above the first layer, whose input is twice as wide.
    var forwardFLOPs: Double {
        var total = 0.0
        for layer in 0..<layers {
            let i = layerInput(layer)
            total += Double(directions) * 2 * Double(steps * batch * kind.gates) * Double(i * hidden + hidden * hidden)
        }
        return total
    }

    /// A training step (forward, backward) counts as three forward passes.
    var trainingFLOPs: Double { 3 * forwardFLOPs }

    /// The GEMMs of one direction's forward pass as `(m, n, k)`: each layer's input projection
    /// `(T·B) × G·H × I_l` and its per-step recurrent product `B × G·H × H`.
    var gemmShapes: [GemmShape] {
        var shapes: [GemmShape] = []
        for layer in 0..<layers {
            let i = layerInput(layer)
            shapes.append(GemmShape(m: steps * batch, n: kind.gates * hidden, k: i))
        }
        shapes.append(GemmShape(m: batch, n: kind.gates * hidden, k: hidden))
        return shapes
    }

    /// The largest GEMM of the case (by multiply-adds), where `sgemm` is timed for reference.
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

/// The module cases of issues 8 and 15, in order (all batch first).
let moduleCases: [ModuleCase] = [
    ModuleCase(name: "seed-tiny", input: 10, hidden: 20, layers: 2, batch: 5, steps: 7, kind: .rnn),
    ModuleCase(name: "small", input: 32, hidden: 64, layers: 1, batch: 16, steps: 32, kind: .rnn),
    ModuleCase(name: "medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .rnn),
    ModuleCase(name: "large", input: 256, hidden: 512, layers: 1, batch: 64, steps: 100, kind: .rnn),
    ModuleCase(name: "deepbench", input: 1760, hidden: 1760, layers: 1, batch: 16, steps: 50, kind: .rnn),
    ModuleCase(name: "lstm-medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .lstm),
    ModuleCase(name: "gru-medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .gru),
    ModuleCase(name: "gru-reset-before-medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .gru,
               variant: .resetBefore),
    ModuleCase(name: "lstm-peephole-medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .lstm,
               variant: .peepholes),
    ModuleCase(name: "lstm-bidir", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .lstm,
               bidirectional: true),
    ModuleCase(name: "gru-bidir", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .gru,
               bidirectional: true),
    ModuleCase(name: "lstm-large", input: 256, hidden: 512, layers: 2, batch: 64, steps: 100, kind: .lstm),
    ModuleCase(name: "lstm-latency", input: 64, hidden: 256, layers: 2, batch: 1, steps: 100, kind: .lstm,
               forwardOnly: true),
    // Issue 15: a few items per step, trained: the stacked layers' backward as a wavefront.
    ModuleCase(name: "lstm-batch4", input: 64, hidden: 256, layers: 2, batch: 4, steps: 100, kind: .lstm),
    // Issue 20: the layer-normalised LSTM against lstm-medium (the same sizes).
    ModuleCase(name: "ln-lstm-medium", input: 64, hidden: 128, layers: 2, batch: 32, steps: 50, kind: .layerNormLSTM),
]

/// The other cases: one streaming step, the cost of a small recorded autograd op, and one
/// epoch of the seed tutorial's names classifier.
let extraCases = ["stream-step", "autograd-op", "names-epoch"]

let allCaseNames = moduleCases.map(\.name) + extraCases
