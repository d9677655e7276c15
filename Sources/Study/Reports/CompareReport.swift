import Foundation
import SelfSupervised
import Training

/// A comparison's report: the leaderboard, one sentence per protocol on what won, accuracy against pretext
/// length, and (HTML, offline SVG) each pretext's curves and picture.
public enum CompareReport {
  static func pct(_ v: Double) -> String { v.isFinite ? String(format: "%.1f %%", 100 * v) : "n/a" }
  static func points(_ v: Double) -> String { v.isFinite ? String(format: "%+.1f", 100 * v) : "n/a" }

  /// What the data and the pretext were, in words.
  static func header(_ r: CompareResult) -> [String] {
    let (c, d, p, seed) = (r.config, r.config.downstream, r.config.pretext, r.config.runtime.seed)
    let fraction = c.data.labelFraction, images = r.pretexts.map(\.trainingItems).first.map(String.init) ?? "0"
    let recipe = p.recipe.rawValue + (p.recipe == .study ? " (lr \(p.lr))" : "")
    return [
      "Dataset: \(r.dataset). Downstream: \(r.labelledImages) labelled train/ images\(fraction < 1 ? " (label fraction \(fraction))" : ""), validated on \(r.validation); \(d.epochs) epochs at \(d.size) px, batch \(d.batch), lr \(d.lr), xresnet34 × \(c.widen), seeds \(seed) + 1000 · run.",
      r.pretexts.isEmpty ? "No pretext: the rows are random init and the semi-supervised protocols." :
      "Pretext: \(images) images of train/ and unsup/ without labels, \(p.size) px, batch \(p.batch), recipe \(recipe); "
        + (r.plan.pretextRuns == 1 ? "one pretext per task (a row's ± is the downstream seeds' spread only). "
          : "\(r.plan.pretextRuns) pretexts per task, seeds \(seed) + 1000 · k; run r fine-tunes pretext r mod \(r.plan.pretextRuns), so a row's ± includes the pretext's seed. ")
        + (r.pretextSawValid ? "It read val/'s images (never their labels) for its validation loss and picture only; it never trained on them."
          : "It never read val/ (its validation loss is on the tuning split's held-out train/ images)."),
      "Accuracy is the final epoch's over train/'s \(classCount(r)) classes (\"\(way(r))\")"
        + (showsValClasses(r) ? "; \"val classes\" restricts the prediction to val/'s \(r.validClasses ?? 10) classes and counts only images of them" : "")
        + ". Δ is against random init trained end to end on the same labelled images for the same epochs; its ± is the 95 % interval of the difference (Welch's t over the runs). What won compares the protocols that read a frozen encoder (knn, linear) with random weights under the same protocol.",
    ]
  }

  /// train/'s class count (ImageWang's 20 in results from before it was recorded) and its "N-way".
  static func classCount(_ r: CompareResult) -> Int { r.trainClasses ?? 20 }
  static func way(_ r: CompareResult) -> String { "\(classCount(r))-way" }
  /// Whether val/ holds fewer classes than train/ (ImageWang's dogs among 20 classes): only then does accuracy
  /// among val/'s classes say something the plain accuracy does not.
  static func showsValClasses(_ r: CompareResult) -> Bool { (r.validClasses ?? 10) < classCount(r) }

  /// One plain sentence per protocol: its best pretext row against its baseline (random weights under the same
  /// protocol where the comparison has that row, as for knn and linear; else random init trained end to end), and
  /// whether the difference exceeds the run-to-run spread.
  static func sentences(_ r: CompareResult) -> [String] {
    guard r.leaderboard.contains(where: { $0.task == "random" && $0.protocol == "random" }) else { return [] }
    let valClasses = showsValClasses(r)
    return r.plan.protocols.compactMap { p in
      guard let best = r.leaderboard.first(where: { $0.protocol == p && $0.task != "random" }) else { return nil }
      let sameProtocol = r.rows.filter { $0.task == "random" && $0.protocol == p }
      let baseline = sameProtocol.isEmpty ? r.rows.filter { $0.task == "random" && $0.protocol == "random" } : sameProtocol
      let baselineName = sameProtocol.isEmpty ? "random init's"
        : Scenario(rawValue: p)?.isSemiSupervised == true ? "\(p) from random init's" : "the random encoder's (\(p) of random weights)"
      let runs = r.rows.filter { $0.task == best.task && $0.pretextEpochs == best.pretextEpochs && $0.protocol == p }
      func compare(_ value: (ResultRow) -> Double, _ unit: String) -> String {
        let (a, b) = (runs.map(value), baseline.map(value))
        let delta = Report.meanStd(a).mean - Report.meanStd(b).mean, ci = Leaderboard.welchHalfWidth(a, b)
        let spread = ci.isFinite ? (abs(delta) > ci ? "beyond" : "within") + " the run-to-run spread (±\(String(format: "%.1f", 100 * ci)))"
          : "one run, so its spread is unknown"
        return "\(points(delta)) points \(unit)\(delta > 0 ? "above" : "below") \(baselineName) \(pct(Report.meanStd(b).mean)), \(spread)"
      }
      return "**\(p)**: the best is \(best.task) after \(best.pretextEpochs) pretext epochs, \(pct(best.meanAccuracy)) \(way(r))"
        + (valClasses ? " (\(pct(best.meanAccuracyValClasses)) val classes)" : "") + " over \(best.runs) run\(best.runs == 1 ? "" : "s"): "
        + compare(\.finalAccuracy, "") + (valClasses ? "; val classes " + compare(\.finalAccuracyAmongValidClasses, "") : "") + "."
    }
  }

