import TraceModel
import Foundation

/// Inline SVG bar charts, drawn by hand: no scripts, no fonts beyond the page's, scalable to any width.
public enum SVGChart {
    public struct Bar: Sendable {
        public var label: String
        public var value: Double
        public var color: String
        /// Text printed after the bar ("3.10x").
        public var valueText: String
        public init(label: String, value: Double, color: String, valueText: String) {
            self.label = label
            self.value = value
            self.color = color
            self.valueText = valueText
        }
    }

    public struct Group: Sendable {
        public var label: String
        public var bars: [Bar]
        public init(label: String, bars: [Bar]) {
            self.label = label
            self.bars = bars
        }
    }

    public struct Segment: Sendable {
        public var label: String
        public var value: Double
        public var color: String
        public init(label: String, value: Double, color: String) {
            self.label = label
            self.value = value
            self.color = color
        }
    }

    public struct StackedRow: Sendable {
        public var label: String
        public var segments: [Segment]
        public var totalText: String
        public init(label: String, segments: [Segment], totalText: String) {
            self.label = label
            self.segments = segments
            self.totalText = totalText
        }
    }

    // Sized so that in a two-column layout on a laptop screen the 12.5-unit text renders at about 10 px.
    static let width = 720.0
    static let labelWidth = 122.0
    static let plotLeft = 130.0
    static let plotRight = 650.0
    static let rowHeight = 19.0
    static let barHeight = 14.0
    static let fontSize = 12.5

    /// Whether values spread wide enough that a linear axis would hide the small ones.
    public static func wantsLogScale(_ values: [Double]) -> Bool {
        let positive = values.filter { $0 > 0 }
        guard let low = positive.min(), let high = positive.max() else { return false }
        return high / low > 20
    }

    /// Grouped horizontal bars (one group per trace, one bar per strategy).
    public static func groupedBars(title: String, axisLabel: String, groups: [Group], logScale: Bool) -> String {
        let values = groups.flatMap { $0.bars.map(\.value) }
        let scale = Scale(values: values, logarithmic: logScale)
        let rows = groups.reduce(0) { $0 + $1.bars.count + 1 }
        let top = 34.0
        let height = top + Double(rows) * rowHeight + 38
        var svg = open(title: title, height: height)
        svg += axis(scale, top: top, bottom: height - 32, label: axisLabel + (logScale ? " (log scale)" : ""))
        var y = top
        for group in groups {
            svg += text(x: 4, y: y + 12, group.label, anchor: "start", weight: "bold")
            y += rowHeight
            for bar in group.bars {
                let x1 = scale.position(bar.value)
                svg += text(x: labelWidth, y: y + 12, bar.label, anchor: "end")
                svg += rect(x: plotLeft, y: y + 1, width: max(x1 - plotLeft, 0), height: barHeight, color: bar.color,
                            title: "\(group.label) \(bar.label): \(bar.valueText)")
                svg += text(x: max(x1, plotLeft) + 4, y: y + 12, bar.valueText, anchor: "start")
                y += rowHeight
            }
        }
        return svg + "</svg>\n"
    }

    /// Horizontal stacked bars (one per strategy) with a legend of the segment labels.
    public static func stackedBars(title: String, axisLabel: String, rows: [StackedRow]) -> String {
        let totals = rows.map { $0.segments.reduce(0) { $0 + $1.value } }
        let scale = Scale(values: totals, logarithmic: false)
        var legend: [(String, String)] = []
        for row in rows {
            for segment in row.segments where !legend.contains(where: { $0.0 == segment.label }) {
                legend.append((segment.label, segment.color))
            }
        }
        let legendPerLine = 4
        let legendLines = (legend.count + legendPerLine - 1) / legendPerLine
        let top = 26.0 + Double(legendLines) * 17 + 6
        let height = top + Double(rows.count) * rowHeight + 38
        var svg = open(title: title, height: height)
        for (index, entry) in legend.enumerated() {
            let x = plotLeft + Double(index % legendPerLine) * 130
            let y = 26.0 + Double(index / legendPerLine) * 17
            svg += "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"10\" height=\"10\" fill=\"\(entry.1)\"/>"
            svg += text(x: x + 14, y: y + 9, entry.0, anchor: "start")
        }
        svg += axis(scale, top: top, bottom: height - 32, label: axisLabel)
        var y = top
        for row in rows {
            svg += text(x: labelWidth, y: y + 12, row.label, anchor: "end")
            var sum = 0.0
            var x = plotLeft
            for segment in row.segments where segment.value > 0 {
                sum += segment.value
                let next = scale.position(sum)
                svg += rect(x: x, y: y + 1, width: max(next - x, 0), height: barHeight, color: segment.color,
                            title: "\(row.label) \(segment.label): \(NumberFormat.short(segment.value))")
                x = next
            }
            svg += text(x: x + 4, y: y + 12, row.totalText, anchor: "start")
            y += rowHeight
        }
        return svg + "</svg>\n"
    }

