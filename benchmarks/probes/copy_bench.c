// What copying one inpainting item's 115 KB of bytes into a batch costs: memcpy into rows of a warm 3.7 MB batch
// (32 items, stays in the caches) and of a cold 29 MB rotation (8 batches, as several batches in flight leave it),
// and SSE2 non-temporal stores into the cold one (what the loader's copy was tried with, and dropped: NOTES).
//   cc -O2 -o /tmp/copy_bench benchmarks/probes/copy_bench.c && /tmp/copy_bench
#include <emmintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }

static void stream(char *d, const char *s, size_t n) {  // n a multiple of 64, d 16-aligned
  for (size_t i = 0; i < n; i += 16) _mm_stream_si128((__m128i *)(d + i), _mm_loadu_si128((const __m128i *)(s + i)));
  _mm_sfence();
}

int main(void) {
  const size_t item = 49152 * 2 + 16384, reps = 20000;  // image + target (128² × 3) + mask (128²)
  char *src = malloc(item);
  memset(src, 1, item);
  for (int cold = 0; cold < 2; cold++) {
    const size_t rows = cold ? 32 * 8 : 32;
    char *dst = aligned_alloc(64, item * rows);
    memset(dst, 0, item * rows);
    double t = now();
    for (size_t r = 0; r < reps; r++) memcpy(dst + (r % rows) * item, src, item);
    printf("memcpy into a %s %.1f MB batch buffer: %.2f us per item\n", cold ? "cold" : "warm", item * rows / 1e6, (now() - t) / reps * 1e6);
    if (cold) {
      t = now();
      for (size_t r = 0; r < reps; r++) stream(dst + (r % rows) * item, src, item);
      printf("non-temporal stores into the cold buffer: %.2f us per item\n", (now() - t) / reps * 1e6);
    }
    free(dst);
  }
  return 0;
}
