import Foundation
import Testing
@testable import Torch

@Suite struct ForeachTests {
  @Test func foreachMatchesOneAtATime() throws {
    let g = try Generator(seed: 9)
    let a = try [[3], [2, 2]].map { try Tensor.randn($0, generator: g, dtype: .float64) }
    let b = try [[3], [2, 2]].map { try Tensor.randn($0, generator: g, dtype: .float64) }
    let c = try b.map { try $0.abs() + 1 }
    let expect = try zip(a, zip(b, c)).map { x, bc in
      // ((x + 2b) * 0.5 + 3·b·c) + 0.25·b/c, then lerp 0.1 towards c
      let y = try (x + bc.0 * 2) * 0.5
      let z = try y + bc.0 * bc.1 * 3 + bc.0 / bc.1 * 0.25
      return try z + (bc.1 - z) * 0.1
    }
    let work = try a.map { try $0.clone() }
    try Foreach.add_(work, b, alpha: 2)
    try Foreach.mul_(work, 0.5)
    try Foreach.addcmul_(work, b, c, value: 3)
    try Foreach.addcdiv_(work, b, c, value: 0.25)
    try Foreach.lerp_(work, c, weight: 0.1)
    for (w, e) in zip(work, expect) { #expect(try w.allClose(e, rtol: 1e-12, atol: 1e-12)) }
    let norms = try Foreach.norm(work)
    for (n, w) in zip(norms, work) { expectClose(try values(n), try values(w.norm())) }
    let roots = try Foreach.sqrt(c)
    for (r, x) in zip(roots, c) { #expect(try r.allClose(x.sqrt())) }
    try Foreach.zero_(work)
    for w in work { #expect(try values(w.abs().sum()) == [0]) }
    try Foreach.copy_(work, c)
    for (w, x) in zip(work, c) { #expect(try w.equal(x)) }
  }

  /// The fused AdamW kernel against the textbook update, step by step.
  @Test func fusedAdamWFollowsTheFormula() throws {
    let (lr, b1, b2, wd, eps) = (0.01, 0.9, 0.99, 0.1, 1e-8)
    let p = try Tensor([1.0, -2.0, 0.5])
    var ref = [1.0, -2.0, 0.5]
    var m = [0.0, 0, 0], v = [0.0, 0, 0]
    let expAvg = try Tensor.zeros([3], dtype: .float64), expAvgSq = try Tensor.zeros([3], dtype: .float64)
    let step = try Tensor.zeros([], dtype: .float32)
    for t in 1...5 {
      let grad = ref.map { 2 * $0 + 0.1 * Double(t) }
      try Foreach.fusedAdam_(
        params: [p], grads: [Tensor(grad)], expAvgs: [expAvg], expAvgSqs: [expAvgSq], steps: [step], lr: lr,
        beta1: b1, beta2: b2, weightDecay: wd, eps: eps, decoupled: true)
      for i in 0..<3 {
        ref[i] *= 1 - lr * wd
        m[i] = b1 * m[i] + (1 - b1) * grad[i]
        v[i] = b2 * v[i] + (1 - b2) * grad[i] * grad[i]
        let mhat = m[i] / (1 - Foundation.pow(b1, Double(t))), vhat = v[i] / (1 - Foundation.pow(b2, Double(t)))
        ref[i] -= lr * mhat / (vhat.squareRoot() + eps)
      }
      expectClose(try values(p), ref, tol: 1e-12)
    }
    #expect(try values(step) == [5])
  }

  /// The fused kernels read parameter, gradient and state as flat arrays: a channels-last parameter with a
  /// contiguous state is refused rather than updated wrongly; size-1 dimensions' strides do not count.
  @Test func fusedAdamRefusesMismatchedLayouts() throws {
    let p = try Tensor.rand([2, 3, 4, 4]).contiguous(.channelsLast)
    let state = try Tensor.zeros([2, 3, 4, 4])
    func step(_ m: Tensor, _ v: Tensor, _ p: Tensor) throws {
      try Foreach.fusedAdam_(params: [p], grads: [p.zerosLike()], expAvgs: [m], expAvgSqs: [v],
                             steps: [Tensor.zeros([], dtype: .float32)], lr: 0.1, beta1: 0.9, beta2: 0.99,
                             weightDecay: 0, eps: 1e-8, decoupled: true)
    }
    #expect { try step(state, state.clone(), p) } throws: { "\($0)".contains("strides") }
    try step(p.zerosLike(), p.zerosLike(), p)  // same layout: fine
    let column = try Tensor.rand([4, 1, 1, 1]).contiguous(.channelsLast)  // strides differ only on size-1 dims
    try step(Tensor.zeros([4, 1, 1, 1]), Tensor.zeros([4, 1, 1, 1]), column)
  }

  @Test func fusedSGDWithMomentum() throws {
    let p = try Tensor([1.0, 2.0]), buf = try Tensor.zeros([2], dtype: .float64)
    var ref = [1.0, 2.0], mom = [0.0, 0.0]
    for t in 0..<3 {
      let grad = ref.map { $0 * 0.5 }
      try Foreach.fusedSGD_(params: [p], grads: [Tensor(grad)], momentumBuffers: [buf], lr: 0.1, momentum: 0.9,
                            weightDecay: 0.01, isFirstStep: t == 0)
      for i in 0..<2 {
        let g = grad[i] + 0.01 * ref[i]
        mom[i] = t == 0 ? g : 0.9 * mom[i] + g
        ref[i] -= 0.1 * mom[i]
      }
      expectClose(try values(p), ref, tol: 1e-12)
    }
  }

  /// Channels-last parameters with state of the same layout (convolution weights in a channels-last model) are
  /// stepped in place as 1-D views, not cloned to contiguous and copied back: the same values as the contiguous
  /// tensors (within float rounding: an element may fall in the kernel's scalar tail in one order and a vector
  /// lane in the other), and the parameters keep their layout.
  @Test func fusedStepsOnChannelsLastEqualContiguous() throws {
    Runtime.manualSeed(3)
    let p0 = try Tensor.randn([4, 3, 3, 3]), g0 = try Tensor.randn([4, 3, 3, 3])
    func run(_ layout: MemoryFormat) throws -> (sgd: Tensor, adam: Tensor) {
      let p = try p0.clone().contiguous(layout), g = try g0.clone().contiguous(layout)
      let buf = try p.zerosLike()
      for t in 0..<3 {
        try Foreach.fusedSGD_(params: [p], grads: [g], momentumBuffers: [buf], lr: 0.1, momentum: 0.9, weightDecay: 0.01,
                              isFirstStep: t == 0)
      }
      let q = try p0.clone().contiguous(layout), m = try q.zerosLike(), v = try q.zerosLike()
      let step = try Tensor.zeros([], dtype: .float32)
      for _ in 0..<3 {
        try Foreach.fusedAdam_(params: [q], grads: [g], expAvgs: [m], expAvgSqs: [v], steps: [step], lr: 0.01, beta1: 0.9,
                               beta2: 0.99, weightDecay: 0.01, eps: 1e-8, decoupled: true)
      }
      return (p, q)
    }
    let (flat, cl) = (try run(.contiguous), try run(.channelsLast))
    #expect(cl.sgd.isContiguous(.channelsLast) && cl.adam.isContiguous(.channelsLast) && !cl.sgd.isContiguous())
    #expect(try (cl.sgd - flat.sgd).abs().max().item().doubleValue < 1e-6)
    #expect(try (cl.adam - flat.adam).abs().max().item().doubleValue < 1e-6)
    #expect(try !cl.sgd.equal(p0) && !cl.adam.equal(p0))  // they moved
  }
}
