// `pretext experiment`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext experiment`: the pretext once, then each downstream scenario several times; a report.
struct ExperimentCommand: DataParallelCommand {
  static let configuration = CommandConfiguration(
    commandName: "experiment",
    abstract: "A pretext task (--task, default inpainting) once, then the three downstream scenarios `runs` times each; writes a report.")

  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  func validate() throws {
    try options.validate(protocols: Scenario.study)
    try options.validateTaskFlags(pretextTasks: [options.config().pretext.task])
  }

  func runOnEveryRank() throws {
    let run = try options.startTrainingRun("experiment", summary: true) {
      RunManifest(kind: .experiment, dataset: $1.root, task: $0.pretext.task)
    }
    let start = Date()
    let result = try run.holding {
      try runExperiment(data: run.data, config: run.config, runDir: run.dir, log: { say($0) }, callbacks: run.callbacks)
    }
    say("\n" + Report.markdown(result))
    say(String(format: "experiment took %.0f s; report: %@/report.md and report.html", Date().timeIntervalSince(start), run.dir))
  }
}
