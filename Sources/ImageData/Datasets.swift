import Foundation

/// File extensions taken as images when listing folders (case-insensitive; the content decides the
/// format). Other files are not part of a dataset.
public let imageExtensions: Set<String> = ["jpg", "jpeg", "png", "jpe", "jfif", "tif", "tiff", "dcm", "dicom"]

/// A dataset problem found before training: names the folder or file and what is wrong.
public struct DatasetError: Error, CustomStringConvertible, Sendable {
  public let path: String
  public let message: String
  public init(path: String, _ message: String) { (self.path, self.message) = (path, message) }
  public var description: String { "\(path): \(message)" }
}

/// What a directory entry is, symlinks followed (a symlinked class folder or unsup/ is read through).
enum EntryKind { case directory, file, other }

/// The entries of `folder` (not "." or ".."), symlinks followed, sorted by name. A name that is not valid
/// UTF-8 is an error naming the folder: such a class or file would otherwise be dropped without a word.
func directoryEntries(_ folder: String) throws -> [(name: String, kind: EntryKind)] {
  guard let dir = opendir(folder) else {
    throw DatasetError(path: folder, errno == ENOENT ? "missing folder" : "cannot be listed: \(String(cString: strerror(errno)))")
  }
  defer { closedir(dir) }
  var out: [(String, EntryKind)] = []
  while let entry = readdir(dir) {
    let bytes = withUnsafeBytes(of: entry.pointee.d_name) { Array($0.prefix { $0 != 0 }) }
    if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
    guard let name = String(validating: bytes, as: UTF8.self) else {
      let shown = bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : String(format: "\\x%02x", $0) }.joined()
      throw DatasetError(path: folder, "holds an entry whose name is not valid UTF-8 ('\(shown)'): rename it")
    }
    var st = stat()
    let kind: EntryKind
    if stat(folder + "/" + name, &st) != 0 {
      kind = .other  // a dangling symlink: listed as a file if named like an image, so the scan names it
    } else {
      switch st.st_mode & S_IFMT {
      case S_IFDIR: kind = .directory
      case S_IFREG: kind = .file
      default: kind = .other
      }
    }
    out.append((name, kind))
  }
  return out.sorted { $0.0 < $1.0 }
}

/// Whether the file starts like DICOM (the "DICM" magic after its 128-byte preamble): DICOM files often have no
/// extension, or are named by their UID (1.2.840…: an "extension" of digits).
func isDicomFile(_ path: String) -> Bool {
  guard let h = FileHandle(forReadingAtPath: path) else { return false }
  defer { try? h.close() }  // read-only probe: a close failure changes nothing
  let head = (try? h.read(upToCount: 132)) ?? Data()  // unreadable: not listed, as any non-image
  return head.count == 132 && head.suffix(4) == Data("DICM".utf8)
}

/// Image files under `folder` (recursively, symlinked folders followed once each; extension-less DICOM files too), sorted, so item order
/// never depends on the file system. Anything named like an image is listed, regular file or not: the scan
/// before training names and excludes what does not decode (a FIFO, a dangling link, a macOS `._` file).
func listImages(_ folder: String) throws -> [String] {
  var out: [String] = []
  var visited = Set<[UInt64]>()
  func walk(_ dir: String) throws {
    var st = stat()
    guard stat(dir, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw DatasetError(path: dir, "missing folder") }
    guard visited.insert([UInt64(st.st_dev), UInt64(st.st_ino)]).inserted else { return }  // a symlink cycle
    for (name, kind) in try directoryEntries(dir) {
      let path = dir + "/" + name
      let ext = (name as NSString).pathExtension.lowercased()
      if kind == .directory { try walk(path) } else if imageExtensions.contains(ext) || (kind == .file && ext.allSatisfy(\.isNumber) && !name.hasPrefix(".") && isDicomFile(path)) {
        out.append(path)
      }
    }
  }
  try walk(folder)
  return out.sorted()
}

/// One subfolder per class (ImageNet / fastai layout). Classes are the sorted subfolder names, or, when
/// `vocabulary` is given, labels index into it (a class folder outside it is an error).
public struct ImageFolder: Sendable {
  public let root: String
  public let classes: [String]
  public let paths: [String]
  public let labels: [Int]