  /// Whether a row's classifier got anything from the unlabelled images: a pretext trained on them, or a
  /// semi-supervised protocol that read them while it trained. (Random weights probed, random init: nothing.)
  static func usesUnlabelled(_ row: LeaderboardRow) -> Bool {
    row.task != "random" || Scenario(rawValue: row.protocol)?.isSemiSupervised == true
  }

  static func isBaseline(_ row: LeaderboardRow) -> Bool { row.task == "random" && row.protocol == "random" }

  /// A row in words: "joint from random init (rotation on the unlabelled images)", "inpainting, 6 pretext epochs, full".
  static func describe(_ r: CompareResult, _ row: LeaderboardRow) -> String {
    if row.task == "random" {
      switch Scenario(rawValue: row.protocol) {
      case .joint: return "joint from random init (\(r.config.downstream.semi.aux) on the unlabelled images while the classifier trains)"
      case .selftrain: return "selftrain (random init's classifier labels the unlabelled images; a student trains on both from random weights)"
      default: return "\(row.protocol) of random weights"
      }
    }
    return "\(row.task), \(row.pretextEpochs) pretext epochs, then \(row.protocol)"
  }

  /// The report's first sentence: what the unlabelled images bought — the best row that used them against random
  /// init, on the accuracy the comparison is about (val/'s classes where they are fewer than train/'s), with the 95 %
  /// interval of the difference, and the other accuracy beside it.
  static func headline(_ r: CompareResult) -> String? {
    guard let random = r.leaderboard.first(where: isBaseline) else { return nil }
    let valClasses = showsValClasses(r)
    func main(_ row: LeaderboardRow) -> (value: Double, delta: Double, ci: Double) {
      valClasses ? (row.meanAccuracyValClasses, row.deltaVsRandomValClasses, row.deltaCI95ValClasses) : (row.meanAccuracy, row.deltaVsRandom, row.deltaCI95)
    }
    let candidates = r.leaderboard.filter(usesUnlabelled)
    guard let best = candidates.max(by: { main($0).delta < main($1).delta }) else { return nil }
    let m = main(best), metric = valClasses ? "accuracy on val/'s \(r.validClasses ?? 10) classes" : "\(way(r)) accuracy"
    let interval = m.ci.isFinite ? String(format: " ± %.1f", 100 * m.ci) : ""
    let spread = m.ci.isFinite ? (abs(m.delta) > m.ci ? "beyond" : "within") + " the run-to-run spread (95 % interval of the difference)"
      : "one run each, so the spread is unknown"
    let other = valClasses ? "; \(way(r)) \(points(best.deltaVsRandom))\(best.deltaCI95.isFinite ? String(format: " ± %.1f", 100 * best.deltaCI95) : "")" : ""
    let runs = "\(best.runs) run\(best.runs == 1 ? "" : "s") against \(random.runs)"
    if m.delta > 0 {
      return "**What the unlabelled images bought: \(points(m.delta))\(interval) points of \(metric)** (random init \(pct(main(random).value)) → \(pct(m.value))), \(spread), with \(describe(r, best)); \(runs)\(other)."
    }
    return "**The unlabelled images bought nothing here:** no row that used them beats random init's \(metric) (\(pct(main(random).value))); the best, \(describe(r, best)), is \(points(m.delta))\(interval) points, \(spread); \(runs)\(other)."
  }

