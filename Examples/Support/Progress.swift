import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A training progress line: epoch (or step, with `unit: "step"`), loss, training time and
/// rate, after an optional label.
///
/// The clock counts training only: a program that evaluates between epochs calls
/// ``pause()`` before and ``resume()`` after, so that the time shown (and the rate) is the
/// same span as the program's "Trained in".
///
/// On a terminal (standard output is a TTY) it redraws one live line with `\r` and a bar,
/// at most ~20 times a second; otherwise (a pipe, a file, CI logs) it prints plain lines,
/// one per reported epoch, so that logs stay readable:
///
/// ```
/// [██████████░░░░░░░░░░]  epoch 100/200  loss 0.2143  1.2s  83.1 epochs/s
/// epoch 100/200  loss 0.2143  training 1.2s  83.1 epochs/s
/// ```
public final class ProgressLine {
    /// How the progress is shown.
    public enum Style: Sendable {
        /// A live bar redrawn in place with `\r` (for terminals).
        case live
        /// Plain lines, one per reported epoch.
        case plain
        /// Nothing (for tests and `--json` runs that want a clean output).
        case silent
    }

    /// The number of epochs of the run.
    public let totalEpochs: Int
    /// The unit of ``ProgressLine/update(epoch:fraction:loss:items:)``'s `items`, for the rate
    /// (`"names/s"`); `nil` shows epochs per second.
    public let itemUnit: String?
    /// How the progress is shown.
    public let style: Style
    /// Print a plain line every this many epochs (and at the last one).
    public let plainEvery: Int
    /// What is counted: `"epoch"`, or `"step"` for step-based training.
    public let unit: String
    /// Written before the count (`"lstm T=100"`), or `nil` for nothing.
    public let label: String?
    private var clockStart: Date? = Date()
    private var accumulated = 0.0
    private var lastDraw = Date.distantPast
    private var lastLength = 0
    private var items = 0
    private var lastPlainEpoch = 0

    /// A progress line for `totalEpochs` epochs; by default live on a terminal and plain
    /// otherwise (see ``ProgressLine/defaultStyle``).
    ///
    /// - Parameters:
    ///   - plainEvery: in plain style, report every this many epochs (and the last).
    ///   - itemUnit: when set, the rate is items per second in this unit.
    ///   - unit: what `epoch` counts in ``update(epoch:fraction:loss:items:)`` and in the
    ///     line: `"epoch"` (the default) or `"step"`.
    ///   - label: written at the start of the line.
    public init(totalEpochs: Int, style: Style = ProgressLine.defaultStyle, plainEvery: Int = 1, itemUnit: String? = nil,
                unit: String = "epoch", label: String? = nil) {
        self.totalEpochs = max(totalEpochs, 1)
        self.style = style
        self.plainEvery = max(plainEvery, 1)
        self.itemUnit = itemUnit
        self.unit = unit
        self.label = label
    }

    /// ``Style/live`` when standard output is a terminal, else ``Style/plain``.
    public static var defaultStyle: Style { isatty(STDOUT_FILENO) != 0 ? .live : .plain }

    /// The seconds the clock has run: since the progress line was made, less the spans
    /// between ``pause()`` and ``resume()``.
    public var elapsed: Double { accumulated + (clockStart.map { Date().timeIntervalSince($0) } ?? 0) }

    /// Stops the clock (before an evaluation that is not training); does nothing when it is
    /// stopped already.
    public func pause() {
        if let clockStart {
            accumulated += Date().timeIntervalSince(clockStart)
            self.clockStart = nil
        }
    }

    /// Restarts the clock after ``pause()``; does nothing when it runs.
    public func resume() {
        if clockStart == nil { clockStart = Date() }
    }

    /// Reports progress within epoch `epoch` (1-based): `fraction` of it done, the running
    /// `loss`, and `items` processed since the last report (for the rate). Only the live
    /// style shows progress within an epoch; the plain style prints at the end of an epoch
    /// (`fraction == 1`).
    public func update(epoch: Int, fraction: Double = 1, loss: Double, items: Int = 0) {
        self.items += items
        switch style {
        case .silent:
            return
        case .live:
            let now = Date()
            let last = epoch == totalEpochs && fraction >= 1
            guard last || now.timeIntervalSince(lastDraw) >= 0.05 else { return }
            lastDraw = now
            let done = min(1, (Double(epoch - 1) + min(fraction, 1)) / Double(totalEpochs))
            let width = 20, filled = Int((done * Double(width)).rounded(.down))
            let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
            let text = "[\(bar)]  " + fields(epoch: epoch, loss: loss, elapsedLabel: "")
            let padding = max(0, lastLength - text.count)
            lastLength = text.count
            FileHandle.standardOutput.write(Data(("\r" + text + String(repeating: " ", count: padding)).utf8))
        case .plain:
            guard fraction >= 1, epoch != lastPlainEpoch,
                  epoch % plainEvery == 0 || epoch == totalEpochs || epoch == 1 else { return }
            lastPlainEpoch = epoch
            print(fields(epoch: epoch, loss: loss, elapsedLabel: "training "))
        }
    }

    /// Ends the live line (a newline), so that later output starts on a fresh line.
    public func finish() {
        if style == .live && lastLength > 0 {
            FileHandle.standardOutput.write(Data("\n".utf8))
            lastLength = 0
        }
    }

    private func fields(epoch: Int, loss: Double, elapsedLabel: String) -> String {
        let seconds = elapsed
        let rate: String
        if let itemUnit {
            rate = String(format: "%.0f ", seconds > 0 ? Double(items) / seconds : 0) + itemUnit
        } else {
            rate = String(format: "%.1f \(unit)s/s", seconds > 0 ? Double(epoch) / seconds : 0)
        }
        let width = String(totalEpochs).count
        let epochText = String(repeating: " ", count: max(0, width - String(epoch).count)) + String(epoch)
        return (label.map { "\($0)  " } ?? "") + "\(unit) \(epochText)/\(totalEpochs)  loss \(String(format: "%.4f", loss))  \(elapsedLabel)\(Self.duration(seconds))  \(rate)"
    }

    /// A duration as `0.42s`, `12.3s` or `2m05s`.
    public static func duration(_ seconds: Double) -> String {
        if seconds < 10 { return String(format: "%.2fs", seconds) }
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        let whole = Int(seconds.rounded())
        return String(format: "%dm%02ds", whole / 60, whole % 60)
    }
}

/// The processor time used by this process so far, in seconds (all threads).
public func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
