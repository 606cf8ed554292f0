import Foundation

/// Small, dependency-free SVG charts for the examples: line charts with axes, ticks, axis
/// labels, a legend and several series, and a labelled heat map (for confusion matrices).
/// The files open in any browser and convert with `rsvg-convert` or ImageMagick.
public enum SVGPlot {
    /// The default series colours (Tableau 10).
    public static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                 "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    /// `text` with the XML special characters escaped.
    public static func escape(_ text: String) -> String {
        var result = ""
        for c in text {
            switch c {
            case "&": result += "&amp;"
            case "<": result += "&lt;"
            case ">": result += "&gt;"
            case "\"": result += "&quot;"
            case "'": result += "&apos;"
            default: result.append(c)
            }
        }
        return result
    }

    /// Writes `svg` to `url`, creating the parent folder if needed.
    ///
    /// - Throws: the file system's error when the folder or the file cannot be written.
    public static func write(_ svg: String, to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(svg.utf8).write(to: url, options: .atomic)
    }

    /// About `count` "nice" tick values (multiples of 1, 2 or 5 × 10ᵏ) covering
    /// `low...high`, and the step between them.
    public static func niceTicks(_ low: Double, _ high: Double, count: Int = 6) -> (ticks: [Double], step: Double) {
        guard high > low, low.isFinite, high.isFinite else { return ([low], 1) }
        let raw = (high - low) / Double(max(count - 1, 1))
        let magnitude = pow(10, floor(log10(raw)))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 2.5 ? 2.5 : fraction <= 5 ? 5 : 10
        let step = nice * magnitude
        var ticks: [Double] = []
        var v = ceil(low / step - 1e-9) * step
        while v <= high + step * 1e-9 {
            ticks.append(abs(v) < step * 1e-9 ? 0 : v)
            v += step
        }
        return (ticks, step)
    }

    /// The ticks of a logarithmic axis over `low...high` (base-10 logarithms of the values):
    /// the powers of ten inside the range (every `k`-th one when there are more than about
    /// `count`), and, when fewer than four powers fall inside, also 2× and 5× each power,
    /// so that an axis always has labelled ticks. Returned as logarithms, with their labels
    /// in one format: plain numbers when all ticks lie in 0.001…10,000, else
    /// ``logTickLabel(_:)`` for all.
    public static func logTicks(_ low: Double, _ high: Double, count: Int = 8) -> [(position: Double, label: String)] {
        guard low.isFinite, high.isFinite, high > low else { return [] }
        let first = Int(ceil(low - 1e-9)), last = Int(floor(high + 1e-9))
        let decades = last >= first ? last - first + 1 : 0
        var values: [Double] = []
        if decades >= 4 {
            // The smallest of 1, 2, 5, 10, 20, 50, … decades apart that gives at most about count + 2 ticks.
            let target = Double(decades) / Double(max(count, 2) + 2)
            var every = 1
            for candidate in [1, 2, 5, 10, 20, 50, 100, 200, 500] { every = candidate; if Double(candidate) >= target { break } }
            // Multiples of `every` so that the labelled decades stay the same whatever the range.
            var d = Int((Double(first) / Double(every)).rounded(.up)) * every
            while d <= last { values.append(pow(10, Double(d))); d += every }
        } else {
            for d in (Int(floor(low)) - 1)...(Int(ceil(high)) + 1) {
                for m in [1.0, 2.0, 5.0] {
                    let v = m * pow(10, Double(d)), l = log10(v)
                    if l >= low - 1e-9 && l <= high + 1e-9 { values.append(v) }
                }
            }
        }
        // One format per axis: plain numbers when every tick is between 0.001 and 10,000,
        // else powers of ten.
        let plain = values.allSatisfy { $0 >= 1e-3 - 1e-12 && $0 <= 1e4 }
        return values.map { (log10($0), plain ? plainLogTickLabel($0) : logTickLabel($0)) }
    }

    /// A log-axis tick between 0.001 and 10,000 as a plain number with the decimals it
    /// needs (`0.002`, `0.5`, `20`).
    static func plainLogTickLabel(_ value: Double) -> String {
        let decimals = max(0, -Int(floor(log10(value) + 1e-9)))
        return String(format: "%.\(decimals)f", value)
    }

    /// A log-axis tick label, always in the same form: `m·10ᵏ` with superscript digits
    /// (`10⁻⁵`, `2·10⁻³`, `10⁰`), so that an axis never mixes `1e-05` with `0.0001`.
    public static func logTickLabel(_ value: Double) -> String {
        guard value > 0, value.isFinite else { return String(value) }
        let exponent = Int(floor(log10(value) + 1e-9))
        let mantissa = (value / pow(10, Double(exponent)) * 1000).rounded() / 1000
        let superscripts: [Character: Character] = ["-": "⁻", "0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴",
                                                    "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹"]
        let power = "10" + String(String(exponent).map { superscripts[$0] ?? $0 })
        if mantissa == 1 { return power }
        return String(format: "%g", mantissa) + "·" + power
    }

