// A task trained on its own, in one call: what a task's tests, a notebook or a script need.
import ImageData
import NN
import Torch
import Training

/// The loader's batches as the learner takes them.
extension ImageLoader: BatchSource {
  public func batches(epoch: Int) throws -> BatchStream {
    let pass = pass(epoch: epoch)
    return BatchStream { try pass.next().map(Batch.init) }
  }
}

/// Trains `task` on the images at `paths` (never a label) for `epochs` epochs with the study's recipe (Ranger and
/// flat-cos at `lr`), validating on `validation` when given, in this process: no run folder, no checkpoint, on the CPU
/// in float32. Returns the epochs' records (losses, the task's metrics and monitors). The study's `runPretext` is
/// this and run folders, checkpoints and resume, data-parallel ranks, other devices and precisions, and the papers'
/// recipes.
@discardableResult
public func fit(task: any PretextTask, data paths: [String], validation: [String] = [], epochs: Int, batch: Int,
                lr: Double = 8e-3, weightDecay: Double = 1e-2, seed: UInt64 = 0, workers: Int = 1, channels: Int = 3,
                callbacks: [Callback] = []) throws -> [EpochRecord] {
  Runtime.manualSeed(seed)
  let train = ImageLoader(paths: paths, pipeline: task.pipeline(training: true), batchSize: batch, shuffle: true, seed: seed,
                          workers: workers, channels: channels)
  let valid = validation.isEmpty ? nil : ImageLoader(paths: validation, pipeline: task.pipeline(training: false), batchSize: batch,
                                                     shuffle: false, seed: seed, workers: workers, channels: channels)
  let recipe = TrainingRecipe.study(lr: lr, weightDecay: weightDecay)
  let learner = Learner(model: task.model, train: train, valid: valid, step: task.step,
                        optimizer: recipe.makeOptimizer(for: task.model, batch: batch), metrics: valid == nil ? [] : task.metrics,
                        callbacks: callbacks)
  try learner.fit(recipe.plan(epochs: epochs, batch: batch))
  return learner.history
}
