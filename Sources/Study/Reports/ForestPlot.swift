import Foundation

/// A forest plot (offline SVG): one line per row, its difference from a baseline as a dot and its 95 % interval as a
/// bar, against a vertical line at zero. What a comparison's reader looks at first: which rows clear zero by more
/// than their spread.
enum ForestPlot {
  struct Entry {
    let label: String
    /// The difference and the half-width of its 95 % interval (nan with one run: the dot alone is drawn).
    let delta: Double, halfWidth: Double
  }

  static func svg(_ title: String, _ entries: [Entry]) -> String {
    let (labelWidth, plotWidth, rowHeight, top) = (260.0, 380.0, 22.0, 40.0)
    let h = top + Double(entries.count) * rowHeight + 28
    let ends = entries.flatMap { e in e.halfWidth.isFinite ? [e.delta - e.halfWidth, e.delta + e.halfWidth] : [e.delta] }.filter(\.isFinite)
    // A symmetric range around zero, at least ±1 point, so zero sits in the middle and small rows stay readable.
    let reach = Swift.max(ends.map(abs).max() ?? 0, 0.01) * 1.1
    func x(_ v: Double) -> Double { labelWidth + (v + reach) / (2 * reach) * plotWidth }
    let esc = Report.escapeHTML
    var out = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(labelWidth + plotWidth + 20))' height='\(Int(h))'>"
    out += "<text x='4' y='16' font-size='13'>\(esc(title))</text>"
    out += String(format: "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='#888' stroke-dasharray='3,3'/>", x(0), top - 8, x(0), h - 24)
    for (v, anchor) in [(-reach, "start"), (0, "middle"), (reach, "end")] {
      out += String(format: "<text x='%.1f' y='%.1f' font-size='10' text-anchor='%@'>%+.1f</text>", x(v), h - 10, anchor, 100 * v)
    }
    for (i, e) in entries.enumerated() {
      let y = top + (Double(i) + 0.5) * rowHeight
      let colour = e.halfWidth.isFinite && e.delta - e.halfWidth > 0 ? "#2ca02c" : e.halfWidth.isFinite && e.delta + e.halfWidth < 0 ? "#d62728" : "#1f77b4"
      out += String(format: "<text x='4' y='%.1f' font-size='12'>%@</text>", y + 4, esc(e.label))
      guard e.delta.isFinite else { continue }
      if e.halfWidth.isFinite {
        out += String(format: "<line x1='%.1f' y1='%.1f' x2='%.1f' y2='%.1f' stroke='%@' stroke-width='2'/>", x(e.delta - e.halfWidth), y, x(e.delta + e.halfWidth), y, colour)
      }
      out += String(format: "<circle cx='%.1f' cy='%.1f' r='4' fill='%@'/>", x(e.delta), y, colour)
      out += String(format: "<text x='%.1f' y='%.1f' font-size='10' fill='#555'>%+.1f</text>", x(e.delta) + 6, y - 5, 100 * e.delta)
    }
    return out + "</svg>"
  }
}
