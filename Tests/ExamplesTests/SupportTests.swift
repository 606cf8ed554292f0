import ExampleSupport
import XCTest

final class SupportTests: XCTestCase {
    func testNiceTicks() {
        let (ticks, step) = SVGPlot.niceTicks(0, 1, count: 6)
        XCTAssertEqual(step, 0.2, accuracy: 1e-12)
        XCTAssertEqual(ticks.count, 6)
        XCTAssertEqual(SVGPlot.niceTicks(100, 620, count: 6).ticks, [200, 400, 600])
        XCTAssertEqual(SVGPlot.tickLabel(0.25, step: 0.25), "0.25")
        XCTAssertEqual(SVGPlot.tickLabel(200, step: 100), "200")
    }

    func testEscapingAndLineChart() {
        XCTAssertEqual(SVGPlot.escape("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;")
        let chart = LineChart(title: "T & U", xLabel: "x", yLabel: "y",
                              series: [LineSeries(name: "one", x: [1, 2, 3], y: [1, .nan, 3]),
                                       LineSeries(name: "two", x: [1, 2], y: [0.1, 10], dashed: true)],
                              yScale: .logarithmic)
        let svg = chart.svg()
        XCTAssertTrue(svg.contains("T &amp; U"))
        XCTAssertTrue(svg.contains("stroke-dasharray"))
        XCTAssertTrue(svg.contains(">one<") && svg.contains(">two<"))
    }

    /// Decade ticks: one format per axis, no decade outside the data's range, 2× and 5×
    /// ticks when fewer than four decades are inside.
    func testLogTicks() {
        // 1e-5 … 1: six decades, powers of ten for all (never "1e-05" beside "0.0001").
        let wide = SVGPlot.logTicks(-5.1, 0.1)
        XCTAssertEqual(wide.map(\.label), ["10⁻⁵", "10⁻⁴", "10⁻³", "10⁻²", "10⁻¹", "10⁰"])
        XCTAssertEqual(wide.map(\.position), [-5, -4, -3, -2, -1, 0])
        // 0.15 … 1.2: inside one decade, plain numbers with 2× and 5×.
        let narrow = SVGPlot.logTicks(log10(0.15), log10(1.2))
        XCTAssertEqual(narrow.map(\.label), ["0.2", "0.5", "1"])
        // 45 decades: every 5th, at multiples of 5.
        XCTAssertEqual(SVGPlot.logTicks(-44.2, 0.3).map(\.label), ["10⁻⁴⁰", "10⁻³⁵", "10⁻³⁰", "10⁻²⁵", "10⁻²⁰", "10⁻¹⁵", "10⁻¹⁰", "10⁻⁵", "10⁰"])
        XCTAssertEqual(SVGPlot.logTickLabel(0.002), "2·10⁻³")
        // The chart's axis spans the data with a margin, not whole decades beyond it.
        let chart = LineChart(title: "t", xLabel: "x", yLabel: "y",
                              series: [LineSeries(name: "s", x: [1, 2], y: [0.0011, 0.9])], yScale: .logarithmic)
        let svg = chart.svg()
        XCTAssertTrue(svg.contains(">0.001<") && svg.contains(">0.01<") && svg.contains(">0.1<") && svg.contains(">1<"))
        XCTAssertFalse(svg.contains(">0.0001<"))
        XCTAssertFalse(svg.contains(">10<"))
    }

    /// Zeros on a log axis are marked (▼ on the bottom edge, explained in the legend), and
    /// a point mark is drawn with its label.
    func testZeroMarkersAndPointMarks() {
        var chart = LineChart(title: "t", xLabel: "x", yLabel: "y",
                              series: [LineSeries(name: "g", x: [0, 1, 2], y: [0, 1e-3, 1])], yScale: .logarithmic)
        chart.zeroLabel = "zero (underflow)"
        chart.marks = [PointMark(x: 2, y: nil, label: "diverged here")]
        let svg = chart.svg()
        XCTAssertTrue(svg.contains(">zero (underflow)<"))
        XCTAssertTrue(svg.contains(">diverged here<"))
        XCTAssertEqual(svg.components(separatedBy: "<polygon").count - 1, 2, "one ▼ for the zero, one in the legend")
    }

    func testDurations() {
        XCTAssertEqual(ProgressLine.duration(0.4234), "0.42s")
        XCTAssertEqual(ProgressLine.duration(12.34), "12.3s")
        XCTAssertEqual(ProgressLine.duration(125), "2m05s")
    }
}
