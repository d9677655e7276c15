import Foundation
import Torch

#if canImport(Glibc)
import Glibc
#endif

/// Live progress: on a terminal a bar redrawn in place (epoch, batches done, smoothed loss, images per second,
/// time left in the epoch), as fastai's and tqdm's; otherwise one plain line per epoch, so logs stay readable.
public final class ProgressCallback: Callback {
  let isTerminal: Bool
  let write: (String) -> Void
  var epochStart = Date(), smoothed = 0.0, seenBatches = 0, seenImages = 0

  public init(isTerminal: Bool = isatty(1) == 1, write: @escaping (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }) {
    (self.isTerminal, self.write) = (isTerminal, write)
  }

  public func on(_ event: Event, _ l: Learner) throws {
    switch event {
    case .beforeEpoch:
      (epochStart, smoothed, seenBatches, seenImages) = (Date(), 0, 0, 0)
    case .afterBatch where l.isTrainingPhase && isTerminal:
      seenBatches += 1
      seenImages += l.batch?.count ?? 0
      if let v = l.batchLosses.last { smoothed = seenBatches == 1 ? v : 0.98 * smoothed + 0.02 * v }
      let n = l.train.batchCount, done = l.batchIndex + 1
      let elapsed = Date().timeIntervalSince(epochStart)
      let rate = Double(done) / Swift.max(elapsed, 1e-9)
      let width = 24, filled = width * done / Swift.max(n, 1)
      let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
      write(String(format: "\r\u{1B}[2Kepoch %d %@ %d/%d  loss %.4f  %.0f images/s  ETA %.0fs", l.epoch + 1, bar, done, n,
                   smoothed, Double(seenImages) / Swift.max(elapsed, 1e-9), Double(n - done) / Swift.max(rate, 1e-9)))
    case .afterEpoch:
      guard let r = l.history.last else { return }
      let metrics = r.metrics.keys.sorted().map { String(format: "  %@ %.4f", $0, r.metrics[$0]!) }.joined()
      let valid = r.validLoss.map { String(format: "  valid loss %.4f", $0) } ?? ""
      write((isTerminal ? "\r\u{1B}[2K" : "")
        + String(format: "epoch %d  train loss %.4f%@%@  %.1fs\n", r.epoch + 1, r.trainLoss, valid, metrics, r.seconds))
    default:
      break
    }
  }
}

/// Per-epoch results to a CSV file (epoch, train_loss, valid_loss, metrics…, seconds), flushed per epoch.
/// The learner's history is the source: a logger's first write starts the file with every epoch in it
/// (all of them when the history was restored from a checkpoint, so a resumed run's log is whole even if
/// the run was killed between its checkpoint and its log line); later epochs are appended.
public final class CSVLogger: Callback {
  public let path: String
  var header: [String]?
  var written = 0

  public init(path: String) { self.path = path }

  public func on(_ event: Event, _ l: Learner) throws {
    guard event == .afterEpoch, let last = l.history.last else { return }
    var text = ""
    if header == nil {
      header = last.metrics.keys.sorted()
      text += (["epoch", "train_loss", "valid_loss"] + header! + ["seconds"]).joined(separator: ",") + "\n"
      guard FileManager.default.createFile(atPath: path, contents: nil) else { throw FileError(path: path, "cannot create") }
    }
    for (i, r) in l.history.enumerated().dropFirst(written) {
      let valid: String = r.validLoss.map { "\($0)" } ?? ""
      let metrics: [String] = header!.map { name in r.metrics[name].map { "\($0)" } ?? "" }
      text += ([String(i + 1), "\(r.trainLoss)", valid] + metrics + [String(format: "%.3f", r.seconds)]).joined(separator: ",") + "\n"
    }
    written = l.history.count
    guard let h = FileHandle(forWritingAtPath: path) else { throw FileError(path: path, "cannot open for writing") }
    defer { try? h.close() }
    try h.seekToEnd()
    try h.write(contentsOf: Data(text.utf8))
    try h.synchronize()
  }
}

/// TensorBoard scalars: per batch train loss and learning rates, per epoch losses and metrics, written as
/// a TensorBoard event file (`events.out.tfevents.*`) in `directory`.
public final class TensorBoardLogger: Callback {
  public let writer: TensorBoardWriter

  public init(directory: String) throws { writer = try TensorBoardWriter(directory: directory) }

