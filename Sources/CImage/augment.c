// Colour and blur augmentations on 8-bit RGB (HWC) in place, in C so they are fast in debug builds too.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cimage.h"

static inline float clamp255(float v) { return v < 0 ? 0 : v > 255 ? 255 : v; }
static inline float luma(const float *p) { return 0.299f * p[0] + 0.587f * p[1] + 0.114f * p[2]; }

// RGB → HSV → RGB with the hue turned by `shift` (a fraction of a full turn), as torchvision's adjust_hue.
static void shift_hue(float *p, float shift) {
  float r = p[0] / 255, g = p[1] / 255, b = p[2] / 255;
  float mx = fmaxf(r, fmaxf(g, b)), mn = fminf(r, fminf(g, b)), d = mx - mn;
  float h = 0, s = mx > 0 ? d / mx : 0, v = mx;
  if (d > 0) {
    if (mx == r) h = fmodf((g - b) / d, 6);
    else if (mx == g) h = (b - r) / d + 2;
    else h = (r - g) / d + 4;
    h /= 6;
  }
  h = fmodf(h + shift + 1, 1);
  float hh = h * 6, f = hh - floorf(hh);
  float pp = v * (1 - s), q = v * (1 - s * f), t = v * (1 - s * (1 - f));
  int i = (int)floorf(hh) % 6;
  float rgb[6][3] = {{v, t, pp}, {q, v, pp}, {pp, v, t}, {pp, q, v}, {t, pp, v}, {v, pp, q}};
  for (int c = 0; c < 3; c++) p[c] = rgb[i][c] * 255;
}

void ci_color_jitter(uint8_t *pixels, size_t count, float brightness, float contrast, float saturation, float hue,
                     const int order[4]) {
  float *f = malloc(count * 3 * sizeof(float));
  if (!f) return;
  for (size_t i = 0; i < count * 3; i++) f[i] = pixels[i];
  for (int k = 0; k < 4; k++) {
    switch (order[k]) {
    case 0:  // brightness: blend with black
      for (size_t i = 0; i < count * 3; i++) f[i] = clamp255(f[i] * brightness);
      break;
    case 1: {  // contrast: blend with the mean luma
      double m = 0;
      for (size_t i = 0; i < count; i++) m += luma(f + 3 * i);
      float mean = (float)(m / (double)(count ? count : 1));
      for (size_t i = 0; i < count * 3; i++) f[i] = clamp255(mean + contrast * (f[i] - mean));
      break;
    }
    case 2:  // saturation: blend with the pixel's luma
      for (size_t i = 0; i < count; i++) {
        float l = luma(f + 3 * i);
        for (int c = 0; c < 3; c++) f[3 * i + c] = clamp255(l + saturation * (f[3 * i + c] - l));
      }
      break;
    case 3:
      if (hue != 0)
        for (size_t i = 0; i < count; i++) shift_hue(f + 3 * i, hue);
      break;
    }
  }
  for (size_t i = 0; i < count * 3; i++) pixels[i] = (uint8_t)lrintf(clamp255(f[i]));
  free(f);
}

void ci_gaussian_blur(uint8_t *pixels, int width, int height, float sigma, int radius) {
  if (radius < 1 || sigma <= 0) return;
  float *k = malloc((size_t)(2 * radius + 1) * sizeof(float));
  float *tmp = malloc((size_t)width * height * 3 * sizeof(float));
  if (!k || !tmp) {
    free(k);
    free(tmp);
    return;
  }
  float sum = 0;
  for (int i = -radius; i <= radius; i++) sum += k[i + radius] = expf(-(float)(i * i) / (2 * sigma * sigma));
  for (int i = 0; i <= 2 * radius; i++) k[i] /= sum;
  // Reflect at the borders (torchvision pads with reflection).
#define REFLECT(v, n) ((v) < 0 ? -(v) : (v) >= (n) ? 2 * (n) - 2 - (v) : (v))
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      for (int c = 0; c < 3; c++) {
        float a = 0;
        for (int i = -radius; i <= radius; i++) {
          int xx = REFLECT(x + i, width);
          xx = xx < 0 ? 0 : xx >= width ? width - 1 : xx;
          a += k[i + radius] * pixels[3 * ((size_t)y * width + xx) + c];
        }
        tmp[3 * ((size_t)y * width + x) + c] = a;
      }
  for (int y = 0; y < height; y++)
    for (int x = 0; x < width; x++)
      for (int c = 0; c < 3; c++) {
        float a = 0;
        for (int i = -radius; i <= radius; i++) {
          int yy = REFLECT(y + i, height);
          yy = yy < 0 ? 0 : yy >= height ? height - 1 : yy;
          a += k[i + radius] * tmp[3 * ((size_t)yy * width + x) + c];
        }
        pixels[3 * ((size_t)y * width + x) + c] = (uint8_t)lrintf(clamp255(a));
      }
#undef REFLECT
  free(k);
  free(tmp);
}

void ci_bytes_to_unit_floats(const uint8_t *src, float *dst, size_t n) {
  for (size_t i = 0; i < n; i++) dst[i] = (float)src[i] / 255.0f;  // vectorised; bit for bit Float(x) / 255
}
