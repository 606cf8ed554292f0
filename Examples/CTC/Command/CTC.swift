// Connectionist temporal classification: a two-layer bidirectional LSTM reads the digits
// out of synthetic 1-D signals whose alignment to the steps is unknown (each digit a burst
// of a sine of its own frequency, of random length, between random silences), trained with
// CTCLoss and decoded greedily and by beam search; the label error rates are set against a
// baseline that always answers the most frequent digit.
//
//     swift run -c release ctc
//     swift run -c release ctc --epochs 60 --hidden 32 --json
import ArgumentParser
import ExampleSupport
import CTCExample
import Foundation
import Recurrent

/// The `ctc` command.
@main
struct CTC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ctc",
        abstract: "Read digit sequences out of unaligned synthetic signals with a bidirectional LSTM and CTCLoss.",
        discussion: """
        Data: signals of 2 to --max-digits digits generated from --seed; each digit d is a \
        burst of 6–9 steps of a sine of (d+1)/24 cycles per step, the bursts separated by 1–3 \
        silent steps, plus Gaussian noise. The model is LSTM(1→h, 2 layers, bidirectional) + \
        Linear(2h→11) + log-softmax over the blank and the ten digits, trained with CTCLoss, \
        Adam, a one-cycle learning rate peaking at --lr and gradients clipped to norm 1. The \
        test signals are decoded greedily and by beam search (beam 8); the label error rate is \
        the edit distance over the number of true digits. The baseline answers the training \
        set's most frequent digit, as many times as the median number of digits.
        """)

    @Option(help: "The number of passes over the training signals.")
    var epochs: Int = 40

    @Option(help: "The hidden size of each direction of the LSTM.")
    var hidden: Int = 24

    @Option(help: "The peak learning rate of the one-cycle schedule (Adam).")
    var lr: Double = 3e-2

    @Option(name: .customLong("batch-size"), help: "The mini-batch size.")
    var batchSize: Int = 8

    @Option(name: .customLong("train-count"), help: "The number of training signals.")
    var trainCount: Int = 256

    @Option(name: .customLong("test-count"), help: "The number of test signals.")
    var testCount: Int = 128

    @Option(name: .customLong("max-digits"), help: "The largest number of digits in a signal (at least 2).")
    var maxDigits: Int = 4

    @Option(help: "The standard deviation of the Gaussian noise added to the signals.")
    var noise: Float = 0.1

    @Option(help: "The seed of the data, the initialisation and the shuffles.")
    var seed: UInt64 = 0

    @OptionGroup var common: CommonOptions

    /// The upper bounds that keep a mistyped option from allocating without end.
    static let maxCount = 1_000_000, maxHidden = 4_096, maxDigitsBound = 1_000

    func validate() throws {
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard (1...Self.maxHidden).contains(hidden) else {
            throw ValidationError("--hidden must be between 1 and \(Self.maxHidden), got \(hidden)")
        }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive and finite, got \(lr)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard (1...Self.maxCount).contains(trainCount) else {
            throw ValidationError("--train-count must be between 1 and \(Self.maxCount), got \(trainCount)")
        }
        guard (1...Self.maxCount).contains(testCount) else {
            throw ValidationError("--test-count must be between 1 and \(Self.maxCount), got \(testCount)")
        }
        guard (2...Self.maxDigitsBound).contains(maxDigits) else {
            throw ValidationError("--max-digits must be between 2 and \(Self.maxDigitsBound), got \(maxDigits)")
        }
        guard noise >= 0, noise.isFinite else { throw ValidationError("--noise must be non-negative and finite, got \(noise)") }
    }

    /// The report of `--json`.
    struct Report: Encodable {
        var greedyLabelErrorRate: Double
        var beamLabelErrorRate: Double
        var baselineLabelErrorRate: Double
        var epochLosses: [Float]
        var dataSeconds: Double
        var trainSeconds: Double
    }

    func run() throws {
        common.applyThreads()
        print("ctc: LSTM(1 → \(hidden), 2 layers, bidirectional) + Linear(\(2 * hidden) → 11), CTCLoss, Adam one-cycle lr \(lr), "
              + "\(epochs) epochs of \(trainCount) signals (2–\(maxDigits) digits, noise \(noise)), batch \(batchSize), seed \(seed)")
        let dataStart = Date()
        var generator = SeededGenerator(seed: seed)
        let train = try CTCDigitsData.generate(count: trainCount, maxDigits: maxDigits, noise: noise, using: &generator)
        let test = try CTCDigitsData.generate(count: testCount, maxDigits: maxDigits, noise: noise, using: &generator)
        let dataSeconds = Date().timeIntervalSince(dataStart)

        // trainCTCDigits reports the epoch losses at the end, so the progress is one line
        // before and the per-epoch losses after.
        print("training and decoding \(testCount) test signals...")
        let trainStart = Date()
        let result = try trainCTCDigits(train: train, test: test, hidden: hidden, epochs: epochs, batchSize: batchSize,
                                        learningRate: lr, seed: seed)
        let trainSeconds = Date().timeIntervalSince(trainStart)
        let width = String(epochs).count
        for (index, loss) in result.losses.enumerated() where (index + 1) % max(epochs / 10, 1) == 0 || index == 0 || index + 1 == epochs {
            let epoch = String(index + 1)
            print("epoch \(String(repeating: " ", count: width - epoch.count))\(epoch)/\(epochs)  loss \(String(format: "%.4f", loss))")
        }

        let folder = common.outputFolder
        let lossURL = folder.appendingPathComponent("ctc-loss.svg")
        var chart = LineChart(
            title: String(format: "CTC: training loss (test label error rate: greedy %.1f%%, beam %.1f%%, baseline %.1f%%)",
                          100 * result.greedyErrorRate, 100 * result.beamErrorRate, 100 * result.baselineErrorRate),
            xLabel: "epoch", yLabel: "mean CTC loss",
            series: [LineSeries(name: "bidirectional LSTM, hidden \(hidden)",
                                x: result.losses.indices.map { Double($0 + 1) }, y: result.losses.map(Double.init),
                                markers: epochs <= 60)],
            yScale: .logarithmic)
        chart.legend = .insideTopRight   // the loss falls from the top left
        try SVGPlot.write(chart.svg(), to: lossURL)

        print("")
        print("Label error rate on \(testCount) unseen signals (edit distance per true digit):")
        func row(_ label: String, _ value: Double) -> String {
            "  " + label.padding(toLength: 34, withPad: " ", startingAt: 0) + String(format: "%6.1f%%", 100 * value)
        }
        print(row("greedy decoding", result.greedyErrorRate))
        print(row("beam search (beam 8)", result.beamErrorRate))
        print(row("baseline (most frequent digit)", result.baselineErrorRate))
        print("Training and decoding: \(ProgressLine.duration(trainSeconds))")
        print("Plot: \(lossURL.path)")
        if common.json {
            try JSONReport.print(Report(greedyLabelErrorRate: result.greedyErrorRate, beamLabelErrorRate: result.beamErrorRate,
                                        baselineLabelErrorRate: result.baselineErrorRate, epochLosses: result.losses,
                                        dataSeconds: dataSeconds, trainSeconds: trainSeconds))
        }
    }
}
