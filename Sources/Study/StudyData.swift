import Foundation
import ImageData
import SelfSupervised

/// The images a run trains on: the dataset at `root` in whichever layout it is (`LayoutDetector`: ImageWang,
/// train/val, a class tree or a CSV of labels, read with the config's layout options), the config's caps applied, every selected image
/// decoded once, and the ones that fail (corrupt, truncated, not an image, a FIFO, a macOS `._` file)
/// excluded from every split they are in, named and counted through `log`. A split left with no usable
/// image is an error, and so is a batch larger than the images it draws from. Runs and resumes both come
/// through here, so a resumed run trains on exactly the images its first process did.
public func loadStudyData(root: String, config: StudyConfig, log: (String) -> Void) throws -> ImageWangLayout {
  try scanStudyData(root: root, config: config, log: log).layout
}

/// `loadStudyData`, and whether every image it kept is stored gray. A config whose task needs colour is refused on
/// all-gray data (colorization's targets would all be zero: a loss of 0 and nothing learnt).
public func scanStudyData(root: String, config: StudyConfig, log: (String) -> Void) throws -> (layout: ImageWangLayout, allGray: Bool) {
  DicomImage.windowSetting = config.data.dicomWindow.map { (center: $0[0], width: $0[1]) }  // before any image is decoded
  let detected = try LayoutDetector.detect(root: root, options: config.data.layout)
  if detected.kind != .imagewang { log("\(root): \(detected.kind.rawValue) layout (\(detected.reason))") }
  for warning in detected.warnings { log(warning) }
  let selected = config.select(detected.layout)
  let report = try scanImages(selected.allPaths)
  if let warning = report.warning { log(warning) }
  let usable = try selected.excluding(Set(report.bad.map(\.path)))
  try config.validate(against: usable)
  if report.allGray { try refuseColourTasks([config.pretext.task], flag: "--task", channels: config.data.channels, grayData: root) }
  return (usable, report.allGray)
}

/// Refuses the first task of `specs` that needs colour where there is none: with `--channels 1`, or on data whose
/// images are all stored gray (`grayData` names it), where colorization's targets would all be zero and it would
/// learn nothing. `flag` is the flag that named the tasks.
public func refuseColourTasks(_ specs: [String], flag: String, channels: Int, grayData: String? = nil) throws {
  guard let colour = try colourTasks(specs).first else { return }
  if channels == 1 { throw StudyConfig.ConfigError("\(flag) \(colour) needs colour images: it cannot train with --channels 1") }
  if let grayData {
    throw StudyConfig.ConfigError("\(flag) \(colour) needs colour images, and every image of \(grayData) is gray (its targets would all be zero and it would learn nothing)")
  }
}

/// The tasks named in `specs` (task specs, each one task or several with weights) that need colour images.
public func colourTasks(_ specs: [String]) throws -> [String] {
  var out: [String] = []
  for spec in specs {
    for (name, _) in try PretextTasks.parse(spec) where PretextTasks.named(name)?.needsColour == true && !out.contains(name) { out.append(name) }
  }
  return out
}
