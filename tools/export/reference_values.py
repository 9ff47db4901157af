"""Reference mode: embeddings and probabilities from transformers' own Python code.

The PIL image processor and the slow tokenizer on the fixture images, texts and labels; the
resized pixels stored as PNGs; the tokenizer.json algorithm and the exported ONNX towers checked
against the result; everything written to reference.json.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import tempfile
from pathlib import Path

import families  # beside this file: SigLIP 2 / multilingual geometries and tokenizers
import gemma_tokenizer
import verify_metrics
from export_common import TEMPLATE, f32, float32_list, image_files, log, pil_image_processor
from model_dir import SIDECAR
from onnx_export import release_memory
from siglip_tokenizer import canonicalize, write_tokenizer_files


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
