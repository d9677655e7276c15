import Foundation
import SelfSupervised
import Torch

/// What a run folder is, so `pretext resume RUN` knows how to continue it: written as `run.json` when the run
/// starts, beside `config.json`.
public struct RunManifest: Codable, Sendable, Equatable {
  public enum Kind: String, Codable, Sendable { case experiment, pretrain, finetune, compare }
  public var kind: Kind
  /// The dataset folder the run reads (absolute: the dataset does not move with the run folder).
  public var dataset: String
  /// `experiment` and `pretrain`: the pretext task (also in config.json; here so a folder says what it is).
  public var task: String?
  /// `finetune`/`evaluate` only: the protocol and the encoder file it starts from (absolute, outside the run folder).
  public var scenario: Scenario?
  public var encoder: String?

  public init(kind: Kind, dataset: String, task: String? = nil, scenario: Scenario? = nil, encoder: String? = nil) {
    (self.kind, self.dataset, self.task, self.scenario, self.encoder) = (kind, dataset, task, scenario, encoder)
  }
}

/// An exclusive hold on a run folder (`flock` on `RUN/.lock`), kept while the run goes on: a second process
/// that starts or resumes the same run is refused instead of retraining beside it. The kernel drops the
/// lock when the process ends, however it ends (SIGKILL included), so a killed run never leaves it stale.
public final class RunLock: @unchecked Sendable {
  public let folder: String
  let fd: Int32

  init(_ folder: String) throws {
    self.folder = folder
    let path = folder + "/.lock"
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw FileError(path: path, "cannot open the run's lock file: \(String(cString: strerror(errno)))") }
    guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
      let reason = errno
      close(fd)
      if reason == EWOULDBLOCK {
        throw FileError(path: folder, "is in use by another pretext process (started or resumed there and still running): not touched")
      }
      throw FileError(path: path, "cannot lock: \(String(cString: strerror(reason)))")
    }
  }

  deinit { close(fd) }
}