    /// A tick label with as many decimals as the step needs (`0.25`, `100`, `1e-05`).
    public static func tickLabel(_ value: Double, step: Double) -> String {
        if value != 0 && (abs(value) >= 1e6 || abs(value) < 1e-3) { return String(format: "%g", value) }
        let decimals = max(0, Int(ceil(-log10(step) - 1e-9)) + (step / pow(10, floor(log10(step))) == 2.5 ? 1 : 0))
        return String(format: "%.\(decimals)f", value)
    }
}

/// The shape of the markers drawn on a ``LineSeries``'s points.
public enum MarkerShape: String, Sendable, CaseIterable {
    /// A disc.
    case circle
    /// A square.
    case square
    /// An upward triangle.
    case triangle
    /// A diamond.
    case diamond
    /// A cross (×).
    case cross

    /// The SVG of this marker centred on `(x, y)` with radius `r`.
    func svg(x: Double, y: Double, r: Double, color: String) -> String {
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        switch self {
        case .circle:
            return "<circle cx=\"\(f(x))\" cy=\"\(f(y))\" r=\"\(f(r))\" fill=\"\(color)\"/>\n"
        case .square:
            return "<rect x=\"\(f(x - r))\" y=\"\(f(y - r))\" width=\"\(f(2 * r))\" height=\"\(f(2 * r))\" fill=\"\(color)\"/>\n"
        case .triangle:
            return "<polygon points=\"\(f(x)),\(f(y - 1.2 * r)) \(f(x + 1.1 * r)),\(f(y + 0.8 * r)) \(f(x - 1.1 * r)),\(f(y + 0.8 * r))\" fill=\"\(color)\"/>\n"
        case .diamond:
            return "<polygon points=\"\(f(x)),\(f(y - 1.3 * r)) \(f(x + 1.3 * r)),\(f(y)) \(f(x)),\(f(y + 1.3 * r)) \(f(x - 1.3 * r)),\(f(y))\" fill=\"\(color)\"/>\n"
        case .cross:
            return "<path d=\"M\(f(x - r)),\(f(y - r)) L\(f(x + r)),\(f(y + r)) M\(f(x - r)),\(f(y + r)) L\(f(x + r)),\(f(y - r))\" stroke=\"\(color)\" stroke-width=\"2\"/>\n"
        }
    }
}

/// A labelled point drawn over a ``LineChart`` (for example where a run diverged): a
/// marker at `(x, y)`, or at the top edge of the plot when `y` is `nil` (a value that is
/// not finite), and a short text beside it.
public struct PointMark: Sendable {
    /// The x coordinate.
    public var x: Double
    /// The y coordinate, or `nil` for the top edge of the plot.
    public var y: Double?
    /// The text written beside the marker.
    public var label: String
    /// The colour (CSS).
    public var color: String
    /// The marker.
    public var shape: MarkerShape

    /// A mark at `(x, y)` (`y` `nil`: the top edge).
    public init(x: Double, y: Double?, label: String, color: String = "#333333", shape: MarkerShape = .cross) {
        self.x = x
        self.y = y
        self.label = label
        self.color = color
        self.shape = shape
    }
}

/// One line of a ``LineChart``: its name in the legend, its points, and its look.
public struct LineSeries: Sendable {
    /// The name shown in the legend.
    public var name: String
    /// The x coordinates.
    public var x: [Double]
    /// The y coordinates (the same count as `x`); non-finite values break the line.
    public var y: [Double]
    /// The stroke colour (CSS), or `nil` for the chart's palette colour of this series.
    public var color: String?
    /// Whether the line is dashed.
    public var dashed: Bool
    /// The stroke width in pixels.
    public var lineWidth: Double
    /// Whether each point gets a small dot.
    public var markers: Bool
    /// The SVG `stroke-dasharray` of the line (`"7 4"`, `"2 3"`), or `nil` for a solid line
    /// (or the default dashes when ``dashed``).
    public var dashPattern: String?
    /// The marker drawn on the points when ``markers`` is set.
    public var markerShape: MarkerShape
    /// Draw a marker on every this many points (1: every point), so that long series stay
    /// readable and lines that overlap can still be told apart.
    public var markerEvery: Int
    /// The first point that gets a marker (to stagger the markers of overlapping series).
    public var markerOffset: Int

