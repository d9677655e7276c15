#!/usr/bin/env python3
"""Writes the DICOM fixtures of ImageDataTests (tiny files, pydicom) and what pydicom reads from them.

usage: python make_dicom_fixtures.py OUT_DIR   (pip install pydicom numpy; made with pydicom 3.0.2, numpy 2.4.6)

For each file, `expected.json` holds pydicom's modality values (`apply_modality_lut(pixel_array)`: rescale slope
and intercept applied, signed and 12-bit values as stored) and the 8-bit picture Pretext must make of them: the
DICOM linear VOI function (PS3.3 C.11.2.1.2) with the file's first window, else the image's own min..max
(centre (min+max)/2, width max-min+1), y = clip(((x - (c - 0.5)) / (w - 1)) + 0.5, 0, 1), out = floor(255 y + 0.5),
and MONOCHROME1 inverted (255 - out).
"""
import json, sys
import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian, RLELossless, generate_uid
from pydicom.pixels import apply_modality_lut

out = sys.argv[1]
rng = np.random.default_rng(7)

def base(rows, cols, bits, stored, signed, photometric, syntax=ExplicitVRLittleEndian):
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.7"  # secondary capture
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[photometric, str(bits), str(stored), str(signed)])
    ds.file_meta.TransferSyntaxUID = syntax
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.Modality = "OT"
    ds.Rows, ds.Columns = rows, cols
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = bits, stored, stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    return ds

def picture(values, ds):
    if "WindowCenter" in ds and "WindowWidth" in ds:
        c = float(ds.WindowCenter[0] if ds["WindowCenter"].VM > 1 else ds.WindowCenter)
        w = float(ds.WindowWidth[0] if ds["WindowWidth"].VM > 1 else ds.WindowWidth)
    else:
        lo, hi = float(values.min()), float(values.max())
        c, w = (lo + hi) / 2, hi - lo + 1
    y = np.clip((values.astype(np.float64) - (c - 0.5)) / max(w - 1, 1) + 0.5, 0, 1)
    o = np.floor(255 * y + 0.5).astype(np.int64)
    return (255 - o) if ds.PhotometricInterpretation == "MONOCHROME1" else o

expected = {}
def save(name, ds, pixels, compress=None):
    ds.PixelData = pixels.tobytes()
    if compress:
        ds.compress(compress, pixels)
    ds.save_as(f"{out}/{name}", enforce_file_format=True)
    back = pydicom.dcmread(f"{out}/{name}")
    values = apply_modality_lut(back.pixel_array, back).astype(np.float64)
    expected[name] = {"width": int(back.Columns), "height": int(back.Rows),
                      "photometric": str(back.PhotometricInterpretation),
                      "values": values.ravel().tolist(), "picture": picture(values, back).ravel().tolist()}

# CT-like: 12 of 16 bits, rescale to Hounsfield units, a soft-tissue window in the file.
ds = base(12, 16, 16, 12, False, "MONOCHROME2")
ds.RescaleSlope, ds.RescaleIntercept = 2, -1024
ds.WindowCenter, ds.WindowWidth = 40, 400
save("ct_u12_rescale.dcm", ds, rng.integers(0, 4096, (12, 16), dtype=np.uint16))
# Signed 16-bit, a fractional slope, two windows (the first is used), implicit VR.
ds = base(9, 7, 16, 16, True, "MONOCHROME2", ImplicitVRLittleEndian)
ds.RescaleSlope, ds.RescaleIntercept = 0.5, 100
ds.WindowCenter, ds.WindowWidth = [0, 500], [2000, 100]
save("signed_s16.dcm", ds, rng.integers(-3000, 3000, (9, 7), dtype=np.int16))
# MONOCHROME1 (an X-ray: high values dark), full 16 bits, no window: the image's own range.
ds = base(10, 10, 16, 16, False, "MONOCHROME1")
save("xray_mono1_u16.dcm", ds, rng.integers(0, 65536, (10, 10), dtype=np.uint16))
# 8-bit.
ds = base(6, 8, 8, 8, False, "MONOCHROME2")
save("plain_u8.dcm", ds, rng.integers(0, 256, (6, 8), dtype=np.uint8))
# RLE Lossless (a compressed transfer syntax DCMTK decodes).
ds = base(11, 13, 16, 16, False, "MONOCHROME2")
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
save("rle_u16.dcm", ds, rng.integers(0, 65536, (11, 13), dtype=np.uint16), compress=RLELossless)

# Refused: two frames; no pixel data.
ds = base(4, 4, 16, 16, False, "MONOCHROME2")
ds.NumberOfFrames = 2
ds.PixelData = rng.integers(0, 100, (2, 4, 4), dtype=np.uint16).tobytes()
ds.save_as(f"{out}/multiframe.dcm", enforce_file_format=True)
ds = base(4, 4, 16, 16, False, "MONOCHROME2")
ds.save_as(f"{out}/no_pixels.dcm", enforce_file_format=True)

with open(f"{out}/expected.json", "w") as f:
    json.dump(expected, f)
