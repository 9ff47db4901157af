#!/usr/bin/env python3
"""Export a SigLIP checkpoint to the siglip-batch model directory, or compute reference values.

Export (real checkpoint, from the Hugging Face hub or a local directory):
  python tools/export/siglip_export.py --checkpoint google/siglip-so400m-patch14-224 \\
      --out models/siglip-so400m-patch14-224 --fp16

Export a random-initialised model of a known geometry (tokenizer trained on the bundled corpus):
  python tools/export/siglip_export.py --random tiny --seed 0 --out fixtures/models/tiny-siglip \\
      --save-checkpoint /tmp/tiny-siglip-pt --calibrate-images fixtures/images \\
      --calibrate-labels fixtures/reference/labels.json

Reference values with transformers' own Python code (PIL image processor, slow tokenizer):
  python tools/export/siglip_export.py --reference --checkpoint /tmp/tiny-siglip-pt \\
      --images fixtures/images --texts fixtures/reference/texts.json \\
      --labels fixtures/reference/labels.json --out fixtures/reference/tiny-siglip

See tools/export/README.md for the directory layout, the sidecar and the content hash.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import families  # beside this file: SigLIP 2 / multilingual geometries and tokenizers
from model_export import export
from random_models import GEOMETRIES, TOKENIZER_VOCAB
from reference_values import reference


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    src = ap.add_argument_group("source")
    src.add_argument("--checkpoint", help="Hugging Face model id or local checkpoint dir (export or --reference)")
    src.add_argument("--random", choices=sorted(GEOMETRIES), help="random-initialised model of this geometry")
    src.add_argument("--seed", type=int, default=0, help="seed for --random (weights and tokenizer)")
    src.add_argument("--vocab", type=int, help=f"tokenizer pieces for --random (default {TOKENIZER_VOCAB})")
    ap.add_argument("--out", type=Path, required=True, help="output directory")
    ap.add_argument("--fp16", action="store_true", help="also write onnx/*_fp16.onnx (float32 inputs/outputs)")
    ap.add_argument("--save-checkpoint", type=Path, help="also save_pretrained() the PyTorch model + tokenizer "
                                                         "+ image processor here (for --reference)")
    ap.add_argument("--calibrate-images", type=Path, help="--random: images used to choose logit scale/bias")
    ap.add_argument("--calibrate-labels", type=Path, help="--random: JSON list of labels for the calibration")
    ap.add_argument("--verify-texts", type=Path, help="JSON list of extra texts for the tokenizer.json check")
    ref = ap.add_argument_group("reference mode")
    ref.add_argument("--reference", action="store_true", help="compute reference values instead of exporting")
    ref.add_argument("--images", type=Path, help="directory of images")
    ref.add_argument("--texts", type=Path, help="JSON list of texts")
    ref.add_argument("--labels", type=Path, help="JSON list of labels (template 'This is a photo of {}.')")
    ref.add_argument("--model-dir", type=Path, help="exported model dir: check its ONNX against the reference "
                                                    "and record its content hash")
    ref.add_argument("--checkpoint-id", help="name recorded as 'checkpoint' in reference.json")
    ref.add_argument("--image-list", type=Path, help="JSON list of file names: only these images of --images")
    ref.add_argument("--tokenizer-strings", type=Path, help="SigLIP 2: JSON list of strings whose Siglip2Tokenizer "
                                                            "and GemmaTokenizer ids are recorded (tokenizer_cases)")
    args = ap.parse_args(argv)

    if args.checkpoint:
        families.refuse_naflex(args.checkpoint)  # a clear reason instead of a failed export
    if args.reference:
        missing = [n for n in ("checkpoint", "images", "texts", "labels") if getattr(args, n) is None]
        if missing:
            ap.error("--reference needs " + ", ".join("--" + m for m in missing))
        reference(args)
        return
    if bool(args.checkpoint) == bool(args.random):
        ap.error("give exactly one of --checkpoint or --random")
    export(args)


if __name__ == "__main__":
    main()
