// The parts of a study's settings, one per concern: the data a run uses, the pretext (with each task's own options,
// keyed by the task that reads them), the classifier's training, and how the run computes. `StudyConfig` holds one
// of each; its config.json keeps the flat keys of the runs made before these parts existed (`StudyConfig+Codable`).
import Foundation
import ImageData
import NN
import Training

/// How the pretext is optimised (`--pretext-recipe`): the study's Ranger + flat-cos at the pretext lr for every
/// task, fastai's Adam + one-cycle, or the task's paper's optimizer, batch-scaled lr, weight decay and schedule.
public enum PretextRecipe: String, Codable, Sendable, CaseIterable { case study, paper, fastai }

/// How the classifier is optimised (`--downstream-recipe`): the study's Ranger + flat-cos, or fastai's Adam + one-cycle
/// (β 0.9/0.99, ε 1e-5, decoupled weight decay, momentum cycled 0.95–0.85).
public enum DownstreamRecipe: String, Codable, Sendable, CaseIterable { case study, fastai }

/// The U-Net tasks' encoder-to-decoder skip connections (`--unet-skips`): all (fastai's unet_learner), or none (a
/// context encoder: the decoder sees only the deepest features).
public enum UnetSkips: String, Codable, Sendable, CaseIterable {
  case all
  case withoutSkips = "none"  // not `none`: that would read as Optional's nil where a skips setting is optional
}

/// The images a run uses and how they are read.
public struct DataSettings: Sendable, Equatable {
  /// Few-label training: the downstream stages train on this fraction of train/'s labels (fixed, seeded by the
  /// seed, class-stratified; 1 = all). The pretext is not affected: it sees every image without labels.
  public var labelFraction = 1.0
  /// Settings are chosen on a split of train/, never on val/: with a fraction > 0 the downstream stages (and
  /// kNN) validate on that seeded, class-stratified part of train/ and train on the rest; val/ is not read.
  public var tuningSplit = 0.0
  /// Caps on the images used (nil: all): per train/ class, per val/ class, and of unsup/. The `demo` preset
  /// sets them so that it takes minutes on full ImageWang too.
  public var maxTrainPerClass: Int?
  public var maxValidPerClass: Int?
  public var maxUnsup: Int?
  /// How the dataset folder is read when it is not ImageWang-shaped (class tree, CSV): split, columns.
  public var layout = LayoutOptions()
  /// DICOM images: the window (centre, width) every image is shown through, instead of each file's own.
  public var dicomWindow: [Double]?
  /// Image channels the models take: 3 (gray images copied into RGB) or 1 (RGB images turned to gray; the
  /// xresnet stem's first convolution takes 1 channel). 16-bit samples keep their precision either way.
  public var channels = 3
  public init() {}
}

/// Inpainting's own options (`--cutout-holes`, `--cutout-size`, `--cutout-fill`): the holes RandomCutout cuts.
public struct InpaintingOptions: Sendable, Equatable {
  /// Holes per image and their side in pixels at `cutoutReferenceSize`, inclusive ranges (the study's 5–9 and 5–49 at
  /// 160 px), scaled with the image at other sizes.
  public var cutoutHoles = [5, 9]
  public var cutoutSize = [5, 49]
  public var cutoutReferenceSize = 160
  /// What the holes hold: zero (the study's black), noise, or mixed (either, per hole).
  public var cutoutFill = RandomCutout.Fill.zero
  public init() {}
}

/// SwAV's own option (`--swav-queue`): projections queued per global crop (0: no queue; else at least the pretext batch).
public struct SwAVOptions: Sendable, Equatable {
  public var queue = 0
  public init() {}
}

/// The U-Net tasks' option (`--unet-skips`), for inpainting, colorization and masked.
public struct UnetOptions: Sendable, Equatable {
  public var skips = UnetSkips.all
  public init() {}
}

/// The pretext task and its training.
public struct PretextSettings: Sendable, Equatable {
  /// The task spec (`pretext tasks` lists them; several at once: `inpainting:1,rotation:0.5`).
  public var task = "inpainting"
  public var size = 160
  public var batch = 32
  public var epochs = 15
  /// The learning rate of the study's and fastai's recipes (`paper` scales its own with the batch).
  public var lr = 8e-3
  public var recipe = PretextRecipe.study
  /// The online kNN monitor: every this many epochs and at the last (0: off), on at most about
  /// `knnMonitorImages` train/ images as its bank and as many val/ images as its queries (seeded, class-stratified).
  public var knnEvery = 0
  public var knnMonitorImages = 2000
  /// Each task's own options, read only by the tasks that declare them (`RegisteredTask.settingsRead`).
  public var inpainting = InpaintingOptions()
  public var swav = SwAVOptions()
  public var unet = UnetOptions()
  public init() {}
}

