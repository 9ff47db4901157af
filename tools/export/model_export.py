"""Export mode: a checkpoint or a random model to a complete siglip-batch model directory.

Loads or builds the model and its tokenizer, writes config, processor and tokenizer files, exports
and checks the ONNX towers (fp32, optionally fp16) and writes the sidecar with the content hash.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import families  # beside this file: SigLIP 2 / multilingual geometries and tokenizers
import gemma_tokenizer
from export_common import TEMPLATE, f32, log, pil_image_processor, sample_texts
from model_dir import SIDECAR, SIDECAR_FORMAT, config_json, content_hash, preprocessor_config
from onnx_export import (check_onnx, export_tower, finish_onnx, offload_parameters, release_memory,
                         restore_parameters, to_fp16)
from random_models import TOKENIZER_VOCAB, calibrate_logits, diversity_report, random_model
from siglip_tokenizer import slow_tokenizer, train_spiece, verify_tokenizer, write_tokenizer_files


def load_checkpoint(checkpoint: str):
    from transformers import SiglipModel

    model = SiglipModel.from_pretrained(checkpoint, attn_implementation="eager").eval()
    return model


def set_eager(model) -> None:
    try:
        model.set_attn_implementation("eager")
    except Exception:  # older transformers
        model.config._attn_implementation = "eager"


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
