import Foundation

/// One line of a comparison's leaderboard: a (task, pretext length, protocol) over its runs. Accuracies are
/// fractions of the final epoch's (kNN: the vote's) accuracy on the validation images.
public struct LeaderboardRow: Codable, Sendable, Equatable {
  public let task: String
  public let pretextEpochs: Int
  public let `protocol`: String
  public let runs: Int
  public let meanAccuracy: Double
  public let stdAccuracy: Double
  /// The mean's 95 % confidence interval (Student's t over the runs; nan with one run).
  public let ci95Low: Double
  public let ci95High: Double
  /// This row's mean minus the random-init network's (trained end to end on the same labelled images for the
  /// same downstream epochs).
  public let deltaVsRandom: Double
  public let pretextSeconds: Double
  public let meanAccuracyValClasses: Double
  public let deltaVsRandomValClasses: Double
  public let stdAccuracyValClasses: Double
  /// Half-width of the 95 % interval of the delta (Welch's t; nan when either side has one run): a delta larger
  /// than it exceeds the run-to-run spread.
  public let deltaCI95: Double
  public let deltaCI95ValClasses: Double
  public let pretextImagesSeen: Int
  public let downstreamEpochs: Int
  public let labelledImages: Int
  public let evalSecondsPerRun: Double
  /// Per run (the mean over the row's runs; nil where not recorded): optimizer steps, and the labelled and
  /// unlabelled images they read. A semi-supervised row and random init at equal steps read equal labelled images.
  public var stepsPerRun: Int? = nil
  public var labelledImagesSeenPerRun: Int? = nil
  public var unlabelledImagesSeenPerRun: Int? = nil

  public static let csvColumns = [
    "task", "pretext_epochs", "protocol", "runs", "mean_accuracy", "std_accuracy", "ci95_low", "ci95_high", "delta_vs_random",
    "pretext_seconds", "mean_accuracy_val_classes", "delta_vs_random_val_classes", "std_accuracy_val_classes", "delta_ci95",
    "delta_ci95_val_classes", "pretext_images_seen", "downstream_epochs", "labelled_images", "eval_seconds_per_run",
    "steps", "labelled_images_seen", "unlabelled_images_seen",
  ]
}

public enum Leaderboard {
  /// Student's t quantile 0.975 for `df` degrees of freedom (linear between the table's integers; 1.96 + 2.4/df
  /// beyond 30, within 0.003 of the exact value).
  static func t975(_ df: Double) -> Double {
    let table = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131, 2.120,
                 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
    guard df.isFinite, df >= 1 else { return .nan }
    if df >= 30 { return 1.96 + 2.4 / df }
    let lo = Int(df.rounded(.down)), frac = df - Double(lo)
    return lo >= 30 ? table[29] : table[lo - 1] + frac * (table[Swift.min(lo, 29)] - table[lo - 1])
  }

  /// The 95 % interval of a mean of `v`.
  static func ci95(_ v: [Double]) -> (Double, Double) {
    let (m, s) = Report.meanStd(v)
    guard v.count > 1 else { return (.nan, .nan) }
    let h = t975(Double(v.count - 1)) * s / Double(v.count).squareRoot()
    return (m - h, m + h)
  }

  /// Half-width of the 95 % interval of mean(a) − mean(b), Welch's unequal-variance t.
  static func welchHalfWidth(_ a: [Double], _ b: [Double]) -> Double {
    guard a.count > 1, b.count > 1 else { return .nan }
    let (va, vb) = (pow(Report.meanStd(a).std, 2) / Double(a.count), pow(Report.meanStd(b).std, 2) / Double(b.count))
    let se = (va + vb).squareRoot()
    guard se > 0 else { return 0 }
    let df = pow(va + vb, 2) / (va * va / Double(a.count - 1) + vb * vb / Double(b.count - 1))
    return t975(df) * se
  }