  /// Every row's difference from random init with its 95 % interval, on the headline's accuracy (and the other one).
  static func forestPlots(_ r: CompareResult) -> String {
    let rows = r.leaderboard.filter { !isBaseline($0) }
    guard !rows.isEmpty else { return "" }
    func label(_ b: LeaderboardRow) -> String { b.task == "random" ? "random init, \(b.protocol)" : "\(b.task) \(b.pretextEpochs) ep, \(b.protocol)" }
    var out = ""
    if showsValClasses(r) {
      out += ForestPlot.svg("Δ vs random init, val classes (points, 95 % interval)",
                            rows.map { .init(label: label($0), delta: $0.deltaVsRandomValClasses, halfWidth: $0.deltaCI95ValClasses) })
    }
    return out + ForestPlot.svg("Δ vs random init, \(way(r)) (points, 95 % interval)",
                                rows.map { .init(label: label($0), delta: $0.deltaVsRandom, halfWidth: $0.deltaCI95) })
  }

  static func table(_ r: CompareResult) -> [[String]] {
    let all = fullTable(r)
    guard !showsValClasses(r) else { return all }
    let dropped: Set<String> = ["val classes (mean ± std)", "Δ val classes"]  // they would repeat the plain columns
    let keep = all[0].indices.filter { !dropped.contains(all[0][$0]) }
    return all.map { row in keep.map { row[$0] } }
  }

  static func fullTable(_ r: CompareResult) -> [[String]] {
    [["rank", "task", "pretext epochs", "protocol", "runs", "accuracy (mean ± std)", "95 % CI", "Δ vs random", "val classes (mean ± std)",
      "Δ val classes", "pretext s", "eval s / run"]]
      + r.leaderboard.enumerated().map { i, b in
        ["\(i + 1)", b.task, "\(b.pretextEpochs)", b.protocol, "\(b.runs)", "\(pct(b.meanAccuracy)) ± \(String(format: "%.1f", 100 * b.stdAccuracy))",
         b.ci95Low.isFinite ? String(format: "%.1f–%.1f", 100 * b.ci95Low, 100 * b.ci95High) : "n/a",
         b.task == "random" && b.protocol == "random" ? "—" : points(b.deltaVsRandom) + (b.deltaCI95.isFinite ? String(format: " ± %.1f", 100 * b.deltaCI95) : ""),
         "\(pct(b.meanAccuracyValClasses)) ± \(String(format: "%.1f", 100 * b.stdAccuracyValClasses))",
         b.task == "random" && b.protocol == "random" ? "—" : points(b.deltaVsRandomValClasses) + (b.deltaCI95ValClasses.isFinite ? String(format: " ± %.1f", 100 * b.deltaCI95ValClasses) : ""),
         String(format: "%.0f", b.pretextSeconds), String(format: "%.0f", b.evalSecondsPerRun)]
      }
  }

  /// Per protocol, val-classes accuracy (plain accuracy when val/ has every class) of each task at each pretext
  /// length (the question "does longer help").
  static func lengthTables(_ r: CompareResult) -> [(String, [[String]])] {
    r.plan.protocols.map { p in
      let head = ["task"] + r.plan.pretextEpochs.map { "\($0) epochs" }
      let body = r.plan.tasks.map { t in
        [t] + r.plan.pretextEpochs.map { e in
          r.leaderboard.first { $0.task == t && $0.pretextEpochs == e && $0.protocol == p }.map { pct(lengthAccuracy(r, $0)) } ?? "—"
        }
      }
      return (p, [head] + body)
    }
  }

  /// The accuracy the length tables and charts show.
  static func lengthAccuracy(_ r: CompareResult, _ row: LeaderboardRow) -> Double {
    showsValClasses(r) ? row.meanAccuracyValClasses : row.meanAccuracy
  }
  static func lengthTitle(_ r: CompareResult) -> String {
    showsValClasses(r) ? "Val-classes accuracy against pretext length" : "Accuracy against pretext length"
  }

  static func markdownTable(_ rows: [[String]]) -> [String] {
    func line(_ r: [String]) -> String { "| " + r.map { $0.replacingOccurrences(of: "|", with: "\\|") }.joined(separator: " | ") + " |" }
    return [line(rows[0]), "|" + String(repeating: "---|", count: rows[0].count)] + rows.dropFirst().map(line)
  }

