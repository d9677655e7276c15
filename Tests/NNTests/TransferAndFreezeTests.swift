import Foundation
import Testing
@testable import NN
@testable import Torch

@Suite struct TransferAndFreezeTests {
  func small() throws -> XResNet { try XResNet(.resnet18, classes: 5, widen: 0.125) }

  @Test func encoderGoesFromUnetToClassifierAndBack() throws {
    let unet = try DynamicUnet(encoder: small().body, outChannels: 3, imageSize: (32, 32))
    try withNoGrad { for p in unet.parameters() { try p.value.normal_() } }
    let classifier = try small()
    let headBefore = try classifier.stateDict().filter { $0.name.hasPrefix("11.") }.map { try $0.tensor.clone() }
    try EncoderTransfer.load(encoderOf: unet, into: classifier)
    let c = Dictionary(uniqueKeysWithValues: classifier.stateDict().map { ($0.name, $0.tensor) })
    var compared = 0
    for (name, t) in unet.stateDict() where name.hasPrefix("layers.0.") {
      #expect(try c[String(name.dropFirst(9))]!.equal(t), "\(name)")
      compared += 1
    }
    #expect(compared == classifier.body.stateDict().count)
    for (before, (_, now)) in zip(headBefore, classifier.stateDict().filter { $0.name.hasPrefix("11.") }) {
      #expect(try now.equal(before))  // the head is untouched
    }
    // And back, into a fresh U-Net.
    let other = try DynamicUnet(encoder: small().body, outChannels: 3, imageSize: (32, 32))
    try EncoderTransfer.load(bodyOf: classifier, into: other)
    let o = Dictionary(uniqueKeysWithValues: other.stateDict().map { ($0.name, $0.tensor) })
    for (name, t) in unet.stateDict() where name.hasPrefix("layers.0.") { #expect(try o[name]!.equal(t)) }
  }

  @Test func mismatchedEncoderIsRefusedNamingTheKeys() throws {
    let unet = try DynamicUnet(encoder: XResNet(.resnet18, widen: 0.25).body, outChannels: 3, imageSize: (32, 32))
    let classifier = try small()
    let before = try classifier.stateDict().map { try $0.tensor.clone() }
    do {
      try EncoderTransfer.load(encoderOf: unet, into: classifier)
      Issue.record("a wider encoder was accepted")
    } catch let e as StateDictError {
      #expect(!e.report.mismatched.isEmpty)
      #expect(e.description.contains("4.0.convpath.0.0.weight"))
    }
    for (b, (_, now)) in zip(before, classifier.stateDict()) { #expect(try now.equal(b)) }  // nothing copied
  }

  @Test func strictLoadNamesEveryOffender() throws {
    let model = try small()
    var state = model.stateDict().filter { $0.name != "0.0.weight" }
    state.append(("extra.weight", try Tensor.zeros([1])))
    state[0] = (state[0].name, try Tensor.zeros([1]))
    do {
      try model.loadStateDict(state)
      Issue.record("a bad state dict was accepted")
    } catch let e as StateDictError {
      #expect(e.report.missing == ["0.0.weight"])
      #expect(e.report.unexpected == ["extra.weight"])
      #expect(e.report.mismatched.count == 1)
    }
    let report = try model.loadStateDict(state, strict: false)
    #expect(report.missing == ["0.0.weight"] && report.unexpected == ["extra.weight"])
  }

  @Test func splittersMatchFastai() throws {
    let model = try small()
    let groups = model.parameterGroups()
    #expect(groups.count == 3)
    #expect(groups[0].map(\.name).allSatisfy { ["0", "1", "2"].contains($0.prefix { $0 != "." }) })
    #expect(groups[2].map(\.name) == ["11.weight", "11.bias"])
    #expect(groups.flatMap { $0 }.count == model.parameters().count)
    let unet = try DynamicUnet(encoder: small().body, outChannels: 3, imageSize: (32, 32))
    let ug = unet.parameterGroups()
    #expect(ug[0].allSatisfy { $0.name.hasPrefix("layers.0.0.") || $0.name.hasPrefix("layers.0.1.") || $0.name.hasPrefix("layers.0.2.") })
    #expect(ug[2].allSatisfy { !$0.name.hasPrefix("layers.0.") })
    #expect(ug.flatMap { $0 }.count == unet.parameters().count)
  }

  /// Trains a few SGD steps and returns the parameters' values before.
  func train(_ model: XResNet, steps: Int) throws -> [String: Tensor] {
    let before = Dictionary(uniqueKeysWithValues: try model.namedParameters().map { ($0.0, try $0.1.value.clone()) })
    let g = try Generator(seed: 3)
    for _ in 0..<steps {
      let x = try Tensor.randn([4, 3, 32, 32], generator: g), y = try Tensor.randint(0, 5, [4], generator: g)
      let trainable = model.parameters().filter(\.requiresGrad)
      for p in trainable { try p.value.clearGrad() }
      try crossEntropy(model(x), y).backward()
      try withNoGrad { try Foreach.add_(trainable.map(\.value), trainable.map { $0.value.grad! }, alpha: -0.1) }
    }
    return before
  }

  @Test func frozenGroupsStayBitIdenticalAndBatchNormTrains() throws {
    let model = try small()
    try model.freeze()
    let bn = model.batchNormParameterNames()
    let before = try train(model, steps: 3)
    let headNames = Set(model.parameterGroups()[2].map(\.name))
    for (name, p) in model.namedParameters() {
      let changed = try !p.value.equal(before[name]!)
      if headNames.contains(name) || bn.contains(name) {
        #expect(changed, "\(name) should have trained")
      } else {
        #expect(!changed, "\(name) is frozen but changed")
      }
    }
    // Without train_bn, BatchNorm is frozen too.
    try model.freeze(trainBatchNorm: false)
    let before2 = try train(model, steps: 2)
    for name in bn { #expect(try model.namedParameters().first { $0.0 == name }!.1.value.equal(before2[name]!)) }
    try model.unfreeze()
    let before3 = try train(model, steps: 1)
    #expect(try !model.namedParameters().first { $0.0 == "0.0.weight" }!.1.value.equal(before3["0.0.weight"]!))
  }

  @Test func savedWeightsLoadBack() throws {
    let path = NSTemporaryDirectory() + "xresnet-\(UUID().uuidString).safetensors"
    let model = try small()
    try model.save(to: path)
    let other = try small()
    try other.load(from: path)
    for ((n, a), (_, b)) in zip(model.stateDict(), other.stateDict()) { #expect(try a.equal(b), "\(n)") }
    #expect(try SafeTensors.File(path: path).tensor("0.1.num_batches_tracked").dtype == .int64)
  }
}

@Test func freezingByPrefix() throws {
  let model = try XResNet(.resnet18, classes: 5, widen: 0.125)
  try model.setTrainable(false, prefix: "4")
  for (name, p) in model.namedParameters() { #expect(p.requiresGrad == !name.hasPrefix("4."), "\(name)") }
  try model.setTrainable(false)
  #expect(model.parameters().allSatisfy { !$0.requiresGrad })
  try model.unfreeze()
  #expect(model.parameters().allSatisfy { $0.requiresGrad })
}
