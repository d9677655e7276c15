// Exercises the caching CPU allocator (Runtime.cachesCPUMemory) and prints one `name value` line per
// observation (also under PRETEXT_POISON_ALLOCATIONS, what fresh blocks hold); the test CPUCacheTests asserts on them. Its own process, so that no other test's
// allocations land in the cache's counters.
import Foundation
import Torch

func residentBytes() -> Int {
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8),
    let pages = text.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
  else { return -1 }
  return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}

func report(_ name: String, _ value: CustomStringConvertible) { print(name, value) }
let mib = 1 << 20
func floats(_ bytes: Int) -> [Int] { [bytes / 4] }

do {
  let early = try Tensor.ones(floats(4 * mib))  // made by libtorch's own allocator, freed under the cache
  Runtime.cachesCPUMemory = true
  // What an uninitialised block holds: under PRETEXT_POISON_ALLOCATIONS=N every block, large or small, is N's bytes.
  do {
    let fresh = (try Tensor.empty([2 * mib], dtype: .uint8), try Tensor.empty([1000], dtype: .uint8))
    report("poison.large", try fresh.0.toArray(of: UInt8.self).max()!)
    report("poison.small", try fresh.1.toArray(of: UInt8.self).min()!)
  }
  Runtime.emptyCPUMemoryCache()  // the observations below start from an empty cache
  var s = Runtime.cpuMemoryCacheStats

  // A freed block is handed out again to the next request of its size, and works as fresh memory.
  var a: Tensor? = try Tensor.ones(floats(4 * mib))
  report("first.misses", Runtime.cpuMemoryCacheStats.misses - s.misses)
  report("first.live", Runtime.cpuMemoryCacheStats.liveBytes)
  a = nil
  _ = a
  report("freed.cached", Runtime.cpuMemoryCacheStats.cachedBytes)
  s = Runtime.cpuMemoryCacheStats
  var b: Tensor? = try Tensor.zeros(floats(4 * mib))
  try b!.fill_(2)
  report("again.hits", Runtime.cpuMemoryCacheStats.hits - s.hits)
  report("again.cached", Runtime.cpuMemoryCacheStats.cachedBytes)
  report("again.sum", try b!.sum().item(Double.self))

  // Small blocks are not the cache's.
  s = Runtime.cpuMemoryCacheStats
  for _ in 0..<100 { _ = try Tensor.ones([1000]) + 1 }
  report("small.counted", Runtime.cpuMemoryCacheStats.hits + Runtime.cpuMemoryCacheStats.misses - s.hits - s.misses)

  // A request up to a third smaller than a cached block gets that block.
  b = nil
  var c: Tensor? = try Tensor.ones(floats(2 * mib))  // 4 MiB cached, but 2 MiB is too small for it
  report("bound.evicted.cached", Runtime.cpuMemoryCacheStats.cachedBytes)
  c = nil
  s = Runtime.cpuMemoryCacheStats
  var d: Tensor? = try Tensor.ones(floats(3 * mib / 2))
  report("near.hits", Runtime.cpuMemoryCacheStats.hits - s.hits)
  report("near.live", Runtime.cpuMemoryCacheStats.liveBytes)
  report("near.sum", try d!.sum().item(Double.self))
  d = nil
  // The bound: the peak of live bytes is 4 MiB, so 4 MiB cached + a fresh 2 MiB (6 > 4.25 MiB) evicted
  // the cached block first (above), while 2 MiB cached + a fresh 1 MiB (3 MiB) keeps it.
  var e: Tensor? = try Tensor.ones(floats(1 * mib))
  report("bound.kept.cached", Runtime.cpuMemoryCacheStats.cachedBytes)
  e = nil
  _ = (c, d, e)

  // Freed from other threads at once (loader workers drop their batches), sizes mixed, contents checked.
  let sizes = [1 * mib, 3 * mib / 2, 2 * mib, 4 * mib]
  let failures = LockedCounter()
  DispatchQueue.concurrentPerform(iterations: 4) { worker in
    for i in 0..<300 {
      let n = sizes[(i + worker) % sizes.count] / 4
      guard let t = try? Tensor.zeros([n]), (try? t.fill_(.float(Double(worker)))) != nil,
        let total = try? t.sum().item(Double.self), total == Double(worker * n)
      else { failures.add(); continue }
    }
  }
  report("threads.failures", failures.value)
  report("threads.live", Runtime.cpuMemoryCacheStats.liveBytes)

  // Emptying the cache gives its memory back to the system.
  var big: Tensor? = try Tensor.ones(floats(64 * mib))
  big = nil
  _ = big
  let held = residentBytes()
  report("empty.cached.before", Runtime.cpuMemoryCacheStats.cachedBytes >= UInt64(64 * mib))
  Runtime.emptyCPUMemoryCache()
  report("empty.cached", Runtime.cpuMemoryCacheStats.cachedBytes)
  report("empty.rss.drop", held - residentBytes())

  // Off: blocks made under the cache are unmapped when freed, and libtorch's allocator is back.
  var late: Tensor? = try Tensor.ones(floats(2 * mib))
  Runtime.cachesCPUMemory = false
  report("off.cached", Runtime.cpuMemoryCacheStats.cachedBytes)
  late = nil
  _ = late
  report("off.live", Runtime.cpuMemoryCacheStats.liveBytes)
  report("off.cached.after.free", Runtime.cpuMemoryCacheStats.cachedBytes)
  s = Runtime.cpuMemoryCacheStats
  _ = try Tensor.ones(floats(2 * mib))
  report("off.counted", Runtime.cpuMemoryCacheStats.hits + Runtime.cpuMemoryCacheStats.misses - s.hits - s.misses)
  _ = early
} catch {
  print("error: \(error)")
  exit(1)
}

/// A counter several threads add to.
final class LockedCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var count = 0
  func add() { lock.lock(); count += 1; lock.unlock() }
  var value: Int { lock.lock(); defer { lock.unlock() }; return count }
}
