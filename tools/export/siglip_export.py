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
import hashlib
import json
import math
import os
import re
import shutil
import string
import sys
import tempfile
from pathlib import Path

import families  # noqa: E402  (beside this file: SigLIP 2 / multilingual geometries and tokenizers)
import gemma_tokenizer  # noqa: E402
import verify_metrics  # noqa: E402  (beside this file)

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus.txt"

SIDECAR = "siglip-batch.json"
SIDECAR_FORMAT = 1
TEMPLATE = "This is a photo of {}."
ONNX_OPSET = 17
MAX_IR_VERSION = 13  # onnxruntime-node 1.30 reads IR <= 13 (opset <= 26)
PROTOBUF_LIMIT = 1_800_000_000  # save with external data above this (protobuf's 2 GiB limit)

# Geometries of the random models. "tiny" keeps the real models' token grid (224 / 14 = 16x16
# = 256 vision tokens, like so400m) and their 16 text positions, with very small widths.
GEOMETRIES = {
    "tiny": dict(
        vision=dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                    image_size=224, patch_size=14),
        text=dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2,
                  max_position_embeddings=16, vocab_size=None),  # None: the trained tokenizer's size
    ),
    "base": dict(  # google/siglip-base-patch16-224
        vision=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                    image_size=224, patch_size=16),
        text=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                  max_position_embeddings=64, vocab_size=32000),
    ),
    "so400m": dict(  # google/siglip-so400m-patch14-224
        vision=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                    image_size=224, patch_size=14),
        text=dict(hidden_size=1152, intermediate_size=4304, num_hidden_layers=27, num_attention_heads=16,
                  max_position_embeddings=16, vocab_size=32000),
    ),
}
GEOMETRIES.update(families.GEOMETRIES)
TOKENIZER_VOCAB = 1000  # pieces of the SentencePiece model trained for random models


def log(*a):
    print(*a, file=sys.stderr, flush=True)


# ============================================================================================
# content hash (re-implemented by the TypeScript loader: keep in sync with the README)
# ============================================================================================

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


# ============================================================================================
# text canonicalisation (as SiglipTokenizer.canonicalize_text does it)
# ============================================================================================


def canonicalize(text: str) -> str:
    text = text.lower()
    text = text.translate(str.maketrans("", "", string.punctuation))
    text = re.sub(r"\s+", " ", text)
    return text.strip()


def float32_list(t) -> list[float]:
    """float32 values as the shortest decimal strings that round-trip through float32."""
    import numpy as np

    arr = np.asarray(t, dtype=np.float32).ravel()
    return [float(np.format_float_positional(v, unique=True, trim="-")) if np.isfinite(v) else float(v)
            for v in arr]


def f32(x: float) -> float:
    import numpy as np

    return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


# ============================================================================================
# tokenizer
# ============================================================================================


def train_spiece(out_file: Path, vocab_size: int, seed: int, corpora: tuple[Path, ...] = (CORPUS,)) -> None:
    """Train a small SentencePiece unigram model on the bundled corpus, deterministically.

    Special pieces as in google/siglip's spiece.model: <pad>=0, </s>=1 (EOS, also SiglipTokenizer's
    pad token), <unk>=2, no BOS. The corpus is canonicalised first (lower case, no ASCII
    punctuation), as SiglipTokenizer canonicalises every input before SentencePiece sees it.
    """
    import sentencepiece as spm

    lines = [canonicalize(l) for c in corpora for l in c.read_text(encoding="utf-8").splitlines()]
    lines = [l for l in lines if l]
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        # relative names: the trainer records input and model_prefix in the model file
        os.chdir(tmp)
        try:
            Path("corpus.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
            spm.set_random_generator_seed(seed)
            _train_spiece(spm, vocab_size)
        finally:
            os.chdir(cwd)
        shutil.copyfile(Path(tmp) / "spiece.model", out_file)


def _train_spiece(spm, vocab_size: int) -> None:
    spm.SentencePieceTrainer.train(
        input="corpus.txt",
        model_prefix="spiece",
        model_type="unigram",
        vocab_size=vocab_size,
        character_coverage=1.0,
        normalization_rule_name="nmt_nfkc",
        add_dummy_prefix=True,
        remove_extra_whitespaces=True,
        split_by_whitespace=True,
        byte_fallback=False,
        pad_id=0, pad_piece="<pad>",
        eos_id=1, eos_piece="</s>",
        unk_id=2, unk_piece="<unk>",
        bos_id=-1,
        num_threads=1,
        input_sentence_size=0,
        shuffle_input_sentence=False,
        minloglevel=2,
    )


def fast_tokenizer_from_slow(slow) -> "tokenizers.Tokenizer":
    """tokenizer.json for a SiglipTokenizer.

    transformers' convert_slow_tokenizer has no converter for SiglipTokenizer, so this one is built
    like its T5 converter: Unigram model with the spiece scores, the spiece precompiled charsmap
    normaliser (+ right strip, runs of spaces to "▁"), Metaspace pre-tokenizer (prepend "▁"), and a
    post-processor appending </s>. Canonicalisation (lower case, punctuation removal, whitespace
    collapse) is NOT in it: SiglipTokenizer does that in Python before SentencePiece, and so must
    any user of this tokenizer.json.
    """
    from tokenizers import processors
    from transformers.convert_slow_tokenizer import SpmConverter

    class SiglipConverter(SpmConverter):
        def post_processor(self):
            eos = self.original_tokenizer.convert_tokens_to_ids("</s>")
            return processors.TemplateProcessing(
                single=["$A", "</s>"],
                pair=["$A", "</s>", "$B", "</s>"],
                special_tokens=[("</s>", eos)],
            )

    return SiglipConverter(slow).converted()


def slow_tokenizer(path: Path, max_length: int):
    from transformers import SiglipTokenizer

    return SiglipTokenizer(vocab_file=str(path), model_max_length=max_length)


def write_tokenizer_files(spiece: Path, out: Path, max_length: int) -> None:
    """spiece.model, tokenizer.json, tokenizer_config.json, special_tokens_map.json."""
    slow = slow_tokenizer(spiece, max_length)
    shutil.copyfile(spiece, out / "spiece.model")
    fast = fast_tokenizer_from_slow(slow)
    fast.save(str(out / "tokenizer.json"))
    cfg = {
        "tokenizer_class": "SiglipTokenizer",
        "model_max_length": max_length,
        "do_lower_case": True,
        "eos_token": "</s>",
        "pad_token": "</s>",
        "unk_token": "<unk>",
        "additional_special_tokens": [],
        "sp_model_kwargs": {},
        "added_tokens_decoder": {
            str(i): {"content": tok, "lstrip": True, "normalized": False, "rstrip": True,
                     "single_word": False, "special": True}
            for i, tok in ((1, "</s>"), (2, "<unk>"))
        },
    }
    (out / "tokenizer_config.json").write_text(json.dumps(cfg, indent=2) + "\n")
    stm = {k: {"content": v, "lstrip": True, "normalized": False, "rstrip": True, "single_word": False}
           for k, v in (("eos_token", "</s>"), ("pad_token", "</s>"), ("unk_token", "<unk>"))}
    (out / "special_tokens_map.json").write_text(json.dumps(stm, indent=2) + "\n")


def encode_with_tokenizer_json(tok_json: Path, canonical_texts: list[str]) -> list[list[int]]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tok_json))
    return [tok.encode(t).ids for t in canonical_texts]


