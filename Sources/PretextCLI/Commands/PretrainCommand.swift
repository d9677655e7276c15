// `pretext pretrain`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext pretrain --task NAME`: the pretext task alone.
struct PretrainCommand: DataParallelCommand {
  static let configuration = CommandConfiguration(
    commandName: "pretrain", abstract: "Train a pretext task (--task, default inpainting) and save its encoder.")
  @Argument(help: "The pretext task (same as --task; kept for `pretrain inpainting`).") var taskName: String?
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  func validate() throws {
    if let taskName, let flag = options.task, flag != taskName { throw ValidationError("two tasks given: '\(taskName)' and --task \(flag)") }
    if let taskName {
      do { _ = try PretextTasks.parse(taskName) } catch let e as PretextTasks.SpecError { throw ValidationError(e.description) }
    }
    try options.validateTaskFlags(pretextTasks: [taskName ?? options.config().pretext.task])
  }

  func runOnEveryRank() throws {
    let run = try options.startTrainingRun("pretrain", adjust: { if let taskName { $0.pretext.task = taskName } }) {
      RunManifest(kind: .pretrain, dataset: $1.root, task: $0.pretext.task)
    }
    let (r, stage) = try run.holding { try runPretext(run.data, run.config, runDir: run.dir, callbacks: run.callbacks) }
    say("encoder: \(stage.file(r.encoderFile))\npicture: \(stage.file(r.pictureFile))")
  }
}
