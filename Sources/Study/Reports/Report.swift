import Foundation
import Training

/// The experiment's report, built from its long-format result rows: a markdown table and an offline HTML
/// page with SVG curves.
public enum Report {
  static func meanStd(_ v: [Double]) -> (mean: Double, std: Double) {
    let m = v.reduce(0, +) / Double(Swift.max(v.count, 1))
    let s = v.count > 1 ? (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count - 1)).squareRoot() : 0
    return (m, s)
  }

  /// What a row's protocol did, in words.
  static func title(task: String, protocol p: String) -> String {
    switch p {
    case "random": "random init, all trained"
    case "head": "\(task) encoder, head only"
    case "discriminative": "\(task) encoder, discriminative fine-tune"
    case "full": "\(task) encoder, all trained at one lr"
    case "lpft": "\(task) encoder, head first, then all at one lr (LP-FT)"
    default: "\(task) encoder, \(p)"
    }
  }

  /// The rows grouped by (task, pretext epochs, protocol), in the order they first appear.
  static func groups(_ rows: [ResultRow]) -> [(key: String, title: String, rows: [ResultRow])] {
    var order: [String] = [], byKey: [String: [ResultRow]] = [:]
    for r in rows {
      let key = "\(r.task)/\(r.pretextEpochs)/\(r.protocol)"
      if byKey[key] == nil { order.append(key) }
      byKey[key, default: []].append(r)
    }
    return order.enumerated().map { i, key in
      let first = byKey[key]![0]
      return (key, "\(i + 1). " + title(task: first.task, protocol: first.protocol), byKey[key]!)
    }
  }

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
    for g in groups(r.rows) {
      let f = meanStd(g.rows.map(\.finalAccuracy)), b = meanStd(g.rows.map(\.bestAccuracy))
      let among = meanStd(g.rows.map(\.finalAccuracyAmongValidClasses))
      lines.append(String(format: "| %@ | %.2f %% ± %.2f | %.2f %% ± %.2f | %@ | %.2f %% ± %.2f | %d | %.0f s |", g.title, 100 * f.0,
                          100 * f.1, 100 * b.0, 100 * b.1, g.rows.map { String(format: "%.2f", 100 * $0.finalAccuracy) }.joined(separator: ", "),
                          100 * among.0, 100 * among.1, g.rows[0].epochs, g.rows.map(\.seconds).reduce(0, +)))
    }
    lines.append("")
    lines.append("Accuracy is over train/'s classes, as in the study; \"among val classes\" restricts the prediction to the classes val/ holds.")
    lines.append(String(format: "Pretext (%@): %d epochs, final valid loss %.4f, %.0f s. Dataset: %@.", r.config.pretext.task,
                        r.pretextHistory.count, r.pretextHistory.last?.validLoss ?? .nan, r.pretextSeconds, r.dataset))
    return lines.joined(separator: "\n") + "\n"
  }

  static let palette = ["#888", "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2"]

  /// An SVG line chart of per-epoch values, one line per run, coloured by group.
  static func svg(_ title: String, _ series: [(Int, [Double])]) -> String {
    let (w, h, pad) = (420.0, 240.0, 36.0)
    let all = series.flatMap(\.1).filter(\.isFinite)
    let lo = all.min() ?? 0, hi = Swift.max(all.max() ?? 1, lo + 1e-9)
    let n = Swift.max(series.map(\.1.count).max() ?? 1, 2)
    var out = "<svg xmlns='http://www.w3.org/2000/svg' width='\(Int(w))' height='\(Int(h))'><text x='\(pad)' y='16' font-size='13'>\(title)</text>"
    out += "<rect x='\(pad)' y='\(pad / 2 + 8)' width='\(w - 1.5 * pad)' height='\(h - 2 * pad)' fill='none' stroke='#ccc'/>"
    out += String(format: "<text x='2' y='%.0f' font-size='10'>%.3f</text><text x='2' y='%.0f' font-size='10'>%.3f</text>", pad / 2 + 16, hi, h - pad, lo)
    for (g, v) in series {
      let pts = v.enumerated().filter { $0.element.isFinite }.map { i, y in
        String(format: "%.1f,%.1f", pad + Double(i) / Double(n - 1) * (w - 1.5 * pad),
               pad / 2 + 8 + (1 - (y - lo) / (hi - lo)) * (h - 2 * pad))
      }.joined(separator: " ")
      out += "<polyline fill='none' stroke='\(palette[g % palette.count])' stroke-width='1.5' points='\(pts)'/>"
    }
    return out + "</svg>"
  }

  public static func html(_ r: ExperimentResult) -> String {
    let groups = groups(r.rows)
    let groupOf = Dictionary(uniqueKeysWithValues: groups.enumerated().flatMap { i, g in g.rows.map { ("\($0.protocol)/\($0.run)", i) } })
    let acc = r.scenarios.map { (groupOf["\($0.scenario.rawValue)/\($0.run)"] ?? 0, $0.history.map { $0.metrics["accuracy"] ?? .nan }) }
    let loss = r.scenarios.map { (groupOf["\($0.scenario.rawValue)/\($0.run)"] ?? 0, $0.history.map { $0.validLoss ?? .nan }) }
    let table = markdown(r).split(separator: "\n").filter { $0.hasPrefix("|") && !$0.hasPrefix("|---") }.map { row in
      "<tr>" + row.split(separator: "|").map { "<td>\(escapeHTML($0.trimmingCharacters(in: .whitespaces)))</td>" }.joined() + "</tr>"
    }.joined()
    let legend = groups.enumerated().map { i, g in
      "<span style='color:\(palette[i % palette.count])'>■</span> \(escapeHTML(g.title))"
    }.joined(separator: " &nbsp; ")
    return """
      <!doctype html><html><head><meta charset='utf-8'><title>Pretext experiment</title>
      <style>body{font-family:sans-serif;max-width:960px;margin:2em auto}td{padding:4px 10px;border-bottom:1px solid #ddd}</style>
      </head><body><h1>Pretext experiment</h1><p>Dataset: \(escapeHTML(r.dataset))</p><table>\(table)</table>
      <p>\(legend)</p>
      \(svg("validation accuracy per epoch", acc))\(svg("validation loss per epoch", loss))
      <h2>Pretext: \(escapeHTML(r.config.pretext.task))</h2><img src='\(escapeHTML(r.pictureFile))' style='image-rendering:pixelated;width:480px'>
      </body></html>
      """
  }
}