  public init(root: String, vocabulary: [String]? = nil) throws {
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir), isDir.boolValue else {
      throw DatasetError(path: root, "missing folder")
    }
    let found = try directoryEntries(root).filter { !$0.name.hasPrefix(".") && $0.kind == .directory }.map(\.name)
    guard !found.isEmpty else { throw DatasetError(path: root, "no class folders") }
    let vocab = vocabulary ?? found
    var paths: [String] = [], labels: [Int] = []
    for name in found {
      guard let label = vocab.firstIndex(of: name) else {
        throw DatasetError(path: root + "/" + name, "class '\(name)' is not among the training classes")
      }
      let files = try listImages(root + "/" + name)
      guard !files.isEmpty else { throw DatasetError(path: root + "/" + name, "class folder holds no images") }
      paths += files
      labels += Array(repeating: label, count: files.count)
    }
    (self.root, self.classes, self.paths, self.labels) = (root, vocab, paths, labels)
  }

  public var count: Int { paths.count }

  init(root: String, classes: [String], paths: [String], labels: [Int]) {
    (self.root, self.classes, self.paths, self.labels) = (root, classes, paths, labels)
  }

  /// At most `n` items of each class: the first in file-name order (deterministic; ImageNet's numbered
  /// names are in no meaningful order).
  public func limited(perClass n: Int) -> ImageFolder {
    var seen = [Int](repeating: 0, count: classes.count)
    let keep = labels.indices.filter { i in
      seen[labels[i]] += 1
      return seen[labels[i]] <= n
    }
    return subset(keep)
  }

  /// The items at `indices`, in that order, with the same vocabulary.
  func subset(_ indices: [Int]) -> ImageFolder {
    ImageFolder(root: root, classes: classes, paths: indices.map { paths[$0] }, labels: indices.map { labels[$0] })
  }

  /// A fixed, seeded, class-stratified `fraction` of the items (few-label training): from each class
  /// max(1, round(fraction × its count)) items drawn without replacement by SplitMix64(seed ^ class index), kept
  /// in file order. The same seed gives the same subset; a larger fraction's subset contains a smaller one's.
  public func labelled(fraction: Double, seed: UInt64) -> ImageFolder {
    guard fraction < 1 else { return self }
    return subset(stratifiedDraw(seed: seed, salt: 0xA5A5_0000_0000_0000) { Swift.max(1, Int((fraction * Double($0)).rounded())) })
  }

  /// Item indices, sorted: from each class of n items the first `take(n)` of one seeded shuffle of them
  /// (SplitMix64(seed ^ (salt + class index))), so a smaller `take` draws a subset of a larger one's.
  func stratifiedDraw(seed: UInt64, salt: UInt64, take: (Int) -> Int) -> [Int] {
    var byClass = [[Int]](repeating: [], count: classes.count)
    for i in labels.indices { byClass[labels[i]].append(i) }
    var keep: [Int] = []
    for (c, items) in byClass.enumerated() where !items.isEmpty {
      var rng = SplitMix64(seed: seed ^ (salt &+ UInt64(c)))
      var ranked = items
      ranked.shuffle(using: &rng)
      keep += ranked.prefix(take(items.count))
    }
    return keep.sorted()
  }

  /// Without the files in `excluded` (e.g. those that do not decode); none left is an error naming the folder.
  public func excluding(_ excluded: Set<String>) throws -> ImageFolder {
    let keep = paths.indices.filter { !excluded.contains(paths[$0]) }
    guard !keep.isEmpty else { throw DatasetError(path: root, "no usable image left: all \(count) fail to decode") }
    return subset(keep)
  }

  /// Items per class name, in vocabulary order (classes without items included, as 0).
  public func countsPerClass() -> [(String, Int)] {
    var c = [Int](repeating: 0, count: classes.count)
    for l in labels { c[l] += 1 }
    return zip(classes, c).map { ($0, $1) }
  }
}

/// Images without labels (ImageWang's unsup/, or any folder).
public struct UnlabelledFolder: Sendable {
  public let root: String
  public let paths: [String]
  public init(root: String) throws {
    (self.root, self.paths) = (root, try listImages(root))
    guard !paths.isEmpty else { throw DatasetError(path: root, "holds no images") }
  }
  public var count: Int { paths.count }
  init(root: String, paths: [String]) { (self.root, self.paths) = (root, paths) }
  /// The first `n` images in file-name order.
  public func limited(_ n: Int) -> UnlabelledFolder { UnlabelledFolder(root: root, paths: Array(paths.prefix(n))) }
  /// Without the files in `excluded`; none left is an error naming the folder.
  public func excluding(_ excluded: Set<String>) throws -> UnlabelledFolder {
    let keep = paths.filter { !excluded.contains($0) }
    guard !keep.isEmpty else { throw DatasetError(path: root, "no usable image left: all \(count) fail to decode") }
    return UnlabelledFolder(root: root, paths: keep)
  }
}

