// A C view of DCMTK for reading one DICOM image: the library parses the file and decompresses the pixel data
// (RLE, JPEG, JPEG-LS: the codecs DCMTK has); the caller gets the stored values as numbers, rescale applied.
#ifndef CDICOM_H
#define CDICOM_H
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int width, height, frames, samples_per_pixel;
  int bits_allocated, bits_stored, pixel_representation;
  double rescale_slope, rescale_intercept;
  int has_window;  // the file's first WindowCenter/WindowWidth pair
  double window_center, window_width;
  char photometric[32];
} cd_info;

// Reads the DICOM file in `bytes`: on success returns 0, fills `info` and sets `*values` to width × height modality values
// (float64, row-major; free with cd_free). A multi-frame, colour or pixel-less file, or one of more than
// `max_pixels`, is an error (non-zero, message in `err`).
int cd_read(const unsigned char *bytes, size_t count, long max_pixels, cd_info *info, double **values, char *err, size_t errlen);
void cd_free(double *values);
// Whether the bytes start like a DICOM file (the "DICM" magic at offset 128).
int cd_is_dicom(const unsigned char *bytes, size_t count);

#ifdef __cplusplus
}
#endif
#endif
