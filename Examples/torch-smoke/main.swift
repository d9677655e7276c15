// The engine end to end, and the fresh-clone check's smoke run (scripts/fresh-clone-check.sh): trains a small CNN on the Torch engine
// (conv, batch norm, pooling, cross-entropy, autograd, a foreach SGD step), saves the weights as
// safetensors, reloads them, and checks the reloaded model predicts the same.
//
// Task: 16×16 images holding a bright bar, horizontal or vertical, at a random place, on noise;
// the class is the bar's orientation. Usage: torch-smoke [--device cpu|cuda[:N]] [--epochs N]
import Foundation
import Torch

var device = Device.cpu
var epochs = 8
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
  switch a {
  case "--device": device = args.popFirst().flatMap(Device.init) ?? { fatalError("--device takes cpu, cuda or cuda:N") }()
  case "--epochs": epochs = args.popFirst().flatMap(Int.init) ?? epochs
  default: print("usage: torch-smoke [--device cpu|cuda[:N]] [--epochs N]"); exit(2)
  }
}

func makeData(_ n: Int, _ g: Generator, _ device: Device) throws -> (Tensor, Tensor) {
  let labels = try Tensor.randint(0, 2, [n], generator: g)
  let images = try Tensor.randn([n, 1, 16, 16], generator: g) * 0.5
  let at = try Tensor.randint(2, 14, [n, 2], generator: g).toArray(of: Int64.self)
  let y = try labels.toArray(of: Int64.self)
  var pixels = try images.toArray(of: Float.self)
  for i in 0..<n {
    let (r, c) = (Int(at[2 * i]), Int(at[2 * i + 1]))
    for k in -2...2 {
      let (rr, cc) = y[i] == 0 ? (r, c + k) : (r + k, c)
      pixels[i * 256 + rr * 16 + cc] += 2
    }
  }
  return (try Tensor(pixels, shape: [n, 1, 16, 16]).to(device), try labels.to(device))
}

struct Net {
  var params: [String: Tensor] = [:]
  var buffers: [String: Tensor] = [:]

  init(_ g: Generator, _ device: Device) throws {
    func kaiming(_ shape: [Int]) throws -> Tensor {
      let fanIn = shape.dropFirst().reduce(1, *)
      return try (Tensor.randn(shape, generator: g) * (2.0 / Double(fanIn)).squareRoot()).to(device).requiringGrad()
    }
    params["conv1.weight"] = try kaiming([8, 1, 3, 3])
    params["conv2.weight"] = try kaiming([16, 8, 3, 3])
    for (name, c) in [("bn1", 8), ("bn2", 16)] {
      params["\(name).weight"] = try Tensor.ones([c], device: device).requiringGrad()
      params["\(name).bias"] = try Tensor.zeros([c], device: device).requiringGrad()
      buffers["\(name).running_mean"] = try Tensor.zeros([c], device: device)
      buffers["\(name).running_var"] = try Tensor.ones([c], device: device)
    }
    params["fc.weight"] = try kaiming([2, 16])
    params["fc.bias"] = try Tensor.zeros([2], device: device).requiringGrad()
  }

  func callAsFunction(_ x: Tensor, training: Bool) throws -> Tensor {
    var h = x
    for (conv, bn) in [("conv1", "bn1"), ("conv2", "bn2")] {
      h = try conv2d(h, weight: params["\(conv).weight"]!, padding: 1)
      h = try batchNorm(h, weight: params["\(bn).weight"], bias: params["\(bn).bias"],
                        runningMean: buffers["\(bn).running_mean"], runningVar: buffers["\(bn).running_var"], training: training)
      h = try maxPool2d(relu(h), kernelSize: 2)
    }
    h = try adaptiveAvgPool2d(h, outputSize: (1, 1)).flatten(start: 1)
    return try linear(h, weight: params["fc.weight"]!, bias: params["fc.bias"])
  }

  func accuracy(_ x: Tensor, _ y: Tensor) throws -> Double {
    try withNoGrad { try (self(x, training: false).argmax(dim: 1) .== y).to(dtype: .float32).mean().item() }
  }
}

do {
  print("Pretext engine smoke run: libtorch \(Runtime.torchVersion), device \(device), \(Runtime.threadCount) threads")
  print("CPU features: \(Runtime.cpuCapabilities.sorted().joined(separator: " ")); native bfloat16: \(Runtime.cpuHasNativeBFloat16 ? "yes" : "no")")
  let g = try Generator(seed: 0)
  let (trainX, trainY) = try makeData(2048, g, device)
  let (validX, validY) = try makeData(512, g, device)
  var net = try Net(g, device)
  let names = net.params.keys.sorted()
  let params = names.map { net.params[$0]! }
  let (batch, lr) = (64, 0.1)
  let start = Date()
  print(String(format: "before training: valid accuracy %.3f", try net.accuracy(validX, validY)))
  for epoch in 1...epochs {
    let order = try Tensor.randperm(2048, generator: g).to(device)
    var total = 0.0
    for b in 0..<(2048 / batch) {
      let idx = try order.narrow(dim: 0, start: b * batch, length: batch)
      let loss = try crossEntropy(net(trainX.indexSelect(dim: 0, index: idx), training: true), trainY.indexSelect(dim: 0, index: idx))
      for p in params { try p.clearGrad() }
      try loss.backward()
      try withNoGrad { try Foreach.add_(params, params.map { $0.grad! }, alpha: .float(-lr)) }
      total += try loss.item()
    }
    print(String(format: "epoch %d  train loss %.4f  valid accuracy %.3f", epoch, total / Double(2048 / batch),
                 try net.accuracy(validX, validY)))
  }
  print(String(format: "trained in %.1f s", Date().timeIntervalSince(start)))

  let path = FileManager.default.temporaryDirectory.appendingPathComponent("pretext-smoke.safetensors").path
  try SafeTensors.save((net.params.merging(net.buffers) { a, _ in a }).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }, to: path)
  let reloaded = try SafeTensors.File(path: path)
  var copy = try Net(Generator(seed: 99), device)
  for name in copy.params.keys { copy.params[name] = try reloaded.tensor(name).to(device) }
  for name in copy.buffers.keys { copy.buffers[name] = try reloaded.tensor(name).to(device) }
  let same = try withNoGrad { try net(validX, training: false).equal(copy(validX, training: false)) }
  print("weights saved to \(path) and reloaded: predictions \(same ? "identical" : "DIFFER")")
  let final = try net.accuracy(validX, validY)
  guard same, final > 0.9 else {
    print("smoke run FAILED (accuracy \(final))")
    exit(1)
  }
} catch {
  print("error: \(error)")
  exit(1)
}