def verify_tokenizer(model_dir: Path, texts: list[str], max_length: int) -> None:
    """tokenizer.json on canonicalised text must give SiglipTokenizer's ids (before padding/truncation)."""
    slow = slow_tokenizer(model_dir / "spiece.model", max_length)
    want = [slow(t, add_special_tokens=True)["input_ids"] for t in texts]
    got = encode_with_tokenizer_json(model_dir / "tokenizer.json", [canonicalize(t) for t in texts])
    bad = [(t, w, g) for t, w, g in zip(texts, want, got) if w != g]
    for t, w, g in bad[:10]:
        log(f"  tokenizer mismatch {t!r}: SiglipTokenizer {w} tokenizer.json {g}")
    if bad:
        raise SystemExit(f"tokenizer.json differs from SiglipTokenizer on {len(bad)}/{len(texts)} texts")
    log(f"tokenizer.json == SiglipTokenizer on {len(texts)} texts")


# ============================================================================================
# models
# ============================================================================================


def random_model(kind: str, seed: int, vocab_size: int):
    import torch
    from transformers import SiglipConfig, SiglipModel

    g = GEOMETRIES[kind]
    text = dict(g["text"])
    if text["vocab_size"] is None:
        text["vocab_size"] = vocab_size
    # token ids as in SiglipTokenizer (transformers' defaults are CLIP's 49406/49407, unused by the model)
    text.update(families.TOKEN_IDS.get(kind, dict(pad_token_id=1, eos_token_id=1, bos_token_id=None)))
    config = SiglipConfig(text_config=text, vision_config=dict(g["vision"]))
    config.architectures = ["SiglipModel"]
    torch.manual_seed(seed)
    model = SiglipModel(config).eval()
    perturb_random_model(model, seed)
    return model


def perturb_random_model(model, seed: int) -> None:
    """Make a random model less degenerate than transformers' init (zero biases, unit LayerNorms).

    Parity tests on a model whose outputs barely depend on the input prove nothing, so: non-zero
    biases, non-trivial LayerNorm affine parameters, a stronger patch embedding and token embedding.
    """
    import torch

    gen = torch.Generator().manual_seed(seed + 7919)

    def rnd(t, std):
        return torch.randn(t.shape, generator=gen, dtype=t.dtype) * std

    with torch.no_grad():
        for name, mod in model.named_modules():
            if isinstance(mod, torch.nn.LayerNorm):
                mod.weight.copy_(1.0 + rnd(mod.weight, 0.2))
                mod.bias.copy_(rnd(mod.bias, 0.1))
            elif isinstance(mod, (torch.nn.Linear, torch.nn.Conv2d)) and mod.bias is not None:
                mod.bias.add_(rnd(mod.bias, 0.05))
        model.vision_model.embeddings.patch_embedding.weight.mul_(2.0)
        model.text_model.embeddings.token_embedding.weight.mul_(4.0)
        # sharper attention, so that the pooled (last, padding) text position depends on the words
        for tower, gain in ((model.text_model, 3.0), (model.vision_model.encoder, 2.0)):
            gain = deep_attention_gain(gain, tower.config.num_hidden_layers)
            for mod in tower.modules():
                if hasattr(mod, "q_proj") and hasattr(mod, "k_proj"):
                    mod.q_proj.weight.mul_(gain)
                    mod.k_proj.weight.mul_(gain)


def deep_attention_gain(gain: float, layers: int) -> float:
    """The q/k gain of a tower of `layers` layers: `gain` up to 4 layers, then shrunk towards 1.

    Sharpened attention compounds with depth. With the tiny models' text gain of 3 (attention
    logits 9× sharper) in all 27 layers of the so400m geometry, the random text tower is so
    ill-conditioned that its fp16 export loses the words (pooled cosine to fp32 0.94–0.99,
    measured at widths 64–1152), which no trained checkpoint does. Scaled as below, 27 layers keep
    fp16 pooled outputs within cosine 0.99999 of fp32 and texts still differ (mean pairwise cosine
    ≈ 0.4 at gain 1.5). Towers of up to 4 layers (every committed fixture) keep the gain as it was.
    """
    return 1.0 + (gain - 1.0) * min(1.0, 4.0 / layers)


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


