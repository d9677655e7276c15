// A caching CPU allocator for libtorch (the CPU analogue of PyTorch's CUDA caching allocator).
//
// Why: a training step frees and re-allocates the same large activation and gradient buffers every step.
// With glibc those buffers are mmap'd and munmap'd each time, so every step page-faults its whole working
// set in again: for the U-Net at 128 px, ~1 M page faults and ~2.8 s of kernel time in an ~11 s step.
//
// Blocks of at least kMinCachedBytes are mapped here (smaller ones go to c10's allocator: glibc handles
// them well). A freed block is kept and handed out again to a later request of its size, or of a size it
// exceeds by at most half (the smallest such block); the same shapes recur every step, so most requests
// are served without touching the kernel. Fresh blocks are mapped pre-populated (one kernel call instead
// of a fault per page).
//
// Memory bound: before mapping a fresh block, the oldest cached blocks are unmapped until live + cached
// bytes stay within the peak of live bytes so far plus a sixteenth of it. So the cache adds little to the
// resident working set's peak; it keeps that peak until emptied (pt_cpu_cache_empty) or turned off.
// (Measured on the U-Net's train step, 64 and 128 px: against exact sizes with an eighth of headroom, reuse
// up to 1.5x with a sixteenth misses about a third less often and keeps less resident. See NOTES.md.)
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>
#include <sys/mman.h>

#include <algorithm>
#include <list>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "shim.h"

namespace {

constexpr size_t kMinCachedBytes = size_t(1) << 20;

struct Block {
  void *ptr;
  size_t size;
};

struct BlockCache {
  std::mutex mutex;
  std::list<Block> cached;                                                      // free blocks, oldest first
  std::map<size_t, std::vector<std::list<Block>::iterator>> by_size;  // each size's, oldest first
  std::unordered_map<void *, size_t> owned;  // every block mapped here (live or cached): its size
  size_t cached_bytes = 0, live_bytes = 0, peak_live_bytes = 0;
  bool enabled = false;
  uint64_t hits = 0, misses = 0;
};

// Never destroyed: tensors may be freed during static destruction.
BlockCache &blocks() {
  static BlockCache *cache = new BlockCache;
  return *cache;
}

// Unmaps the oldest cached blocks until `bytes` are freed or none is left; call with the mutex held.
void evict_oldest(BlockCache &c, size_t bytes) {
  size_t freed = 0;
  while (freed < bytes && !c.cached.empty()) {
    Block b = c.cached.front();
    auto same = c.by_size.find(b.size);
    same->second.erase(same->second.begin());  // b is its size's oldest
    if (same->second.empty()) c.by_size.erase(same);
    c.cached.pop_front();
    c.owned.erase(b.ptr);
    c.cached_bytes -= b.size;
    freed += b.size;
    munmap(b.ptr, b.size);
  }
}

void *map_populated(size_t n) {
  return mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
}

// The deleter of the blocks mapped here (and the allocator's raw deleter): back to the cache while it is
// on, otherwise unmapped; a pointer not mapped here came from c10's allocator.
void release(void *p) {
  if (p == nullptr) return;
  auto &c = blocks();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.owned.find(p);
    if (it != c.owned.end()) {
      size_t n = it->second;
      c.live_bytes -= n;
      if (c.enabled) {
        c.by_size[n].push_back(c.cached.insert(c.cached.end(), Block{p, n}));
        c.cached_bytes += n;
      } else {
        c.owned.erase(it);
        munmap(p, n);
      }
      return;
    }
  }
  c10::free_cpu(p);
}

// PRETEXT_POISON_ALLOCATIONS=N (0-255): every block this allocator hands out is first filled with byte N, a check
// for reads of memory nothing wrote (a reused block holds whatever its last tensor left): a run whose results
// change with N has one. A memset per allocation; off unless set. Read once.
int poison_byte() {
  static int b = [] {
    const char *e = getenv("PRETEXT_POISON_ALLOCATIONS");
    return e && *e ? std::clamp(atoi(e), 0, 255) : -1;
  }();
  return b;
}

struct CachingCPUAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) override {
    auto d = allocate_(n);
    if (poison_byte() >= 0 && d.get()) memset(d.get(), poison_byte(), n);
    return d;
  }

 private:
  c10::DataPtr allocate_(size_t n) {
    const c10::Device cpu(c10::DeviceType::CPU);
    if (n < kMinCachedBytes) {
      void *p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, cpu};
    }
    auto &c = blocks();
    std::lock_guard<std::mutex> lock(c.mutex);
    auto it = c.by_size.lower_bound(n);  // the smallest cached size that fits
    if (it != c.by_size.end() && it->first - n <= n / 2) {
      size_t m = it->first;
      auto block = it->second.back();  // the most recently freed: likeliest still in the CPU's caches
      it->second.pop_back();
      if (it->second.empty()) c.by_size.erase(it);
      void *p = block->ptr;
      c.cached.erase(block);
      c.cached_bytes -= m;
      c.hits++;
      take(c, m);
      return {p, p, &release, cpu};
    }
    c.misses++;
    size_t peak = std::max(c.peak_live_bytes, c.live_bytes + n);
    size_t total = c.live_bytes + c.cached_bytes + n, ceiling = peak + peak / 16;
    if (total > ceiling) evict_oldest(c, total - ceiling);
    void *p = map_populated(n);
    if (p == MAP_FAILED) {  // give back everything cached and try once more
      evict_oldest(c, SIZE_MAX);
      p = map_populated(n);
    }
    TORCH_CHECK(p != MAP_FAILED, "CPU out of memory: could not allocate ", n, " bytes");
    c.owned[p] = n;
    take(c, n);
    return {p, p, &release, cpu};
  }

 public:
  c10::DeleterFnPtr raw_deleter() const override { return &release; }
  void copy_data(void *dest, const void *src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

 private:
  static void take(BlockCache &c, size_t n) {
    c.live_bytes += n;
    c.peak_live_bytes = std::max(c.peak_live_bytes, c.live_bytes);
  }
};

CachingCPUAllocator caching_allocator;

}  // namespace

extern "C" {

void pt_cpu_cache_enable(bool enabled) {
  auto &c = blocks();
  {
    std::lock_guard<std::mutex> lock(c.mutex);
    c.enabled = enabled;
    if (!enabled) evict_oldest(c, SIZE_MAX);
  }
  // Every block keeps its own deleter, so switching allocators with tensors alive is safe.
  c10::SetCPUAllocator(enabled ? static_cast<c10::Allocator *>(&caching_allocator) : c10::GetDefaultCPUAllocator(),
                       /*priority=*/1);
}

bool pt_cpu_cache_is_enabled(void) {
  auto &c = blocks();
  std::lock_guard<std::mutex> lock(c.mutex);
  return c.enabled;
}

void pt_cpu_cache_empty(void) {
  auto &c = blocks();
  std::lock_guard<std::mutex> lock(c.mutex);
  evict_oldest(c, SIZE_MAX);
}

void pt_cpu_cache_stats(uint64_t *cached_bytes, uint64_t *live_bytes, uint64_t *hits, uint64_t *misses) {
  auto &c = blocks();
  std::lock_guard<std::mutex> lock(c.mutex);
  *cached_bytes = c.cached_bytes;
  *live_bytes = c.live_bytes;
  *hits = c.hits;
  *misses = c.misses;
}

}  // extern "C"