/// The files of a run folder. JSON is written atomically (a run killed mid-write leaves the old file or
/// none); a stage's result file is written only once the stage is complete, so its presence means "done".
/// Every path a result file records is relative to the run folder, so a run folder can be moved.
public enum RunFolder {
  static func encoder() -> JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    // An undefined statistic (a confidence interval of one run, an accuracy of no image) is kept as "nan".
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  static func decoder() -> JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
  }

  public static func write<T: Encodable>(_ value: T, to path: String) throws {
    let data: [UInt8]
    do { data = try json(value) } catch {
      throw FileError(path: path, "cannot encode \(T.self): \(error)")
    }
    try AtomicFileWriter.write(data, to: path)
  }

  /// Writes a stage's result file sealed (`ResultSeal`): the stage it belongs to (the same fingerprint as its
  /// checkpoints: stage, run and config digest) and a checksum over its contents and that stage.
  public static func writeResult<T: Encodable>(_ value: T, to path: String, stage: String) throws {
    let seal = ResultSeal(stage: stage, checksum: ResultSeal.checksum(try json(value), stage: stage))
    try AtomicFileWriter.write(try json(SealedResult(value: value, seal: seal)), to: path)
  }

  /// A stage's result file (nil: none, the stage is not done). One whose contents no longer match its seal (a
  /// value edited by hand, a flipped byte) or whose seal names another stage than `stage` (another stage's file
  /// copied in, or config.json changed since) is refused, naming it; `stage` nil checks the contents only. A
  /// result written before results were sealed is read as it is.
  public static func readResult<T: Codable>(_ type: T.Type, from path: String, stage: String?) throws -> T? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    let bytes = try contents(path, as: T.self)  // read once: the value and its seal
    let value = try decode(T.self, from: bytes, path: path)
    guard let seal = try decode(ResultSeal.Holder.self, from: bytes, path: path).fingerprint else { return value }
    guard seal.checksum == ResultSeal.checksum(try json(value), stage: seal.stage) else {
      throw FileError(path: path, "does not match its fingerprint: it was edited or damaged after its stage wrote it; delete it (and what was made from it) to run that stage again")
    }
    if let stage, seal.stage != stage {
      throw FileError(path: path, "was written by another stage or with other settings (\(seal.stage); this run expects \(stage)): was config.json changed, or a file copied in? Delete it to run that stage again")
    }
    return value
  }

  /// `value` as the JSON a run folder's files hold.
  public static func json<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try encoder().encode(value)) }

  public static func write(text: String, to path: String) throws { try AtomicFileWriter.write(Array(text.utf8), to: path) }

  /// The value in `path`, or nil when there is no such file; a file that does not decode is an error.
  public static func read<T: Decodable>(_ type: T.Type, from path: String) throws -> T? {
    guard FileManager.default.fileExists(atPath: path) else { return nil }
    return try decode(type, from: try contents(path, as: type), path: path)
  }

  /// The bytes of the file at `path`; one that cannot be read is an error naming it.
  static func contents<T>(_ path: String, as type: T.Type) throws -> Data {
    do { return try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
      throw FileError(path: path, "not a valid \(type) file: \(error)")
    }
  }

  /// `bytes` (the file at `path`) as a `T`; one that does not decode is an error naming the file.
  static func decode<T: Decodable>(_ type: T.Type, from bytes: Data, path: String) throws -> T {
    do { return try decoder().decode(type, from: bytes) } catch {
      throw FileError(path: path, "not a valid \(type) file: \(error)")
    }
  }

  /// A new run folder `<out>/<name>` created exclusively (never one another run already made: a second run
  /// started in the same second gets `<name>-2`, …), locked, with config.json and run.json. `out` must not lie
  /// inside the dataset (the run's files would become images or a class of it).
  public static func create(in out: String, name: String, config: StudyConfig, manifest: RunManifest) throws -> (String, RunLock) {
    try refuseInside(out: out, dataset: manifest.dataset)
    try makeFolders(out)
    for n in 1...10_000 {
      let dir = out + "/" + (n == 1 ? name : "\(name)-\(n)")
      if mkdir(dir, 0o755) == 0 {
        let lock = try RunLock(dir)
        try write(config, to: dir + "/config.json")
        try write(manifest, to: dir + "/run.json")
        return (dir, lock)
      }
      guard errno == EEXIST else { throw FileError(path: dir, "cannot create the run folder: \(String(cString: strerror(errno)))") }
    }
    throw FileError(path: out, "10,000 run folders named \(name) already exist")
  }

  /// `start` for callers that name the folder themselves (`compare --run DIR`, tests): creates `dir` (it may
  /// exist, but empty: a folder holding anything else is the user's, and config.json or report.md there would be
  /// overwritten), locks it, writes config.json and run.json.
  public static func start(_ dir: String, config: StudyConfig, manifest: RunManifest) throws -> RunLock {
    try refuseInside(out: dir, dataset: manifest.dataset)  // the folder itself: it may be the dataset's root
    try makeFolders(dir)
    let lock = try RunLock(dir)
    guard !FileManager.default.fileExists(atPath: dir + "/run.json") else {
      throw FileError(path: dir, "already holds a run (run.json): use `pretext resume` or another folder")
    }
    // Our own lock file and leftovers of killed atomic writes are no one else's; anything more is the user's.
    let foreign = try FileManager.default.contentsOfDirectory(atPath: dir)
      .filter { $0 != ".lock" && !AtomicFileWriter.isLeftover($0) }.sorted()
    guard foreign.isEmpty else {
      throw FileError(path: dir, "is not empty and holds no run (\(foreign.prefix(5).joined(separator: ", "))\(foreign.count > 5 ? ", …" : "")): its files would be overwritten; give a new or empty folder")
    }
    try write(config, to: dir + "/config.json")
    try write(manifest, to: dir + "/run.json")
    return lock
  }

  /// The config, manifest and lock of an existing run folder, with errors that say what is missing; the
  /// temporary files that a kill during an atomic write left behind are removed (the lock says no other
  /// process is writing here). In a data-parallel run only rank 0 locks and cleans (the others never write
  /// there); theirs is nil.
  public static func open(_ dir: String) throws -> (StudyConfig, RunManifest, RunLock?) {
    guard let config = try read(StudyConfig.self, from: dir + "/config.json") else {
      throw FileError(path: dir, "not a run folder: no config.json")
    }
    guard let manifest = try read(RunManifest.self, from: dir + "/run.json") else {
      throw FileError(path: dir, "not a resumable run folder: no run.json")
    }
    do { try config.validate() } catch {
      throw FileError(path: dir + "/config.json", "holds settings that cannot run: \(error)")
    }
    guard Parallel.isWriter else { return (config, manifest, nil) }
    let lock = try RunLock(dir)
    try removeLeftovers(dir)
    return (config, manifest, lock)
  }

  /// `mkdir -p`, with the system's reason on failure.
  static func makeFolders(_ path: String) throws {
    var isDir: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
      guard isDir.boolValue else { throw FileError(path: path, "exists and is not a folder") }
      return
    }
    let parent = parentPath(path)
    if !parent.isEmpty && parent != path { try makeFolders(parent) }
    guard mkdir(path, 0o755) == 0 || errno == EEXIST else {
      throw FileError(path: path, "cannot create the folder: \(String(cString: strerror(errno)))")
    }
  }

  /// Deletes `*.tmp-PID-N` files (interrupted atomic writes) anywhere in the run folder.
  static func removeLeftovers(_ dir: String) throws {
    guard let e = FileManager.default.enumerator(atPath: dir) else { return }
    for case let rel as String in e where AtomicFileWriter.isLeftover((rel as NSString).lastPathComponent) {
      try FileManager.default.removeItem(atPath: dir + "/" + rel)
    }
  }

  /// Refuses an output folder inside the dataset folder (or equal to it), comparing real paths.
  static func refuseInside(out: String, dataset: String) throws {
    func real(_ p: String) -> String? {
      guard let r = realpath(p, nil) else { return nil }
      defer { free(r) }
      return String(cString: r)
    }
    // The nearest existing ancestor of `out` decides (`out` itself may not exist yet).
    var probe = URL(fileURLWithPath: out).standardizedFileURL.path
    while real(probe) == nil && probe != "/" { probe = parentPath(probe) }
    guard let o = real(probe), let d = real(dataset) else { return }
    if o == d || o.hasPrefix(d.hasSuffix("/") ? d : d + "/") {
      throw FileError(path: out, "the run folder would be inside the dataset \(dataset): its files would become part of the data; choose a folder outside it")
    }
  }

  /// Deletes a finished stage's checkpoints (its result file is written) unless the config keeps them.
  static func dropCheckpoints(_ paths: [String], _ config: StudyConfig) throws {
    guard !config.runtime.keepCheckpoints else { return }
    for p in paths where FileManager.default.fileExists(atPath: p) { try FileManager.default.removeItem(atPath: p) }
  }
}

/// The `fingerprint` entry of a stage's result file.
public struct ResultSeal: Codable, Sendable, Equatable {
  /// The stage's fingerprint (`StudyConfig.fingerprint(stage:)`).
  public let stage: String
  /// `pt_checksum64` over the result's JSON (without this entry) and `stage`.
  public let checksum: String

  static func checksum(_ json: [UInt8], stage: String) -> String { Checksum.hex(json + [0] + Array(stage.utf8)) }

  struct Holder: Decodable { let fingerprint: ResultSeal? }
}

/// A result with its seal as one more top-level entry (`fingerprint`), which the result's own decoder ignores.
struct SealedResult<T: Encodable>: Encodable {
  let value: T, seal: ResultSeal
  enum Key: String, CodingKey { case fingerprint }
  func encode(to encoder: Encoder) throws {
    try value.encode(to: encoder)
    var c = encoder.container(keyedBy: Key.self)  // the same JSON object as the value's
    try c.encode(seal, forKey: .fingerprint)
  }
}
