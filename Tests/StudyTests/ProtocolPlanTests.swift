import Testing
@testable import NN
@testable import SelfSupervised
@testable import Training

/// The fine-tune protocols as fit plans: which phases, how long, at which learning rates.
@Suite struct ProtocolPlanTests {
  @Test func lpftIsTheHeadPhaseThenEverythingAtOneLR() throws {
    let model = try XResNet(.resnet18, classes: 4, widen: 0.125)
    func shape(_ s: Scenario, headEpochs: Int = 2) -> [(Int, LearningRate)] {
      FineTune(s).plan(model, epochs: 12, headEpochs: headEpochs, lr: 8e-3).phases.map { ($0.epochs, $0.lr) }
    }
    let lpft = shape(.lpft), discriminative = shape(.discriminative), full = shape(.full)
    #expect(lpft.map(\.0) == [2, 10] && lpft.map(\.1) == [.value(8e-3), .value(8e-3)])
    #expect(discriminative.map(\.0) == [2, 10] && discriminative.map(\.1) == [.value(8e-3), .range(8e-5, 8e-3)])
    #expect(full.map(\.0) == [12] && full.map(\.1) == [.value(8e-3)])
    #expect(shape(.lpft, headEpochs: 0).map(\.0) == [12])  // no head phase: the same fit as full
    #expect(FineTune(.lpft).usesEncoder && Scenario(rawValue: "lpft") == .lpft)
  }
}