def load_checkpoint(checkpoint: str):
    from transformers import SiglipModel

    model = SiglipModel.from_pretrained(checkpoint, attn_implementation="eager").eval()
    return model


def set_eager(model) -> None:
    try:
        model.set_attn_implementation("eager")
    except Exception:  # older transformers
        model.config._attn_implementation = "eager"


# ============================================================================================
# image helpers
# ============================================================================================


def pil_image_processor(source=None, image_size: int | None = None):
    """The PIL (slow) SiglipImageProcessor, never the torchvision "fast" one."""
    try:
        from transformers import SiglipImageProcessorPil as Cls  # transformers >= 5
    except ImportError:  # transformers 4.x: SiglipImageProcessor is the PIL one
        from transformers import SiglipImageProcessor as Cls
    if source is not None:
        proc = Cls.from_pretrained(source)
    else:
        proc = Cls(size={"height": image_size, "width": image_size}, resample=3, rescale_factor=1 / 255,
                   image_mean=[0.5, 0.5, 0.5], image_std=[0.5, 0.5, 0.5], do_resize=True, do_rescale=True,
                   do_normalize=True)
    if getattr(proc, "backend", "pil") != "pil":
        raise SystemExit(f"expected the PIL image processor, got {type(proc).__name__}")
    return proc


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


def image_files(d: Path) -> list[Path]:
    return sorted((p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)


# ============================================================================================
# ONNX export
# ============================================================================================


def save_onnx(model_proto, path: Path) -> None:
    import onnx

    if model_proto.ir_version > MAX_IR_VERSION:
        model_proto.ir_version = MAX_IR_VERSION
    data = path.with_name(path.name + "_data")
    if data.exists():
        data.unlink()
    if model_proto.ByteSize() > PROTOBUF_LIMIT:
        onnx.save_model(model_proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=data.name, size_threshold=1024)
    else:
        onnx.save_model(model_proto, str(path))


def export_tower(module, example, input_name: str, raw: Path) -> None:
    """torch.onnx.export of one tower into `raw`, as torch writes it (finish_onnx makes it final).

    Split from finish_onnx so that the caller can free the tower's PyTorch weights before the
    ONNX protobuf is loaded back: so400m's towers are 1.7–1.8 GB each, and holding the model, the
    exporter's copy and the loaded protobuf at once is what made its export need > 11 GB.
    """
    import torch

    class Wrapper(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, x):
            out = self.m(**{input_name: x})
            return out.last_hidden_state, out.pooler_output

    torch.onnx.export(
        Wrapper(module).eval(), (example,), str(raw),
        input_names=[input_name], output_names=["last_hidden_state", "pooler_output"],
        dynamic_axes={input_name: {0: "batch"}, "last_hidden_state": {0: "batch"},
                      "pooler_output": {0: "batch"}},
        opset_version=ONNX_OPSET, do_constant_folding=True, dynamo=False,
    )


def finish_onnx(raw: Path, path: Path) -> None:
    """Producer name, IR version cap, external data above the protobuf limit; then the ONNX checker.

    The checker reads the saved file (by path) rather than the in-memory protobuf, which it would
    serialise into one more copy of the weights.
    """
    import onnx

    proto = onnx.load(str(raw))  # loads external data too, if torch wrote any
    proto.producer_name = "siglip-batch tools/export"
    save_onnx(proto, path)
    del proto
    release_memory()
    onnx.checker.check_model(str(path), full_check=False)


def offload_parameters(module, path: Path) -> None:
    """Write a module's parameters to `path` and free them (empty tensors) until restore_parameters."""
    import torch

    torch.save({name: p.detach() for name, p in module.named_parameters()}, str(path))
    for p in module.parameters():
        p.data = torch.empty(0, dtype=p.dtype)
    release_memory()


def restore_parameters(module, path: Path) -> None:
    """The parameters offload_parameters wrote, bit for bit, back into the same module."""
    import torch

    saved = torch.load(str(path), weights_only=True)
    for name, p in module.named_parameters():
        p.data = saved.pop(name)
    path.unlink()


def release_memory() -> None:
    """Collect, then give freed heap pages back to the OS (glibc keeps them otherwise).

    Without the trim, the freed weights of a tower stay in the process's RSS and the next step's
    allocations come on top of them.
    """
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, musl): nothing to trim
        pass


def to_fp16(src: Path, dst: Path) -> None:
    """fp16 copy of an exported tower (float32 inputs/outputs).

    The converter is given the file's path, not a loaded protobuf: it then infers shapes file to
    file (infer_shapes_path) and loads the model once, instead of holding the protobuf and the copy
    that in-memory shape inference returns (and it works above protobuf's 2 GiB limit as well).
    """
    from onnxruntime.transformers.float16 import convert_float_to_float16

    proto16 = convert_float_to_float16(str(src), keep_io_types=True)
    save_onnx(proto16, dst)
    del proto16
    release_memory()


