import ExampleSupport
import Foundation
import Recurrent

/// `‖∂L/∂h_t‖` over the steps of one model, at initialisation or after training.
public struct GradientNormProfile: Codable, Sendable {
    /// The model's ``LongRangeModelKind`` raw value.
    public var model: String
    /// `true` after training, `false` at initialisation.
    public var trained: Bool
    /// The sequence length.
    public var length: Int
    /// The loss on the probe batch.
    public var loss: Double
    /// `‖∂L/∂h_t‖` for `t = 0 … length−1`.
    public var norms: [Double]

    /// A profile.
    public init(model: String, trained: Bool, length: Int, loss: Double, norms: [Double]) {
        self.model = model
        self.trained = trained
        self.length = length
        self.loss = loss
        self.norms = norms
    }
}

/// The `long-range` plots.
public enum LongRangePlots {
    /// The colour of each model in every plot.
    public static func color(_ kind: LongRangeModelKind) -> String {
        switch kind {
        case .rnn: return "#d62728"
        case .rnnOrthogonal: return "#ff7f0e"
        case .gru: return "#2ca02c"
        case .lstm: return "#1f77b4"
        }
    }

    /// The dash pattern of each model (`nil`: solid), so that lines that coincide can still
    /// be told apart.
    public static func dashPattern(_ kind: LongRangeModelKind) -> String? {
        switch kind {
        case .rnn: return nil
        case .rnnOrthogonal: return "9 5"
        case .gru: return "2 3"
        case .lstm: return "12 4 3 4"
        }
    }

    /// The marker of each model.
    public static func marker(_ kind: LongRangeModelKind) -> MarkerShape {
        switch kind {
        case .rnn: return .circle
        case .rnnOrthogonal: return .square
        case .gru: return .triangle
        case .lstm: return .diamond
        }
    }

    /// A line of `kind` in its colour, dash pattern and marker; with `markerEvery` points
    /// between markers, staggered by model so that coinciding lines show both.
    static func series(_ kind: LongRangeModelKind, name: String, x: [Double], y: [Double], markerEvery: Int = 1,
                       lineWidth: Double = 2.2) -> LineSeries {
        let index = LongRangeModelKind.allCases.firstIndex(of: kind) ?? 0
        return LineSeries(name: name, x: x, y: y, color: color(kind), lineWidth: lineWidth, markers: true,
                          dashPattern: dashPattern(kind), markerShape: marker(kind), markerEvery: markerEvery,
                          markerOffset: markerEvery > 1 ? index * markerEvery / LongRangeModelKind.allCases.count : 0)
    }

    /// Test MSE against the sequence length, one line per model, and the 1/6 line of always
    /// predicting 1 (log scale).
    public static func mse(runs: [LongRangeRunMetrics], models: [LongRangeModelKind], lengths: [Int]) -> LineChart {
        var series: [LineSeries] = []
        for kind in models {
            let points = lengths.compactMap { T in runs.first { $0.model == kind.rawValue && $0.length == T }.map { (Double(T), $0.testMSE) } }
            series.append(Self.series(kind, name: kind.displayName, x: points.map(\.0), y: points.map(\.1)))
        }
        let xs = lengths.map(Double.init)
        series.append(LineSeries(name: "always predict 1 (MSE 1/6 ≈ 0.167)", x: [xs.min() ?? 0, xs.max() ?? 1],
                                 y: [AddingProblem.baselineMSE, AddingProblem.baselineMSE], color: "#555555", dashed: true, lineWidth: 1.6))
        var chart = LineChart(title: "Adding problem: test MSE against the sequence length",
                              xLabel: "Sequence length T", yLabel: "Test MSE (log scale)", series: series, yScale: .logarithmic)
        chart.legend = .below
        return chart
    }

