// TIFF decoding (and encoding, for tests) through libtiff, from and to memory.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>

#include "cimage.h"

// A growable in-memory file that libtiff reads and writes through its client procedures.
struct memfile {
  uint8_t *data;
  size_t size, cap, pos;
  int writable;
};

static tmsize_t mem_read(thandle_t h, void *buf, tmsize_t n) {
  struct memfile *m = h;
  if (m->pos >= m->size) return 0;
  size_t k = (size_t)n < m->size - m->pos ? (size_t)n : m->size - m->pos;
  memcpy(buf, m->data + m->pos, k);
  m->pos += k;
  return (tmsize_t)k;
}

static tmsize_t mem_write(thandle_t h, void *buf, tmsize_t n) {
  struct memfile *m = h;
  if (!m->writable) return -1;
  if (m->pos + (size_t)n > m->cap) {
    size_t cap = (m->pos + (size_t)n) * 2;
    uint8_t *d = realloc(m->data, cap);
    if (!d) return -1;
    m->data = d;
    m->cap = cap;
  }
  if (m->pos > m->size) memset(m->data + m->size, 0, m->pos - m->size);
  memcpy(m->data + m->pos, buf, (size_t)n);
  m->pos += (size_t)n;
  if (m->pos > m->size) m->size = m->pos;
  return n;
}

static toff_t mem_seek(thandle_t h, toff_t off, int whence) {
  struct memfile *m = h;
  size_t base = whence == SEEK_CUR ? m->pos : whence == SEEK_END ? m->size : 0;
  m->pos = base + (size_t)off;
  return (toff_t)m->pos;
}

static int mem_close(thandle_t h) { (void)h; return 0; }
static toff_t mem_size(thandle_t h) { return (toff_t)((struct memfile *)h)->size; }
static int mem_map(thandle_t h, void **base, toff_t *size) { (void)h, (void)base, (void)size; return 0; }
static void mem_unmap(thandle_t h, void *base, toff_t size) { (void)h, (void)base, (void)size; }

// libtiff's messages go to the caller's buffer (the first error wins), never to stderr.
struct failure {
  char *err;
  size_t errlen;
  int failed;
};

static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)module;
  struct failure *f = user;
  if (!f->failed) vsnprintf(f->err, f->errlen, fmt, ap);
  f->failed = 1;
  return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
  (void)tif, (void)user, (void)module, (void)fmt, (void)ap;
  return 1;
}

