"""The files of an exported model directory that are not the tokenizer's or the ONNX towers'.

The sidecar's name and format, the content hash (re-implemented by the TypeScript loader in
libs/model/src/content-hash.ts: keep both in sync with the README), config.json and
preprocessor_config.json.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

SIDECAR = "siglip-batch.json"
SIDECAR_FORMAT = 1


HASHED_TOP_FILES = ("config.json", "preprocessor_config.json", "tokenizer.json")


def hashed_files(model_dir: Path) -> list[str]:
    rels = [f for f in HASHED_TOP_FILES if (model_dir / f).is_file()]
    onnx_dir = model_dir / "onnx"
    if onnx_dir.is_dir():
        for root, _dirs, files in os.walk(onnx_dir):
            for f in files:
                rels.append((Path(root) / f).relative_to(model_dir).as_posix())
    return sorted(rels, key=lambda r: r.encode("utf-8"))


def content_hash(model_dir: Path) -> str:
    """sha256 over `relpath + "\\0" + sha256hex(bytes) + "\\n"` for each hashed file, sorted by path bytes."""
    h = hashlib.sha256()
    for rel in hashed_files(model_dir):
        fh = hashlib.sha256()
        with open(model_dir / rel, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                fh.update(chunk)
        h.update(rel.encode("utf-8") + b"\0" + fh.hexdigest().encode("ascii") + b"\n")
    return h.hexdigest()


REQUIRED_CONFIG = {
    "text_config": ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                    "max_position_embeddings", "projection_size", "hidden_act", "layer_norm_eps"),
    "vision_config": ("hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                      "image_size", "patch_size", "num_channels", "hidden_act", "layer_norm_eps"),
}


def config_json(cfg) -> str:
    """config.json as save_pretrained writes it, with the geometry keys always spelled out."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg.save_pretrained(tmp)
        d = json.loads((Path(tmp) / "config.json").read_text())
    full = cfg.to_dict()
    for sub, keys in REQUIRED_CONFIG.items():
        d.setdefault(sub, {})
        for k in keys:
            if k in full[sub]:
                d[sub][k] = full[sub][k]
    d["architectures"] = ["SiglipModel"]
    d["model_type"] = "siglip"
    return json.dumps(d, indent=2, sort_keys=True) + "\n"


def preprocessor_config(proc) -> dict:
    size = dict(proc.size) if not isinstance(proc.size, dict) else proc.size
    size = {"height": int(size["height"]), "width": int(size["width"])}
    return {
        "do_normalize": bool(proc.do_normalize),
        "do_rescale": bool(proc.do_rescale),
        "do_resize": bool(proc.do_resize),
        "image_mean": [float(v) for v in proc.image_mean],
        "image_processor_type": "SiglipImageProcessor",
        "image_std": [float(v) for v in proc.image_std],
        "processor_class": "SiglipProcessor",
        "resample": int(proc.resample),
        "rescale_factor": float(proc.rescale_factor),
        "size": size,
    }
