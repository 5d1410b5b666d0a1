import Foundation
import TraceModel

/// Line charts on the bar charts' frame (title, x axis, scale, text): a metric against a swept value.
extension SVGChart {
    public struct Line: Sendable {
        public var label: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        /// Index into `points` of a point to ring (a knee), or nil.
        public var marked: Int?
        public init(label: String, color: String, points: [(x: Double, y: Double)], marked: Int? = nil) {
            self.label = label
            self.color = color
            self.points = points
            self.marked = marked
        }
    }

    /// Whether x values span at least two decades: then the x axis is logarithmic (docs/sweep.md).
    public static func wantsLogXAxis(_ values: [Double]) -> Bool {
        let positive = values.filter { $0 > 0 }
        guard let low = positive.min(), let high = positive.max() else { return false }
        return high / low >= 100
    }

    /// One line per entry of `lines` (a legend names them), y on the left, x below; `logX`/`logY` pick
    /// logarithmic axes (zeros sit on the axis).
    public static func lines(title: String, xLabel: String, yLabel: String, lines: [Line], logX: Bool, logY: Bool) -> String {
        let xs = Scale(values: lines.flatMap { $0.points.map(\.x) }, logarithmic: logX)
        let ys = Scale(values: lines.flatMap { $0.points.map(\.y) }, logarithmic: logY)
        let legendTop = 26.0
        let top = legendTop + Double(lines.count) * 16 + 22
        let plotHeight = 220.0
        let bottom = top + plotHeight
        let height = bottom + 38
        // The y scale maps onto the same span as x; its fraction of that span is the height fraction.
        func y(_ value: Double) -> Double {
            bottom - (ys.position(value) - plotLeft) / (plotRight - plotLeft) * plotHeight
        }
        var svg = open(title: title, height: height)
        for (index, line) in lines.enumerated() {
            let ly = legendTop + Double(index) * 16
            svg += "<line x1=\"\(f(plotLeft))\" y1=\"\(f(ly + 5))\" x2=\"\(f(plotLeft + 18))\" y2=\"\(f(ly + 5))\" stroke=\"\(line.color)\" stroke-width=\"2.5\"/>"
            svg += text(x: plotLeft + 24, y: ly + 9, line.label, anchor: "start")
        }
        svg += axis(xs, top: top, bottom: bottom, label: xLabel + (logX ? " (log scale)" : ""))
        for tick in ys.ticks {
            svg += "<line x1=\"\(f(plotLeft))\" y1=\"\(f(y(tick)))\" x2=\"\(f(plotRight))\" y2=\"\(f(y(tick)))\" class=\"grid\"/>"
            svg += text(x: plotLeft - 6, y: y(tick) + 4, NumberFormat.short(tick), anchor: "end")
        }
        svg += "<line x1=\"\(f(plotLeft))\" y1=\"\(f(bottom))\" x2=\"\(f(plotRight))\" y2=\"\(f(bottom))\" class=\"axis\"/>"
        svg += text(x: 4, y: top - 10, yLabel + (logY ? " (log)" : ""), anchor: "start")
        for line in lines {
            let coordinates = line.points.map { "\(f(xs.position($0.x))),\(f(y($0.y)))" }.joined(separator: " ")
            svg += "<polyline points=\"\(coordinates)\" fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\"/>"
            for (index, point) in line.points.enumerated() {
                let tip = "\(line.label): \(NumberFormat.short(point.x)) → \(NumberFormat.short(point.y))" + (index == line.marked ? " (knee)" : "")
                svg += "<circle cx=\"\(f(xs.position(point.x)))\" cy=\"\(f(y(point.y)))\" r=\"\(index == line.marked ? 6 : 3)\" "
                svg += index == line.marked ? "fill=\"none\" stroke=\"\(line.color)\" stroke-width=\"2\">" : "fill=\"\(line.color)\">"
                svg += "<title>\(Escape.html(tip))</title></circle>"
            }
        }
        return svg + "</svg>\n"
    }
}