static TIFF *open_mem(struct memfile *m, const char *mode, struct failure *f) {
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts) return NULL;
  TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, f);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, f);
  TIFF *tif = TIFFClientOpenExt("memory", mode, m, mem_read, mem_write, mem_seek, mem_close, mem_size, mem_map, mem_unmap,
                                opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

static uint8_t *fail(TIFF *tif, uint8_t *buf, struct failure *f, const char *msg) {
  if (msg && !f->failed) snprintf(f->err, f->errlen, "%s", msg);
  free(buf);
  if (tif) TIFFClose(tif);
  return NULL;
}

// Copies `count` pixels of a decoded tile or strip row (`src_step` samples per pixel: all of them when contiguous,
// 1 when planar) to row `y`, column `x0` of the output (`ch` channels): the first `ch` samples of each pixel
// (extra samples such as alpha dropped), or, for plane `plane` ≥ 0, that one channel.
static void place(uint8_t *out, size_t out_w, int ch, int bytes, uint32_t x0, uint32_t y, const uint8_t *src,
                  uint32_t count, int src_step, int plane) {
  for (uint32_t i = 0; i < count; i++) {
    const uint8_t *s = src + (size_t)i * src_step * bytes;
    uint8_t *d = out + (((size_t)y * out_w + x0 + i) * ch) * bytes;
    if (plane >= 0) memcpy(d + (size_t)plane * bytes, s, bytes);
    else memcpy(d, s, (size_t)ch * bytes);
  }
}

uint8_t *ci_decode_tiff(const uint8_t *data, size_t size, long max_pixels, int *width, int *height, int *channels,
                        int *bit_depth, char *err, size_t errlen) {
  struct failure f = {err, errlen, 0};
  struct memfile m = {(uint8_t *)data, size, size, 0, 0};
  TIFF *tif = open_mem(&m, "rm", &f);
  if (!tif) return fail(NULL, NULL, &f, "not a readable TIFF");
  uint32_t w = 0, h = 0;
  uint16_t spp = 1, bits = 1, photometric = PHOTOMETRIC_MINISBLACK, planar = PLANARCONFIG_CONTIG,
           format = SAMPLEFORMAT_UINT;
  if (!TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w) || !TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h) || w == 0 || h == 0)
    return fail(tif, NULL, &f, "TIFF without a valid image size");
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
  if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photometric)) photometric = PHOTOMETRIC_MINISBLACK;
  if ((double)w * h > (double)max_pixels) {
    snprintf(err, errlen, "image too large: %ux%u is %.1f megapixels, over the decoder's cap of %.1f (PRETEXT_MAX_IMAGE_PIXELS)",
             (unsigned)w, (unsigned)h, (double)w * h / 1e6, (double)max_pixels / 1e6);
    f.failed = 1;
    return fail(tif, NULL, &f, NULL);
  }
  if (TIFFNumberOfDirectories(tif) > 1) {
    snprintf(err, errlen, "a TIFF of %u pages (a stack or pyramid): one image per file is supported",
             (unsigned)TIFFNumberOfDirectories(tif));
    f.failed = 1;
    return fail(tif, NULL, &f, NULL);
  }
  if (format == SAMPLEFORMAT_IEEEFP || bits > 16) {
    snprintf(err, errlen, "%s TIFF samples (%u bits) are not supported: 8- and 16-bit integers are",
             format == SAMPLEFORMAT_IEEEFP ? "floating-point" : "wide", (unsigned)bits);
    f.failed = 1;
    return fail(tif, NULL, &f, NULL);
  }
  int gray = photometric == PHOTOMETRIC_MINISBLACK || photometric == PHOTOMETRIC_MINISWHITE;
  int direct = (bits == 8 || bits == 16) && format != SAMPLEFORMAT_INT &&
               ((gray && spp >= 1) || (photometric == PHOTOMETRIC_RGB && spp >= 3));
  uint8_t *buf = NULL;
  if (!direct && bits == 16) {
    snprintf(err, errlen, "16-bit TIFF of this kind (photometric %u, %u samples, %s) is not supported",
             (unsigned)photometric, (unsigned)spp, format == SAMPLEFORMAT_INT ? "signed" : "unsigned");
    f.failed = 1;
    return fail(tif, NULL, &f, NULL);
  }
  if (!direct) {
    // Palettes, YCbCr (JPEG-in-TIFF), CMYK, 1–4-bit and signed samples: libtiff's RGBA reader, 8 bits.
    uint32_t *rgba = malloc((size_t)w * h * sizeof(uint32_t));
    if (!rgba) return fail(tif, NULL, &f, "out of memory");
    if (!TIFFReadRGBAImageOriented(tif, w, h, rgba, ORIENTATION_TOPLEFT, 0)) {
      free(rgba);
      return fail(tif, NULL, &f, "corrupt or unsupported TIFF");
    }
    int ch = gray ? 1 : 3;
    buf = malloc((size_t)w * h * ch);
    if (!buf) {
      free(rgba);
      return fail(tif, NULL, &f, "out of memory");
    }
    for (size_t i = 0; i < (size_t)w * h; i++) {
      uint32_t p = rgba[i];
      if (ch == 1) buf[i] = (uint8_t)TIFFGetR(p);
      else buf[3 * i] = (uint8_t)TIFFGetR(p), buf[3 * i + 1] = (uint8_t)TIFFGetG(p), buf[3 * i + 2] = (uint8_t)TIFFGetB(p);
    }
    free(rgba);
    TIFFClose(tif);
    *width = (int)w, *height = (int)h, *channels = ch, *bit_depth = 8;
    return buf;
  }
  int ch = gray ? 1 : 3, bytes = bits / 8;
  int separate = planar == PLANARCONFIG_SEPARATE && spp > 1;
  buf = malloc((size_t)w * h * ch * bytes);
  if (!buf) return fail(tif, NULL, &f, "out of memory");
  int planes = separate ? ch : 1, step = separate ? 1 : spp;
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    tmsize_t tsize = TIFFTileSize(tif);
    if (tw == 0 || th == 0 || tsize <= 0) return fail(tif, buf, &f, "TIFF with an invalid tile size");
    uint8_t *tile = malloc((size_t)tsize);
    if (!tile) return fail(tif, buf, &f, "out of memory");
    for (int pl = 0; pl < planes; pl++)
      for (uint32_t ty = 0; ty < h; ty += th)
        for (uint32_t tx = 0; tx < w; tx += tw) {
          if (TIFFReadTile(tif, tile, tx, ty, 0, (uint16_t)pl) < 0) {
            free(tile);
            return fail(tif, buf, &f, "corrupt or truncated TIFF tile");
          }
          uint32_t n = tx + tw > w ? w - tx : tw;
          for (uint32_t y = ty; y < h && y < ty + th; y++)
            place(buf, w, ch, bytes, tx, y, tile + (size_t)(y - ty) * tw * step * bytes, n, step, separate ? pl : -1);
        }
    free(tile);
  } else {
    tmsize_t lsize = TIFFScanlineSize(tif);
    if (lsize < (tmsize_t)((size_t)w * step * bytes)) return fail(tif, buf, &f, "TIFF with an unexpected row size");
    uint8_t *line = malloc((size_t)lsize);
    if (!line) return fail(tif, buf, &f, "out of memory");
    for (int pl = 0; pl < planes; pl++)
      for (uint32_t y = 0; y < h; y++) {
        if (TIFFReadScanline(tif, line, y, (uint16_t)pl) < 0) {
          free(line);
          return fail(tif, buf, &f, "corrupt or truncated TIFF strip");
        }
        place(buf, w, ch, bytes, 0, y, line, w, step, separate ? pl : -1);
      }
    free(line);
  }
  if (f.failed) return fail(tif, buf, &f, NULL);
  if (photometric == PHOTOMETRIC_MINISWHITE) {  // 0 is white: inverted so that bright is bright everywhere
    size_t n = (size_t)w * h;
    if (bytes == 1) for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)(255 - buf[i]);
    else for (size_t i = 0; i < n; i++) ((uint16_t *)buf)[i] = (uint16_t)(65535 - ((uint16_t *)buf)[i]);
  }
  TIFFClose(tif);
  *width = (int)w, *height = (int)h, *channels = ch, *bit_depth = bits;
  return buf;
}