def check_onnx(path: Path, feed_name: str, x, ref: tuple, fp16: bool) -> dict:
    import numpy as np
    import onnx
    import onnxruntime as ort

    meta = onnx.load(str(path), load_external_data=False)
    opset = max(o.version for o in meta.opset_import if o.domain in ("", "ai.onnx"))
    ir_version = meta.ir_version
    del meta  # inline weights are loaded with it: not held while the session loads its own copy
    if ir_version > MAX_IR_VERSION or opset > 26:
        raise SystemExit(f"{path}: IR {ir_version} / opset {opset} too new for onnxruntime-node 1.30")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    ins = [(i.name, i.type, i.shape) for i in sess.get_inputs()]
    outs = [(o.name, o.type, o.shape) for o in sess.get_outputs()]
    got = sess.run(["last_hidden_state", "pooler_output"], {feed_name: x})
    res = {"file": path.name, "ir_version": ir_version, "opset": opset, "inputs": ins, "outputs": outs}
    for name, g, r in zip(("last_hidden_state", "pooler_output"), got, ref):
        if g.dtype != np.float32:
            raise SystemExit(f"{path}: {name} is {g.dtype}, expected float32")
    # Error relative to each output vector's norm + pooled cosine (why: verify_metrics.py).
    figures, problems = verify_metrics.compare_tower(dict(zip(("last_hidden_state", "pooler_output"), got)),
                                                     dict(zip(("last_hidden_state", "pooler_output"), ref)), fp16)
    res.update(figures)
    if problems:
        raise SystemExit(f"{path}: " + "; ".join(problems))
    log(f"  {path.name}: IR {ir_version}, opset {opset}, in {ins}, "
        f"max|diff| last_hidden_state {res['last_hidden_state_max_abs_diff']:.3g} "
        f"(max|x| {res['last_hidden_state_max_abs']:.3g}), pooler_output {res['pooler_output_max_abs_diff']:.3g} "
        f"(max|x| {res['pooler_output_max_abs']:.3g}), relative error {res['last_hidden_state_rel_err']:.3g} / "
        f"{res['pooler_output_rel_err']:.3g}, min cosine {res['pooler_min_cosine']:.8f}")
    return res


# ============================================================================================
# calibration of logit scale / bias for random models
# ============================================================================================


def calibrate_logits(model, tokenizer, proc, images: Path | None, labels: list[str], seed: int,
                     max_length: int) -> tuple[float, float]:
    """Pick logit_scale (raw, before exp) and logit_bias so that the sigmoid probabilities of the
    calibration images against the labels spread over (0, 1): logits ~ mean 0, std 2."""
    import numpy as np
    import torch
    from transformers.image_utils import load_image

    if images is not None:
        pil = [load_image(str(p)) for p in image_files(images)]
    else:
        rng = np.random.default_rng(seed)
        size = proc.size["height"]
        from PIL import Image
        pil = [Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(16)]
    with torch.no_grad():
        pv = torch.tensor(np.concatenate([proc(im, return_tensors="np")["pixel_values"] for im in pil]))
        img = model.get_image_features(pixel_values=pv).pooler_output
        ids = tokenizer([TEMPLATE.format(l) for l in labels], padding="max_length", max_length=max_length,
                        truncation=True, return_tensors="pt")["input_ids"]
        txt = model.get_text_features(input_ids=ids).pooler_output
    img = torch.nn.functional.normalize(img, dim=-1)
    txt = torch.nn.functional.normalize(txt, dim=-1)
    cos = (img @ txt.T).numpy().astype(np.float64)
    t = 2.0 / max(cos.std(), 1e-6)
    scale = round(math.log(t), 3)
    bias = round(-math.exp(scale) * cos.mean(), 3)
    if scale == 0:
        scale = 0.001
    if bias == 0:
        bias = -0.001
    log(f"calibration: cos mean {cos.mean():.4f} std {cos.std():.4f} min {cos.min():.4f} max {cos.max():.4f} "
        f"-> logit_scale {scale} (exp {math.exp(scale):.3f}), logit_bias {bias}")
    return scale, bias


def diversity_report(model, tokenizer, proc, images: Path | None, texts: list[str], max_length: int) -> None:
    import numpy as np
    import torch
    from transformers.image_utils import load_image

    with torch.no_grad():
        if images is not None:
            pv = torch.tensor(np.concatenate([proc(load_image(str(p)), return_tensors="np")["pixel_values"]
                                              for p in image_files(images)]))
            e = torch.nn.functional.normalize(model.get_image_features(pixel_values=pv).pooler_output, dim=-1)
            c = (e @ e.T).numpy()
            off = c[~np.eye(len(c), dtype=bool)]
            log(f"image-image cosine (off-diagonal): mean {off.mean():.3f} min {off.min():.3f} max {off.max():.3f}")
        ids = tokenizer(texts, padding="max_length", max_length=max_length, truncation=True,
                        return_tensors="pt")["input_ids"]
        e = torch.nn.functional.normalize(model.get_text_features(input_ids=ids).pooler_output, dim=-1)
        c = (e @ e.T).numpy()
        off = c[~np.eye(len(c), dtype=bool)]
        log(f"text-text cosine (off-diagonal): mean {off.mean():.3f} min {off.min():.3f} max {off.max():.3f}")


# ============================================================================================
# export
# ============================================================================================


