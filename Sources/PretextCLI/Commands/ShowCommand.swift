// `pretext show`.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext show RUN`: a sample grid from a run's saved U-Net.
struct ShowCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "show", abstract: "Write a sample grid (damaged | original | restored) from a run's saved U-Net.")
  @Argument(help: "A run folder holding config.json and unet.safetensors.") var folder: String
  @Option(help: "The dataset whose val/ images to show (default: the run's own, from run.json).") var data: String?
  @Option(help: "Rows in the grid (1–256).") var rows = 8
  @Option(help: "A comparison's task whose pretext to show (default: its first).") var task: String?
  @Option(help: "Output PNG (default: RUN/show.png; - for standard output; a FIFO or device, streamed).") var output: String?

  func validate() throws {
    guard (1...256).contains(rows) else { throw ValidationError("--rows must be between 1 and 256 (got \(rows))") }
  }

  func run() throws {
    guard let config = try RunFolder.read(StudyConfig.self, from: folder + "/config.json") else {
      throw CLIError("no config.json in \(folder): not a run folder")
    }
    let manifest = try RunFolder.read(RunManifest.self, from: folder + "/run.json")
    guard let root = data ?? manifest?.dataset else { throw CLIError("no run.json in \(folder): pass --data") }
    let (stageConfig, stage) = try manifest.map { try pretextStageToShow(runDir: folder, config: config, manifest: $0, task: task) }
      ?? (config, Stage.pretext(folder, task: config.taskFolder))
    let layout = try LayoutDetector.detect(root: root, options: config.data.layout).layout
    let path = output ?? folder + "/show.png"
    try showPicture(runDir: folder, config: stageConfig, data: layout, rows: rows, to: path, stage: stage)
    sayWhere(path, path)
  }
}
