import Foundation
import ImageData
import NN
import SelfSupervised
import Testing
import Torch
import Training

@testable import Study

/// The fastai differences the comparison's gap search switches on one at a time (NOTES.md): holes filled with
/// noise, vision_learner's head, Adam + one-cycle.
@Suite struct FastaiVariantTests {
  /// Noise-filled holes are the same holes (the same draws come first), hold non-black pixels, and leave the
  /// rest of the image untouched; black fill (the default) is unchanged by the option's existence.
  @Test func noiseFillKeepsTheHolesAndTheRest() throws {
    let img = Image(width: 40, height: 30, pixels: (0..<(40 * 30 * 3)).map { UInt8(truncatingIfNeeded: 7 * $0 + 1) })
    func cut(_ fill: RandomCutout.Fill) -> (Image, [Hole]) {
      var rng = SplitMix64(seed: 11)
      return RandomCutout(count: 3...3, size: 6...12, fill: fill)(img, rng: &rng)
    }
    let (black, holes) = cut(.zero), (noisy, noisyHoles) = cut(.noise)
    #expect(holes == noisyHoles && !holes.isEmpty)
    var inHole = [Bool](repeating: false, count: 40 * 30)
    for h in holes { for y in h.y0..<h.y1 { for x in h.x0..<h.x1 { inHole[y * 40 + x] = true } } }
    var noisePixels: [UInt8] = []
    let (blackPx, noisyPx, imgPx) = (black.pixels, noisy.pixels, img.pixels)  // `pixels` copies: read once
    for p in 0..<(40 * 30) {
      for c in 0..<3 {
        let i = 3 * p + c
        if inHole[p] {
          #expect(blackPx[i] == 0)
          noisePixels.append(noisyPx[i])
        } else {
          #expect(blackPx[i] == imgPx[i] && noisyPx[i] == imgPx[i])
        }
      }
    }
    let mean = Double(noisePixels.map(Int.init).reduce(0, +)) / Double(noisePixels.count)
    #expect(abs(mean - 127.5) < 20, "uniform noise has mean 127.5 (got \(mean))")
  }

  /// vision_learner's create_head on an xresnet34 × 0.25 body (128 channels): concat pool, BN1d(256), dropout
  /// 0.25, Linear(256, 512, no bias), ReLU, BN1d(512), dropout 0.5, Linear(512, 20, no bias), fastai's keys and
  /// shapes; the body's keys are those of the linear-head classifier, so a pretext encoder loads into it.
  @Test func fastaiHeadHasCreateHeadsLayers() throws {
    let model = try XResNet(.resnet34, classes: 20, widen: 0.25, head: .fastai)
    let state = Dictionary(uniqueKeysWithValues: model.stateDict().map { ($0.name, $0.tensor.shape) })
    let h = model.headStart
    #expect(state["\(h + 2).weight"] == [256] && state["\(h + 2).running_mean"] == [256])
    #expect(state["\(h + 4).weight"] == [512, 256] && state["\(h + 4).bias"] == nil)
    #expect(state["\(h + 6).weight"] == [512] && state["\(h + 8).weight"] == [20, 512] && state["\(h + 8).bias"] == nil)
    #expect(model.featureCount == 256)
    let linear = try XResNet(.resnet34, classes: 20, widen: 0.25)
    let bodyKeys = { (m: XResNet) in Set(m.stateDict().map(\.name).filter { Int($0.split(separator: ".")[0])! < m.headStart }) }
    #expect(bodyKeys(model) == bodyKeys(linear))
    model.eval()
    let out = try model(Tensor.rand([2, 3, 32, 32]))
    #expect(out.shape == [2, 20])
  }

  /// fastai's recipe: Adam with β 0.9/0.99, ε 1e-5 and decoupled decay, along fit_one_cycle (lr from peak/25 up
  /// to the peak at 25 %, down to peak/1e5; β₁ 0.95 → 0.85 → 0.95).
  @Test func fastaiRecipeIsAdamOneCycle() throws {
    let r = TrainingRecipe.fastai(lr: 4e-3, weightDecay: 1e-2)
    #expect(r.optimizer == .adam(beta1: 0.9, beta2: 0.99, decoupled: true) && r.eps == 1e-5)
    let phase = r.plan(epochs: 8, batch: 32).phases[0]
    #expect(phase.lr == .value(4e-3))
    #expect(abs(phase.lrSchedule(0) - 1.0 / 25) < 1e-12 && abs(phase.lrSchedule(0.25) - 1) < 1e-12 && phase.lrSchedule(1) < 1e-4)
    #expect(abs(phase.momentumSchedule!(0) - 0.95) < 1e-12 && abs(phase.momentumSchedule!(0.25) - 0.85) < 1e-12)
    let model = try XResNet(.resnet18, classes: 4, widen: 0.125)
    let adam = try #require(r.makeOptimizer(for: model, batch: 32) as? Adam)
    #expect(adam.groups.allSatisfy { $0.eps == 1e-5 && $0.sqrMomentum == 0.99 })
    // A downstream fine-tune with --downstream-recipe fastai runs every phase on one-cycle.
    let plan = FineTune(.discriminative, oneCycle: true).plan(model, epochs: 5, headEpochs: 2, lr: 1e-3)
    #expect(plan.phases.count == 2 && plan.phases.allSatisfy { $0.momentumSchedule != nil })
  }
}
