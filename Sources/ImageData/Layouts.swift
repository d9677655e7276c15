import Foundation

/// How `--data` is read beyond what its folders say: where the validation images come from when the dataset
/// has no val/, and which CSV columns hold the image and the label. Part of a run's config, so a resumed
/// run reads exactly the same split.
public struct LayoutOptions: Codable, Equatable, Sendable {
  /// Class-tree and CSV layouts without a split: this fraction of each class is validation (seeded, stratified).
  public var validFraction = 0.2
  public var splitSeed: UInt64 = 0
  /// The labels' CSV (relative to the dataset folder, or absolute); nil: `train.csv` or `labels.csv` if there.
  public var csv: String?
  /// Column names (case-insensitive); nil: the first of the usual names found (see `LayoutDetector`).
  public var imageColumn: String?
  public var labelColumn: String?
  /// A column saying which rows validate: fastai's `is_valid` (true/false, 1/0) or `split` (train/valid/val).
  /// nil: such a column is used if the CSV has one, else the seeded split.
  public var splitColumn: String?

  public init() {}

  public init(from decoder: Decoder) throws {
    self.init()
    let c = try decoder.container(keyedBy: CodingKeys.self)
    validFraction = try c.decodeIfPresent(Double.self, forKey: .validFraction) ?? validFraction
    splitSeed = try c.decodeIfPresent(UInt64.self, forKey: .splitSeed) ?? splitSeed
    csv = try c.decodeIfPresent(String.self, forKey: .csv)
    imageColumn = try c.decodeIfPresent(String.self, forKey: .imageColumn)
    labelColumn = try c.decodeIfPresent(String.self, forKey: .labelColumn)
    splitColumn = try c.decodeIfPresent(String.self, forKey: .splitColumn)
  }
}

/// The dataset shapes `--data` understands.
public enum LayoutKind: String, Sendable {
  /// train/<class>/, val/<class>/ and unsup/ (unlabelled).
  case imagewang
  /// ImageNet-style train/<class>/ and val/<class>/ (or valid/), no unsup/.
  case trainVal = "train-val"
  /// One folder per class, split into train/val by a seeded, class-stratified fraction.
  case classFolders = "class-folders"
  /// A CSV of image,label rows; images no row names are the unlabelled set (Kaggle's test images).
  case csv
}

/// A dataset as found: its images and labels, what kind of layout it was, and why it was read so.
public struct DetectedLayout: Sendable {
  public let kind: LayoutKind
  public let reason: String
  public let layout: ImageWangLayout
  /// What looks like a mistake but is read as written (labels that differ only by case, say).
  public var warnings: [String] = []

  /// The summary `pretext data info` prints: the kind and why, then counts per split and class.
  public func summary() -> String {
    (["layout: \(kind.rawValue) (\(reason))"] + warnings + [layout.summary()]).joined(separator: "\n")
  }
}

/// Finds which layout a folder is in, and reads it.
public enum LayoutDetector {
  public static let imageColumns = ["image", "image_id", "id", "filename", "file", "fname", "path", "name"]
  public static let labelColumns = ["label", "class", "category", "target", "labels"]

