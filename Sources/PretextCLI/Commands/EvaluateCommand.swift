// `pretext evaluate` (and its older spelling `finetune`).
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// `pretext evaluate --protocol NAME --encoder FILE`: one downstream training under a protocol. `finetune` is its
/// older spelling (`--init`/`--init-from` for `--encoder`, `--mode` for `--protocol`).
struct EvaluateCommand: DataParallelCommand {
  static let configuration = CommandConfiguration(
    commandName: "evaluate", abstract: "Train the classifier under a protocol (random, or one from an encoder) and report its accuracy.",
    aliases: ["finetune"])
  @Option(name: [.customLong("protocol"), .customLong("mode")],
          help: "The protocol (default: full with an encoder, random without): random (no encoder), full (every layer at one lr), head (body frozen), discriminative (head first, then lr/100…lr), lpft (head first, then every layer at one lr), linear (a probe; random weights without --encoder) joint (semi-supervised: every layer at one lr with an auxiliary pretext task on unlabelled images, --aux; from random init without --encoder) or selftrain (semi-supervised: a student from random weights on the labelled images and the --teacher's confident labels of unlabelled ones).")
  var `protocol`: Scenario?
  @Option(name: [.customLong("encoder"), .customLong("init"), .customLong("init-from")],
          help: "The encoder file (e.g. a run's pretext/<task>/encoder.safetensors), or random (the same as none).")
  var encoder: String?
  @Option(help: "The selftrain protocol's teacher: a classifier saved by a stage (eval/<protocol>/<run>/model.safetensors) of the same classes.")
  var teacher: String?
  @OptionGroup var options: StudyOptions
  @OptionGroup var launch: LaunchFlags

  /// The encoder file, nil for random weights.
  var encoderFile: String? { encoder == "random" ? nil : encoder }

  /// The protocol asked for; `--protocol full` with `--encoder random` (finetune's `--init random --mode full`) is
  /// random init.
  var scenario: Scenario {
    let asked = `protocol` ?? (encoderFile == nil ? .random : .full)
    return asked == .full && encoder == "random" ? .random : asked
  }

  func validate() throws {
    if scenario.needsTeacher {
      guard encoderFile == nil else { throw ValidationError("--protocol \(scenario.rawValue) trains a student from random weights: no --encoder (give its --teacher)") }
      try validateEncoderFile(teacher, flag: "--teacher")
    } else if teacher != nil {
      throw ValidationError("--teacher is the selftrain protocol's: --protocol \(scenario.rawValue) reads no teacher")
    } else if scenario == .random {
      guard encoderFile == nil else { throw ValidationError("--protocol random starts from random weights: no --encoder") }
    } else if !(scenario.runsWithoutEncoder && encoderFile == nil) {
      try validateEncoderFile(encoderFile, flag: "--encoder")
    }
    try options.validate(protocols: [scenario])
    try options.validateTaskFlags(pretextTasks: [], protocols: [scenario])
  }

  // A student's teacher rides in the encoder's place: the run folder records it, and `resume` reads it back.
  func runOnEveryRank() throws { try runEvaluation(scenario, encoder: scenario.needsTeacher ? teacher : encoderFile, options) }
}

/// One evaluation run folder: `scenario` from `encoder` (nil: random init).
func runEvaluation(_ scenario: Scenario, encoder: String?, _ options: StudyOptions) throws {
  let encoder = encoder.map { URL(fileURLWithPath: $0).standardizedFileURL.path }
  let run = try options.startTrainingRun("finetune") { RunManifest(kind: .finetune, dataset: $1.root, scenario: scenario, encoder: encoder) }
  let r = try run.holding {
    try trainScenario(scenario, run: 0, data: run.data, encoder: encoder, run.config, runDir: run.dir, callbacks: run.callbacks)
  }
  say("scenario: \(scenario.rawValue); run folder: \(run.dir)")
  say(String(format: "final accuracy %.4f, best %.4f", r.result.finalAccuracy, r.result.bestAccuracy))
}