uint8_t *ci_encode_tiff(const uint8_t *pixels, int width, int height, int channels, int bit_depth, int compression,
                        int tile_side, int planar_separate, int min_is_white, size_t *out_size, char *err, size_t errlen) {
  struct failure f = {err, errlen, 0};
  struct memfile m = {NULL, 0, 0, 0, 1};
  TIFF *tif = open_mem(&m, "w", &f);
  if (!tif) {
    if (!f.failed) snprintf(err, errlen, "cannot start the TIFF encoder");
    return NULL;
  }
  int bytes = bit_depth / 8, sep = planar_separate && channels > 1;
  TIFFSetField(tif, TIFFTAG_IMAGEWIDTH, (uint32_t)width);
  TIFFSetField(tif, TIFFTAG_IMAGELENGTH, (uint32_t)height);
  TIFFSetField(tif, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)channels);
  TIFFSetField(tif, TIFFTAG_BITSPERSAMPLE, (uint16_t)bit_depth);
  TIFFSetField(tif, TIFFTAG_PHOTOMETRIC,
               channels >= 3 ? PHOTOMETRIC_RGB : min_is_white ? PHOTOMETRIC_MINISWHITE : PHOTOMETRIC_MINISBLACK);
  TIFFSetField(tif, TIFFTAG_PLANARCONFIG, sep ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
  TIFFSetField(tif, TIFFTAG_COMPRESSION,
               compression == 1 ? COMPRESSION_LZW : compression == 2 ? COMPRESSION_ADOBE_DEFLATE : COMPRESSION_NONE);
  if (channels == 4) {
    uint16_t extra = EXTRASAMPLE_UNASSALPHA;
    TIFFSetField(tif, TIFFTAG_EXTRASAMPLES, 1, &extra);
  }
  int planes = sep ? channels : 1, spp = sep ? 1 : channels;
  size_t px = (size_t)channels * bytes;
  int ok = 1;
  if (tile_side > 0) {
    TIFFSetField(tif, TIFFTAG_TILEWIDTH, (uint32_t)tile_side);
    TIFFSetField(tif, TIFFTAG_TILELENGTH, (uint32_t)tile_side);
    size_t tsize = (size_t)tile_side * tile_side * spp * bytes;
    uint8_t *tile = calloc(1, tsize);
    for (int pl = 0; ok && tile && pl < planes; pl++)
      for (int ty = 0; ok && ty < height; ty += tile_side)
        for (int tx = 0; ok && tx < width; tx += tile_side) {
          memset(tile, 0, tsize);
          for (int y = ty; y < height && y < ty + tile_side; y++)
            for (int x = tx; x < width && x < tx + tile_side; x++) {
              const uint8_t *s = pixels + ((size_t)y * width + x) * px;
              uint8_t *d = tile + (((size_t)(y - ty) * tile_side + (x - tx)) * spp) * bytes;
              if (sep) memcpy(d, s + (size_t)pl * bytes, bytes);
              else memcpy(d, s, px);
            }
          ok = TIFFWriteTile(tif, tile, (uint32_t)tx, (uint32_t)ty, 0, (uint16_t)pl) >= 0;
        }
    if (!tile) ok = 0;
    free(tile);
  } else {
    TIFFSetField(tif, TIFFTAG_ROWSPERSTRIP, TIFFDefaultStripSize(tif, 0));
    uint8_t *line = malloc((size_t)width * spp * bytes);
    for (int pl = 0; ok && line && pl < planes; pl++)
      for (int y = 0; ok && y < height; y++) {
        for (int x = 0; x < width; x++) {
          const uint8_t *s = pixels + ((size_t)y * width + x) * px;
          if (sep) memcpy(line + (size_t)x * bytes, s + (size_t)pl * bytes, bytes);
          else memcpy(line + (size_t)x * px, s, px);
        }
        ok = TIFFWriteScanline(tif, line, (uint32_t)y, (uint16_t)pl) >= 0;
      }
    if (!line) ok = 0;
    free(line);
  }
  TIFFClose(tif);  // flushes into the memory file
  if (!ok || f.failed) {
    if (!f.failed) snprintf(err, errlen, "TIFF encoding failed");
    free(m.data);
    return NULL;
  }
  *out_size = m.size;
  return m.data;
}
