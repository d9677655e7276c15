// A fast 64-bit checksum of raw bytes (checkpoint integrity: flipped or edited bytes are found before a
// checkpoint is trusted). Not a cryptographic hash: it guards against corruption, not forgery.
#include <cstring>

#include "ctorch.h"

namespace {
inline uint64_t mix(uint64_t h, uint64_t w) {
  h ^= w * 0x9E3779B97F4A7C15ull;
  h = (h << 31) | (h >> 33);
  return h * 0xBF58476D1CE4E5B9ull;
}
}  // namespace

extern "C" uint64_t pt_checksum64(const void *data, size_t size, uint64_t seed) {
  const unsigned char *p = static_cast<const unsigned char *>(data);
  // Four independent lanes so the multiply chains overlap; combined at the end with the length.
  uint64_t h[4] = {seed ^ 0x243F6A8885A308D3ull, seed ^ 0x13198A2E03707344ull, seed ^ 0xA4093822299F31D0ull,
                   seed ^ 0x082EFA98EC4E6C89ull};
  size_t i = 0;
  for (; i + 32 <= size; i += 32) {
    uint64_t w[4];
    std::memcpy(w, p + i, 32);
    for (int k = 0; k < 4; k++) h[k] = mix(h[k], w[k]);
  }
  for (; i + 8 <= size; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    h[0] = mix(h[0], w);
  }
  uint64_t tail = 0;
  if (i < size) std::memcpy(&tail, p + i, size - i);
  h[1] = mix(h[1], tail);
  uint64_t r = mix(mix(mix(mix(size, h[0]), h[1]), h[2]), h[3]);
  r ^= r >> 29;
  return r * 0x94D049BB133111EBull ^ (r >> 32);
}
