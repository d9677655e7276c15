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

// Decoders return malloc'd HWC samples (free with free()) with the image as stored: 1 channel (gray) or 3
// (RGB), 8 bits, or 16 bits as native-endian uint16 (PNG, TIFF). Alpha is dropped (as PIL's convert("RGB")).
// More than `max_pixels` pixels is refused before any pixel buffer is allocated.

// JPEG: when min_side > 0, libjpeg-turbo's DCT-domain scaling picks the smallest scaled size whose shorter side
// is still >= min_side. Gray stays gray; CMYK/YCCK (Adobe, inverted) becomes RGB. `source_w`/`source_h` get
// the stored size. An image with a zero or absurd stored size is refused.
uint8_t *ci_decode_jpeg(const uint8_t *data, size_t size, int min_side, long max_pixels, int *width, int *height,
                        int *source_w, int *source_h, int *channels, char *err, size_t errlen);

// PNG: 1–16 bit; gray, gray+alpha, RGB, RGBA, palette (→ RGB); 1–4-bit gray expanded to 8 bits; tRNS dropped.
uint8_t *ci_decode_png(const uint8_t *data, size_t size, long max_pixels, int *width, int *height, int *channels,
                       int *bit_depth, char *err, size_t errlen);

// TIFF (libtiff): 8/16-bit gray (MINISWHITE inverted) or RGB, strips or tiles, contiguous or planar, any codec
// libtiff has; palette, YCbCr, CMYK and 1–4-bit images through libtiff's RGBA reader (8 bits). Several pages,
// floating-point or wider-than-16-bit samples are refused.
uint8_t *ci_decode_tiff(const uint8_t *data, size_t size, long max_pixels, int *width, int *height, int *channels,
                        int *bit_depth, char *err, size_t errlen);

// Encodes a TIFF (for tests): channels 1, 3 or 4 (alpha), 8 or 16 bits (native-endian samples); compression 0
// none, 1 LZW, 2 deflate; tile_side > 0 writes tiles; planar_separate writes one plane per channel;
// min_is_white writes gray as MINISWHITE (the samples given are stored as they are).
uint8_t *ci_encode_tiff(const uint8_t *pixels, int width, int height, int channels, int bit_depth, int compression,
                        int tile_side, int planar_separate, int min_is_white, size_t *out_size, char *err, size_t errlen);

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

// The augmentations below work in place on HWC images of `channels` (1 or 3) samples per pixel, 8-bit
// (`wide` 0) or 16-bit native-endian (`wide` 1); 16-bit samples are computed on the same 0–255 scale (÷ 257).

// Colour jitter on `count` pixels: brightness, contrast, saturation factors (1: unchanged) and a hue shift (a
// fraction of a turn, 0: unchanged), applied in `order` (a permutation of 0–3, as torchvision's ColorJitter
// draws it), in float, rounded back. On one channel, saturation and hue change nothing (as torchvision).
void ci_color_jitter(void *pixels, size_t count, int channels, int wide, float brightness, float contrast,
                     float saturation, float hue, const int order[4]);

// dst[i] = src[i] / 255 as floats (a batch's samples in [0, 1]).
void ci_bytes_to_unit_floats(const uint8_t *src, float *dst, size_t n);
// dst[i] = src[i] / 65535 (16-bit samples).
void ci_u16_to_unit_floats(const uint16_t *src, float *dst, size_t n);
// 16-bit samples as floats, and back (rounded, clamped to 0…65535): the resize's way through libtorch.
void ci_u16_to_floats(const uint16_t *src, float *dst, size_t n);
void ci_floats_to_u16(const float *src, uint16_t *dst, size_t n);

// Separable Gaussian blur (kernel 2·radius+1, reflected borders).
void ci_gaussian_blur(void *pixels, int width, int height, int channels, int wide, float sigma, int radius);

// 3-channel images: ITU-R 601 luma ((299 r + 587 g + 114 b + 500) / 1000, as PIL's convert("L")) on all 3
// channels.
void ci_grayscale(void *pixels, size_t count, int wide);

// Every sample ≥ threshold (on the 0–255 scale; × 257 for 16 bits) becomes max − sample (torchvision's solarize).
void ci_solarize(void *pixels, size_t samples, int wide, uint8_t threshold);

// `src` (width × height pixels of `pixel_bytes` each) turned k × 90° counter-clockwise into `dst` (height ×
// width for odd k).
void ci_rotate90(const uint8_t *src, uint8_t *dst, int width, int height, int pixel_bytes, int k);

#ifdef __cplusplus
}
#endif

#endif
