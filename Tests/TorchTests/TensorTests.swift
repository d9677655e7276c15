import Testing
@testable import Torch

@Suite struct TensorTests {
  @Test func creationAndMetadata() throws {
    let z = try Tensor.zeros([2, 3, 4])
    #expect(z.shape == [2, 3, 4])
    #expect(z.strides == [12, 4, 1])
    #expect(z.count == 24)
    #expect(z.dtype == .float32)
    #expect(z.device == .cpu)
    #expect(try values(z.sum()) == [0])
    #expect(try values(Tensor.ones([3], dtype: .int32)) == [1, 1, 1])
    #expect(try Tensor.full([2], 2.5, dtype: .float64).toArray(of: Double.self) == [2.5, 2.5])
    #expect(try Tensor.arange(0, 5).toArray(of: Int64.self) == [0, 1, 2, 3, 4])
    #expect(try Tensor.arange(1.0, 2.0, step: 0.25, dtype: .float64).toArray(of: Double.self) == [1, 1.25, 1.5, 1.75])
    expectClose(try values(Tensor.linspace(0, 1, steps: 5)), [0, 0.25, 0.5, 0.75, 1])
  }

  @Test func everyDTypeRoundTripsThroughSwiftArrays() throws {
    #expect(try Tensor([1.5, -2] as [Float]).toArray(of: Float.self) == [1.5, -2])
    #expect(try Tensor([1.5, -2] as [Double]).toArray(of: Double.self) == [1.5, -2])
    #expect(try Tensor([Int64.max, -1] as [Int64]).toArray(of: Int64.self) == [Int64.max, -1])
    #expect(try Tensor([Int32.min, 7] as [Int32]).toArray(of: Int32.self) == [Int32.min, 7])
    #expect(try Tensor([0, 255] as [UInt8]).toArray(of: UInt8.self) == [0, 255])
    #expect(try Tensor([true, false]).toArray(of: Bool.self) == [true, false])
    #expect(try Tensor([Float16(0.5), Float16(-3)]).toArray(of: Float16.self) == [0.5, -3])
    let bf = try Tensor([1.0, 0.5, -8] as [Float]).to(dtype: .bfloat16)
    #expect(bf.dtype == .bfloat16)
    #expect(try values(bf) == [1, 0.5, -8])
    #expect(throws: TorchError.self) { try Tensor([1, 2, 3] as [Float], shape: [2, 2]) }
    #expect(throws: TorchError.self) { try Tensor([1] as [Float]).toArray(of: Double.self) }
  }

  @Test func zeroCopyBufferIsSharedAndReleasedOnce() throws {
    let released = Counter()
    let buffer = UnsafeMutableRawPointer.allocate(byteCount: 6, alignment: 16)
    let bytes = buffer.bindMemory(to: UInt8.self, capacity: 6)
    for i in 0..<6 { bytes[i] = UInt8(i) }
    var view: Tensor? = nil
    do {
      let t = try Tensor(bytesNoCopy: buffer, shape: [2, 3], dtype: .uint8) {
        released.increment()
        buffer.deallocate()
      }
      bytes[0] = 42  // no copy: the tensor sees the buffer
      #expect(try t.toArray(of: UInt8.self) == [42, 1, 2, 3, 4, 5])
      view = try t.select(dim: 0, index: 1)
    }
    #expect(released.value == 0)  // the view keeps the storage alive
    #expect(try view!.toArray(of: UInt8.self) == [3, 4, 5])
    view = nil
    #expect(released.value == 1)
  }

  @Test func memoryFormats() throws {
    let x = try Tensor.randn([2, 3, 4, 5])
    #expect(x.isContiguous())
    let cl = try x.contiguous(.channelsLast)
    #expect(cl.isContiguous(.channelsLast))
    #expect(!cl.isContiguous())
    #expect(cl.strides == [60, 1, 15, 3])
    #expect(try cl.equal(x))
  }

