// `--data` and what of it a run uses (the "Data" group of `--help`).
import ArgumentParser
import Foundation
import Study
import Torch

/// The dataset, how it is read, and what of it a run uses.
struct DataOptions: ParsableArguments {
  @Option(help: "A dataset folder: ImageWang (train/ val/ unsup/), train/ + val/, one folder per class, or a CSV of labels beside the images (`pretext data info DIR` says which; default: ImageWang from the cache or the network, else synthetic).")
  var data: String?
  @OptionGroup var layoutFlags: LayoutFlags
  @Option(help: "Few-label training: the fraction of train/'s labels the downstream stages use (seeded, class-stratified; default 1).") var labelFraction: Double?
  @Option(help: "Choose settings without val/: hold out this fraction of train/ (seeded, class-stratified) as the downstream validation set; val/ is not read (default 0: validate on val/).") var tuningSplit: Double?
  @Option(help: "At most this many images per train/ class, or all (the demo preset: 40).") var maxTrainPerClass: String?
  @Option(help: "At most this many images per val/ class, or all (the demo preset: 30).") var maxValidPerClass: String?
  @Option(help: "At most this many unlabelled images (unsup/, first in file-name order), or all (the demo preset: 1000).") var maxUnsup: String?
  @Option(help: "Image channels the models take: 3 (gray images copied into RGB; default) or 1 (single-channel models: the xresnet stem takes 1 channel, colour images are turned to gray). 16-bit PNG, TIFF and DICOM samples keep their precision either way.") var channels: Int?
  func apply(to c: inout StudyConfig) throws {
    if let labelFraction { c.data.labelFraction = labelFraction }
    if let tuningSplit { c.data.tuningSplit = tuningSplit }
    func cap(_ text: String?, _ flag: String) throws -> Int?? {
      guard let text else { return nil }
      if text == "all" { return .some(nil) }
      guard let n = Int(text), n >= 1 else { throw ValidationError("--\(flag) takes a count of at least 1 or `all` (got \(text))") }
      return .some(n)
    }
    if let v = try cap(maxTrainPerClass, "max-train-per-class") { c.data.maxTrainPerClass = v }
    if let v = try cap(maxValidPerClass, "max-valid-per-class") { c.data.maxValidPerClass = v }
    if let v = try cap(maxUnsup, "max-unsup") { c.data.maxUnsup = v }
    if let channels { c.data.channels = channels }
    layoutFlags.apply(to: &c.data.layout)
    if let text = layoutFlags.dicomWindow {
      let parts = text.split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
      guard parts.count == 2, let centre = parts[0], let width = parts[1] else { throw ValidationError("--dicom-window takes CENTRE,WIDTH, e.g. 40,400 (got \(text))") }
      c.data.dicomWindow = [centre, width]
    }
  }
}