/// The ImageWang layout: train/ (one folder per class), val/ (classes that must exist in train/; labels use
/// train/'s vocabulary) and unsup/ (no labels). Works for any data in the same layout.
public struct ImageWangLayout: Sendable {
  public let root: String
  public let train: ImageFolder
  public let valid: ImageFolder
  public let unsup: UnlabelledFolder?
  /// The classes val/ holds (indices into train/'s classes), sorted: what "accuracy among val/'s classes" means,
  /// kept when a tuning split replaces val/ by part of train/.
  public let validClasses: [Int]

  /// `requireUnsup`: unsup/ must exist (the pretext task reads it).
  public init(root: String, requireUnsup: Bool = true) throws {
    for split in ["train", "val"] + (requireUnsup ? ["unsup"] : []) where !FileManager.default.fileExists(atPath: root + "/" + split) {
      throw DatasetError(path: root, "missing split '\(split)/' (an ImageWang-layout dataset has train/, val/ and unsup/)")
    }
    train = try ImageFolder(root: root + "/train")
    valid = try ImageFolder(root: root + "/val", vocabulary: train.classes)
    unsup = FileManager.default.fileExists(atPath: root + "/unsup") ? try UnlabelledFolder(root: root + "/unsup") : nil
    self.root = root
    validClasses = Set(valid.labels).sorted()
  }

  init(root: String, train: ImageFolder, valid: ImageFolder, unsup: UnlabelledFolder?, validClasses: [Int]) {
    (self.root, self.train, self.valid, self.unsup, self.validClasses) = (root, train, valid, unsup, validClasses)
  }

  /// A smaller dataset of the same layout: at most so many images per train/ and val/ class and in unsup/
  /// (nil: all).
  public func limited(trainPerClass: Int?, validPerClass: Int?, unsup maxUnsup: Int?) -> ImageWangLayout {
    ImageWangLayout(root: root, train: trainPerClass.map { train.limited(perClass: $0) } ?? train,
                    valid: validPerClass.map { valid.limited(perClass: $0) } ?? valid,
                    unsup: maxUnsup.flatMap { n in unsup.map { $0.limited(n) } } ?? unsup, validClasses: validClasses)
  }

  /// The tuning split (choosing settings without looking at val/): a seeded, class-stratified `fraction` of
  /// train/ held out as the validation images, the rest as train/; val/ is not used. unsup/ is kept.
  public func tuningSplit(fraction: Double, seed: UInt64) -> ImageWangLayout {
    let held = train.labelled(fraction: fraction, seed: seed ^ 0x7475_6E69_6E67)  // "tuning": apart from few-label draws
    let heldPaths = Set(held.paths)
    let rest = train.subset(train.paths.indices.filter { !heldPaths.contains(train.paths[$0]) })
    return ImageWangLayout(root: root, train: rest, valid: held, unsup: unsup, validClasses: validClasses)
  }

  /// The same layout with train/ cut to a seeded, class-stratified fraction of its labelled images.
  public func labelled(fraction: Double, seed: UInt64) -> ImageWangLayout {
    ImageWangLayout(root: root, train: train.labelled(fraction: fraction, seed: seed), valid: valid, unsup: unsup,
                    validClasses: validClasses)
  }

  /// The same layout with train/ and val/ each cut to about `images` (a seeded, class-stratified sample, as
  /// `labelled(fraction:seed:)` draws; a split with fewer images is kept whole). For cheap monitors.
  public func sampled(atMost images: Int, seed: UInt64) -> ImageWangLayout {
    func cut(_ f: ImageFolder) -> ImageFolder { f.count <= images ? f : f.labelled(fraction: Double(images) / Double(f.count), seed: seed) }
    return ImageWangLayout(root: root, train: cut(train), valid: cut(valid), unsup: unsup, validClasses: validClasses)
  }

  /// The same layout without the files in `excluded`, from every split they are in; a split left with no
  /// usable image is an error.
  public func excluding(_ excluded: Set<String>) throws -> ImageWangLayout {
    guard !excluded.isEmpty else { return self }
    return ImageWangLayout(root: root, train: try train.excluding(excluded), valid: try valid.excluding(excluded),
                           unsup: try unsup?.excluding(excluded), validClasses: validClasses)
  }

  /// Every image path of the layout (train/, val/, unsup/).
  public var allPaths: [String] { train.paths + valid.paths + (unsup?.paths ?? []) }