  public static func detect(root: String, options: LayoutOptions = LayoutOptions()) throws -> DetectedLayout {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
      throw DatasetError(path: root, "missing folder")
    }
    let entries = try directoryEntries(root)
    let folders = Set(entries.filter { $0.kind == .directory }.map(\.name))
    let validName = folders.contains("val") ? "val" : folders.contains("valid") ? "valid" : nil
    if let csv = options.csv ?? ["train.csv", "labels.csv"].first(where: { n in entries.contains { $0.name == n && $0.kind == .file } }),
       options.csv != nil || !(folders.contains("train") && validName != nil)
    {
      return try readCSV(root: root, csv: csv, options: options)
    }
    if folders.contains("train") {
      guard let validName else {
        throw DatasetError(path: root, "missing split 'val/' (has train/: a train/val dataset needs val/ or valid/ beside it, with one folder per class; or give --csv)")
      }
      let train = try ImageFolder(root: root + "/train")
      let valid = try ImageFolder(root: root + "/" + validName, vocabulary: train.classes)
      if folders.contains("unsup") {
        let unsup = try UnlabelledFolder(root: root + "/unsup")
        return DetectedLayout(kind: .imagewang, reason: "train/, \(validName)/ and unsup/ folders",
                              layout: ImageWangLayout(root: root, train: train, valid: valid, unsup: unsup, validClasses: Set(valid.labels).sorted()))
      }
      return DetectedLayout(kind: .trainVal, reason: "train/ and \(validName)/ class folders, no unsup/: the pretext trains on train/'s images",
                            layout: ImageWangLayout(root: root, train: train, valid: valid, unsup: nil, validClasses: Set(valid.labels).sorted()))
    }
    let loose = entries.filter { $0.kind != .directory && imageExtensions.contains(($0.name as NSString).pathExtension.lowercased()) }
    guard loose.isEmpty else {
      throw DatasetError(path: root, "holds \(loose.count) image(s) directly (e.g. \(loose[0].name)) and no CSV of labels: give one with --csv, or put the images in one folder per class")
    }
    let all = try ImageFolder(root: root)
    let (train, valid) = try split(all, fraction: options.validFraction, seed: options.splitSeed, what: root)
    return DetectedLayout(kind: .classFolders, reason: "\(all.classes.count) class folders, no train/: \(pct(options.validFraction)) of each class held out for validation (seed \(options.splitSeed))",
                          layout: ImageWangLayout(root: root, train: train, valid: valid, unsup: nil, validClasses: Set(valid.labels).sorted()))
  }

  static func pct(_ f: Double) -> String { String(format: "%g %%", 100 * f) }

  /// A seeded, class-stratified split: from each class max(1, round(fraction × n)) items validate, but never
  /// its last one (a class with one image only trains). Nested in the fraction, like few-label subsets.
  static func split(_ all: ImageFolder, fraction: Double, seed: UInt64, what: String) throws -> (ImageFolder, ImageFolder) {
    guard fraction > 0, fraction < 1 else { throw DatasetError(path: what, "--valid-fraction must be above 0 and below 1 (got \(fraction))") }
    let held = all.stratifiedDraw(seed: seed, salt: 0x5EED_0000_0000_0000) { n in
      n > 1 ? min(n - 1, max(1, Int((fraction * Double(n)).rounded()))) : 0
    }
    guard !held.isEmpty else { throw DatasetError(path: what, "no class has two images: nothing to validate on") }
    let heldSet = Set(held)
    return (all.subset(all.paths.indices.filter { !heldSet.contains($0) }), all.subset(held))
  }

  /// The CSV layout: rows name images (a path relative to the dataset folder, with or without its extension,
  /// or a file name unique in the tree) and their single label.
  static func readCSV(root: String, csv: String, options: LayoutOptions) throws -> DetectedLayout {
    let csvPath = csv.hasPrefix("/") ? csv : root + "/" + csv
    let table = try CSVTable(contentsOf: csvPath)
    func pick(_ given: String?, _ usual: [String], _ what: String, flag: String) throws -> Int {
      if let given {
        guard let i = table.column(given) else {
          throw DatasetError(path: csvPath, "has no column '\(given)' (\(flag)); its columns: \(table.header.joined(separator: ", "))")
        }
        return i
      }
      guard let i = usual.lazy.compactMap({ table.column($0) }).first else {
        throw DatasetError(path: csvPath, "no \(what) column (looked for \(usual.joined(separator: ", "))); its columns: \(table.header.joined(separator: ", ")); name it with \(flag)")
      }
      return i
    }
    let imageCol = try pick(options.imageColumn, imageColumns, "image", flag: "--csv-image-column")
    let labelIndex: Int
    if options.labelColumn != nil {
      labelIndex = try pick(options.labelColumn, [], "label", flag: "--csv-label-column")
    } else if let i = labelColumns.lazy.compactMap({ table.column($0) }).first {
      labelIndex = i
    } else {
      let others = table.header.indices.filter { $0 != imageCol }
      let oneHot = others.count >= 2 && others.allSatisfy { c in table.rows.allSatisfy { ["0", "1", "0.0", "1.0"].contains($0.fields[c].trimmingCharacters(in: .whitespaces)) } }
      throw DatasetError(path: csvPath, oneHot
        ? "looks multi-label (\(others.count) columns of 0/1: \(others.prefix(4).map { table.header[$0] }.joined(separator: ", "))…): multi-label data is not supported; give one label per image in one column"
        : "no label column (looked for \(labelColumns.joined(separator: ", "))); its columns: \(table.header.joined(separator: ", ")); name it with --csv-label-column")
    }
    let splitIndex: Int? = try options.splitColumn.map { try pick($0, [], "split", flag: "--csv-split-column") }
      ?? ["is_valid", "split"].lazy.compactMap { table.column($0) }.first

    let index = try ImageIndex(root: root)

    var labelled: [(path: String, label: String, valid: Bool?, line: Int)] = []
    var lineOf: [String: (Int, String)] = [:]
    for (line, fields) in table.rows {
      let value = fields[imageCol].trimmingCharacters(in: .whitespaces)
      guard !value.isEmpty else { throw DatasetError(path: csvPath, "line \(line): empty image name") }
      let label = fields[labelIndex].trimmingCharacters(in: .whitespaces)
      guard !label.isEmpty else { throw DatasetError(path: csvPath, "line \(line): '\(value)' has an empty label") }
      let path = try index.resolve(value, line: line, csv: csvPath)
      if let (first, firstLabel) = lineOf[path] {
        throw DatasetError(path: csvPath, firstLabel == label
          ? "line \(line): duplicate row for '\(value)' (first on line \(first)): remove it"
          : "line \(line): '\(value)' is labelled '\(label)' here and '\(firstLabel)' on line \(first): one label per image (multi-label data is not supported)")
      }
      lineOf[path] = (line, label)
      var valid: Bool?
      if let splitIndex {
        let s = fields[splitIndex].trimmingCharacters(in: .whitespaces).lowercased()
        switch s {
        case "true", "1", "valid", "val", "validation", "yes": valid = true
        case "false", "0", "train", "training", "no": valid = false
        default:
          throw DatasetError(path: csvPath, "line \(line): split '\(fields[splitIndex])' in column '\(table.header[splitIndex])' is neither train nor valid (true/false, 1/0, train/valid)")
        }
      }
      labelled.append((path, label, valid, line))
    }
    guard !labelled.isEmpty else { throw DatasetError(path: csvPath, "has a header but no rows") }
    // Multi-label lists (fastai's space-separated tags, or ; and |) would otherwise become one class per combination.
    let names = Set(labelled.map(\.label))
    for row in labelled {
      let parts = row.label.split(whereSeparator: { $0 == ";" || $0 == "|" || $0 == " " }).map(String.init)
      if row.label.contains(";") || row.label.contains("|") || (parts.count > 1 && parts.allSatisfy(names.contains)) {
        throw DatasetError(path: csvPath, "line \(row.line): label '\(row.label)' looks like several labels: multi-label data is not supported; give one label per image")
      }
    }

    let classes = names.sorted()
    let all = ImageFolder(root: root, classes: classes, paths: labelled.map(\.path), labels: labelled.map { classes.firstIndex(of: $0.label)! })
    let train: ImageFolder, valid: ImageFolder, how: String
    if let splitIndex {
      let validRows = labelled.indices.filter { labelled[$0].valid == true }
      guard !validRows.isEmpty, validRows.count < labelled.count else {
        throw DatasetError(path: csvPath, "column '\(table.header[splitIndex])' marks \(validRows.isEmpty ? "no" : "every") row as validation")
      }
      train = all.subset(labelled.indices.filter { labelled[$0].valid != true })
      valid = all.subset(validRows)
      let trainClasses = Set(train.labels)
      if let odd = validRows.first(where: { !trainClasses.contains(all.labels[$0]) }) {
        throw DatasetError(path: csvPath, "line \(labelled[odd].line): label '\(labelled[odd].label)' is on validation rows only: no training image has it")
      }
      how = "the split column '\(table.header[splitIndex])'"
    } else {
      (train, valid) = try split(all, fraction: options.validFraction, seed: options.splitSeed, what: csvPath)
      how = "\(pct(options.validFraction)) of each class held out (seed \(options.splitSeed))"
    }
    let named = Set(labelled.map(\.path))
    let rest = index.files.filter { !named.contains($0) }
    let unsup = rest.isEmpty ? nil : UnlabelledFolder(root: root, paths: rest)
    let reason = "labels from \((csvPath as NSString).lastPathComponent) (columns '\(table.header[imageCol])', '\(table.header[labelIndex])'), validation by \(how); "
      + "\(rest.count) image(s) no row names are unlabelled data for the pretext"
    var found = DetectedLayout(kind: .csv, reason: reason,
                               layout: ImageWangLayout(root: root, train: train, valid: valid, unsup: unsup, validClasses: Set(valid.labels).sorted()))
    found.warnings = caseOnlyLabelWarnings(classes, csv: csvPath)
    return found
  }

  /// One warning per group of labels that differ only by case (`Blue_Cross`, `blue_cross`): each is its own class,
  /// as written, but that is rarely what was meant.
  static func caseOnlyLabelWarnings(_ classes: [String], csv: String) -> [String] {
    Dictionary(grouping: classes, by: { $0.lowercased() }).values.filter { $0.count > 1 }.map { $0.sorted() }
      .sorted { $0[0] < $1[0] }
      .map { "warning: \(csv): the labels \($0.map { "'\($0)'" }.joined(separator: " and ")) differ only by case: they are \($0.count) separate classes (correct the CSV if they are one)" }
  }
}