def export(args) -> None:
    import numpy as np
    import torch

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / "onnx").mkdir(exist_ok=True)
    for stale in (out / "onnx").iterdir():
        stale.unlink()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gemma = families.is_gemma(args.random) or (not args.random and families.checkpoint_is_gemma(args.checkpoint))
        if args.random and gemma:
            spiece = tmp / "tokenizer.model"  # Gemma-style BPE (gemma_tokenizer.py)
            gemma_tokenizer.train_gemma_spm(spiece, args.vocab or families.VOCAB[args.random], args.seed)
        elif args.random:
            spiece = tmp / "spiece.model"
            train_spiece(spiece, args.vocab or families.VOCAB.get(args.random, TOKENIZER_VOCAB), args.seed,
                         families.unigram_corpora(args.random))
        if args.random:
            import sentencepiece as spm

            n_pieces = spm.SentencePieceProcessor(model_file=str(spiece)).get_piece_size()
            model = random_model(args.random, args.seed, n_pieces)
            proc = pil_image_processor(image_size=model.config.vision_config.image_size)
            checkpoint_id = f"random:{args.random}:seed={args.seed}"
        else:
            model = load_checkpoint(args.checkpoint)
            proc = pil_image_processor(source=args.checkpoint)
            spiece = None if gemma else resolve_spiece(args.checkpoint, tmp)
            checkpoint_id = args.checkpoint if not Path(args.checkpoint).is_dir() else Path(args.checkpoint).resolve().name
        set_eager(model)
        cfg = model.config
        text_len = int(cfg.text_config.max_position_embeddings)
        image_size = int(cfg.vision_config.image_size)
        if gemma:  # tokenizer.json is the tokenizer: write it first, then load Siglip2Tokenizer from it
            tok_dir = tmp / "tokenizer"
            tok_dir.mkdir()
            if args.random:
                gemma_tokenizer.write_siglip2_tokenizer_files(spiece, tok_dir, text_len)
            else:
                for f in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
                    src = families.checkpoint_tokenizer_file(args.checkpoint, f)
                    if src is not None:
                        shutil.copyfile(src, tok_dir / f)
            tokenizer = gemma_tokenizer.siglip2_tokenizers(tok_dir)[0]
        else:
            tokenizer = slow_tokenizer(spiece, text_len)

        if args.random:
            labels = json.loads(Path(args.calibrate_labels).read_text()) if args.calibrate_labels else \
                ["cat", "dog", "astronaut", "rocket", "cup of coffee", "bicycle", "mountain", "city at night"]
            scale, bias = calibrate_logits(model, tokenizer, proc, args.calibrate_images, labels, args.seed, text_len)
            with torch.no_grad():
                model.logit_scale.fill_(scale)
                model.logit_bias.fill_(bias)
            diversity_report(model, tokenizer, proc, args.calibrate_images,
                             [TEMPLATE.format(l) for l in labels] + sample_texts(), text_len)

        logit_scale = f32(model.logit_scale.detach().reshape(-1)[0].item())
        logit_bias = f32(model.logit_bias.detach().reshape(-1)[0].item())
        if logit_scale == 0 and logit_bias == 0:
            log("warning: logit_scale and logit_bias are both 0 (an untrained checkpoint?)")

        # --- config / processor / tokenizer files
        (out / "config.json").write_text(config_json(cfg))
        (out / "preprocessor_config.json").write_text(json.dumps(preprocessor_config(proc), indent=2) + "\n")
        verify = sample_texts() + (json.loads(Path(args.verify_texts).read_text()) if args.verify_texts else [])
        if gemma:
            for f in tok_dir.iterdir():
                shutil.copyfile(f, out / f.name)
            gemma_tokenizer.check_siglip2_tokenizer(out, verify)
        else:
            write_tokenizer_files(spiece, out, text_len)
            verify_tokenizer(out, verify, text_len)

        # --- ONNX
        gen = torch.Generator().manual_seed(1234)
        pix_export = torch.rand((2, 3, image_size, image_size), generator=gen) * 2 - 1
        pix_check = torch.rand((3, 3, image_size, image_size), generator=gen) * 2 - 1
        ids_export = torch.randint(0, cfg.text_config.vocab_size, (2, text_len), generator=gen)
        ids_check = tokenizer(sample_texts()[:5], padding="max_length", max_length=text_len, truncation=True,
                              return_tensors="pt")["input_ids"]
        with torch.no_grad():
            v = model.vision_model(pixel_values=pix_check)
            t = model.text_model(input_ids=ids_check)
        vref = (v.last_hidden_state.numpy(), v.pooler_output.numpy())
        tref = (t.last_hidden_state.numpy(), t.pooler_output.numpy())

        del v, t
        if args.save_checkpoint:  # before the ONNX export: the towers are freed one by one during it
            save_checkpoint(args.save_checkpoint, model, tokenizer, proc, gemma, tmp / "tokenizer", spiece)

        # One tower in memory at a time: torch's exporter holds ~4× the tower it exports (folded
        # weight copies, the serialised protobuf twice), so the text tower waits on disk while the
        # vision tower is exported, each tower is freed once torch has written it, and the protobufs
        # are loaded back, checked and converted without any PyTorch weights (tools/export/README.md,
        # Memory).
        offload_parameters(model.text_model, tmp / "text_model.pt")
        log("exporting vision tower ...")
        export_tower(model.vision_model, pix_export, "pixel_values", tmp / "vision_model.onnx")
        del model.vision_model
        release_memory()
        restore_parameters(model.text_model, tmp / "text_model.pt")
        log("exporting text tower ...")
        export_tower(model.text_model, ids_export, "input_ids", tmp / "text_model.onnx")
        del model
        release_memory()
        for name in ("vision_model", "text_model"):
            finish_onnx(tmp / f"{name}.onnx", out / "onnx" / f"{name}.onnx")
            for raw in tmp.glob(f"{name}.onnx*"):  # the raw file, and external data if torch wrote any
                raw.unlink()
        checks = [
            check_onnx(out / "onnx" / "vision_model.onnx", "pixel_values", pix_check.numpy(), vref, False),
            check_onnx(out / "onnx" / "text_model.onnx", "input_ids", ids_check.numpy().astype(np.int64), tref, False),
        ]
        variants = ["fp32"]
        if args.fp16:
            log("converting to fp16 ...")
            to_fp16(out / "onnx" / "vision_model.onnx", out / "onnx" / "vision_model_fp16.onnx")
            to_fp16(out / "onnx" / "text_model.onnx", out / "onnx" / "text_model_fp16.onnx")
            checks += [
                check_onnx(out / "onnx" / "vision_model_fp16.onnx", "pixel_values", pix_check.numpy(), vref, True),
                check_onnx(out / "onnx" / "text_model_fp16.onnx", "input_ids", ids_check.numpy().astype(np.int64),
                           tref, True),
            ]
            variants.append("fp16")

        sidecar = {
            "format": SIDECAR_FORMAT,
            "checkpoint": checkpoint_id,
            "logit_scale": logit_scale,
            "logit_bias": logit_bias,
            "embed_dim": int(cfg.vision_config.hidden_size),
            "image_size": image_size,
            "text_length": text_len,
            "content_hash": content_hash(out),
            "variants": variants,
        }
        (out / SIDECAR).write_text(json.dumps(sidecar, indent=2) + "\n")
        log(json.dumps(sidecar, indent=2))