    /// A series of points `(x[i], y[i])`.
    ///
    /// - Precondition: `x` and `y` have the same count.
    public init(name: String, x: [Double], y: [Double], color: String? = nil, dashed: Bool = false,
                lineWidth: Double = 2, markers: Bool = false, dashPattern: String? = nil,
                markerShape: MarkerShape = .circle, markerEvery: Int = 1, markerOffset: Int = 0) {
        precondition(x.count == y.count, "LineSeries \(name): \(x.count) x values for \(y.count) y values")
        self.name = name
        self.x = x
        self.y = y
        self.color = color
        self.dashed = dashed
        self.lineWidth = lineWidth
        self.markers = markers
        self.dashPattern = dashPattern
        self.markerShape = markerShape
        self.markerEvery = max(markerEvery, 1)
        self.markerOffset = max(markerOffset, 0)
    }

    /// The `stroke-dasharray` attribute of the line, or an empty string.
    var dashAttribute: String {
        if let dashPattern { return " stroke-dasharray=\"\(dashPattern)\"" }
        return dashed ? " stroke-dasharray=\"7 4\"" : ""
    }
}

/// A line chart: a frame with ticks and grid lines on both axes, a title, axis labels, a
/// legend, and any number of series; optionally a logarithmic y axis and a shaded band
/// (to mark a test period, for example).
public struct LineChart: Sendable {
    /// How the y axis maps values.
    public enum Scale: Sendable {
        /// Evenly spaced values.
        case linear
        /// Evenly spaced powers of ten (only positive values are drawn).
        case logarithmic
    }

    /// The title above the plot.
    public var title: String
    /// The label under the x axis.
    public var xLabel: String
    /// The label left of the y axis.
    public var yLabel: String
    /// The lines, drawn in order (later ones on top).
    public var series: [LineSeries]
    /// The y axis scale.
    public var yScale: Scale
    /// The size of the image in pixels.
    public var width: Double, height: Double
    /// An x range to shade, with a label at its bottom (for example the test period).
    public var band: (from: Double, to: Double, label: String)?
    /// A custom x tick label (for example whole years); `nil` for plain numbers.
    public var xTickFormat: (@Sendable (Double) -> String)?
    /// Where the legend goes.
    public var legend: LegendPlacement = .insideTopLeft
    /// Labelled points drawn over the series (for example where a run diverged).
    public var marks: [PointMark] = []
    /// On a logarithmic axis, the legend's explanation of the ▼ drawn on the bottom edge for
    /// each value that is exactly 0 (which a log axis cannot place), such as `"‖g‖ = 0
    /// (underflow)"`; `nil` leaves zeros out silently (a break in the line).
    public var zeroLabel: String?

    /// Where a chart's legend is drawn.
    public enum LegendPlacement: Sendable {
        /// In a box inside the plot's top-left corner (the default).
        case insideTopLeft
        /// In a box inside the plot's top-right corner.
        case insideTopRight
        /// Under the x axis label, outside the plot; the image grows by the legend's height,
        /// so no curve is ever covered.
        case below
    }

