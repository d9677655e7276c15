#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "cgzip.h"

struct cg_inflater {
  z_stream s;
};

cg_inflater *cg_inflater_new(void) {
  cg_inflater *z = calloc(1, sizeof(cg_inflater));
  if (z && inflateInit2(&z->s, 16 + MAX_WBITS) != Z_OK) {  // 16: gzip wrapper
    free(z);
    return NULL;
  }
  return z;
}

void cg_inflater_free(cg_inflater *z) {
  if (!z) return;
  inflateEnd(&z->s);
  free(z);
}

long cg_inflate(cg_inflater *z, const uint8_t *in, size_t len, size_t *consumed, uint8_t *out, size_t cap,
                int *finished, char *err, size_t errlen) {
  z->s.next_in = (Bytef *)in;
  z->s.avail_in = (uInt)len;
  z->s.next_out = out;
  z->s.avail_out = (uInt)cap;
  int r = inflate(&z->s, Z_NO_FLUSH);
  *consumed = len - z->s.avail_in;
  *finished = r == Z_STREAM_END;
  if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR) {
    snprintf(err, errlen, "corrupt gzip data: %s", z->s.msg ? z->s.msg : "inflate failed");
    return -1;
  }
  return (long)(cap - z->s.avail_out);
}

uint8_t *cg_gzip(const uint8_t *in, size_t len, size_t *out_len) {
  z_stream s;
  memset(&s, 0, sizeof s);
  if (deflateInit2(&s, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) return NULL;
  size_t cap = deflateBound(&s, len) + 32;
  uint8_t *out = malloc(cap);
  if (!out) {
    deflateEnd(&s);
    return NULL;
  }
  s.next_in = (Bytef *)in;
  s.avail_in = (uInt)len;
  s.next_out = out;
  s.avail_out = (uInt)cap;
  int r = deflate(&s, Z_FINISH);
  *out_len = cap - s.avail_out;
  deflateEnd(&s);
  if (r != Z_STREAM_END) {
    free(out);
    return NULL;
  }
  return out;
}