def save_checkpoint(ck: Path, model, tokenizer, proc, gemma: bool, tok_dir: Path, spiece: Path | None) -> None:
    """save_pretrained of model + tokenizer + image processor, which --reference loads."""
    if ck.exists():
        shutil.rmtree(ck)
    ck.mkdir(parents=True)
    model.save_pretrained(str(ck))
    if gemma:
        for f in tok_dir.iterdir():
            shutil.copyfile(f, ck / f.name)
    else:
        tokenizer.save_pretrained(str(ck))
        shutil.copyfile(spiece, ck / "spiece.model")
    (ck / "preprocessor_config.json").write_text(json.dumps(preprocessor_config(proc), indent=2) + "\n")
    log(f"PyTorch checkpoint saved to {ck}")


def resolve_spiece(checkpoint: str, tmp: Path) -> Path:
    p = Path(checkpoint)
    if p.is_dir():
        if not (p / "spiece.model").is_file():
            raise SystemExit(f"{checkpoint}: no spiece.model")
        return p / "spiece.model"
    from huggingface_hub import hf_hub_download

    return Path(hf_hub_download(checkpoint, "spiece.model"))


def sample_texts() -> list[str]:
    return [
        "This is a photo of a cat.", "a dog", "An astronaut riding a horse on the moon", "", "   ",
        "Café au lait — naïve résumé!", "UPPER case and MiXeD", "tabs\tand\nnewlines  and   spaces",
        "日本語のテキスト", "emoji 🐱🚀", "numbers 123 4.5 6,7", "a very long sentence that will certainly be "
        "truncated because it has far more tokens than the sixteen positions of the text tower allow",
        "punctuation!!! ??? ... (brackets) [x] {y} \"quotes\" 'single'", "▁metaspace▁char", "ÅNGSTRÖM Ærø",
    ]


# ============================================================================================
# reference mode
# ============================================================================================


