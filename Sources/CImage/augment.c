// Colour and blur augmentations on 8- or 16-bit, 1- or 3-channel HWC images in place, in C so they are fast in
// debug builds too. 16-bit samples are worked on the 0–255 scale (÷ 257), so one arithmetic serves both.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cimage.h"

static inline float clamp255(float v) { return v < 0 ? 0 : v > 255 ? 255 : v; }
static inline float luma(const float *p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

// Sample i on the 0–255 scale, and a 0–255 value stored back rounded.
static inline float sample_at(const void *px, size_t i, int wide) {
  return wide ? (float)((const uint16_t *)px)[i] / 257.0f : (float)((const uint8_t *)px)[i];
}
static inline void store_at(void *px, size_t i, int wide, float v) {
  if (wide) ((uint16_t *)px)[i] = (uint16_t)lrintf(clamp255(v) * 257.0f);
  else ((uint8_t *)px)[i] = (uint8_t)lrintf(clamp255(v));
}

// RGB → HSV → RGB with the hue turned by `shift` (a fraction of a full turn), as torchvision's adjust_hue.
// (x − floor(x) is fmodf(x, 1) for the positive x here, and (g − b) / d is within ±1, so fmodf(·, 6) left it
// as it was: both dropped, the same floats.)
static inline void shift_hue(float *p, float shift) {
  float r = p[0] / 255, g = p[1] / 255, b = p[2] / 255;
  float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
  float h = 0, s = mx > 0 ? d / mx : 0, v = mx;
  if (d > 0) {
    if (mx == r) h = (g - b) / d;
    else if (mx == g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
    h /= 6;
  }
  h = h + shift + 1;
  h -= floorf(h);
  float hh = h * 6, fl = floorf(hh), f = hh - fl;
  float pp = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  switch ((int)fl % 6) {
  case 0: p[0] = v * 255, p[1] = t * 255, p[2] = pp * 255; break;
  case 1: p[0] = q * 255, p[1] = v * 255, p[2] = pp * 255; break;
  case 2: p[0] = pp * 255, p[1] = v * 255, p[2] = t * 255; break;
  case 3: p[0] = pp * 255, p[1] = q * 255, p[2] = v * 255; break;
  case 4: p[0] = t * 255, p[1] = pp * 255, p[2] = v * 255; break;
  default: p[0] = v * 255, p[1] = pp * 255, p[2] = q * 255; break;
  }
}

void ci_color_jitter(void *pixels, size_t count, int channels, int wide, float brightness, float contrast,
                     float saturation, float hue, const int order[4]) {
  const size_t n = count * (size_t)channels;
  float *f = malloc(n * sizeof(float));
  if (!f) return;
  for (size_t i = 0; i < n; i++) f[i] = sample_at(pixels, i, wide);
  for (int k = 0; k < 4; k++) {
    switch (order[k]) {
    case 0:  // brightness: blend with black
      for (size_t i = 0; i < n; i++) f[i] = clamp255(f[i] * brightness);
      break;
    case 1: {  // contrast: blend with the mean luma
      double m = 0;
      for (size_t i = 0; i < count; i++) m += channels == 3 ? luma(f + 3 * i) : f[i];
      float mean = (float)(m / (double)(count ? count : 1));
      for (size_t i = 0; i < n; i++) f[i] = clamp255(mean + contrast * (f[i] - mean));
      break;
    }
    case 2:  // saturation: blend with the pixel's luma (gray has none to change)
      if (channels == 3)
        for (size_t i = 0; i < count; i++) {
          float l = luma(f + 3 * i);
          for (int c = 0; c < 3; c++) f[3 * i + c] = clamp255(l + saturation * (f[3 * i + c] - l));
        }
      break;
    case 3:
      if (hue != 0 && channels == 3)
        for (size_t i = 0; i < count; i++) shift_hue(f + 3 * i, hue);
      break;
    }
  }
  for (size_t i = 0; i < n; i++) store_at(pixels, i, wide, f[i]);
  free(f);
}

void ci_gaussian_blur(void *pixels, int width, int height, int channels, int wide, float sigma, int radius) {
  if (radius < 1 || sigma <= 0) return;
  const int ch = channels;
  const size_t rw = (size_t)width * ch;
  float *k = malloc((size_t)(2 * radius + 1) * sizeof(float));
  float *tmp = malloc(rw * height * sizeof(float));
  float *row = malloc(((size_t)width + 2 * radius) * ch * sizeof(float));
  float *acc = malloc(rw * sizeof(float));
  if (!k || !tmp || !row || !acc) {
    free(k), free(tmp), free(row), free(acc);
    return;
  }
  float sum = 0;
  for (int i = -radius; i <= radius; i++) sum += k[i + radius] = expf(-(float)(i * i) / (2 * sigma * sigma));
  for (int i = 0; i <= 2 * radius; i++) k[i] /= sum;
  // Reflect at the borders (torchvision pads with reflection), clamped for kernels wider than the image.
#define REFLECT(v, n) ((v) < 0 ? -(v) : (v) >= (n) ? 2 * (n) - 2 - (v) : (v))
#define CLAMP(v, n) ((v) < 0 ? 0 : (v) >= (n) ? (n) - 1 : (v))
  // Each pass sums the taps in the same order as a per-pixel loop would (the same floats), but over whole
  // contiguous rows, which the compiler vectorises: horizontal on a reflect-padded copy of the row, vertical
  // over reflected row pointers.
  for (int y = 0; y < height; y++) {
    const size_t src = (size_t)y * rw;
    for (int x = -radius; x < width + radius; x++) {
      int xx = REFLECT(x, width);
      xx = CLAMP(xx, width);
      for (int c = 0; c < ch; c++) row[ch * (size_t)(x + radius) + c] = sample_at(pixels, src + ch * (size_t)xx + c, wide);
    }
    float *dst = tmp + (size_t)y * rw;
    for (size_t j = 0; j < rw; j++) dst[j] = 0;
    for (int i = 0; i <= 2 * radius; i++) {
      const float ki = k[i], *s = row + ch * (size_t)i;
      for (size_t j = 0; j < rw; j++) dst[j] += ki * s[j];
    }
  }
  for (int y = 0; y < height; y++) {
    for (size_t j = 0; j < rw; j++) acc[j] = 0;
    for (int i = -radius; i <= radius; i++) {
      int yy = REFLECT(y + i, height);
      yy = CLAMP(yy, height);
      const float ki = k[i + radius], *s = tmp + (size_t)yy * rw;
      for (size_t j = 0; j < rw; j++) acc[j] += ki * s[j];
    }
    const size_t out = (size_t)y * rw;
    for (size_t j = 0; j < rw; j++) store_at(pixels, out + j, wide, acc[j]);
  }
#undef REFLECT
#undef CLAMP
  free(k), free(tmp), free(row), free(acc);
}

void ci_bytes_to_unit_floats(const uint8_t *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] / 255.0f;  // vectorised; bit for bit Float(x) / 255
}

void ci_u16_to_unit_floats(const uint16_t *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] / 65535.0f;
}

