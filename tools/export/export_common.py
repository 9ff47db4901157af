"""Helpers shared by siglip_export.py's export and reference modes.

The stderr log, the label prompt template, the sample texts every export checks its tokenizer on,
float32 values written as the shortest decimals that round-trip, and the image side as
transformers' PIL image processor sees it.
"""

from __future__ import annotations

import sys
from pathlib import Path

TEMPLATE = "This is a photo of {}."


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def float32_list(t) -> list[float]:
    """float32 values as the shortest decimal strings that round-trip through float32."""
    import numpy as np

    arr = np.asarray(t, dtype=np.float32).ravel()
    return [float(np.format_float_positional(v, unique=True, trim="-")) if np.isfinite(v) else float(v)
            for v in arr]


def f32(x: float) -> float:
    import numpy as np

    return float(np.format_float_positional(np.float32(x), unique=True, trim="-"))


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


def image_files(d: Path) -> list[Path]:
    return sorted((p for p in d.iterdir() if p.is_file() and not p.name.startswith(".")), key=lambda p: p.name)


def sample_texts() -> list[str]:
    return [
        "This is a photo of a cat.", "a dog", "An astronaut riding a horse on the moon", "", "   ",
        "Café au lait — naïve résumé!", "UPPER case and MiXeD", "tabs\tand\nnewlines  and   spaces",
        "日本語のテキスト", "emoji 🐱🚀", "numbers 123 4.5 6,7", "a very long sentence that will certainly be "
        "truncated because it has far more tokens than the sixteen positions of the text tower allow",
        "punctuation!!! ??? ... (brackets) [x] {y} \"quotes\" 'single'", "▁metaspace▁char", "ÅNGSTRÖM Ærø",
    ]
