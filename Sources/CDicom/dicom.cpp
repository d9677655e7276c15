// DCMTK behind a C ABI: parse, decompress, and return the modality values of a single-frame grayscale image.
#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcistrmb.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/oflog/oflog.h"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

#include "cdicom.h"

namespace {
void registerCodecs() {
  static std::once_flag once;
  std::call_once(once, [] {
    // DCMTK logs warnings to stderr by default; errors come back through OFCondition instead.
    OFLog::configure(OFLogger::ERROR_LOG_LEVEL);
    DcmRLEDecoderRegistration::registerCodecs();
    DJDecoderRegistration::registerCodecs();
    DJLSDecoderRegistration::registerCodecs();
  });
}

int fail(char *err, size_t n, const std::string &m) {
  if (n) std::snprintf(err, n, "%s", m.c_str());
  return 1;
}
}  // namespace

extern "C" int cd_is_dicom(const unsigned char *b, size_t n) {
  return n >= 132 && b[128] == 'D' && b[129] == 'I' && b[130] == 'C' && b[131] == 'M';
}

extern "C" void cd_free(double *v) { std::free(v); }

extern "C" int cd_read(const unsigned char *bytes, size_t count, long max_pixels, cd_info *info, double **values, char *err, size_t errlen) {
  try {
    registerCodecs();
    *values = nullptr;
    std::memset(info, 0, sizeof *info);
    DcmFileFormat file;
    DcmInputBufferStream stream;
    stream.setBuffer(bytes, (offile_off_t)count);
    stream.setEos();
    file.transferInit();
    OFCondition st = file.read(stream);
    file.transferEnd();
    if (st.bad()) return fail(err, errlen, std::string("DICOM: cannot be read: ") + st.text());
    DcmDataset *ds = file.getDataset();
    Uint16 rows = 0, cols = 0, spp = 1, ba = 0, bs = 0, pr = 0;
    if (ds->findAndGetUint16(DCM_Rows, rows).bad() || ds->findAndGetUint16(DCM_Columns, cols).bad() || rows == 0 || cols == 0)
      return fail(err, errlen, "DICOM: no image size (Rows/Columns): not an image");
    if (ds->findAndGetUint16(DCM_SamplesPerPixel, spp).bad()) spp = 1;
    ds->findAndGetUint16(DCM_BitsAllocated, ba);
    if (ds->findAndGetUint16(DCM_BitsStored, bs).bad()) bs = ba;
    ds->findAndGetUint16(DCM_PixelRepresentation, pr);
    Sint32 frames = 1;
    if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad()) frames = 1;  // absent: one frame
    OFString photometric;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, photometric);
    *info = cd_info{cols, rows, (int)frames, spp, ba, bs, pr, 1.0, 0.0, 0, 0.0, 0.0, {0}};
    std::snprintf(info->photometric, sizeof info->photometric, "%s", photometric.c_str());
    if ((long)rows * cols > max_pixels)
      return fail(err, errlen, "DICOM: " + std::to_string(cols) + "x" + std::to_string(rows) + " pixels: more than the limit of " + std::to_string(max_pixels));
    if (!ds->tagExists(DCM_PixelData)) return fail(err, errlen, "DICOM: the file holds no pixel data");
    if (frames != 1)
      return fail(err, errlen, "DICOM: " + std::to_string(frames) + " frames: multi-frame images are not supported (export the frames as single files)");
    if (spp != 1 || (photometric != "MONOCHROME1" && photometric != "MONOCHROME2"))
      return fail(err, errlen, "DICOM: photometric interpretation '" + std::string(photometric.c_str()) + "' with " + std::to_string(spp) +
                                   " samples: only grayscale (MONOCHROME1/2) is supported");
    if (!(ba == 8 || ba == 16) || bs == 0 || bs > ba)
      return fail(err, errlen, "DICOM: " + std::to_string(ba) + " bits allocated, " + std::to_string(bs) + " stored: only 8 or 16 bits allocated are supported");
    Float64 slope = 1, intercept = 0, wc = 0, ww = 0;
    if (ds->findAndGetFloat64(DCM_RescaleSlope, slope).bad()) slope = 1;
    if (ds->findAndGetFloat64(DCM_RescaleIntercept, intercept).bad()) intercept = 0;
    info->rescale_slope = slope;
    info->rescale_intercept = intercept;
    if (ds->findAndGetFloat64(DCM_WindowCenter, wc, 0).good() && ds->findAndGetFloat64(DCM_WindowWidth, ww, 0).good() && ww >= 1) {
      info->has_window = 1;
      info->window_center = wc;
      info->window_width = ww;
    }
    // Decompress in place to an uncompressed syntax (a no-op for uncompressed files).
    st = ds->chooseRepresentation(EXS_LittleEndianExplicit, nullptr);
    if (st.bad() || !ds->canWriteXfer(EXS_LittleEndianExplicit))
      return fail(err, errlen, std::string("DICOM: the pixel data cannot be decompressed (transfer syntax ") +
                                   DcmXfer(ds->getOriginalXfer()).getXferName() + "): " + st.text());
    const size_t n = (size_t)rows * cols;
    double *out = (double *)std::malloc(n * sizeof(double));
    if (!out) return fail(err, errlen, "DICOM: out of memory");
    const unsigned shift = ba - bs;
    if (ba == 8) {
      const Uint8 *p = nullptr;
      unsigned long count = 0;
      if (ds->findAndGetUint8Array(DCM_PixelData, p, &count).bad() || count < n) { std::free(out); return fail(err, errlen, "DICOM: pixel data shorter than Rows × Columns"); }
      for (size_t i = 0; i < n; i++) {
        int v = pr ? (int)(Sint8)(Uint8)(p[i] << shift) >> shift : (p[i] & ((1u << bs) - 1));
        out[i] = v * slope + intercept;
      }
    } else {
      const Uint16 *p = nullptr;
      unsigned long count = 0;
      if (ds->findAndGetUint16Array(DCM_PixelData, p, &count).bad() || count < n) { std::free(out); return fail(err, errlen, "DICOM: pixel data shorter than Rows × Columns"); }
      for (size_t i = 0; i < n; i++) {
        // Signed values stored in fewer bits than allocated: sign-extend from the stored bits.
        int v = pr ? (int)(Sint16)(Uint16)(p[i] << shift) >> shift : (int)(p[i] & (Uint16)((1u << bs) - 1));
        out[i] = v * slope + intercept;
      }
    }
    *values = out;
    return 0;
  } catch (const std::exception &e) {
    return fail(err, errlen, std::string("DICOM: ") + e.what());
  } catch (...) {
    return fail(err, errlen, "DICOM: unknown error");
  }
}
