import Foundation
import Torch

/// What a run folder is, so `pretext resume RUN` knows how to continue it: written as `run.json` when the run
/// starts, beside `config.json`.
public struct RunManifest: Codable, Sendable, Equatable {
  public enum Kind: String, Codable, Sendable { case experiment, pretrain, finetune }
  public var kind: Kind
  /// The dataset folder the run reads.
  public var dataset: String
  /// `finetune` only: the scenario and the encoder file it starts from.
  public var scenario: Scenario?
  public var encoder: String?

  public init(kind: Kind, dataset: String, scenario: Scenario? = nil, encoder: String? = nil) {
    (self.kind, self.dataset, self.scenario, self.encoder) = (kind, dataset, scenario, encoder)
  }
}

/// JSON files of a run folder, written atomically (a run killed mid-write leaves the old file or none).
/// A stage's result file is written only once the stage is complete, so its presence means "done".
public enum RunFolder {
  static func encoder() -> JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    return e
  }

  public static func write<T: Encodable>(_ value: T, to path: String) throws {
    do {
      try encoder().encode(value).write(to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw FileError(path: path, "cannot write: \(error.localizedDescription)")
    }
  }

  /// The value in `path`, or nil when there is no such file; a file that does not decode is an error.
  public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    do {
      return try JSONDecoder().decode(type, from: Data(contentsOf: URL(fileURLWithPath: path)))
    } catch {
      throw FileError(path: path, "not a valid \(type) file: \(error)")
    }
  }

  /// Starts a run folder: config.json and run.json.
  public static func start(_ dir: String, config: StudyConfig, manifest: RunManifest) throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try write(config, to: dir + "/config.json")
    try write(manifest, to: dir + "/run.json")
  }

  /// The config and manifest of an existing run folder, with errors that say what is missing.
  public static func open(_ dir: String) throws -> (StudyConfig, RunManifest) {
    guard let config = try read(StudyConfig.self, from: dir + "/config.json") else {
      throw FileError(path: dir, "not a run folder: no config.json")
    }
    guard let manifest = try read(RunManifest.self, from: dir + "/run.json") else {
      throw FileError(path: dir, "not a resumable run folder: no run.json")
    }
    return (config, manifest)
  }
}
