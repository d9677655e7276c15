// Streaming gzip decompression and one-shot compression over zlib, for Swift.
#ifndef CGZIP_H
#define CGZIP_H
#include <stddef.h>
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

typedef struct cg_inflater cg_inflater;

cg_inflater *cg_inflater_new(void);
void cg_inflater_free(cg_inflater *z);
// Feeds `in` and writes up to `cap` bytes of output into `out`; returns bytes written, sets *consumed to the
// input used and *finished when the gzip stream ended; -1 on corrupt data (message in err).
long cg_inflate(cg_inflater *z, const uint8_t *in, size_t len, size_t *consumed, uint8_t *out, size_t cap,
                int *finished, char *err, size_t errlen);

// gzip of `len` bytes into a malloc'd buffer (free with free()).
uint8_t *cg_gzip(const uint8_t *in, size_t len, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif
