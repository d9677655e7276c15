// Trains a small xresnet on a synthetic bar-orientation task with Ranger and flat-cos, checkpointing
// every epoch; used by the resume test (which SIGKILLs it mid-run) and handy as a worked example.
// Usage: train-synthetic --epochs N --checkpoint PATH --out WEIGHTS [--resume] [--seed S] [--items N] [--logdir DIR]
// (--logdir: a CSV of epochs and TensorBoard event files there.)
import Foundation
import NN
import Torch
import Training

var epochs = 4, items = 256, seed: UInt64 = 0, resume = false
var checkpoint: String?, out: String?, logdir: String?
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
  switch a {
  case "--epochs": epochs = Int(args.popFirst() ?? "") ?? epochs
  case "--seed": seed = UInt64(args.popFirst() ?? "") ?? seed
  case "--items": items = Int(args.popFirst() ?? "") ?? items
  case "--checkpoint": checkpoint = args.popFirst()
  case "--out": out = args.popFirst()
  case "--resume": resume = true
  case "--logdir": logdir = args.popFirst()
  default:
    print("usage: train-synthetic --epochs N --checkpoint PATH --out WEIGHTS [--resume] [--seed S] [--items N] [--logdir DIR]")
    exit(2)
  }
}

/// Prints a line per epoch, flushed, so a supervising process can follow.
final class EpochLog: Callback {
  func on(_ event: Event, _ l: Learner) throws {
    guard event == .afterEpoch, let r = l.history.last else { return }
    let line = String(format: "epoch %d done: train loss %.5f, valid accuracy %.4f\n", r.epoch + 1, r.trainLoss, r.metrics["accuracy"] ?? .nan)
    FileHandle.standardOutput.write(Data(line.utf8))  // unbuffered: a supervisor reads it at once
  }
}

do {
  Runtime.threadCount = 1
  Runtime.manualSeed(seed)
  let model = try XResNet(.resnet18, inChannels: 1, classes: 2, widen: 0.125, dropout: 0.2)
  let (x, y) = try syntheticBars(count: items, seed: seed &+ 10)
  let (vx, vy) = try syntheticBars(count: 128, seed: seed &+ 11)
  let learner = Learner(
    model: model, train: TensorBatches(inputs: x, targets: y, batchSize: 32, shuffle: true, seed: seed),
    valid: TensorBatches(inputs: vx, targets: vy, batchSize: 64, shuffle: false),
    loss: { try crossEntropy($0, $1, labelSmoothing: 0.1) },
    optimizer: ranger(ParamGroup.groups(of: model, lr: 5e-3)), metrics: [Accuracy()], callbacks: [EpochLog()])
  learner.checkpointPath = checkpoint
  if let logdir { learner.callbacks += [CSVLogger(path: logdir + "/epochs.csv"), try TensorBoardLogger(directory: logdir)] }
  let plan = FitPlan.flatCos(epochs: epochs, lr: .value(5e-3))
  var start = 0
  if resume, let checkpoint, FileManager.default.fileExists(atPath: checkpoint) {
    start = try learner.loadCheckpoint(from: checkpoint)
    print("resumed after epoch \(start)")
  }
  try learner.fit(plan, startEpoch: start)
  if let out { try model.save(to: out) }
} catch {
  print("error: \(error)")
  exit(1)
}
