import CTorch
import Foundation

/// Process-wide libtorch settings.
public enum Runtime {
  /// Seeds every device's default generator (torch.manual_seed).
  public static func manualSeed(_ seed: UInt64) { pt_manual_seed(seed) }

  /// Intra-op threads libtorch uses on the CPU (torch.get/set_num_threads).
  public static var threadCount: Int {
    get { pt_get_num_threads() }
    set { pt_set_num_threads(newValue) }
  }

  /// Runs `body` with `n` intra-op threads for the libtorch ops it starts on the calling thread, then restores
  /// the thread's count (pooled threads go on to run other work): data workers run their per-image ops on one
  /// thread each, so N workers use N cores, not N × N threads. The global count is untouched.
  public static func withThreadCountForThisThread<R>(_ n: Int, _ body: () throws -> R) rethrows -> R {
    let previous = pt_set_num_threads_this_thread(n)
    defer { if previous > 0 { pt_set_num_threads_this_thread(previous) } }
    return try body()
  }

  public static var cudaIsAvailable: Bool { pt_cuda_is_available() }
  /// Whether the CUDA device computes bfloat16 natively (compute capability ≥ 8.0), as torch.cuda.is_bf16_supported.
  public static var cudaSupportsBFloat16: Bool { pt_cuda_supports_bfloat16() }
  public static var cudaDeviceCount: Int { pt_cuda_device_count() }

  public static func cudaSynchronize(_ device: Int = 0) throws {
    try check(pt_cuda_synchronize(Int32(device)), "cudaSynchronize")
  }

  /// Turns libtorch's caching CPU allocator on or off: freed blocks of 1 MiB or more are kept and handed out
  /// again to requests of their size or up to a third smaller (the CPU analogue of PyTorch's CUDA caching
  /// allocator), holding at most a sixteenth above the peak of memory in use, until emptied or turned off.
  /// A training loop frees and re-allocates the same activation buffers every step; without the cache each
  /// step page-faults its working set in again (for the U-Net at 128 px, ~2.8 s of kernel time in an ~11 s
  /// step). Off frees the cached blocks. The `pretext` tool turns it on.
  public static var cachesCPUMemory: Bool {
    get { pt_cpu_cache_is_enabled() }
    set { pt_cpu_cache_enable(newValue) }
  }

  /// Turns the CPU cache on unless the environment says PRETEXT_CPU_CACHE=0: what the `pretext` tool and
  /// the benchmarks do at start.
  public static func cacheCPUMemoryUnlessDisabled() {
    cachesCPUMemory = ProcessInfo.processInfo.environment["PRETEXT_CPU_CACHE"] != "0"
  }

  /// Frees the cached CPU blocks (torch.cuda.empty_cache for the CPU cache); the cache stays on.
  public static func emptyCPUMemoryCache() { pt_cpu_cache_empty() }

  /// Bytes of the blocks the CPU cache manages that are free (cached) and in use (live), and how many large
  /// allocations it served from cached blocks (hits) or by mapping fresh memory (misses), since the start.
  public static var cpuMemoryCacheStats: (cachedBytes: UInt64, liveBytes: UInt64, hits: UInt64, misses: UInt64) {
    var cached: UInt64 = 0, live: UInt64 = 0, hits: UInt64 = 0, misses: UInt64 = 0
    pt_cpu_cache_stats(&cached, &live, &hits, &misses)
    return (cached, live, hits, misses)
  }

  /// The CPU's instruction-set features libtorch detects (its cpuinfo: "avx2", "avx512_bf16", "amx_tile", …).
  public static var cpuCapabilities: Set<String> {
    Set(String(cString: pt_cpu_capabilities()).split(separator: " ").map(String.init))
  }

  /// Whether this CPU has bfloat16 instructions (AVX512-BF16 or AMX; Arm's BF16 extension); without them libtorch
  /// emulates bfloat16, slower than float32. Having them is not enough to be faster: see `cpuBFloat16Speedup`.
  public static var cpuHasNativeBFloat16: Bool {
    !cpuCapabilities.isDisjoint(with: ["avx512_bf16", "amx_bf16", "amx_tile", "bf16", "sve_bf16"])
  }

  /// bfloat16's GEMM rate over float32's on this CPU, through libtorch (the best of 3 1024³ products each, after
  /// a warm-up; measured once per process, on the calling thread's libtorch threads, ~0.1 s). The instructions
  /// alone do not decide it: with AMX oneDNN ran bfloat16 2.1× float32 here, with AVX512-BF16 but AMX hidden by
  /// the hypervisor 0.6× (NOTES.md, "bfloat16").
  public static func cpuBFloat16Speedup() throws -> Double { try measuredBFloat16Speedup.get() }

  private static let measuredBFloat16Speedup = Result<Double, Error> {
    try bestMatmulSeconds(1024, dtype: .float32, repeats: 3) / Swift.max(bestMatmulSeconds(1024, dtype: .bfloat16, repeats: 3), 1e-9)
  }

  /// The fastest of `repeats` n × n × n products in `dtype` on this thread's libtorch threads, in seconds, after
  /// one untimed warm-up (the GEMM rate: 2n³ / this).
  public static func bestMatmulSeconds(_ n: Int, dtype: DType, repeats: Int) throws -> Double {
    let x = try Tensor.rand([n, n]).to(dtype: dtype), y = try Tensor.rand([n, n]).to(dtype: dtype)
    _ = try x.matmul(y)
    return try (0..<Swift.max(repeats, 1)).map { _ in
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try x.matmul(y)
      return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }.min()!
  }

  /// The libtorch version this binary runs on ("2.13.0").
  public static var torchVersion: String { String(cString: pt_version()) }
}

/// Tensor handles made and not yet released, process-wide (for leak checks).
public var liveTensorHandles: Int { pt_live_handles() }

/// A random number generator (torch.Generator). Pass one to random creation ops for reproducible draws.
public final class Generator: @unchecked Sendable {
  let handle: pt_generator

  public init(seed: UInt64, device: Device = .cpu) throws {
    guard let h = pt_generator_new(seed, device.typeCode, device.index) else {
      throw TorchError.last("Generator(seed:)")
    }
    handle = h
  }

  private init(handle: pt_generator) { self.handle = handle }

  /// The device's default generator (the one `Runtime.manualSeed` seeds and nil-generator ops draw from).
  public static func defaultGenerator(_ device: Device = .cpu) throws -> Generator {
    guard let h = pt_generator_default(device.typeCode, device.index) else {
      throw TorchError.last("Generator.defaultGenerator")
    }
    return Generator(handle: h)
  }

  deinit { pt_generator_free(handle) }

  public var initialSeed: UInt64 { pt_generator_seed(handle) }

  public func manualSeed(_ seed: UInt64) throws { try check(pt_generator_set_seed(handle, seed), "manualSeed") }

  /// The full generator state (a uint8 tensor), for checkpoints.
  public func state() throws -> Tensor { try .wrap(pt_generator_get_state(handle), "Generator.state") }

  public func setState(_ state: Tensor) throws {
    try check(pt_generator_set_state(handle, state.handle), "Generator.setState")
  }
}