  /// The rows grouped by (task, length, protocol) in first-seen order, sorted by mean accuracy (best first; the
  /// val-classes accuracy breaks ties).
  public static func rows(_ results: [ResultRow], pretextSeconds: (String, Int) -> Double, imagesSeen: (String, Int) -> Int,
                          labelledImages: Int) -> [LeaderboardRow] {
    var order: [String] = [], groups: [String: [ResultRow]] = [:]
    for r in results {
      let key = "\(r.task)\u{0}\(r.pretextEpochs)\u{0}\(r.protocol)"
      if groups[key] == nil { order.append(key) }
      groups[key, default: []].append(r)
    }
    let random = results.filter { $0.task == "random" && $0.protocol == "random" }
    let (randomAll, randomAmong) = (random.map(\.finalAccuracy), random.map(\.finalAccuracyAmongValidClasses))
    let board = order.map { key -> LeaderboardRow in
      let g = groups[key]!, first = g[0]
      let all = g.map(\.finalAccuracy), among = g.map(\.finalAccuracyAmongValidClasses)
      let (ci, m, ma) = (ci95(all), Report.meanStd(all), Report.meanStd(among))
      return LeaderboardRow(
        task: first.task, pretextEpochs: first.pretextEpochs, protocol: first.protocol, runs: g.count, meanAccuracy: m.mean,
        stdAccuracy: m.std, ci95Low: ci.0, ci95High: ci.1, deltaVsRandom: m.mean - Report.meanStd(randomAll).mean,
        pretextSeconds: pretextSeconds(first.task, first.pretextEpochs), meanAccuracyValClasses: ma.mean,
        deltaVsRandomValClasses: ma.mean - Report.meanStd(randomAmong).mean, stdAccuracyValClasses: ma.std,
        deltaCI95: welchHalfWidth(all, randomAll), deltaCI95ValClasses: welchHalfWidth(among, randomAmong),
        pretextImagesSeen: imagesSeen(first.task, first.pretextEpochs), downstreamEpochs: first.epochs, labelledImages: labelledImages,
        evalSecondsPerRun: g.map(\.seconds).reduce(0, +) / Double(g.count),
        stepsPerRun: perRun(g.map(\.steps)), labelledImagesSeenPerRun: perRun(g.map(\.labelledImagesSeen)),
        unlabelledImagesSeenPerRun: perRun(g.map(\.unlabelledImagesSeen)))
    }
    return board.enumerated().sorted { x, y in
      let (a, b) = (x.element, y.element)
      if a.meanAccuracy != b.meanAccuracy { return a.meanAccuracy > b.meanAccuracy }
      if a.meanAccuracyValClasses != b.meanAccuracyValClasses { return a.meanAccuracyValClasses > b.meanAccuracyValClasses }
      return x.offset < y.offset
    }.map(\.element)
  }

  /// The mean of a count over a row's runs, when every run recorded it.
  static func perRun(_ v: [Int?]) -> Int? {
    let known = v.compactMap { $0 }
    return known.count == v.count && !known.isEmpty ? known.reduce(0, +) / known.count : nil
  }

  /// A CSV field: quoted when it holds a comma, quote or line break (a multi-task spec has commas).
  static func field(_ s: String) -> String {
    s.contains(where: { ",\"\n\r".contains($0) }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
  }

  public static func csv(_ rows: [LeaderboardRow]) -> String {
    func n(_ v: Double) -> String { v.isFinite ? String(format: "%.6f", v) : "nan" }
    var lines = [LeaderboardRow.csvColumns.joined(separator: ",")]
    for r in rows {
      lines.append([field(r.task), "\(r.pretextEpochs)", r.protocol, "\(r.runs)", n(r.meanAccuracy), n(r.stdAccuracy), n(r.ci95Low),
                    n(r.ci95High), n(r.deltaVsRandom), String(format: "%.1f", r.pretextSeconds), n(r.meanAccuracyValClasses),
                    n(r.deltaVsRandomValClasses), n(r.stdAccuracyValClasses), n(r.deltaCI95), n(r.deltaCI95ValClasses),
                    "\(r.pretextImagesSeen)", "\(r.downstreamEpochs)", "\(r.labelledImages)", String(format: "%.1f", r.evalSecondsPerRun),
                    r.stepsPerRun.map(String.init) ?? "", r.labelledImagesSeenPerRun.map(String.init) ?? "",
                    r.unlabelledImagesSeenPerRun.map(String.init) ?? ""]
        .joined(separator: ","))
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
