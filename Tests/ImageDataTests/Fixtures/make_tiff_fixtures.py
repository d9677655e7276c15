#!/usr/bin/env python3
"""Writes the TIFF (and 16-bit PNG) fixtures of ImageDataTests with Pillow, and what Pillow reads back from them.

usage: python make_tiff_fixtures.py OUT_DIR   (pip install pillow numpy; made with Pillow 13.0.0, numpy)

`expected.json` maps each readable file to its size, channels, bit depth and samples (row-major, interleaved) as
Pillow reads them: 16-bit gray as stored, palette images converted to RGB, bilevel as 0/255. The refused files
(two pages; floating-point samples) are listed under "refused" with the words the error must contain.
"""
import json, sys
import numpy as np
from PIL import Image

out = sys.argv[1]
rng = np.random.default_rng(11)
w, h = 7, 5
expected, refused = {}, {}

def record(name, img, channels, depth):
    a = np.array(img)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    expected[name] = {"width": w, "height": h, "channels": channels, "bitDepth": depth,
                      "samples": [int(v) for v in a.reshape(-1)]}

gray16 = rng.integers(0, 65536, size=(h, w), dtype=np.uint16)
img = Image.fromarray(gray16)  # mode I;16
img.save(f"{out}/gray16.tif")
record("gray16.tif", Image.open(f"{out}/gray16.tif"), 1, 16)
img.save(f"{out}/gray16_deflate.tif", compression="tiff_adobe_deflate")
record("gray16_deflate.tif", Image.open(f"{out}/gray16_deflate.tif"), 1, 16)
img.save(f"{out}/gray16.png")
record("gray16.png", Image.open(f"{out}/gray16.png"), 1, 16)

rgb = Image.fromarray(rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8))
rgb.save(f"{out}/rgb8_lzw.tif", compression="tiff_lzw")
record("rgb8_lzw.tif", Image.open(f"{out}/rgb8_lzw.tif"), 3, 8)

pal = rgb.quantize(colors=6)
pal.save(f"{out}/palette.tif")
record("palette.tif", Image.open(f"{out}/palette.tif").convert("RGB"), 3, 8)

bilevel = Image.fromarray(rng.integers(0, 2, size=(h, w), dtype=np.uint8) * 255).convert("1")
bilevel.save(f"{out}/bilevel_g4.tif", compression="group4")
record("bilevel_g4.tif", Image.open(f"{out}/bilevel_g4.tif"), 1, 8)

gray8 = Image.fromarray(rng.integers(0, 256, size=(h, w), dtype=np.uint8))
gray8.save(f"{out}/two_pages.tif", save_all=True, append_images=[gray8])
refused["two_pages.tif"] = "2 pages"
Image.fromarray(rng.random((h, w), dtype=np.float32)).save(f"{out}/float32.tif")
refused["float32.tif"] = "floating-point"

with open(f"{out}/expected.json", "w") as f:
    json.dump({"expected": expected, "refused": refused}, f)
