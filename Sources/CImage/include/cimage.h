// CImage: JPEG (libjpeg-turbo) and PNG (libpng) decoding and encoding to/from 8-bit RGB, for Swift.
// Every function that can fail returns NULL and writes a message into `err` (size `errlen`); every buffer
// returned is malloc'd and freed with free().
#ifndef CIMAGE_H
#define CIMAGE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Decodes a JPEG into malloc'd 8-bit RGB (HWC, free with free()). When min_side > 0, libjpeg-turbo's
// DCT-domain scaling picks the smallest scaled size whose shorter side is still >= min_side. Grayscale
// becomes RGB; CMYK/YCCK (Adobe, inverted) becomes RGB. `source_w`/`source_h` get the stored size. An image
// whose decoded size exceeds `max_pixels` (or with a zero or absurd stored size) is refused.
uint8_t *ci_decode_jpeg(const uint8_t *data, size_t size, int min_side, long max_pixels, int *width, int *height,
                        int *source_w, int *source_h, char *err, size_t errlen);

// Decodes a PNG (1–16 bit; gray, gray+alpha, RGB, RGBA, palette) into malloc'd 8-bit RGB: 16-bit samples keep
// their high byte, alpha (and tRNS transparency) is dropped (as PIL's convert("RGB")), gray is replicated.
// More than `max_pixels` pixels is refused before any pixel buffer is allocated.
uint8_t *ci_decode_png(const uint8_t *data, size_t size, long max_pixels, int *width, int *height, char *err,
                       size_t errlen);

// Encodes 8-bit pixels (channels 1, 3 or 4; or 16-bit big-endian samples when bit_depth is 16) as PNG into a
// malloc'd buffer.
uint8_t *ci_encode_png(const uint8_t *pixels, int width, int height, int channels, int bit_depth, size_t *out_size,
                       char *err, size_t errlen);

// Encodes a palette PNG: one index byte per pixel into `palette` (n_colors RGB triples, at most 256); `alpha`
// (n_alpha values, or NULL) becomes a tRNS chunk: the first n_alpha palette entries' transparency.
uint8_t *ci_encode_png_palette(const uint8_t *indices, int width, int height, const uint8_t *palette, int n_colors,
                               const uint8_t *alpha, int n_alpha, size_t *out_size, char *err, size_t errlen);

// Encodes 8-bit pixels as JPEG (channels 1 gray, 3 RGB, 4 CMYK) at `quality`, into a malloc'd buffer.
uint8_t *ci_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality, size_t *out_size,
                        char *err, size_t errlen);

// Colour jitter in place on `count` RGB pixels: brightness, contrast, saturation factors (1: unchanged) and a
// hue shift (a fraction of a turn, 0: unchanged), applied in `order` (a permutation of 0–3, as torchvision's
// ColorJitter draws it), in float, rounded back to 8 bits.
void ci_color_jitter(uint8_t *pixels, size_t count, float brightness, float contrast, float saturation, float hue,
                     const int order[4]);

// dst[i] = src[i] / 255 as floats (a batch's samples in [0, 1]).
void ci_bytes_to_unit_floats(const uint8_t *src, float *dst, size_t n);

// Separable Gaussian blur in place (kernel 2·radius+1, reflected borders).
void ci_gaussian_blur(uint8_t *pixels, int width, int height, float sigma, int radius);

// In place: ITU-R 601 luma ((299 r + 587 g + 114 b + 500) / 1000, as PIL's convert("L")) on all 3 channels.
void ci_grayscale(uint8_t *pixels, size_t count);

// In place: every byte ≥ threshold becomes 255 − byte (torchvision's solarize).
void ci_solarize(uint8_t *pixels, size_t bytes, uint8_t threshold);

// `src` (width × height RGB) turned k × 90° counter-clockwise into `dst` (height × width for odd k).
void ci_rotate90(const uint8_t *src, uint8_t *dst, int width, int height, int k);

#ifdef __cplusplus
}
#endif

#endif
