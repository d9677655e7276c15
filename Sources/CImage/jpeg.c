#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "cimage.h"

static void fail(char *err, size_t errlen, const char *what, tjhandle h) {
  snprintf(err, errlen, "%s: %s", what, h ? tjGetErrorStr2(h) : tjGetErrorStr());
}

uint8_t *ci_decode_jpeg(const uint8_t *data, size_t size, int min_side, long max_pixels, int *width, int *height,
                        int *source_w, int *source_h, int *channels, char *err, size_t errlen) {
  tjhandle h = tjInitDecompress();
  if (!h) {
    fail(err, errlen, "cannot start the JPEG decoder", NULL);
    return NULL;
  }
  int w = 0, hgt = 0, subsamp = -1, colorspace = -1;
  if (tjDecompressHeader3(h, data, (unsigned long)size, &w, &hgt, &subsamp, &colorspace) != 0) {
    fail(err, errlen, "not a readable JPEG", h);
    tjDestroy(h);
    return NULL;
  }
  // A few-byte stub can pass the header call with no frame header read: never trust the sizes unchecked.
  if (w <= 0 || hgt <= 0 || w > 65535 || hgt > 65535) {
    snprintf(err, errlen, "not a readable JPEG (no valid frame header: stored size %dx%d)", w, hgt);
    tjDestroy(h);
    return NULL;
  }
  *source_w = w;
  *source_h = hgt;
  // The smallest DCT scaling whose shorter side stays >= min_side (factors come largest first).
  int sw = w, sh = hgt;
  if (min_side > 0) {
    int n = 0;
    tjscalingfactor *f = tjGetScalingFactors(&n);
    for (int i = 0; i < n; i++) {
      if (f[i].num > f[i].denom) continue;  // never upscale
      int cw = TJSCALED(w, f[i]), ch = TJSCALED(hgt, f[i]);
      if ((cw < ch ? cw : ch) >= min_side && (long)cw * ch < (long)sw * sh) {
        sw = cw;
        sh = ch;
      }
    }
  }
  if ((long)sw * sh > max_pixels) {
    snprintf(err, errlen, "image too large: %dx%d is %.1f megapixels, over the decoder's cap of %.1f (PRETEXT_MAX_IMAGE_PIXELS)",
             sw, sh, (double)sw * sh / 1e6, (double)max_pixels / 1e6);
    tjDestroy(h);
    return NULL;
  }
  int cmyk = colorspace == TJCS_CMYK || colorspace == TJCS_YCCK, gray = colorspace == TJCS_GRAY;
  int pf = cmyk ? TJPF_CMYK : gray ? TJPF_GRAY : TJPF_RGB, ps = cmyk ? 4 : gray ? 1 : 3;
  uint8_t *buf = malloc((size_t)sw * sh * ps);
  if (!buf) {
    snprintf(err, errlen, "out of memory for a %dx%d image", sw, sh);
    tjDestroy(h);
    return NULL;
  }
  // Truncated data decodes with a warning (gray bottom rows); STOPONWARNING makes it an error instead.
  if (tjDecompress2(h, data, (unsigned long)size, buf, sw, 0, sh, pf, TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0) {
    fail(err, errlen, "corrupt or truncated JPEG", h);
    free(buf);
    tjDestroy(h);
    return NULL;
  }
  tjDestroy(h);
  if (cmyk) {
    // Adobe CMYK is stored inverted (255 = no ink): R = C'·K'/255, as PIL converts it.
    uint8_t *rgb = malloc((size_t)sw * sh * 3);
    if (!rgb) {
      free(buf);
      snprintf(err, errlen, "out of memory for a %dx%d image", sw, sh);
      return NULL;
    }
    for (size_t i = 0; i < (size_t)sw * sh; i++) {
      unsigned k = buf[4 * i + 3];
      for (int c = 0; c < 3; c++) rgb[3 * i + c] = (uint8_t)((buf[4 * i + c] * k + 127) / 255);
    }
    free(buf);
    buf = rgb;
  }
  *width = sw;
  *height = sh;
  *channels = gray ? 1 : 3;
  return buf;
}

uint8_t *ci_encode_jpeg(const uint8_t *pixels, int width, int height, int channels, int quality, size_t *out_size,
                        char *err, size_t errlen) {
  int pf = channels == 1 ? TJPF_GRAY : channels == 4 ? TJPF_CMYK : TJPF_RGB;
  int samp = channels == 1 ? TJSAMP_GRAY : TJSAMP_420;
  tjhandle h = tjInitCompress();
  if (!h) {
    fail(err, errlen, "cannot start the JPEG encoder", NULL);
    return NULL;
  }
  unsigned char *out = NULL;
  unsigned long n = 0;
  if (tjCompress2(h, pixels, width, 0, height, pf, &out, &n, samp, quality, TJFLAG_ACCURATEDCT) != 0) {
    fail(err, errlen, "JPEG encoding failed", h);
    tjDestroy(h);
    return NULL;
  }
  tjDestroy(h);
  uint8_t *copy = malloc(n);  // one rule for callers: every buffer from CImage is freed with free()
  if (copy) memcpy(copy, out, n);
  else snprintf(err, errlen, "out of memory");
  tjFree(out);
  *out_size = n;
  return copy;
}