    /// A chart of `series`.
    public init(title: String, xLabel: String, yLabel: String, series: [LineSeries], yScale: Scale = .linear,
                width: Double = 860, height: Double = 460, band: (from: Double, to: Double, label: String)? = nil,
                xTickFormat: (@Sendable (Double) -> String)? = nil) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.yScale = yScale
        self.width = width
        self.height = height
        self.band = band
        self.xTickFormat = xTickFormat
    }

    /// The chart as an SVG document.
    public func svg() -> String {
        let left = 78.0, right = 24.0, top = 46.0, bottom = 62.0
        let plotWidth = width - left - right, plotHeight = height - top - bottom
        let log = yScale == .logarithmic
        func yValue(_ v: Double) -> Double? {
            guard v.isFinite else { return nil }
            if log { return v > 0 ? log10(v) : nil }
            return v
        }
        let xs = (series.flatMap(\.x) + marks.map(\.x)).filter(\.isFinite)
        let ys = series.flatMap { $0.y.compactMap(yValue) } + marks.compactMap { $0.y.flatMap(yValue) }
        var xMin = xs.min() ?? 0, xMax = xs.max() ?? 1
        var yMin = ys.min() ?? 0, yMax = ys.max() ?? 1
        if xMax <= xMin { xMin -= 0.5; xMax += 0.5 }
        if yMax <= yMin { yMin -= 0.5; yMax += 0.5 }
        // Ticks, and axis ranges widened to whole ticks on y.
        let xTicks = SVGPlot.niceTicks(xMin, xMax, count: 8)
        var yTickValues: [Double]
        var yTickLabels: [String]
        if log {
            // The data's range and a small margin: never a whole empty decade.
            let pad = max((yMax - yMin) * 0.04, 0.05)
            yMin -= pad; yMax += pad
            let ticks = SVGPlot.logTicks(yMin, yMax)
            yTickValues = ticks.map(\.position)
            yTickLabels = ticks.map(\.label)
        } else {
            let pad = (yMax - yMin) * 0.04
            let t = SVGPlot.niceTicks(yMin - pad, yMax + pad, count: 6)
            yMin = min(yMin - pad, t.ticks.first ?? yMin)
            yMax = max(yMax + pad, t.ticks.last ?? yMax)
            yTickValues = t.ticks
            yTickLabels = t.ticks.map { SVGPlot.tickLabel($0, step: t.step) }
        }
        func px(_ x: Double) -> Double { left + (x - xMin) / (xMax - xMin) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (y - yMin) / (yMax - yMin)) * plotHeight }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }

        let legendRowHeight = 18.0
        let zeroRow = log && zeroLabel != nil && series.contains { $0.y.contains(0) }
        let legendRows = series.count + (zeroRow ? 1 : 0)
        let legendHeight = Double(legendRows) * legendRowHeight + 8
        let imageHeight = legend == .below && !series.isEmpty ? height + legendHeight + 8 : height
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(imageHeight))" viewBox="0 0 \(f(width)) \(f(imageHeight))" font-family="Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="28" text-anchor="middle" font-size="17" font-weight="bold">\(SVGPlot.escape(title))</text>

        """
        if let band {
            let a = px(max(band.from, xMin)), b = px(min(band.to, xMax))
            out += "<rect x=\"\(f(a))\" y=\"\(f(top))\" width=\"\(f(max(0, b - a)))\" height=\"\(f(plotHeight))\" fill=\"#f0f0f0\"/>\n"
            out += "<text x=\"\(f((a + b) / 2))\" y=\"\(f(top + plotHeight - 8))\" text-anchor=\"middle\" font-size=\"12\" fill=\"#666\">\(SVGPlot.escape(band.label))</text>\n"
        }
        // Grid and ticks.
        for (v, label) in zip(yTickValues, yTickLabels) where v >= yMin - 1e-9 && v <= yMax + 1e-9 {
            let y = py(v)
            out += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotWidth))\" y2=\"\(f(y))\" stroke=\"#e4e4e4\"/>\n"
            out += "<line x1=\"\(f(left - 5))\" y1=\"\(f(y))\" x2=\"\(f(left))\" y2=\"\(f(y))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\" font-size=\"12\">\(SVGPlot.escape(label))</text>\n"
        }
        for v in xTicks.ticks where v >= xMin - 1e-9 && v <= xMax + 1e-9 {
            let x = px(v)
            let label = xTickFormat?(v) ?? SVGPlot.tickLabel(v, step: xTicks.step)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight))\" stroke=\"#e4e4e4\"/>\n"
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight + 5))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 20))\" text-anchor=\"middle\" font-size=\"12\">\(SVGPlot.escape(label))</text>\n"
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
        // Axis labels.
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 16))\" text-anchor=\"middle\" font-size=\"14\">\(SVGPlot.escape(xLabel))</text>\n"
        out += "<text transform=\"translate(20 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">\(SVGPlot.escape(yLabel))</text>\n"
        // Series, clipped to the plot.
        out += "<defs><clipPath id=\"plot\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\"/></clipPath></defs>\n<g clip-path=\"url(#plot)\">\n"
        for (k, s) in series.enumerated() {
            let color = s.color ?? SVGPlot.palette[k % SVGPlot.palette.count]
            var segments: [[(Double, Double)]] = [[]]
            for (x, y) in zip(s.x, s.y) {
                if x.isFinite, let v = yValue(y) {
                    segments[segments.count - 1].append((px(x), py(v)))
                } else if !segments[segments.count - 1].isEmpty {
                    segments.append([])
                }
            }
            for segment in segments where !segment.isEmpty {
                let points = segment.map { "\(f($0.0)),\(f($0.1))" }.joined(separator: " ")
                out += "<polyline points=\"\(points)\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"\(f(s.lineWidth))\" stroke-linejoin=\"round\"\(s.dashAttribute)/>\n"
            }
            if s.markers {
                for (i, (x, y)) in zip(s.x, s.y).enumerated() where i >= s.markerOffset && (i - s.markerOffset) % s.markerEvery == 0 {
                    guard x.isFinite, let v = yValue(y) else { continue }
                    out += s.markerShape.svg(x: px(x), y: py(v), r: 3.2, color: color)
                }
            }
            if log && zeroLabel != nil {
                for (x, y) in zip(s.x, s.y) where x.isFinite && y == 0 {
                    out += "<polygon points=\"\(f(px(x) - 4)),\(f(top + plotHeight - 8)) \(f(px(x) + 4)),\(f(top + plotHeight - 8)) \(f(px(x))),\(f(top + plotHeight - 1))\" fill=\"\(color)\"/>\n"
                }
            }
        }
        for mark in marks where mark.x.isFinite {
            let x = px(mark.x), y = mark.y.flatMap(yValue).map(py) ?? top + 10
            out += mark.shape.svg(x: x, y: y, r: 5, color: mark.color)
            let anchor = x > left + plotWidth * 0.7 ? "end" : "start"
            let dx = anchor == "end" ? -10.0 : 10.0
            out += "<text x=\"\(f(x + dx))\" y=\"\(f(y + 4))\" text-anchor=\"\(anchor)\" font-size=\"12\" fill=\"\(mark.color)\">\(SVGPlot.escape(mark.label))</text>\n"
        }
        out += "</g>\n"
        // Legend.
        if !series.isEmpty {
            let rowHeight = legendRowHeight
            let longest = (series.map(\.name.count) + (zeroRow ? [zeroLabel?.count ?? 0] : [])).max() ?? 0
            let boxWidth = 44 + Double(longest) * 7.2
            let (x0, y0): (Double, Double) = switch legend {
            case .insideTopLeft: (left + 12, top + 12)
            case .insideTopRight: (left + plotWidth - 12 - boxWidth, top + 12)
            case .below: (left, height)
            }
            out += "<rect x=\"\(f(x0))\" y=\"\(f(y0))\" width=\"\(f(boxWidth))\" height=\"\(f(legendHeight))\" fill=\"white\" fill-opacity=\"0.9\" stroke=\"#bbb\"/>\n"
            for (k, s) in series.enumerated() {
                let color = s.color ?? SVGPlot.palette[k % SVGPlot.palette.count]
                let y = y0 + 4 + rowHeight * (Double(k) + 0.5)
                out += "<line x1=\"\(f(x0 + 8))\" y1=\"\(f(y))\" x2=\"\(f(x0 + 34))\" y2=\"\(f(y))\" stroke=\"\(color)\" stroke-width=\"\(f(s.lineWidth))\"\(s.dashAttribute)/>\n"
                if s.markers { out += s.markerShape.svg(x: x0 + 21, y: y, r: 3.2, color: color) }
                out += "<text x=\"\(f(x0 + 40))\" y=\"\(f(y + 4))\" font-size=\"12\">\(SVGPlot.escape(s.name))</text>\n"
            }
            if zeroRow, let zeroLabel {
                let y = y0 + 4 + rowHeight * (Double(series.count) + 0.5)
                out += "<polygon points=\"\(f(x0 + 17)),\(f(y - 4)) \(f(x0 + 25)),\(f(y - 4)) \(f(x0 + 21)),\(f(y + 3))\" fill=\"#555\"/>\n"
                out += "<text x=\"\(f(x0 + 40))\" y=\"\(f(y + 4))\" font-size=\"12\">\(SVGPlot.escape(zeroLabel))</text>\n"
            }
        }
        out += "</svg>\n"
        return out
    }
}

/// A heat map of a matrix with row and column labels, a colour bar, and the values written
/// in the cells — for a confusion matrix, rows are the true classes and columns the
/// predicted ones.
public struct HeatMap: Sendable {
    /// The title above the map.
    public var title: String
    /// The label of the rows (left).
    public var rowAxisLabel: String
    /// The label of the columns (bottom).
    public var columnAxisLabel: String
    /// The label of each row, top to bottom.
    public var rowLabels: [String]
    /// The label of each column, left to right.
    public var columnLabels: [String]
    /// The values, `values[row][column]`, coloured from white (`minimum`) to dark blue
    /// (`maximum`).
    public var values: [[Double]]
    /// The value drawn white; `nil` for the smallest value.
    public var minimum: Double?
    /// The value drawn darkest; `nil` for the largest value.
    public var maximum: Double?
    /// The format of the numbers written in the cells (`"%.2f"`), or `nil` for none; values
    /// below `annotationThreshold` are left blank.
    public var annotationFormat: String?
    /// The smallest value written in a cell.
    public var annotationThreshold: Double
    /// The size of a cell in pixels.
    public var cellSize: Double

    /// A heat map of `values` (`rowLabels.count` rows of `columnLabels.count` values).
    ///
    /// - Precondition: the labels match the matrix's dimensions.
    public init(title: String, rowAxisLabel: String, columnAxisLabel: String, rowLabels: [String],
                columnLabels: [String], values: [[Double]], minimum: Double? = nil, maximum: Double? = nil,
                annotationFormat: String? = "%.2f", annotationThreshold: Double = 0.005, cellSize: Double = 34) {
        precondition(values.count == rowLabels.count && values.allSatisfy { $0.count == columnLabels.count },
                     "HeatMap: the labels do not match the \(values.count)-row matrix")
        self.title = title
        self.rowAxisLabel = rowAxisLabel
        self.columnAxisLabel = columnAxisLabel
        self.rowLabels = rowLabels
        self.columnLabels = columnLabels
        self.values = values
        self.minimum = minimum
        self.maximum = maximum
        self.annotationFormat = annotationFormat
        self.annotationThreshold = annotationThreshold
        self.cellSize = cellSize
    }

    /// The colour of `t` in 0…1 on a white-to-blue scale.
    public static func color(_ t: Double) -> String {
        let u = min(max(t.isFinite ? t : 0, 0), 1)
        // From white (255,255,255) through (107,174,214) to (8,48,107).
        let stops: [(Double, Double, Double)] = [(255, 255, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107)]
        let scaled = u * Double(stops.count - 1)
        let i = min(Int(scaled), stops.count - 2), w = scaled - Double(i)
        let a = stops[i], b = stops[i + 1]
        return String(format: "#%02x%02x%02x", Int(a.0 + (b.0 - a.0) * w), Int(a.1 + (b.1 - a.1) * w), Int(a.2 + (b.2 - a.2) * w))
    }

    /// A vertical colour bar at `x`, `top` of `width` × `height` pixels from `low` (white,
    /// bottom) to `high` (dark blue, top), with about five labelled ticks on its right.
    public static func colorBar(x bx: Double, top: Double, width barWidth: Double, height: Double, low lo: Double, high hi: Double) -> String {
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        var out = ""
        let steps = 50
        for i in 0..<steps {
            let t0 = Double(i) / Double(steps)
            let y = top + height * (1 - t0 - 1 / Double(steps))
            out += "<rect x=\"\(f(bx))\" y=\"\(f(y))\" width=\"\(f(barWidth))\" height=\"\(f(height / Double(steps) + 0.5))\" fill=\"\(color(t0 + 0.5 / Double(steps)))\"/>\n"
        }
        out += "<rect x=\"\(f(bx))\" y=\"\(f(top))\" width=\"\(f(barWidth))\" height=\"\(f(height))\" fill=\"none\" stroke=\"#333\"/>\n"
        let ticks = SVGPlot.niceTicks(lo, hi, count: 5)
        for v in ticks.ticks where v >= lo - 1e-9 && v <= hi + 1e-9 {
            let y = top + height * (1 - (v - lo) / (hi - lo))
            out += "<line x1=\"\(f(bx + barWidth))\" y1=\"\(f(y))\" x2=\"\(f(bx + barWidth + 4))\" y2=\"\(f(y))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(bx + barWidth + 7))\" y=\"\(f(y + 4))\" font-size=\"11\">\(SVGPlot.escape(SVGPlot.tickLabel(v, step: ticks.step)))</text>\n"
        }
        return out
    }

    /// The heat map as an SVG document.
    public func svg() -> String {
        let rows = rowLabels.count, columns = columnLabels.count
        let longestRow = Double(rowLabels.map(\.count).max() ?? 0)
        let longestColumn = Double(columnLabels.map(\.count).max() ?? 0)
        let left = 40 + longestRow * 7.5, top = 50.0
        let gridWidth = Double(columns) * cellSize, gridHeight = Double(rows) * cellSize
        // Column labels that fit in a cell are written level; longer ones turned upright.
        let horizontalColumnLabels = longestColumn * 7.5 <= cellSize - 4
        let bottom = horizontalColumnLabels ? 48 : 40 + longestColumn * 7.5
        let barWidth = 16.0, barGap = 24.0, barLabels = 50.0
        // Wide enough for the title too (bold 17 px text: about 9.5 px a character).
        let titleWidth = Double(title.count) * 9.5 + 40
        let width = max(left + gridWidth + barGap + barWidth + barLabels, titleWidth)
        let height = top + gridHeight + bottom
        let flat = values.flatMap { $0 }.filter(\.isFinite)
        let lo = minimum ?? flat.min() ?? 0
        var hi = maximum ?? flat.max() ?? 1
        if hi <= lo { hi = lo + 1 }
        func f(_ v: Double) -> String { String(format: "%.2f", v) }

        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="28" text-anchor="middle" font-size="17" font-weight="bold">\(SVGPlot.escape(title))</text>

        """
        for r in 0..<rows {
            for c in 0..<columns {
                let v = values[r][c], t = (v - lo) / (hi - lo)
                let x = left + Double(c) * cellSize, y = top + Double(r) * cellSize
                out += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(cellSize))\" height=\"\(f(cellSize))\" fill=\"\(HeatMap.color(t))\" stroke=\"#ddd\" stroke-width=\"0.5\"/>\n"
                if let format = annotationFormat, v.isFinite, v >= annotationThreshold {
                    let text = String(format: format, v)
                    let ink = t > 0.55 ? "white" : "#222"
                    out += "<text x=\"\(f(x + cellSize / 2))\" y=\"\(f(y + cellSize / 2 + 3.5))\" text-anchor=\"middle\" font-size=\"\(f(min(11, cellSize / 3)))\" fill=\"\(ink)\">\(SVGPlot.escape(text))</text>\n"
                }
            }
        }
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(gridWidth))\" height=\"\(f(gridHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
        for (r, label) in rowLabels.enumerated() {
            out += "<text x=\"\(f(left - 6))\" y=\"\(f(top + (Double(r) + 0.5) * cellSize + 4))\" text-anchor=\"end\" font-size=\"12\">\(SVGPlot.escape(label))</text>\n"
        }
        for (c, label) in columnLabels.enumerated() {
            if horizontalColumnLabels {
                out += "<text x=\"\(f(left + (Double(c) + 0.5) * cellSize))\" y=\"\(f(top + gridHeight + 18))\" text-anchor=\"middle\" font-size=\"12\">\(SVGPlot.escape(label))</text>\n"
            } else {
                let x = left + (Double(c) + 0.5) * cellSize + 4, y = top + gridHeight + 8
                out += "<text transform=\"translate(\(f(x)) \(f(y))) rotate(-90)\" text-anchor=\"end\" font-size=\"12\">\(SVGPlot.escape(label))</text>\n"
            }
        }
        out += "<text x=\"\(f(left + gridWidth / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\" font-size=\"14\">\(SVGPlot.escape(columnAxisLabel))</text>\n"
        out += "<text transform=\"translate(16 \(f(top + gridHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">\(SVGPlot.escape(rowAxisLabel))</text>\n"
        out += HeatMap.colorBar(x: left + gridWidth + barGap, top: top, width: barWidth, height: gridHeight, low: lo, high: hi)
        out += "</svg>\n"
        return out
    }
}

