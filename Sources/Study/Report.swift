import Foundation
import Training

/// The experiment's report: a markdown table and an offline HTML page with SVG curves.
public enum Report {
  static func meanStd(_ v: [Double]) -> (Double, Double) {
    let m = v.reduce(0, +) / Double(Swift.max(v.count, 1))
    let s = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
    return (m, s)
  }

  static let titles: [Scenario: String] = [
    .random: "1. random init, all trained", .head: "2. pretext encoder, head only",
    .discriminative: "3. pretext encoder, discriminative fine-tune", .full: "4. pretext encoder, all trained at one lr",
  ]

  /// Text made safe inside HTML (a dataset path may hold `<`, `&` or quotes).
  static func escapeHTML(_ s: String) -> String {
    var out = ""
    for c in s {
      switch c {
      case "&": out += "&amp;"
      case "<": out += "&lt;"
      case ">": out += "&gt;"
      case "\"": out += "&quot;"
      case "'": out += "&#39;"
      default: out.append(c)
      }
    }
    return out
  }

  public static func markdown(_ r: ExperimentResult) -> String {
    var lines = [
      "| scenario | final accuracy (mean ± std) | best accuracy (mean ± std) | runs (final) | among val classes (final) | epochs | wall time |",
      "|---|---:|---:|---|---:|---:|---:|",
    ]
    for s in Scenario.allCases {
      let runs = r.scenarios.filter { $0.scenario == s }
      guard !runs.isEmpty else { continue }
      let f = meanStd(runs.map(\.finalAccuracy)), b = meanStd(runs.map(\.bestAccuracy))
      let among = meanStd(runs.map(\.finalAccuracyAmongValidClasses))
      lines.append(String(format: "| %@ | %.2f %% ± %.2f | %.2f %% ± %.2f | %@ | %.2f %% ± %.2f | %d | %.0f s |", titles[s]!, 100 * f.0,
                          100 * f.1, 100 * b.0, 100 * b.1, runs.map { String(format: "%.2f", 100 * $0.finalAccuracy) }.joined(separator: ", "),
                          100 * among.0, 100 * among.1, runs[0].history.count, runs.map(\.seconds).reduce(0, +)))
    }
    lines.append("")
    lines.append("Accuracy is over train/'s classes, as in the study; \"among val classes\" restricts the prediction to the classes val/ holds.")
    lines.append(String(format: "Pretext (inpainting): %d epochs, final valid MSE %.4f, %.0f s. Dataset: %@.",
                        r.pretextHistory.count, r.pretextHistory.last?.validLoss ?? .nan, r.pretextSeconds, r.dataset))
    return lines.joined(separator: "\n") + "\n"
  }

  /// An SVG line chart of per-epoch values, one line per run, coloured by scenario.
  static func svg(_ title: String, _ series: [(Scenario, [Double])]) -> String {
    let (w, h, pad) = (420.0, 240.0, 36.0)
    let all = series.flatMap(\.1).filter(\.isFinite)
    let lo = all.min() ?? 0, hi = Swift.max(all.max() ?? 1, lo + 1e-9)
    let n = Swift.max(series.map(\.1.count).max() ?? 1, 2)
    let colors: [Scenario: String] = [.random: "#888", .head: "#1f77b4", .discriminative: "#d62728", .full: "#2ca02c"]
    var out = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(w))' height='\(Int(h))'><text x='\(pad)' y='16' font-size='13'>\(title)</text>"
    out += "<rect x='\(pad)' y='\(pad / 2 + 8)' width='\(w - 1.5 * pad)' height='\(h - 2 * pad)' fill='none' stroke='#ccc'/>"
    out += String(format: "<text x='2' y='%.0f' font-size='10'>%.3f</text><text x='2' y='%.0f' font-size='10'>%.3f</text>", pad / 2 + 16, hi, h - pad, lo)
    for (s, v) in series {
      let pts = v.enumerated().map { i, y in
        String(format: "%.1f,%.1f", pad + Double(i) / Double(n - 1) * (w - 1.5 * pad),
               pad / 2 + 8 + (1 - (y - lo) / (hi - lo)) * (h - 2 * pad))
      }.joined(separator: " ")
      out += "<polyline fill='none' stroke='\(colors[s]!)' stroke-width='1.5' points='\(pts)'/>"
    }
    return out + "</svg>"
  }

  public static func html(_ r: ExperimentResult, gridFile: String) -> String {
    let acc = r.scenarios.map { ($0.scenario, $0.history.map { $0.metrics["accuracy"] ?? .nan }) }
    let loss = r.scenarios.map { ($0.scenario, $0.history.map { $0.validLoss ?? .nan }) }
    let table = markdown(r).split(separator: "\n").filter { $0.hasPrefix("|") && !$0.hasPrefix("|---") }.map { row in
      "<tr>" + row.split(separator: "|").map { "<td>\(escapeHTML($0.trimmingCharacters(in: .whitespaces)))</td>" }.joined() + "</tr>"
    }.joined()
    return """
      <!doctype html><html><head><meta charset='utf-8'><title>Pretext experiment</title>
      <style>body{font-family:sans-serif;max-width:960px;margin:2em auto}td{padding:4px 10px;border-bottom:1px solid #ddd}</style>
      </head><body><h1>Pretext experiment</h1><p>Dataset: \(escapeHTML(r.dataset))</p><table>\(table)</table>
      <p><span style='color:#888'>■</span> random init &nbsp; <span style='color:#1f77b4'>■</span> head only &nbsp;
      <span style='color:#d62728'>■</span> discriminative</p>
      \(svg("validation accuracy per epoch", acc))\(svg("validation loss per epoch", loss))
      <h2>Inpainting (damaged | original | restored)</h2><img src='\(escapeHTML(gridFile))' style='image-rendering:pixelated;width:480px'>
      </body></html>
      """
  }
}