  public func on(_ event: Event, _ l: Learner) throws {
    switch event {
    case .afterBatch where l.isTrainingPhase:
      guard let loss = l.batchLosses.last, let lrs = l.batchLRs.last else { return }
      try writer.add("train/batch_loss", loss, step: l.iteration)
      for (i, lr) in lrs.enumerated() { try writer.add("lr/group\(i)", lr, step: l.iteration) }
    case .afterEpoch:
      guard let r = l.history.last else { return }
      try writer.add("epoch/train_loss", r.trainLoss, step: r.epoch + 1)
      if let v = r.validLoss { try writer.add("epoch/valid_loss", v, step: r.epoch + 1) }
      for (k, v) in r.metrics { try writer.add("epoch/\(k)", v, step: r.epoch + 1) }
      try writer.flush()
    case .afterFit:
      try writer.flush()
    default:
      break
    }
  }
}

/// Writes TensorBoard's event-file format: TFRecord framing (length, masked CRC-32C, payload, masked
/// CRC-32C) around `Event` protocol buffers carrying scalar summaries, encoded by hand.
public final class TensorBoardWriter {
  public let path: String
  let handle: FileHandle
  var pending = Data()

  public init(directory: String) throws {
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let host = ProcessInfo.processInfo.hostName
    path = "\(directory)/events.out.tfevents.\(Int(Date().timeIntervalSince1970)).\(host).\(getpid())"
    guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
      throw FileError(path: path, "cannot create the event file")
    }
    handle = h
    var event = Proto()
    event.double(1, Date().timeIntervalSince1970)
    event.bytes(3, Data("brain.Event:2".utf8))  // file_version
    record(event.data)
    try flush()
  }

  deinit { try? handle.close() }

  /// Adds a scalar (tag, value) at `step`.
  public func add(_ tag: String, _ value: Double, step: Int, wallTime: Double = Date().timeIntervalSince1970) throws {
    var v = Proto()
    v.bytes(1, Data(tag.utf8))
    v.float(2, Float(value))
    var summary = Proto()
    summary.bytes(1, v.data)
    var event = Proto()
    event.double(1, wallTime)
    event.varint(2, UInt64(bitPattern: Int64(step)))
    event.bytes(5, summary.data)
    record(event.data)
  }

  public func flush() throws {
    try handle.write(contentsOf: pending)
    pending.removeAll()
  }

  func record(_ payload: Data) {
    var length = Data()
    withUnsafeBytes(of: UInt64(payload.count).littleEndian) { length.append(contentsOf: $0) }
    pending.append(length)
    withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { pending.append(contentsOf: $0) }
    pending.append(payload)
    withUnsafeBytes(of: CRC32C.masked(payload).littleEndian) { pending.append(contentsOf: $0) }
  }
}

/// The few protocol-buffer encodings an Event needs.
struct Proto {
  var data = Data()
  mutating func key(_ field: Int, _ wire: UInt64) { varintRaw(UInt64(field) << 3 | wire) }
  mutating func varintRaw(_ v: UInt64) {
    var v = v
    while v >= 0x80 {
      data.append(UInt8(v & 0x7f) | 0x80)
      v >>= 7
    }
    data.append(UInt8(v))
  }
  mutating func varint(_ field: Int, _ v: UInt64) { key(field, 0); varintRaw(v) }
  mutating func double(_ field: Int, _ v: Double) {
    key(field, 1)
    withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
  }
  mutating func float(_ field: Int, _ v: Float) {
    key(field, 5)
    withUnsafeBytes(of: v.bitPattern.littleEndian) { data.append(contentsOf: $0) }
  }
  mutating func bytes(_ field: Int, _ v: Data) {
    key(field, 2)
    varintRaw(UInt64(v.count))
    data.append(v)
  }
}

/// CRC-32C (Castagnoli), with TFRecord's masking.
enum CRC32C {
  static let table: [UInt32] = (0..<256).map { i in
    var c = UInt32(i)
    for _ in 0..<8 { c = c & 1 != 0 ? (c >> 1) ^ 0x82F6_3B78 : c >> 1 }
    return c
  }

  static func checksum(_ data: Data) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for b in data { c = table[Int((c ^ UInt32(b)) & 0xff)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
  }

  static func masked(_ data: Data) -> UInt32 {
    let c = checksum(data)
    return ((c >> 15) | (c << 17)) &+ 0xA282_EAD8
  }
}