/// A function of two variables over a rectangle drawn as a colour field (white to dark blue
/// for 0…1), with points of two or more classes on top — for a classifier's probability of
/// a class over the plane and the training points. Both axes get evenly spaced "nice" ticks
/// with horizontal labels.
public struct FieldPlot: Sendable {
    /// The title above the plot.
    public var title: String
    /// The axis labels.
    public var xLabel: String, yLabel: String
    /// The x range and the y range of the field.
    public var xRange: ClosedRange<Double>, yRange: ClosedRange<Double>
    /// The field's values, `values[row][column]`, row 0 at the top (largest y), column 0 at
    /// the left; each cell covers an equal part of the rectangle. Values are clamped to 0…1.
    public var values: [[Double]]
    /// The points drawn over the field: coordinates and class (an index into ``classNames``).
    public var points: [(x: Double, y: Double, label: Int)]
    /// The name of each class of points, for the legend.
    public var classNames: [String]
    /// The colour bar's label.
    public var valueLabel: String
    /// The size of the plot area in pixels (square cells need a matching aspect).
    public var plotWidth: Double, plotHeight: Double

    /// A field plot.
    ///
    /// - Precondition: every row of `values` has the same, non-zero count, and the ranges are
    ///   not empty.
    public init(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
                values: [[Double]], points: [(x: Double, y: Double, label: Int)], classNames: [String],
                valueLabel: String, plotWidth: Double = 560, plotHeight: Double = 350) {
        precondition(!values.isEmpty && !values[0].isEmpty && values.allSatisfy { $0.count == values[0].count },
                     "FieldPlot: expected a non-empty rectangular grid")
        precondition(xRange.upperBound > xRange.lowerBound && yRange.upperBound > yRange.lowerBound, "FieldPlot: empty range")
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.xRange = xRange
        self.yRange = yRange
        self.values = values
        self.points = points
        self.classNames = classNames
        self.valueLabel = valueLabel
        self.plotWidth = plotWidth
        self.plotHeight = plotHeight
    }

