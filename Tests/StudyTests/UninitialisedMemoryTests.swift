import Foundation
import ImageData
import Testing
import TestSupport

/// No training reads memory that nothing wrote. The CLI's caching allocator hands out reused blocks that hold
/// whatever their last tensor left (and a kernel that reads past what it wrote would see it), so each run here is
/// made twice with every allocation first filled with 0x00, then 0xFF (`PRETEXT_POISON_ALLOCATIONS`): the losses
/// and the encoder's bytes must not move. The tasks cover the classifier head (rotation), the U-Net with its
/// pixel shuffle (inpainting) and SwAV's 1×1 maps, where libtorch's bf16 convolution once returned garbage (the
/// shim's workaround), in bfloat16; rotation also in float32.
@Suite struct UninitialisedMemoryTests {
  @Test(arguments: [("rotation", "bf16"), ("inpainting", "bf16"), ("swav", "bf16"), ("rotation", "fp32")])
  func aRunDoesNotDependOnWhatItsMemoryHeldBefore(_ task: String, _ precision: String) throws {
    let root = NSTemporaryDirectory() + "pretext-poison-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: root) }
    try SyntheticImageWang(size: 32, trainPerClass: 2, validPerClass: 1, unsupCount: 24, seed: 6).write(to: root + "/data")
    let tool = try builtTool("pretext")
    var outcomes: [(losses: String, encoder: Data)] = []
    for byte in ["0", "255"] {
      let out = root + "/out-\(byte)"
      let run = try runTool(tool, ["pretrain", "--task", task, "--data", root + "/data", "--pretext-size", "32", "--widen", "0.125",
                                   "--pretext-batch", "8", "--pretext-epochs", "2", "--workers", "2", "--precision", precision, "--out", out],
                            environment: ["PRETEXT_POISON_ALLOCATIONS": byte, "OMP_NUM_THREADS": "2"])
      try #require(run.status == 0, "\(run.output)")
      let stage = try #require(try FileManager.default.contentsOfDirectory(atPath: out).first.map { "\(out)/\($0)/pretext/\(task)" })
      // The epoch's losses (not its seconds) and the saved encoder.
      let log = try String(contentsOfFile: stage + "/log.csv", encoding: .utf8)
      let losses = log.split(separator: "\n").map { $0.split(separator: ",").dropLast().joined(separator: ",") }.joined(separator: "\n")
      outcomes.append((losses, try Data(contentsOf: URL(fileURLWithPath: stage + "/encoder.safetensors"))))
    }
    #expect(outcomes[0].losses == outcomes[1].losses, "losses with 0x00 / 0xFF:\n\(outcomes[0].losses)\n\(outcomes[1].losses)")
    #expect(outcomes[0].encoder == outcomes[1].encoder, "the encoder's bytes differ with what memory held before")
  }
}
