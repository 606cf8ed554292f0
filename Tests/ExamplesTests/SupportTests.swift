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

    func testDurations() {
        XCTAssertEqual(ProgressLine.duration(0.4234), "0.42s")
        XCTAssertEqual(ProgressLine.duration(12.34), "12.3s")
        XCTAssertEqual(ProgressLine.duration(125), "2m05s")
    }
}
