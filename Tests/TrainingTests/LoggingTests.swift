import Foundation
import Testing
@testable import NN
@testable import Torch
@testable import Training

/// Reads TFRecord-framed events back, checking both CRCs, and pulls out (tag, value, step) scalars.
func readScalars(_ path: String) throws -> [(tag: String, value: Float, step: Int)] {
  let data = try Data(contentsOf: URL(fileURLWithPath: path))
  var i = 0, out: [(String, Float, Int)] = []
  func u32(_ at: Int) -> UInt32 { data[at..<(at + 4)].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
  while i < data.count {
    let length = Int(data[i..<(i + 8)].enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
    #expect(u32(i + 8) == CRC32C.masked(Data(data[i..<(i + 8)])))
    let payload = Data(data[(i + 12)..<(i + 12 + length)])
    #expect(u32(i + 12 + length) == CRC32C.masked(payload))
    i += 16 + length
    // Event: 1 wall_time (fixed64), 2 step (varint), 3 file_version, 5 summary { 1 value { 1 tag, 2 simple_value } }.
    var p = payload.startIndex, step = 0
    func varint(_ d: Data, _ at: inout Int) -> UInt64 {
      var v: UInt64 = 0, shift: UInt64 = 0
      while true { let b = d[at]; at += 1; v |= UInt64(b & 0x7f) << shift; if b < 0x80 { return v }; shift += 7 }
    }
    while p < payload.endIndex {
      let key = varint(payload, &p)
      switch (key >> 3, key & 7) {
      case (1, 1): p += 8
      case (2, 0): step = Int(varint(payload, &p))
      case (_, 2):
        let n = Int(varint(payload, &p))
        if key >> 3 == 5 {
          let summary = Data(payload[p..<(p + n)])
          var q = summary.startIndex
          _ = varint(summary, &q)
          let vn = Int(varint(summary, &q))
          let value = Data(summary[q..<(q + vn)])
          var r = value.startIndex
          _ = varint(value, &r)
          let tn = Int(varint(value, &r))
          let tag = String(decoding: value[r..<(r + tn)], as: UTF8.self)
          r += tn + 1
          let bits = value[r..<(r + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) }
          out.append((tag, Float(bitPattern: bits), step))
        }
        p += n
      default: Issue.record("unexpected field \(key)"); return out
      }
    }
  }
  return out
}

@Suite struct LoggingTests {
  @Test func csvTensorBoardAndPlainProgress() throws {
    let dir = NSTemporaryDirectory() + "pretext-logs-\(UUID().uuidString)"
    var lines: [String] = []
    let progress = ProgressCallback(isTerminal: false) { lines.append($0) }
    let learner = try makeLearner(smallNet())
    learner.callbacks += [progress, CSVLogger(path: dir + ".csv"), try TensorBoardLogger(directory: dir)]
    try learner.fit(.flatCos(epochs: 2, lr: .value(1e-3)))

    #expect(lines.count == 2 && lines.allSatisfy { $0.hasPrefix("epoch ") && $0.contains("accuracy") && !$0.contains("\r") })
    let csv = try String(contentsOfFile: dir + ".csv", encoding: .utf8).split(separator: "\n")
    #expect(csv.first == "epoch,train_loss,valid_loss,accuracy,seconds")
    #expect(csv.count == 3)
    #expect(Double(csv[2].split(separator: ",")[1])! == learner.history[1].trainLoss)

    let file = try FileManager.default.contentsOfDirectory(atPath: dir).first { $0.hasPrefix("events.out.tfevents.") }!
    let scalars = try readScalars(dir + "/" + file)
    let epochLoss = scalars.filter { $0.tag == "epoch/train_loss" }
    #expect(epochLoss.map(\.step) == [1, 2])
    #expect(epochLoss.map(\.value) == learner.history.map { Float($0.trainLoss) })
    #expect(scalars.filter { $0.tag == "train/batch_loss" }.count == 16)
    #expect(scalars.filter { $0.tag == "lr/group2" }.count == 16)
  }

  @Test func terminalProgressRedrawsInPlace() throws {
    var out = ""
    let learner = try makeLearner(smallNet())
    learner.callbacks.append(ProgressCallback(isTerminal: true) { out += $0 })
    try learner.fit(.flatCos(epochs: 1, lr: .value(1e-3)))
    #expect(out.contains("\r") && out.contains("8/8") && out.contains("images/s") && out.contains("ETA") && out.hasSuffix("s\n"))
  }

  @Test func crc32cKnownValue() {
    // The standard check value of CRC-32C for "123456789".
    #expect(CRC32C.checksum(Data("123456789".utf8)) == 0xE306_9283)
  }
}

@Suite struct MixedPrecisionTests {
  /// (A plain conv net; the small xresnet under bfloat16, over 20 seeds, is `PrecisionTests`.)
  @Test func bfloat16AutocastTrainsOnCPU() throws {
    let model = Sequential(
      try ConvLayer(1, 8), try ConvLayer(8, 16, stride: 2), AdaptiveAvgPool2d(), Flatten(), try Linear(16, 2))
    let (x, y) = try bars(256, seed: 10)
    let learner = Learner(
      model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 32, shuffle: true),
      loss: { try crossEntropy($0, $1) }, optimizer: Adam(groups: ParamGroup.single(model, lr: 1e-2)))
    learner.mixedPrecision = .bfloat16
    var sawBFloat16 = false
    final class Watch: Callback {
      let seen: (DType) -> Void
      init(_ seen: @escaping (DType) -> Void) { self.seen = seen }
      func on(_ event: Event, _ l: Learner) throws { if event == .afterPred { seen(l.prediction!.dtype) } }
    }
    learner.callbacks.append(Watch { if $0 == .bfloat16 { sawBFloat16 = true } })
    try learner.fit(.flatCos(epochs: 3, lr: .value(1e-2)))
    #expect(sawBFloat16)
    #expect(learner.history.allSatisfy { $0.trainLoss.isFinite })
    #expect(learner.history.last!.trainLoss < learner.history.first!.trainLoss)
    #expect(model.parameters().allSatisfy { $0.value.dtype == .float32 })  // master weights stay float32
  }

  @Test func lossScalerSkipsNonFiniteStepsAndGrows() throws {
    var scaler = LossScaler(initialScale: 1024, growthInterval: 2)
    let g = try Tensor([2048.0, 4096.0])
    #expect(try scaler.unscale([g]))
    #expect(try g.toArray(of: Double.self) == [2, 4])
    #expect(scaler.scale == 1024)
    #expect(try scaler.unscale([Tensor([1.0])]))
    #expect(scaler.scale == 2048)  // two good steps: doubled
    #expect(try !scaler.unscale([Tensor([Double.infinity])]))
    #expect(scaler.scale == 1024)  // overflow: halved
  }
}

