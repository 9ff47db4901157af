"""fp16 towers of an exported model directory, converted exactly as `siglip_export.py --fp16` does
(`to_fp16`) but without its fp16 check, into a separate directory that libs/model loads (the
Xenova / onnx-community layout: logit scale / bias in a two-scalar `model.safetensors`):

    python tools/verify/fp16_copy.py <model dir> <out dir>

Used by `npm run verify:so400m` to measure the fp16 variant where the export's check refuses it.
"""
from __future__ import annotations

import json
import shutil
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "export"))
from export_common import log  # noqa: E402
from onnx_export import to_fp16  # noqa: E402


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    if out.exists():
        shutil.rmtree(out)
    (out / "onnx").mkdir(parents=True)
    for name in ("config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
                 "special_tokens_map.json", "spiece.model"):
        if (src / name).exists():
            shutil.copyfile(src / name, out / name)
    for tower in ("vision_model", "text_model"):
        log(f"converting {tower} to fp16 ...")
        to_fp16(src / "onnx" / f"{tower}.onnx", out / "onnx" / f"{tower}_fp16.onnx")
    sidecar = json.loads((src / "siglip-batch.json").read_text())
    header = json.dumps({"logit_scale": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
                         "logit_bias": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}).encode()
    header += b" " * (-len(header) % 8)
    (out / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header +
                                            struct.pack("<ff", sidecar["logit_scale"], sidecar["logit_bias"]))


if __name__ == "__main__":
    main()