/// The classifier's training under the protocols.
public struct DownstreamSettings: Sendable, Equatable {
  public var size = 128
  public var batch = 64
  public var epochs = 15
  public var lr = 8e-3
  /// The head-only epochs of the phased protocols (discriminative, lpft) before unfreezing, within `epochs`.
  public var headEpochs = 1
  /// The classifier's head: linear (xresnet's avg-pool + linear) or fastai (vision_learner's concat-pool head with
  /// BatchNorm and two linears). A linear probe always uses the linear head.
  public var head = XResNet.Head.linear
  public var recipe = DownstreamRecipe.study
  /// The linear probe trains on the frozen body's features computed once (validation crop, no augmentation)
  /// instead of running the body on augmented crops every epoch.
  public var cacheFeatures = false
  /// Runs (seeds) per protocol.
  public var runs = 3
  /// The kNN protocol's vote: the `knnK` most similar train/ images, each weighted exp(similarity / `knnTemperature`)
  /// (InstDisc's and DINO's 20 and 0.07). Added after 2026-12-07: written to config.json only when not the default.
  public var knnK = 20
  public var knnTemperature = 0.07
  /// The semi-supervised protocols' unlabelled images (issue 37; written to config.json only when not the default).
  public var semi = SemiSupervisedOptions()
  public init() {}
}

/// What the semi-supervised protocols (`joint`, `selftrain`) do with the unlabelled images while the classifier trains.
public struct SemiSupervisedOptions: Sendable, Equatable {
  /// `joint`'s auxiliary pretext task spec (`--aux`): a task, or weighted tasks (`rotation:0.5,jigsaw:1`).
  public var aux = "rotation"
  /// Unlabelled images per step (`--unlabelled-batch`); nil: the labelled batch's size.
  public var unlabelledBatch: Int?
  /// The auxiliary task also reads the labelled images (`--aux-on-labelled`): S4L's "on all images"; else
  /// unsup/ alone (SESEMI's).
  public var auxOnLabelled = false
  /// `selftrain`: the teacher's probability an unlabelled image's most probable class needs (`--pseudo-threshold`),
  /// and at most how many are kept per class (`--pseudo-per-class`; nil: the mean labelled images per class).
  public var pseudoThreshold = 0.5
  public var pseudoPerClass: Int?
  public init() {}
}

/// How a run computes: seed, loader threads, device, layout, arithmetic, bookkeeping.
public struct RuntimeSettings: Sendable, Equatable {
  public var seed: UInt64 = 42
  public var workers = 2
  /// cpu, cuda or cuda:N (data-parallel, `cuda` is each rank's own GPU).
  public var device = "cpu"
  /// Models and batches in channels-last (NHWC) layout: libtorch's convolutions run faster so on CPUs
  /// (benchmarks/bench.py measures both layouts) and on GPUs with tensor cores.
  public var channelsLast = true
  /// fp32, bf16, fp16 (GPU) or auto (bf16 where it pays: `Precision.cpuPrefersBFloat16`, or a GPU of compute
  /// capability 8.0+; else fp32): the forward and the loss of every training and feature pass under autocast in
  /// that dtype; weights and optimizer state float32.
  public var precision = Precision.auto
  /// What `auto` resolved to when the run started (bf16 or fp32; fp32/bf16/fp16 leave it nil). `auto` is decided by
  /// timing GEMMs, and a timing can come out the other way in another process: recorded in config.json, it keeps a
  /// resumed run, and every rank of a data-parallel one (rank 0's measurement), in the arithmetic the run began in.
  /// nil with `auto`: resolved in each process (a config made in code, or a run folder from before the field).
  public var autoPrecision: Precision?
  /// Keep each stage's checkpoints after its result file is written (default: deleted then; they are only
  /// needed to resume an unfinished stage, and weigh hundreds of MB at full width).
  public var keepCheckpoints = false
  /// Data-parallel runs: BatchNorm statistics over the whole global batch (every rank's part), so W ranks train
  /// what one process does; off, each rank normalises by its own part (PyTorch DDP's default).
  public var syncBatchNorm = false
  public init() {}
}