    /// `‖∂L/∂h_t‖` against `t` on a log axis: after training in each model's line style, at
    /// initialisation thin and dotted in the same colour. A norm that underflowed to 0 (which a
    /// log axis cannot place) is a ▼ on the bottom edge.
    public static func gradients(_ profiles: [GradientNormProfile]) -> LineChart {
        let series = profiles.map { p -> LineSeries in
            let kind = LongRangeModelKind(rawValue: p.model)
            let name = (kind?.displayName ?? p.model) + (p.trained ? ", trained" : ", at initialisation")
            let x = p.norms.indices.map(Double.init)
            if let kind, p.trained {
                return Self.series(kind, name: name, x: x, y: p.norms, markerEvery: max(p.norms.count / 10, 1))
            }
            return LineSeries(name: name, x: x, y: p.norms, color: kind.map(color), lineWidth: 1.3, dashPattern: "1.5 3")
        }
        let T = profiles.first?.length ?? 0
        var chart = LineChart(title: "Adding problem, T = \(T): gradient of the loss w.r.t. each hidden state",
                              xLabel: "Step t", yLabel: "‖∂L/∂h_t‖ (log scale)", series: series, yScale: .logarithmic)
        chart.legend = .below
        chart.zeroLabel = "‖∂L/∂h_t‖ = 0 in Float (underflow), drawn on the bottom edge"
        return chart
    }

    /// The training loss of each model at one length, smoothed by a running mean over
    /// `window` steps (log scale), with the 1/6 line.
    public static func loss(runs: [(kind: LongRangeModelKind, losses: [Double])], length: Int, window: Int = 25) -> LineChart {
        var series = runs.map { run in
            Self.series(run.kind, name: run.kind.displayName, x: run.losses.indices.map { Double($0 + 1) },
                        y: runningMean(run.losses, window: window), markerEvery: max(run.losses.count / 12, 1), lineWidth: 1.8)
        }
        let steps = Double(runs.map(\.losses.count).max() ?? 1)
        series.append(LineSeries(name: "always predict 1", x: [1, steps], y: [AddingProblem.baselineMSE, AddingProblem.baselineMSE],
                                 color: "#555555", dashed: true, lineWidth: 1.6))
        var chart = LineChart(title: "Adding problem, T = \(length): training loss (running mean over \(window) steps)",
                              xLabel: "Step", yLabel: "MSE (log scale)", series: series, yScale: .logarithmic)
        chart.legend = .below
        return chart
    }

    /// The losses of the exploding experiment's two runs (log scale). A run that diverged
    /// is drawn up to its last finite loss, with a × where its loss stopped being finite
    /// (on the top edge) and the step written beside it.
    public static func clipping(unclipped: ExplodingRun, clipped: ExplodingRun, options: ExplodingOptions) -> LineChart {
        func label(_ run: ExplodingRun, _ name: String) -> String {
            run.metrics.divergedAtStep.map { "\(name) (non-finite at step \($0))" } ?? name
        }
        var chart = LineChart(
            title: "ReLU RNN, spectral radius \(options.gain), T = \(options.length), SGD lr \(options.learningRate): training loss",
            xLabel: "Step", yLabel: "MSE (log scale)",
            series: [
                LineSeries(name: label(clipped, "clipGradNorm(maxNorm: \(options.maxNorm))"), x: clipped.losses.indices.map { Double($0 + 1) },
                           y: clipped.losses, color: "#1f77b4", lineWidth: 2),
                LineSeries(name: label(unclipped, "no clipping"), x: unclipped.losses.indices.map { Double($0 + 1) },
                           y: unclipped.losses, color: "#d62728", lineWidth: 2, markers: true, markerShape: .square,
                           markerEvery: max(unclipped.losses.count / 20, 1)),
                LineSeries(name: "always predict 1", x: [1, Double(options.steps)],
                           y: [AddingProblem.baselineMSE, AddingProblem.baselineMSE], color: "#555555", dashed: true, lineWidth: 1.4),
            ],
            yScale: .logarithmic)
        for (run, name, color) in [(unclipped, "no clipping", "#d62728"), (clipped, "clipped", "#1f77b4")] {
            if let step = run.metrics.divergedAtStep {
                chart.marks.append(PointMark(x: Double(step), y: nil, label: "\(name): loss non-finite at step \(step), run stopped",
                                             color: color, shape: .cross))
            }
        }
        chart.legend = .below
        return chart
    }

    /// The running mean of `values` over the last `window` values (fewer at the start).
    public static func runningMean(_ values: [Double], window: Int) -> [Double] {
        var result: [Double] = [], sum = 0.0
        result.reserveCapacity(values.count)
        let w = max(window, 1)
        for (i, v) in values.enumerated() {
            sum += v
            if i >= w { sum -= values[i - w] }
            result.append(sum / Double(min(i + 1, w)))
        }
        return result
    }
}
