// `pretext resume`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext resume RUN`: continues an interrupted run from its last checkpoint.
struct ResumeCommand: DataParallelCommand {
  static let configuration = CommandConfiguration(
    commandName: "resume",
    abstract: "Continue an interrupted experiment, pretrain or finetune run from where it stopped.",
    discussion: "Finished stages are kept; the unfinished one continues from its last epoch checkpoint (bit-identical to a run never stopped); the rest run. The run's own config.json and dataset are used.")
  @Argument(help: "The run folder (holding config.json and run.json).") var folder: String
  @OptionGroup var launch: LaunchFlags

  func runOnEveryRank() throws {
    let start = Date()
    try resumeRun(folder, log: { say($0) }, callbacks: Parallel.writers([ProgressCallback()]))
    say(String(format: "resumed run finished in %.0f s: %@", Date().timeIntervalSince(start), folder))
  }
}
