"""Random-model geometries of the other SigLIP families, and what differs for them.

- tiny-siglip2: a fixed-resolution SigLIP 2 (google/siglip2-base-patch16-224 ...): a SiglipModel
  with Gemma's tokenizer (BPE, byte fallback, <pad>=0 <eos>=1 <bos>=2 <unk>=3), 64 text positions,
  tokenised by transformers' Siglip2Tokenizer (lower-case) - see gemma_tokenizer.py.
- tiny-multilingual: google/siglip-base-patch16-256-multilingual's distinguishing features:
  256 px images, patch 16, 64 text positions, a SentencePiece unigram vocabulary trained on
  many scripts (tokenised by SiglipTokenizer). The real vocabulary has 250k pieces; ours is
  small so that the fixture stays small (the embedding table is vocab x width).

Widths stay tiny (32, 2 layers) like the "tiny" geometry.
"""

from __future__ import annotations

from pathlib import Path

import gemma_tokenizer

HERE = Path(__file__).resolve().parent
TINY_TOWER = dict(hidden_size=32, intermediate_size=128, num_hidden_layers=2, num_attention_heads=2)

GEOMETRIES = {
    "tiny-siglip2": dict(
        vision=dict(TINY_TOWER, image_size=224, patch_size=16),
        text=dict(TINY_TOWER, max_position_embeddings=64, vocab_size=None),
    ),
    "tiny-multilingual": dict(
        vision=dict(TINY_TOWER, image_size=256, patch_size=16),
        text=dict(TINY_TOWER, max_position_embeddings=64, vocab_size=None),
    ),
}

# token ids recorded in text_config (the model does not use them; the tokenizer's layout)
TOKEN_IDS = {
    "tiny-siglip2": dict(pad_token_id=0, eos_token_id=1, bos_token_id=2),
}

# tokenizer of each random geometry: "gemma" (BPE, byte fallback) or a unigram corpus
TOKENIZER = {"tiny-siglip2": "gemma", "tiny-multilingual": "multilingual"}
VOCAB = {"tiny-siglip2": gemma_tokenizer.GEMMA_VOCAB, "tiny-multilingual": 2000}


def is_gemma(kind: str | None) -> bool:
    return TOKENIZER.get(kind or "") == "gemma"


def unigram_corpora(kind: str | None) -> tuple[Path, ...]:
    """Corpora of a random model's SentencePiece unigram tokenizer."""
    if TOKENIZER.get(kind or "") == "multilingual":
        return (HERE / "corpus.txt", HERE / "corpus-multilingual.txt")
    return (HERE / "corpus.txt",)


def checkpoint_tokenizer_file(checkpoint, name: str) -> Path | None:
    """A tokenizer file of a local checkpoint directory or a Hugging Face model id (None if absent)."""
    p = Path(checkpoint)
    if p.is_dir():
        return p / name if (p / name).is_file() else None
    try:
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(str(checkpoint), name))
    except Exception:  # not on the hub, or no such file
        return None


def checkpoint_is_gemma(checkpoint) -> bool:
    """A checkpoint whose tokenizer is Gemma's (tokenizer.json with a BPE model): SigLIP 2."""
    import json

    p = checkpoint_tokenizer_file(checkpoint, "tokenizer.json")
    return p is not None and json.loads(p.read_text(encoding="utf-8")).get("model", {}).get("type") == "BPE"


def tokenizer_cases(directory, strings: list[str], max_length: int) -> list[dict]:
    """Python's ids for each string: Siglip2Tokenizer (lower-case) unpadded and padded to
    max_length, and GemmaTokenizer (no lower-casing) unpadded (its padding is the same code)."""
    low, raw = gemma_tokenizer.siglip2_tokenizers(directory)
    rows = []
    for s in strings:
        rows.append({
            "text": s,
            "ids": low(s)["input_ids"],
            "padded": low(s, padding="max_length", max_length=max_length, truncation=True)["input_ids"],
            "ids_no_lowercase": raw(s)["input_ids"],
        })
    return rows


NAFLEX_REFUSED = (
    "SigLIP 2 NaFlex (config.json model_type \"siglip2\", Siglip2Model) cannot be exported: "
    "torch.onnx.export(dynamo=False) stops at 'aten::_upsample_bilinear2d_aa' (the antialiased bilinear "
    "resize of the position embeddings to each image's patch grid, Siglip2VisionEmbeddings."
    "resize_positional_embeddings) which has no ONNX opset 17 symbolic; dynamo=True exports a graph whose "
    "batch size is fixed to the example's (that function loops over the batch and reads spatial_shapes "
    "with .tolist()). See libs/model/README.md (Families). Use a fixed-resolution SigLIP 2 checkpoint "
    "(google/siglip2-*-patch16-224 ...) instead."
)


def refuse_naflex(checkpoint) -> None:
    """Exits with the reason when the checkpoint is a NaFlex Siglip2Model."""
    import json

    p = checkpoint_tokenizer_file(checkpoint, "config.json")
    if p is not None and json.loads(p.read_text(encoding="utf-8")).get("model_type") == "siglip2":
        raise SystemExit(NAFLEX_REFUSED)
