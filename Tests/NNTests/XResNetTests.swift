import Foundation
import Testing
@testable import NN
@testable import Torch

@Suite struct XResNetTests {
  @Test(arguments: [(1000, "xresnet34_nout1000.keys.tsv", 21_816_904), (20, "xresnet34_nout20.keys.tsv", 21_314_164)])
  func keysOrderAndShapesMatchFastai(classes: Int, fixture: String, parameters: Int) throws {
    let model = try XResNet(.resnet34, classes: classes)
    let ours = model.stateDict().map { ($0.name, $0.tensor.shape) }
    let theirs = try Fixture.keys(fixture)
    #expect(ours.map(\.0) == theirs.map(\.0))
    #expect(ours.map(\.1) == theirs.map(\.1))
    #expect(model.parameterCount == parameters)
  }

  @Test func numericParityWithFastai() throws {
    let model = try XResNet(.resnet34, classes: 20, widen: 0.25)
    let file = try loadParityFixture(model, "parity_xresnet34_w025.safetensors")
    let input = try file.tensor("input")
    let errors = try parityErrors(model, file) { try crossEntropy(model(input), file.tensor("labels")) }
    let params = Dictionary(uniqueKeysWithValues: model.namedParameters())
    #expect(errors.loss < 1e-4, "train loss relative error \(errors.loss)")
    #expect(try relativeError(params["0.0.weight"]!.value.grad!, file.tensor("grad.0.0.weight")) < 1e-3)
    #expect(try relativeError(params["11.weight"]!.value.grad!, file.tensor("grad.11.weight")) < 1e-3)
    #expect(errors.eval < 1e-4, "eval output relative error \(errors.eval)")
  }
}

@Test func shortcutPoolChoice() throws {
  Runtime.manualSeed(1)
  let avg = try XResNet(.resnet18, classes: 4, widen: 0.125)
  Runtime.manualSeed(1)
  let max = try XResNet(.resnet18, classes: 4, widen: 0.125, shortcutPool: .max)
  #expect(avg.stateDict().map(\.name) == max.stateDict().map(\.name))  // pools hold no state
  let idpath = (max.layers[5] as! Sequential)[0] as! ResBlock
  #expect(idpath.idpath[0] is MaxPool2d)
  try max.loadStateDict(avg.stateDict())
  avg.eval(); max.eval()
  let x = try Tensor.rand([2, 3, 33, 33])
  let (a, b) = try withNoGrad { (try avg(x), try max(x)) }
  #expect(try !a.equal(b))
}
