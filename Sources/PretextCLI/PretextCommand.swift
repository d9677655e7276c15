// The `pretext` command-line tool: its commands (one file each under Commands/), the option groups they share
// (Options/) and how a data-parallel command starts its ranks (Launch.swift).
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// The root command. `PretextTool.main()` runs it (the `pretext` executable's whole `main.swift`).
struct Pretext: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Self-supervised pretraining of image models, and what it buys downstream.",
    subcommands: [DataCommand.self, CompareCommand.self, ExperimentCommand.self, PretrainCommand.self, EvaluateCommand.self, KNNCommand.self,
                  ShowCommand.self, ResumeCommand.self, TasksCommand.self, PredictCommand.self])
}

public enum PretextTool {
  /// Parses the command line and runs the command. The caching CPU allocator is on (see `Runtime.cachesCPUMemory`)
  /// unless PRETEXT_CPU_CACHE=0.
  public static func main() {
    Runtime.cacheCPUMemoryUnlessDisabled()
    do {
      var command = try Pretext.parseAsRoot()
      // Under a launcher's environment (torchrun, srun, `--nproc`'s ranks) only a data-parallel command may run.
      if !(command is DataParallelCommand), let env = try DistributedEnvironment.fromEnvironment() {
        throw CLIError("`pretext \(type(of: command).configuration.commandName ?? "")` does not run data-parallel (the environment names rank \(env.rank) of \(env.worldSize)): run it in one process")
      }
      try command.run()
    } catch {
      Pretext.exit(withError: error)
    }
  }
}