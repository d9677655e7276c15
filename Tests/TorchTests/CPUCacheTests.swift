import Foundation
import TestSupport
import Testing

/// The caching CPU allocator, observed by cpu-cache-check in its own process (the cache's counters are
/// process-wide, and other tests allocate large tensors in parallel).
@Suite struct CPUCacheTests {
  @Test func freedBlocksAreReusedWithinTheBoundAndGivenBack() throws {
    let run = try runTool(try builtTool("cpu-cache-check"), [])
    #expect(run.status == 0, "cpu-cache-check said: \(run.output)")
    var seen: [String: String] = [:]
    for line in run.output.split(separator: "\n") {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      if parts.count == 2 { seen[parts[0]] = parts[1] }
    }
    func int(_ key: String) -> Int { Int(seen[key] ?? "") ?? -1 }
    let mib = 1 << 20
    // A large block is mapped once, kept when freed, and served again to the next request of its size.
    #expect(int("first.misses") == 1 && int("first.live") == 4 * mib)
    #expect(int("freed.cached") == 4 * mib)
    #expect(int("again.hits") == 1 && int("again.cached") == 0)
    #expect(seen["again.sum"] == "2097152.0", "a reused block must work like fresh memory")
    #expect(int("small.counted") == 0, "blocks under 1 MiB are not the cache's")
    // A 1.5 MiB request takes the cached 2 MiB block (counted live at its full size).
    #expect(int("near.hits") == 1 && int("near.live") == 2 * mib && seen["near.sum"] == "393216.0")
    // Live + cached stay within the peak of live bytes plus a sixteenth.
    #expect(int("bound.evicted.cached") == 0)
    #expect(int("bound.kept.cached") == 2 * mib)
    // Blocks made and freed on four threads at once: right contents, nothing left live.
    #expect(int("threads.failures") == 0 && int("threads.live") == 0)
    // Emptying gives the memory back to the system.
    #expect(seen["empty.cached.before"] == "true" && int("empty.cached") == 0)
    #expect(int("empty.rss.drop") >= 60 * mib)
    // Off: nothing cached, blocks made under the cache unmapped when freed, libtorch's allocator back.
    #expect(int("off.cached") == 0 && int("off.live") == 0 && int("off.cached.after.free") == 0)
    #expect(int("off.counted") == 0)
  }

  /// PRETEXT_POISON_ALLOCATIONS fills every block the allocator hands out, cached sizes and small ones, with its
  /// byte: what `UninitialisedMemoryTests` relies on to expose reads of memory nothing wrote.
  @Test func poisonedAllocationsHoldTheirByte() throws {
    let run = try runTool(try builtTool("cpu-cache-check"), [], environment: ["PRETEXT_POISON_ALLOCATIONS": "171"])
    #expect(run.status == 0, "cpu-cache-check said: \(run.output)")
    let lines = Set(run.output.split(separator: "\n").map(String.init))
    #expect(lines.contains("poison.large 171") && lines.contains("poison.small 171"), "\(run.output)")
  }
}
