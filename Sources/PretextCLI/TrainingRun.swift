// The one start of every command that trains in a run folder of its own (pretrain, evaluate, experiment): the
// settings, the images, the run folder and its lock, the progress line. (Launching ranks and joining their group
// come before, in `DataParallelCommand.run`; `compare` opens or extends a folder it may be given, `CompareCommand`.)
import Foundation
import ImageData
import Study
import Training

/// A training command's run: its settings, its images (scanned, bad files named and left out), its run folder (made
/// and locked by rank 0; the other ranks are told its name) and the callbacks of the rank that writes.
struct TrainingRun {
  let config: StudyConfig
  let data: ImageWangLayout
  let dir: String
  let lock: RunLock?

  /// The progress line, on the writing rank only.
  var callbacks: [Callback] { Parallel.writers([ProgressCallback()]) }

  /// `body` with the run folder held (the lock lives as long as it runs).
  func holding<T>(_ body: () throws -> T) throws -> T { try withExtendedLifetime(lock) { try body() } }
}

extension StudyOptions {
  /// Starts a run: the settings (`adjust` sets what the command decides, e.g. the task `pretrain` is given), the
  /// images (with `summary`, their counts printed first), then a new run folder `KIND-PRESET-TIME` under `--out` with
  /// the manifest `manifest` makes.
  func startTrainingRun(_ kind: String, summary: Bool = false, adjust: (inout StudyConfig) -> Void = { _ in },
                        manifest: (StudyConfig, ImageWangLayout) -> RunManifest) throws -> TrainingRun {
    var config = try config()
    adjust(&config)
    let data = try dataset(config)
    if summary { say(data.summary().split(separator: "\n").prefix(4).joined(separator: "\n")) }
    let (dir, lock) = try startSharedRun(kind, config, manifest(config, data))
    return TrainingRun(config: config, data: data, dir: dir, lock: lock)
  }
}
