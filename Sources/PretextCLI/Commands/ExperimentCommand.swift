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
    let config = try options.config()
    let layout = try options.dataset(config)
    say(layout.summary().split(separator: "\n").prefix(4).joined(separator: "\n"))
    let (runDir, lock) = try options.startSharedRun("experiment", config, RunManifest(kind: .experiment, dataset: layout.root, task: config.pretext.task))
    let start = Date()
    let result = try withExtendedLifetime(lock) {
      try runExperiment(data: layout, config: config, runDir: runDir, log: { say($0) }, callbacks: Parallel.writers([ProgressCallback()]))
    }
    say("\n" + Report.markdown(result))
    say(String(format: "experiment took %.0f s; report: %@/report.md and report.html", Date().timeIntervalSince(start), runDir))
  }
}
