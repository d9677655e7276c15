// Issue 40: what an adversarial pass of the landed build found, each item held by a test that failed before its
// fix. NOTES.md, "Failure model", lists the promises with these tests' names.
import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import NN
@testable import SelfSupervised
@testable import Study
@testable import Torch
@testable import Training

@Suite struct AdversarialPassTests {
  static let fm = FileManager.default

  /// Item 1: `compare --run DIR` into a folder that holds someone's files (not a comparison) is refused, and the
  /// files are left as they were.
  @Test func compareRunRefusesAFolderThatHoldsSomethingElse() throws {
    let t = try TinyRun()
    let proj = t.root + "/proj"
    try Self.fm.createDirectory(atPath: proj, withIntermediateDirectories: true)
    try #"{"my":1}"#.write(toFile: proj + "/config.json", atomically: true, encoding: .utf8)
    try "# notes\n".write(toFile: proj + "/report.md", atomically: true, encoding: .utf8)
    let r = try t.pretext(["compare", "--data", t.data, "--tasks", "rotation", "--protocols", "knn", "--run", proj] + TinyRun.flags)
    #expect(r.status != 0 && r.output.contains("is not empty and holds no run"), "\(r.output)")
    #expect(try String(contentsOfFile: proj + "/config.json", encoding: .utf8) == #"{"my":1}"#)
    #expect(try String(contentsOfFile: proj + "/report.md", encoding: .utf8) == "# notes\n")
    #expect(!Self.fm.fileExists(atPath: proj + "/run.json"))
  }

