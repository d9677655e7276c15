// The pretext task and its training (the "Pretext" group of `--help`).
import ArgumentParser
import Foundation
import Study
import ImageData
import SelfSupervised
import Torch

/// The pretext task, its own settings and its training.
struct PretextOptions: ParsableArguments {
  @Option(help: "The pretext task (`pretext tasks` lists them), or several at once with weights: inpainting:1,rotation:0.5.") var task: String?
  @Option(help: "Pretext epochs (compare: several lengths, e.g. 2,5,10: trained once, the encoder saved at each).") var pretextEpochs: String?
  @Option(help: "Pretext image size.") var pretextSize: Int?
  @Option(help: "Pretext batch size.") var pretextBatch: Int?
  @Option(help: "Pretext optimisation: study (Ranger + flat-cos at --lr, every task alike), fastai (Adam + one-cycle at --lr) or paper (the task's paper's optimizer, lr scaled with the batch, weight decay, schedule; --lr is not used).") var pretextRecipe: PretextRecipe?
  @Option(help: "Inpainting: holes per image, LO-HI (default 5-9).") var cutoutHoles: String?
  @Option(help: "Inpainting: hole side in pixels at 160 px, LO-HI (default 5-49).") var cutoutSize: String?
  @Option(help: "Inpainting: what the holes hold: zero (black, the study's), noise, or mixed (either, per hole).") var cutoutFill: RandomCutout.Fill?
  @Option(help: "SwAV: projections queued per global crop, used in Sinkhorn once full (default 0: no queue).") var swavQueue: Int?
  @Option(help: "U-Net tasks (inpainting, colorization, masked): the encoder-to-decoder skip connections, all (fastai's) or none (the decoder sees only the deepest features).") var unetSkips: UnetSkips?
  @Option(help: "Pretext: kNN accuracy of the encoder on the downstream data every N epochs and at the last (default 0: off).") var knnEvery: Int?
  @Option(help: "The kNN monitor's bank and queries: at most about this many train/ and val/ images each, class-stratified (default 2000).") var knnMonitorImages: Int?
  /// The task-specific flags given, each with the setting it sets.
  var taskFlagsGiven: [(flag: String, setting: TaskSetting)] {
    let given: [(Bool, String, TaskSetting)] = [
      (cutoutHoles != nil, "--cutout-holes", .cutout), (cutoutSize != nil, "--cutout-size", .cutout),
      (cutoutFill != nil, "--cutout-fill", .cutout), (swavQueue != nil, "--swav-queue", .swavQueue),
      (unetSkips != nil, "--unet-skips", .unetSkips),
    ]
    return given.filter(\.0).map { ($0.1, $0.2) }
  }

  /// A task-specific flag is refused when none of `tasks` (the specs this command trains; none for a command
  /// that trains no pretext) reads its setting: it would change nothing, silently.
  func validateTaskFlags(tasks: [String]) throws {
    let names = try tasks.flatMap { try PretextTasks.parse($0).map(\.name) }
    let read = Set(names.compactMap { PretextTasks.named($0)?.settingsRead }.joined())
    for (flag, setting) in taskFlagsGiven where !read.contains(setting) {
      let readers = PretextTasks.all.filter { $0.settingsRead.contains(setting) }.map { $0.name }.joined(separator: ", ")
      throw ValidationError("\(flag) is a setting of \(readers), and "
        + (names.isEmpty ? "this command trains no pretext task" : "no task trained here reads it (\(names.joined(separator: ", ")))"))
    }
  }

  /// `--pretext-epochs` as numbers (nil when not given).
  func pretextLengths() throws -> [Int]? {
    guard let pretextEpochs else { return nil }
    let parts = pretextEpochs.split(separator: ",", omittingEmptySubsequences: false).map { Int($0.trimmingCharacters(in: .whitespaces)) }
    guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
      throw ValidationError("--pretext-epochs takes a number or a comma-separated list, e.g. 2,5,10 (got \(pretextEpochs))")
    }
    return parts.map { $0! }
  }

  /// `severalLengths`: `--pretext-epochs` may list several (compare); the longest is the config's.
  func apply(to c: inout StudyConfig, severalLengths: Bool) throws {
    if let task { c.pretext.task = task }
    func range(_ text: String?, _ flag: String) throws -> [Int]? {
      guard let text else { return nil }
      let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
      guard parts.count == 2, let lo = parts[0], let hi = parts[1] else { throw ValidationError("--\(flag) takes LO-HI, e.g. 5-9 (got \(text))") }
      return [lo, hi]
    }
    if let v = try range(cutoutHoles, "cutout-holes") { c.pretext.inpainting.cutoutHoles = v }
    if let v = try range(cutoutSize, "cutout-size") { c.pretext.inpainting.cutoutSize = v }
    if let swavQueue { c.pretext.swav.queue = swavQueue }
    if let unetSkips { c.pretext.unet.skips = unetSkips }
    if let cutoutFill { c.pretext.inpainting.cutoutFill = cutoutFill }
    if let pretextRecipe { c.pretext.recipe = pretextRecipe }
    if let knnEvery { c.pretext.knnEvery = knnEvery }
    if let knnMonitorImages { c.pretext.knnMonitorImages = knnMonitorImages }
    if let lengths = try pretextLengths() {
      guard lengths.count == 1 || severalLengths else { throw ValidationError("--pretext-epochs takes one number here (several only with `compare`)") }
      c.pretext.epochs = lengths.max()!
    }
    if let pretextSize { c.pretext.size = pretextSize }
    if let pretextBatch { c.pretext.batch = pretextBatch }
  }
}
