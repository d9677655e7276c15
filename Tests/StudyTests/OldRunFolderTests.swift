// Run folders made by an earlier build still resume: their config.json and run.json decode, their checkpoints'
// fingerprints and their results' seals match what this build computes from that config.
import Foundation
import Testing
import TestSupport
@testable import ImageData
@testable import Study

@Suite struct OldRunFolderTests {
  /// Fixtures/run-2026-12-07 (made by Fixtures/make_old_run_fixture.sh at 4c7af13): an experiment whose pretext and
  /// random-init stages are done, whose head stage has only a checkpoint, and whose discriminative stage has not
  /// started. `resume` finishes it: the finished stages are reused as they are, the head stage continues from its
  /// checkpoint (its fingerprint accepted), the rest trains.
  @Test func aRunFolderOfDecember7thResumes() throws {
    let fixture = try #require(Bundle.module.url(forResource: "run-2026-12-07", withExtension: nil, subdirectory: "Fixtures")).path
    let root = NSTemporaryDirectory() + "pretext-old-run-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 1, unsupCount: 20, seed: 11).write(to: root + "/data")
    let run = root + "/run"
    try FileManager.default.copyItem(atPath: fixture, toPath: run)
    // The dataset moved (run.json records an absolute path): point the manifest at this copy of the same images.
    var manifest = try #require(try RunFolder.read(RunManifest.self, from: run + "/run.json"))
    manifest.dataset = root + "/data"
    try RunFolder.write(manifest, to: run + "/run.json")
    let config = try #require(try RunFolder.read(StudyConfig.self, from: run + "/config.json"))
    #expect(config.pretext.task == "rotation" && config.widen == 0.03125 && config.runtime.precision == .fp32)
    let randomResult = try Data(contentsOf: URL(fileURLWithPath: run + "/eval/random/0/result.json"))

    let r = try runTool(try builtTool("pretext"), ["resume", run], environment: ["OMP_NUM_THREADS": "1"])
    try #require(r.status == 0, "\(r.output)")
    #expect(!r.output.contains("another stage or configuration") && !r.output.contains("fingerprint"), "\(r.output)")
    for file in ["results.json", "report.md", "eval/head/0/result.json", "eval/discriminative/0/result.json"] {
      #expect(FileManager.default.fileExists(atPath: run + "/" + file), "\(file)")
    }
    #expect(try Data(contentsOf: URL(fileURLWithPath: run + "/eval/random/0/result.json")) == randomResult)  // reused, not retrained
    let head = try #require(try RunFolder.readResult(ScenarioResult.self, from: run + "/eval/head/0/result.json", stage: nil))
    #expect(head.history.count == 2)  // both epochs, from the checkpoint's history
  }

  /// The fixture's config.json decodes and encodes to the very bytes it was written with (so every fingerprint made
  /// from it holds), the config now being in parts; a setting added since (the kNN vote's k and temperature) is
  /// written only when not its default, and then changes the fingerprint.
  @Test func configJSONKeepsItsBytesAndNewSettingsStayOutAtTheirDefault() throws {
    let fixture = try #require(Bundle.module.url(forResource: "run-2026-12-07", withExtension: nil, subdirectory: "Fixtures")).path
    let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture + "/config.json"))
    let config = try RunFolder.decoder().decode(StudyConfig.self, from: bytes)
    #expect(try RunFolder.encoder().encode(config) == bytes)
    #expect(!String(decoding: bytes, as: UTF8.self).contains("knnK"))
    var changed = config
    changed.downstream.knnK = 5
    let text = String(decoding: try RunFolder.encoder().encode(changed), as: UTF8.self)
    #expect(text.contains("\"knnK\" : 5") && !text.contains("knnTemperature"))
    #expect(try RunFolder.decoder().decode(StudyConfig.self, from: Data(text.utf8)) == changed)
    #expect(try changed.fingerprint(stage: "knn run 0") != config.fingerprint(stage: "knn run 0"))
  }
}