def reference(args) -> None:
    import numpy as np
    import PIL
    import torch
    import transformers
    from PIL import Image
    from transformers import SiglipModel, SiglipTokenizer
    from transformers.image_utils import load_image

    out: Path = args.out
    if out.exists():
        shutil.rmtree(out)
    (out / "pixels").mkdir(parents=True)

    model = SiglipModel.from_pretrained(args.checkpoint, attn_implementation="eager").eval()
    proc = pil_image_processor(source=args.checkpoint)
    text_len = int(model.config.text_config.max_position_embeddings)
    gemma = families.checkpoint_is_gemma(args.checkpoint)
    tokenizer = gemma_tokenizer.siglip2_tokenizers(args.checkpoint)[0] if gemma else \
        SiglipTokenizer.from_pretrained(args.checkpoint)
    if not gemma and type(tokenizer).__name__ != "SiglipTokenizer":
        raise SystemExit(f"expected the slow SiglipTokenizer, got {type(tokenizer).__name__}")
    logit_scale = model.logit_scale.detach().reshape(-1)[0].item()
    logit_bias = model.logit_bias.detach().reshape(-1)[0].item()

    texts = json.loads(Path(args.texts).read_text(encoding="utf-8"))
    labels = json.loads(Path(args.labels).read_text(encoding="utf-8"))
    assert all(isinstance(t, str) for t in texts) and all(isinstance(l, str) for l in labels)

    def text_embeds(strings):
        enc = tokenizer(strings, padding="max_length", max_length=text_len, truncation=True, return_tensors="pt")
        with torch.no_grad():
            e = model.get_text_features(input_ids=enc["input_ids"]).pooler_output
        return enc["input_ids"], torch.nn.functional.normalize(e, dim=-1)

    prompts = [TEMPLATE.format(l) for l in labels]
    label_ids, label_emb = text_embeds(prompts)
    scale = math.exp(logit_scale)

    images = []
    mean, std = np.asarray(proc.image_mean, np.float32), np.asarray(proc.image_std, np.float32)
    wanted = set(json.loads(args.image_list.read_text())) if args.image_list else None
    for path in (p for p in image_files(args.images) if wanted is None or p.name in wanted):
        src = Image.open(path)
        src_info = {"format": src.format, "mode": src.mode, "size": list(src.size),
                    "n_frames": getattr(src, "n_frames", 1), "icc_profile": bool(src.info.get("icc_profile")),
                    "exif_orientation": src.getexif().get(0x0112)}
        img = load_image(str(path))  # EXIF transpose + convert("RGB")
        pv = proc(img, return_tensors="np")["pixel_values"]  # [1, 3, H, W] float32
        pixel_png = out / "pixels" / (path.name + ".png")
        u8 = verify_and_store_pixels(pv[0], mean, std, float(proc.rescale_factor), pixel_png)
        with torch.no_grad():
            emb = model.get_image_features(pixel_values=torch.tensor(pv)).pooler_output
            emb = torch.nn.functional.normalize(emb, dim=-1)
            logits = scale * (emb @ label_emb.T) + logit_bias
            probs = torch.sigmoid(logits)[0]
            # cross-check against SiglipModel.forward's own logits
            fwd = model(input_ids=label_ids, pixel_values=torch.tensor(pv))
            assert torch.allclose(torch.sigmoid(fwd.logits_per_image[0]), probs, atol=1e-6)
        row = {
            "file": path.name,
            "width": img.size[0], "height": img.size[1],  # after EXIF orientation
            "source": src_info,
            "pixels": f"pixels/{pixel_png.name}",
            "pixels_sha256": hashlib.sha256(u8.tobytes()).hexdigest(),
            "embedding": float32_list(emb[0]),
            "probs": float32_list(probs),
            "logits": float32_list(logits[0]),
        }
        if src.mode == "CMYK":
            row["pillow_quirk"] = ("CMYK without ICC profile: Pillow converts R = (255-C)(255-K)/255 etc. with no colour "
                                   "management; a colour-managed decoder (libvips/sharp) goes through a CMYK profile")
        if src_info["icc_profile"]:
            row["pillow_quirk"] = "embedded ICC profile is ignored by Pillow: the stored values are used as sRGB"
        alt = corrected_image(path)
        if alt is not None:
            alt_img, reason = alt
            alt_pv = proc(alt_img, return_tensors="np")["pixel_values"]
            alt_png = out / "pixels" / (path.name + ".alt.png")
            verify_and_store_pixels(alt_pv[0], mean, std, float(proc.rescale_factor), alt_png)
            with torch.no_grad():
                e = model.get_image_features(pixel_values=torch.tensor(alt_pv)).pooler_output
                e = torch.nn.functional.normalize(e, dim=-1)
                lg = scale * (e @ label_emb.T) + logit_bias
            row["pillow_quirk"] = reason
            row["alt"] = {"pixels": f"pixels/{alt_png.name}", "embedding": float32_list(e[0]),
                          "probs": float32_list(torch.sigmoid(lg)[0]), "logits": float32_list(lg[0])}
        images.append(row)
        log(f"  {path.name}: {img.size[0]}x{img.size[1]} probs {[round(float(p), 3) for p in probs]}")

    text_ids, text_emb = text_embeds(texts)
    text_rows = []
    for i, t in enumerate(texts):
        unpadded = tokenizer(t, add_special_tokens=True)["input_ids"]
        text_rows.append({
            "text": t,
            **({} if gemma else {"canonical": canonicalize(t)}),
            "input_ids": [int(x) for x in text_ids[i]],
            "n_tokens": min(len(unpadded), text_len),  # real tokens incl. EOS, after truncation
            "truncated": len(unpadded) > text_len,
            "embedding": float32_list(text_emb[i]),
        })

    ref = {
        "format": 1,
        "checkpoint": args.checkpoint_id or Path(args.checkpoint).name,
        "template": TEMPLATE,
        "labels": labels,
        "label_prompts": prompts,
        "label_input_ids": [[int(x) for x in row] for row in label_ids],
        "label_embeddings": [float32_list(r) for r in label_emb],
        "logit_scale": f32(logit_scale),
        "logit_bias": f32(logit_bias),
        "text_length": text_len,
        "image_size": {"height": int(proc.size["height"]), "width": int(proc.size["width"])},
        "pixel_values": "pixel_values = (png_u8 * rescale_factor - mean) / std, channels first, float32; "
                        "png = pixels/<file>.png (the resized uint8 RGB image)",
        "rescale_factor": float(proc.rescale_factor),
        "image_mean": [float(v) for v in proc.image_mean],
        "image_std": [float(v) for v in proc.image_std],
        "images": images,
        "texts": text_rows,
        "versions": {"python": sys.version.split()[0], "transformers": transformers.__version__,
                     "torch": torch.__version__, "pillow": PIL.__version__, "numpy": np.__version__,
                     "sentencepiece": __import__("sentencepiece").__version__},
        "image_processor": type(proc).__name__,
        "tokenizer": type(tokenizer).__name__,
    }
    if gemma:  # tokenizer.json is the tokenizer: record Python's ids for the edge cases instead
        strings = json.loads(args.tokenizer_strings.read_text(encoding="utf-8")) if args.tokenizer_strings else []
        ref["tokenizer_cases"] = families.tokenizer_cases(args.checkpoint, strings, text_len)
        ref["padding_side"] = tokenizer.padding_side
    else:
        check_tokenizer_json_against_reference(args.model_dir or args.checkpoint, ref)
    if args.model_dir:
        del model  # the ONNX sessions below (fp32, then fp16) do not need the PyTorch weights beside them
        release_memory()
        sc = json.loads((args.model_dir / SIDECAR).read_text())
        ref["model_content_hash"] = sc["content_hash"]
        if abs(sc["logit_scale"] - ref["logit_scale"]) > 0 or abs(sc["logit_bias"] - ref["logit_bias"]) > 0:
            raise SystemExit("sidecar logit_scale/bias differ from the checkpoint's")
        check_reference_against_onnx(args.model_dir, ref, out)
    (out / "reference.json").write_text(json.dumps(ref, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"reference: {len(images)} images, {len(text_rows)} texts, {len(labels)} labels -> {out}")


def corrected_image(path: Path):
    """Where Pillow's own decoding is wrong, the picture as it should be (for an "alt" reference).

    16-bit greyscale: Pillow's convert("RGB") clips the 16-bit values at 255 (an almost white
    picture); the correct 8-bit picture takes the high byte (v >> 8, what Pillow itself does for
    16-bit RGB PNGs and what libvips does for 16-bit grey).
    """
    import numpy as np
    from PIL import Image, ImageOps

    src = Image.open(path)
    if src.mode in ("I;16", "I;16B", "I;16L", "I;16N"):
        src = ImageOps.exif_transpose(src)
        arr = (np.asarray(src).astype(np.uint32) >> 8).astype(np.uint8)
        return (Image.fromarray(arr).convert("RGB"),
                "16-bit greyscale: Pillow clips values > 255 to white; 'alt' uses the high byte (v >> 8)")
    return None


def verify_and_store_pixels(pv, mean, std, rescale: float, png: Path):
    """pixel_values are (u8 * rescale - mean) / std of a uint8 image: recover it, check, store as PNG."""
    import numpy as np
    from PIL import Image

    u8f = np.rint(((pv * std[:, None, None]) + mean[:, None, None]) / rescale)
    if u8f.min() < 0 or u8f.max() > 255:
        raise SystemExit(f"{png.name}: pixel values out of uint8 range")
    u8 = u8f.astype(np.uint8)  # [3, H, W]
    rec = reconstruct_pixel_values(u8, mean, std, rescale)
    err = float(np.abs(rec - pv).max())
    if err > 1e-6:
        raise SystemExit(f"{png.name}: uint8 reconstruction error {err} > 1e-6")
    hwc = np.ascontiguousarray(u8.transpose(1, 2, 0))
    Image.fromarray(hwc, "RGB").save(png, optimize=True)  # no iCCP / gAMA / sRGB chunks
    back = np.asarray(Image.open(png).convert("RGB"))
    assert back.shape == hwc.shape and np.array_equal(back, hwc)
    return hwc


def reconstruct_pixel_values(u8, mean, std, rescale):
    import numpy as np

    x = u8.astype(np.float32) * np.float32(rescale)
    return ((x - mean[:, None, None]) / std[:, None, None]).astype(np.float32)


def tokenizer_json_ids(tok, text: str, length: int) -> list[int]:
    """The algorithm a tokenizer.json user must apply: canonicalise, encode (appends </s>),
    truncate keeping </s> last, pad with </s> (id 1) to exactly `length`."""
    ids = tok.encode(canonicalize(text)).ids
    if len(ids) > length:
        ids = ids[: length - 1] + [ids[-1]]
    return ids + [1] * (length - len(ids))


def check_tokenizer_json_against_reference(directory, ref: dict) -> None:
    """Checks the exported tokenizer.json (or one converted from the checkpoint's spiece.model)."""
    from tokenizers import Tokenizer

    checkpoint = Path(directory)
    p = checkpoint / "tokenizer.json"
    if not p.is_file():
        with tempfile.TemporaryDirectory() as tmp:
            write_tokenizer_files(Path(checkpoint) / "spiece.model", Path(tmp), ref["text_length"])
            tok = Tokenizer.from_file(str(Path(tmp) / "tokenizer.json"))
    else:
        tok = Tokenizer.from_file(str(p))
    rows = [(t["text"], t["input_ids"]) for t in ref["texts"]] + list(zip(ref["label_prompts"], ref["label_input_ids"]))
    bad = [(t, want) for t, want in rows if tokenizer_json_ids(tok, t, ref["text_length"]) != want]
    for t, want in bad[:10]:
        log(f"  tokenizer.json mismatch {t!r}: {tokenizer_json_ids(tok, t, ref['text_length'])} != {want}")
    if bad:
        raise SystemExit(f"tokenizer.json + canonicalisation differs from SiglipTokenizer on {len(bad)} texts")
    log(f"tokenizer.json (canonicalise, encode, truncate, pad) == SiglipTokenizer on {len(rows)} texts")


def check_reference_against_onnx(model_dir: Path, ref: dict, out: Path) -> None:
    """The exported ONNX towers must reproduce the reference embeddings from the stored pixels / ids."""
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    mean, std = np.asarray(ref["image_mean"], np.float32), np.asarray(ref["image_std"], np.float32)
    for variant in ("", "_fp16"):
        vpath = model_dir / "onnx" / f"vision_model{variant}.onnx"
        tpath = model_dir / "onnx" / f"text_model{variant}.onnx"
        if not vpath.exists():
            continue
        vs = ort.InferenceSession(str(vpath), providers=["CPUExecutionProvider"])
        ts = ort.InferenceSession(str(tpath), providers=["CPUExecutionProvider"])
        pix = np.stack([
            reconstruct_pixel_values(np.asarray(Image.open(out / im["pixels"]).convert("RGB")).transpose(2, 0, 1),
                                     mean, std, ref["rescale_factor"]) for im in ref["images"]])
        pooled = vs.run(["pooler_output"], {"pixel_values": pix})[0]
        emb = pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
        want = np.asarray([im["embedding"] for im in ref["images"]], np.float32)
        d_img = float(np.abs(emb - want).max())
        cos_img = verify_metrics.min_cosine(emb, want)
        ids = np.asarray([t["input_ids"] for t in ref["texts"]], np.int64)
        tp = ts.run(["pooler_output"], {"input_ids": ids})[0]
        temb = tp / np.linalg.norm(tp, axis=-1, keepdims=True)
        twant = np.asarray([t["embedding"] for t in ref["texts"]], np.float32)
        d_txt = float(np.abs(temb - twant).max())
        cos_txt = verify_metrics.min_cosine(temb, twant)
        lp = ts.run(["pooler_output"], {"input_ids": np.asarray(ref["label_input_ids"], np.int64)})[0]
        lemb = lp / np.linalg.norm(lp, axis=-1, keepdims=True)
        probs = 1 / (1 + np.exp(-(np.exp(ref["logit_scale"]) * emb @ lemb.T + ref["logit_bias"])))
        d_p = float(np.abs(probs - np.asarray([im["probs"] for im in ref["images"]])).max())
        log(f"ONNX{variant or ' fp32'} vs reference: image emb max|diff| {d_img:.3g}, text emb {d_txt:.3g}, "
            f"probs {d_p:.3g}; min cosine image {cos_img:.8f}, text {cos_txt:.8f}")
        ref.setdefault("onnx_check", {})[variant.lstrip("_") or "fp32"] = {
            "image_embedding_max_abs_diff": d_img, "text_embedding_max_abs_diff": d_txt, "probs_max_abs_diff": d_p}
        del vs, ts  # not beside the next variant's sessions
        problems = verify_metrics.compare_reference(variant.lstrip("_") or "fp32", cos_img, cos_txt, d_p)
        if problems:
            raise SystemExit(f"ONNX{variant} differs from the reference: " + "; ".join(problems))


# ============================================================================================


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
