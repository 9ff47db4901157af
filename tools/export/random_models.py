"""Random-initialised SigLIP models of a known geometry, for fixtures and benchmarks.

The geometries (tiny, base, so400m, and families.py's), the seeded model with its weights made
less degenerate than transformers' init, and the logit scale / bias calibrated so that the
sigmoid probabilities spread over (0, 1).
"""

from __future__ import annotations

import math
from pathlib import Path

import families  # beside this file: SigLIP 2 / multilingual geometries and tokenizers
from export_common import TEMPLATE, image_files, log


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