  @Test func seededRandomnessIsReproducible() throws {
    let a = try Tensor.randn([5], generator: Generator(seed: 7))
    let b = try Tensor.randn([5], generator: Generator(seed: 7))
    let c = try Tensor.randn([5], generator: Generator(seed: 8))
    #expect(try a.equal(b))
    #expect(try !a.equal(c))
    Runtime.manualSeed(3)
    let d = try Tensor.rand([4])
    Runtime.manualSeed(3)
    #expect(try d.equal(Tensor.rand([4])))
    let r = try values(Tensor.randint(2, 5, [1000], generator: Generator(seed: 1)))
    #expect(r.min() == 2 && r.max() == 4)
    #expect(try values(Tensor.randperm(10, generator: Generator(seed: 1))).sorted() == (0..<10).map(Double.init))
    // Saving and restoring a generator's state replays its draws.
    let g = try Generator(seed: 11)
    let state = try g.state()
    let first = try Tensor.rand([3], generator: g)
    try g.setState(state)
    #expect(try first.equal(Tensor.rand([3], generator: g)))
  }

  @Test func broadcastingArithmeticAndPromotion() throws {
    let a = try Tensor([1, 2, 3] as [Float], shape: [3, 1])
    let b = try Tensor([10, 20] as [Float], shape: [1, 2])
    let s = try a + b
    #expect(s.shape == [3, 2])
    #expect(try values(s) == [11, 21, 12, 22, 13, 23])
    #expect(try values(a * b - 1) == [9, 19, 19, 39, 29, 59])
    #expect(try values(1.0 - a) == [0, -1, -2])
    #expect(try values(6.0 / a) == [6, 3, 2])
    #expect(try values(a.pow(2)) == [1, 4, 9])
    let i = try Tensor([1, 2, 3] as [Int64])
    #expect(try (i + 1).dtype == .int64)
    #expect(try (i + 1.5).dtype == .float32)
    #expect(try (i / 2).dtype == .float32)  // true division, as PyTorch
    #expect(try values(a.clamp(min: 1.5, max: 2.5)) == [1.5, 2, 2.5])
    #expect(try values(-a) == [-1, -2, -3])
  }

  @Test func comparisonsAndSelection() throws {
    let a = try Tensor([1, 5, 3] as [Float])
    let b = try Tensor([2, 5, 1] as [Float])
    #expect(try (a .< b).toArray(of: Bool.self) == [true, false, false])
    #expect(try (a .== b).toArray(of: Bool.self) == [false, true, false])
    #expect(try (a .>= 3).toArray(of: Bool.self) == [false, true, true])
    #expect(try values(a.where(a .> b, else: b)) == [2, 5, 3])
    #expect(try values(a.maskedFill(a .> 2, 0)) == [1, 0, 0])
    #expect(try values(a.maximum(b)) == [2, 5, 3])
  }

  @Test func reductions() throws {
    let x = try Tensor([1, 2, 3, 4, 5, 6] as [Double], shape: [2, 3])
    #expect(try values(x.sum()) == [21])
    #expect(try values(x.sum(dims: [0])) == [5, 7, 9])
    #expect(try x.sum(dims: [1], keepDim: true).shape == [2, 1])
    #expect(try values(x.mean(dims: [1])) == [2, 5])
    #expect(try values(x.max()) == [6])
    #expect(try values(x.min(dims: [1])) == [1, 4])
    #expect(try values(x.prod()) == [720])
    expectClose(try values(x.variance(dims: [1])), [1, 1])
    expectClose(try values(x.variance(dims: [1], correction: 0)), [2.0 / 3, 2.0 / 3])
    expectClose(try values(x.std()), [1.8708286933869707])
    expectClose(try values(x.norm()), [(91.0).squareRoot()])
    #expect(try values(x.argmax(dim: 1)) == [2, 2])
    #expect(try values(x.argmax()) == [5])
    let (v, i) = try x.max(dim: 0)
    #expect(try values(v) == [4, 5, 6] && values(i) == [1, 1, 1])
    let top = try Tensor([3, 9, 1, 7] as [Float]).topk(2)
    #expect(try values(top.values) == [9, 7] && values(top.indices) == [1, 3])
    expectClose(try values(x.logSumExp(dims: [1])), [3.40760596444438, 6.40760596444438])
    #expect(try values(x.cumsum(dim: 1)) == [1, 3, 6, 4, 9, 15])
  }