    /// Maps values to x positions between plotLeft and plotRight.
    struct Scale {
        let logarithmic: Bool
        let low: Double
        let high: Double
        let ticks: [Double]

        init(values: [Double], logarithmic: Bool) {
            self.logarithmic = logarithmic
            if logarithmic {
                let positive = values.filter { $0 > 0 }
                let lowExponent = floor(log10(positive.min() ?? 1))
                let highExponent = max(ceil(log10(positive.max() ?? 10)), lowExponent + 1)
                low = pow(10, lowExponent)
                high = pow(10, highExponent)
                ticks = stride(from: lowExponent, through: highExponent, by: 1).map { pow(10, $0) }
            } else {
                low = 0
                let maximum = max(values.max() ?? 1, 1e-9)
                let step = Scale.niceStep(maximum / 5)
                high = ceil(maximum / step) * step
                ticks = stride(from: 0, through: high + step / 2, by: step).map { $0 }
            }
        }

        static func niceStep(_ raw: Double) -> Double {
            let power = pow(10, floor(log10(raw)))
            for multiple in [1.0, 2, 2.5, 5, 10] where multiple * power >= raw { return multiple * power }
            return 10 * power
        }

        func position(_ value: Double) -> Double {
            let span = SVGChart.plotRight - SVGChart.plotLeft
            if logarithmic {
                guard value > 0 else { return SVGChart.plotLeft }
                let t = (log10(value) - log10(low)) / (log10(high) - log10(low))
                return SVGChart.plotLeft + max(0, min(1, t)) * span
            }
            return SVGChart.plotLeft + max(0, min(1, (value - low) / (high - low))) * span
        }

    }

    static func open(title: String, height: Double) -> String {
        var svg = "<svg class=\"chart\" viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-label=\"\(Escape.html(title))\" xmlns=\"http://www.w3.org/2000/svg\">"
        svg += "<title>\(Escape.html(title))</title>"
        svg += text(x: 4, y: 15, title, anchor: "start", weight: "bold", size: 15)
        return svg
    }

    static func axis(_ scale: Scale, top: Double, bottom: Double, label: String) -> String {
        var svg = ""
        for tick in scale.ticks {
            let x = scale.position(tick)
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(bottom))\" class=\"grid\"/>"
            svg += text(x: x, y: bottom + 14, NumberFormat.short(tick), anchor: "middle")
        }
        svg += "<line x1=\"\(f(plotLeft))\" y1=\"\(f(top))\" x2=\"\(f(plotLeft))\" y2=\"\(f(bottom))\" class=\"axis\"/>"
        svg += text(x: (plotLeft + plotRight) / 2, y: bottom + 28, label, anchor: "middle")
        return svg
    }

    static func rect(x: Double, y: Double, width: Double, height: Double, color: String, title: String) -> String {
        "<rect x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(width))\" height=\"\(f(height))\" fill=\"\(color)\"><title>\(Escape.html(title))</title></rect>"
    }

    static func text(x: Double, y: Double, _ content: String, anchor: String, weight: String = "normal", size: Double = fontSize) -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\" font-size=\"\(f(size))\" font-weight=\"\(weight)\">\(Escape.html(content))</text>"
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }
}