    /// The markers of the point classes, in order.
    static let classStyles: [(fill: String, shape: MarkerShape)] = [("#ff7f0e", .circle), ("#f0e442", .triangle),
                                                                    ("#2ca02c", .square), ("#9467bd", .diamond)]

    /// The plot as an SVG document. Runs of cells of one colour (the values quantised to
    /// 1/32) are drawn as one rectangle, which keeps the file small for fine grids.
    public func svg() -> String {
        let left = 70.0, top = 50.0, bottom = 62.0, barGap = 22.0, barWidth = 16.0, barLabels = 48.0
        let legendWidth = 40 + Double(classNames.map(\.count).max() ?? 0) * 7.2
        let width = left + plotWidth + barGap + barWidth + barLabels + legendWidth + 10
        let height = top + plotHeight + bottom
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        func px(_ x: Double) -> Double { left + (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * plotWidth }
        func py(_ y: Double) -> Double { top + (1 - (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound)) * plotHeight }
        let rows = values.count, columns = values[0].count
        let cellWidth = plotWidth / Double(columns), cellHeight = plotHeight / Double(rows)
        var out = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(f(width))" height="\(f(height))" viewBox="0 0 \(f(width)) \(f(height))" font-family="Helvetica, Arial, sans-serif">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="28" text-anchor="middle" font-size="17" font-weight="bold">\(SVGPlot.escape(title))</text>

        """
        func level(_ v: Double) -> Int { Int((min(max(v.isFinite ? v : 0, 0), 1) * 32).rounded()) }
        for r in 0..<rows {
            var c = 0
            while c < columns {
                let l = level(values[r][c])
                var end = c + 1
                while end < columns && level(values[r][end]) == l { end += 1 }
                // A hair wider than the run so that no seam shows between neighbours.
                out += "<rect x=\"\(f(left + Double(c) * cellWidth))\" y=\"\(f(top + Double(r) * cellHeight))\" width=\"\(f(Double(end - c) * cellWidth + 0.4))\" height=\"\(f(cellHeight + 0.4))\" fill=\"\(HeatMap.color(Double(l) / 32))\"/>\n"
                c = end
            }
        }
        // Ticks.
        let xTicks = SVGPlot.niceTicks(xRange.lowerBound, xRange.upperBound, count: 8)
        for v in xTicks.ticks where xRange.contains(v) {
            let x = px(v)
            out += "<line x1=\"\(f(x))\" y1=\"\(f(top + plotHeight))\" x2=\"\(f(x))\" y2=\"\(f(top + plotHeight + 5))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(x))\" y=\"\(f(top + plotHeight + 20))\" text-anchor=\"middle\" font-size=\"12\">\(SVGPlot.escape(SVGPlot.tickLabel(v, step: xTicks.step)))</text>\n"
        }
        let yTicks = SVGPlot.niceTicks(yRange.lowerBound, yRange.upperBound, count: 6)
        for v in yTicks.ticks where yRange.contains(v) {
            let y = py(v)
            out += "<line x1=\"\(f(left - 5))\" y1=\"\(f(y))\" x2=\"\(f(left))\" y2=\"\(f(y))\" stroke=\"#333\"/>\n"
            out += "<text x=\"\(f(left - 8))\" y=\"\(f(y + 4))\" text-anchor=\"end\" font-size=\"12\">\(SVGPlot.escape(SVGPlot.tickLabel(v, step: yTicks.step)))</text>\n"
        }
        // Points, clipped to the field.
        out += "<defs><clipPath id=\"field\"><rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\"/></clipPath></defs>\n<g clip-path=\"url(#field)\">\n"
        for p in points where p.x.isFinite && p.y.isFinite {
            let style = Self.classStyles[p.label % Self.classStyles.count]
            out += style.shape.svg(x: px(p.x), y: py(p.y), r: 3.4, color: "#222").replacingOccurrences(of: "fill=\"#222\"", with: "fill=\"\(style.fill)\" stroke=\"#222\" stroke-width=\"0.6\"")
        }
        out += "</g>\n"
        out += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotWidth))\" height=\"\(f(plotHeight))\" fill=\"none\" stroke=\"#333\"/>\n"
        out += "<text x=\"\(f(left + plotWidth / 2))\" y=\"\(f(height - 16))\" text-anchor=\"middle\" font-size=\"14\">\(SVGPlot.escape(xLabel))</text>\n"
        out += "<text transform=\"translate(22 \(f(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\" font-size=\"14\">\(SVGPlot.escape(yLabel))</text>\n"
        let bx = left + plotWidth + barGap
        out += HeatMap.colorBar(x: bx, top: top, width: barWidth, height: plotHeight, low: 0, high: 1)
        out += "<text x=\"\(f(bx + barWidth / 2))\" y=\"\(f(top - 8))\" text-anchor=\"middle\" font-size=\"11\">\(SVGPlot.escape(valueLabel))</text>\n"
        // Legend of the point classes.
        let lx = bx + barWidth + barLabels
        for (k, name) in classNames.enumerated() {
            let style = Self.classStyles[k % Self.classStyles.count]
            let y = top + 10 + 20 * Double(k)
            out += style.shape.svg(x: lx + 8, y: y, r: 4, color: "#222").replacingOccurrences(of: "fill=\"#222\"", with: "fill=\"\(style.fill)\" stroke=\"#222\" stroke-width=\"0.6\"")
            out += "<text x=\"\(f(lx + 18))\" y=\"\(f(y + 4))\" font-size=\"12\">\(SVGPlot.escape(name))</text>\n"
        }
        out += "</svg>\n"
        return out
    }
}