  /// Item 2: an output path is written through a symbolic link (the link stays, its target gets the bytes), streamed
  /// into a FIFO and a character device, refused for a folder, and never replaced by a regular file.
  @Test func outputTargetsAreWrittenInPlaceNeverReplaced() throws {
    let root = NSTemporaryDirectory() + "pretext-out-\(UUID().uuidString)"
    try Self.fm.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? Self.fm.removeItem(atPath: root) }
    // A link to an existing file, and a dangling one: the targets get the bytes, the links stay links.
    try "old".write(toFile: root + "/target.csv", atomically: true, encoding: .utf8)
    try Self.fm.createSymbolicLink(atPath: root + "/link.csv", withDestinationPath: "target.csv")
    try OutputFile.write(Array("new".utf8), to: root + "/link.csv")
    #expect(try String(contentsOfFile: root + "/target.csv", encoding: .utf8) == "new")
    #expect(try Self.fm.destinationOfSymbolicLink(atPath: root + "/link.csv") == "target.csv")
    try Self.fm.createSymbolicLink(atPath: root + "/dangling.csv", withDestinationPath: root + "/made.csv")
    try OutputFile.write(Array("made".utf8), to: root + "/dangling.csv")
    #expect(try String(contentsOfFile: root + "/made.csv", encoding: .utf8) == "made")
    // A FIFO: its reader gets the bytes; it is still a FIFO afterwards.
    try #require(mkfifo(root + "/pipe", 0o644) == 0)
    nonisolated(unsafe) var read = Data()
    let reader = Thread { read = FileHandle(forReadingAtPath: root + "/pipe")?.readDataToEndOfFile() ?? Data() }
    reader.start()
    try OutputFile.write(Array("through the pipe".utf8), to: root + "/pipe")
    while !reader.isFinished { usleep(10_000) }
    #expect(String(decoding: read, as: UTF8.self) == "through the pipe")
    #expect(try Self.fm.attributesOfItem(atPath: root + "/pipe")[.type] as? FileAttributeType == .typeUnknown
      || (try Self.fm.attributesOfItem(atPath: root + "/pipe")[.type] as? FileAttributeType) != .typeRegular)
    // Devices are written in place: /dev/null takes the bytes; /dev/full says it is full, and stays a device.
    try OutputFile.write(Array("x".utf8), to: "/dev/null")
    #expect(throws: FileError.self) { try OutputFile.write(Array("x".utf8), to: "/dev/full") }
    #expect(try Self.fm.attributesOfItem(atPath: "/dev/full")[.type] as? FileAttributeType == .typeCharacterSpecial)
    // A folder is refused, naming it; an image to a FIFO is a PNG.
    let folder = #expect(throws: FileError.self) { try OutputFile.write([1], to: root) }
    #expect(folder?.description.contains("a folder") == true)
    #expect(try OutputFile.target("-") == .standardOutput && OutputFile.target("/dev/null") == .stream("/dev/null"))
    // The atomic writer never renames over something that is not a regular file.
    var w = try AtomicFileWriter(path: "/dev/null")
    try w.write([1, 2, 3])
    #expect(throws: FileError.self) { try w.commit() }
    #expect(try Self.fm.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType == .typeCharacterSpecial)
  }

  /// Item 2, end to end: `knn --output -` writes its JSON to standard output (the summary line goes to standard error).
  @Test func knnOutputToStandardOutput() throws {
    let t = try TinyRun()
    let r = try t.pretext(["knn", "--encoder", "random", "--data", t.data, "--output", "-", "--size", "32", "--widen", "0.125", "--workers", "1",
                           "--batch", "8", "--out", t.root + "/runs"])
    try #require(r.status == 0, "\(r.output)")
    #expect(r.output.contains("\"accuracy\"") && r.output.contains("kNN (k 20"), "\(r.output)")
    #expect(!Self.fm.fileExists(atPath: "-"))
  }

  /// Item 3: SIGTERM to an `--nproc` launcher goes to its ranks; it waits for them and exits 128 + 15, and the run's
  /// lock is free at once (no rank left training).
  @Test func stoppingTheLauncherStopsItsRanks() throws {
    let t = try TinyRun()
    let p = Process()
    p.executableURL = try builtTool("pretext")
    p.arguments = ["pretrain", "--task", "rotation", "--data", t.data, "--out", t.root + "/runs", "--nproc", "2", "--pretext-epochs", "200"]
      + ["--pretext-size", "32", "--pretext-batch", "8", "--widen", "0.125", "--workers", "1"]
    p.environment = ProcessInfo.processInfo.environment.merging(["OMP_NUM_THREADS": "1"]) { $1 }
    let pipe = Pipe()
    (p.standardOutput, p.standardError) = (pipe, pipe)
    try p.run()
    var out = ""
    let deadline = Date().addingTimeInterval(240)
    while !out.contains("epoch 1 ") && Date() < deadline {
      let chunk = pipe.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      out += String(decoding: chunk, as: UTF8.self)
    }
    try #require(out.contains("epoch 1 "), "\(out)")
    let stopped = Date()
    kill(p.processIdentifier, SIGTERM)
    p.waitUntilExit()
    #expect(p.terminationStatus == 128 + SIGTERM, "\(out)")
    #expect(Date().timeIntervalSince(stopped) < 10, "the ranks took \(Date().timeIntervalSince(stopped)) s to stop (SIGKILLed after 30 s?)")
    let run = try t.runFolder(t.root + "/runs")
    _ = try RunLock(run)  // in use by a rank still running would throw
  }

  /// Items 3 and 7: a data-parallel pretrain whose launcher is SIGKILLed after its first checkpoint leaves no rank
  /// behind (they end with it), and `resume --nproc 2` finishes bit-identical to a run never stopped: every epoch's
  /// train and validation loss, and the weights (every rank validates with rank 0's BatchNorm statistics).
  @Test func dataParallelResumeIsBitIdentical() throws {
    let t = try TinyRun(seed: 8)
    // 20 epochs of 0.3 s: the kill lands between checkpoints, not after the last.
    let args = ["pretrain", "--data", t.data, "--nproc", "2", "--precision", "fp32", "--pretext-epochs", "20", "--pretext-size", "32",
                "--pretext-batch", "8", "--widen", "0.125", "--workers", "1"]
    let straight = try t.pretext(args + ["--out", t.root + "/straight"])
    try #require(straight.status == 0, "\(straight.output)")
    let killed = try t.pretext(args + ["--out", t.root + "/killed"], killWhen: { $0.contains("epoch 1 ") })
    try #require(killed.killed, "\(killed.output)")
    let run = try t.runFolder(t.root + "/killed")
    var free = false
    for _ in 0..<100 where !free {  // the ranks get SIGTERM from the kernel when their launcher dies
      free = (try? RunLock(run)) != nil
      if !free { usleep(100_000) }
    }
    #expect(free, "a rank of the killed launcher still holds \(run)")
    #expect(!Self.fm.fileExists(atPath: run + "/pretext/inpainting/result.json"))
    let resumed = try t.pretext(["resume", run, "--nproc", "2"])
    try #require(resumed.status == 0, "\(resumed.output)")
    func history(_ dir: String) throws -> [EpochRecord] {
      try #require(try RunFolder.readResult(PretextResult.self, from: dir + "/pretext/inpainting/result.json", stage: nil)).history
    }
    let (a, b) = (try history(try t.runFolder(t.root + "/straight")), try history(run))
    #expect(a.map(\.trainLoss) == b.map(\.trainLoss) && a.map(\.validLoss) == b.map(\.validLoss),
            "straight \(a.map { [$0.trainLoss, $0.validLoss ?? .nan] }), resumed \(b.map { [$0.trainLoss, $0.validLoss ?? .nan] })")
    let (x, y) = (try SafeTensors.File(path: try t.runFolder(t.root + "/straight") + "/pretext/inpainting/unet.safetensors").tensors(),
                  try SafeTensors.File(path: run + "/pretext/inpainting/unet.safetensors").tensors())
    #expect(x.count == y.count)
    for (p, q) in zip(x, y) {
      let same = try p.tensor.equal(q.tensor)
      #expect(p.name == q.name && same, "\(p.name)")
    }
  }

  /// Item 4: a protocol with a head-only phase first is refused when that phase would take every epoch.
  @Test func discriminativeAndLPFTNeedAnEpochAfterTheHeadPhase() throws {
    var c = StudyConfig.demo
    (c.downstream.epochs, c.downstream.headEpochs) = (2, 2)
    for p in [Scenario.discriminative, .lpft] {
      let e = #expect(throws: StudyConfig.ConfigError.self) { try c.validate(protocols: [p]) }
      #expect(e?.message.contains("--head-epochs 2") == true && e?.message.contains("--epochs 2") == true)
    }
    try c.validate(protocols: [.full, .head, .linear, .random])
    c.downstream.headEpochs = 0
    try c.validate(protocols: [.discriminative, .lpft])
    let t = try TinyRun()
    let encoder = t.root + "/encoder.safetensors"
    try SafeTensors.save(try XResNet(.resnet34, classes: 20, widen: 0.125).body.stateDict(), to: encoder)
    let r = try t.pretext(["evaluate", "--protocol", "discriminative", "--encoder", encoder, "--data", t.data, "--out", t.root + "/runs",
                           "--epochs", "2", "--head-epochs", "2", "--size", "32", "--widen", "0.125"])
    #expect(r.status != 0 && r.output.contains("--head-epochs 2") && !Self.fm.fileExists(atPath: t.root + "/runs"), "\(r.output)")
    let c2 = try t.pretext(["compare", "--data", t.data, "--tasks", "rotation", "--protocols", "lpft", "--epochs", "1", "--head-epochs", "1",
                            "--out", t.root + "/runs"])
    #expect(c2.status != 0 && c2.output.contains("protocol lpft"), "\(c2.output)")
  }

  /// Item 6: with k = 1 the temperature does not matter: T = 0.001 (exp(s / T) overflows float32) predicts the nearest
  /// neighbour's class, as T = 1 does, with finite votes.
  @Test func knnHoldsForSmallTemperatures() throws {
    var rng = SplitMix64(seed: 9)
    let (n, m, d, classes) = (40, 60, 8, 5)
    let q = try Tensor((0..<(n * d)).map { _ in Float.random(in: -1...1, using: &rng) }).reshape([n, d])
    let bank = try Tensor((0..<(m * d)).map { _ in Float.random(in: -1...1, using: &rng) }).reshape([m, d])
    let labels = try Tensor((0..<m).map { _ in Int64.random(in: 0..<Int64(classes), using: &rng) })
    let cold = KNNClassifier(k: 1, temperature: 0.001, classes: classes), warm = KNNClassifier(k: 1, temperature: 1, classes: classes)
    let votes = try cold.votes(queries: q, bank: bank, bankLabels: labels).toArray(of: Float.self)
    #expect(votes.allSatisfy { $0.isFinite })
    #expect(try cold.predict(queries: q, bank: bank, bankLabels: labels).toArray(of: Int64.self)
      == warm.predict(queries: q, bank: bank, bankLabels: labels).toArray(of: Int64.self))
    // k = 20 at T = 0.005: finite, and the same winner as the vote computed in float64.
    let k20 = try KNNClassifier(k: 20, temperature: 0.005, classes: classes).votes(queries: q, bank: bank, bankLabels: labels)
    #expect(try k20.toArray(of: Float.self).allSatisfy { $0.isFinite })
  }

  /// Item 8: a stage's result file is sealed: a hand-edited value, another stage's file or a config changed since
  /// is refused naming the file; files from before the seal are read as they are; a flipped byte in an encoder a
  /// run saved is refused, one from elsewhere (no checksum) is taken.
  @Test func resultFilesAndEncodersAreFingerprinted() throws {
    let root = NSTemporaryDirectory() + "pretext-seal-\(UUID().uuidString)"
    try Self.fm.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? Self.fm.removeItem(atPath: root) }
    let result = KNNResult(k: 20, temperature: 0.07, accuracy: 0.25, accuracyAmongValidClasses: 0.5, trainImages: 40, validImages: 10, seconds: 1)
    let path = root + "/result.json"
    try RunFolder.writeResult(result, to: path, stage: "knn run 0; config abc")
    #expect(try RunFolder.readResult(KNNResult.self, from: path, stage: "knn run 0; config abc")?.accuracy == 0.25)
    #expect(try RunFolder.readResult(KNNResult.self, from: path, stage: nil)?.accuracy == 0.25)
    #expect(throws: FileError.self) { try RunFolder.readResult(KNNResult.self, from: path, stage: "knn run 1; config abc") }
    let edited = try String(contentsOfFile: path, encoding: .utf8).replacingOccurrences(of: "\"accuracy\" : 0.25", with: "\"accuracy\" : 0.95")
    #expect(edited.contains("0.95"))
    try edited.write(toFile: path, atomically: true, encoding: .utf8)
    let e = #expect(throws: FileError.self) { try RunFolder.readResult(KNNResult.self, from: path, stage: nil) }
    #expect(e?.description.contains("fingerprint") == true && e?.description.contains(path) == true)
    try RunFolder.write(result, to: root + "/old.json")  // unsealed, as before this change
    #expect(try RunFolder.readResult(KNNResult.self, from: root + "/old.json", stage: "anything")?.accuracy == 0.25)

    let tensors = [("w", try Tensor([Float](repeating: 1, count: 64)))]
    try SafeTensors.save(tensors, checksum: true, to: root + "/encoder.safetensors")
    try SafeTensors.save(tensors, to: root + "/foreign.safetensors")
    for name in ["encoder", "foreign"] {
      var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: root + "/\(name).safetensors")))
      bytes[bytes.count - 1] ^= 0x40
      try Data(bytes).write(to: URL(fileURLWithPath: root + "/\(name).safetensors"))
    }
    #expect(throws: FileError.self) { try SafeTensors.File(path: root + "/encoder.safetensors").checked() }
    _ = try SafeTensors.File(path: root + "/foreign.safetensors").checked()
  }

  /// Item 8, end to end: config.json's epochs changed and one stage deleted, `resume` refuses the other stages'
  /// results (they were made with other settings) instead of averaging two lengths in one row; a hand-edited
  /// accuracy is refused, naming the file.
  @Test func resumeRefusesResultsOfOtherSettingsOrEdited() throws {
    let t = try TinyRun()
    let r = try t.experiment(out: t.root + "/runs")
    try #require(r.status == 0, "\(r.output)")
    let run = try t.runFolder(t.root + "/runs")
    let copy = t.root + "/copy"
    try Self.fm.copyItem(atPath: run, toPath: copy)
    var config = try #require(try RunFolder.read(StudyConfig.self, from: run + "/config.json"))
    config.downstream.epochs = 3
    try RunFolder.write(config, to: run + "/config.json")
    try Self.fm.removeItem(atPath: run + "/eval/head/0")
    let resumed = try t.pretext(["resume", run])
    #expect(resumed.status != 0 && resumed.output.contains("other settings"), "\(resumed.output)")
    let result = copy + "/eval/random/0/result.json"
    let text = try String(contentsOfFile: result, encoding: .utf8)
    let edited = text.replacingOccurrences(of: "\"accuracy\" : 0", with: "\"accuracy\" : 1", options: [], range: text.range(of: "\"accuracy\" : 0"))
    try #require(edited != text)
    try edited.write(toFile: result, atomically: true, encoding: .utf8)
    try Self.fm.removeItem(atPath: copy + "/results.json")
    let again = try t.pretext(["resume", copy])
    #expect(again.status != 0 && again.output.contains(result) && again.output.contains("fingerprint"), "\(again.output)")
  }

  /// Item 9: `predict` refuses a classifier with non-finite weights (naming the tensor) and one whose metadata names a
  /// class twice, instead of writing nan probabilities or labels that cannot be told apart.
  @Test func predictRefusesNonFiniteWeightsAndDuplicateClasses() throws {
    let t = try TinyRun()
    let classifier = try XResNet(.resnet34, classes: 3, widen: 0.125)
    let info = ClassifierInfo(classes: ["a", "b", "c"], size: 32, widen: 0.125, head: "linear")
    // Its metadata has sorted keys: the same classifier is the same bytes in every process.
    #expect(info.metadata[ClassifierInfo.metadataKey]?.hasPrefix(#"{"arch":"xresnet34","channels":3,"classes":"#) == true)
    var state = classifier.stateDict()
    let i = try #require(state.firstIndex { $0.name.hasSuffix("weight") && $0.tensor.dtype == .float32 })
    state[i].tensor = try Tensor.full(state[i].tensor.shape, .float(.nan))
    try SafeTensors.save(state, metadata: info.metadata, to: t.root + "/nan.safetensors")
    let images = [(path: try ImageWangLayout(root: t.data).valid.paths[0], id: "x")]
    let e = #expect(throws: FileError.self) { try predict(weights: t.root + "/nan.safetensors", images: images, topK: 1, workers: 1) }
    #expect(e?.description.contains(state[i].name) == true, "\(String(describing: e))")
    var twice = info
    twice.classes = ["a", "b", "a"]
    try classifier.save(to: t.root + "/twice.safetensors", metadata: twice.metadata)
    let d = #expect(throws: FileError.self) { try ClassifierInfo.read(t.root + "/twice.safetensors") }
    #expect(d?.description.contains("'a' twice") == true)
    try classifier.save(to: t.root + "/ok.safetensors", metadata: info.metadata)
    #expect(try predict(weights: t.root + "/ok.safetensors", images: images, topK: 2, workers: 1).predictions[0].top.allSatisfy { $0.probability.isFinite })
  }

  /// Item 10: the smaller ones.
  @Test func smallerSurprisesAreNamed() throws {
    // Task weights that underflow or overflow a float32 loss are refused, naming the task and the range.
    for spec in ["rotation:1e-300", "rotation:1e300,simclr:1"] {
      let e = #expect(throws: PretextTasks.SpecError.self) { try PretextTasks.parse(spec) }
      #expect(e?.description.contains("rotation") == true && e?.description.contains("1e-06") == true, "\(String(describing: e))")
    }
    _ = try PretextTasks.parse("rotation:0,simclr:1e-3")
    // Batch 1 trains BatchNorm on one image: refused, saying so.
    var c = StudyConfig.demo
    c.downstream.batch = 1
    let b = #expect(throws: StudyConfig.ConfigError.self) { try c.validate() }
    #expect(b?.message.contains("BatchNorm") == true)
    // Settings compared by value: a run folder's layout is never reported as changed when it is not.
    var a = StudyConfig.demo
    (a.data.layout.csv, a.data.layout.imageColumn, a.data.layout.labelColumn, a.data.layout.splitColumn) = ("l.csv", "image", "label", "is_valid")
    var w = a
    w.widen = 0.5
    for _ in 0..<50 { #expect(try differences(a, w).map { String($0.prefix { $0 != ":" }) } == ["widen"]) }
    // Labels that differ only by case: one warning naming both.
    let warnings = LayoutDetector.caseOnlyLabelWarnings(["Blue_Cross", "blue_cross", "dog"], csv: "train.csv")
    #expect(warnings.count == 1 && warnings[0].contains("'Blue_Cross' and 'blue_cross'"))
    // `show` of a comparison looks for the pretext where the comparison put it.
    let root = NSTemporaryDirectory() + "pretext-show-\(UUID().uuidString)"
    try Self.fm.createDirectory(atPath: root, withIntermediateDirectories: true)
    defer { try? Self.fm.removeItem(atPath: root) }
    try RunFolder.write(ComparePlan(tasks: ["rotation", "inpainting:1,rotation:0.5"], pretextEpochs: [1, 3], protocols: ["knn"], runs: 1),
                        to: root + "/compare.json")
    let manifest = RunManifest(kind: .compare, dataset: "/data")
    let (first, stage) = try pretextStageToShow(runDir: root, config: StudyConfig.demo, manifest: manifest, task: nil)
    #expect(first.pretext.task == "rotation" && stage.dir == root + "/pretext/rotation-3ep")
    #expect(throws: FileError.self) { try pretextStageToShow(runDir: root, config: StudyConfig.demo, manifest: manifest, task: "jigsaw") }
  }

  /// Item 10, at the command line: `--nproc` below 1 is refused, and a DICOM window with a negative centre parses.
  @Test func commandLineSurprises() throws {
    let t = try TinyRun()
    let tool = try builtTool("pretext")
    for args in [["compare", "--nproc=-1"], ["resume", t.root, "--nproc=-2"], ["pretrain", "--nproc", "0"]] {
      let r = try runTool(tool, args)
      #expect(r.status != 0 && r.output.contains("--nproc must be at least 1"), "\(args): \(r.output)")
    }
    let info = try runTool(tool, ["data", "info", t.data, "--dicom-window", "-600,1500", "--no-scan"])
    #expect(info.status == 0, "\(info.output)")
  }

  /// Item 10 and 12: the report compares a kNN row with kNN of random weights (not with random init trained end to
  /// end), says which, names the real class count, and shows val-classes columns only when val/ has fewer classes.
  @Test func theReportSaysWhichBaselineAndHowManyClasses() throws {
    func row(_ task: String, _ p: String, _ run: Int, _ acc: Double) -> ResultRow {
      ResultRow(task: task, pretextEpochs: task == "random" ? 0 : 2, protocol: p, run: run, finalAccuracy: acc, bestAccuracy: acc,
                finalAccuracyAmongValidClasses: acc, epochs: 2, seconds: 1)
    }
    let rows = [row("random", "random", 0, 0.20), row("random", "random", 1, 0.22), row("random", "knn", 0, 0.40), row("random", "knn", 1, 0.42),
                row("rotation", "knn", 0, 0.31), row("rotation", "knn", 1, 0.33)]
    let board = Leaderboard.rows(rows, pretextSeconds: { _, _ in 0 }, imagesSeen: { _, _ in 0 }, labelledImages: 32)
    func result(classes: Int, valid: Int) -> CompareResult {
      CompareResult(config: StudyConfig.demo, plan: ComparePlan(tasks: ["rotation"], pretextEpochs: [2], protocols: ["knn"], runs: 2),
                    dataset: "/blood", rows: rows, pretexts: [], leaderboard: board, validation: "val/ (16 images)", pretextSawValid: true,
                    labelledImages: 32, validImages: 16, trainClasses: classes, validClasses: valid)
    }
    let blood = CompareReport.markdown(result(classes: 8, valid: 8))
    #expect(blood.contains("train/'s 8 classes (\"8-way\")") && !blood.contains("20-way") && !blood.contains("20 classes") && !blood.contains("val classes"), "\(blood)")
    #expect(blood.contains("below the random encoder's (knn of random weights)"), "\(blood)")
    let wang = CompareReport.markdown(result(classes: 20, valid: 10))
    #expect(wang.contains("\"20-way\"") && wang.contains("val classes (mean ± std)"))
  }

  /// Item 11: on gray images the demo preset leaves colorization out with a notice (it would train on all-zero
  /// targets); `--tasks colorization` with `--channels 1` is refused before anything is made; the library refuses a
  /// colour task on all-gray data.
  @Test func grayImagesAndColourTasks() throws {
    let t = try TinyRun()
    for path in try ImageWangLayout(root: t.data).allPaths {
      try ImageCodec.write(try ImageCodec.decode(contentsOf: path).converted(channels: 1), to: path)
    }
    var config = StudyConfig.demo
    config.pretext.task = "colorization"
    #expect(throws: StudyConfig.ConfigError.self) { try scanStudyData(root: t.data, config: config, log: { _ in }) }
    let refused = try t.pretext(["compare", "--data", t.data, "--tasks", "colorization", "--channels", "1", "--out", t.root + "/runs"])
    #expect(refused.status != 0 && refused.output.contains("colorization needs colour images"), "\(refused.output)")
    // The demo's one task is colorization: left out, its comparison is random init against self-training.
    let r = try t.pretext(["compare", "--preset", "demo", "--data", t.data, "--out", t.root + "/runs", "--protocols", "selftrain", "--runs", "1"] + TinyRun.flags)
    try #require(r.status == 0, "\(r.output)")
    #expect(r.output.contains("notice: colorization left out of the demo preset's tasks: every image is gray"), "\(r.output)")
    let run = try t.runFolder(t.root + "/runs")
    #expect(!Self.fm.fileExists(atPath: run + "/pretext"))
    #expect(try String(contentsOfFile: run + "/leaderboard.csv", encoding: .utf8).contains("\nrandom,0,selftrain,1,"))
  }
}
