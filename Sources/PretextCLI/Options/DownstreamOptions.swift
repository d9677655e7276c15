// The classifier's training under the protocols (the "Downstream" group of `--help`).
import ArgumentParser
import Foundation
import Study
import NN
import SelfSupervised
import Torch

/// How the classifier trains under a protocol.
struct DownstreamOptions: ParsableArguments {
  @Option(help: "Downstream runs per scenario.") var runs: Int?
  @Option(help: "Downstream epochs.") var epochs: Int?
  @Option(help: "Downstream image size.") var size: Int?
  @Option(help: "Downstream batch size.") var batch: Int?
  @Option(help: "Scenario 3: head-only epochs before unfreezing.") var headEpochs: Int?
  @Option(help: "Learning rate (downstream; the pretext's with `pretrain`).") var lr: Double?
  @Option(help: "Downstream classifier head: linear (xresnet's) or fastai (vision_learner's concat-pool head); a linear probe is always linear.") var head: XResNet.Head?
  @Option(help: "Downstream optimisation: study (Ranger + flat-cos) or fastai (Adam + one-cycle, fastai's defaults).") var downstreamRecipe: DownstreamRecipe?
  @Flag(help: "Linear probe: train on the frozen body's features computed once (no augmentation; much faster).") var cacheFeatures = false
  @Option(help: "The kNN protocol (compare --protocols knn): neighbours that vote (default 20).") var knnK: Int?
  @Option(help: "The kNN protocol: each vote weighs exp(similarity / T) (default 0.07).") var knnTemperature: Double?
  @Option(help: "The joint protocol: the auxiliary pretext task trained on unlabelled images beside the classifier, or weighted tasks (rotation:0.5,jigsaw:1; default rotation).") var aux: String?
  @Option(help: "The joint protocol: unlabelled images per step (default: --batch).") var unlabelledBatch: Int?
  @Flag(help: "The joint protocol: the auxiliary task also reads the labelled train/ images (S4L); default unsup/ alone.") var auxOnLabelled = false
  @Option(help: "The selftrain protocol: the teacher's probability an unlabelled image's predicted class needs for the image to be kept (default 0.5).") var pseudoThreshold: Double?
  @Option(help: "The selftrain protocol: at most this many unlabelled images kept per class, the most confident (default: the mean labelled images per class).") var pseudoPerClass: Int?

  /// The semi-supervised flags, refused when no protocol being trained reads them.
  func validateSemiSupervisedFlags(protocols: [Scenario]) throws {
    for (flags, p) in [([aux.map { _ in "--aux" }, unlabelledBatch.map { _ in "--unlabelled-batch" }, auxOnLabelled ? "--aux-on-labelled" : nil], Scenario.joint),
                       ([pseudoThreshold.map { _ in "--pseudo-threshold" }, pseudoPerClass.map { _ in "--pseudo-per-class" }], .selftrain)] {
      if let first = flags.compactMap({ $0 }).first, !protocols.contains(p) {
        throw ValidationError("\(first) sets the \(p.rawValue) protocol, and no protocol here is \(p.rawValue): it would be ignored")
      }
    }
  }

  func apply(to c: inout StudyConfig) throws {
    if let knnK { c.downstream.knnK = knnK }
    if let knnTemperature { c.downstream.knnTemperature = knnTemperature }
    if let aux { c.downstream.semi.aux = aux }
    if let unlabelledBatch { c.downstream.semi.unlabelledBatch = unlabelledBatch }
    if auxOnLabelled { c.downstream.semi.auxOnLabelled = true }
    if let pseudoThreshold { c.downstream.semi.pseudoThreshold = pseudoThreshold }
    if let pseudoPerClass { c.downstream.semi.pseudoPerClass = pseudoPerClass }
    if let head { c.downstream.head = head }
    if let downstreamRecipe { c.downstream.recipe = downstreamRecipe }
    if cacheFeatures { c.downstream.cacheFeatures = true }
    if let runs { c.downstream.runs = runs }
    if let epochs { c.downstream.epochs = epochs }
    if let size { c.downstream.size = size }
    if let batch { c.downstream.batch = batch }
    if let headEpochs { c.downstream.headEpochs = headEpochs }
    if let lr { (c.downstream.lr, c.pretext.lr) = (lr, lr) }  // `pretrain --lr` is the pretext's
  }
}
