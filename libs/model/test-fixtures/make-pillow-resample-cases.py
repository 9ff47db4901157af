"""Writes pillow-resample-cases.json: small random RGB images and what Pillow's
Image.resize(..., BICUBIC) makes of them, to pin libs/model's resampler to Pillow bit for bit.

    .venv/bin/python libs/model/test-fixtures/make-pillow-resample-cases.py

CI never runs this; the JSON it writes is committed.
"""
import base64
import json
import pathlib

import numpy as np
import PIL
from PIL import Image

# (in_w, in_h, out_w, out_h): down, up, mixed, identity on one axis, extreme ratios, 1×1.
CASES = [
    (13, 9, 5, 17),
    (31, 23, 8, 8),
    (8, 8, 31, 23),
    (40, 3, 7, 30),
    (1, 1, 6, 4),
    (1, 20, 9, 3),
    (64, 48, 64, 20),
    (17, 33, 5, 33),
    (200, 7, 3, 11),
    (5, 5, 60, 45),
    (97, 61, 120, 100),
    (150, 120, 37, 41),
    # more than 100× taller than wide and shrunk vertically: Image.resize goes vertical first
    (2, 230, 40, 60),
    (3, 400, 3, 50),
    (2, 201, 5, 300),
]

rng = np.random.default_rng(20240611)
out = {"pillow": PIL.__version__, "cases": []}
for in_w, in_h, out_w, out_h in CASES:
    # Random noise is the hardest input for a resampler (every tap matters); half the cases
    # get smooth gradients plus noise so that clipping and rounding at both ends are hit too.
    noise = rng.integers(0, 256, size=(in_h, in_w, 3), dtype=np.uint8)
    if len(out["cases"]) % 2:
        yy, xx = np.mgrid[0:in_h, 0:in_w]
        smooth = np.stack([xx * 255 // max(in_w - 1, 1), yy * 255 // max(in_h - 1, 1), (xx + yy) % 256], -1)
        noise = np.clip(smooth + rng.integers(-20, 21, size=smooth.shape), 0, 255).astype(np.uint8)
    image = Image.fromarray(noise, "RGB")
    resized = image.resize((out_w, out_h), resample=Image.BICUBIC)
    out["cases"].append(
        {
            "in": [in_w, in_h],
            "out": [out_w, out_h],
            "src": base64.b64encode(noise.tobytes()).decode(),
            "expected": base64.b64encode(np.asarray(resized).tobytes()).decode(),
        }
    )

path = pathlib.Path(__file__).with_name("pillow-resample-cases.json")
path.write_text(json.dumps(out) + "\n")
print(f"wrote {path} ({path.stat().st_size} bytes)")