  /// Counts per split and class, as text.
  public func summary() -> String {
    var lines = ["\(root)", "  train: \(train.count) images in \(train.classes.count) classes",
                 "  val:   \(valid.count) images in \(Set(valid.labels).count) classes",
                 "  unsup: \(unsup?.count ?? 0) images"]
    let validCounts = Dictionary(uniqueKeysWithValues: valid.countsPerClass())
    lines.append("  class                           train    val")
    for (name, n) in train.countsPerClass() {
      lines.append("  " + name.padding(toLength: 30, withPad: " ", startingAt: 0)
        + String(format: "%7d %6d", n, validCounts[name] ?? 0))
    }
    return lines.joined(separator: "\n")
  }
}

/// The outcome of checking that every file decodes.
public struct ScanReport: Sendable {
  public let kept: [Int]
  public let bad: [(path: String, problem: String)]
  /// How many kept images are of each kind as stored ("8-bit RGB", "16-bit gray", …).
  public let kinds: [String: Int]
  /// Whether every kept image is stored gray (one channel): colour pretext tasks have nothing to learn there.
  public var allGray: Bool { !kinds.isEmpty && kinds.keys.allSatisfy { $0.hasSuffix("gray") } }
  /// One line: the kinds counted, and a hint when every image is gray.
  public var kindsLine: String {
    let parts = kinds.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.map { "\($0.value) \($0.key)" }
    return "images as stored: " + parts.joined(separator: ", ")
      + (allGray ? " (all gray: --channels 1 trains single-channel models instead of copying gray into RGB)" : "")
  }
  /// One warning naming and counting the skipped files (nil when none).
  public var warning: String? {
    guard !bad.isEmpty else { return nil }
    let shown = bad.prefix(20).map { "  \($0.path): \($0.problem)" }.joined(separator: "\n")
    return "warning: skipped \(bad.count) file\(bad.count == 1 ? "" : "s") that could not be decoded or are too small or narrow to train on:\n" + shown
      + (bad.count > 20 ? "\n  … and \(bad.count - 20) more" : "")
  }
}

/// Images whose shorter side is smaller than this, or whose sides differ more than `maximumAspectRatio` times,
/// are left out by the scan: a 1-px thumbnail or a 20,000 × 2 strip would be cropped and upscaled into a
/// picture of nothing.
public let minimumImageSide = 4
public let maximumAspectRatio = 25

/// Decodes every file once (in parallel, at a small DCT scale) and reports the ones that fail or are too small.
/// `strict`: any bad file is an error listing them all instead.
public func scanImages(_ paths: [String], strict: Bool = false) throws -> ScanReport {
  var problems = [String?](repeating: nil, count: paths.count)
  var kinds = [String](repeating: "", count: paths.count)
  problems.withUnsafeMutableBufferPointer { out in kinds.withUnsafeMutableBufferPointer { kindsOut in
    nonisolated(unsafe) let base = out.baseAddress!, kind = kindsOut.baseAddress!  // each iteration writes its own slots only
    DispatchQueue.concurrentPerform(iterations: paths.count) { i in
      do {
        // At a DCT scale whose shorter side is still ≥ the minimum: smaller means the file itself is.
        let image = try ImageCodec.decode(contentsOf: paths[i], minSide: minimumImageSide, channels: nil)
        kind[i] = "\(image.bitDepth)-bit \(image.channels == 1 ? "gray" : "RGB")"
        let (short, long) = (Swift.min(image.width, image.height), Swift.max(image.width, image.height))
        if short < minimumImageSide {
          base[i] = "\(image.width)x\(image.height) px: shorter side under \(minimumImageSide) px, too small to train on"
        } else if long > maximumAspectRatio * short {
          base[i] = "\(image.width)x\(image.height) px: sides more than \(maximumAspectRatio) times apart, a strip rather than a picture"
        }
      } catch {
        base[i] = (error as? ImageError)?.message ?? "\(error)"
      }
    }
  } }
  let bad = problems.enumerated().compactMap { i, p in p.map { (paths[i], $0) } }
  let kept = problems.indices.filter { problems[$0] == nil }
  let report = ScanReport(kept: kept, bad: bad, kinds: Dictionary(kept.map { (kinds[$0], 1) }, uniquingKeysWith: +))
  if strict, !bad.isEmpty {
    throw DatasetError(path: bad[0].0, "\(bad.count) file(s) cannot be decoded:\n" + bad.map { "  \($0.0): \($0.1)" }.joined(separator: "\n"))
  }
  return report
}
