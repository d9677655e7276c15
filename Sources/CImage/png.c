#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cimage.h"

struct reader {
  const uint8_t *data;
  size_t size, pos;
};

struct failure {
  char *err;
  size_t errlen;
};

static void on_error(png_structp p, png_const_charp msg) {
  struct failure *f = png_get_error_ptr(p);
  snprintf(f->err, f->errlen, "%s", msg);
  png_longjmp(p, 1);
}

static void on_warning(png_structp p, png_const_charp msg) {
  (void)p;
  (void)msg;
}

static void read_bytes(png_structp p, png_bytep out, png_size_t n) {
  struct reader *r = png_get_io_ptr(p);
  if (r->pos + n > r->size) png_error(p, "truncated PNG data");
  memcpy(out, r->data + r->pos, n);
  r->pos += n;
}

uint8_t *ci_decode_png(const uint8_t *data, size_t size, long max_pixels, int *width, int *height, int *channels,
                       int *bit_depth, char *err, size_t errlen) {
  if (size < 8 || png_sig_cmp(data, 0, 8) != 0) {
    snprintf(err, errlen, "not a PNG file");
    return NULL;
  }
  struct failure f = {err, errlen};
  png_structp p = png_create_read_struct(PNG_LIBPNG_VER_STRING, &f, on_error, on_warning);
  png_infop info = p ? png_create_info_struct(p) : NULL;
  if (!info) {
    snprintf(err, errlen, "cannot start the PNG decoder");
    png_destroy_read_struct(&p, NULL, NULL);
    return NULL;
  }
  struct reader r = {data, size, 0};
  uint8_t *volatile buf = NULL;
  png_bytep *volatile rows = NULL;
  if (setjmp(png_jmpbuf(p))) {
    free(buf);
    free(rows);
    png_destroy_read_struct(&p, &info, NULL);
    return NULL;
  }
  png_set_read_fn(p, &r, read_bytes);
  png_read_info(p, info);
  png_uint_32 w = png_get_image_width(p, info), h = png_get_image_height(p, info);
  if ((double)w * h > (double)max_pixels) {
    snprintf(err, errlen, "image too large: %ux%u is %.1f megapixels, over the decoder's cap of %.1f (PRETEXT_MAX_IMAGE_PIXELS)",
             (unsigned)w, (unsigned)h, (double)w * h / 1e6, (double)max_pixels / 1e6);
    png_destroy_read_struct(&p, &info, NULL);
    return NULL;
  }
  int color = png_get_color_type(p, info), depth = png_get_bit_depth(p, info);
  int trns = png_get_valid(p, info, PNG_INFO_tRNS) != 0;
  // Gray stays one channel and 16 bits stay 16 (host order): the loader decides what the model sees.
  int gray = color == PNG_COLOR_TYPE_GRAY || color == PNG_COLOR_TYPE_GRAY_ALPHA;
  int ch = gray ? 1 : 3, bytes = depth == 16 ? 2 : 1;
  if (depth == 16) {
    const uint16_t one = 1;
    if (*(const uint8_t *)&one == 1) png_set_swap(p);  // PNG stores big-endian samples
  }
  if (color == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(p);
  if (color == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(p);
  // Palette expansion turns tRNS into an alpha channel: dropped like a real one (PIL's convert("RGB")).
  if ((color & PNG_COLOR_MASK_ALPHA) || (trns && color == PNG_COLOR_TYPE_PALETTE)) png_set_strip_alpha(p);
  png_set_interlace_handling(p);
  png_read_update_info(p, info);
  size_t stride = (size_t)w * ch * bytes;
  if (png_get_rowbytes(p, info) != stride) png_error(p, "unexpected PNG layout after conversion");
  buf = malloc(stride * h);
  rows = malloc(sizeof(png_bytep) * h);
  if (!buf || !rows) png_error(p, "out of memory");
  for (png_uint_32 y = 0; y < h; y++) rows[y] = buf + (size_t)y * stride;
  png_read_image(p, rows);
  png_read_end(p, NULL);
  free(rows);
  png_destroy_read_struct(&p, &info, NULL);
  *width = (int)w;
  *height = (int)h;
  *channels = ch;
  *bit_depth = 8 * bytes;
  return buf;
}

struct writer {
  uint8_t *data;
  size_t size, cap;
};

static void write_bytes(png_structp p, png_bytep in, png_size_t n) {
  struct writer *w = png_get_io_ptr(p);
  if (w->size + n > w->cap) {
    size_t cap = (w->cap + n) * 2;
    uint8_t *d = realloc(w->data, cap);
    if (!d) png_error(p, "out of memory");
    w->data = d;
    w->cap = cap;
  }
  memcpy(w->data + w->size, in, n);
  w->size += n;
}

static void flush_bytes(png_structp p) { (void)p; }

static uint8_t *encode(const uint8_t *pixels, int width, int height, int channels, int bit_depth, int color,
                       const uint8_t *palette, int n_colors, const uint8_t *alpha, int n_alpha, size_t *out_size,
                       char *err, size_t errlen) {
  struct failure f = {err, errlen};
  png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, &f, on_error, on_warning);
  png_infop info = p ? png_create_info_struct(p) : NULL;
  if (!info) {
    snprintf(err, errlen, "cannot start the PNG encoder");
    png_destroy_write_struct(&p, NULL);
    return NULL;
  }
  struct writer w = {NULL, 0, 0};
  if (setjmp(png_jmpbuf(p))) {
    free(w.data);
    png_destroy_write_struct(&p, &info);
    return NULL;
  }
  png_set_write_fn(p, &w, write_bytes, flush_bytes);
  png_set_IHDR(p, info, width, height, bit_depth, color, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
               PNG_FILTER_TYPE_DEFAULT);
  if (palette) {
    png_color colors[256];
    for (int i = 0; i < n_colors; i++) colors[i] = (png_color){palette[3 * i], palette[3 * i + 1], palette[3 * i + 2]};
    png_set_PLTE(p, info, colors, n_colors);
    if (alpha && n_alpha > 0) png_set_tRNS(p, info, alpha, n_alpha, NULL);
  }
  png_write_info(p, info);
  size_t stride = (size_t)width * channels * (bit_depth / 8);
  for (int y = 0; y < height; y++) png_write_row(p, (png_const_bytep)(pixels + (size_t)y * stride));
  png_write_end(p, info);
  png_destroy_write_struct(&p, &info);
  *out_size = w.size;
  return w.data;
}

uint8_t *ci_encode_png(const uint8_t *pixels, int width, int height, int channels, int bit_depth, size_t *out_size,
                       char *err, size_t errlen) {
  int color = channels == 1 ? PNG_COLOR_TYPE_GRAY
            : channels == 2 ? PNG_COLOR_TYPE_GRAY_ALPHA
            : channels == 4 ? PNG_COLOR_TYPE_RGBA : PNG_COLOR_TYPE_RGB;
  return encode(pixels, width, height, channels, bit_depth, color, NULL, 0, NULL, 0, out_size, err, errlen);
}

uint8_t *ci_encode_png_palette(const uint8_t *indices, int width, int height, const uint8_t *palette, int n_colors,
                               const uint8_t *alpha, int n_alpha, size_t *out_size, char *err, size_t errlen) {
  if (n_colors < 1 || n_colors > 256) {
    snprintf(err, errlen, "a palette holds 1 to 256 colours, not %d", n_colors);
    return NULL;
  }
  if (n_alpha < 0 || n_alpha > n_colors) {
    snprintf(err, errlen, "%d transparency values for a %d-colour palette", n_alpha, n_colors);
    return NULL;
  }
  return encode(indices, width, height, 1, 8, PNG_COLOR_TYPE_PALETTE, palette, n_colors, alpha, n_alpha, out_size, err,
                errlen);
}
