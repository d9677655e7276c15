// The loader's uint8 -> float conversion (ci_bytes_to_unit_floats), one inpainting item's worth (458 KB of floats:
// image, target, mask at 128 px), on a warm buffer: the SSE loop SwiftPM builds against an AVX2/AVX-512 clone; and
// whether multiplying by 1/255 could replace the division bit for bit (it cannot: PyTorch parity).
//   /opt/swift/usr/bin/clang -O2 -o /tmp/unit_floats benchmarks/probes/unit_floats.c && /tmp/unit_floats
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
__attribute__((noinline)) static void sse(const uint8_t *s, float *d, size_t n) { for (size_t i = 0; i < n; i++) d[i] = (float)s[i] / 255.0f; }
__attribute__((target_clones("avx512f", "avx2", "default"))) void wide(const uint8_t *s, float *d, size_t n) {
  for (size_t i = 0; i < n; i++) d[i] = (float)s[i] / 255.0f;
}

int main(void) {
  const size_t n = 128 * 128 * 7;
  uint8_t *s = malloc(n); float *d = malloc(n * 4), *ref = malloc(n * 4);
  for (size_t i = 0; i < n; i++) s[i] = (uint8_t)rand();
  sse(s, ref, n);
  void (*f[2])(const uint8_t *, float *, size_t) = {sse, wide};
  const char *name[2] = {"sse (baseline x86-64)", "avx2/avx-512 clone"};
  for (int k = 0; k < 2; k++) {
    double best = 1e9;
    for (int r = 0; r < 200; r++) { double t = now(); f[k](s, d, n); t = now() - t; if (t < best) best = t; }
    printf("%s: %.1f us per item (best of 200), same bytes: %d\n", name[k], best * 1e6, memcmp(d, ref, n * 4) == 0);
  }
  int differ = 0;
  for (int x = 0; x < 256; x++) differ += (float)x / 255.0f != (float)x * (1.0f / 255.0f);
  printf("x * (1/255) differs from x / 255 for %d of 256 values\n", differ);
  return 0;
}
