"""How an exported ONNX tower is compared with the PyTorch model it came from.

A bound on the largest absolute difference, scaled by the largest reference value, does not hold
for deep models: rounding in float32 grows with every layer, and one large activation channel (real
checkpoints have them) sets the scale for every other channel. 27 layers of so400m in float32 give
8e-4 on a largest value of 4.7 — correct, and 1.7x over a 1e-4-relative bound.

So every output vector (one token of `last_hidden_state`, one row of `pooler_output`) is compared by
the error relative to its own norm:

    rel_err(g, r) = ||g - r||_2 / ||r||_2        (per vector, the worst vector counts)

and the pooled output (what becomes the embedding) by its cosine as well. The relative error sees
what the cosine cannot (a tower that scales its output); the cosine is the quantity downstream code
uses. float32 bounds: rel_err <= 1e-3 everywhere and pooled cosine >= 0.9999; float16 (weights and
compute in half precision, ~3 decimal digits per operation): pooled cosine >= 0.99 and pooled
rel_err <= 0.15. `test_verify_metrics.py` shows that deliberately wrong exports (a weight 1 % off,
a dropped bias, a wrong attention scale, a scaled head, an edited graph) fail these bounds while
the correct export passes; the so400m geometry's correct fp32 text tower measures 1.9e-4.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

FP32_MAX_REL_ERR = 1e-3
FP32_MIN_POOLED_COSINE = 0.9999
FP16_MAX_POOLED_REL_ERR = 0.15
FP16_MIN_POOLED_COSINE = 0.99


@dataclass(frozen=True)
class Bounds:
    max_rel_err: float | None  # every vector of every output; None: not bounded (fp16 hidden states)
    max_pooled_rel_err: float
    min_pooled_cosine: float


FP32 = Bounds(FP32_MAX_REL_ERR, FP32_MAX_REL_ERR, FP32_MIN_POOLED_COSINE)
FP16 = Bounds(None, FP16_MAX_POOLED_REL_ERR, FP16_MIN_POOLED_COSINE)


def _rows(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, np.float64).reshape(-1, x.shape[-1])


def rel_err(got: np.ndarray, ref: np.ndarray) -> float:
    """Largest ||g - r|| / ||r|| over the vectors along the last axis."""
    g, r = _rows(got), _rows(ref)
    norm = np.linalg.norm(r, axis=-1)
    # A zero reference vector is compared absolutely (never happens after a LayerNorm with bias).
    return float((np.linalg.norm(g - r, axis=-1) / np.where(norm > 0, norm, 1.0)).max())


def min_cosine(got: np.ndarray, ref: np.ndarray) -> float:
    g, r = _rows(got), _rows(ref)
    denom = np.linalg.norm(g, axis=-1) * np.linalg.norm(r, axis=-1)
    return float(((g * r).sum(-1) / np.where(denom > 0, denom, 1.0)).min())


def compare_tower(got: dict[str, np.ndarray], ref: dict[str, np.ndarray], fp16: bool) -> tuple[dict, list[str]]:
    """Figures for `last_hidden_state` and `pooler_output`, and the list of violated bounds."""
    bounds = FP16 if fp16 else FP32
    figures: dict[str, float] = {}
    problems: list[str] = []
    for name in ("last_hidden_state", "pooler_output"):
        g, r = got[name], ref[name]
        if g.shape != r.shape:
            problems.append(f"{name}: shape {g.shape}, expected {r.shape}")
            continue
        if not np.all(np.isfinite(g)):
            problems.append(f"{name}: non-finite values")
            continue
        figures[f"{name}_max_abs_diff"] = float(np.abs(g.astype(np.float64) - r).max())
        figures[f"{name}_max_abs"] = float(np.abs(r).max())
        figures[f"{name}_rel_err"] = rel_err(g, r)
        limit = bounds.max_pooled_rel_err if name == "pooler_output" else bounds.max_rel_err
        if limit is not None and figures[f"{name}_rel_err"] > limit:
            problems.append(f"{name}: relative error {figures[f'{name}_rel_err']:.3g} > {limit}")
    if "pooler_output_rel_err" in figures:
        figures["pooler_min_cosine"] = min_cosine(got["pooler_output"], ref["pooler_output"])
        if figures["pooler_min_cosine"] < bounds.min_pooled_cosine:
            problems.append(f"pooler_output: cosine {figures['pooler_min_cosine']:.8f} < {bounds.min_pooled_cosine}")
    return figures, problems


# Exported embeddings and probabilities against reference mode's transformers values (normalised
# embeddings, so no scale to see: cosine only). Probability bounds = the TypeScript parity bounds.
REFERENCE_BOUNDS = {
    "fp32": {"min_cosine": FP32_MIN_POOLED_COSINE, "max_prob_diff": 1e-3},
    "fp16": {"min_cosine": 0.999, "max_prob_diff": 2e-2},
}


def compare_reference(variant: str, image_cos: float, text_cos: float, prob_diff: float) -> list[str]:
    b = REFERENCE_BOUNDS[variant]
    problems = []
    for what, cos in (("image embedding", image_cos), ("text embedding", text_cos)):
        if cos < b["min_cosine"]:
            problems.append(f"{what} cosine {cos:.8f} < {b['min_cosine']}")
    if prob_diff > b["max_prob_diff"]:
        problems.append(f"probabilities max |diff| {prob_diff:.3g} > {b['max_prob_diff']}")
    return problems
