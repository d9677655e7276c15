import Foundation
import ImageData
import NN
import SelfSupervised
import Torch
import Training

/// What the `selftrain` student trains on: train/'s labelled images (rows of smoothed one-hot targets) and the teacher's
/// pick of the unlabelled images (rows of its probabilities), one target row per path.
struct SelfTrainingSet {
  let paths: [String]
  let targets: Tensor
  let labelled: Int
  var kept: Int { paths.count - labelled }
}

/// The teacher (`teacher`, a classifier saved by a stage, of the same classes) labels the unlabelled images
/// (`StudyConfig.unlabelledPaths`): softmax of the validation crop and of its mirror, averaged; the kept images are
/// `SelfTraining.select`'s. Every rank computes the whole set (a forward pass over the unlabelled images, no training).
func selfTrainingSet(teacher: String, labelled data: ImageWangLayout, dataset: ImageWangLayout, _ config: StudyConfig) throws -> SelfTrainingSet {
  let (info, model) = try loadClassifier(teacher)
  guard info.classes == data.train.classes else {
    throw FileError(path: teacher, "the teacher classifies \(info.classes.count) classes (\(info.classes.prefix(3).joined(separator: ", "))…), not this data's \(data.train.classes.count) (\(data.train.classes.prefix(3).joined(separator: ", "))…): give a classifier trained on it")
  }
  guard info.inChannels == config.data.channels else {
    throw FileError(path: teacher, "the teacher takes \(info.inChannels)-channel images, this run \(config.data.channels)")
  }
  try model.to(device: config.torchDevice, memoryFormat: config.memoryFormat)
  let paths = config.unlabelledPaths(dataset)
  guard !paths.isEmpty else { throw DatasetError(path: dataset.root, "selftrain needs unlabelled images (unsup/), and there are none") }
  // The student's own crop size, whatever the teacher trained at: the teacher sees what the student will.
  let loader = ImageLoader(paths: paths, pipeline: .crop(size: config.downstream.size, training: false), batchSize: config.downstream.batch,
                           shuffle: false, dropLast: false, workers: config.runtime.workers, channels: config.data.channels, samples: .bytes)
  var parts: [Tensor] = []
  let pass = try OnDevice(loader, config).batches(epoch: 0)
  try inferring(model) {
    while let b = try pass.next() {
      let x = try b.require("image")
      let p = try (softmax(model(x).to(dtype: .float32), dim: 1) + softmax(model(x.flip([3])).to(dtype: .float32), dim: 1)) * 0.5
      parts.append(try p.to(.cpu))
    }
  }
  let probabilities = try Tensor.cat(parts, dim: 0)
  let classes = data.train.classes.count
  let perClass = config.downstream.semi.pseudoPerClass ?? Swift.max(1, data.train.count / classes)
  let kept = try SelfTraining.select(probabilities, threshold: config.downstream.semi.pseudoThreshold, perClass: perClass)
  // A teacher sure of no image leaves the student the labelled images alone: random init again, recorded as 0 kept.
  let labelledRows = try SelfTraining.smoothedOneHot(data.train.labels, classes: classes)
  let targets = kept.isEmpty ? labelledRows
    : try Tensor.cat([labelledRows, probabilities.indexSelect(dim: 0, index: Tensor(kept.map(Int64.init)))], dim: 0)
  return SelfTrainingSet(paths: data.train.paths + kept.map { paths[$0] }, targets: targets, labelled: data.train.count)
}

/// How many of the first `steps × batch` items of each epoch's order are labelled (index < `labelled`), summed over
/// `epochs`: the labelled images the student read (the rest were the teacher's).
func labelledItemsRead(_ loader: ImageLoader, labelled: Int, epochs: Int, steps: Int) -> Int {
  (0..<epochs).reduce(0) { sum, e in sum + loader.order(epoch: e).prefix(steps * loader.batchSize).filter { $0 < labelled }.count }
}

/// The `selftrain` student's training: one loader over the labelled and the kept images, its integer slot each item's
/// row of the target table (`label` read as `row`), cut to `steps` batches an epoch (random init's), and the step that
/// takes the soft cross-entropy against those rows.
func selfTrainingStudent(teacher: String, labelled data: ImageWangLayout, dataset: ImageWangLayout, _ config: StudyConfig, seed: UInt64,
                         steps: Int) throws -> (source: BatchSource, step: TrainStep, loader: ImageLoader, set: SelfTrainingSet) {
  let set = try selfTrainingSet(teacher: teacher, labelled: data, dataset: dataset, config)
  let both = trainingLoader(paths: set.paths, labels: Array(0..<set.paths.count), config, seed: seed)
  return (FirstBatches(Renamed(both, ["label": "row"]), count: steps),
          SoftTargetStep(table: try set.targets.to(config.torchDevice), loss: Losses.labelSmoothingCrossEntropy()), both, set)
}