  public static func markdown(_ r: CompareResult) -> String {
    var out = ["# Pretext comparison", ""] + (headline(r).map { [$0, ""] } ?? []) + header(r).flatMap { [$0, ""] }
    out += ["## Leaderboard", ""] + markdownTable(table(r)) + ["", "## What won", ""]
    out += sentences(r).map { "- " + $0 } + [""]
    // Accuracy against pretext length says something only with two lengths or more.
    if r.plan.pretextEpochs.count > 1 && !r.plan.tasks.isEmpty {
      out += ["## \(lengthTitle(r))", ""]
      for (p, t) in lengthTables(r) { out += ["**\(p)**", ""] + markdownTable(t) + [""] }
    }
    out += ["## Pretexts", ""]
    for p in r.pretexts {
      let last = p.history.last
      out.append("- \(p.task)\(r.plan.pretextRuns > 1 ? " (`\(p.folder)`)" : ""): \(p.history.count) epochs, \(String(format: "%.0f", p.history.map(\.seconds).reduce(0, +))) s, final train loss \(String(format: "%.4f", last?.trainLoss ?? .nan)), valid loss \(String(format: "%.4f", last?.validLoss ?? .nan)); picture `\(p.pictureFile)`, log `\(p.folder)/log.csv`")
    }
    return out.joined(separator: "\n") + "\n"
  }

  static func htmlTable(_ rows: [[String]]) -> String {
    let esc = Report.escapeHTML
    return "<table><tr>" + rows[0].map { "<th>\(esc($0))</th>" }.joined() + "</tr>"
      + rows.dropFirst().map { "<tr>" + $0.map { "<td>\(esc($0))</td>" }.joined() + "</tr>" }.joined() + "</table>"
  }

  public static func html(_ r: CompareResult) -> String {
    let esc = Report.escapeHTML
    func bold(_ s: String) -> String {
      let parts = esc(s).components(separatedBy: "**")
      return parts.enumerated().map { $0.offset % 2 == 1 ? "<b>\($0.element)</b>" : $0.element }.joined()
    }
    var body = "<h1>Pretext comparison</h1>" + (headline(r).map { "<p>\(bold($0))</p>" } ?? "") + forestPlots(r)
    body += header(r).map { "<p>\(esc($0))</p>" }.joined()
    body += "<h2>Leaderboard</h2>" + htmlTable(table(r)) + "<h2>What won</h2><ul>" + sentences(r).map { "<li>\(bold($0))</li>" }.joined() + "</ul>"
    if r.plan.pretextEpochs.count > 1 && !r.plan.tasks.isEmpty { body += lengthCharts(r) }
    body += pretextSections(r)
    return """
      <!doctype html><html><head><meta charset='utf-8'><title>Pretext comparison</title>
      <style>body{font-family:sans-serif;max-width:1100px;margin:2em auto}td,th{padding:3px 8px;border-bottom:1px solid #ddd;font-size:13px}</style>
      </head><body>\(body)</body></html>
      """
  }

  /// Per protocol, each task's accuracy against pretext length (random init flat), with its table.
  static func lengthCharts(_ r: CompareResult) -> String {
    let esc = Report.escapeHTML
    var body = ""
    let random = r.leaderboard.first { $0.task == "random" && $0.protocol == "random" }.map { lengthAccuracy(r, $0) } ?? .nan
    let legend = (["random init (flat)"] + r.plan.tasks).enumerated().map { i, t in
      "<span style='color:\(Report.palette[i % Report.palette.count])'>■</span> \(esc(t))"
    }.joined(separator: " &nbsp; ")
    body += "<h2>\(lengthTitle(r))</h2><p>\(legend); x: \(r.plan.pretextEpochs.map(String.init).joined(separator: ", ")) epochs</p>"
    for (p, t) in lengthTables(r) {
      let series = [(0, Array(repeating: random, count: r.plan.pretextEpochs.count))]
        + r.plan.tasks.enumerated().map { i, task in
          (i + 1, r.plan.pretextEpochs.map { e in r.leaderboard.first { $0.task == task && $0.pretextEpochs == e && $0.protocol == p }.map { lengthAccuracy(r, $0) } ?? .nan })
        }
      body += Report.svg(esc(p), series) + htmlTable(t)
    }
    return body
  }

  /// Each pretext's curves, monitors and picture.
  static func pretextSections(_ r: CompareResult) -> String {
    let esc = Report.escapeHTML
    var body = "<h2>Pretexts</h2>"
    for p in r.pretexts {
      let loss = [(1, p.history.map(\.trainLoss)), (2, p.history.map { $0.validLoss ?? .nan })]
      let monitors = Set(p.history.flatMap { $0.metrics.keys }).sorted()
      body += "<h3>\(esc(p.task))\(r.plan.pretextRuns > 1 ? " (" + esc(p.folder) + ")" : "")</h3>" + Report.svg("loss per epoch (blue train, red valid)", loss)
      for m in monitors { body += Report.svg(esc(m), [(3, p.history.map { $0.metrics[m] ?? .nan })]) }
      body += "<br><img src='\(esc(p.pictureFile))' style='image-rendering:pixelated;width:480px'>"
    }
    return r.pretexts.isEmpty ? "" : body
  }
}
