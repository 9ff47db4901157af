"""transformers' PIL image processor (SiglipImageProcessorPil, as the reference uses it) on every
photo of a directory, one at a time: load_image + processor(..., return_tensors="np").
Run under `taskset -c 0` with OMP_NUM_THREADS=1. Prints images/s as JSON.

    taskset -c 0 .venv/bin/python bench/probes/pil-preprocess.py <photo dir> <model dir>
"""
import json
import sys
import time
from pathlib import Path

try:
    from transformers import SiglipImageProcessorPil as Processor  # transformers >= 5
except ImportError:
    from transformers import SiglipImageProcessor as Processor
from transformers.image_utils import load_image

photo_dir, model_dir = Path(sys.argv[1]), sys.argv[2]
proc = Processor.from_pretrained(model_dir)
photos = sorted(str(p) for p in photo_dir.iterdir())
for p in photos[:5]:
    proc(load_image(p), return_tensors="np")
started = time.perf_counter()
for p in photos:
    proc(load_image(p), return_tensors="np")["pixel_values"]
print(json.dumps({"images": len(photos), "rate": len(photos) / (time.perf_counter() - started), "processor": Processor.__name__}))
