// The settings of the commands that train: a preset, then flags overriding it.
import ArgumentParser
import Foundation
import ImageData
import SelfSupervised
import Study
import Torch
import Training


/// Settings shared by the commands that train: a preset, then flags overriding it, in four groups (as `--help`
/// shows them). Every value is checked while the arguments are parsed (`validate`), so a bad one is refused with
/// its flag named, before any folder is made.
struct StudyOptions: ParsableArguments {
  @Option(help: "Settings preset: demo (minutes on 2 CPU cores) or imagewang (the study's protocol, for a GPU).")
  var preset = "demo"
  @OptionGroup(title: "Data") var dataOptions: DataOptions
  @OptionGroup(title: "Pretext") var pretext: PretextOptions
  @OptionGroup(title: "Downstream") var downstream: DownstreamOptions
  @OptionGroup(title: "Runtime") var runtime: RuntimeOptions

  // The flags the commands read directly.
  var data: String? { dataOptions.data }
  var out: String { runtime.out }
  var task: String? { pretext.task }
  var runs: Int? { downstream.runs }

  mutating func validate() throws {
    do { try config(severalLengths: true).validate() } catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
    if let data {
      var isDir: ObjCBool = false
      guard FileManager.default.fileExists(atPath: data, isDirectory: &isDir), isDir.boolValue else {
        throw ValidationError("--data \(data): no such folder")
      }
    }
    try validateOutputFolder(out)
  }

  /// The settings checked against the protocols that will train (`StudyConfig.validate(protocols:)`).
  func validate(protocols: [Scenario]) throws {
    do { try config(severalLengths: true).validate(protocols: protocols) } catch let e as StudyConfig.ConfigError { throw ValidationError(e.message) }
  }

  func pretextLengths() throws -> [Int]? { try pretext.pretextLengths() }

  /// The task-specific flags checked against the pretext tasks this command trains (`PretextOptions`).
  /// And the semi-supervised flags against the protocols it trains.
  func validateTaskFlags(pretextTasks: [String], protocols: [Scenario] = []) throws {
    try pretext.validateTaskFlags(tasks: pretextTasks)
    try downstream.validateSemiSupervisedFlags(protocols: protocols)
  }

  /// The settings: the preset, then each group's flags; `severalLengths`: `--pretext-epochs` may list several
  /// (compare), the longest is the config's.
  func config(severalLengths: Bool = false) throws -> StudyConfig {
    guard var c = StudyConfig.preset(preset) else { throw ValidationError("unknown preset '\(preset)' (demo, imagewang)") }
    try dataOptions.apply(to: &c)
    try pretext.apply(to: &c, severalLengths: severalLengths)
    try downstream.apply(to: &c)
    try runtime.apply(to: &c)
    return try c.fixingAutoPrecision()
  }

  /// The images the run uses (the dataset's root made absolute, so `resume` finds it from anywhere), bad
  /// files excluded and named.
  func dataset(_ config: StudyConfig) throws -> ImageWangLayout { try scannedDataset(config).layout }

  /// `dataset`, and whether every image it kept is stored gray.
  func scannedDataset(_ config: StudyConfig) throws -> (layout: ImageWangLayout, allGray: Bool) {
    let root = URL(fileURLWithPath: try data ?? defaultDataset()).standardizedFileURL.path
    let resolved = try config.resolvedPrecision
    if config.runtime.precision == .auto {
      let why: String
      if config.torchDevice != .cpu {
        why = resolved == .bf16 ? "this GPU computes bfloat16 natively" : "this GPU has no native bfloat16"
      } else if !Runtime.cpuHasNativeBFloat16 {
        why = "this CPU has no bfloat16 instructions"
      } else {
        why = String(format: "this CPU's bfloat16 GEMMs run %.2f× float32's; auto takes bf16 from %.1f×",
                     try Runtime.cpuBFloat16Speedup(), Precision.cpuBFloat16MinimumSpeedup)
      }
      say("precision: auto → \(resolved.rawValue) (\(why))")
    } else if resolved != .fp32 {
      say("precision: \(resolved.rawValue)")
    }
    return try scanStudyData(root: root, config: config, log: { say($0) })
  }

  /// A new run folder under `--out`, made exclusively and locked for this process's life.
  func startRun(_ kind: String, _ config: StudyConfig, _ manifest: RunManifest) throws -> (String, RunLock) {
    let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "-")
    do {
      return try RunFolder.create(in: out, name: "\(kind)-\(preset)-\(stamp)", config: config, manifest: manifest)
    } catch {
      throw CLIError("--out \(out): cannot start a run folder there: \(error)")
    }
  }

  /// `startRun` for a data-parallel job too: rank 0 makes (and locks) the run folder, the other ranks are told
  /// its name and hold no lock.
  func startSharedRun(_ kind: String, _ config: StudyConfig, _ manifest: RunManifest) throws -> (String, RunLock?) {
    var lock: RunLock?
    let dir = try Parallel.fromRankZero("start a run folder under \(out)") {
      let (dir, made) = try startRun(kind, config, manifest)
      lock = made
      return dir
    }
    return (dir, lock)
  }
}


extension StudyOptions {
  /// ImageWang-160 from the cache, else from the network, else a synthetic ImageWang (said clearly).
  func defaultDataset() throws -> String {
    let cached = DataCache.root + "/imagewang-160"
    if FileManager.default.fileExists(atPath: cached) { return DataCache.datasetFolder(cached, "imagewang-160") }
    do {
      return try DataCache.get(.imagewang160, progress: downloadProgressPrinter(name: "imagewang-160"))
    } catch {
      let synth = DataCache.root + "/synthetic-imagewang-64-v2"
      say("notice: ImageWang is not in the cache and could not be downloaded (\(error)).")
      say("notice: using a SYNTHETIC ImageWang-layout dataset instead: \(synth)")
      if !FileManager.default.fileExists(atPath: synth) {
        try SyntheticImageWang(size: 64, trainPerClass: 20, validPerClass: 10, unsupCount: 500).write(to: synth)
      }
      return synth
    }
  }
}
