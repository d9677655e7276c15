// Issue 12: the failure model, end to end through the built `pretext` (and `make`). NOTES.md, "Failure
// model", says what each test holds the tool to.
import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import NN
@testable import Study
@testable import Torch

/// A tiny synthetic dataset and the flags of a tiny run on it (train/ 40 images, unsup/ 20).
struct TinyRun {
  let root = NSTemporaryDirectory() + "pretext-fail-\(UUID().uuidString)"
  var data: String { root + "/data" }
  static let flags = ["--pretext-size", "32", "--size", "32", "--widen", "0.125", "--batch", "8", "--pretext-batch", "8",
                      "--epochs", "2", "--head-epochs", "1", "--pretext-epochs", "1", "--runs", "1", "--workers", "1"]
  init(seed: UInt64 = 5) throws {
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 1, unsupCount: 20, seed: seed).write(to: root + "/data")
  }
  func pretext(_ args: [String], directory: String? = nil, timeout: TimeInterval = 300, killWhen: ((String) -> Bool)? = nil) throws
    -> ToolRun
  {
    try runTool(try builtTool("pretext"), args, environment: ["OMP_NUM_THREADS": "1"], directory: directory, timeout: timeout,
                killWhen: killWhen)
  }
  func experiment(out: String, _ extra: [String] = [], directory: String? = nil, killWhen: ((String) -> Bool)? = nil) throws -> ToolRun {
    try pretext(["experiment", "--data", data, "--out", out] + TinyRun.flags + extra, directory: directory, killWhen: killWhen)
  }
  /// The one run folder under `out`.
  func runFolder(_ out: String) throws -> String {
    let found = try FileManager.default.contentsOfDirectory(atPath: out).filter { !$0.hasPrefix(".") }
    try #require(found.count == 1, "\(found)")
    return out + "/" + found[0]
  }
  func files(_ dir: String) -> [String] { (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String]) ?? [] }
}

@Suite struct FailureModelTests {
  /// Item 2: a failing step fails the make target (recipes were chained with `;`).
  @Test func makeTargetsFailWhenTheirCommandFails() throws {
    for target in ["demo", "release"] {
      let r = try runTool(URL(fileURLWithPath: "/usr/bin/make"), ["-C", repositoryRoot(), target, "SWIFT=false"], timeout: 300)
      #expect(r.status != 0, "make \(target) SWIFT=false exited 0:\n\(r.output)")
    }
  }