void ci_u16_to_floats(const uint16_t *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (float)src[i];
}

void ci_floats_to_u16(const float *src, uint16_t *dst, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float v = src[i] < 0 ? 0 : src[i] > 65535 ? 65535 : src[i];
    dst[i] = (uint16_t)lrintf(v);
  }
}

void ci_grayscale(void *pixels, size_t count, int wide) {
  if (wide) {
    for (size_t i = 0; i < count; i++) {
      uint16_t *p = (uint16_t *)pixels + 3 * i;
      const uint16_t l = (uint16_t)(((uint32_t)p[0] * 299 + (uint32_t)p[1] * 587 + (uint32_t)p[2] * 114 + 500) / 1000);
      p[0] = p[1] = p[2] = l;
    }
    return;
  }
  for (size_t i = 0; i < count; i++) {
    uint8_t *p = (uint8_t *)pixels + 3 * i;
    const uint8_t l = (uint8_t)((p[0] * 299 + p[1] * 587 + p[2] * 114 + 500) / 1000);
    p[0] = p[1] = p[2] = l;
  }
}

void ci_solarize(void *pixels, size_t samples, int wide, uint8_t threshold) {
  if (wide) {
    uint16_t *p = pixels;
    const uint32_t t = (uint32_t)threshold * 257;
    for (size_t i = 0; i < samples; i++)
      if (p[i] >= t) p[i] = (uint16_t)(65535 - p[i]);
    return;
  }
  uint8_t *p = pixels;
  for (size_t i = 0; i < samples; i++)
    if (p[i] >= threshold) p[i] = (uint8_t)(255 - p[i]);
}

void ci_rotate90(const uint8_t *src, uint8_t *dst, int width, int height, int pixel_bytes, int k) {
  const int w = width, h = height, ow = (k == 2) ? w : h;
  const size_t pb = (size_t)pixel_bytes;
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      // Counter-clockwise: (x, y) → k=1: (y, w-1-x); k=2: (w-1-x, h-1-y); k=3: (h-1-y, x).
      const int nx = k == 1 ? y : k == 2 ? w - 1 - x : h - 1 - y;
      const int ny = k == 1 ? w - 1 - x : k == 2 ? h - 1 - y : x;
      memcpy(dst + pb * ((size_t)ny * ow + nx), src + pb * ((size_t)y * w + x), pb);
    }
}