  @Test func shapeOps() throws {
    let x = try Tensor.arange(0, 24, dtype: .float32).reshape([2, 3, 4])
    #expect(try x.permute([2, 0, 1]).shape == [4, 2, 3])
    #expect(try x.transpose(0, 2).shape == [4, 3, 2])
    #expect(try x.flatten(start: 1).shape == [2, 12])
    #expect(try x.unsqueeze(dim: 0).squeeze(dim: 0).shape == [2, 3, 4])
    #expect(try values(x.narrow(dim: 2, start: 1, length: 2)[0][0]) == [1, 2])
    #expect(try values(x.slice(dim: 2, start: 0, end: 4, step: 2)[1][2]) == [20, 22])
    #expect(try values(x.select(dim: 1, index: 2)[0]) == [8, 9, 10, 11])
    #expect(try values(x[1][0]) == [12, 13, 14, 15])
    #expect(try values(x.indexSelect(dim: 2, index: Tensor([3, 0] as [Int64]))[0][0]) == [3, 0])
    #expect(try values(Tensor([1, 2] as [Float], shape: [2, 1]).expand([2, 3])) == [1, 1, 1, 2, 2, 2])
    #expect(try values(Tensor([1, 2] as [Float]).repeat([2])) == [1, 2, 1, 2])
    #expect(try values(Tensor([1, 2, 3] as [Float]).flip([0])) == [3, 2, 1])
    let a = try Tensor.ones([2, 2]), b = try Tensor.zeros([1, 2])
    #expect(try Tensor.cat([a, b]).shape == [3, 2])
    #expect(try Tensor.stack([a, a, a], dim: 1).shape == [2, 3, 2])
    let parts = try Tensor.arange(0, 10).chunk(3)
    #expect(parts.map(\.shape) == [[4], [4], [2]])
    #expect(try values(Tensor([1, 2] as [Float]).pad([1, 2], value: 9)) == [9, 1, 2, 9, 9])
    let row = try Tensor([1, 2, 3] as [Float], shape: [1, 1, 3])
    #expect(try values(row.pad([2, 1], mode: .replicate)) == [1, 1, 1, 2, 3, 3])
    #expect(try values(row.pad([1, 1], mode: .reflect)) == [2, 1, 2, 3, 2])
    #expect(try values(Tensor([1, 0] as [Int64]).oneHot(3)) == [0, 1, 0, 1, 0, 0])
    #expect(try values(x.gather(dim: 2, index: Tensor([1] as [Int64], shape: [1, 1, 1]))) == [1])
    #expect(try x.view([6, 4]).shape == [6, 4])
    #expect(try values(Tensor([1, 2, 3, 4] as [Float], shape: [2, 2]).matmul(Tensor([1, 1] as [Float], shape: [2, 1]))) == [3, 7])
  }

  @Test func runtime() throws {
    #expect(Runtime.torchVersion.hasPrefix("2."))
    let saved = Runtime.threadCount
    Runtime.threadCount = 1
    #expect(Runtime.threadCount == 1)
    Runtime.threadCount = saved
    #expect(Runtime.cudaDeviceCount >= 0)
    if !Runtime.cudaIsAvailable {
      #expect(Runtime.cudaDeviceCount == 0)
      #expect(throws: TorchError.self) { try Tensor.zeros([1], device: .cuda) }
    }
    #expect(Device("cuda:1") == .cuda(1) && Device("cpu") == .cpu && Device("tpu") == nil)
    #expect(try Tensor([1, 2] as [Float]).description.contains("2"))
  }
}

final class Counter: @unchecked Sendable {
  private var count = 0
  private let lock = NSLockish()
  func increment() { lock.with { count += 1 } }
  var value: Int { lock.with { count } }
}

/// A minimal lock (Foundation-free).
final class NSLockish: @unchecked Sendable {
  private var m = pthread_mutex_t()
  init() { pthread_mutex_init(&m, nil) }
  deinit { pthread_mutex_destroy(&m) }
  func with<R>(_ body: () -> R) -> R {
    pthread_mutex_lock(&m)
    defer { pthread_mutex_unlock(&m) }
    return body()
  }
}

#if canImport(Glibc)
import Glibc
#endif

@Suite struct ThreadCountTests {
  /// A per-thread intra-op count applies inside the closure only: a pooled thread that ran loader work must
  /// not keep computing single-threaded afterwards (a numerics test once failed that way).
  @Test func perThreadCountIsRestored() {
    let before = Runtime.threadCount
    let inside = Runtime.withThreadCountForThisThread(1) { Runtime.threadCount }
    #expect(inside == 1 && Runtime.threadCount == before)
  }
}