  /// Items 3 and 10: undecodable files (junk bytes, a truncated JPEG, a macOS `._` file, a FIFO) are named,
  /// counted and excluded from every split; the run trains on the rest; `resume` scans too. A split with no
  /// usable image stops the run with an error. Item 15: finished stages leave no checkpoint behind.
  @Test func undecodableFilesAreExcludedNamedAndCounted() throws {
    let t = try TinyRun()
    let layout = try ImageWangLayout(root: t.data)
    let cls = t.data + "/train/" + layout.train.classes[0]
    let real = try [UInt8](Data(contentsOf: URL(fileURLWithPath: layout.valid.paths[0])))
    FileManager.default.createFile(atPath: cls + "/junk.jpg", contents: Data((0..<300).map { UInt8(truncatingIfNeeded: $0 * 7) }))
    FileManager.default.createFile(atPath: cls + "/._photo.jpg", contents: Data([0x00, 0x05, 0x16, 0x07, 0, 2, 0, 0] + [UInt8](repeating: 0, count: 70)))
    FileManager.default.createFile(atPath: parentPath(layout.valid.paths[0]) + "/cut.jpg",
                                   contents: Data(real.prefix(real.count / 2)))
    try #require(mkfifo(t.data + "/unsup/pipe.jpg", 0o644) == 0)

    let r = try t.experiment(out: t.root + "/runs")
    try #require(r.status == 0, "\(r.output)")
    #expect(r.output.contains("skipped 4 files"), "\(r.output)")
    for name in ["junk.jpg", "._photo.jpg", "cut.jpg", "pipe.jpg"] { #expect(r.output.contains(name), "\(name) not named") }
    let dir = try t.runFolder(t.root + "/runs")
    let pretext = try #require(try RunFolder.read(PretextResult.self, from: dir + "/pretext/inpainting/result.json"))
    #expect(pretext.trainingItems == 40 + 20)  // the bad train/ and unsup/ files were not trained on
    #expect(!t.files(dir).contains { $0.hasSuffix("checkpoint.safetensors") }, "\(t.files(dir))")

    // resume scans as well: a file broken since is named (all stages are done, nothing retrains).
    FileManager.default.createFile(atPath: layout.train.paths[3], contents: Data([1, 2, 3]))
    let again = try t.pretext(["resume", dir])
    #expect(again.status == 0 && again.output.contains(layout.train.paths[3]), "\(again.output)")

    // Every train/ image junk: an error, exit non-zero.
    for p in try ImageWangLayout(root: t.data).train.paths { _ = FileManager.default.createFile(atPath: p, contents: Data([0xFF, 0xD8, 0xFF, 1])) }
    let junk = try t.experiment(out: t.root + "/runs2")
    #expect(junk.status != 0 && junk.output.contains("no usable image left"), "\(junk.output)")
  }

  /// Item 4: a run folder records paths relative to itself: moved elsewhere and resumed from another
  /// working directory, it finishes (the encoder path was relative to the first process's directory).
  @Test func aMovedRunFolderResumesFromAnywhere() throws {
    let t = try TinyRun()
    for d in ["a", "b", "c"] { try FileManager.default.createDirectory(atPath: t.root + "/" + d, withIntermediateDirectories: true) }
    let first = try t.experiment(out: "runs", directory: t.root + "/a", killWhen: { $0.contains("random run 1") })
    try #require(first.killed, "\(first.output)")
    let dir = try t.runFolder(t.root + "/a/runs")
    try FileManager.default.moveItem(atPath: dir, toPath: t.root + "/b/moved")
    let resumed = try t.pretext(["resume", "../b/moved"], directory: t.root + "/c")
    #expect(resumed.status == 0, "\(resumed.output)")
    #expect(FileManager.default.fileExists(atPath: t.root + "/b/moved/report.md"))
  }

  /// Item 5: `finetune --init-from FILE --mode full` trains every layer at one lr from the encoder, and says so.
  @Test func finetuneFullModeIsPretextInitAllTrainedAtOneLR() throws {
    let t = try TinyRun()
    let classifier = try XResNet(.resnet34, classes: 20, widen: 0.125)
    let encoder = t.root + "/encoder.safetensors"
    try SafeTensors.save(classifier.body.stateDict(), to: encoder)
    let r = try t.pretext(["finetune", "--init-from", encoder, "--mode", "full", "--data", t.data, "--out", t.root + "/runs"] + TinyRun.flags)
    try #require(r.status == 0, "\(r.output)")
    #expect(r.output.contains("scenario: full"))
    let manifest = try #require(try RunFolder.read(RunManifest.self, from: try t.runFolder(t.root + "/runs") + "/run.json"))
    #expect(manifest.scenario == .full && manifest.encoder == encoder)

    // In the library: the body starts from the encoder, and every group gets the same lr at every step.
    var config = StudyConfig()
    (config.downstream.size, config.downstream.batch, config.downstream.epochs, config.widen) = (32, 8, 1, 0.125)
    let watch = Watch()
    _ = try trainScenario(.full, run: 0, data: ImageWangLayout(root: t.data), encoder: encoder, config, runDir: t.root + "/lib",
                          callbacks: [watch])
    #expect(try watch.atStart["0.0.weight"]!.equal(SafeTensors.File(path: encoder).tensor("0.0.weight")))
    #expect(!watch.lrs.isEmpty && watch.lrs.allSatisfy { Set($0).count == 1 })
  }

  /// Item 6: an integer-typed encoder is refused; a checkpoint of another stage copied in place is refused
  /// on resume (its fingerprint), and `--keep-checkpoints` keeps finished stages' checkpoints.
  @Test func wrongWeightsAndForeignCheckpointsAreRefused() throws {
    let t = try TinyRun()
    let classifier = try XResNet(.resnet34, classes: 20, widen: 0.125)
    let ints = t.root + "/int-encoder.safetensors"
    try SafeTensors.save(try classifier.body.stateDict().map { ($0.name, try $0.tensor.to(dtype: .int32)) }, to: ints)
    let r = try t.pretext(["finetune", "--init-from", ints, "--mode", "head", "--data", t.data, "--out", t.root + "/runs"] + TinyRun.flags)
    #expect(r.status != 0 && r.output.contains("wrong dtypes"), "\(r.output)")

    let killed = try t.experiment(out: t.root + "/exp", ["--keep-checkpoints"], killWhen: { $0.contains("random run 1") })
    try #require(killed.killed)
    let dir = try t.runFolder(t.root + "/exp")
    #expect(FileManager.default.fileExists(atPath: dir + "/pretext/inpainting/checkpoint.safetensors"))  // kept
    try FileManager.default.createDirectory(atPath: dir + "/eval/head/0", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: dir + "/eval/random/0/checkpoint.safetensors", toPath: dir + "/eval/head/0/checkpoint.safetensors")
    let resumed = try t.pretext(["resume", dir])
    #expect(resumed.status != 0 && resumed.output.contains("belongs to another stage"), "\(resumed.output)")
  }

  /// Items 9, 13 and 15: nonsense options are refused before anything is made, naming the flag, with the
  /// subcommand's usage (not the top-level one), and never trap.
  @Test func badOptionsAreRefusedUpFrontNamingTheFlag() throws {
    let t = try TinyRun()
    let file = t.root + "/a-file"
    FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
    let out = t.root + "/runs"
    let cases: [([String], String)] = [
      (["--epochs", "0"], "--epochs"), (["--epochs=-1"], "--epochs"), (["--pretext-epochs", "0"], "--pretext-epochs"),
      (["--runs", "0"], "--runs"), (["--runs=-1"], "--runs"), (["--lr", "-1"], "--lr"), (["--lr", "nan"], "--lr"),
      (["--batch", "0"], "--batch"), (["--batch=-3"], "--batch"), (["--widen", "1e300"], "--widen"), (["--widen", "0"], "--widen"),
      (["--size", "0"], "--size"), (["--head-epochs=-1"], "--head-epochs"), (["--workers", "0"], "--workers"),
      (["--precision", "fp64"], "--precision"), (["--precision", "fp16"], "--precision"),  // fp16: a GPU format
    ]
    for (args, flag) in cases {
      let r = try t.pretext(["experiment", "--data", t.data, "--out", out] + args, timeout: 60)
      #expect(r.status != 0 && !r.killed, "\(args): \(r.output)")
      #expect(r.output.contains(flag) && r.output.contains("Usage: pretext experiment"), "\(args): \(r.output)")
    }
    #expect(!FileManager.default.fileExists(atPath: out), "a refused run left a folder")
    let asFile = try t.pretext(["experiment", "--data", t.data, "--out", file])
    #expect(asFile.status != 0 && asFile.output.contains("--out") && asFile.output.contains("not a folder"), "\(asFile.output)")
    let unwritable = try t.pretext(["experiment", "--data", t.data, "--out", "/proc/pretext-\(UUID().uuidString)"] + TinyRun.flags)
    #expect(unwritable.status != 0 && unwritable.output.contains("--out"), "\(unwritable.output)")
    let rows = try t.pretext(["show", t.root, "--rows", "0"])
    #expect(rows.status != 0 && !rows.killed && rows.output.contains("--rows") && rows.output.contains("Usage: pretext show"), "\(rows.output)")
    let synth = try t.pretext(["data", "synth", t.root + "/s", "--size=-5"])
    #expect(synth.status != 0 && !synth.killed && synth.output.contains("--size"), "\(synth.output)")
    // Item 12: a batch larger than the split (no batch would form) is named before training.
    let big = try t.pretext(["experiment", "--data", t.data, "--out", out] + TinyRun.flags + ["--batch", "64"])
    #expect(big.status != 0 && big.output.contains("--batch 64 is larger than the 40 train/ images"), "\(big.output)")
    // Item 10: a FIFO as the encoder is refused at once.
    let fifo = t.root + "/enc.safetensors"
    try #require(mkfifo(fifo, 0o644) == 0)
    let f = try t.pretext(["finetune", "--init-from", fifo, "--mode", "head", "--data", t.data, "--out", out] + TinyRun.flags, timeout: 60)
    #expect(f.status != 0 && !f.timedOut && f.output.contains("not a regular file"), "\(f.output)")
  }

  /// Item 7: an output folder inside the dataset is refused (the run folder would become a class).
  @Test func outputInsideTheDatasetIsRefused() throws {
    let t = try TinyRun()
    let before = try FileManager.default.contentsOfDirectory(atPath: t.data + "/train").count
    let r = try t.experiment(out: t.data + "/train")
    #expect(r.status != 0 && r.output.contains("inside the dataset"), "\(r.output)")
    #expect(try FileManager.default.contentsOfDirectory(atPath: t.data + "/train").count == before)
    // `compare --run` naming the dataset's own folder (or one in it) is refused the same way, before writing there.
    let top = try Set(FileManager.default.contentsOfDirectory(atPath: t.data))
    for run in [t.data, t.data + "/runs"] {
      let c = try t.pretext(["compare", "--data", t.data, "--run", run, "--tasks", "rotation", "--protocols", "knn", "--widen", "0.125"], timeout: 120)
      #expect(c.status != 0 && c.output.contains("inside the dataset"), "\(c.output)")
      #expect(try Set(FileManager.default.contentsOfDirectory(atPath: t.data)) == top)
    }
  }

  /// Item 8: a run folder in use (its lock held, here by this process) is refused by `resume`; its logs are
  /// untouched. Item 15: leftovers of interrupted atomic writes are removed when a run is reopened.
  @Test func aRunFolderInUseIsRefusedAndLeftoversAreCleaned() throws {
    let t = try TinyRun()
    var config = StudyConfig.demo
    config.widen = 0.125
    let dir = t.root + "/run"
    var lock: RunLock? = try RunFolder.start(dir, config: config, manifest: RunManifest(kind: .experiment, dataset: t.data))
    try FileManager.default.createDirectory(atPath: dir + "/pretext/inpainting", withIntermediateDirectories: true)
    FileManager.default.createFile(atPath: dir + "/pretext/inpainting/checkpoint.safetensors.tmp-4242-17", contents: Data([1]))
    let busy = try t.pretext(["resume", dir], timeout: 60)
    #expect(busy.status != 0 && busy.output.contains("in use by another pretext process"), "\(busy.output)")
    #expect(FileManager.default.fileExists(atPath: dir + "/pretext/inpainting/checkpoint.safetensors.tmp-4242-17"))
    withExtendedLifetime(lock) {}
    lock = nil
    let (_, _, reopened) = try RunFolder.open(dir)
    #expect(!FileManager.default.fileExists(atPath: dir + "/pretext/inpainting/checkpoint.safetensors.tmp-4242-17"))
    withExtendedLifetime(reopened) {}
  }

  /// Item 11: runs started at once with the same name get folders of their own.
  @Test func runFoldersAreCreatedExclusively() throws {
    let t = try TinyRun()
    let out = t.root + "/runs"
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    let made = Locked<[String]>([])
    DispatchQueue.concurrentPerform(iterations: 8) { i in
      var config = StudyConfig.demo
      config.runtime.seed = UInt64(i)
      if let (dir, lock) = try? RunFolder.create(in: out, name: "experiment-demo-same-second", config: config,
                                                 manifest: RunManifest(kind: .experiment, dataset: t.data)) {
        made.update { $0.append(dir) }
        withExtendedLifetime(lock) {}
      }
    }
    #expect(Set(made.value).count == 8)
    let seeds = try made.value.map { try #require(try RunFolder.read(StudyConfig.self, from: $0 + "/config.json")).runtime.seed }
    #expect(Set(seeds).count == 8)  // no run's config overwrote another's
  }

  /// Item 15: the report escapes what it embeds.
  @Test func reportEscapesTheDatasetPath() {
    let r = ExperimentResult(config: .demo, dataset: "/data/<b>cats & 'dogs'</b>", pretextHistory: [], pretextSeconds: 0, scenarios: [],
                             pictureFile: "pretext/inpainting/inpainting.png")
    let html = Report.html(r)
    #expect(html.contains("/data/&lt;b&gt;cats &amp; &#39;dogs&#39;&lt;/b&gt;") && !html.contains("<b>cats"))
  }
}

/// A value shared by threads.
final class Locked<T>: @unchecked Sendable {
  private var v: T
  private let lock = NSLock()
  init(_ v: T) { self.v = v }
  func update(_ f: (inout T) -> Void) { lock.withLock { f(&v) } }
  var value: T { lock.withLock { v } }
}