/// Every image under a folder, found by what a CSV row may call it: its path relative to the folder, that path
/// without its extension, or its file name (with or without extension) when no other file has it.
public struct ImageIndex: Sendable {
  public let root: String
  public let files: [String]
  let byRel: [String: String], byStem: [String: [String]], byName: [String: [String]]

  public init(root: String) throws {
    let files = try listImages(root)
    var byRel: [String: String] = [:], byStem: [String: [String]] = [:], byName: [String: [String]] = [:]
    for f in files {
      let r = String(f.dropFirst(root.count + 1))
      byRel[r] = f
      byStem[Self.stem(r), default: []].append(f)
      byName[Self.stem((r as NSString).lastPathComponent), default: []].append(f)
    }
    (self.root, self.files, self.byRel, self.byStem, self.byName) = (root, files, byRel, byStem, byName)
  }

  static func stem(_ p: String) -> String { (p as NSString).deletingPathExtension }

  /// The file `value` (a CSV cell on `line` of `csv`) names; none or several is an error naming the line.
  public func resolve(_ value: String, line: Int, csv: String) throws -> String {
    let v = value.hasPrefix("./") ? String(value.dropFirst(2)) : value
    if let f = byRel[v] { return f }
    for candidates in [byStem[Self.stem(v)], byStem[v], byName[Self.stem(v)], byName[v]] {
      guard let candidates else { continue }
      guard candidates.count == 1 else {
        let shown = candidates.prefix(3).map { String($0.dropFirst(root.count + 1)) }.joined(separator: ", ")
        throw DatasetError(path: csv, "line \(line): image '\(value)' matches \(candidates.count) files (\(shown)): name it by its path")
      }
      return candidates[0]
    }
    throw DatasetError(path: csv, "line \(line): image '\(value)' is not a file under \(root)")
  }
}
